"""Training criteria of the deep supervised baselines: DPSH, HashNet, CSQ.

Pure torch modules mirroring :mod:`sklhash.hashers.supervised`: each takes
``(output, batch)``, the network's pre-activation values ``h`` of shape
``(n, bits)`` and the batch dict (``"y"``: int64 class indices or a float
indicator matrix; ``"center"``: CSQ's per-sample hash centres), and returns
the scalar loss of :mod:`sklhash.nn.hashing_losses`.
"""

import torch
from torch import nn

from .hashing_losses import (
    csq_loss,
    dpsh_loss,
    hashnet_beta,
    hashnet_loss,
    label_similarity,
)

__all__ = ["CSQLoss", "DPSHLoss", "HashNetLoss"]


class DPSHLoss(nn.Module):
    """DPSH's pairwise likelihood plus ``eta`` times its quantisation term.

    Parameters
    ----------
    eta : float, default=0.1
        Weight of ``||u - sgn(u)||^2`` (0 for a two-stage Householder run).

    Examples
    --------
    >>> import torch
    >>> loss = DPSHLoss()(torch.zeros(3, 4), {"y": torch.tensor([0, 0, 1])})
    >>> loss.shape
    torch.Size([])
    """

    def __init__(self, eta=0.1):
        super().__init__()
        self.eta = eta

    def forward(self, output, batch):
        return dpsh_loss(output, label_similarity(batch["y"]), eta=self.eta)


class HashNetLoss(nn.Module):
    """HashNet's weighted pairwise loss on ``tanh(beta h)``, with continuation.

    ``beta = (1 + gamma * step) ** power`` where ``step`` counts the training
    batches seen so far (evaluation batches use the current ``beta`` and do
    not advance it). ``beta`` holds the value used by the last training
    batch, which the hasher keeps as ``beta_``.

    Parameters
    ----------
    alpha : float
        Scale of the inner product in the sigmoid.
    gamma : float, default=0.005
        Growth rate of ``beta`` per training batch.
    power : float, default=0.5
        Exponent of the ``beta`` schedule.
    continuation : bool, default=True
        False keeps ``beta = 1`` (two-stage Householder runs).

    Examples
    --------
    >>> import torch
    >>> crit = HashNetLoss(alpha=1.0)
    >>> _ = crit(torch.zeros(3, 4), {"y": torch.tensor([0, 0, 1])})
    >>> crit.step, crit.beta
    (1, 1.0)
    """

    def __init__(self, alpha, gamma=0.005, power=0.5, continuation=True):
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.power = power
        self.continuation = continuation
        self.step = 0
        self.beta = 1.0

    def current_beta(self):
        """The steepness the next batch uses."""
        if not self.continuation:
            return 1.0
        return hashnet_beta(self.step, gamma=self.gamma, power=self.power)

    def forward(self, output, batch):
        beta = self.current_beta()
        if self.training:
            self.step += 1
            self.beta = beta
        s = label_similarity(batch["y"], kind="cosine")
        return hashnet_loss(torch.tanh(beta * output), s, alpha=self.alpha)


class CSQLoss(nn.Module):
    """CSQ's binary cross-entropy to the hash centres plus ``lam`` quantisation.

    Parameters
    ----------
    lam : float, default=1e-4
        Weight of ``mean((|tanh h| - 1)^2)`` (0 for a two-stage run).

    Examples
    --------
    >>> import torch
    >>> centers = torch.tensor([[1.0, -1.0], [1.0, -1.0]])
    >>> float(CSQLoss(lam=0.0)(torch.tensor([[9.0, -9.0], [9.0, -9.0]]),
    ...                        {"center": centers})) < 1e-6
    True
    """

    def __init__(self, lam=1e-4):
        super().__init__()
        self.lam = lam

    def forward(self, output, batch):
        return csq_loss(output, batch["center"], lam=self.lam)
