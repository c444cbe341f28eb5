"""Deep supervised hashing baselines: DPSH, HashNet and CSQ.

The most-run supervised methods of the deep-hashing literature (the
DeepHash-pytorch collection), rebuilt on sklhash's deep-hasher base so that
they share backbones, devices, callbacks, determinism and pickling with
:class:`~sklhash.SemanticKLHasher` and can be compared with it side by side.
All three accept class labels (1-d ``y``) or a multi-label indicator matrix
(2-d ``y``). The losses themselves are pure torch functions in
:mod:`sklhash.nn.hashing_losses`, wrapped as the nets' criteria
(``criterion(output, batch)``) in :mod:`sklhash.nn.supervised`.
"""

from numbers import Real

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array

from sklhash.utils._sklearn_compat import Interval

# Imported under a private name so that hasher discovery does not list the
# abstract base as a hasher of this module.
from ._deep import BaseDeepHasher as _BaseDeepHasher

__all__ = ["CSQHasher", "DPSHHasher", "HashNetHasher"]


def _labels(estimator, y, n_samples):
    """Validate ``y``: class labels (1-d) or a 0/1 indicator matrix (2-d).

    Returns ``(classes, labels)``: the classes (column indices for a 2-d
    ``y``) and the per-sample label array the losses use: int64 class
    indices for 1-d ``y``, a float32 indicator matrix for 2-d.
    """
    shape = np.asarray(y).shape
    if len(shape) not in (1, 2):
        raise ValueError(
            f"{type(estimator).__name__} needs y of 1 or 2 dimensions (class "
            f"labels or an indicator matrix); got y of shape {shape}."
        )
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind not in ("binary", "multiclass", "multilabel-indicator"):
        raise ValueError(
            f"{type(estimator).__name__} needs class labels (1-d) or a 0/1 "
            f"multi-label indicator matrix (2-d) as y; got y of type {kind!r}."
        )
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
    if y.shape[0] != n_samples:
        raise ValueError(f"y has {y.shape[0]} rows but X has {n_samples} samples.")
    if kind == "multilabel-indicator":
        return np.arange(y.shape[1]), y.astype(np.float32)
    # Class labels, possibly as a single column.
    classes, y_idx = np.unique(y.ravel(), return_inverse=True)
    return classes, y_idx.astype(np.int64)


class _SupervisedDeepHasher(_BaseDeepHasher):
    """Label handling shared by the three baselines.

    Each subclass spells out the full ``__init__`` signature, as
    scikit-learn's ``get_params`` requires.
    """

    _uses_targets = True

    _parameter_constraints = {**_BaseDeepHasher._parameter_constraints}

    def _fit_targets(self, X, y):
        classes, labels = _labels(self, y, X.shape[0])
        return {"y": labels}, {"classes_": classes}, {}

    def _quantization_weight(self):
        # A two-stage run trains without the quantisation term.
        return 0.0 if self.quantization == "householder" else self.quantization_weight


