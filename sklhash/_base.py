"""Base class shared by every hasher: the estimator contract of sklhash.

A hasher learns ``n_bits_`` real-valued functions of the input. Its
``decision_function`` returns them as float32 ``(n_samples, n_bits_)``; a bit is
1 exactly where the value is strictly positive, and ``transform`` packs those
bits into ``np.uint8`` rows (see :mod:`sklhash.codes`). Subclasses implement
``fit`` (setting ``n_bits_``) and ``_decision_function``; everything else --
validation at transform time, packing, feature names, tags, transactional
fitting -- lives here once.

Transactional fit: the ``fit`` of every subclass is wrapped (when the class
is created, so subclasses need no code for it) so that a ``fit`` that
raises -- any exception, ``KeyboardInterrupt`` included -- leaves the
estimator's learned state as it was before the call: after a failed first
fit no learned (``_``-suffixed) attribute exists, and a failed refit leaves
the previous model intact and consistent. The wrapper snapshots the
instance's attributes whose names end in ``_`` (learned state, by
scikit-learn's convention) or start with ``_`` (private caches) and, on
failure, drops those added and restores those changed. Attributes are
restored by reference: a ``fit`` must build new arrays and models rather
than mutate the fitted ones in place (every sklhash hasher does).
"""

import functools
from abc import ABCMeta, abstractmethod
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sklhash.utils._sklearn_compat import (
    Interval,
    _check_feature_names_in,
    validate_data,
)

from .codes import n_bytes, pack_codes

__all__ = ["BaseHasher"]


def _state_names(estimator):
    return [
        name
        for name in vars(estimator)
        if (name.endswith("_") or name.startswith("_")) and not name.startswith("__")
    ]


def _transactional(fit):
    """Wrap ``fit`` so that a failure restores the learned state it found."""

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = {name: vars(self)[name] for name in _state_names(self)}
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            for name in _state_names(self):
                if name not in before:
                    delattr(self, name)
            vars(self).update(before)
            raise

    wrapper._sklhash_transactional = True
    return wrapper


class BaseHasher(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class for hashers: features in, packed binary codes out.

    Do not use it directly; subclass it and implement ``fit`` and
    ``_decision_function``.

    Parameters
    ----------
    bits : int
        Length of the binary codes, at least 1 (any value, not only
        multiples of 8).

    Attributes
    ----------
    n_bits_ : int
        Code length learned by ``fit``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    """

    _parameter_constraints: dict = {
        "bits": [Interval(Integral, 1, None, closed="left")],
    }

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fit = cls.__dict__.get("fit")
        if fit is not None and not getattr(fit, "_sklhash_transactional", False):
            cls.fit = _transactional(fit)

    def __init__(self, bits):
        self.bits = bits

    @abstractmethod
    def fit(self, X, y=None):
        """Learn the hash functions; subclasses implement it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or None, default=None
            Targets of supervised hashers; ignored by unsupervised ones.

        Returns
        -------
        self : object
            Fitted hasher.
        """

    @abstractmethod
    def _decision_function(self, X):
        """Real-valued hash functions of validated ``X``, shape (n, n_bits_)."""

    def _validate_transform_input(self, X):
        """Check ``X`` at transform time; deep hashers override the dtype."""
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def decision_function(self, X):
        """Real-valued hash functions before binarisation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        values : ndarray of shape (n_samples, n_bits_), dtype float32
            A bit is 1 exactly where its value is strictly greater than 0.
        """
        check_is_fitted(self)
        X = self._validate_transform_input(X)
        return np.asarray(self._decision_function(X), dtype=np.float32)

    def transform(self, X):
        """Encode samples as packed binary codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        codes : ndarray of shape (n_samples, ceil(n_bits_ / 8)), dtype uint8
            Bits packed with ``np.packbits(values > 0, axis=1)``: bit 0 is the
            most significant bit of byte 0 and padding bits are 0.
        """
        values = self.decision_function(X)
        if not np.isfinite(values).all():
            # NaN > 0 is False: a broken model would encode everything as 0.
            raise ValueError(
                f"{type(self).__name__} produced {int((~np.isfinite(values)).sum())} "
                "non-finite decision values for this input, so no codes can be "
                "made; check the input for extreme values, or refit."
            )
        # Checked above with the hasher's name: pack_codes need not check again.
        return pack_codes(values > 0)

    @property
    def _n_features_out(self):
        return n_bytes(self.n_bits_)

    def get_feature_names_out(self, input_features=None):
        """Get the names of the output columns: ``hash0`` ... ``hashN``, one per byte.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``["hash0", "hash1", ...]``, ``ceil(n_bits_ / 8)`` of them.
        """
        check_is_fitted(self, "n_bits_")
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray(
            [f"hash{i}" for i in range(self._n_features_out)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Codes are uint8 whatever the input dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags


def check_bits_le_features(bits, n_features, n_samples=None, method=""):
    """Raise when a linear method is asked for more bits than it can give.

    PCA-based hashers draw one bit per principal direction, so ``bits`` may
    not exceed ``n_features`` (nor the rank bound ``n_samples``).
    """
    limit = n_features if n_samples is None else min(n_features, n_samples)
    if bits > limit:
        raise ValueError(
            f"bits={bits} is larger than what {method} can give: at most "
            f"min(n_samples, n_features) = {limit} bits for data with "
            f"n_samples={n_samples}, n_features={n_features}. Lower bits or "
            "use a hasher without this limit (LSHHasher, a deep hasher)."
        )
