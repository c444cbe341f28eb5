"""Validation and the chunked ranking engine shared by every retrieval metric.

A retrieval metric ranks the database by distance to each query. Hamming
distances are small integers, so rankings are full of ties; this module turns
one chunk of queries at a time into either

* *group statistics* (``ties="average"``): for each query, the equal-distance
  groups in ascending distance order, with their size ``n`` and the sum of
  their relevance (or gains) ``r``. Codes are grouped by counting
  (``np.bincount`` on ``distance`` per query row), float distances by sorting
  each row once and cutting it where the value changes. The closed forms in
  :mod:`._ranking` and :mod:`._hierarchical` work on these sums.
* *explicit orders* (``"optimistic"``, ``"pessimistic"``, ``"index"``): one
  fixed permutation per query, with ties broken by relevance (best or worst
  first) or by database index (stable sort).

Memory is ``O(chunk_size * n_db)``: no ``n_query x n_db`` matrix is ever
allocated.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import check_array

from sklhash.utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

from ..codes import check_codes, hamming_distances

TIES = ("average", "optimistic", "pessimistic", "index")
METRICS = ("hamming", "euclidean", "cosine")

# Elements of one (chunk, n_db) temporary. Small chunks keep the temporaries
# in cache: at 60,000 database items, 4-query chunks ran about twice as fast
# as 34-query chunks (benchmarks/bench_metrics.py).
_CHUNK_ELEMENTS = 1 << 18


# --------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------


class _Number(Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` refusing bools.

    ``True`` is an ``Integral`` to Python, but ``k=True`` is a slip, not a
    cut-off of 1: nothing is silently coerced.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


COUNT = _Number(Integral, 1, None, closed="left")
RADIUS = _Number(Real, 0, None, closed="left")

# Constraints of the arguments every retrieval metric shares; each metric adds
# its own. Values that depend on the data (label lengths, code widths, label
# coverage) are checked where the data is read.
CONSTRAINTS = {
    "query_codes": ["array-like"],
    "db_codes": ["array-like"],
    "query_labels": ["array-like"],
    "db_labels": ["array-like"],
    "ties": [StrOptions(set(TIES))],
    "relevance": [callable, None],
    "similarity": ["array-like", HasMethods(["similarity_matrix"]), None],
    "metric": [StrOptions(set(METRICS))],
    "exclude_self": ["boolean"],
    "return_per_query": ["boolean"],
    "chunk_size": [COUNT, None],
}


def validate_metric_params(**extra):
    """``validate_params`` with the shared constraints plus ``extra``.

    scikit-learn's validation costs about 0.3 ms a call (measured in
    benchmarks/bench_metrics.py), negligible next to a ranking of any size.
    """
    return validate_params(
        {**CONSTRAINTS, **extra}, prefer_skip_nested_validation=True
    )


def _as_unit_rows(X):
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    # Zero rows get cosine similarity 0 with everything, as in
    # sklearn.metrics.pairwise.cosine_similarity.
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


class Points:
    """Validated query and database points with a chunked distance method.

    Parameters
    ----------
    query, db : array-like
        Packed ``uint8`` codes (``metric="hamming"``) or float embeddings.
    metric : {"hamming", "euclidean", "cosine"}
    exclude_self : bool
        Query ``i`` is database item ``i`` and is left out of its own ranking.
    """

    def __init__(self, query, db, metric, exclude_self):
        if not isinstance(metric, str) or metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
        self.metric = metric
        self.exclude_self = bool(exclude_self)
        if metric == "hamming":
            self.query = self._check_codes(query, "query_codes")
            self.db = self._check_codes(db, "db_codes")
            if self.query.shape[1] != self.db.shape[1]:
                raise ValueError(
                    "db_codes must have the same code width as query_codes, got "
                    f"{self.db.shape[1]} bytes per code in db_codes and "
                    f"{self.query.shape[1]} in query_codes."
                )
            self.max_distance = 8 * self.db.shape[1]
        else:
            q = check_array(query, dtype=np.float64, input_name="query_codes")
            d = check_array(db, dtype=np.float64, input_name="db_codes")
            if q.shape[1] != d.shape[1]:
                raise ValueError(
                    f"db_codes must have as many features as query_codes, got "
                    f"{d.shape[1]} and {q.shape[1]}."
                )
            if metric == "cosine":
                q, d = _as_unit_rows(q), _as_unit_rows(d)
            # Distances go to the distinct database rows only, then are copied
            # out: duplicated database vectors are then tied bit for bit,
            # whatever rounding the matrix product does row by row.
            self._unique_db, self._inverse = np.unique(d, axis=0, return_inverse=True)
            self._inverse = self._inverse.ravel()
            self._unique_sq = np.einsum("ij,ij->i", self._unique_db, self._unique_db)
            self.query, self.db = q, d
        if self.query.shape[0] < 1 or self.db.shape[0] < 1:
            raise ValueError(
                "query_codes and db_codes must each hold at least one row, got "
                f"{self.query.shape[0]} and {self.db.shape[0]}."
            )
        if self.exclude_self and self.query.shape[0] != self.db.shape[0]:
            raise ValueError(
                "exclude_self=True needs the queries to be the database itself, "
                f"got {self.query.shape[0]} queries and {self.db.shape[0]} "
                "database items."
            )
        self.n_query = self.query.shape[0]
        self.n_db = self.db.shape[0]
        # Items each query ranks.
        self.n_eff = self.n_db - int(self.exclude_self)
        if self.n_eff < 1:
            raise ValueError(
                "exclude_self=True needs at least two items, got one."
            )

    @staticmethod
    def _check_codes(codes, name):
        try:
            return check_codes(codes, input_name=name)
        except ValueError as exc:
            if np.asarray(codes).dtype.kind == "f":
                # The likely slip: float embeddings ranked as if they were codes.
                raise ValueError(
                    f"{exc} For float embeddings pass metric='euclidean' or "
                    "metric='cosine'."
                ) from exc
            raise

    def chunks(self, chunk_size=None):
        """Yield ``(slice, distances)`` for consecutive query chunks.

        Distances are int32 Hamming distances or float64 (squared Euclidean,
        which ranks like Euclidean, or ``1 - cosine``).
        """
        if chunk_size is None:
            # Float rows pay for a matrix product, which wants more rows at
            # once: 16-query chunks at 60,000 items ran ~1.6x faster than 4.
            elements = _CHUNK_ELEMENTS * (1 if self.metric == "hamming" else 4)
            chunk_size = max(1, elements // self.n_db)
        for start in range(0, self.n_query, chunk_size):
            sl = slice(start, min(start + chunk_size, self.n_query))
            if self.metric == "hamming":
                dist = hamming_distances(self.query[sl], self.db)
            else:
                q = self.query[sl]
                prod = q @ self._unique_db.T
                if self.metric == "cosine":
                    dist_u = 1.0 - prod
                else:
                    dist_u = np.einsum("ij,ij->i", q, q)[:, None] + self._unique_sq
                    dist_u -= 2.0 * prod
                    np.maximum(dist_u, 0.0, out=dist_u)
                dist = dist_u[:, self._inverse]
            yield sl, dist

    def self_columns(self, sl):
        """Database column of each query in ``sl`` (exclude_self only)."""
        return np.arange(sl.start, sl.stop)


# --------------------------------------------------------------------------
# Labels and relevance
# --------------------------------------------------------------------------


def _check_label_length(labels, n, name, codes_name):
    if len(labels) != n:
        raise ValueError(
            f"{name} has {len(labels)} entries but {codes_name} has {n} rows."
        )


def _check_finite_labels(labels, name):
    """Refuse NaN and infinite labels.

    NaN is no class: ``np.unique`` folds all NaNs into one "class", so NaN
    labels used to be relevant to each other and score mAP 1.0 (issue 17).
    """
    if labels.dtype.kind in "fc":
        bad = ~np.isfinite(labels)
    elif labels.dtype == object:
        bad = np.array(
            [isinstance(v, (float, complex, np.inexact)) and not np.isfinite(v)
             for v in labels.ravel()],
            dtype=bool,
        ).reshape(labels.shape)
    else:
        return
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite, got {labels[where]!r} at index "
            f"{where[0] if len(where) == 1 else where} ({int(bad.sum())} "
            "non-finite entries in all)."
        )


class Relevance:
    """Binary relevance between query and database items.

    Single labels: relevant when equal. A 2-d indicator matrix: relevant when
    the two rows share at least one label. A callable
    ``relevance(query_labels, db_labels)`` returning a ``(n_q, n_db)`` array
    (non-zero = relevant) is called once per query chunk.
    """

    def __init__(self, query_labels, db_labels, n_query, n_db, relevance=None):
        if relevance is not None and not callable(relevance):
            raise ValueError(
                f"relevance must be None or a callable, got {relevance!r}."
            )
        self.func = relevance
        if relevance is not None:
            ql = query_labels if hasattr(query_labels, "__len__") else None
            dl = db_labels if hasattr(db_labels, "__len__") else None
            if ql is None or dl is None:
                raise ValueError(
                    "query_labels and db_labels must be sequences (one entry per "
                    "item) when relevance is a callable."
                )
            _check_label_length(ql, n_query, "query_labels", "query_codes")
            _check_label_length(dl, n_db, "db_labels", "db_codes")
            self.query_labels, self.db_labels = ql, dl
            return
        ql, dl = np.asarray(query_labels), np.asarray(db_labels)
        if ql.ndim not in (1, 2) or ql.ndim != dl.ndim:
            raise ValueError(
                "query_labels and db_labels must both be 1-d class labels or both "
                "2-d label indicator matrices, got shapes "
                f"{ql.shape} and {dl.shape}."
            )
        _check_label_length(ql, n_query, "query_labels", "query_codes")
        _check_label_length(dl, n_db, "db_labels", "db_codes")
        _check_finite_labels(ql, "query_labels")
        _check_finite_labels(dl, "db_labels")
        if ql.ndim == 1:
            try:
                _, inv = np.unique(np.concatenate([ql, dl]), return_inverse=True)
            except TypeError as err:
                raise ValueError(
                    "query_labels and db_labels must be comparable labels of one "
                    f"type: {err}"
                ) from None
            inv = inv.ravel()
            self.query_labels, self.db_labels = inv[:n_query], inv[n_query:]
        else:
            if ql.shape[1] != dl.shape[1]:
                raise ValueError(
                    "query_labels and db_labels must have the same number of "
                    f"label columns, got {ql.shape[1]} and {dl.shape[1]}."
                )
            for arr, name in ((ql, "query_labels"), (dl, "db_labels")):
                if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                    raise ValueError(
                        f"{name} as a 2-d indicator matrix must be numeric or "
                        f"boolean, got dtype {arr.dtype}."
                    )
            # float32 counts shared labels exactly up to 2**24 labels.
            self.query_labels = (ql != 0).astype(np.float32)
            self.db_labels = (dl != 0).astype(np.float32)
        self.ndim = ql.ndim

    def __call__(self, sl):
        """Boolean ``(len(sl), n_db)`` relevance of a query chunk."""
        if self.func is not None:
            rel = np.asarray(self.func(self.query_labels[sl], self.db_labels))
            expected = (sl.stop - sl.start, len(self.db_labels))
            if rel.shape != expected:
                raise ValueError(
                    f"relevance returned an array of shape {rel.shape}, expected "
                    f"{expected} (query chunk x database)."
                )
            if rel.dtype.kind in "fc" and not np.isfinite(rel).all():
                # NaN != 0 would count as relevant.
                raise ValueError(
                    "relevance returned NaN or infinite values; it must return "
                    "finite numbers (non-zero = relevant) or booleans."
                )
            return rel != 0
        if self.ndim == 1:
            return self.query_labels[sl, None] == self.db_labels[None, :]
        return (self.query_labels[sl] @ self.db_labels.T) > 0


# --------------------------------------------------------------------------
# Rankings of one chunk
# --------------------------------------------------------------------------


class ClassGains:
    """Gains of a query chunk, kept factored: ``rows[:, db_classes]``.

    ``rows`` is ``(c, n_classes)`` (each query's similarity row), so the
    ``(c, n_db)`` gain matrix need not be gathered when counting per
    (distance, class) suffices.
    """

    def __init__(self, rows, db_classes):
        self.rows = rows
        self.db_classes = db_classes

    def dense(self):
        return self.rows[:, self.db_classes]


def _dense(values):
    return values.dense() if isinstance(values, ClassGains) else values


def group_stats(points, sl, dist, values, k=None):
    """Equal-distance groups of each query row, in ascending distance.

    Parameters
    ----------
    points : Points
    sl : slice
        Query rows of this chunk.
    dist : ndarray of shape (c, n_db)
        Distances of the chunk.
    values : ndarray of shape (c, n_db) or ClassGains
        Relevance (bool) or gains (float) of every database item.
    k : int, default=None
        Only ranks ``1..k`` are scored. For float distances with ``k`` below
        the database size, only the top ``k`` are sorted; the group holding
        rank ``k`` keeps its full size and sum, and everything after it is
        one last group (it only counts towards the totals).

    Returns
    -------
    n : ndarray of shape (c, G), int64
        Items in each group (0 for empty groups, which contribute nothing).
    r : ndarray of shape (c, G), float64
        Sum of ``values`` over each group.
    """
    c = dist.shape[0]
    if points.metric == "hamming":
        # Distances are 0..max_distance: group by counting each (distance,
        # level) pair, where the level is the relevance bit or the database
        # item's class. The query's own column (exclude_self) goes to one
        # extra, dropped group.
        n_groups = points.max_distance + 2
        if isinstance(values, ClassGains):
            n_levels = values.rows.shape[1]
            if n_groups * n_levels > 4 * points.n_db:
                # Too many classes to count per class: weigh each item.
                values = values.dense()
        else:
            n_levels = 2
        # int32 keys, one bincount per query row: measured faster than one
        # bincount over row-offset int64 keys (less memory traffic).
        if isinstance(values, ClassGains):
            key = dist * np.int32(n_levels)
            key += values.db_classes.astype(np.int32)
        elif values.dtype == bool:
            key = dist * np.int32(2)
            key += values
        else:
            n_levels = 1
            key = dist.astype(np.int32)
        if points.exclude_self:
            key[np.arange(c), points.self_columns(sl)] = (n_groups - 1) * n_levels
        size = n_groups * n_levels
        if n_levels == 1:
            n = np.empty((c, n_groups), dtype=np.intp)
            r = np.empty((c, n_groups))
            for i in range(c):
                n[i] = np.bincount(key[i], minlength=size)
                r[i] = np.bincount(key[i], weights=values[i], minlength=size)
        else:
            hist = np.empty((c, size), dtype=np.intp)
            for i in range(c):
                hist[i] = np.bincount(key[i], minlength=size)
            hist = hist.reshape(c, n_groups, n_levels)
            n = hist.sum(axis=2)
            if isinstance(values, ClassGains):
                r = np.einsum("qgl,ql->qg", hist.astype(np.float64), values.rows)
            else:
                r = hist[:, :, 1].astype(np.float64)
        return n[:, :-1], r[:, :-1]
    # Float distances: sort each row and cut where the value changes.
    values = _dense(values)
    if points.exclude_self:
        dist = dist.copy()
        dist[np.arange(c), points.self_columns(sl)] = np.inf
    m = points.n_eff if k is None or k >= points.n_eff else k
    if m < points.n_eff:
        top = np.argpartition(dist, m - 1, axis=1)[:, :m]
        sd = np.take_along_axis(dist, top, axis=1)
        order = np.argsort(sd, axis=1)
        sd = np.take_along_axis(sd, order, axis=1)
        sv = np.take_along_axis(np.take_along_axis(values, top, axis=1), order, axis=1)
    else:
        order = np.argsort(dist, axis=1)[:, :m]
        sd = np.take_along_axis(dist, order, axis=1)
        sv = np.take_along_axis(values, order, axis=1)
    gid = np.zeros((c, m), dtype=np.intp)
    np.cumsum(sd[:, 1:] != sd[:, :-1], axis=1, out=gid[:, 1:])
    last = gid[:, -1].copy()
    gid += (np.arange(c, dtype=np.intp) * m)[:, None]
    gid = gid.ravel()
    n = np.bincount(gid, minlength=c * m).reshape(c, m)
    r = np.bincount(gid, weights=sv.ravel().astype(np.float64), minlength=c * m)
    r = r.reshape(c, m)
    if m == points.n_eff:
        return n, r
    # The partition picked an arbitrary part of the tie at rank k: give that
    # group its full size and sum, and put the rest of the row in one group.
    rows = np.arange(c)
    tie = dist == sd[:, -1:]
    n[rows, last] = tie.sum(axis=1)
    r[rows, last] = np.where(tie, values, 0).sum(axis=1)
    total = values.sum(axis=1, dtype=np.float64)
    if points.exclude_self:
        total -= values[rows, points.self_columns(sl)]
    n_rest = points.n_eff - n.sum(axis=1)
    r_rest = total - r.sum(axis=1)
    return np.column_stack([n, n_rest]), np.column_stack([r, r_rest])


def explicit_order(points, sl, dist, values, ties, k):
    """``values`` of each query row in ranked order, truncated to ``k``.

    ``ties="index"`` keeps database order inside a tie (stable sort);
    ``"optimistic"`` puts the largest values first inside a tie,
    ``"pessimistic"`` the smallest.
    """
    values = _dense(values)
    c = dist.shape[0]
    if points.exclude_self:
        dist = dist.copy()
        # Past every real distance, so the query itself ranks last and is cut.
        far = points.max_distance + 1 if points.metric == "hamming" else np.inf
        dist[np.arange(c), points.self_columns(sl)] = far
    if ties == "index":
        order = np.argsort(dist, axis=1, kind="stable")
    else:
        v = values.astype(np.int8) if values.dtype == bool else values
        tie_key = -v if ties == "optimistic" else v
        order = np.lexsort((tie_key, dist), axis=1)
    order = order[:, :k]
    return np.take_along_axis(values, order, axis=1)


def harmonic_numbers(n):
    """``H[i] = sum_{j<=i} 1/j`` for ``i = 0..n`` (``H[0] = 0``)."""
    h = np.zeros(n + 1)
    np.cumsum(1.0 / np.arange(1, n + 1), out=h[1:])
    return h


def expected_sequence(n, mean, k):
    """Per-position expected values of the first ``k`` ranks.

    With uniformly random order inside each group, every position of a group
    has the group's mean value in expectation; so each row becomes
    ``mean[g]`` repeated ``min(n[g], k - items before g)`` times.
    """
    before = np.cumsum(n, axis=1) - n
    m = np.clip(k - before, 0, n)
    seq = np.repeat(mean.ravel(), m.ravel())
    return seq.reshape(n.shape[0], k)


def group_means(n, r):
    return np.divide(r, n, out=np.zeros_like(r), where=n > 0)


# --------------------------------------------------------------------------
# Graded relevance from a class-level similarity
# --------------------------------------------------------------------------


class Gains:
    """Graded relevance ``S[y_query, y_db]`` from a class x class similarity.

    ``similarity`` is a square matrix indexed by integer class labels, or any
    object with a ``similarity_matrix(labels)`` method (e.g.
    :class:`sklhash.similarity.LabelHierarchy`), which is asked for the
    matrix over the sorted distinct labels present.
    """

    def __init__(self, similarity, query_labels, db_labels, n_query, n_db):
        ql, dl = np.asarray(query_labels), np.asarray(db_labels)
        if ql.ndim != 1 or dl.ndim != 1:
            raise ValueError(
                "query_labels and db_labels must be 1-d class labels for a "
                f"class-level similarity, got shapes {ql.shape} and {dl.shape}."
            )
        _check_label_length(ql, n_query, "query_labels", "query_codes")
        _check_label_length(dl, n_db, "db_labels", "db_codes")
        _check_finite_labels(ql, "query_labels")
        _check_finite_labels(dl, "db_labels")
        if hasattr(similarity, "similarity_matrix"):
            try:
                classes = np.unique(np.concatenate([ql, dl]))
            except TypeError as err:
                raise ValueError(
                    "query_labels and db_labels must be comparable labels of one "
                    f"type: {err}"
                ) from None
            try:
                S = similarity.similarity_matrix(classes.tolist())
            except (KeyError, ValueError) as err:
                raise ValueError(
                    f"similarity does not cover the labels: {err}"
                ) from err
            S = np.asarray(S, dtype=np.float64)
            if S.shape != (len(classes), len(classes)):
                raise ValueError(
                    "similarity.similarity_matrix(labels) must return a "
                    f"({len(classes)}, {len(classes)}) matrix for {len(classes)} "
                    f"labels, got shape {S.shape}."
                )
            self.query_classes = np.searchsorted(classes, ql)
            self.db_classes = np.searchsorted(classes, dl)
        else:
            try:
                S = np.asarray(similarity, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    "similarity must be a class x class matrix or an object with "
                    f"a similarity_matrix method, got {type(similarity).__name__}."
                ) from None
            if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] == 0:
                raise ValueError(
                    "similarity must be a square class x class matrix, got shape "
                    f"{S.shape}."
                )
            n_classes = S.shape[0]
            for arr, name in ((ql, "query_labels"), (dl, "db_labels")):
                if not np.issubdtype(arr.dtype, np.integer):
                    raise ValueError(
                        f"similarity is a {n_classes}x{n_classes} matrix, so "
                        f"{name} must be integer class indices, got dtype "
                        f"{arr.dtype}."
                    )
                bad = arr[(arr < 0) | (arr >= n_classes)]
                if bad.size:
                    raise ValueError(
                        f"similarity is a {n_classes}x{n_classes} matrix and does "
                        f"not cover label {bad[0].item()!r} in {name}: labels "
                        f"must be in [0, {n_classes})."
                    )
            self.query_classes = ql.astype(np.intp)
            self.db_classes = dl.astype(np.intp)
        if not np.all(np.isfinite(S)) or (S < 0).any():
            bad = np.argwhere(~np.isfinite(S) | ~(S >= 0))[0]
            raise ValueError(
                "similarity must hold finite, non-negative values, got "
                f"{S[tuple(bad)]!r} at {tuple(int(i) for i in bad)}."
            )
        self.S = S
        self.n_classes = S.shape[0]

    def __call__(self, sl):
        """Gains of a query chunk (see :class:`ClassGains`)."""
        return ClassGains(self.S[self.query_classes[sl]], self.db_classes)

    def ideal(self, k, exclude_self, weights=None):
        """Cumulative ideal gains, one row per class: ``(n_classes, k)``.

        The ideal ordering sorts the database by gain; it depends on the query
        only through its class (and, with ``exclude_self``, on the query's
        own item being missing from its class). ``weights`` (length ``k``)
        discounts each position, as NDCG does.
        """
        counts = np.bincount(self.db_classes, minlength=self.n_classes)
        out = np.zeros((self.n_classes, k))
        for a in np.unique(self.query_classes):
            cnt = counts.copy()
            if exclude_self:
                cnt[a] -= 1
            order = np.argsort(-self.S[a], kind="stable")
            cnt = cnt[order]
            taken = np.clip(k - (np.cumsum(cnt) - cnt), 0, cnt)
            seq = np.repeat(self.S[a, order], taken)
            if weights is not None:
                seq = seq * weights[: len(seq)]
            out[a, : len(seq)] = np.cumsum(seq)
            out[a, len(seq):] = out[a, len(seq) - 1] if len(seq) else 0.0
        return out
