"""Binary-relevance retrieval metrics with exact tie handling.

Every function ranks the database by distance to each query (Hamming
distance on packed codes, or Euclidean / cosine distance on float
embeddings) and scores that ranking. Ties are handled by ``ties``:

``"average"`` (default)
    The exact expected value under a uniformly random order inside each
    group of equal distances (McSherry & Najork, 2008). For a group at
    positions ``s+1 .. s+n`` holding ``r`` relevant items, with ``c``
    relevant items ranked before it, position ``p = s + j`` has
    ``E[rel_p] = r/n`` and
    ``E[rel_p * hits_p] = (r/n) * (c + 1 + (j - 1)(r - 1)/(n - 1))``.
    Summing ``E[rel_p hits_p] / p`` over a group reduces to harmonic numbers,
    so the cost is per group, not per item.
``"optimistic"`` / ``"pessimistic"``
    Relevant items first / last inside each tie: upper and lower bounds.
``"index"``
    Ties in database order (a stable sort); what most published code does
    (with an unstable sort, even that order is arbitrary).

Memory is ``O(chunk_size * n_db)``: queries are processed in chunks.
"""

import numpy as np
from scipy.special import gammaln

from sklhash.utils._sklearn_compat import StrOptions

from ._common import (
    COUNT,
    RADIUS,
    Gains,
    Points,
    Relevance,
    explicit_order,
    group_means,
    group_stats,
    harmonic_numbers,
    validate_metric_params,
)

__all__ = [
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_at_radius",
    "precision_recall_curve",
    "ndcg_at_k",
]

_NORMALIZE = ("relevant", "retrieved")


def _self_relevance(points, sl, rel):
    """Relevance of each query to itself (0 unless exclude_self)."""
    if not points.exclude_self:
        return 0
    rows = np.arange(rel.shape[0])
    return rel[rows, points.self_columns(sl)]


def _ap_explicit(seq, n_relevant, k, normalize):
    """AP@k of fixed rankings: ``seq`` is the (c, k) relevance in rank order."""
    hits = np.cumsum(seq, axis=1)
    num = (seq * hits / np.arange(1, k + 1)).sum(axis=1)
    den = np.minimum(n_relevant, k) if normalize == "relevant" else hits[:, -1]
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def _ap_group_terms(n, r, k, H):
    """Expected ``sum_{p in group, p <= k} rel_p * hits_p / p`` per group."""
    before = np.cumsum(n, axis=1) - n
    rel_before = np.cumsum(r, axis=1) - r
    m = np.clip(k - before, 0, n)
    dH = H[before + m] - H[before]
    frac = group_means(n, r)
    nf = n.astype(np.float64)
    # For a single-item group the ratio multiplies m - (s+1) dH = 0, so any
    # value is exact; 1 keeps an all-relevant ranking at exactly AP = 1.
    ratio = np.divide(r - 1.0, nf - 1.0, out=np.ones_like(r), where=n > 1)
    # sum_{j<=m} 1/(s+j) = dH and sum_{j<=m} (j-1)/(s+j) = m - (s+1) dH.
    # Grouped so that an all-relevant group after all-relevant ranks gives
    # exactly m (no cancellation between the two harmonic terms).
    terms = frac * (ratio * m + ((rel_before + 1.0) - ratio * (before + 1.0)) * dH)
    return terms, before, rel_before, m


def _ap_average(n, r, k, H, normalize):
    terms, before, rel_before, m = _ap_group_terms(n, r, k, H)
    if normalize == "relevant":
        den = np.minimum(r.sum(axis=1), k)
        return np.divide(terms.sum(axis=1), den, out=np.zeros(len(n)), where=den > 0)
    return _ap_average_retrieved(n, r, k, H, terms, before, rel_before, m)


def _log_comb(a, b):
    return gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(a - b + 1.0)


