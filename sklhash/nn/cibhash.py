"""Training criterion of :class:`~sklhash.CIBHasher` (pure torch).

Qiu et al. (IJCAI 2021): NT-Xent between the two views' stochastic binary
codes plus a KL bottleneck to a fair coin
(:func:`sklhash.nn.losses.cibhash_loss`).
"""

from torch import nn

from ._two_view import split_views
from .losses import cibhash_loss

__all__ = ["CIBHashLoss"]


class CIBHashLoss(nn.Module):
    """CIBHash's loss on the output ``(h, z)`` of an augmented two-view pass.

    The codes are sampled (Bernoulli, straight-through) in training mode and
    thresholded in eval mode, so validation losses are deterministic.

    Parameters
    ----------
    temperature : float, default=0.5
        NT-Xent temperature.
    kl_weight : float, default=0.001
        Weight of the bottleneck term.

    Examples
    --------
    >>> import torch
    >>> h, z = torch.randn(8, 4), torch.zeros(8, 0)
    >>> CIBHashLoss().eval()((h, z), {}).shape
    torch.Size([])
    """

    def __init__(self, temperature=0.5, kl_weight=0.001):
        super().__init__()
        self.temperature = temperature
        self.kl_weight = kl_weight

    def forward(self, output, batch):
        h1, h2, _, _ = split_views(output)
        return cibhash_loss(
            h1, h2, self.temperature, self.kl_weight, stochastic=self.training
        )
