"""Every retrieval metric refuses NaN and infinite labels, similarities and
relevance values (NaN labels used to be "relevant" to each other: mAP 1.0)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklhash.metrics import (
    mean_average_hierarchical_precision,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_recall_at_radius,
    precision_recall_curve,
)

S3 = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 1.0]])

# Every metric, called as the user would; all take labels the same way.
METRICS = {
    "map": lambda q, d, yq, yd: mean_average_precision(q, d, yq, yd, k=5),
    "precision_at_k": lambda q, d, yq, yd: precision_at_k(q, d, yq, yd, k=5),
    "ndcg": lambda q, d, yq, yd: ndcg_at_k(q, d, yq, yd, k=5),
    "radius": lambda q, d, yq, yd: precision_recall_at_radius(q, d, yq, yd),
    "curve": lambda q, d, yq, yd: precision_recall_curve(q, d, yq, yd),
    "mahp": lambda q, d, yq, yd: mean_average_hierarchical_precision(
        q, d, yq, yd, similarity=np.eye(3), k=5
    ),
    "ndcg_graded": lambda q, d, yq, yd: ndcg_at_k(q, d, yq, yd, similarity=S3),
}
# Metrics that also take 2-d label indicator matrices.
MULTILABEL = ("map", "precision_at_k", "ndcg", "radius", "curve")


@st.composite
def problems(draw):
    n_q = draw(st.integers(1, 5))
    n_db = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 256, (n_q, 2), dtype=np.uint8)
    db = rng.integers(0, 256, (n_db, 2), dtype=np.uint8)
    return q, db, rng


@settings(max_examples=30, deadline=None)
@given(
    problems(),
    st.sampled_from(sorted(METRICS)),
    st.sampled_from(["query_labels", "db_labels"]),
    st.sampled_from([np.nan, np.inf, -np.inf]),
    st.booleans(),
    st.data(),
)
def test_non_finite_labels_are_refused(problem, metric, which, bad, multi, data):
    q, db, rng = problem
    multi = multi and metric in MULTILABEL
    if multi:
        yq = rng.integers(0, 2, (len(q), 3)).astype(float)
        yd = rng.integers(0, 2, (len(db), 3)).astype(float)
    else:
        yq = rng.integers(0, 3, len(q)).astype(float)
        yd = rng.integers(0, 3, len(db)).astype(float)
    target = yq if which == "query_labels" else yd
    row = data.draw(st.integers(0, len(target) - 1))
    if multi:
        target[row, data.draw(st.integers(0, 2))] = bad
    else:
        target[row] = bad
    # Metrics that need integer class indices refuse float labels already;
    # all others must name the non-finite entry.
    with pytest.raises(ValueError, match=f"{which} must be (finite|integer)"):
        METRICS[metric](q, db, yq, yd)


@settings(max_examples=10, deadline=None)
@given(problems(), st.sampled_from(sorted(set(METRICS) - {"mahp", "ndcg_graded"})))
def test_nan_in_object_labels_is_refused(problem, metric):
    q, db, rng = problem
    yq = np.array(["a"] * len(q), dtype=object)
    yd = np.array(["a", float("nan")] * len(db), dtype=object)[: len(db)]
    with pytest.raises(ValueError, match="db_labels must be finite, got nan"):
        METRICS[metric](q, db, yq, yd)


def test_finite_float_labels_still_score_like_ints():
    rng = np.random.default_rng(0)
    q = rng.integers(0, 256, (4, 2), dtype=np.uint8)
    db = rng.integers(0, 256, (20, 2), dtype=np.uint8)
    yq, yd = rng.integers(0, 3, 4), rng.integers(0, 3, 20)
    for name in ("map", "precision_at_k", "ndcg", "radius"):
        f = METRICS[name]
        assert f(q, db, yq.astype(float), yd.astype(float)) == f(q, db, yq, yd)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.5])
@pytest.mark.parametrize("metric", ["mahp", "ndcg_graded"])
def test_non_finite_similarity_is_refused(metric, bad):
    rng = np.random.default_rng(1)
    q = rng.integers(0, 256, (3, 2), dtype=np.uint8)
    db = rng.integers(0, 256, (9, 2), dtype=np.uint8)
    S = S3.copy()
    S[0, 2] = bad
    call = {
        "mahp": lambda: mean_average_hierarchical_precision(
            q, db, [0, 1, 2], np.arange(9) % 3, similarity=S, k=5
        ),
        "ndcg_graded": lambda: ndcg_at_k(
            q, db, [0, 1, 2], np.arange(9) % 3, similarity=S
        ),
    }[metric]
    with pytest.raises(ValueError, match=r"similarity must hold finite.*at \(0, 2\)"):
        call()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_relevance_returning_nan_is_refused(bad):
    rng = np.random.default_rng(2)
    q = rng.integers(0, 256, (3, 2), dtype=np.uint8)
    db = rng.integers(0, 256, (9, 2), dtype=np.uint8)

    def relevance(a, b):
        out = np.zeros((len(a), len(b)))
        out[0, 0] = bad
        return out

    with pytest.raises(ValueError, match="relevance returned NaN or infinite"):
        mean_average_precision(q, db, [0, 1, 2], np.arange(9), relevance=relevance)
