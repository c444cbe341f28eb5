"""SoftSort: a differentiable relaxation of sorting (Prillo & Eisenschlos, 2020).

For a row of scores ``s`` (length ``n``), SoftSort builds the ``n x n`` matrix

    P[r, j] = softmax_j( -|sort(s)_r - s_j| / tau )

whose row ``r`` is a distribution over the items, concentrated on the item
holding the ``r``-th largest score (here the sort is *descending*, the order of
a retrieval list: rank 0 is the most similar item). As ``tau -> 0`` the matrix
becomes the hard permutation matrix of ``argsort(-s)``; every row always sums
to one and the matrix is differentiable in ``s`` almost everywhere.

References
----------
.. [1] S. Prillo and J. M. Eisenschlos, "SoftSort: A Continuous Relaxation for
   the argsort Operator", ICML 2020.
"""

import torch

__all__ = ["soft_sort", "SoftSort"]


def soft_sort(scores, tau=1.0, hard=False):
    """Soft permutation matrices sorting each row of ``scores`` descending.

    Parameters
    ----------
    scores : torch.Tensor of shape (n_rows, n)
        One row of scores per anchor (for hashing: code similarities of an
        anchor to the ``n`` items of the batch).
    tau : float, default=1.0
        Temperature, > 0. Small values approach the hard permutation; with
        scores on a grid of step ``delta`` (e.g. Hamming similarities of
        K-bit codes, step ``1/K``) a ``tau`` around ``delta`` still separates
        adjacent ranks while keeping useful gradients.
    hard : bool, default=False
        If True, the forward value is the hard permutation matrix while the
        gradient is that of the soft one (straight-through).

    Returns
    -------
    P : torch.Tensor of shape (n_rows, n, n)
        ``P[i, r, j]`` is the weight of item ``j`` at rank ``r`` of row ``i``;
        each ``P[i, r, :]`` sums to one.

    Examples
    --------
    >>> import torch
    >>> P = soft_sort(torch.tensor([[0.1, 0.9, 0.5]]), tau=1e-3)
    >>> P[0].argmax(dim=1).tolist()
    [1, 2, 0]
    """
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got tau={tau!r}.")
    if scores.dim() != 2:
        raise ValueError(
            f"scores must be 2-d (n_rows, n), got shape {tuple(scores.shape)}."
        )
    # Sorting itself is differentiable through the sorted *values*; only the
    # argsort is not, and that is what the softmax relaxes.
    sorted_scores = scores.sort(dim=1, descending=True).values
    logits = -(sorted_scores.unsqueeze(2) - scores.unsqueeze(1)).abs() / tau
    P = logits.softmax(dim=2)
    if hard:
        index = P.argmax(dim=2, keepdim=True)
        P_hard = torch.zeros_like(P).scatter_(2, index, 1.0)
        P = (P_hard - P).detach() + P
    return P


class SoftSort(torch.nn.Module):
    """Module form of :func:`soft_sort` (descending order).

    Parameters
    ----------
    tau : float, default=1.0
        Temperature, > 0.
    hard : bool, default=False
        Straight-through hard permutation in the forward pass.

    Examples
    --------
    >>> import torch
    >>> P = SoftSort(tau=0.1)(torch.randn(4, 6))
    >>> tuple(P.shape)
    (4, 6, 6)
    """

    def __init__(self, tau=1.0, hard=False):
        super().__init__()
        self.tau = tau
        self.hard = hard

    def forward(self, scores):
        return soft_sort(scores, tau=self.tau, hard=self.hard)

    def extra_repr(self):
        return f"tau={self.tau}, hard={self.hard}"
