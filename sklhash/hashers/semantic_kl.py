"""SemanticKLHasher: codes whose relative Hamming distances follow semantics.

After Arponen & Bishop (2020), "Learning to hash with semantic similarity
metrics and empirical KL divergence"; sklhash's specification is DESIGN.md
section 3.1. The paper's exact formulas were not available; every choice
below is documented in the class docstring and measured in
``docs/semantic_kl.md``.
"""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target

from ._deep import BaseDeepHasher

__all__ = ["SemanticKLHasher"]


def _is_sample_level(similarity):
    return hasattr(similarity, "pairwise") or isinstance(similarity, np.ndarray)


def _check_sim_block(S, n, source):
    """Validate one batch of target similarities from user code."""
    S = np.asarray(S, dtype=np.float32)
    if S.shape != (n, n):
        raise ValueError(
            f"{source} returned similarities of shape {S.shape} for a batch of "
            f"{n} samples; expected ({n}, {n})."
        )
    if not np.all(np.isfinite(S)) or S.min() < 0 or S.max() > 1:
        raise ValueError(
            f"{source} returned similarities outside [0, 1] (or NaN); target "
            "similarities must lie in [0, 1]."
        )
    return S


class SemanticKLHasher(BaseDeepHasher):
    """Semantic hashing with a relative similarity metric and a KL quantiser.

    A network (``backbone`` -> ``Linear(., bits)`` -> ``tanh``) maps each
    sample to ``u`` in ``(-1, 1)^bits``. Training matches the *relative*
    code distances of every pair in a batch to semantic target distances and
    adds a quantisation term so that rounding ``u`` to bits loses little::

        L = L_sim + kl_weight * L_quant + ce_weight * CE

    **Targets.** ``S_ij`` in ``[0, 1]`` for every pair of the batch, from

    * class labels ``y`` (1-d): 1 for the same class, else 0;
    * class labels and ``hierarchy`` (a :class:`~sklhash.similarity.LabelHierarchy`):
      ``1 - height(lcs) / max_height`` (Barz & Denzler, 2019);
    * a multi-label indicator matrix ``y`` (2-d): Jaccard similarity of the
      label sets (two empty sets: 0);
    * ``similarity`` with ``similarity_matrix(labels)`` (class level, e.g.
      an :class:`~sklhash.similarity.EmbeddingSimilarity` of class names):
      that matrix over the classes of ``y``;
    * ``similarity`` with ``pairwise(idx_a, idx_b)`` (sample level, e.g.
      sentence embeddings of captions) or a square array of sample
      similarities: ``y`` then holds each training row's index into it, or is
      None when row ``i`` is sample ``i``;
    * any other callable ``similarity(a, b)``, called with the batch's rows
      of ``y`` (or training row numbers when ``y`` is None) and returning the
      ``(len(a), len(b))`` similarities.

    **Similarity loss.** With ``D_ij = (K - u_i . u_j) / (2K)`` (normalised
    Hamming distance on +-1 codes) and ``Delta_ij = 1 - S_ij``:
    ``"relative"`` compares ``D / mean(D)`` with ``Delta / mean(Delta)``
    (only relative distances matter), ``"absolute"`` compares ``D`` with
    ``Delta`` (see :func:`sklhash.nn.losses.relative_similarity_loss`).

    **Quantisation.** ``quantization="kl"`` (default) adds
    ``kl_weight`` times a KL divergence between the outputs and a binary
    distribution; ``kl_form`` picks the estimator (all in
    :mod:`sklhash.nn.losses`):

    * ``"binary"`` (default, :func:`~sklhash.nn.losses.binary_kl_divergence`):
      each output read as a soft bit ``p = (1 + u) / 2``; per bit,
      ``KL(Bernoulli(mean p) || Bernoulli(1/2))`` (balance) plus the mean
      binary entropy of the soft bits (rounding), i.e. ``log 2 - I(bit;
      sample)``. Its gradient is bounded and depends on no distance between
      samples.
    * ``"joint"`` (:func:`~sklhash.nn.losses.empirical_kl_divergence`): the
      paper's k-nearest-neighbour estimator against draws from the smoothed
      uniform binary distribution. Its entropy part pushes codes of a class
      apart; kept for comparison.
    * ``"bitwise"`` (:func:`~sklhash.nn.losses.bitwise_kl_divergence`): a
      kernel density estimate per bit against a two-Gaussian target.

    ``"l2"`` uses ``mean((|u| - 1) ** 2)`` instead, weighted by ``kl_weight``;
    ``"householder"`` trains with no term and fits a
    :class:`~sklhash.HouseholderQuantizer` on the outputs (DESIGN.md 3.3);
    ``None`` trains with no term.

    **Why these defaults** (measured; tables in ``docs/semantic_kl.md``).
    The relative loss ignores the scale of the codes, so a pull towards the
    corners *alone* (``"l2"``, the kernel KL, a KL on ``|u|``) lets training
    shrink a batch into one corner: bits turn constant and codes lose what
    the outputs knew (WordNet glosses, 16 bits: code mAP@1000 .385 -> .004
    with ``"l2"``). The balance part of ``"binary"`` prevents that. Where
    outputs stay far from the corners (glosses: 3 % of ``|u| > 0.9``), the
    term at 0.1 raised code mAP@1000 from .385 to .536 and mAHP@250 from
    .552 to .645 (labels; .714 -> .755 with the hierarchy). Where outputs
    saturate by themselves (Fashion-MNIST, 32 bits, 15 epochs) it costs
    mAP: .021 at full weight from the start, .009 with the default linear
    warm-up (``kl_warmup=1``), within the 0.01 budget. After a single epoch
    it costs about .03: use ``kl_weight=0`` for very short training. Next to
    the default CE term it is redundant (glosses: .005 to .013 lower mAP at
    equal mAHP); it pays when ``ce_weight=0``. The
    cross-entropy term (``ce_weight=0.3``) is the strongest lever on code
    mAP with labels (glosses .385 -> .749 at weight 1) but pulls the codes
    towards flat classes, trading some mAHP for mAP with a hierarchy (.755
    -> .742 at 0.3); set ``ce_weight=0`` when only mAHP matters.

    Parameters
    ----------
    bits : int, default=48
        Code length.
    similarity : object, ndarray, callable or None, default=None
        Source of target similarities (see above). None: from ``y`` (and
        ``hierarchy``).
    hierarchy : LabelHierarchy or None, default=None
        Class hierarchy over the labels of ``y``; every label must be one of
        its nodes.
    kl_weight : float, default=0.1
        Weight of the quantisation term (``quantization="kl"`` or ``"l2"``).
    ce_weight : float, default=0.3
        Weight of a cross-entropy term of a linear classifier on ``u``; used
        only with single-label class labels.
    similarity_loss : {"relative", "absolute"}, default="relative"
        Form of the similarity loss.
    quantization : {"kl", "l2", "householder"} or None, default="kl"
        Quantisation strategy.
    kl_form : {"binary", "joint", "bitwise"}, default="binary"
        Estimator of the KL term (see above).
    kl_warmup : float in [0, 1], default=1.0
        Fraction of ``max_epochs`` over which the quantisation weight grows
        linearly: epoch ``e`` (from 0) uses
        ``kl_weight * min(1, (e + 1) / (kl_warmup * max_epochs))``; 0 uses
        the full weight from the first epoch.
    kl_smoothing : float, default=0.2
        Width of each mode of the smoothed binary target of the ``"joint"``
        and ``"bitwise"`` forms.
    backbone : {"identity", "mlp", "cnn"} or torch.nn.Module, default="mlp"
        Feature extractor before the hash layer.
    hidden_layer_sizes : tuple of int, default=(512,)
        Fully connected layers of the ``"mlp"`` and ``"cnn"`` backbones.
    max_epochs : int, default=20
        Passes over the training data.
    batch_size : int, default=256
        Mini-batch size; the pairwise targets are built per batch.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        Optimiser.
    weight_decay : float, default=0.0
        L2 penalty of the optimiser.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where to train and encode.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, batch order and the KL target draws.
    verbose : int, default=0
        1 prints a line per epoch and shows a progress bar.
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the private ``NeuralNet``.
    validation_fraction : float or None, default=None
        Fraction of the data held out to report ``valid_loss``.
    early_stopping : bool, default=False
        Stop when the monitored loss stalls for 5 epochs.

    Attributes
    ----------
    classes_ : ndarray or None
        Class labels seen in ``fit`` (None for multi-label or sample-level
        targets).
    target_similarity_ : ndarray of shape (n_classes, n_classes) or None
        Class-level target similarity used in training, rows in the order of
        ``classes_``; None when targets are not class level.
    net_ : skorch.NeuralNet
        The trained network wrapper.
    history_ : skorch.History
        Per-epoch losses.
    device_ : str
        Device resolved from ``device``.
    quantizer_ : HouseholderQuantizer or None
        Second stage when ``quantization="householder"``.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.

    See Also
    --------
    ITQHasher : Unsupervised rotation of PCA directions.
    sklhash.metrics.mean_average_hierarchical_precision : The metric this
        hasher is made for.

    References
    ----------
    J. Arponen and T. Bishop, "Learning to hash with semantic similarity
    metrics and empirical KL divergence", 2020. arXiv:2005.04917.

    B. Barz and J. Denzler, "Hierarchy-based image embeddings for semantic
    image retrieval", WACV 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import SemanticKLHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = SemanticKLHasher(bits=16, max_epochs=2, random_state=0)
    >>> codes = hasher.fit(X / 16, y).transform(X / 16)
    >>> codes.shape, codes.dtype
    ((1797, 2), dtype('uint8'))
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "similarity": [
            HasMethods(["pairwise"]),
            HasMethods(["similarity_matrix"]),
            np.ndarray,
            callable,
            None,
        ],
        "hierarchy": [HasMethods(["similarity_matrix"]), None],
        "kl_weight": [Interval(Real, 0, None, closed="left")],
        "ce_weight": [Interval(Real, 0, None, closed="left")],
        "similarity_loss": [StrOptions({"relative", "absolute"})],
        "quantization": [StrOptions({"kl", "l2", "householder"}), None],
        "kl_form": [StrOptions({"binary", "bitwise", "joint"})],
        "kl_warmup": [Interval(Real, 0, 1, closed="both")],
        "kl_smoothing": [Interval(Real, 0, None, closed="neither")],
    }

    _uses_targets = True

    def __init__(
        self,
        bits=48,
        *,
        similarity=None,
        hierarchy=None,
        kl_weight=0.1,
        ce_weight=0.3,
        similarity_loss="relative",
        quantization="kl",
        kl_form="binary",
        kl_warmup=1.0,
        kl_smoothing=0.2,
        backbone="mlp",
        hidden_layer_sizes=(512,),
        max_epochs=20,
        batch_size=256,
        lr=1e-3,
        optimizer="adam",
        weight_decay=0.0,
        device="cpu",
        random_state=None,
        verbose=0,
        callbacks=None,
        validation_fraction=None,
        early_stopping=False,
    ):
        super().__init__(
            bits,
            backbone=backbone,
            hidden_layer_sizes=hidden_layer_sizes,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            device=device,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            quantization=quantization,
        )
        self.similarity = similarity
        self.hierarchy = hierarchy
        self.kl_weight = kl_weight
        self.ce_weight = ce_weight
        self.similarity_loss = similarity_loss
        self.kl_form = kl_form
        self.kl_warmup = kl_warmup
        self.kl_smoothing = kl_smoothing

    # ------------------------------------------------------------- targets
    def _targets_optional(self):
        return self.similarity is not None

    def fit(self, X, y=None):
        """Train the network on pairwise semantic targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training data; image arrays need ``backbone="cnn"``.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels, a multi-label indicator matrix, or (with a
            sample-level ``similarity``) each row's sample index; None only
            when ``similarity`` is given.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        try:
            super().fit(X, y)
            # Published only after training succeeded, so that a failed
            # (re)fit never pairs new targets with an old network.
            self.classes_ = self._classes
            self.target_similarity_ = self._target_sim
        finally:
            # Training-only state. ``_module`` above all: it references the
            # network's weights outside skorch's device-aware pickling, so a
            # CUDA-trained hasher could not be unpickled without CUDA.
            for name in ("_module", "_classes", "_target_sim", "_target_kind"):
                self.__dict__.pop(name, None)
        return self

    def _fit_targets(self, X, y):
        n = X.shape[0]
        self._classes = None
        self._target_sim = None
        self._target_kind = None
        sim = self.similarity
        if sim is not None and self.hierarchy is not None:
            raise ValueError(
                "Give either similarity or hierarchy, not both: hierarchy is "
                "turned into a class-level similarity."
            )
        if sim is not None and (
            _is_sample_level(sim) or not hasattr(sim, "similarity_matrix")
        ):
            return self._sample_targets(sim, y, n)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if len(y) != n:
            raise ValueError(f"y has {len(y)} rows but X has {n} samples.")
        if y.ndim == 2:
            if type_of_target(y) != "multilabel-indicator":
                raise ValueError(
                    "A 2-d y must be a multi-label indicator matrix of 0/1 "
                    f"entries; got type_of_target(y)={type_of_target(y)!r}."
                )
            if self.hierarchy is not None or sim is not None:
                raise ValueError(
                    "hierarchy / class-level similarity need 1-d class labels, "
                    "got a multi-label indicator matrix y."
                )
            self._target_kind = "multilabel"
            return {"labels": y.astype(np.float32)}
        if y.ndim != 1:
            raise ValueError(f"y must be 1-d or 2-d, got shape {y.shape}.")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity.")
        self._classes, y_idx = np.unique(y, return_inverse=True)
        source = self.hierarchy if self.hierarchy is not None else sim
        if source is None:
            S = np.eye(len(self._classes))
        else:
            name = "hierarchy" if self.hierarchy is not None else "similarity"
            try:
                S = source.similarity_matrix(list(self._classes))
            except (KeyError, ValueError) as exc:
                raise ValueError(
                    f"The labels of y must all be classes of the {name}: {exc}"
                ) from exc
            S = np.asarray(S, dtype=np.float64)
            k = len(self._classes)
            if S.shape != (k, k) or not np.all(np.isfinite(S)):
                raise ValueError(
                    f"{name}.similarity_matrix returned shape {S.shape} (or "
                    f"non-finite values) for {k} classes."
                )
            if S.min() < 0 or S.max() > 1:
                raise ValueError(
                    f"{name}.similarity_matrix returned values outside [0, 1]."
                )
        self._target_sim = S
        self._target_kind = "class"
        return {"y": y_idx.astype(np.int64)}

    def _sample_targets(self, sim, y, n):
        if hasattr(sim, "pairwise") or isinstance(sim, np.ndarray):
            if isinstance(sim, np.ndarray):
                if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
                    raise ValueError(
                        "An array similarity must be a square sample-by-sample "
                        f"matrix, got shape {sim.shape}."
                    )
                n_ref = sim.shape[0]
            else:
                n_ref = getattr(sim, "n_samples", None)
            if y is None:
                if n_ref is not None and n_ref != n:
                    raise ValueError(
                        f"similarity describes {n_ref} samples but X has {n}; "
                        "pass y with each row's sample index."
                    )
                ids = np.arange(n, dtype=np.int64)
            else:
                ids = np.asarray(y)
                if ids.ndim != 1 or len(ids) != n or ids.dtype.kind not in "iu":
                    raise ValueError(
                        "With a sample-level similarity, y must be None or a "
                        f"1-d integer array of {n} sample indices."
                    )
                if len(ids) and (
                    ids.min() < 0 or (n_ref is not None and ids.max() >= n_ref)
                ):
                    raise ValueError(
                        f"y holds sample indices outside [0, {n_ref}) of the "
                        "similarity."
                    )
                ids = ids.astype(np.int64)
            self._target_kind = "sample"
            return {"sample": ids}
        # A plain callable receives the batch's rows of y (or row numbers).
        rows = np.arange(n, dtype=np.int64) if y is None else np.asarray(y)
        if len(rows) != n:
            raise ValueError(f"y has {len(rows)} rows but X has {n} samples.")
        self._target_kind = "callable"
        self._callable_rows = rows
        return {}

    def _batch_similarity(self, batch, u):
        import torch

        kind = self._target_kind
        if kind == "class":
            S = torch.as_tensor(self._target_sim, dtype=u.dtype, device=u.device)
            y = batch["y"]
            return S[y][:, y]
        if kind == "multilabel":
            Y = batch["labels"].to(u.dtype)
            inter = Y @ Y.T
            size = Y.sum(dim=1)
            union = size[:, None] + size[None, :] - inter
            return torch.where(union > 0, inter / union.clamp_min(1.0), 0.0)
        if kind == "sample":
            ids = batch["sample"].cpu().numpy()
            if isinstance(self.similarity, np.ndarray):
                S = self.similarity[np.ix_(ids, ids)]
                source = "similarity"
            else:
                S = self.similarity.pairwise(ids, ids)
                source = "similarity.pairwise"
        else:
            rows = self._callable_rows[batch["idx"].cpu().numpy()]
            S = self.similarity(rows, rows)
            source = "similarity"
        S = _check_sim_block(S, len(ids) if kind == "sample" else len(rows), source)
        return torch.as_tensor(S, dtype=u.dtype, device=u.device)

    # ---------------------------------------------------------------- model
    def _use_ce(self):
        return self.ce_weight > 0 and self._target_kind == "class"

    def _build_module(self, input_shape):
        from ..nn.backbones import HashModule, build_backbone

        backbone, n_out = build_backbone(
            self.backbone, input_shape, tuple(self.hidden_layer_sizes)
        )
        n_classes = len(self._classes) if self._use_ce() else None
        module = HashModule(backbone, n_out, self.bits, n_classes=n_classes)
        # HashModule.forward returns the hash values only; the CE term needs
        # its classifier head, reached through this reference.
        self._module = module
        return module

    def _quantization_loss(self, u):
        from ..nn import losses

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

    def _kl_scale(self):
        """Linear warm-up of the quantisation weight over the first epochs."""
        if self.kl_warmup == 0:
            return 1.0
        ramp = self.kl_warmup * self._n_epochs
        return min(1.0, (self._epoch + 1) / ramp)

    def _loss(self, out, batch, training):
        import torch.nn.functional as F

        from ..nn.losses import relative_similarity_loss

        u = self._codes_from_output(out)
        S = self._batch_similarity(batch, u)
        loss = relative_similarity_loss(u, S, mode=self.similarity_loss)
        if self.quantization in ("kl", "l2") and self.kl_weight > 0 and u.shape[0] >= 2:
            loss = loss + self._kl_scale() * self.kl_weight * self._quantization_loss(u)
        if self._use_ce():
            logits = self._module.classifier(u)
            loss = loss + self.ce_weight * F.cross_entropy(logits, batch["y"])
        return loss
