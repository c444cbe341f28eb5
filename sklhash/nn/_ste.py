"""Straight-through binarisation for hash-code heads.

Forward: the sign of the input (with 0 mapped to +1, like the library's
``value > 0`` bit convention); backward: the gradient of the identity, so a
``tanh`` in front of it gives the classic "sign forward, tanh backward"
estimator (Bengio et al., 2013, "Estimating or propagating gradients through
stochastic neurons").
"""

import torch

__all__ = ["sign_ste", "TanhSignSTE"]


def sign_ste(x):
    """``+1 / -1`` in the forward pass, identity gradient in the backward pass.

    Parameters
    ----------
    x : torch.Tensor
        Pre-binarisation values (typically ``tanh`` outputs).

    Returns
    -------
    b : torch.Tensor
        Same shape as ``x``, entries in {-1, +1}; ``b = +1`` where ``x > 0``
        and ``-1`` elsewhere, so it agrees with ``transform``'s bits.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([-0.5, 0.0, 2.0], requires_grad=True)
    >>> b = sign_ste(x)
    >>> b.tolist()
    [-1.0, -1.0, 1.0]
    >>> b.sum().backward(); x.grad.tolist()
    [1.0, 1.0, 1.0]
    """
    hard = torch.where(x > 0, torch.ones_like(x), -torch.ones_like(x))
    return x + (hard - x).detach()


class TanhSignSTE(torch.nn.Module):
    """``sign(tanh(x))`` forward, gradient of ``tanh`` backward.

    Examples
    --------
    >>> import torch
    >>> TanhSignSTE()(torch.tensor([[-3.0, 0.2]])).tolist()
    [[-1.0, 1.0]]
    """

    def forward(self, x):
        return sign_ste(torch.tanh(x))