def _ap_average_retrieved(n, r, k, H, terms, before, rel_before, m):
    """Exact E[numerator / hits in top k] under random order within ties.

    Only the group cut by ``k`` (if any) makes the number of hits random: it
    is hypergeometric. Given ``x`` relevant items among the group's first
    ``m`` positions, those ``x`` are uniformly placed there, so the
    conditional numerator is the closed form of a group of ``m`` items with
    ``x`` relevant.
    """
    full = (m == n) & (n > 0)
    A = np.where(full, terms, 0.0).sum(axis=1)
    hits_full = np.where(full, r, 0.0).sum(axis=1)
    out = np.divide(A, hits_full, out=np.zeros(len(n)), where=hits_full > 0)
    cut = (m > 0) & (m < n)
    rows = np.flatnonzero(cut.any(axis=1))
    if rows.size == 0:
        return out
    g = cut[rows].argmax(axis=1)
    nb = n[rows, g].astype(np.float64)
    rb = r[rows, g]
    mb = m[rows, g].astype(np.float64)
    sb = before[rows, g]
    cb = rel_before[rows, g]
    x = np.arange(int(np.minimum(rb, mb).max()) + 1, dtype=np.float64)[None, :]
    lo = np.maximum(0.0, mb - (nb - rb))[:, None]
    hi = np.minimum(rb, mb)[:, None]
    valid = (x >= lo) & (x <= hi)
    xs = np.where(valid, x, lo)
    log_pmf = (
        _log_comb(rb[:, None], xs)
        + _log_comb((nb - rb)[:, None], mb[:, None] - xs)
        - _log_comb(nb, mb)[:, None]
    )
    pmf = np.where(valid, np.exp(log_pmf), 0.0)
    dH = (H[sb + m[rows, g]] - H[sb])[:, None]
    ratio = np.divide(
        xs - 1.0, mb[:, None] - 1.0, out=np.zeros_like(xs), where=mb[:, None] > 1
    )
    within = (xs / mb[:, None]) * (
        (cb[:, None] + 1.0) * dH + ratio * (mb[:, None] - (sb[:, None] + 1.0) * dH)
    )
    den = cb[:, None] + xs
    val = np.divide(A[rows, None] + within, den, out=np.zeros_like(xs), where=den > 0)
    out[rows] = (pmf * val).sum(axis=1)
    return out


