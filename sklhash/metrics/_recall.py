"""Neighbour recall: how many of the exact float neighbours the codes find.

Binary codes of embeddings are judged by how well they stand in for the
floats, and no labels are needed for that: the reference is the exact top-k
of each query among the float embeddings (cosine or Euclidean), and the
score is the fraction of it found in the top-k of the codes' ranking.

The codes' ranking is the Hamming ranking of packed codes, or the
asymmetric ranking of a float query's projected values against the stored
bits (:func:`sklhash.neighbors.asymmetric_distances`). With rescoring, the
``ceil(rescore * k)`` best candidates of that ranking are re-ranked by the
float distance and the top ``k`` kept. Because the reference *is* the float
top-k, every reference item among the candidates ends up in the re-ranked
top-k, so rescored recall is the number of reference items among the
candidates divided by ``k`` — which keeps the exact tie handling of
:mod:`sklhash.metrics` (``ties="average"``: expected value under a uniformly
random order inside each tie of the codes' ranking) for rescoring too.
"""

import math
from numbers import Integral, Real

import numpy as np

from sklhash.utils._sklearn_compat import StrOptions, validate_params

from ._common import (
    COUNT,
    TIES,
    Points,
    _Number,
    explicit_order,
    group_means,
    group_stats,
)

__all__ = ["exact_neighbors", "recall_at_k", "recall_scorer"]

_SEARCH = ("hamming", "asymmetric")


class _Ranked:
    """A float ranking (asymmetric distances) for the shared tie engine."""

    metric = "asymmetric"

    def __init__(self, n_query, n_db, exclude_self):
        self.n_query, self.n_db = n_query, n_db
        self.exclude_self = exclude_self
        self.n_eff = n_db - int(exclude_self)

    def self_columns(self, sl):
        return np.arange(sl.start, sl.stop)


def _reference_mask(dist, k, self_cols):
    """Boolean mask of the exact top ``k`` of each row, ties by index.

    The reference set must be one set of exactly ``k`` items; among float
    distances tied at the ``k``-th place the smaller database index is in.
    A partition finds the ``k``-th value (no full sort of each row).
    """
    dist = np.array(dist, dtype=np.float64, copy=True)
    rows = np.arange(dist.shape[0])
    if self_cols is not None:
        dist[rows, self_cols] = np.inf
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1:k]
    mask = dist < kth
    need = k - mask.sum(axis=1, keepdims=True)
    eq = dist == kth
    mask |= eq & (np.cumsum(eq, axis=1) <= need)
    return mask


def _check_reference(reference, n_q, n_db, k, exclude_self):
    ref = np.asarray(reference)
    if ref.shape != (n_q, k) or ref.dtype.kind not in "iu":
        raise ValueError(
            f"reference must be an int array of shape (n_queries, k) = "
            f"({n_q}, {k}), got dtype {ref.dtype} and shape {ref.shape}."
        )
    if ref.size and (ref.min() < 0 or ref.max() >= n_db):
        raise ValueError(
            f"reference must hold database indices 0..{n_db - 1}, got values "
            f"in {ref.min()}..{ref.max()}."
        )
    srt = np.sort(ref, axis=1)
    if (srt[:, 1:] == srt[:, :-1]).any():
        raise ValueError("reference rows must not repeat an index.")
    if exclude_self and (ref == np.arange(n_q)[:, None]).any():
        raise ValueError(
            "reference holds a query's own index while exclude_self=True."
        )
    return ref


def _check_float(X, name):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got shape {X.shape}.")
    if X.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold floats, got dtype {X.dtype}.")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{name} must be finite, got {X[tuple(bad)]!r} at {tuple(map(int, bad))}."
        )
    return X


