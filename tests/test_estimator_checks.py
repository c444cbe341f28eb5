"""sklhash.utils.estimator_checks as a third party uses it.

A small hasher written outside sklhash passes every check through the
public ``parametrize_with_checks``; hashers that break one rule of the
contract are caught by the check for that rule.
"""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from sklhash.utils.estimator_checks import (
    check_hasher,
    check_hasher_codes,
    check_hasher_deterministic,
    check_hasher_pickle,
    check_hasher_same_random_state,
    parametrize_with_checks,
)


class SignHasher(TransformerMixin, BaseEstimator):
    """Sign of random projections, written without sklhash's base class."""

    def __init__(self, bits=8, random_state=None):
        self.bits = bits
        self.random_state = random_state

    def fit(self, X, y=None):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or (
            self.bits < 1
        ):
            raise ValueError(f"bits must be a positive int, got bits={self.bits!r}")
        X = validate_data(self, X)
        rng = np.random.default_rng(self.random_state)
        self.components_ = rng.standard_normal((X.shape[1], self.bits))
        self.n_bits_ = self.bits
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return (X @ self.components_).astype(np.float32)

    def transform(self, X):
        return np.packbits(self.decision_function(X) > 0, axis=1)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.array([f"hash{i}" for i in range((self.n_bits_ + 7) // 8)],
                        dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags


@parametrize_with_checks([SignHasher(bits=10, random_state=0)], sklearn_checks=False)
def test_third_party_hasher(estimator, check):
    check(estimator)


def test_check_hasher_all_at_once():
    check_hasher(SignHasher(bits=3, random_state=1))


class WideCodes(SignHasher):
    def transform(self, X):  # one byte too many
        codes = super().transform(X)
        return np.hstack([codes, np.zeros((len(codes), 1), np.uint8)])


class FlippedBitOrder(SignHasher):
    def transform(self, X):  # FAISS's order inside a byte
        return np.packbits(self.decision_function(X) > 0, axis=1, bitorder="little")


class Noisy(SignHasher):
    def decision_function(self, X):
        out = super().decision_function(X)
        return out + np.random.default_rng().standard_normal(out.shape).astype(
            np.float32
        )

    def transform(self, X):
        return np.packbits(self.decision_function(X) > 0, axis=1)


class Unseeded(SignHasher):
    def fit(self, X, y=None):
        super().fit(X)
        self.components_ = np.random.default_rng().standard_normal(
            self.components_.shape
        )
        return self


class ForgetsOnPickle(SignHasher):
    def __getstate__(self):
        state = dict(super().__getstate__())
        state["components_"] = -state["components_"]
        return state


@pytest.mark.parametrize(
    "broken, check",
    [
        (WideCodes, check_hasher_codes),
        (FlippedBitOrder, check_hasher_codes),
        (Noisy, check_hasher_deterministic),
        (Unseeded, check_hasher_same_random_state),
        (ForgetsOnPickle, check_hasher_pickle),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_checks_catch_broken_hashers(broken, check):
    with pytest.raises(AssertionError):
        check(broken.__name__, broken(bits=10, random_state=0))
    check("SignHasher", SignHasher(bits=10, random_state=0))  # the sound one passes
