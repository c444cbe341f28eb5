"""Classic hashers: ITQ's objective, planted rotations, retrieval sanity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group
from sklearn.datasets import load_digits

from sklhash import ITQHasher, LSHHasher, PCAHasher, SpectralHasher, hamming_distances
from sklhash.hashers.classic import _random_rotation, itq_rotation


def _quantization_error(V, R):
    P = V @ R
    return np.sum((np.where(P > 0, 1.0, -1.0) - P) ** 2) / len(V)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_itq_objective_never_increases(seed):
    X, _ = load_digits(return_X_y=True)
    itq = ITQHasher(bits=16, n_iter=30, tol=0, random_state=seed).fit(X)
    errors = itq.quantization_errors_
    assert len(errors) == itq.n_iter_ + 1 and itq.n_iter_ <= 30
    assert np.all(np.diff(errors) <= 1e-9 * errors[0])
    assert errors[-1] < errors[0]
    # The recorded error is the real objective of the final rotation.
    V = (X - itq.mean_) @ itq.components_.T
    assert _quantization_error(V, itq.rotation_) == pytest.approx(errors[-1])


def test_itq_recovers_planted_rotation():
    rng = np.random.default_rng(0)
    n, k = 2000, 16
    B = np.where(rng.random((n, k)) > 0.5, 1.0, -1.0)
    Q = ortho_group.rvs(k, random_state=1)
    V = (B + 0.1 * rng.standard_normal((n, k))) @ Q
    R, errors = itq_rotation(V, n_iter=100, random_state=0)
    random_errors = [
        _quantization_error(V, ortho_group.rvs(k, random_state=s)) for s in range(5)
    ]
    # Near the noise floor (k * 0.1^2 = 0.16 per sample) and far below any
    # random rotation's error.
    assert errors[-1] < 0.25
    assert errors[-1] < 0.1 * min(random_errors)
    # The planted codes are recovered up to a signed permutation of bits.
    recovered = np.where(V @ R > 0, 1.0, -1.0)
    corr = np.abs(recovered.T @ B) / n
    assert (corr.max(axis=1) > 0.99).all()


def _map_at_k(codes, y, k=50):
    d = hamming_distances(codes).astype(float)
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return (y[idx] == y[:, None]).mean()


def test_learned_hashers_beat_lsh_on_digits():
    X, y = load_digits(return_X_y=True)
    lsh = _map_at_k(LSHHasher(bits=16, random_state=0).fit_transform(X), y)
    for hasher in [
        PCAHasher(bits=16),
        ITQHasher(bits=16, random_state=0),
        SpectralHasher(bits=16),
    ]:
        score = _map_at_k(hasher.fit_transform(X), y)
        assert score > 0.5, type(hasher).__name__
    itq = _map_at_k(ITQHasher(bits=16, random_state=0).fit_transform(X), y)
    assert itq > lsh


@pytest.mark.parametrize("cls", [PCAHasher, ITQHasher])
def test_too_many_bits(cls):
    X, _ = load_digits(return_X_y=True)
    with pytest.raises(ValueError, match="bits=65 is larger.*n_features=64"):
        cls(bits=65).fit(X)


def test_spectral_bits_use_low_frequencies_first():
    X, _ = load_digits(return_X_y=True)
    sh = SpectralHasher(bits=8).fit(X)
    freq = (sh.modes_ * np.pi / sh.range_) ** 2
    eig = freq.sum(axis=1)
    assert np.all(np.diff(eig) >= 0)
    assert ((sh.modes_ > 0).sum(axis=1) == 1).all()


def test_spectral_more_bits_than_features():
    X, _ = load_digits(return_X_y=True)
    codes = SpectralHasher(bits=100).fit_transform(X[:, :8])
    assert codes.shape == (len(X), 13)


def test_lsh_is_centred():
    X, _ = load_digits(return_X_y=True)
    values = LSHHasher(bits=64, random_state=0).fit(X).decision_function(X)
    # Centring makes every bit fire for a reasonable fraction of the data.
    frac = (values > 0).mean(axis=0)
    assert frac.min() > 0.05 and frac.max() < 0.95


@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_random_rotation_is_orthogonal(n, seed):
    R = _random_rotation(n, np.random.RandomState(seed))
    assert R.shape == (n, n)
    np.testing.assert_allclose(R @ R.T, np.eye(n), atol=1e-10)


def test_one_bit_itq_and_pca_sign_convention():
    X, _ = load_digits(return_X_y=True)
    codes = ITQHasher(bits=1, random_state=0).fit_transform(X)
    assert codes.shape == (len(X), 1) and 0 < np.unpackbits(codes, axis=1)[:, 0].sum()
    # svd_flip's convention: the largest absolute loading of each direction is
    # positive, so the codes do not depend on LAPACK's sign choice.
    comps = PCAHasher(bits=8).fit(X).components_
    assert (comps[np.arange(8), np.abs(comps).argmax(axis=1)] > 0).all()


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 12),
    st.sampled_from([0.0, 1e-6, 1e-3, 1e-2, 0.1]),
    st.integers(0, 40),
)
def test_itq_tol_stop(seed, k, tol, n_iter):
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((200, k)) * rng.uniform(0.2, 3, size=k)
    R, errors = itq_rotation(V, n_iter=n_iter, random_state=seed, tol=tol)
    n_done = len(errors) - 1
    assert 0 <= n_done <= n_iter
    # The objective never increases, and the recorded last value is the real
    # error of the returned rotation.
    assert np.all(np.diff(errors) <= 0)
    assert _quantization_error(V, R) == pytest.approx(errors[-1], rel=1e-12)
    decrease = -np.diff(errors) / errors[:-1]
    # Every iteration but the last decreased the error by more than tol; the
    # loop stopped at the first that did not, or at the cap.
    assert np.all(decrease[:-1] > tol)
    if n_done < n_iter:
        assert decrease[-1] <= tol


def test_itq_tol_matches_fixed_iterations():
    X, _ = load_digits(return_X_y=True)
    full = ITQHasher(bits=16, n_iter=300, tol=0, random_state=0).fit(X)
    early = ITQHasher(bits=16, n_iter=300, tol=1e-3, random_state=0).fit(X)
    assert early.n_iter_ < full.n_iter_ <= 300
    assert len(early.quantization_errors_) == early.n_iter_ + 1
    # Stopping early is the same run cut short: the same rotation as a fixed
    # number of iterations.
    fixed = ITQHasher(bits=16, n_iter=early.n_iter_, tol=0, random_state=0).fit(X)
    np.testing.assert_array_equal(fixed.rotation_, early.rotation_)
    np.testing.assert_array_equal(fixed.transform(X), early.transform(X))
