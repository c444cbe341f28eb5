"""Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012 / TPAMI 2014).

The ``n_bits`` bits of a code are cut into ``m`` disjoint substrings (as
equal as possible, at most 32 bits each) and every substring gets a table
from its value to the database codes holding it. Pigeonhole: if two codes
differ in ``d`` bits, let ``s`` be the smallest substring distance and ``j``
the first substring reaching it; every substring before ``j`` differs in at
least ``s + 1`` bits and the others in at least ``s``, so ``d >= m * s + j``.
Hence probing, at search step ``r = m * s + j``, the values at exactly
``s`` bits from the query's substring ``j`` finds every code within distance
``r`` by the end of step ``r``, and a code is *counted* only at the step
named by its own ``(s, j)``, so no code is reported twice.

* Radius search at radius ``r`` runs steps ``0..r``: only a handful of table
  look-ups for small radii, whatever the database size.
* k-NN search runs steps ``0, 1, 2, ...`` and stops for a query once its
  k-th best distance found so far is ``<= r`` (every closer code has then been
  seen). Random codes sit far apart, which makes late steps expensive; when a
  step would probe more table entries than there are codes, the remaining
  queries go to the linear scan (``fallback``), which is then cheaper.

Tables are a sorted copy of each substring's values (with ``searchsorted``),
or a direct bucket array when the substring has few enough bits.

References
----------
M. Norouzi, A. Punjani and D. J. Fleet, "Fast search in Hamming space with
multi-index hashing", CVPR 2012; "Fast exact search in Hamming space with
multi-index hashing", IEEE TPAMI 36(6), 2014.
"""

import functools
import itertools
import math

import numpy as np

from ._select import first_k_per_row, sort_triples, to_dense, to_ragged

_MAX_SUBSTRING_BITS = 32
# k-NN gives up probing after max(n_codes * fraction, minimum) look-ups per
# query: measured, a look-up and its candidates cost about a thousand times
# one comparison of the linear scan.
_PROBE_BUDGET_FRACTION = 1 / 1024
_MIN_PROBE_BUDGET = 256
# k-NN runs over query chunks whose distance histograms (queries x levels)
# hold at most this many counts (4 MiB).
_HISTOGRAM_CELLS = 1 << 19
# Probe-key arrays are built for this many (query, probe) pairs at a time.
_PROBE_BATCH = 1 << 18


