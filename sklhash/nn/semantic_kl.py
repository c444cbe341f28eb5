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

__all__ = ["SemanticKLLoss", "SemanticKLNetwork", "semantic_centers"]


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


def _components(adjacent):
    """Connected-component id of each node of a boolean adjacency matrix."""
    n = adjacent.shape[0]
    comp = np.full(n, -1)
    n_comp = 0
    for start in range(n):
        if comp[start] >= 0:
            continue
        stack = [start]
        comp[start] = n_comp
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(adjacent[i] & (comp < 0)):
                comp[j] = n_comp
                stack.append(j)
        n_comp += 1
    return comp, n_comp


def _level_columns(comp, n_comp):
    """Non-constant Sylvester-Hadamard columns for ``n_comp`` groups.

    Row ``r`` of column ``c`` is ``(-1) ** popcount(r & c)``; columns
    ``1 .. h - 1`` (``h`` the next power of two >= ``n_comp``) separate any
    two rows in exactly ``h / 2`` of them. Powers of two come first: the
    first ``log2 h`` columns alone already give every group its own code.
    """
    h = 1 << max(1, int(np.ceil(np.log2(n_comp))))
    order = [1 << b for b in range(h.bit_length() - 1)]
    order += [c for c in range(1, h) if c & (c - 1)]
    r = comp[:, None] & np.asarray(order)[None, :]
    parity = np.zeros_like(r)
    while r.any():
        parity ^= r & 1
        r = r >> 1
    return (1 - 2 * parity).astype(np.float32), h


