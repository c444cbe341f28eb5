"""numpy backend: exact search by a blocked popcount scan.

The database is kept as ``(n_words, n_codes)`` uint64 columns, so each 64-bit
word of every code is one contiguous array. A block of ``queries x codes``
distances is computed word by word (XOR, :func:`numpy.bitwise_count`, add)
into buffers small enough to stay in the L2 cache, and numpy releases the GIL
inside each of those calls, so threads over query chunks (or over database
ranges for a single query chunk) run in parallel.

k-NN selection never sorts a block: the first block of each task is reduced to
its top k by counting distances (:func:`~._select.topk_by_counting`); from then
on only entries strictly below each query's current k-th distance can enter
the result (an entry equal to it has a larger database index than the one
already held, so it loses the tie), and those few candidates are merged now
and then by one sort of packed keys.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._select import (
    first_k_per_row,
    sort_triples,
    to_dense,
    to_ragged,
    topk_by_counting,
)

# Elements of one (queries x codes) block: 1 MiB of uint64 XOR output, which
# stays in a core's L2 cache between the XOR and the popcount.
_BLOCK_ELEMENTS = 1 << 17
# Queries per chunk: large enough to amortise numpy's per-call overhead over
# the block, small enough that a block still spans many database codes.
_QUERY_CHUNK = 16
# A database range handed to one thread is at least this many codes.
_MIN_RANGE = 1 << 15


_scratch = threading.local()


def _buffer(name, shape, dtype):
    """A per-thread scratch array, reused across searches.

    Fresh megabyte-sized arrays cost page faults on first touch, which is a
    sizeable share of a single-query search; each thread keeps its own.
    """
    cache = _scratch.__dict__.setdefault("buffers", {})
    buf = cache.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = cache[name] = np.empty(shape, dtype=dtype)
    return buf


def distance_dtype(n_bits):
    """Smallest unsigned dtype that holds 0..n_bits+1 (the +1 is a sentinel)."""
    if n_bits + 1 <= np.iinfo(np.uint8).max:
        return np.dtype(np.uint8)
    if n_bits + 1 <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def columns_of(words):
    """``(n_codes, n_words)`` uint64 words -> contiguous ``(n_words, n_codes)``."""
    return np.ascontiguousarray(words.T)


class _Scanner:
    """Distance blocks for up to ``n_rows`` queries, in reusable buffers.

    One scanner per thread: the buffers are its private scratch space.
    """

    def __init__(self, columns, n_bits, n_rows):
        self.columns = columns
        self.n_words = columns.shape[0]
        self.n_cols = max(1, _BLOCK_ELEMENTS // n_rows)
        dtype = distance_dtype(n_bits)
        shape = (n_rows, self.n_cols)
        self.xor = _buffer("xor", shape, np.dtype(np.uint64))
        self.acc = _buffer("acc", shape, dtype)
        self.mask = _buffer("mask", shape, np.dtype(bool))
        multi = self.n_words > 1
        self.count = _buffer("count", shape, np.dtype(np.uint8)) if multi else None

    def blocks(self, lo, hi, first=None):
        """Column ranges covering ``lo:hi``; the first one ``first`` wide."""
        begin = lo
        if first is not None and first < self.n_cols:
            yield begin, min(begin + first, hi)
            begin += first
        for start in range(begin, hi, self.n_cols):
            yield start, min(start + self.n_cols, hi)

    def distances(self, q, start, stop):
        """Distances of queries ``q`` (n, n_words) to codes ``start:stop``."""
        n, width = q.shape[0], stop - start
        xor = self.xor[:n, :width]
        acc = self.acc[:n, :width]
        count = None if self.count is None else self.count[:n, :width]
        for w in range(self.n_words):
            np.bitwise_xor(q[:, w, None], self.columns[w, None, start:stop], out=xor)
            if w == 0:
                np.bitwise_count(xor, out=acc)
            else:
                np.bitwise_count(xor, out=count)
                np.add(acc, count, out=acc)
        return acc


def _merge(parts, n_rows, k, n_levels, n_total, dtype):
    """Top k per row of the union of triple lists, and the new thresholds."""
    rows = np.concatenate([p[0] for p in parts])
    dist = np.concatenate([p[1] for p in parts])
    idx = np.concatenate([p[2] for p in parts])
    rows, dist, idx = sort_triples(rows, dist, idx, n_rows, n_levels, n_total)
    rows, dist, idx, counts = first_k_per_row(rows, dist, idx, n_rows, k)
    return (rows, dist, idx), _thresholds(dist, counts, k, n_levels, dtype)


def _thresholds(dist, counts, k, n_levels, dtype):
    """Per row, the distance a new code must beat: the k-th one held.

    ``dist`` holds the sorted distances kept, ``min(counts, k)`` per row.
    Rows holding fewer than k accept any distance (<= n_bits < n_levels - 1).
    """
    thr = np.full(counts.size, n_levels - 1, dtype=dtype)
    full = counts >= k
    last = np.cumsum(np.minimum(counts, k)) - 1
    thr[full] = dist[last[full]]
    return thr


def _knn_task(scanner, q, k, n_levels, n_total, lo, hi, ceiling=None):
    """Exact top k of queries ``q`` among codes ``lo:hi``, as sorted triples.

    ``ceiling`` (one per query, dtype of the distances) keeps only distances
    below it: a bound known from elsewhere (other partitions of the same
    database, :mod:`._partition`). With it no block is counted -- the bound
    already excludes most codes, so every block is filtered -- and a row may
    end with fewer than k triples.
    """
    n = q.shape[0]
    dtype = scanner.acc.dtype
    best = None
    thr = None
    if ceiling is not None:
        empty = np.empty(0, dtype=np.int64)
        best = (empty, empty, empty)
        thr = ceiling.copy()
    pending, n_pending = [], 0
    # Merging costs a few numpy calls: wait until enough candidates pile up,
    # the thresholds only get a little less tight in the meantime.
    merge_at = max(2048, 4 * n * k)
    # A first block of a few thousand distances already gives a tight
    # threshold; counting costs a few passes per distance where the filter
    # below costs two, so the rest is filtered.
    first = max(4096, 16 * k) // n if ceiling is None else None
    for start, stop in scanner.blocks(lo, hi, first):
        dist = scanner.distances(q, start, stop)
        if best is None:
            rows, d, cols = topk_by_counting(dist, k, n_levels)
            best = rows, d, cols + start
            counts = np.full(n, min(k, stop - start))
            thr = _thresholds(d, counts, k, n_levels, dtype)
            continue
        mask = np.less(dist, thr[:, None], out=scanner.mask[:n, : stop - start])
        hits = np.flatnonzero(mask)
        if hits.size:
            rows, cols = np.divmod(hits, stop - start)
            pending.append((rows, dist.ravel()[hits], cols + start))
            n_pending += rows.size
            if n_pending >= merge_at:
                best, thr = _merge([best, *pending], n, k, n_levels, n_total, dtype)
                if ceiling is not None:
                    # Rows still short of k candidates get n_levels - 1 back.
                    np.minimum(thr, ceiling, out=thr)
                pending, n_pending = [], 0
    if pending:
        best, _ = _merge([best, *pending], n, k, n_levels, n_total, dtype)
    return best


def _radius_task(scanner, q, radius, lo, hi):
    """All (row, distance, index) with distance <= radius among codes lo:hi."""
    n = q.shape[0]
    radius = np.asarray(radius, dtype=scanner.acc.dtype)
    parts = []
    for start, stop in scanner.blocks(lo, hi):
        dist = scanner.distances(q, start, stop)
        mask = np.less_equal(dist, radius, out=scanner.mask[:n, : stop - start])
        hits = np.flatnonzero(mask)
        if hits.size:
            rows, cols = np.divmod(hits, stop - start)
            parts.append((rows, dist.ravel()[hits], cols + start))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def _plan(n_queries, n_codes, n_threads):
    """Split the work into (query range, database range) tasks."""
    chunk = min(_QUERY_CHUNK, n_queries)
    q_ranges = [
        (s, min(s + chunk, n_queries)) for s in range(0, n_queries, chunk)
    ]
    n_parts = 1
    if len(q_ranges) < n_threads:
        # Too few query chunks to keep every thread busy: split the database.
        n_parts = max(1, min(-(-n_threads // len(q_ranges)), n_codes // _MIN_RANGE))
    bounds = [n_codes * i // n_parts for i in range(n_parts + 1)]
    db_ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    return chunk, [(qr, dr) for qr in q_ranges for dr in db_ranges], len(db_ranges)


def _run(tasks, fn, n_threads):
    if n_threads <= 1 or len(tasks) <= 1:
        return [fn(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=min(n_threads, len(tasks))) as pool:
        return list(pool.map(fn, tasks))


def knn(columns, q_words, k, n_bits, n_threads=1):
    """Exact k nearest codes of every query.

    Parameters
    ----------
    columns : ndarray of shape (n_words, n_codes), dtype uint64
        The database, see :func:`columns_of`.
    q_words : ndarray of shape (n_queries, n_words), dtype uint64
        The queries.
    k : int
        Neighbours per query, ``1 <= k <= n_codes``.
    n_bits : int
        Code length (bounds the distances).
    n_threads : int
        Worker threads.

    Returns
    -------
    dist : ndarray of shape (n_queries, k), dtype int32
    idx : ndarray of shape (n_queries, k), dtype int64
    """
    n_queries, n_codes = q_words.shape[0], columns.shape[1]
    n_levels = n_bits + 2
    chunk, tasks, n_parts = _plan(n_queries, n_codes, n_threads)

    def work(task):
        (qs, qe), (lo, hi) = task
        scanner = _Scanner(columns, n_bits, chunk)
        return _knn_task(scanner, q_words[qs:qe], k, n_levels, n_codes, lo, hi)

    results = _run(tasks, work, n_threads)
    dist = np.empty((n_queries, k), dtype=np.int32)
    idx = np.empty((n_queries, k), dtype=np.int64)
    for i in range(0, len(tasks), n_parts):
        (qs, qe), _ = tasks[i]
        parts = results[i : i + n_parts]
        if n_parts > 1:
            dtype = distance_dtype(n_bits)
            parts = [_merge(parts, qe - qs, k, n_levels, n_codes, dtype)[0]]
        _, d, j = parts[0]
        dist[qs:qe], idx[qs:qe] = to_dense(d, j, qe - qs, k)
    return dist, idx


def radius(columns, q_words, radius, n_bits, n_threads=1):
    """All codes within Hamming distance ``radius`` of every query.

    Returns two object arrays of length ``n_queries`` (distances as int32,
    indices as int64), each row sorted by distance then index.
    """
    n_queries, n_codes = q_words.shape[0], columns.shape[1]
    n_levels = n_bits + 2
    r = min(int(radius), n_bits)
    chunk, tasks, n_parts = _plan(n_queries, n_codes, n_threads)

    def work(task):
        (qs, qe), (lo, hi) = task
        scanner = _Scanner(columns, n_bits, chunk)
        rows, d, j = _radius_task(scanner, q_words[qs:qe], r, lo, hi)
        return rows + qs, d, j

    results = _run(tasks, work, n_threads)
    rows = np.concatenate([res[0] for res in results])
    dist = np.concatenate([res[1] for res in results])
    idx = np.concatenate([res[2] for res in results])
    rows, dist, idx = sort_triples(rows, dist, idx, n_queries, n_levels, n_codes)
    return to_ragged(rows, dist, idx, n_queries)
