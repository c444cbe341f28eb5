"""Retrieval scorers inside scikit-learn's model selection tools."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits

from sklhash import ITQHasher
from sklhash.metrics import (
    mahp_scorer,
    make_retrieval_scorer,
    map_scorer,
    mean_average_hierarchical_precision,
    mean_average_precision,
    precision_recall_at_radius,
)

# Digits 0-9 grouped into "round" {0, 6, 8, 9}, "straight" {1, 4, 7} and the
# rest: a toy two-level hierarchy.
_GROUP = np.array([0, 1, 2, 2, 1, 2, 0, 1, 0, 0])
DIGIT_SIM = np.where(_GROUP[:, None] == _GROUP[None, :], 0.5, 0.0)
np.fill_diagonal(DIGIT_SIM, 1.0)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # On a shared, oversubscribed machine multi-threaded BLAS made each ITQ
    # fit here ~40x slower (3 s instead of 0.08 s).
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:900], y[:900]


def test_grid_search_picks_the_bits_that_score_higher(digits):
    X, y = digits
    pipe = Pipeline([("scale", MinMaxScaler()),
                     ("hash", ITQHasher(random_state=0))])
    search = GridSearchCV(pipe, {"hash__bits": [2, 24]}, scoring=map_scorer(k=50),
                          cv=StratifiedKFold(2))
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] + 0.1
    assert search.best_params_ == {"hash__bits": 24}
    assert search.best_score_ == scores.max()


def test_multi_metric_scoring(digits):
    X, y = digits
    scoring = {
        "map": map_scorer(k=50),
        "mahp": mahp_scorer(DIGIT_SIM, k=50),
        "p_at_10": make_retrieval_scorer("precision_at_k", k=10),
        "ndcg": make_retrieval_scorer("ndcg", k=20, similarity=DIGIT_SIM),
        "p_at_r2": make_retrieval_scorer("precision_at_radius", radius=2),
    }
    search = GridSearchCV(ITQHasher(random_state=0), {"bits": [8, 16]},
                          scoring=scoring, refit="mahp", cv=StratifiedKFold(2))
    search.fit(X, y)
    for name in scoring:
        values = search.cv_results_[f"mean_test_{name}"]
        assert np.all((values > 0) & (values <= 1)), name
    assert search.best_index_ == np.argmax(search.cv_results_["mean_test_mahp"])


def test_cross_val_score_is_leave_one_out_inside_each_fold(digits):
    X, y = digits
    cv = StratifiedKFold(3)
    hasher = ITQHasher(bits=16, random_state=0)
    scores = cross_val_score(hasher, X, y, scoring=map_scorer(k=30), cv=cv)
    for score, (train, test) in zip(scores, cv.split(X, y), strict=True):
        codes = clone(hasher).fit(X[train]).transform(X[test])
        expected = mean_average_precision(codes, codes, y[test], y[test], k=30,
                                          exclude_self=True)
        assert score == pytest.approx(expected, abs=1e-14)
        # Self-retrieval would inflate the score: the query's own code is at
        # distance 0.
        assert score < mean_average_precision(codes, codes, y[test], y[test], k=30)


def test_scorer_values_and_pickling(digits):
    X, y = digits
    hasher = ITQHasher(bits=16, random_state=0).fit(X[:600])
    codes = hasher.transform(X[600:])
    scorer = mahp_scorer(DIGIT_SIM, k=40, ties="pessimistic")
    expected = mean_average_hierarchical_precision(
        codes, codes, y[600:], y[600:], similarity=DIGIT_SIM, k=40,
        ties="pessimistic", exclude_self=True)
    assert scorer(hasher, X[600:], y[600:]) == pytest.approx(expected, abs=1e-14)
    again = pickle.loads(pickle.dumps(scorer))
    assert again(hasher, X[600:], y[600:]) == scorer(hasher, X[600:], y[600:])
    assert "mahp" in repr(scorer) and "k=40" in repr(scorer)
    recall = make_retrieval_scorer("recall_at_radius", radius=3)
    assert recall(hasher, X[600:], y[600:]) == pytest.approx(precision_recall_at_radius(
        codes, codes, y[600:], y[600:], radius=3, exclude_self=True)[1])


def test_float_embeddings_need_an_explicit_metric(digits):
    X, y = digits
    pca = PCA(n_components=8).fit(X)
    with pytest.raises(ValueError, match="pass metric='euclidean' or metric='cosine'"):
        map_scorer()(pca, X[:100], y[:100])
    value = map_scorer(k=20, metric="cosine")(pca, X[:100], y[:100])
    Z = pca.transform(X[:100])
    assert value == pytest.approx(mean_average_precision(
        Z, Z, y[:100], y[:100], k=20, metric="cosine", exclude_self=True))


def test_custom_metric_callable(digits):
    X, y = digits
    hasher = ITQHasher(bits=8, random_state=0).fit(X)
    calls = []

    def hits_at_one(q, db, yq, yd, exclude_self):
        calls.append(exclude_self)
        return mean_average_precision(q, db, yq, yd, k=1, exclude_self=exclude_self)

    value = make_retrieval_scorer(hits_at_one)(hasher, X[:200], y[:200])
    assert calls == [True] and 0 < value <= 1


def test_scorer_bad_input(digits):
    X, y = digits
    hasher = ITQHasher(bits=8, random_state=0).fit(X)
    with pytest.raises(ValueError, match="needs labels y"):
        map_scorer()(hasher, X[:50], None)
    with pytest.raises(ValueError, match="'metric' parameter of make_retrieval_sc"):
        make_retrieval_scorer("auc")
    with pytest.raises(ValueError, match="'metric' parameter .* Got 3 instead"):
        make_retrieval_scorer(3)
    with pytest.raises(ValueError, match="exclude_self is always True"):
        map_scorer(exclude_self=False)
    with pytest.raises(ValueError, match="'k' parameter of mean_average_precision"):
        map_scorer(k=0)(hasher, X[:50], y[:50])


def test_metrics_do_not_import_torch():
    code = ("import sys, sklhash.metrics; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