@validate_metric_params(
    k=[COUNT, None], normalize=[StrOptions(set(_NORMALIZE))]
)
def mean_average_precision(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    k=None,
    ties="average",
    normalize="relevant",
    relevance=None,
    metric="hamming",
    exclude_self=False,
    return_per_query=False,
    chunk_size=None,
):
    """Mean average precision at ``k`` of a ranking by distance.

    For one query, with ``R`` relevant items in the database and ``rel_p``,
    ``hits_p`` the relevance of rank ``p`` and the number of relevant items in
    ranks ``1..p``::

        AP@k = (1 / min(R, k)) * sum_{p <= k} rel_p * hits_p / p

    A query with ``R = 0`` scores 0 and stays in the mean. mAP is the mean
    over queries. See the module docstring for ``ties``.

    Parameters
    ----------
    query_codes : ndarray of shape (n_queries, n_bytes)
        Packed ``uint8`` query codes (from ``transform``), or float embeddings
        with ``metric="euclidean"`` or ``"cosine"``.
    db_codes : ndarray of shape (n_db, n_bytes)
        Database codes (or embeddings), same width as ``query_codes``.
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels, or a label indicator matrix (multi-label: relevant when
        at least one label is shared).
    db_labels : array-like of shape (n_db,) or (n_db, n_labels)
        Labels of the database items, in the same form.
    k : int, default=None
        Cut-off; ``None`` ranks the whole database. Values above the
        database size mean the whole database.
    ties : {"average", "optimistic", "pessimistic", "index"}, default="average"
        How equal distances are ordered; ``"average"`` is the exact expected
        value over random orders inside each tie.
    normalize : {"relevant", "retrieved"}, default="relevant"
        ``"relevant"`` divides by ``min(R, k)`` (the definition above).
        ``"retrieved"`` divides by the number of relevant items found in the
        top ``k``, the convention of DeepHash-pytorch's ``CalcTopMap`` and of
        most deep-hashing papers; it gives much larger values. With
        ``ties="average"`` it is the exact expectation of that ratio.
    relevance : callable, default=None
        ``relevance(query_labels_chunk, db_labels)`` returning an
        ``(n_chunk, n_db)`` array, non-zero where relevant; overrides the
        label rule. Called once per query chunk.
    metric : {"hamming", "euclidean", "cosine"}, default="hamming"
        Distance that ranks the database.
    exclude_self : bool, default=False
        The queries are the database itself (same rows, same order): each
        item queries all the others (leave-one-out).
    return_per_query : bool, default=False
        Return the per-query AP instead of the mean.
    chunk_size : int, default=None
        Queries processed at once (memory ``O(chunk_size * n_db)``);
        ``None`` picks one.

    Returns
    -------
    float or ndarray of shape (n_queries,)
        The mAP@k in [0, 1], or the per-query values.

    See Also
    --------
    precision_at_k : Fraction of relevant items in the top ``k``.
    mean_average_hierarchical_precision : Graded relevance from a hierarchy.

    References
    ----------
    .. [1] F. McSherry and M. Najork, "Computing information retrieval
       performance measures efficiently in the presence of tied scores",
       ECIR 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import mean_average_precision
    >>> db = np.array([[0b0000], [0b0001], [0b0001], [0b1111]], dtype=np.uint8)
    >>> q = np.array([[0b0000]], dtype=np.uint8)
    >>> float(mean_average_precision(q, db, [0], [0, 1, 0, 1]))
    0.9166...
    >>> float(mean_average_precision(q, db, [0], [0, 1, 0, 1], ties="optimistic"))
    1.0
    >>> float(mean_average_precision(q, db, [0], [0, 1, 0, 1], ties="index"))
    0.8333...
    >>> float(mean_average_precision(q, db, [0], [0, 0, 1, 1], k=2))
    0.75
    """
    points = Points(query_codes, db_codes, metric, exclude_self)
    rel_fn = Relevance(query_labels, db_labels, points.n_query, points.n_db, relevance)
    k = points.n_eff if k is None else min(k, points.n_eff)
    H = harmonic_numbers(points.n_eff)
    out = np.empty(points.n_query)
    for sl, dist in points.chunks(chunk_size):
        rel = rel_fn(sl)
        if ties == "average":
            n, r = group_stats(points, sl, dist, rel, k)
            out[sl] = _ap_average(n, r, k, H, normalize)
        else:
            seq = explicit_order(points, sl, dist, rel, ties, k)
            n_relevant = rel.sum(axis=1) - _self_relevance(points, sl, rel)
            out[sl] = _ap_explicit(seq, n_relevant, k, normalize)
    return out if return_per_query else float(out.mean())


@validate_metric_params(k=[COUNT])
def precision_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    k=100,
    ties="average",
    relevance=None,
    metric="hamming",
    exclude_self=False,
    return_per_query=False,
    chunk_size=None,
):
    """Precision at ``k``: the fraction of relevant items among the top ``k``.

    ``P@k = (1/k) * sum_{p <= k} rel_p``; with ``ties="average"`` a tie cut by
    ``k`` contributes its fraction of relevant items per position. ``k``
    above the database size is cut to the database size.

    Parameters
    ----------
    query_codes : ndarray of shape (n_queries, n_bytes)
        Packed ``uint8`` query codes, or float embeddings with ``metric``.
    db_codes : ndarray of shape (n_db, n_bytes)
        Database codes (or embeddings), same width as ``query_codes``.
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels or label indicator matrix (see
        :func:`mean_average_precision`).
    db_labels : array-like of shape (n_db,) or (n_db, n_labels)
        Labels of the database items, in the same form.
    k : int, default=100
        Cut-off.
    ties : {"average", "optimistic", "pessimistic", "index"}, default="average"
        Tie handling (see :func:`mean_average_precision`).
    relevance : callable, default=None
        Custom relevance, as in :func:`mean_average_precision`.
    metric : {"hamming", "euclidean", "cosine"}, default="hamming"
        Distance that ranks the database.
    exclude_self : bool, default=False
        Leave-one-out retrieval inside one set.
    return_per_query : bool, default=False
        Return per-query values instead of the mean.
    chunk_size : int, default=None
        Queries processed at once.

    Returns
    -------
    float or ndarray of shape (n_queries,)
        Mean P@k in [0, 1], or the per-query values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import precision_at_k
    >>> db = np.array([[0], [1], [1], [15]], dtype=np.uint8)
    >>> q = np.array([[0]], dtype=np.uint8)
    >>> float(precision_at_k(q, db, [0], [0, 1, 0, 1], k=2))
    0.75
    """
    points = Points(query_codes, db_codes, metric, exclude_self)
    rel_fn = Relevance(query_labels, db_labels, points.n_query, points.n_db, relevance)
    k = min(k, points.n_eff)
    out = np.empty(points.n_query)
    for sl, dist in points.chunks(chunk_size):
        rel = rel_fn(sl)
        if ties == "average":
            n, r = group_stats(points, sl, dist, rel, k)
            before = np.cumsum(n, axis=1) - n
            m = np.clip(k - before, 0, n)
            out[sl] = (group_means(n, r) * m).sum(axis=1) / k
        else:
            out[sl] = explicit_order(points, sl, dist, rel, ties, k).sum(axis=1) / k
    return out if return_per_query else float(out.mean())