def default_n_substrings(n_bits, n_codes):
    """``m ~ n_bits / log2(n_codes)``, the paper's choice, within bounds."""
    m = round(n_bits / max(1.0, math.log2(max(n_codes, 2))))
    return int(min(n_bits, max(m, -(-n_bits // _MAX_SUBSTRING_BITS), 1)))


def effective_n_substrings(n_bits, n_codes, n_substrings=None):
    """The number of substrings actually used (each at most 32 bits)."""
    m = n_substrings or default_n_substrings(n_bits, n_codes)
    return int(min(n_bits, max(int(m), -(-n_bits // _MAX_SUBSTRING_BITS))))


@functools.lru_cache(maxsize=256)
def probes_per_query(n_bits, m, radius):
    """Table look-ups one query needs for a radius search with ``m`` tables."""
    lengths = np.diff(substring_bounds(n_bits, m))
    total = 0
    for r in range(int(radius) + 1):
        j, s = r % m, r // m
        if s <= lengths[j]:
            total += math.comb(int(lengths[j]), s)
    return total


def substring_bounds(n_bits, m):
    """Start bits of the ``m`` substrings (first ones one bit longer)."""
    base, extra = divmod(n_bits, m)
    lengths = [base + (i < extra) for i in range(m)]
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def substring_keys(codes, bounds):
    """Integer value of each substring of each code, shape ``(m, n)`` uint64.

    Bit ``b`` of a code is bit ``7 - b % 8`` of byte ``b // 8`` (numpy's
    packbits order); a substring's value reads its bits most significant
    first.
    """
    m = len(bounds) - 1
    keys = np.empty((m, codes.shape[0]), dtype=np.uint64)
    for j in range(m):
        start, stop = int(bounds[j]), int(bounds[j + 1])
        b0, b1 = start // 8, (stop - 1) // 8
        value = np.zeros(codes.shape[0], dtype=np.uint64)
        for b in range(b0, b1 + 1):
            value <<= np.uint64(8)
            value |= codes[:, b].astype(np.uint64)
        value >>= np.uint64(8 * (b1 + 1) - stop)
        value &= np.uint64((1 << (stop - start)) - 1)
        keys[j] = value
    return keys


@functools.lru_cache(maxsize=256)
def _shell(length, s):
    """All ``length``-bit values with exactly ``s`` bits set (XOR masks)."""
    if s > length:
        return np.empty(0, dtype=np.uint64)
    masks = [sum(1 << i for i in c) for c in itertools.combinations(range(length), s)]
    out = np.array(masks, dtype=np.uint64)
    out.flags.writeable = False
    return out


class _Table:
    """Codes grouped by the value of one substring."""

    def __init__(self, keys, length):
        self.order = np.argsort(keys, kind="stable")
        n = keys.shape[0]
        if length <= 26 and (1 << length) <= 4 * max(n, 1):
            # Dense enough for a direct bucket array: O(1) look-ups.
            counts = np.bincount(keys.astype(np.intp), minlength=1 << length)
            self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self.sorted_keys = None
        else:
            self.offsets = None
            self.sorted_keys = keys[self.order]

    def ranges(self, probes):
        if self.offsets is not None:
            p = probes.astype(np.intp)
            return self.offsets[p], self.offsets[p + 1]
        lo = np.searchsorted(self.sorted_keys, probes, side="left")
        hi = np.searchsorted(self.sorted_keys, probes, side="right")
        return lo, hi


class MultiIndex:
    """Multi-index hashing tables over packed codes.

    Parameters
    ----------
    codes : ndarray of shape (n_codes, n_bytes), dtype uint8
        Database (padding bits zero).
    n_bits : int
        Code length.
    n_substrings : int or None
        Number of substrings ``m``; ``None`` picks
        :func:`default_n_substrings`.
    probe_budget : float or None
        Table look-ups per query after which k-NN search hands the queries
        still open to the linear scan; ``None``: ``max(n_codes / 1024, 256)``.
    """

    def __init__(self, codes, n_bits, n_substrings=None, probe_budget=None):
        n = codes.shape[0]
        if probe_budget is None:
            probe_budget = max(n * _PROBE_BUDGET_FRACTION, _MIN_PROBE_BUDGET)
        self.probe_budget = probe_budget
        self.m = effective_n_substrings(n_bits, n, n_substrings)
        self.n_bits = n_bits
        self.n_codes = n
        self.bounds = substring_bounds(n_bits, self.m)
        self.lengths = np.diff(self.bounds)
        keys = substring_keys(codes, self.bounds)
        self.tables = [_Table(keys[j], int(self.lengths[j])) for j in range(self.m)]
        # Row-major copy: checking a candidate reads its m keys from one place.
        self.keys = np.ascontiguousarray(keys.T)

    def query_keys(self, queries):
        """Substring values of the queries, shape ``(m, n_queries)``."""
        return substring_keys(queries, self.bounds)

    def lookup_cost(self, queries, radii):
        """Table entries a search up to each query's radius reads.

        Probes plus the candidate codes found in the probed buckets, per query,
        counted from the tables without computing a single distance: the work
        multi-index hashing would do, measured on the data itself (clustered
        codes have large buckets, random ones nearly empty buckets).
        """
        radii = np.broadcast_to(np.asarray(radii, dtype=np.int64), (queries.shape[0],))
        qkeys = self.query_keys(queries)
        cost = np.zeros(queries.shape[0])
        for r in range(int(radii.max(initial=-1)) + 1):
            j, s = r % self.m, r // self.m
            rows = np.flatnonzero(radii >= r)
            masks = _shell(int(self.lengths[j]), s)
            if rows.size == 0 or masks.size == 0:
                continue
            lo, hi = self.tables[j].ranges(
                (qkeys[j, rows][:, None] ^ masks[None, :]).ravel()
            )
            cost[rows] += masks.size + (hi - lo).reshape(rows.size, -1).sum(axis=1)
        return cost

    def _step(self, qkeys, active, r):
        """Codes counted at step ``r`` for the queries ``active``.

        Returns (query rows, database indices, distances), each pair once.
        """
        j, s = r % self.m, r // self.m
        masks = _shell(int(self.lengths[j]), s)
        empty = np.empty(0, dtype=np.int64)
        if masks.size == 0 or active.size == 0:
            return empty, empty, empty
        table = self.tables[j]
        qkeys_t = np.ascontiguousarray(qkeys.T)
        rows_out, idx_out, dist_out = [], [], []
        per = max(1, _PROBE_BATCH // masks.size)
        for a in range(0, active.size, per):
            rows = active[a : a + per]
            probes = (qkeys[j, rows][:, None] ^ masks[None, :]).ravel()
            lo, hi = table.ranges(probes)
            counts = hi - lo
            total = int(counts.sum())
            if total == 0:
                continue
            starts = np.cumsum(counts) - counts
            pos = np.repeat(lo - starts, counts) + np.arange(total)
            idx = table.order[pos]
            qrow = np.repeat(np.repeat(rows, masks.size), counts)
            sub = np.bitwise_count(self.keys[idx] ^ qkeys_t[qrow])
            # Count a pair only at its own step: j must be the first
            # substring with the smallest distance (see module docstring).
            own = np.argmin(sub, axis=1) == j
            rows_out.append(qrow[own])
            idx_out.append(idx[own].astype(np.int64))
            dist_out.append(sub[own].sum(axis=1, dtype=np.int64))
        if not rows_out:
            return empty, empty, empty
        return (
            np.concatenate(rows_out).astype(np.int64),
            np.concatenate(idx_out),
            np.concatenate(dist_out),
        )

    def radius(self, queries, radius):
        """Exact radius search; ragged (distances, indices) like the others."""
        n_queries = queries.shape[0]
        qkeys = self.query_keys(queries)
        active = np.arange(n_queries)
        parts = [self._step(qkeys, active, r) for r in range(int(radius) + 1)]
        rows, idx, dist = (np.concatenate([p[i] for p in parts]) for i in range(3))
        keep = dist <= radius
        rows, dist, idx = sort_triples(
            rows[keep], dist[keep], idx[keep], n_queries, self.n_bits + 2, self.n_codes
        )
        return to_ragged(rows, dist, idx, n_queries)

    def knn(self, queries, k, fallback):
        """Exact k-NN by growing the search radius; see the module docstring.

        ``fallback(rows, k)`` answers the queries ``queries[rows]`` exactly.
        """
        n_queries = queries.shape[0]
        out_dist = np.empty((n_queries, k), dtype=np.int32)
        out_idx = np.empty((n_queries, k), dtype=np.int64)
        chunk = max(1, _HISTOGRAM_CELLS // (self.n_bits + 2))
        for s in range(0, n_queries, chunk):
            e = min(s + chunk, n_queries)
            out_dist[s:e], out_idx[s:e] = self._knn_chunk(
                queries[s:e], k, lambda rows, k, s=s: fallback(rows + s, k)
            )
        return out_dist, out_idx

    def _knn_chunk(self, queries, k, fallback):
        n_queries = queries.shape[0]
        n_levels = self.n_bits + 2
        qkeys = self.query_keys(queries)
        out_dist = np.empty((n_queries, k), dtype=np.int32)
        out_idx = np.empty((n_queries, k), dtype=np.int64)
        # bound[q]: k-th smallest distance found so far (n_bits + 1 while
        # fewer than k are known); only codes within it can still matter.
        bound = np.full(n_queries, self.n_bits + 1, dtype=np.int64)
        hist = np.zeros((n_queries, n_levels), dtype=np.int64)
        found = [np.empty(0, dtype=np.int64)] * 3
        active = np.arange(n_queries)
        spent = 0
        for r in range(self.m * (int(self.lengths.max()) + 1)):
            j, s = r % self.m, r // self.m
            spent += math.comb(int(self.lengths[j]), s) if s <= self.lengths[j] else 0
            if spent > self.probe_budget:
                # Probing on would cost more than scanning the database.
                break
            rows, idx, dist = self._step(qkeys, active, r)
            keep = dist <= bound[rows]
            rows, idx, dist = rows[keep], idx[keep], dist[keep]
            if rows.size:
                np.add.at(hist, (rows, dist), 1)
                touched = np.unique(rows)
                cum = np.cumsum(hist[touched], axis=1)
                reached = cum[:, -1] >= k
                bound[touched[reached]] = np.argmax(cum[reached] >= k, axis=1)
                new = (rows, idx, dist)
                found = [
                    np.concatenate([f, x]) for f, x in zip(found, new, strict=True)
                ]
                keep = found[2] <= bound[found[0]]
                found = [f[keep] for f in found]
            done = active[bound[active] <= r]
            if done.size:
                self._emit(found, done, k, n_levels, out_dist, out_idx)
                is_done = np.zeros(n_queries, dtype=bool)
                is_done[done] = True
                keep = ~is_done[found[0]]
                found = [f[keep] for f in found]
                active = active[~is_done[active]]
            if active.size == 0:
                break
        if active.size:
            out_dist[active], out_idx[active] = fallback(active, k)
        return out_dist, out_idx

    def _emit(self, found, done, k, n_levels, out_dist, out_idx):
        is_done = np.zeros(out_dist.shape[0], dtype=bool)
        is_done[done] = True
        sel = is_done[found[0]]
        # Rows renumbered 0..len(done)-1 in the order of ``done`` (sorted).
        rows = np.searchsorted(done, found[0][sel])
        rows, dist, idx = sort_triples(
            rows, found[2][sel], found[1][sel], done.size, n_levels, self.n_codes
        )
        rows, dist, idx, _ = first_k_per_row(rows, dist, idx, done.size, k)
        out_dist[done], out_idx[done] = to_dense(dist, idx, done.size, k)
