"""HashingNearestNeighbors: a hasher and a HammingIndex as one estimator."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklhash import LSHHasher
from sklhash.neighbors import HammingIndex, HashingNearestNeighbors
from sklhash.neighbors._faiss import faiss_available

BACKENDS = [
    "numpy",
    pytest.param(
        "faiss",
        marks=pytest.mark.skipif(
            not faiss_available(), reason="the optional faiss-cpu is not installed"
        ),
    ),
    "mih",
]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[200:], X[:200], y[200:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_equals_index_on_the_hashers_codes(digits, backend):
    X_db, X_q, _ = digits
    hasher = LSHHasher(bits=20, random_state=0)
    nn = HashingNearestNeighbors(
        hasher, n_neighbors=7, radius=3, backend=backend, n_jobs=1
    )
    nn.fit(X_db)
    # The given hasher is cloned, never fitted itself.
    assert not hasattr(hasher, "n_bits_")
    codes = LSHHasher(bits=20, random_state=0).fit(X_db)
    index = HammingIndex(n_bits=20).fit(codes.transform(X_db))
    queries = codes.transform(X_q)
    expected = index.kneighbors(queries, 7)
    for got, want in zip(nn.kneighbors(X_q), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert nn.kneighbors(X_q, 3, return_distance=False).shape == (200, 3)
    got = nn.radius_neighbors(X_q)
    expected = index.radius_neighbors(queries, 3)
    for g, e in zip(got[1], expected[1], strict=True):
        np.testing.assert_array_equal(g, e)
    assert nn.index_.n_bits_ == 20 and nn.n_samples_fit_ == len(X_db)
    assert nn.n_features_in_ == X_db.shape[1]


def test_neighbours_share_labels(digits):
    # Hashing keeps neighbourhoods: most 1-NN (other than self) share the
    # query's digit on real data.
    X_db, _, y_db = digits
    # (LSH rather than ITQ: an SVD is slow on an oversubscribed machine.)
    pipe = make_pipeline(StandardScaler(), LSHHasher(bits=64, random_state=0))
    nn = HashingNearestNeighbors(pipe, n_neighbors=3, n_jobs=1).fit(X_db, y_db)
    ind = nn.kneighbors(X_db[:300], return_distance=False)
    # The nearest *other* item: the first index that is not the query's own
    # (an earlier duplicate code may come before it, at distance 0 too).
    other = np.where(ind[:, 0] == np.arange(300), ind[:, 1], ind[:, 0])
    agree = (y_db[other] == y_db[:300]).mean()
    assert agree > 0.8


def test_is_a_scikit_learn_estimator(digits):
    X_db, X_q, _ = digits
    nn = HashingNearestNeighbors(LSHHasher(bits=16, random_state=1), n_neighbors=4)
    params = nn.get_params()
    assert params["n_neighbors"] == 4 and params["hasher__bits"] == 16
    nn.set_params(hasher__bits=24, backend="numpy")
    assert nn.hasher.bits == 24
    twin = clone(nn)
    assert twin.get_params()["hasher__bits"] == 24
    with pytest.raises(NotFittedError):
        nn.kneighbors(X_q)
    a = nn.fit(X_db).kneighbors(X_q)
    b = pickle.loads(pickle.dumps(nn)).kneighbors(X_q)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="n_neighbors"):
        HashingNearestNeighbors(LSHHasher(), n_neighbors=0).fit(X_db)
    with pytest.raises(ValueError, match="n_neighbors="):
        nn.kneighbors(X_q, len(X_db) + 1)
    with pytest.raises(ValueError, match="hasher"):
        HashingNearestNeighbors("LSH").fit(X_db)