def _check_radii(radii, points):
    if radii is None:
        if points.metric != "hamming":
            raise ValueError(
                f"radii must be given for metric={points.metric!r}; the default "
                "0..n_bits only exists for Hamming distances."
            )
        return np.arange(points.max_distance + 1, dtype=np.float64)
    arr = np.atleast_1d(np.asarray(radii, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or (
        arr < 0
    ).any():
        raise ValueError(
            "radii must be a non-empty 1-d sequence of finite values >= 0, got "
            f"{radii!r}."
        )
    return np.unique(arr)


def _radius_counts(points, rel_fn, radii, chunk_size):
    """Per query: items and relevant items within each radius, and R."""
    L = len(radii)
    retrieved = np.empty((points.n_query, L))
    hits = np.empty((points.n_query, L))
    n_relevant = np.empty(points.n_query)
    for sl, dist in points.chunks(chunk_size):
        rel = rel_fn(sl)
        c = dist.shape[0]
        # Bin j holds radii[j-1] < d <= radii[j]; bin L is beyond every radius.
        bins = np.searchsorted(radii, dist, side="left").astype(np.intp)
        if points.exclude_self:
            bins[np.arange(c), points.self_columns(sl)] = L
        bins += (np.arange(c, dtype=np.intp) * (L + 1))[:, None]
        bins = bins.ravel()
        cnt = np.bincount(bins, minlength=c * (L + 1)).reshape(c, L + 1)
        hit = np.bincount(bins[rel.ravel()], minlength=c * (L + 1)).reshape(c, L + 1)
        retrieved[sl] = np.cumsum(cnt[:, :L], axis=1)
        hits[sl] = np.cumsum(hit[:, :L], axis=1)
        n_relevant[sl] = rel.sum(axis=1) - _self_relevance(points, sl, rel)
    precision = np.divide(hits, retrieved, out=np.zeros_like(hits), where=retrieved > 0)
    R = n_relevant[:, None]
    recall = np.divide(hits, R, out=np.zeros_like(hits), where=R > 0)
    return precision, recall


@validate_metric_params(radius=[RADIUS])
def precision_recall_at_radius(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    radius=2,
    relevance=None,
    metric="hamming",
    exclude_self=False,
    return_per_query=False,
    chunk_size=None,
):
    """Precision and recall of the items within distance ``radius``.

    The retrieved set is every database item at distance ``<= radius``
    (Hamming lookup, so no ties to break). Precision = relevant retrieved /
    retrieved, 0 when nothing is retrieved (so an empty lookup counts as a
    failure, as in most hashing papers' "P@r<=2"); recall = relevant
    retrieved / relevant in the database, 0 when there are none. Both are
    averaged over all queries.

    Parameters
    ----------
    query_codes : ndarray of shape (n_queries, n_bytes)
        Packed ``uint8`` query codes, or float embeddings with ``metric``.
    db_codes : ndarray of shape (n_db, n_bytes)
        Database codes (or embeddings), same width as ``query_codes``.
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels or label indicator matrix (see
        :func:`mean_average_precision`).
    db_labels : array-like of shape (n_db,) or (n_db, n_labels)
        Labels of the database items, in the same form.
    radius : float, default=2
        Largest distance retrieved (in bits for Hamming; in distance units
        for embeddings: squared Euclidean, or ``1 - cosine``).
    relevance : callable, default=None
        Custom relevance, as in :func:`mean_average_precision`.
    metric : {"hamming", "euclidean", "cosine"}, default="hamming"
        Distance.
    exclude_self : bool, default=False
        Leave-one-out retrieval inside one set.
    return_per_query : bool, default=False
        Return per-query arrays instead of means.
    chunk_size : int, default=None
        Queries processed at once.

    Returns
    -------
    precision : float or ndarray of shape (n_queries,)
        Mean precision of the lookups (per query with ``return_per_query``).
    recall : float or ndarray of shape (n_queries,)
        Mean recall of the lookups (per query with ``return_per_query``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import precision_recall_at_radius
    >>> db = np.array([[0], [1], [3], [15]], dtype=np.uint8)
    >>> q = np.array([[0]], dtype=np.uint8)
    >>> p, r = precision_recall_at_radius(q, db, [0], [0, 1, 0, 0], radius=1)
    >>> float(p), float(r)
    (0.5, 0.333...)
    """
    points = Points(query_codes, db_codes, metric, exclude_self)
    rel_fn = Relevance(query_labels, db_labels, points.n_query, points.n_db, relevance)
    radii = _check_radii([radius], points)
    precision, recall = _radius_counts(
        points, rel_fn, radii, chunk_size
    )
    precision, recall = precision[:, 0], recall[:, 0]
    if return_per_query:
        return precision, recall
    return float(precision.mean()), float(recall.mean())


@validate_metric_params(radii=["array-like", None])
def precision_recall_curve(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    radii=None,
    relevance=None,
    metric="hamming",
    exclude_self=False,
    chunk_size=None,
):
    """Precision and recall of Hamming-ball lookups at every radius.

    For each radius, precision and recall are those of
    :func:`precision_recall_at_radius`, averaged over queries.

    Parameters
    ----------
    query_codes : ndarray of shape (n_queries, n_bytes)
        Packed ``uint8`` query codes, or float embeddings with ``metric``.
    db_codes : ndarray of shape (n_db, n_bytes)
        Database codes (or embeddings), same width as ``query_codes``.
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels or label indicator matrix (see
        :func:`mean_average_precision`).
    db_labels : array-like of shape (n_db,) or (n_db, n_labels)
        Labels of the database items, in the same form.
    radii : array-like of float, default=None
        Radii to evaluate (sorted and deduplicated). ``None`` means every
        Hamming radius ``0 .. 8 * n_bytes`` (required for float embeddings).
    relevance : callable, default=None
        Custom relevance, as in :func:`mean_average_precision`.
    metric : {"hamming", "euclidean", "cosine"}, default="hamming"
        Distance.
    exclude_self : bool, default=False
        Leave-one-out retrieval inside one set.
    chunk_size : int, default=None
        Queries processed at once.

    Returns
    -------
    precision : ndarray of shape (n_radii,)
        Mean precision at each radius.
    recall : ndarray of shape (n_radii,)
        Mean recall at each radius, non-decreasing in the radius.
    radii : ndarray of shape (n_radii,)
        The radii, sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import precision_recall_curve
    >>> db = np.array([[0], [1], [3], [15]], dtype=np.uint8)
    >>> q = np.array([[0]], dtype=np.uint8)
    >>> p, r, radii = precision_recall_curve(q, db, [0], [0, 1, 0, 0], radii=[0, 2, 4])
    >>> p.tolist(), r.round(3).tolist()
    ([1.0, 0.666..., 0.75], [0.333, 0.667, 1.0])
    """
    points = Points(query_codes, db_codes, metric, exclude_self)
    rel_fn = Relevance(query_labels, db_labels, points.n_query, points.n_db, relevance)
    radii = _check_radii(radii, points)
    precision, recall = _radius_counts(
        points, rel_fn, radii, chunk_size
    )
    return precision.mean(axis=0), recall.mean(axis=0), radii


@validate_metric_params(k=[COUNT])
def ndcg_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    k=100,
    similarity=None,
    ties="average",
    relevance=None,
    metric="hamming",
    exclude_self=False,
    return_per_query=False,
    chunk_size=None,
):
    """Normalised discounted cumulative gain at ``k``.

    ``DCG@k = sum_{p <= k} g_p / log2(p + 1)`` with linear gains ``g_p``:
    the class similarity ``similarity[y_query, y_p]`` when ``similarity`` is
    given (graded relevance), otherwise 1 for relevant and 0 for other items.
    ``NDCG@k = DCG@k / IDCG@k``, the ideal DCG of the best possible ordering
    of the database; 0 when that is 0. ``ties="average"`` gives the exact
    expected value (DCG is linear in the gains, so each position of a tie
    gets the tie's mean gain).

    Parameters
    ----------
    query_codes : ndarray of shape (n_queries, n_bytes)
        Packed ``uint8`` query codes, or float embeddings with ``metric``.
    db_codes : ndarray of shape (n_db, n_bytes)
        Database codes (or embeddings), same width as ``query_codes``.
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels or label indicator matrix (see
        :func:`mean_average_precision`).
    db_labels : array-like of shape (n_db,) or (n_db, n_labels)
        Labels of the database items, in the same form.
    k : int, default=100
        Cut-off (cut to the database size).
    similarity : ndarray of shape (n_classes, n_classes) or object, default=None
        Class x class similarity in [0, 1] indexed by integer labels, or an
        object with ``similarity_matrix(labels)`` (e.g.
        :class:`sklhash.similarity.LabelHierarchy`).
    ties : {"average", "optimistic", "pessimistic", "index"}, default="average"
        Tie handling (optimistic = highest gain first inside a tie).
    relevance : callable, default=None
        Custom binary relevance, used only when ``similarity`` is None.
    metric : {"hamming", "euclidean", "cosine"}, default="hamming"
        Distance.
    exclude_self : bool, default=False
        Leave-one-out retrieval inside one set.
    return_per_query : bool, default=False
        Return per-query values instead of the mean.
    chunk_size : int, default=None
        Queries processed at once.

    Returns
    -------
    float or ndarray of shape (n_queries,)
        Mean NDCG@k in [0, 1], or per-query values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import ndcg_at_k
    >>> db = np.array([[0], [1], [15]], dtype=np.uint8)
    >>> q = np.array([[0]], dtype=np.uint8)
    >>> S = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> float(ndcg_at_k(q, db, [0], [1, 0, 2], k=2, similarity=S))
    0.8597...
    """
    points = Points(query_codes, db_codes, metric, exclude_self)
    k = min(k, points.n_eff)
    discount = 1.0 / np.log2(np.arange(2, points.n_eff + 2))
    D = np.concatenate([[0.0], np.cumsum(discount)])
    if similarity is not None:
        gains = Gains(similarity, query_labels, db_labels, points.n_query, points.n_db)
        ideal = gains.ideal(k, points.exclude_self, weights=discount[:k])[:, -1]
    else:
        gains = Relevance(
            query_labels, db_labels, points.n_query, points.n_db, relevance
        )
    out = np.empty(points.n_query)
    for sl, dist in points.chunks(chunk_size):
        g = gains(sl)
        if similarity is None:
            n_relevant = g.sum(axis=1) - _self_relevance(points, sl, g)
            n_relevant = n_relevant.astype(np.intp)
            idcg = D[np.minimum(n_relevant, k)]
        else:
            idcg = ideal[gains.query_classes[sl]]
        if ties == "average":
            n, r = group_stats(points, sl, dist, g, k)
            before = np.cumsum(n, axis=1) - n
            m = np.clip(k - before, 0, n)
            dcg = (group_means(n, r) * (D[before + m] - D[before])).sum(axis=1)
        else:
            dcg = explicit_order(points, sl, dist, g, ties, k) @ discount[:k]
        ndcg = np.divide(dcg, idcg, out=np.zeros(len(dcg)), where=idcg > 0)
        out[sl] = np.minimum(ndcg, 1.0)
    return out if return_per_query else float(out.mean())
