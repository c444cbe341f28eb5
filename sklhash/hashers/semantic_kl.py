"""SemanticKLHasher: codes whose relative Hamming distances follow semantics.

After Arponen & Bishop (2020), "Learning to hash with semantic similarity
metrics and empirical KL divergence"; sklhash's specification is DESIGN.md
section 3.1. The paper's exact formulas were not available; every choice
below is documented in the class docstring and measured in
``docs/semantic_kl.md``.
"""

from numbers import Real

import numpy as np

from sklhash.utils._sklearn_compat import HasMethods, Interval, StrOptions

from ..similarity._targets import resolve_similarity_targets
from ._deep import BaseDeepHasher

__all__ = ["SemanticKLHasher"]


# Optimiser steps (max_epochs x batches per epoch) from which "auto" turns on
# the cosine schedule and the larger CE weight on feature-vector backbones.
_LONG_TRAINING_STEPS = 1000
# ... and from which it turns on the cosine schedule (alone) on images: the
# CNN at lr 1e-3 gains from the decay in shorter fits than the MLP at 3e-3
# (Fashion-MNIST, 32 bits: +.008 mAP@1000 at 780 steps, -.007 at 220).
_IMAGE_COSINE_STEPS = 500


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
    cross-entropy term (measured here at ``ce_weight=0.3``, lr 1e-3; the
    default is now ``"auto"``, below) is the strongest lever on code
    mAP with labels (glosses .385 -> .749 at weight 1) but pulls the codes
    towards flat classes, trading some mAHP for mAP with a hierarchy (.755
    -> .742 at 0.3); ``ce_weight=0`` raised mAHP there (.722 -> .760, 16
    bits, hierarchy) but lowered it on Fashion-MNIST (.949 -> .946): compare
    on your data before dropping it.

    **Learning rate and semantic centres** (issue 24). Both defaults are
    ``"auto"``: what helps a small MLP on feature vectors hurts the CNN on
    images, so the two backbones get different values.

    *Feature vectors* (``"mlp"``, ``"identity"``: ``lr=3e-3``,
    ``center_weight=1``; Fashion-MNIST, 10k training images = database, MLP
    512, 20 epochs, seed 0, mAP@1000). At
    the former ``lr=1e-3`` training was far from converged, worst at 64 bits
    (.725 vs .740 at 32; 40 epochs: .781); ``lr=3e-3`` gives .754 / .767 /
    .764 at 16 / 32 / 64 bits for the same time (1e-2: .761 at 64). With
    ``center_weight=1`` each sample is also pulled (CSQ's cross-entropy) to
    its class's semantic centre (:func:`sklhash.nn.semantic_kl.semantic_centers`):
    labels .773 / .780 / .775, hierarchy targets .753 / .780 / .788 (.734
    without centres at 64 bits), against CSQ .730 / .736 / .745 and HashNet
    .742 / .734 / .758; weights 0.3 and 3 gave .773 and .779 (hierarchy, 64
    bits). Three-seed tables in ``docs/semantic_kl.md``.

    *Images* (``"cnn"`` and module backbones: ``lr=1e-3``,
    ``center_weight=0``; Fashion-MNIST, CNN, GPU, 3 seeds, 32 bits,
    mAP@1000). With all 60k training images (= database, 10 epochs) the
    MLP's values gave .867 +- .016, ``lr=1e-3`` with the centres .905 +-
    .011, ``lr=1e-3`` without them .923 +- .002, against CSQ .908 +- .014.
    With 10k training images (20 epochs), ``lr=1e-3`` with the centres
    gave .886 / .879 / .881 at 16 / 32 / 64 bits against .839 / .845 /
    .860 at ``lr=3e-3`` (CSQ .884 / .889 / .887); the 10k cell without the
    centres was not run.

    **Cosine schedule and CE weight: long training only** (issue 24,
    second round; Fashion-MNIST, MLP 512, 20 epochs, batch 256, training
    set = database, 3 seeds, mAP@1000). With 20k training images (1,560
    optimiser steps) a constant rate left SemanticKL behind HashNet with a
    wide seed spread (32 bits: .809 +- .018 vs .818 +- .006): the last
    epochs at ``lr=3e-3`` are noisy. A cosine decay removes the spread
    (.818 +- .001), and with it CE weight 1 instead of 0.3 gives .819 /
    .829 / .835 at 16 / 32 / 64 bits (HashNet .801 / .818 / .817; with the
    hierarchy and weight 0.5: .798 / .823 / .828, mAHP@250 above every
    baseline). In short runs the same change hurts: on digits (100 steps)
    mAP@1000 fell from .956 / .962 / .968 to .885 / .901 / .906; at 10k
    images (780 steps) it was mixed (labels 0 to +.003, hierarchy +.004 at
    16 bits but -.010 at 64). So ``"auto"`` switches to the cosine decay
    and the larger CE weight only from 1,000 steps (``max_epochs`` times
    the batches per epoch) on the feature-vector backbones. Weight 0.5
    rather than 1 with a hierarchy: weight 1 cost the 80-class WordNet-gloss
    set .05 mAP@1000 and .05 mAHP@250 at 16 bits.

    *Images* (third round; Fashion-MNIST, training set = database,
    ``"cnn"``, 20 epochs, batch 256, CPU, 3 seeds, mAP@1000). The CNN at
    ``lr=1e-3`` gains from the decay in shorter fits than the MLP. With 10k
    images (780 steps), 32 bits: .881 +- .007 at a constant rate, .889 +-
    .005 with the decay (CSQ .886 +- .003; CE weight 1 on top: .888); with
    the decay at 16 and 64 bits .881 and .889 (CSQ .880 and .886). With 3k
    images (220 steps) it cost .007 (.884 -> .877). So on ``"cnn"`` and
    module backbones ``"auto"`` turns the decay on from 500 steps, between
    the two; the CE weight stays 0.3.

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
    ce_weight : float or "auto", default="auto"
        Weight of a cross-entropy term of a linear classifier on ``u``; used
        only with single-label class labels. ``"auto"``: 0.3, except for
        long training (at least 1,000 optimiser steps, ``max_epochs`` times
        the batches per epoch) on a feature-vector backbone: 1.0 with plain
        labels, 0.5 with a ``hierarchy`` or ``similarity`` (where the
        classifier pulls against graded targets). Measured, see "Cosine
        schedule and CE weight".
    feature_weight : float in [0, 1], default=0.0
        Share of the target similarity taken from the inputs themselves:
        ``S_ij <- (1 - w) S_ij + w max(0, cos(x_i, x_j))``. It anchors the
        codes to the geometry of the features, which, unlike the classes
        seen in training, carries over to classes never seen (zero-shot
        retrieval, ``docs/zero_shot.md``); 0 trains on the semantic targets
        alone.
    center_weight : float or "auto", default="auto"
        Weight of a CSQ-style term pulling each sample's soft bits to its
        class's *semantic* hash centre (:func:`sklhash.nn.semantic_kl.semantic_centers`:
        one ``+-1`` code per class, Hamming distances following the target
        similarity); class-level targets only. ``"auto"``: 1.0 for the
        feature-vector backbones ("mlp", "identity"), 0 for "cnn" and module
        backbones (measured, see "Learning rate and semantic centres").
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
    lr_schedule : {"auto", "cosine", "constant"}, default="auto"
        Learning rate over the epochs: ``"cosine"`` decays it from ``lr``
        towards 0 (epoch ``e`` from 0 trains at ``lr * (1 + cos(pi * e /
        max_epochs)) / 2``, recorded in ``history_`` as ``"lr"``; a run
        resumed from a :class:`~sklhash.persistence.TrainingCheckpoint`
        continues the curve), ``"constant"`` keeps ``lr``. ``"auto"``:
        cosine from 1,000 optimiser steps (``max_epochs`` times the batches
        per epoch) on a feature-vector backbone, from 500 on ``"cnn"`` and
        module backbones, else constant; also constant whenever
        ``callbacks`` holds a skorch ``LRScheduler`` (your scheduler then
        sets the rate alone; with ``"cosine"`` that combination is refused).
