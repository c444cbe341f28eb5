"""Training criterion of :class:`~sklhash.NSHasher` (pure torch).

Shen et al. (IJCAI 2022): the batch is ranked by the Hamming similarity of
the two views' codes, the latents are gathered in that soft order and
SortedNCE contrasts the top ranks with the rest
(:func:`sklhash.nn.losses.sorted_nce_loss`); sklhash adds an NT-Xent term on
the latents, trained alone during a warm-up, and an optional CIBHash term on
the code head.
"""

import torch
from torch import nn

# The grouped exact SortedNCE: the reference's value and gradients up to
# rounding, without its (n, n, n) soft permutations. Measured on digits (32
# bits, 5 epochs, seeds 0-2, one thread, loaded 2-core machine): mAP@100
# .7614 vs .7612 (latent codes) and .6231 vs .6240 (head codes), fits 4.2
# and 4.5 times faster.
from ._sortednce import sorted_nce_loss
from ._ste import sign_ste
from ._two_view import split_views
from .losses import cibhash_loss, nt_xent_loss

__all__ = ["NSHLoss"]


class NSHLoss(nn.Module):
    """SortedNCE plus the auxiliary terms, on an augmented two-view output.

    ``epoch`` (0-based) is set by the training loop at each epoch's start
    (see :class:`sklhash.hashers._skorch_net.CriterionEpoch`); SortedNCE
    passes gradients from epoch ``min(warmup_epochs, n_epochs - 1)`` on, or
    from the start when ``contrastive_weight`` is 0. During the warm-up its
    value is computed only when ``report_warmup_loss`` is set (so that
    losses before and after the warm-up compare like with like, which early
    stopping on the training loss needs) or when gradients are off
    (validation); otherwise the training steps skip it, which takes 20 % off
    an NSHasher fit and changes no weight.

    Parameters
    ----------
    n_positives : int, default=8
        Top ranks taken as positives.
    temperature : float, default=0.3
        Temperature of SortedNCE's logits.
    sort_temperature : float or None, default=None
        SoftSort temperature (None: ``1 / bits``).
    contrastive_weight : float, default=1.0
        Weight of the NT-Xent term on the latents.
    contrastive_temperature : float, default=0.2
        Its temperature.
    code_contrastive_weight : float, default=0.0
        Weight of the CIBHash term on the code head.
    warmup_epochs : int, default=2
        Epochs before SortedNCE passes gradients.
    n_epochs : int, default=1
        Planned number of epochs (the warm-up never takes the last one).
    report_warmup_loss : bool, default=True
        Add SortedNCE's value to the training loss during the warm-up too.

    Examples
    --------
    >>> import torch
    >>> out = (torch.randn(16, 8), torch.randn(16, 4))
    >>> NSHLoss(n_positives=2)(out, {}).shape
    torch.Size([])
    """

    def __init__(self, n_positives=8, temperature=0.3, sort_temperature=None,
                 contrastive_weight=1.0, contrastive_temperature=0.2,
                 code_contrastive_weight=0.0, warmup_epochs=2, n_epochs=1,
                 report_warmup_loss=True):
        super().__init__()
        self.n_positives = n_positives
        self.temperature = temperature
        self.sort_temperature = sort_temperature
        self.contrastive_weight = contrastive_weight
        self.contrastive_temperature = contrastive_temperature
        self.code_contrastive_weight = code_contrastive_weight
        self.warmup_epochs = warmup_epochs
        self.n_epochs = n_epochs
        self.report_warmup_loss = report_warmup_loss
        self.epoch = 0

    def sorting_started(self):
        """Whether SortedNCE passes gradients in the current epoch."""
        if self.contrastive_weight == 0:
            return True
        return self.epoch >= min(self.warmup_epochs, self.n_epochs - 1)

    def forward(self, output, batch):
        h1, h2, z1, z2 = split_views(output)
        loss = 0.0 * (h1.sum() + h2.sum())
        if self.contrastive_weight > 0:
            loss = loss + self.contrastive_weight * nt_xent_loss(
                z1, z2, self.contrastive_temperature
            )
        # During the warm-up SortedNCE is computed without gradient.
        sorting = torch.is_grad_enabled() and self.sorting_started()
        # A warm-up training step gains nothing from SortedNCE's value.
        skip = (torch.is_grad_enabled() and not sorting
                and not self.report_warmup_loss)
        with torch.set_grad_enabled(sorting):
            b1, b2 = sign_ste(torch.tanh(h1)), sign_ste(torch.tanh(h2))
            sorted_loss = 0.0 if skip else sorted_nce_loss(
                b1, b2, z1, z2,
                n_positives=self.n_positives,
                temperature=self.temperature,
                sort_temperature=self.sort_temperature,
                symmetric=True,
            )
            if self.code_contrastive_weight > 0:
                sorted_loss = sorted_loss + self.code_contrastive_weight * (
                    cibhash_loss(h1, h2, 0.5, 0.001, stochastic=self.training)
                )
        return loss + sorted_loss
