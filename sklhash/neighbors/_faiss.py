"""FAISS backend: ``IndexBinaryFlat`` with sklhash's bit order and tie rule.

FAISS reads bit ``i`` of a code as bit ``i % 8`` (least significant first) of
byte ``i // 8``; sklhash packs with :func:`numpy.packbits`, most significant
first. Reversing the bits of every byte at this boundary makes the two agree
(Hamming distance does not care, but it keeps the stored codes meaningful
to other FAISS users). sklhash codes are whole bytes with zero padding, so
the FAISS dimension ``8 * n_bytes`` is always a multiple of 8 and the padding
bits never add to a distance.

FAISS returns the k smallest distances but picks arbitrarily among codes tied
at the k-th distance. The backend asks for extra neighbours: when the last one
returned is farther than the k-th, the whole tie group is in hand and a sort
by (distance, index) restores sklhash's order; the few queries whose tie group
runs past the returned list are answered by the numpy scan instead.
"""

import contextlib

import numpy as np

from ._select import first_k_per_row, sort_triples, to_dense, to_ragged

# _REVERSED_BITS[b] is byte b with its 8 bits in reverse order.
_REVERSED_BITS = np.array(
    [int(f"{b:08b}"[::-1], 2) for b in range(256)], dtype=np.uint8
)


def import_faiss():
    """Import faiss, or say how to install it."""
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "backend='faiss' needs the optional faiss-cpu package: "
            "pip install 'sklhash[faiss]' (or use backend='numpy')."
        ) from exc
    return faiss


def faiss_available():
    try:
        import_faiss()
    except ImportError:
        return False
    return True


def to_faiss_order(codes):
    """Reverse the bits inside every byte (sklhash order <-> FAISS order)."""
    return np.ascontiguousarray(_REVERSED_BITS[codes])


@contextlib.contextmanager
def _threads(faiss, n_threads):
    """Run FAISS with ``n_threads`` OpenMP threads, then restore the setting.

    ``None`` leaves FAISS's own setting alone. The setting is touched only
    when it differs: measured, a call to ``omp_set_num_threads`` slows the next
    search by about 0.7 ms, a fifth of a single-query search over 1M codes.
    """
    previous = faiss.omp_get_max_threads()
    if n_threads is None or int(n_threads) == previous:
        yield
        return
    faiss.omp_set_num_threads(int(n_threads))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def build(codes):
    """An ``IndexBinaryFlat`` holding ``codes`` (sklhash order)."""
    faiss = import_faiss()
    index = faiss.IndexBinaryFlat(8 * codes.shape[1])
    if codes.shape[0]:
        index.add(to_faiss_order(codes))
    return index


def add(index, codes):
    index.add(to_faiss_order(codes))


def _extra(k):
    # Room past the k-th neighbour for its tie group. FAISS keeps a heap of
    # this size per query, so a few dozen more cost next to nothing.
    return max(k, 64)


# Query chunks of the FAISS backend hold at most this many (query, neighbour)
# results (about 50 MB with the int64 copies).
_RESULT_CELLS = 1 << 22


def knn(index, queries, k, n_bits, n_threads, fallback):
    """Exact k-NN with ties broken by index; see the module docstring.

    ``fallback(rows, k)`` answers the queries ``queries[rows]`` exactly.
    """
    n_queries = queries.shape[0]
    k_ask = min(index.ntotal, k + _extra(k))
    chunk = max(1, _RESULT_CELLS // k_ask)
    if n_queries <= chunk:
        return _knn_chunk(index, queries, k, k_ask, n_bits, n_threads, fallback)
    out_dist = np.empty((n_queries, k), dtype=np.int32)
    out_idx = np.empty((n_queries, k), dtype=np.int64)
    for s in range(0, n_queries, chunk):
        e = min(s + chunk, n_queries)
        out_dist[s:e], out_idx[s:e] = _knn_chunk(
            index, queries[s:e], k, k_ask, n_bits, n_threads,
            lambda rows, k, s=s: fallback(rows + s, k),
        )
    return out_dist, out_idx


def _knn_chunk(index, queries, k, k_ask, n_bits, n_threads, fallback):
    faiss = import_faiss()
    n_codes = index.ntotal
    n_queries = queries.shape[0]
    with _threads(faiss, n_threads):
        dist, idx = index.search(to_faiss_order(queries), k_ask)
    dist = dist.astype(np.int64, copy=False)
    idx = idx.astype(np.int64, copy=False)
    kth = dist[:, k - 1]
    if k_ask < n_codes:
        overflow = dist[:, -1] == kth
    else:
        overflow = np.zeros(n_queries, dtype=bool)
    rows = np.repeat(np.arange(n_queries), k_ask)
    rows, d, j = sort_triples(
        rows, dist.ravel(), idx.ravel(), n_queries, n_bits + 2, n_codes
    )
    rows, d, j, _ = first_k_per_row(rows, d, j, n_queries, k)
    out_dist, out_idx = to_dense(d, j, n_queries, k)
    if overflow.any():
        redo = np.flatnonzero(overflow)
        out_dist[redo], out_idx[redo] = fallback(redo, k)
    return out_dist, out_idx


def radius(index, queries, radius, n_bits, n_threads):
    """All codes within ``radius``, sorted by (distance, index) per query."""
    faiss = import_faiss()
    n_queries = queries.shape[0]
    # FAISS's binary range search keeps distances strictly below its radius.
    with _threads(faiss, n_threads):
        lims, dist, idx = index.range_search(to_faiss_order(queries), int(radius) + 1)
    rows = np.repeat(np.arange(n_queries), np.diff(lims.astype(np.int64)))
    rows, dist, idx = sort_triples(
        rows, dist, idx, n_queries, n_bits + 2, index.ntotal
    )
    return to_ragged(rows, dist, idx, n_queries)