%(deep_params)s
    Attributes
    ----------
    classes_ : ndarray or None
        Class labels seen in ``fit`` (None for multi-label or sample-level
        targets).
    target_similarity_ : ndarray of shape (n_classes, n_classes) or None
        Class-level target similarity used in training, rows in the order of
        ``classes_``; None when targets are not class level.
%(deep_attrs)s
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
        "ce_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "feature_weight": [Interval(Real, 0, 1, closed="both")],
        "center_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "lr_schedule": [StrOptions({"auto", "cosine", "constant"})],
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
        ce_weight="auto",
        feature_weight=0.0,
        center_weight="auto",
        similarity_loss="relative",
        quantization="kl",
        kl_form="binary",
        kl_warmup=1.0,
        kl_smoothing=0.2,
        lr_schedule="auto",
        backbone="mlp",
        hidden_layer_sizes=(512,),
        max_epochs=20,
        batch_size=256,
        lr="auto",
        optimizer="adam",
        weight_decay=0.0,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        validation_fraction=None,
        early_stopping=False,
        on_interrupt="raise",
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
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            on_interrupt=on_interrupt,
            quantization=quantization,
        )
        self.similarity = similarity
        self.hierarchy = hierarchy
        self.kl_weight = kl_weight
        self.ce_weight = ce_weight
        self.feature_weight = feature_weight
        self.center_weight = center_weight
        self.similarity_loss = similarity_loss
        self.kl_form = kl_form
        self.kl_warmup = kl_warmup
        self.kl_smoothing = kl_smoothing
        self.lr_schedule = lr_schedule

    _lr_doc = (
        'float or "auto"',
        ' ``"auto"``: 3e-3 for the feature-vector backbones ("mlp",\n'
        '        "identity"), 1e-3 for "cnn" and module backbones (measured, see\n'
        '        "Learning rate and semantic centres" above).',
    )

    def _vector_backbone(self):
        # The defaults were measured separately for feature vectors (MLP)
        # and for images (CNN); a user module is treated like the CNN.
        return isinstance(self.backbone, str) and self.backbone in ("mlp", "identity")

    def _learning_rate(self):
        if isinstance(self.lr, str):  # "auto"
            return 3e-3 if self._vector_backbone() else 1e-3
        return self.lr

    def _user_lr_scheduler(self):
        from skorch.callbacks import LRScheduler

        for cb in self.callbacks or []:
            cb = cb[1] if isinstance(cb, tuple) else cb
            if isinstance(cb, LRScheduler):
                return True
        return False

    def _steps(self, n_samples):
        # Optimiser steps of the fit; n_samples counts rows held out by
        # validation_fraction too.
        return self.max_epochs * max(1, n_samples // min(self.batch_size, n_samples))

    def _long_training(self, n_samples):
        # Whether fit takes enough optimiser steps for the "long" defaults of
        # the feature-vector backbones (measured: they cost digits' 100 steps
        # .06-.07 mAP and gain 20k Fashion-MNIST's 1,560 steps .01-.02; see
        # the class docstring).
        if n_samples is None or not self._vector_backbone():
            return False
        return self._steps(n_samples) >= _LONG_TRAINING_STEPS

    def _lr_schedule(self, n_samples):
        if self.lr_schedule != "auto":
            return self.lr_schedule
        if self._user_lr_scheduler():
            return "constant"  # the user's own scheduler decides
        if n_samples is None:  # a net rebuilt for encoding: no training
            return "constant"
        if self._vector_backbone():
            threshold = _LONG_TRAINING_STEPS
        else:
            threshold = _IMAGE_COSINE_STEPS
        return "cosine" if self._steps(n_samples) >= threshold else "constant"

    def _check_params(self):
        if self.lr_schedule == "cosine" and self._user_lr_scheduler():
            raise ValueError(
                "lr_schedule='cosine' and an LRScheduler in callbacks would both "
                "set the learning rate; pass lr_schedule='constant' (or 'auto') "
                "to train with your own scheduler."
            )

    def _ce_weight(self, n_samples):
        if isinstance(self.ce_weight, str):  # "auto"
            if not self._long_training(n_samples):
                return 0.3
            # With plain labels the classifier agrees with the targets; with
            # a hierarchy or a similarity it pulls towards flat classes.
            plain_labels = self.hierarchy is None and self.similarity is None
            return 1.0 if plain_labels else 0.5
        return self.ce_weight

    def _center_weight(self):
        if isinstance(self.center_weight, str):  # "auto"
            return 1.0 if self._vector_backbone() else 0.0
        return self.center_weight

    # ------------------------------------------------------------- targets
    def _targets_optional(self):
        return self.similarity is not None

    _net_meta = ("classes_", "target_similarity_")

    def fit(self, X, y=None):
        """Train the network on pairwise semantic targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W), \
or BlockStream
            Training data; image arrays (channels first) need
            ``backbone="cnn"`` or a module backbone. A
            :class:`~sklhash.dask.BlockStream` trains from its mini-batches
            without holding ``X`` in memory (labels with the stream or as
            ``y``; see "Training data larger than memory" in the scaling guide).
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels, a multi-label indicator matrix, or (with a
            sample-level ``similarity``) each row's sample index; None only
            when ``similarity`` is given.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        return super().fit(X, y)

    def _fit_targets(self, X, y):
        targets = resolve_similarity_targets(
            y, X.shape[0], similarity=self.similarity, hierarchy=self.hierarchy
        )
        fitted = {
            "classes_": targets.classes,
            "target_similarity_": targets.class_similarity,
        }
        training = {"pair_similarity": targets.pair_similarity}
        if self._center_weight() > 0 and targets.class_similarity is not None:
            from ..nn.semantic_kl import semantic_centers

            # A fixed seed: the random part only flips and permutes columns,
            # which changes no distance.
            training["centers"] = semantic_centers(
                targets.class_similarity, self.bits, random_state=0
            )
        return targets.arrays, fitted, training

    def _target_kind(self, target_similarity):
        if target_similarity is not None:
            return "class"
        if self.similarity is None:
            return "multilabel"
        if hasattr(self.similarity, "pairwise") or isinstance(
            self.similarity, np.ndarray
        ):
            return "sample"
        return "callable"

    def _use_ce(self, target_similarity):
        # "auto" is never 0, whatever the training length.
        positive = isinstance(self.ce_weight, str) or self.ce_weight > 0
        return positive and target_similarity is not None

    def _module(self, input_shape, training, classes_=None, target_similarity_=None):
        from ..nn.semantic_kl import SemanticKLNetwork

        n_classes = len(classes_) if self._use_ce(target_similarity_) else None
        return SemanticKLNetwork, {
            "backbone": self._backbone_copy(),
            "input_shape": tuple(input_shape),
            "bits": self.bits,
            "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
            "n_classes": n_classes,
        }

    def _criterion(self, training, classes_=None, target_similarity_=None):
        from ..nn.semantic_kl import SemanticKLLoss

        return SemanticKLLoss, {
            "kind": self._target_kind(target_similarity_),
            "target_similarity": target_similarity_,
            "pair_similarity": training.get("pair_similarity"),
            "similarity_loss": self.similarity_loss,
            "quantization": self.quantization,
            "kl_weight": self.kl_weight,
            "kl_form": self.kl_form,
            "kl_smoothing": self.kl_smoothing,
            "kl_warmup": self.kl_warmup,
            "n_epochs": self.max_epochs,
            "ce_weight": (
                self._ce_weight(training.get("n_samples"))
                if self._use_ce(target_similarity_)
                else 0.0
            ),
            "feature_weight": self.feature_weight,
            "centers": training.get("centers"),
            "center_weight": self._center_weight(),
        }

    def _codes_from_output(self, out, fitted):
        # The network ends in tanh: its first output is the continuous code.
        return out[0]