class DPSHHasher(_SupervisedDeepHasher):
    """Deep Pairwise-Supervised Hashing (DPSH; Li, Wang & Kang, 2016).

    The network's linear outputs ``u`` model each pair's label through
    ``p(s_ij = 1) = sigmoid(theta_ij)``, ``theta_ij = u_i . u_j / 2``; the loss
    is the negative log-likelihood ``log(1 + exp(theta_ij)) - s_ij theta_ij``
    over the pairs of each mini-batch (computed with ``softplus``, so it never
    overflows), plus ``quantization_weight * ||u - sgn(u)||^2`` so that
    rounding loses little. ``s_ij = 1`` when two samples share a label.
    Codes are ``u > 0``. See :func:`sklhash.nn.hashing_losses.dpsh_loss`.

    Parameters
    ----------
    bits : int, default=32
        Code length.
    quantization_weight : float, default=0.1
        The paper's ``eta``, weight of the quantisation term (relative to
        the mean pair likelihood; the term is a mean over code entries).
%(deep_params)s    quantization : {"householder"} or None, default=None
        ``"householder"`` trains without the quantisation term and then
        rotates the outputs with a
        :class:`~sklhash.HouseholderQuantizer` (two-stage).

    Attributes
    ----------
    classes_ : ndarray
        Class labels seen in ``fit`` (for a 2-d ``y``, the column indices).
%(deep_attrs)s
    See Also
    --------
    HashNetHasher : Balanced pairwise loss with a ``tanh`` continuation.
    CSQHasher : Pulls each sample to a fixed hash centre of its class.

    References
    ----------
    .. [1] W.-J. Li, S. Wang and W.-C. Kang, "Feature learning based deep
       supervised hashing with pairwise labels", IJCAI 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import DPSHHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> hasher = DPSHHasher(bits=16, max_epochs=2, random_state=0).fit(X, y)
    >>> hasher.transform(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints = {
        **_SupervisedDeepHasher._parameter_constraints,
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        bits=32,
        *,
        quantization_weight=0.1,
        backbone="mlp",
        hidden_layer_sizes=(512,),
        max_epochs=20,
        batch_size=256,
        lr=1e-3,
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
        quantization=None,
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
        self.quantization_weight = quantization_weight

    def _codes_from_output(self, out, fitted):
        # DPSH's outputs are linear; they are the continuous codes.
        return out

    def _criterion(self, training, **fitted):
        from ..nn.supervised import DPSHLoss

        return DPSHLoss, {"eta": self._quantization_weight()}


class HashNetHasher(_SupervisedDeepHasher):
    """HashNet: deep learning to hash by continuation (Cao et al., 2017).

    Continuous codes ``u = tanh(beta * z)`` of the hash layer's outputs
    ``z`` enter a pairwise likelihood ``p(s_ij = 1) = sigmoid(alpha u_i . u_j)``
    whose cross-entropy is weighted to balance the few similar pairs against
    the many dissimilar ones (each kind weighted by the inverse of its share
    of the batch's pairs); for multi-label data a similar pair is further
    weighted by the cosine of the two label vectors. During training the
    steepness grows as ``beta = (1 + continuation_gamma * step) **
    continuation_power`` (``step`` counts optimisation steps), so ``tanh``
    approaches ``sign`` and the codes end up nearly binary without a
    separate quantisation term. Codes are ``z > 0``. See
    :func:`sklhash.nn.hashing_losses.hashnet_loss`.

    Parameters
    ----------
    bits : int, default=32
        Code length.
    alpha : float or None, default=None
        Scale of the inner product in the sigmoid; ``None`` means
        ``10 / bits`` as in the authors' code.
    continuation_gamma : float, default=0.005
        Growth rate of ``beta`` per optimisation step (authors' code: 0.005).
    continuation_power : float, default=0.5
        Exponent of the ``beta`` schedule (authors' code: 0.5).
%(deep_params)s    quantization : {"householder"} or None, default=None
        ``"householder"`` trains without the continuation (``beta = 1``) and
        then rotates the outputs with a
        :class:`~sklhash.HouseholderQuantizer` (two-stage).

    Attributes
    ----------
    beta_ : float
        Steepness reached at the end of training; ``decision_function``
        returns ``tanh(beta_ * z)``.
    classes_ : ndarray
        Class labels seen in ``fit`` (for a 2-d ``y``, the column indices).
%(deep_attrs)s
    See Also
    --------
    DPSHHasher : Unweighted pairwise likelihood on linear outputs.
    CSQHasher : Pulls each sample to a fixed hash centre of its class.

    References
    ----------
    .. [1] Z. Cao, M. Long, J. Wang and P. S. Yu, "HashNet: Deep learning to
       hash by continuation", ICCV 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import HashNetHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> hasher = HashNetHasher(bits=16, max_epochs=2, random_state=0).fit(X, y)
    >>> hasher.transform(X[:3]).shape
    (3, 2)
    >>> hasher.beta_ > 1
    True
    """

    _parameter_constraints = {
        **_SupervisedDeepHasher._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither"), None],
        "continuation_gamma": [Interval(Real, 0, None, closed="left")],
        "continuation_power": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        bits=32,
        *,
        alpha=None,
        continuation_gamma=0.005,
        continuation_power=0.5,
        backbone="mlp",
        hidden_layer_sizes=(512,),
        max_epochs=20,
        batch_size=256,
        lr=1e-3,
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
        quantization=None,
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
        self.alpha = alpha
        self.continuation_gamma = continuation_gamma
        self.continuation_power = continuation_power

    def _criterion(self, training, **fitted):
        from ..nn.supervised import HashNetLoss

        return HashNetLoss, {
            "alpha": 10.0 / self.bits if self.alpha is None else self.alpha,
            "gamma": self.continuation_gamma,
            "power": self.continuation_power,
            "continuation": self.quantization != "householder",
        }

    def _fitted_from_net(self, net):
        return {"beta_": float(net.criterion_.beta)}

    def _codes_from_output(self, out, fitted):
        import torch

        return torch.tanh(fitted["beta_"] * out)


class CSQHasher(_SupervisedDeepHasher):
    """Central Similarity Quantization (CSQ; Yuan et al., 2020).

    Every class gets a fixed binary *hash centre*, far from the others: rows
    of a Hadamard matrix and of its negation when ``bits`` is a power of two
    and there are at most ``2 * bits`` classes (any two centres are then
    ``bits / 2`` or ``bits`` apart), otherwise balanced random ``+-1``
    vectors (the most spread-out of 50 draws). A sample with several labels
    targets the centroid of its classes' centres, binarised, with ties broken
    by a fixed random vector. Training minimises the binary cross-entropy
    between each continuous code bit ``(tanh(z) + 1) / 2`` and its centre's
    bit, plus ``quantization_weight * mean((|tanh z| - 1)^2)``. Codes are
    ``z > 0``. See :func:`sklhash.nn.hashing_losses.csq_loss`.

    Parameters
    ----------
    bits : int, default=32
        Code length.
    quantization_weight : float, default=1e-4
        The paper's ``lambda_1``, weight of the quantisation term (the
        authors' default).
%(deep_params)s    quantization : {"householder"} or None, default=None
        ``"householder"`` trains without the quantisation term and then
        rotates the outputs with a
        :class:`~sklhash.HouseholderQuantizer` (two-stage).

    Attributes
    ----------
    centers_ : ndarray of shape (n_classes, bits)
        Hash centre of each class, entries ``+-1`` (row ``k`` belongs to
        ``classes_[k]``).
    classes_ : ndarray
        Class labels seen in ``fit`` (for a 2-d ``y``, the column indices).
%(deep_attrs)s
    See Also
    --------
    DPSHHasher : Pairwise likelihood on linear outputs.
    HashNetHasher : Balanced pairwise loss with a ``tanh`` continuation.

    References
    ----------
    .. [1] L. Yuan, T. Wang, X. Zhang, F. E. H. Tay, Z. Jie, W. Liu and
       J. Feng, "Central similarity quantization for efficient image and
       video retrieval", CVPR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import CSQHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> hasher = CSQHasher(bits=16, max_epochs=2, random_state=0).fit(X, y)
    >>> hasher.transform(X[:3]).shape
    (3, 2)
    >>> hasher.centers_.shape
    (10, 16)
    """

    _parameter_constraints = {
        **_SupervisedDeepHasher._parameter_constraints,
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        bits=32,
        *,
        quantization_weight=1e-4,
        backbone="mlp",
        hidden_layer_sizes=(512,),
        max_epochs=20,
        batch_size=256,
        lr=1e-3,
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
        quantization=None,
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
        self.quantization_weight = quantization_weight

    def _fit_targets(self, X, y):
        import torch

        from ..nn.hashing_losses import hash_centers, sample_centers

        classes, labels = _labels(self, y, X.shape[0])
        # Drawn from torch's generator, which fit has seeded from
        # random_state, so the centres follow random_state too.
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,))))
        centers = hash_centers(len(classes), self.bits, random_state=rng)
        fitted = {"classes_": classes, "centers_": centers}
        if labels.ndim == 1:
            return {"center": centers[labels]}, fitted, {}
        tie_break = np.where(rng.random(self.bits) < 0.5, -1.0, 1.0)
        return {"center": sample_centers(labels, centers, tie_break)}, fitted, {}

    def _criterion(self, training, **fitted):
        from ..nn.supervised import CSQLoss

        return CSQLoss, {"lam": self._quantization_weight()}
