"""scikit-learn's estimator checks and sklhash's own contract on every hasher."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklhash
from sklhash import all_hashers, unpack_codes
from sklhash.utils._test_common import expected_failed_checks, instances

HASHERS = instances()


def test_all_hashers_found():
    names = dict(all_hashers())
    for name in ["LSHHasher", "PCAHasher", "ITQHasher", "SpectralHasher"]:
        assert name in names


def test_every_public_name_imports():
    for name in sklhash.__all__:
        assert getattr(sklhash, name) is not None, name


@parametrize_with_checks(HASHERS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data(estimator):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 6))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    return X, y


@pytest.mark.parametrize("estimator", HASHERS, ids=lambda e: type(e).__name__)
def test_hasher_contract(estimator):
    X, y = _data(estimator)
    est = clone(estimator).fit(X, y)
    codes = est.transform(X)
    values = est.decision_function(X)
    n_bits = est.n_bits_
    assert codes.dtype == np.uint8
    assert codes.shape == (len(X), (n_bits + 7) // 8)
    assert values.dtype == np.float32 and values.shape == (len(X), n_bits)
    # transform is exactly pack(decision_function > 0), padding bits zero.
    np.testing.assert_array_equal(unpack_codes(codes, n_bits), values > 0)
    np.testing.assert_array_equal(np.packbits(values > 0, axis=1), codes)
    # Deterministic after fit, and through pickling.
    np.testing.assert_array_equal(est.transform(X), codes)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), codes)
    names = est.get_feature_names_out()
    assert list(names) == [f"hash{i}" for i in range(codes.shape[1])]


@pytest.mark.parametrize("estimator", HASHERS, ids=lambda e: type(e).__name__)
def test_same_random_state_same_codes(estimator):
    X, y = _data(estimator)
    a = clone(estimator).fit(X, y).transform(X)
    b = clone(estimator).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("estimator", HASHERS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("bits", [0, -3, 2.5, "8"])
def test_bad_bits_rejected(estimator, bits):
    X, y = _data(estimator)
    est = clone(estimator).set_params(bits=bits)
    with pytest.raises(ValueError, match="bits"):
        est.fit(X, y)


@pytest.mark.parametrize("estimator", HASHERS, ids=lambda e: type(e).__name__)
def test_bad_input_rejected(estimator):
    X, y = _data(estimator)
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(estimator).fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clone(estimator).fit(X_inf, y)
    with pytest.raises(ValueError, match="2D array"):
        clone(estimator).fit(X[:, 0], y)
    est = clone(estimator).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :3])
