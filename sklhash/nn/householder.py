"""Orthogonal maps as products of Householder reflections, and the losses that
pull rotated embeddings towards binary corners (pure torch).

Schwengber et al. (2023) learn the rotation that brings an embedding close to
its signs as ``U = H(v_1) ... H(v_K)``, ``H(v) = I - 2 v v^T / ||v||^2``:
any unconstrained ``v`` gives an exactly orthogonal ``U``, so plain SGD on
the ``v`` needs no projection back onto the orthogonal group. By the
Cartan--Dieudonne theorem, ``K`` non-zero reflections reach every orthogonal
matrix of determinant ``(-1)^K``; the other half of ``O(K)`` differs from it by
one coordinate sign flip, which flips one bit of every code and so changes no
Hamming distance and no quantisation loss.

The product is not formed reflection by reflection (``K`` sequential matrix
products, slow in autograd). It is the compact "UT" form of Joffrain et al.
(2006): with unit columns ``Y = [y_1 ... y_K]``, ``y_i = v_i / ||v_i||``,

    H(v_1) ... H(v_K) = I - Y T^{-1} Y^T,   T = striu(Y^T Y) + I / 2,

which costs one triangular solve and two ``K x K`` products, and is
differentiable end to end. Nothing larger than ``K x K`` is materialised
besides the batch itself.
"""

import torch
from torch import nn

__all__ = ["HouseholderOrthogonal", "quantization_loss", "QUANTIZATION_LOSSES"]

# Rows of the parameter shorter than this are treated as the zero vector,
# whose "reflection" is the identity (see HouseholderOrthogonal.matrix).
_EPS = 1e-12


class HouseholderOrthogonal(nn.Module):
    """The orthogonal matrix ``U = H(v_1) ... H(v_K)`` as a torch module.

    The reflection vectors are the rows of ``weight`` (shape ``(K, K)``),
    initialised to the identity matrix, so the initial map is
    ``H(e_1) ... H(e_K) = -I``: each reflection flips one coordinate. A
    zero row contributes the identity instead of a reflection, so ``U`` stays
    orthogonal whatever the parameters.

    Parameters
    ----------
    n_dims : int
        Dimension ``K`` of the vectors to rotate (and number of reflections).
    device, dtype : optional
        Passed to the parameter's constructor.

    Examples
    --------
    >>> import torch
    >>> from sklhash.nn.householder import HouseholderOrthogonal
    >>> rot = HouseholderOrthogonal(3)
    >>> rot.matrix().detach()
    tensor([[-1.,  0.,  0.],
            [ 0., -1.,  0.],
            [ 0.,  0., -1.]])
    >>> rot(torch.ones(2, 3)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_dims, *, device=None, dtype=None):
        super().__init__()
        n_dims = int(n_dims)
        if n_dims < 1:
            raise ValueError(f"n_dims must be at least 1, got n_dims={n_dims}.")
        self.n_dims = n_dims
        self.weight = nn.Parameter(torch.eye(n_dims, device=device, dtype=dtype))

    def matrix(self):
        """The orthogonal matrix ``U`` (``K x K``), differentiable in ``weight``.

        Returns
        -------
        U : torch.Tensor of shape (n_dims, n_dims)
        """
        w = self.weight
        norms = w.norm(dim=1, keepdim=True)
        # y_i = v_i / ||v_i||, and 0 for a zero row: with a zero column the UT
        # form below reduces that factor to the identity.
        y = (w / norms.clamp_min(_EPS)).T
        t = torch.triu(y.T @ y, diagonal=1)
        t = t + 0.5 * torch.eye(self.n_dims, device=w.device, dtype=w.dtype)
        a = torch.linalg.solve_triangular(t, y.T, upper=True)
        return torch.eye(self.n_dims, device=w.device, dtype=w.dtype) - y @ a

    def forward(self, x):
        """Rotate each row: ``x U^T`` (``U`` applied to every sample).

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_dims)

        Returns
        -------
        torch.Tensor of shape (n, n_dims)
        """
        return x @ self.matrix().T

    def extra_repr(self):
        return f"n_dims={self.n_dims}"


def _signs(y):
    # The nearest corner with sklhash's bit convention (value > 0 is a 1-bit):
    # an exact 0 goes to -1, never to a third state (torch.sign(0) == 0 would
    # make the all-zero vector a perfect "code").
    return torch.where(y > 0, 1.0, -1.0).to(y.dtype)


def _l2(y):
    return (y - _signs(y)).pow(2).mean()


def _l1(y):
    return (y - _signs(y)).abs().mean()


def _min(y):
    # Soft maximum over a row of -y^2: minimising it raises the smallest |y_j|
    # of every row, i.e. moves the least certain bit away from 0.
    return torch.logsumexp(-y.pow(2), dim=1).mean()


def _bit_var(y):
    p = torch.sigmoid(y)
    return (p * (1.0 - p)).mean()


QUANTIZATION_LOSSES = {"l2": _l2, "l1": _l1, "min": _min, "bit_var": _bit_var}


def quantization_loss(y, loss="l2"):
    """How far rotated values are from binary codes (Schwengber et al., 2023).

    With ``b = sgn(y)`` (``+1`` where ``y > 0``, else ``-1``):

    * ``"l2"``: mean of ``(y - b)^2`` -- with rows of norm ``sqrt(K)`` this is
      ``2 - (2/K) ||y||_1``, ITQ's objective;
    * ``"l1"``: mean of ``|y - b|``;
    * ``"min"``: mean over rows of ``logsumexp_j(-y_j^2)``, a soft version of
      the row's least confident bit;
    * ``"bit_var"``: mean of ``sigmoid(y) (1 - sigmoid(y))``, the variance of
      a Bernoulli bit with probability ``sigmoid(y)``.

    Parameters
    ----------
    y : torch.Tensor of shape (n, K)
        Rotated (and row-rescaled) embeddings.
    loss : {"l2", "l1", "min", "bit_var"}, default="l2"

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> from sklhash.nn.householder import quantization_loss
    >>> float(quantization_loss(torch.tensor([[1.0, -1.0], [0.5, -0.5]])))
    0.125
    """
    try:
        fn = QUANTIZATION_LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(
            f"loss must be one of {sorted(QUANTIZATION_LOSSES)}, got loss={loss!r}."
        ) from None
    return fn(y)
