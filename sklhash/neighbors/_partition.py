"""k-NN over one partition of a database split into several (private).

A database split into partitions (``sklhash.dask.DaskHammingIndex`` keeps
one per Dask task) is searched partition by partition, and the union of each
partition's top k holds the top k of the whole. Searching each partition
with :func:`~._numpy.knn` from scratch costs more than one scan of the whole
database: every partition starts again with a loose k-th distance, and until
it tightens many codes pass the filter and must be merged (10 partitions of
200,000 random 64-bit codes: 10 times the merges and ~25% more CPU than one
scan of the 2,000,000).

:func:`knn_partition` takes a per-query ``bound``: the k-th smallest distance
already seen among *other* codes of the same database (from partitions
searched earlier). No code farther than ``bound`` can be among the k nearest
of the whole database, so only codes at distance ``<= bound`` are kept
(inclusive: an earlier partition's k-th code may have a larger index than a
tied code here). A partition searched after others then filters from its
first block, exactly as the single scan does after that many codes, and
returns fewer than k codes where fewer are that close; the rows are padded
with distance ``n_bits + 1`` and index ``-1``, which sort after every real
candidate. The merged top k is unchanged: every one of the database's k
nearest lies within every bound and within its own partition's top k.

It never imports torch.
"""

import numpy as np

from ._numpy import _QUERY_CHUNK, _knn_task, _radius_task, _Scanner, distance_dtype
from ._select import first_k_per_row

__all__ = ["knn_partition", "radius_partition"]


def _padded(rows, dist, idx, n_rows, k, n_levels, offset):
    """Sorted triples (up to ``k`` per row) as padded ``(n_rows, k)`` arrays."""
    rows, dist, idx, counts = first_k_per_row(rows, dist, idx, n_rows, k)
    out_d = np.full((n_rows, k), n_levels - 1, dtype=np.int32)
    out_i = np.full((n_rows, k), -1, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    pos = np.arange(rows.size) - starts[rows]
    out_d[rows, pos] = dist
    out_i[rows, pos] = idx + offset
    return out_d, out_i


def knn_partition(columns, q_words, k, n_bits, offset=0, bound=None):
    """Top-k candidates of one partition, with global indices.

    Parameters
    ----------
    columns : ndarray of shape (n_words, n_codes), dtype uint64
        The partition, see :func:`~._numpy.columns_of`.
    q_words : ndarray of shape (n_queries, n_words), dtype uint64
        The queries.
    k : int
        Neighbours wanted from the whole database (``>= 1``); at most
        ``min(k, n_codes)`` come from this partition.
    n_bits : int
        Code length.
    offset : int, default=0
        Global database index of the partition's first code.
    bound : ndarray of shape (n_queries,), default=None
        Per query, an upper bound (inclusive) on the k-th nearest distance
        of the whole database, e.g. the k-th distance among codes of other
        partitions; ``n_bits`` (or ``None``) means no bound.

    Returns
    -------
    dist : ndarray of shape (n_queries, min(k, n_codes)), dtype int32
        Per query, ascending distances; rows with fewer candidates within
        ``bound`` end with ``n_bits + 1``.
    idx : ndarray of shape (n_queries, min(k, n_codes)), dtype int64
        Global indices, ascending among equal distances; ``-1`` for padding.
        Every code of the partition that is among the database's k nearest
        is returned.
    """
    n_queries, n_codes = q_words.shape[0], columns.shape[1]
    k = min(int(k), n_codes)
    n_levels = n_bits + 2
    chunk = min(_QUERY_CHUNK, max(n_queries, 1))
    scanner = _Scanner(columns, n_bits, chunk)
    dist = np.empty((n_queries, k), dtype=np.int32)
    idx = np.empty((n_queries, k), dtype=np.int64)
    dtype = distance_dtype(n_bits)
    for qs in range(0, n_queries, chunk):
        qe = min(qs + chunk, n_queries)
        q = q_words[qs:qe]
        b = None if bound is None else np.minimum(bound[qs:qe], n_bits)
        if b is None or (b >= n_bits).any():
            # A query without a bound: the plain scan, which starts by counting
            # one block. Its candidates beyond a bound are real codes at
            # their true distances, harmless to the merge.
            rows, d, j = _knn_task(scanner, q, k, n_levels, n_codes, 0, n_codes)
        else:
            # Strict ceiling: d < bound + 1  <=>  d <= bound.
            ceiling = (b + 1).astype(dtype)
            rows, d, j = _knn_task(
                scanner, q, k, n_levels, n_codes, 0, n_codes, ceiling=ceiling
            )
        dist[qs:qe], idx[qs:qe] = _padded(rows, d, j, qe - qs, k, n_levels, offset)
    return dist, idx


def radius_partition(columns, q_words, radius, n_bits, offset=0):
    """All (query, distance, global index) within ``radius``, unsorted.

    Flat arrays rather than per-query lists: the caller concatenates the
    partitions' triples and orders them all with one sort, as
    :func:`~._numpy.radius` does for one database (sorting here as well, and
    splitting into per-query arrays, only cost time and pickling).

    Parameters
    ----------
    columns : ndarray of shape (n_words, n_codes), dtype uint64
        The partition, see :func:`~._numpy.columns_of`.
    q_words : ndarray of shape (n_queries, n_words), dtype uint64
        The queries.
    radius : int
        Largest distance kept, ``>= 0``.
    n_bits : int
        Code length.
    offset : int, default=0
        Global database index of the partition's first code.

    Returns
    -------
    rows, dist, idx : ndarray of shape (n_hits,)
        Query number (int64), distance (the smallest unsigned dtype holding
        ``n_bits + 1``) and global database index (int64) of every hit.
    """
    n_queries = q_words.shape[0]
    r = min(int(radius), n_bits)
    chunk = min(_QUERY_CHUNK, max(n_queries, 1))
    scanner = _Scanner(columns, n_bits, chunk)
    parts = []
    for qs in range(0, n_queries, chunk):
        rows, d, j = _radius_task(
            scanner, q_words[qs : qs + chunk], r, 0, columns.shape[1]
        )
        if rows.size:
            parts.append((rows + qs, d, j + offset))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, np.empty(0, dtype=distance_dtype(n_bits)), empty
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))
