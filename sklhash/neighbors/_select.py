"""Exact selection of neighbours among (query, distance, index) triples.

Every backend ends with the same rule: per query, sort by Hamming distance and
break ties by database index. Distances are small integers (at most
``n_bits``), so a triple packs into one int64 key
``(query * n_levels + distance) * n_total + index`` and a single
:func:`numpy.sort` orders everything; :func:`topk_by_counting` avoids even that
for dense blocks by counting distances instead of sorting them.
"""

import numpy as np


def _keys_fit(n_rows, n_levels, n_total):
    return int(n_rows) * int(n_levels) * int(max(n_total, 1)) < 2**62


def sort_triples(rows, dist, idx, n_rows, n_levels, n_total):
    """Sort triples by (row, distance, index); returns the three arrays."""
    rows = np.asarray(rows, dtype=np.int64)
    dist = np.asarray(dist, dtype=np.int64)
    idx = np.asarray(idx, dtype=np.int64)
    if _keys_fit(n_rows, n_levels, n_total):
        key = (rows * n_levels + dist) * n_total + idx
        key.sort()
        rd, idx = np.divmod(key, n_total)
        rows, dist = np.divmod(rd, n_levels)
        return rows, dist, idx
    order = np.lexsort((idx, dist, rows))
    return rows[order], dist[order], idx[order]


def first_k_per_row(rows, dist, idx, n_rows, k):
    """Keep the first ``k`` triples of each row of sorted triples.

    Returns the kept triples and ``counts`` (how many each row had before).
    """
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    pos = np.arange(rows.size) - starts[rows]
    keep = pos < k
    return rows[keep], dist[keep], idx[keep], counts


def to_dense(dist, idx, n_rows, k):
    """Reshape exactly ``k`` sorted triples per row into ``(n_rows, k)`` arrays."""
    return (
        dist.astype(np.int32, copy=False).reshape(n_rows, k),
        idx.astype(np.int64, copy=False).reshape(n_rows, k),
    )


def to_ragged(rows, dist, idx, n_rows):
    """Split sorted triples into per-row object arrays, like scikit-learn."""
    counts = np.bincount(rows, minlength=n_rows)
    bounds = np.cumsum(counts)[:-1]
    dists = np.empty(n_rows, dtype=object)
    inds = np.empty(n_rows, dtype=object)
    for i, (d, j) in enumerate(
        zip(np.split(dist.astype(np.int32), bounds), np.split(idx, bounds), strict=True)
    ):
        dists[i] = d
        inds[i] = j
    return dists, inds


def topk_by_counting(dist, k, n_levels):
    """The ``k`` smallest entries of each row of a small-integer matrix.

    Counts the distances of each row (a histogram over ``n_levels`` values)
    and reads off the threshold distance ``t`` at which the count reaches
    ``k``. Only the entries ``<= t`` (usually few more than ``k``) are then
    ordered, by a counting (radix) sort on (row, distance) that keeps column
    order inside ties, and the first ``k`` of each row kept. No sort over the
    full rows.

    Returns ``(rows, dist, cols)`` sorted by (row, distance, column), exactly
    ``min(k, n_cols)`` per row.
    """
    n_rows, n_cols = dist.shape
    k = min(k, n_cols)
    offsets = (np.arange(n_rows, dtype=np.intp) * n_levels)[:, None]
    hist = np.bincount(
        (dist + offsets).ravel(), minlength=n_rows * n_levels
    ).reshape(n_rows, n_levels)
    t = np.argmax(np.cumsum(hist, axis=1) >= k, axis=1).astype(dist.dtype)
    hits = np.flatnonzero(dist <= t[:, None])
    rows, cols = np.divmod(hits, n_cols)
    d = dist.ravel()[hits]
    key = rows * n_levels + d
    if n_rows * n_levels <= 0xFFFF:
        # numpy's stable sort of 16-bit keys is a radix (counting) sort.
        key = key.astype(np.uint16)
    order = np.argsort(key, kind="stable")
    rows, d, cols, _ = first_k_per_row(
        rows[order], d[order].astype(np.int64), cols[order], n_rows, k
    )
    return rows, d, cols
