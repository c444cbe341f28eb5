"""Network and training criterion of :class:`~sklhash.SemanticKLHasher`.

Pure torch. The network ends in ``tanh`` (continuous codes ``u`` in
``(-1, 1)``) and, when the loss has a classification term, a linear
classifier on ``u``; the criterion matches the batch's relative code
distances to target distances (Arponen & Bishop, 2020) and adds a
quantisation term with a linear warm-up and the classification term.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .backbones import build_backbone

__all__ = ["SemanticKLLoss", "SemanticKLNetwork"]


class SemanticKLNetwork(nn.Module):
    """Backbone, linear hash layer, ``tanh`` and an optional classifier.

    ``forward`` returns ``(u, logits)`` in every mode: ``u = tanh(h)`` of
    shape ``(n, bits)`` and the classifier's logits on ``u`` (zero columns
    without a classifier).

    Parameters
    ----------
    backbone : {"identity", "mlp", "cnn"} or torch.nn.Module
        See :func:`sklhash.nn.backbones.build_backbone`.
    input_shape : tuple of int
        Shape of one input sample.
    bits : int
        Code length.
    hidden_layer_sizes : sequence of int, default=()
        Fully connected layers of the ``"mlp"`` and ``"cnn"`` backbones.
    n_classes : int or None, default=None
        Adds ``classifier`` (``Linear(bits, n_classes)``) when given.

    Examples
    --------
    >>> import torch
    >>> net = SemanticKLNetwork("identity", (5,), bits=3, n_classes=2)
    >>> [tuple(t.shape) for t in net(torch.zeros(4, 5))]
    [(4, 3), (4, 2)]
    """

    def __init__(self, backbone, input_shape, bits, hidden_layer_sizes=(),
                 n_classes=None):
        super().__init__()
        self.backbone, n_out = build_backbone(
            backbone, tuple(input_shape), tuple(hidden_layer_sizes)
        )
        self.hash = nn.Linear(n_out, bits)
        self.classifier = None if n_classes is None else nn.Linear(bits, n_classes)

    def forward(self, X, augment=False):
        u = torch.tanh(self.hash(self.backbone(X)))
        logits = u[:, :0] if self.classifier is None else self.classifier(u)
        return u, logits


def _jaccard(Y):
    inter = Y @ Y.T
    size = Y.sum(dim=1)
    union = size[:, None] + size[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1.0), 0.0)


class SemanticKLLoss(nn.Module):
    """Similarity loss + warmed-up quantisation term + classification term.

    ``L = L_sim + scale(epoch) * kl_weight * L_quant + ce_weight * CE`` on
    the output ``(u, logits)`` of :class:`SemanticKLNetwork`.

    Parameters
    ----------
    kind : {"class", "multilabel", "sample", "callable"}
        Where the batch's targets come from: ``batch["y"]`` indexing
        ``target_similarity``, Jaccard similarity of ``batch["labels"]``, or
        ``pair_similarity(batch["sample"])`` (computed on the CPU).
    target_similarity : array-like of shape (n_classes, n_classes) or None
        Class-level targets (``kind="class"``).
    pair_similarity : callable or None
        Maps a numpy array of ids to the ``(n, n)`` target block.
    similarity_loss : {"relative", "absolute"}, default="relative"
        See :func:`sklhash.nn.losses.relative_similarity_loss`.
    quantization : {"kl", "l2", "householder"} or None, default="kl"
        ``"kl"`` or ``"l2"`` add the quantisation term; other values none.
    kl_weight : float, default=0.1
        Its weight.
    kl_form : {"binary", "joint", "bitwise"}, default="binary"
        KL estimator (:mod:`sklhash.nn.losses`).
    kl_smoothing : float, default=0.2
        Mode width of the ``"joint"`` and ``"bitwise"`` targets.
    kl_warmup : float, default=1.0
        Fraction of ``n_epochs`` over which the weight grows linearly.
    n_epochs : int, default=1
        Planned number of epochs.
    ce_weight : float, default=0.0
        Weight of the cross-entropy of ``logits`` against ``batch["y"]``.
    feature_weight : float, default=0.0
        Share ``w`` of the targets taken from the inputs:
        ``S <- (1 - w) S + w max(0, cos(x_i, x_j))`` with ``x = batch["X"]``
        flattened.

    Examples
    --------
    >>> import torch
    >>> crit = SemanticKLLoss("class", target_similarity=torch.eye(2))
    >>> u = torch.tanh(torch.randn(4, 6))
    >>> crit((u, u[:, :0]), {"y": torch.tensor([0, 1, 0, 1])}).shape
    torch.Size([])
    """

    def __init__(self, kind, target_similarity=None, pair_similarity=None,
                 similarity_loss="relative", quantization="kl", kl_weight=0.1,
                 kl_form="binary", kl_smoothing=0.2, kl_warmup=1.0, n_epochs=1,
                 ce_weight=0.0, feature_weight=0.0):
        super().__init__()
        self.kind = kind
        S = None
        if target_similarity is not None:
            S = torch.as_tensor(np.asarray(target_similarity), dtype=torch.float32)
        self.register_buffer("target_similarity", S)
        self.pair_similarity = pair_similarity
        self.similarity_loss = similarity_loss
        self.quantization = quantization
        self.kl_weight = kl_weight
        self.kl_form = kl_form
        self.kl_smoothing = kl_smoothing
        self.kl_warmup = kl_warmup
        self.n_epochs = n_epochs
        self.ce_weight = ce_weight
        self.feature_weight = feature_weight
        self.epoch = 0

    def batch_similarity(self, batch, u):
        """Target similarities ``S`` of the batch, shape (n, n), like ``u``."""
        if self.kind == "class":
            S = self.target_similarity.to(u.dtype)
            y = batch["y"]
            return S[y][:, y]
        if self.kind == "multilabel":
            return _jaccard(batch["labels"].to(u.dtype))
        S = self.pair_similarity(batch["sample"].cpu().numpy())
        return torch.as_tensor(S, dtype=u.dtype, device=u.device)

    def kl_scale(self):
        """Linear warm-up factor of the quantisation weight this epoch."""
        if self.kl_warmup == 0:
            return 1.0
        ramp = self.kl_warmup * self.n_epochs
        return min(1.0, (self.epoch + 1) / ramp)

    def quantization_loss(self, u):
        """The quantisation term chosen by ``quantization`` and ``kl_form``."""
        if self.quantization == "l2":
            return ((u.abs() - 1.0) ** 2).mean()
        if self.kl_form == "binary":
            return losses.binary_kl_divergence(u)
        if self.kl_form == "bitwise":
            return losses.bitwise_kl_divergence(
                u, bandwidth=self.kl_smoothing, smoothing=self.kl_smoothing
            )
        # Target draws come from torch's global generator, which fit seeds.
        return losses.empirical_kl_divergence(u, smoothing=self.kl_smoothing)

    def forward(self, output, batch):
        u, logits = output
        S = self.batch_similarity(batch, u)
        if self.feature_weight > 0:
            x = F.normalize(batch["X"].flatten(1).to(u.dtype), dim=1)
            S = (1 - self.feature_weight) * S + self.feature_weight * (
                x @ x.T
            ).clamp_min(0.0)
        loss = losses.relative_similarity_loss(u, S, mode=self.similarity_loss)
        if (self.quantization in ("kl", "l2") and self.kl_weight > 0
                and u.shape[0] >= 2):
            loss = loss + self.kl_scale() * self.kl_weight * self.quantization_loss(u)
        if self.ce_weight > 0:
            loss = loss + self.ce_weight * F.cross_entropy(logits, batch["y"])
        return loss