def exact_neighbors(query_embeddings, db_embeddings, k=10, *, metric="cosine",
                    exclude_self=False, chunk_size=None):
    """Find the exact float top-``k`` of each query (ties by index).

    The reference of :func:`recall_at_k`, computed once so that many code
    rankings can be scored against it (pass it as ``reference=``).

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, dim)
        Float query embeddings.
    db_embeddings : array-like of shape (n_db, dim)
        Float database embeddings.
    k : int, default=10
        Neighbours.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance.
    exclude_self : bool, default=False
        Query ``i`` is database item ``i`` and is not its own neighbour.
    chunk_size : int, default=None
        Queries processed at once.

    Returns
    -------
    ndarray of shape (n_queries, k), int64
        Database indices of each query's ``k`` nearest items, in index order
        (a set, not a ranking).

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import exact_neighbors
    >>> emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> exact_neighbors(emb[:1], emb, k=2)
    array([[0, 1]])
    """
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}.")
    qe = _check_float(query_embeddings, "query_embeddings")
    de = _check_float(db_embeddings, "db_embeddings")
    points = Points(qe, de, metric, exclude_self)
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}.")
    if k > points.n_eff:
        raise ValueError(
            f"k={k} is larger than the {points.n_eff} database items each query "
            "ranks."
        )
    if chunk_size is None:
        chunk_size = max(1, (1 << 20) // points.n_db)
    out = np.empty((points.n_query, k), dtype=np.int64)
    for sl, fdist in points.chunks(chunk_size):
        self_cols = points.self_columns(sl) if exclude_self else None
        mask = _reference_mask(fdist, k, self_cols)
        out[sl] = np.nonzero(mask)[1].reshape(-1, k)
    return out


@validate_params(
    {
        "query_codes": ["array-like"],
        "db_codes": ["array-like"],
        "query_embeddings": ["array-like", None],
        "db_embeddings": ["array-like", None],
        "reference": ["array-like", None],
        "k": [COUNT],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "search": [StrOptions(set(_SEARCH))],
        "rescore": [_Number(Real, 1, None, closed="left"), None],
        "ties": [StrOptions(set(TIES))],
        "exclude_self": ["boolean"],
        "return_per_query": ["boolean"],
        "chunk_size": [COUNT, None],
    },
    prefer_skip_nested_validation=True,
)
def recall_at_k(
    query_codes,
    db_codes,
    query_embeddings=None,
    db_embeddings=None,
    *,
    reference=None,
    k=10,
    metric="cosine",
    search="hamming",
    rescore=None,
    ties="average",
    exclude_self=False,
    return_per_query=False,
    chunk_size=None,
):
    """Recall@k of the exact float neighbours in the codes' ranking.

    For each query, the reference is its ``k`` nearest database embeddings
    (``metric`` distance; at a tie for the ``k``-th place the smaller index
    is in). The score is the fraction of the reference found in the first
    ``k`` items of the codes' ranking — or, with ``rescore=f``, in the first
    ``ceil(f * k)`` items, which is exactly the recall@k of re-ranking those
    candidates by the float distance (see the module notes). ``k`` larger
    than the database is an error: the reference would not exist.

    Parameters
    ----------
    query_codes : ndarray
        ``search="hamming"``: packed ``uint8`` codes ``(n_queries, n_bytes)``.
        ``search="asymmetric"``: float query values ``(n_queries, n_bits)``
        (a hasher's ``decision_function``).
    db_codes : ndarray of shape (n_db, n_bytes), dtype uint8
        Packed database codes.
    query_embeddings : array-like of shape (n_queries, dim), default=None
        Float embeddings of the queries (the reference's metric space).
    db_embeddings : array-like of shape (n_db, dim), default=None
        Float embeddings of the database items.
    reference : array-like of shape (n_queries, k), default=None
        Precomputed reference sets (:func:`exact_neighbors`), instead of
        the embeddings: scoring many code rankings against one reference
        then costs no float search each time.
    k : int, default=10
        Neighbours; at most the number of database items a query ranks.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance of the reference neighbours (and of rescoring). Under
        ``"cosine"`` a zero vector has similarity 0 with everything (as in
        :func:`sklearn.metrics.pairwise.cosine_similarity`), so its reference
        is the first ``k`` items with the smallest index among those at
        distance 1 — a degenerate but defined result.
    search : {"hamming", "asymmetric"}, default="hamming"
        Ranking of the codes: Hamming distance between packed codes, or the
        asymmetric distance of float query values against the stored bits
        (``sum_i |v_i| [bit_i != (v_i > 0)]``).
    rescore : float >= 1, default=None
        Re-rank the ``ceil(rescore * k)`` best candidates by float distance.
    ties : {"average", "optimistic", "pessimistic", "index"}, default="average"
        Ties of the codes' ranking, as everywhere in :mod:`sklhash.metrics`;
        ``"index"`` is what :class:`~sklhash.neighbors.HammingIndex` returns.
    exclude_self : bool, default=False
        Query ``i`` is database item ``i``; it is left out of both rankings.
    return_per_query : bool, default=False
        Return one value per query instead of the mean.
    chunk_size : int, default=None
        Queries processed at once (memory ``O(chunk_size * n_db)``).

    Returns
    -------
    float or ndarray of shape (n_queries,)
        Mean recall in [0, 1], or the per-query values.

    See Also
    --------
    recall_scorer : The same as a label-free ``GridSearchCV`` scorer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import recall_at_k
    >>> emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.1]])
    >>> codes = np.array([[0], [0], [128], [64]], dtype=np.uint8)
    >>> float(recall_at_k(codes[:1], codes, emb[:1], emb, k=2))
    1.0
    """
    if search == "hamming":
        code_points = Points(query_codes, db_codes, "hamming", exclude_self)
        code_chunks = code_points.chunks
    else:
        from ..neighbors._rescore import asymmetric_distances, check_query_values

        values = check_query_values(query_codes, db_codes)
        code_points = _Ranked(values.shape[0], np.asarray(db_codes).shape[0],
                              exclude_self)

        def code_chunks(size):
            for start in range(0, values.shape[0], size):
                sl = slice(start, min(start + size, values.shape[0]))
                yield sl, asymmetric_distances(values[sl], db_codes)

    n_q, n_db = code_points.n_query, code_points.n_db
    n_eff = code_points.n_eff
    if reference is None:
        if query_embeddings is None or db_embeddings is None:
            raise ValueError(
                "recall_at_k needs query_embeddings and db_embeddings, or a "
                "precomputed reference."
            )
        ref_sets = None
        qe = _check_float(query_embeddings, "query_embeddings")
        de = _check_float(db_embeddings, "db_embeddings")
        if qe.shape[1] != de.shape[1]:
            raise ValueError(
                f"db_embeddings must have as many columns as query_embeddings, "
                f"got {de.shape[1]} and {qe.shape[1]}."
            )
        truth_points = Points(qe, de, metric, exclude_self)
        if (n_q, n_db) != (truth_points.n_query, truth_points.n_db):
            raise ValueError(
                "query_embeddings and db_embeddings must have one row per query "
                f"and per database code: codes give {n_q} queries x {n_db} "
                f"items, embeddings {truth_points.n_query} x {truth_points.n_db}."
            )
    if k > n_eff:
        raise ValueError(
            f"k={k} is larger than the {n_eff} database items each query ranks."
        )
    if reference is not None:
        ref_sets = _check_reference(reference, n_q, n_db, k, exclude_self)
    cut = k if rescore is None else min(math.ceil(rescore * k), n_eff)
    if chunk_size is None:
        chunk_size = max(1, (1 << 20) // n_db)
    out = np.empty(n_q)
    truth_chunks = None if ref_sets is not None else truth_points.chunks(chunk_size)
    for sl, dist in code_chunks(chunk_size):
        if ref_sets is None:
            # same chunk size, so the same query rows as the code chunk
            fdist = next(truth_chunks)[1]
            self_cols = truth_points.self_columns(sl) if exclude_self else None
            ref = _reference_mask(fdist, k, self_cols)
        else:
            ref = np.zeros((sl.stop - sl.start, n_db), dtype=bool)
            ref[np.arange(ref.shape[0])[:, None], ref_sets[sl]] = True
        if ties == "average":
            n, r = group_stats(code_points, sl, dist, ref, cut)
            before = np.cumsum(n, axis=1) - n
            m = np.clip(cut - before, 0, n)
            out[sl] = (group_means(n, r) * m).sum(axis=1) / k
        else:
            out[sl] = explicit_order(code_points, sl, dist, ref, ties, cut).sum(
                axis=1
            ) / k
    return out if return_per_query else float(out.mean())


class _RecallScorer:
    """Picklable label-free scorer ``scorer(estimator, X, y=None)``."""

    def __init__(self, kwargs):
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        emb = _check_float(X, "X")
        kwargs = dict(self._kwargs)
        if kwargs.get("search") == "asymmetric":
            codes = estimator.transform(X)
            queries = estimator.decision_function(X)
        else:
            codes = queries = estimator.transform(X)
        if np.asarray(codes).dtype != np.uint8:
            raise ValueError(
                f"recall_scorer needs packed uint8 codes from "
                f"{type(estimator).__name__}.transform, got "
                f"{np.asarray(codes).dtype}."
            )
        return float(
            recall_at_k(queries, codes, emb, emb, exclude_self=True, **kwargs)
        )

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"recall_scorer({args})"


def recall_scorer(
    k=10, *, metric="cosine", search="hamming", rescore=None, ties="average"
):
    """A label-free scorer: neighbour recall@k inside the held-out fold.

    ``scorer(estimator, X, y=None)`` encodes ``X`` with
    ``estimator.transform`` and scores leave-one-out retrieval inside ``X``
    with :func:`recall_at_k`, the reference being the exact float neighbours
    of the rows of ``X`` themselves. Use it to tune a binariser of
    embeddings by how well its codes keep their neighbours, without labels.

    Parameters
    ----------
    k : int, default=10
        Neighbours.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance of the reference neighbours.
    search : {"hamming", "asymmetric"}, default="hamming"
        Ranking of the codes; ``"asymmetric"`` uses the estimator's
        ``decision_function`` for the queries.
    rescore : float >= 1, default=None
        Rescoring factor (see :func:`recall_at_k`).
    ties : {"average", "optimistic", "pessimistic", "index"}, default="average"
        Tie handling.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, larger is better.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklhash import ITQHasher
    >>> from sklhash.metrics import recall_scorer
    >>> X = np.random.default_rng(0).normal(size=(200, 16))
    >>> gs = GridSearchCV(ITQHasher(random_state=0), {"bits": [4, 16]},
    ...                   scoring=recall_scorer(k=5), cv=2).fit(X)
    >>> gs.best_params_
    {'bits': 16}
    """
    for name, value in (("k", k),):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}.")
    if search not in _SEARCH:
        raise ValueError(f"search must be one of {_SEARCH}, got {search!r}.")
    if rescore is not None and (
        isinstance(rescore, bool) or not isinstance(rescore, Real) or not rescore >= 1
    ):
        raise ValueError(f"rescore must be None or a number >= 1, got {rescore!r}.")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}.")
    return _RecallScorer(
        {"k": k, "metric": metric, "search": search, "rescore": rescore, "ties": ties}
    )
