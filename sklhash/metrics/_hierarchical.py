"""Hierarchical precision (Barz & Denzler, 2019) with exact tie handling.

Relevance is graded by a class similarity ``sim(a, b)`` in [0, 1], e.g.
``1 - height(lcs(a, b)) / max_height`` in a class hierarchy.
"""

import numpy as np

from ..utils._sklearn_compat import HasMethods, StrOptions
from ._common import (
    COUNT,
    Gains,
    Points,
    expected_sequence,
    explicit_order,
    group_means,
    group_stats,
    validate_metric_params,
)

__all__ = ["mean_average_hierarchical_precision"]


def _ahp(seq, ideal_cum, normalize):
    """AHP@K of (c, K) gains in rank order against (c, K) ideal cumulative sums."""
    num = np.cumsum(seq, axis=1)
    hp = np.divide(num, ideal_cum, out=np.zeros_like(num), where=ideal_cum > 0)
    # Rounding can push HP a hair above its maximum of 1.
    np.minimum(hp, 1.0, out=hp)
    K = hp.shape[1]
    area = hp.sum(axis=1) - 0.5 * (hp[:, 0] + hp[:, -1])
    if normalize == "barz":
        return area / K
    return hp[:, 0] if K == 1 else area / (K - 1)


@validate_metric_params(
    similarity=["array-like", HasMethods(["similarity_matrix"])],
    k=[COUNT],
    normalize=[StrOptions({"barz", "unit"})],
)
def mean_average_hierarchical_precision(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    similarity,
    k=250,
    ties="average",
    metric="hamming",
    exclude_self=False,
    return_per_query=False,
    chunk_size=None,
    normalize="barz",
):
    """Mean average hierarchical precision at ``k`` (mAHP@K).

    For a query of class ``y_q`` and the database ranked by distance,
    hierarchical precision at ``k`` is::

        HP@k = sum_{p <= k} sim(y_q, y_p) / max_{orderings} sum_{p <= k} sim(y_q, y_p')

    (the denominator is the top-``k`` sum of the similarities sorted in
    decreasing order over the whole database; a query whose denominator is 0
    scores 0). AHP@K is the area under HP@k for ``k = 1..K`` by the
    trapezoid rule with step ``1 / K``, as Barz & Denzler define it and their
    code computes it (``np.trapz(hp, dx=1/K)``)::

        AHP@K = (sum_{k=1}^{K} HP@k - (HP@1 + HP@K) / 2) / K

    so a perfect ranking scores ``(K - 1) / K`` (0.996 at ``K = 250``), not
    1, and published mAHP@250 figures compare directly. ``normalize="unit"``
    divides by ``K - 1`` instead, so that a perfect ranking scores exactly 1
    (sklhash's default before version 0.2; its values are the published ones
    times ``K / (K - 1)``). With ``K = 1`` the published trapezoid is 0 for
    every ranking; ``"unit"`` returns HP@1 there. mAHP@K is the mean over
    queries. ``ties="average"`` is the exact expected value under a random order
    inside each tie: HP is linear in the gains, so a tie cut by ``k``
    contributes its mean gain per position.

    Parameters
    ----------
    query_codes : ndarray of shape (n_queries, n_bytes)
        Packed ``uint8`` query codes, or float embeddings with ``metric``.
    db_codes : ndarray of shape (n_db, n_bytes)
        Database codes (or embeddings), same width as ``query_codes``.
    query_labels : array-like of shape (n_queries,)
        Class labels of the queries.
    db_labels : array-like of shape (n_db,)
        Class labels of the database.
    similarity : ndarray of shape (n_classes, n_classes) or object
        Class x class similarity in [0, 1] indexed by integer labels, or an
        object with ``similarity_matrix(labels)`` (e.g.
        :class:`sklhash.similarity.LabelHierarchy`), which is asked for the
        sorted distinct labels present.
    k : int, default=250
        ``K``, the last cut-off (cut to the database size).
    ties : {"average", "optimistic", "pessimistic", "index"}, default="average"
        Tie handling (optimistic = most similar first inside a tie).
    metric : {"hamming", "euclidean", "cosine"}, default="hamming"
        Distance that ranks the database.
    exclude_self : bool, default=False
        Leave-one-out retrieval inside one set.
    return_per_query : bool, default=False
        Return per-query AHP@K instead of the mean.
    chunk_size : int, default=None
        Queries processed at once (memory ``O(chunk_size * n_db)``).
    normalize : {"barz", "unit"}, default="barz"
        ``"barz"``: divide the trapezoid by ``K`` (the published definition;
        a perfect ranking scores ``(K - 1) / K``); ``"unit"``: divide by
        ``K - 1`` (a perfect ranking scores 1).

    Returns
    -------
    float or ndarray of shape (n_queries,)
        The mAHP@K in [0, 1], or the per-query values.

    References
    ----------
    .. [1] B. Barz and J. Denzler, "Hierarchy-based image embeddings for
       semantic image retrieval", WACV 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.metrics import mean_average_hierarchical_precision
    >>> S = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> db = np.array([[0], [1], [3], [15]], dtype=np.uint8)
    >>> q = np.array([[0]], dtype=np.uint8)
    >>> float(mean_average_hierarchical_precision(q, db, [0], [0, 1, 2, 0],
    ...                                           similarity=S, k=3))
    0.5166...
    >>> float(mean_average_hierarchical_precision(q, db, [0], [0, 1, 2, 0],
    ...                                           similarity=S, k=3,
    ...                                           normalize="unit"))
    0.775
    """
    points = Points(query_codes, db_codes, metric, exclude_self)
    gains = Gains(similarity, query_labels, db_labels, points.n_query, points.n_db)
    k = min(k, points.n_eff)
    ideal = gains.ideal(k, points.exclude_self)
    out = np.empty(points.n_query)
    for sl, dist in points.chunks(chunk_size):
        g = gains(sl)
        if ties == "average":
            n, r = group_stats(points, sl, dist, g, k)
            seq = expected_sequence(n, group_means(n, r), k)
        else:
            seq = explicit_order(points, sl, dist, g, ties, k)
        out[sl] = _ahp(seq, ideal[gains.query_classes[sl]], normalize)
    return out if return_per_query else float(out.mean())
