"""Retrieval scorers for ``GridSearchCV``, ``cross_val_score`` and friends.

A hasher is a transformer, so scikit-learn's ``make_scorer`` (built around
``predict`` / ``predict_proba``) does not fit it. These scorers are plain
callables ``scorer(estimator, X, y)``: they encode the held-out fold with
``estimator.transform`` and run leave-one-out retrieval inside it (each item
queries all the others), so no training item is ever used as the database.
"""

import numpy as np

from sklhash.utils._sklearn_compat import StrOptions, validate_params

from ._hierarchical import mean_average_hierarchical_precision
from ._ranking import (
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_recall_at_radius,
)

__all__ = ["make_retrieval_scorer", "map_scorer", "mahp_scorer"]


def _precision_at_radius(*args, **kwargs):
    return precision_recall_at_radius(*args, **kwargs)[0]


def _recall_at_radius(*args, **kwargs):
    return precision_recall_at_radius(*args, **kwargs)[1]


_METRICS = {
    "map": mean_average_precision,
    "mahp": mean_average_hierarchical_precision,
    "precision_at_k": precision_at_k,
    "ndcg": ndcg_at_k,
    "precision_at_radius": _precision_at_radius,
    "recall_at_radius": _recall_at_radius,
}


class _RetrievalScorer:
    """Picklable ``scorer(estimator, X, y)`` running leave-one-out retrieval."""

    def __init__(self, metric, name, kwargs):
        self._metric = metric
        self._name = name
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        if y is None:
            raise ValueError(
                f"The {self._name} scorer needs labels y to decide relevance, got "
                "y=None."
            )
        codes = estimator.transform(X)
        kwargs = dict(self._kwargs)
        if "metric" not in kwargs and np.asarray(codes).dtype != np.uint8:
            raise ValueError(
                f"The {self._name} scorer got {np.asarray(codes).dtype} output from "
                f"{type(estimator).__name__}.transform, not packed uint8 codes; pass "
                "metric='euclidean' or metric='cosine' to the scorer for float "
                "embeddings."
            )
        return float(self._metric(codes, codes, y, y, exclude_self=True, **kwargs))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"make_retrieval_scorer({self._name!r}{', ' if args else ''}{args})"


@validate_params(
    {"metric": [StrOptions(set(_METRICS)), callable]},
    prefer_skip_nested_validation=True,
)
def make_retrieval_scorer(metric, /, **kwargs):
    """Make a scorer ``scorer(estimator, X, y)`` from a retrieval metric.

    The scorer encodes ``X`` with ``estimator.transform`` and evaluates
    leave-one-out retrieval inside ``X``: each item queries all the others,
    with ``y`` as labels. Higher is better, as scikit-learn expects. Use it as
    ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV` (alone or
    in a dict of scorers) or :func:`~sklearn.model_selection.cross_val_score`.

    Each held-out fold is its own database, so its score depends on the fold
    size and class balance: pass a stratified splitter (e.g.
    ``cv=StratifiedKFold(5)``) for class-labelled data, so that every fold
    holds every class in proportion. (scikit-learn only stratifies
    ``cv=<int>`` for classifiers, and hashers are transformers.)

    Parameters
    ----------
    metric : str or callable
        ``"map"``, ``"mahp"``, ``"precision_at_k"``, ``"ndcg"``,
        ``"precision_at_radius"``, ``"recall_at_radius"``, or a callable
        ``metric(query_codes, db_codes, query_labels, db_labels,
        exclude_self=True, **kwargs)`` returning a float.
    **kwargs
        Keyword arguments of the metric (``k``, ``ties``, ``similarity``,
        ``metric="cosine"`` for float embeddings, ...).

    Returns
    -------
    callable
        A scorer ``scorer(estimator, X, y) -> float``.

    See Also
    --------
    map_scorer : Shortcut for mAP.
    mahp_scorer : Shortcut for mAHP.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import LSHHasher
    >>> from sklhash.metrics import make_retrieval_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> scorer = make_retrieval_scorer("precision_at_k", k=10)
    >>> hasher = LSHHasher(bits=16, random_state=0).fit(X[:500])
    >>> 0.5 < scorer(hasher, X[500:900], y[500:900]) <= 1
    True
    """
    if isinstance(metric, str):
        func, name = _METRICS[metric], metric
    else:
        func, name = metric, getattr(metric, "__name__", "custom")
    if "exclude_self" in kwargs:
        raise ValueError(
            "exclude_self is always True in a retrieval scorer (leave-one-out "
            "retrieval inside the fold); do not pass it."
        )
    return _RetrievalScorer(func, name, kwargs)


def map_scorer(k=None, **kwargs):
    """Scorer for mean average precision at ``k`` (leave-one-out in the fold).

    Parameters
    ----------
    k : int, default=None
        Cut-off; ``None`` ranks the whole fold.
    **kwargs
        Other arguments of :func:`mean_average_precision` (``ties``,
        ``normalize``, ``relevance``, ``metric``).

    Returns
    -------
    callable
        A scorer ``scorer(estimator, X, y) -> float``; see
        :func:`make_retrieval_scorer` (and pass a stratified splitter).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import StratifiedKFold, cross_val_score
    >>> from sklhash import LSHHasher
    >>> from sklhash.metrics import map_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> scores = cross_val_score(LSHHasher(bits=16, random_state=0), X[:600], y[:600],
    ...                          scoring=map_scorer(k=50), cv=StratifiedKFold(3))
    >>> scores.shape
    (3,)
    """
    return make_retrieval_scorer("map", k=k, **kwargs)


def mahp_scorer(similarity, k=250, **kwargs):
    """Scorer for mean average hierarchical precision (leave-one-out in the fold).

    Parameters
    ----------
    similarity : ndarray of shape (n_classes, n_classes) or object
        Class similarity matrix indexed by integer labels, or an object with
        ``similarity_matrix(labels)`` such as
        :class:`sklhash.similarity.LabelHierarchy`.
    k : int, default=250
        ``K`` of mAHP@K.
    **kwargs
        Other arguments of :func:`mean_average_hierarchical_precision`
        (``ties``, ``metric``).

    Returns
    -------
    callable
        A scorer ``scorer(estimator, X, y) -> float``; see
        :func:`make_retrieval_scorer` (and pass a stratified splitter).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import LSHHasher
    >>> from sklhash.metrics import mahp_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> S = np.where(np.arange(10)[:, None] == np.arange(10), 1.0, 0.2)
    >>> hasher = LSHHasher(bits=16, random_state=0).fit(X[:500])
    >>> 0 < mahp_scorer(S, k=50)(hasher, X[500:900], y[500:900]) <= 1
    True
    """
    return make_retrieval_scorer("mahp", similarity=similarity, k=k, **kwargs)
