"""HammingIndex's asymmetric search and rescoring equal the brute-force functions."""

import numpy as np
import pytest

from sklhash import EmbeddingHasher
from sklhash.neighbors import HammingIndex
from sklhash.neighbors._rescore import asymmetric_kneighbors, rescored_kneighbors


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X, Q = rng.normal(size=(500, 32)), rng.normal(size=(20, 32))
    h = EmbeddingHasher(20, random_state=0).fit(X)
    return X, Q, h.transform(X), h.transform(Q), h.decision_function(Q)


@pytest.mark.parametrize("backend", ["numpy", "mih", "faiss"])
def test_options_equal_the_reference_functions(data, backend):
    X, Q, db, q, v = data
    idx = HammingIndex(backend=backend, n_bits=20).fit(db)
    d1, i1 = idx.kneighbors(q, 7, rescore=3, query_vectors=Q, db_vectors=X)
    d2, i2 = rescored_kneighbors(q, db, Q, X, 7, factor=3)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2)
    d1, i1 = idx.kneighbors(v, 7, search="asymmetric")
    d2, i2 = asymmetric_kneighbors(v, db, 7)
    np.testing.assert_array_equal(i1, i2)
    d1, i1 = idx.kneighbors(v, 7, search="asymmetric", rescore=2, query_vectors=Q,
                            db_vectors=X, metric="euclidean")
    d2, i2 = rescored_kneighbors(v, db, Q, X, 7, factor=2, search="asymmetric",
                                 metric="euclidean")
    np.testing.assert_array_equal(i1, i2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rescore": 0.5, "query_vectors": "Q", "db_vectors": "X"}, "factor"),
        ({"rescore": 2}, "needs query_vectors"),
        ({"rescore": 2, "query_vectors": "Q", "db_vectors": "X5"},
         "db_vectors has 5 columns"),
        ({"rescore": 2, "query_vectors": "Q", "db_vectors": "X10"},
         "db_vectors has 10 rows"),
        ({"search": "bogus"}, "search must be"),
    ],
)
def test_bad_rescoring_input(data, kwargs, match):
    X, Q, db, q, _ = data
    vals = {"Q": Q, "X": X, "X5": X[:, :5], "X10": X[:10]}
    kwargs = {k: vals.get(v, v) if k.endswith("vectors") else v
              for k, v in kwargs.items()}
    idx = HammingIndex(n_bits=20).fit(db)
    with pytest.raises(ValueError, match=match):
        idx.kneighbors(q, 7, **kwargs)