def semantic_centers(similarity, bits, *, random_state=None):
    """One ``+-1`` hash centre per class, Hamming distances following ``similarity``.

    CSQ (Yuan et al., 2020) gives every class a fixed centre, all centres
    equally far apart. Here the centres are built from the *levels* of the
    class similarity ``S``: for each distinct off-diagonal value ``v``
    (largest first) the classes are grouped by the connected components of
    ``S > v``, and a block of Sylvester-Hadamard columns gives each group its
    own code, any two groups exactly ``h / 2`` bits apart. Two classes differ
    in every block whose level is at or above their similarity, so for a
    tree (ultrametric) similarity a pair that is more similar is never
    farther apart, and strictly closer once every level has its block
    (``bits >= required``, the sum of ``h - 1`` over the levels). Further
    bits repeat the blocks, chosen so that the distance each level adds
    follows the gap between consecutive similarity values (so distances
    approach ``1 - S``); bits left over are constant columns (they change
    no distance). With fewer bits than ``required`` the finest level first
    gets the ``ceil(log2 n_classes)`` columns that keep the centres distinct
    (whenever ``2 ** bits >= n_classes``), the rest go to the levels by the
    same gap rule, one column at a time, and the order holds only
    approximately. For ``S`` the identity (plain labels) the centres are
    equidistant, as CSQ's.

    Parameters
    ----------
    similarity : array-like of shape (n_classes, n_classes)
        Symmetric class similarity with entries in ``[0, 1]``.
    bits : int
        Code length, >= 1.
    random_state : int, numpy Generator or None, default=None
        Seeds a random sign flip and permutation of the columns, which keep
        every distance and balance the bits.

    Returns
    -------
    centers : ndarray of shape (n_classes, bits), dtype float32
        Entries ``+-1``; row ``k`` is class ``k``'s centre.

    References
    ----------
    L. Yuan et al., "Central similarity quantization for efficient image
    and video retrieval", CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[1, .5, 0], [.5, 1, 0], [0, 0, 1]])
    >>> c = semantic_centers(S, 8, random_state=0)
    >>> d = (8 - c @ c.T) / 2
    >>> bool(d[0, 1] < d[0, 2])
    True
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"bits must be an integer >= 1, got bits={bits!r}.")
    S = np.asarray(similarity, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] < 1:
        raise ValueError(
            f"similarity must be a non-empty square matrix, got shape {S.shape}."
        )
    if not np.all(np.isfinite(S)) or S.min() < 0 or S.max() > 1:
        raise ValueError("similarity must have finite entries in [0, 1].")
    if not np.allclose(S, S.T):
        raise ValueError("similarity must be symmetric.")
    rng = np.random.default_rng(random_state)
    n = S.shape[0]
    off = ~np.eye(n, dtype=bool)
    values = np.unique(S[off])[::-1] if n > 1 else np.array([])
    levels = []  # (columns, h, gap), finest level first
    previous = 1.0
    for v in values:
        comp, n_comp = _components((S > v) & off)
        if n_comp > 1:
            cols, h = _level_columns(comp, n_comp)
            levels.append((cols, h, previous - v))
        previous = v
    if not levels:
        return np.ones((n, bits), dtype=np.float32)
    gaps = np.array([g for _, _, g in levels])
    # A zero gap (two classes with similarity 1) still needs its block to
    # keep the classes apart; give it a small share.
    gaps = np.maximum(gaps, 1e-3 * max(gaps.max(), 1e-12))
    share = gaps / gaps.sum()
    required = sum(h - 1 for _, h, _ in levels)
    blocks = []
    if bits >= required:
        units = np.ones(len(levels), dtype=int)
        left = bits - required
        while True:
            added = units * np.array([h / 2 for _, h, _ in levels])
            deficit = share * added.sum() - added
            fits = [j for j, (_, h, _) in enumerate(levels) if h - 1 <= left]
            if not fits:
                break
            j = max(fits, key=lambda j: deficit[j])
            units[j] += 1
            left -= levels[j][1] - 1
        for (cols, _, _), u in zip(levels, units, strict=True):
            blocks.append(np.tile(cols, (1, u)))
        if left:
            blocks.append(np.ones((n, left), dtype=np.float32))
    else:
        taken = np.zeros(len(levels), dtype=int)
        taken[0] = min(bits, levels[0][0].shape[1],
                       max(1, int(np.ceil(np.log2(n)))))
        for _ in range(bits - taken[0]):
            # Expected distance a level adds is about one half per column.
            deficit = share * (taken.sum() + 1) - taken
            room = [j for j in range(len(levels))
                    if taken[j] < levels[j][0].shape[1]]
            j = max(room, key=lambda j: deficit[j]) if room else 0
            taken[j] += 1
        for (cols, _, _), t in zip(levels, taken, strict=True):
            reps = int(np.ceil(t / cols.shape[1])) if t else 0
            blocks.append(np.tile(cols, (1, max(reps, 1)))[:, :t])
    C = np.concatenate(blocks, axis=1)[:, :bits]
    C = C * rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=bits)
    return C[:, rng.permutation(bits)].astype(np.float32)


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
    centers : array-like of shape (n_classes, bits) or None, default=None
        Each class's ``+-1`` hash centre (:func:`semantic_centers`), rows in
        the order of ``target_similarity``.
    center_weight : float, default=0.0
        Weight of the binary cross-entropy between the soft bits
        ``(1 + u) / 2`` and the bits of the sample's centre (CSQ's loss);
        used when ``centers`` is given.

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
                 ce_weight=0.0, feature_weight=0.0, centers=None,
                 center_weight=0.0):
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
        C = None
        if centers is not None:
            C = torch.as_tensor(np.asarray(centers), dtype=torch.float32)
        self.register_buffer("centers", C)
        self.center_weight = center_weight
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
        if self.center_weight > 0 and self.centers is not None:
            target = (self.centers[batch["y"]].to(u.dtype) + 1) / 2
            # log of the soft bits with a floor: tanh reaches +-1 exactly in
            # float32, where the log would be -inf.
            p = ((1 + u) / 2).clamp(1e-6, 1 - 1e-6)
            bce = -(target * p.log() + (1 - target) * (1 - p).log()).mean()
            loss = loss + self.center_weight * bce
        if self.ce_weight > 0:
            loss = loss + self.ce_weight * F.cross_entropy(logits, batch["y"])
        return loss
