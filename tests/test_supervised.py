"""DPSH, HashNet and CSQ hashers on small real data (digits)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from sklhash import CSQHasher, DPSHHasher, HashNetHasher, LSHHasher, hamming_distances
from sklhash.codes import unpack_codes
from sklhash.nn.hashing_losses import hashnet_beta

HASHERS = [DPSHHasher, HashNetHasher, CSQHasher]
SMALL = {"bits": 16, "hidden_layer_sizes": (64,), "max_epochs": 5, "batch_size": 128}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # The machine's cores are shared; one thread also keeps timings stable.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _precision_at_k(codes, y, k=20):
    d = hamming_distances(codes).astype(float)
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return (y[idx] == y[:, None]).mean()


@pytest.mark.parametrize("cls", HASHERS, ids=lambda c: c.__name__)
def test_learns_and_beats_lsh(cls, digits):
    X, y = digits
    train, test = slice(0, 1200), slice(1200, None)
    hasher = cls(**{**SMALL, "max_epochs": 15}, random_state=0).fit(X[train], y[train])
    lsh = LSHHasher(bits=16, random_state=0).fit(X[train])
    # Retrieval among held-out digits, which the network never saw.
    ours = _precision_at_k(hasher.transform(X[test]), y[test])
    theirs = _precision_at_k(lsh.transform(X[test]), y[test])
    assert ours > 0.7
    assert ours > theirs + 0.25
    assert len(hasher.history_) == 15
    np.testing.assert_array_equal(hasher.classes_, np.arange(10))


@pytest.mark.parametrize("cls", HASHERS, ids=lambda c: c.__name__)
def test_one_hot_y_equals_class_labels(cls, digits):
    X, y = digits
    X, y = X[:400], y[:400]
    a = cls(**SMALL, random_state=3).fit(X, y)
    b = cls(**SMALL, random_state=3).fit(X, np.eye(10, dtype=int)[y])
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))


@pytest.mark.parametrize("cls", HASHERS, ids=lambda c: c.__name__)
def test_multilabel_shared_labels_pull_codes_together(cls, digits):
    X, y = digits
    X, y = X[:800], y[:800]
    # Digits 0 and 1 also carry a shared "group" label; the others do not.
    group = np.isin(y, [0, 1]).astype(int)
    Y = np.column_stack([np.eye(10, dtype=int)[y], group])
    hasher = cls(**SMALL, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(hasher.classes_, np.arange(11))
    d = hamming_distances(hasher.transform(X)).astype(float)
    zero_one = d[np.ix_(y == 0, y == 1)].mean()
    zero_other = d[np.ix_(y == 0, ~np.isin(y, [0, 1]))].mean()
    assert zero_one < zero_other


@pytest.mark.parametrize("cls", HASHERS, ids=lambda c: c.__name__)
def test_deterministic_and_pickles(cls, digits):
    X, y = digits
    X, y = X[:300], y[:300]
    params = {**SMALL, "max_epochs": 2}
    a = cls(**params, random_state=7).fit(X, y)
    b = cls(**params, random_state=7).fit(X, y)
    c = cls(**params, random_state=8).fit(X, y)
    codes = a.transform(X)
    np.testing.assert_array_equal(codes, b.transform(X))
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.transform(X), codes)
    np.testing.assert_array_equal(restored.decision_function(X), a.decision_function(X))
    # A clone is unfitted and refits to the same codes.
    np.testing.assert_array_equal(clone(a).fit(X, y).transform(X), codes)


@pytest.mark.parametrize("cls", HASHERS, ids=lambda c: c.__name__)
def test_householder_two_stage(cls, digits):
    X, y = digits
    X, y = X[:300], y[:300]
    hasher = cls(**{**SMALL, "max_epochs": 2}, quantization="householder",
                 random_state=0).fit(X, y)
    assert hasher.quantizer_ is not None
    values = hasher.decision_function(X)
    np.testing.assert_array_equal(
        unpack_codes(hasher.transform(X), 16), values > 0
    )
    # The second stage rotates the network's continuous outputs.
    np.testing.assert_allclose(
        values, hasher.quantizer_.decision_function(hasher.embed(X)), rtol=1e-5
    )


def test_hashnet_continuation_follows_steps(digits):
    X, y = digits
    X, y = X[:500], y[:500]
    hasher = HashNetHasher(**SMALL, random_state=0).fit(X, y)
    steps = SMALL["max_epochs"] * (500 // SMALL["batch_size"])  # last batch dropped
    # beta_ is the steepness of the last step taken.
    assert hasher.beta_ == pytest.approx(hashnet_beta(steps - 1))
    z = hasher.net_.module_(torch.as_tensor(X[:5])).detach().numpy()
    np.testing.assert_allclose(
        hasher.decision_function(X[:5]), np.tanh(hasher.beta_ * z), rtol=1e-5
    )
    flat = HashNetHasher(**SMALL, continuation_gamma=0.0, random_state=0).fit(X, y)
    assert flat.beta_ == 1.0


def test_dpsh_outputs_are_linear_and_quantised(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    params = {**SMALL, "max_epochs": 8}
    strong = DPSHHasher(**params, quantization_weight=1.0, random_state=0).fit(X, y)
    none = DPSHHasher(**params, quantization_weight=0.0, random_state=0).fit(X, y)

    def gap(h):
        u = h.decision_function(X)
        return np.mean((u - np.where(u > 0, 1, -1)) ** 2)

    # Linear outputs: nothing bounds them except the quantisation term.
    assert gap(strong) < 0.8 * gap(none)


@pytest.mark.parametrize("n_classes, bits, hadamard", [(10, 16, True), (40, 16, False)])
def test_csq_centres(n_classes, bits, hadamard, digits):
    X, _ = digits
    y = np.arange(len(X)) % n_classes
    a = CSQHasher(bits=bits, hidden_layer_sizes=(8,), max_epochs=1,
                  random_state=0).fit(X, y)
    c = a.centers_
    assert c.shape == (n_classes, bits)
    d = (bits - c @ c.T) / 2
    off = d[~np.eye(n_classes, dtype=bool)]
    if hadamard:
        assert set(np.unique(off)) <= {bits / 2, bits}
    else:
        assert off.min() > 0
        b = CSQHasher(bits=bits, hidden_layer_sizes=(8,), max_epochs=1,
                      random_state=1).fit(X, y)
        assert not np.array_equal(c, b.centers_)


@pytest.mark.parametrize("cls", HASHERS, ids=lambda c: c.__name__)
def test_bad_targets(cls, digits):
    X, y = digits
    X, y = X[:50], y[:50]
    est = cls(bits=4, hidden_layer_sizes=(8,), max_epochs=1)
    with pytest.raises(ValueError, match="requires y"):
        est.fit(X)
    with pytest.raises(ValueError, match="got y of type 'continuous'"):
        est.fit(X, np.linspace(0, 1, 50))
    with pytest.raises(ValueError, match="'multiclass-multioutput'"):
        est.fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="y has 49 rows but X has 50"):
        est.fit(X, y[:49])
    with pytest.raises(ValueError, match="quantization_weight|alpha|continuation"):
        bad = {"DPSHHasher": {"quantization_weight": -1.0},
               "HashNetHasher": {"alpha": 0.0},
               "CSQHasher": {"quantization_weight": -1.0}}[cls.__name__]
        clone(est).set_params(**bad).fit(X, y)
