"""Exact Hamming search over codes partitioned across Dask workers.

Exact k-NN shards by database rows: the best ``k`` of the whole database are
among the union of the best ``k`` of every partition. Each partition of codes
lives on a worker as a fitted :class:`~sklhash.neighbors.HammingIndex` (numpy
backend); a query batch is sent to every partition once, each returns its own
top ``min(k, n_partition)`` with *global* database indices, and the client
merges them by (distance, index). Partitions are kept in database order and
each one's answer is already sorted by (distance, index), so a stable sort of
the concatenated answers by distance yields exactly the order of
:class:`~sklhash.neighbors.HammingIndex` on all codes, ties included.
Radius search merges the same way.

The partitions one worker searches for a call share their running k-th
distances, so that ten partitions cost a worker about what one scan of their
codes costs (:mod:`sklhash.neighbors._partition`); a partition then returns
only its candidates within that bound, padded, which changes no answer.
"""

import threading
import uuid
from collections import OrderedDict
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator

from ..codes import check_codes, n_bytes
from ..neighbors._index import _check_n_neighbors, _check_radius
from ..neighbors._select import sort_triples, to_ragged
from ..utils._sklearn_compat import Interval, _fit_context, check_is_fitted
from ._deps import import_optional, is_dask_array

__all__ = ["DaskHammingIndex"]


class _Shard:
    """One partition on a worker: a numpy-backend HammingIndex of its codes.

    Only the codes travel when the scheduler moves a shard between workers;
    the index (and its transposed copy of the codes) is rebuilt on arrival.
    Pickling the HammingIndex itself would also do, but
    ``HammingIndex.__getstate__`` currently drops the live object's cache
    while pickling it, so a worker that sent a partition to a peer could
    then no longer search it.
    """

    def __init__(self, codes, n_bits):
        from ..neighbors import HammingIndex

        self.n_bits = n_bits
        self.index = HammingIndex(backend="numpy", n_bits=n_bits).fit(codes)

    def __getstate__(self):
        return {"codes": self.index.codes_, "n_bits": self.n_bits}

    def __setstate__(self, state):
        self.__init__(state["codes"], state["n_bits"])


def _build_partition(block, n_bits, width, number):
    """Index one partition of codes (runs on a worker)."""
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[1] != width or block.dtype != np.uint8:
        raise ValueError(
            f"partition {number} holds an array of shape {block.shape} and "
            f"dtype {block.dtype}, but the index holds uint8 codes of {width} "
            "bytes; every partition must hold codes of the same hasher."
        )
    if block.shape[0] == 0:
        return None
    return _Shard(block, n_bits)


def _partition_size(shard):
    return 0 if shard is None else shard.index.n_codes_


# Per search call, the k-th distances found so far by this process's
# partition tasks (see _partition_knn); a few calls at most, oldest dropped.
_BOUNDS = OrderedDict()
_BOUNDS_LOCK = threading.Lock()
_MAX_CALLS = 8


def _call_bound(call, n_queries, n_bits):
    """This process's shared bounds of search ``call`` (created unbounded)."""
    with _BOUNDS_LOCK:
        bound = _BOUNDS.get(call)
        if bound is None:
            bound = _BOUNDS[call] = np.full(n_queries, n_bits, dtype=np.int32)
            while len(_BOUNDS) > _MAX_CALLS:
                _BOUNDS.popitem(last=False)
        else:
            _BOUNDS.move_to_end(call)
        return bound


def _partition_knn(shard, queries, k, offset, call):
    """Top-``k`` candidates of one partition with global indices (on a worker).

    The partitions a process searches for one call share their running k-th
    distances: a partition searched after others keeps only codes within
    them, instead of warming its own threshold up from a loose start (which
    cost 10 partitions ~25% more CPU than one scan of all their codes).
    Rows are padded with distance ``n_bits + 1`` (see
    :func:`sklhash.neighbors._partition.knn_partition`); the answer is exact
    in any task order, after retries, and if the bounds were dropped.
    """
    from ..codes import _as_words
    from ..neighbors._partition import knn_partition

    index = shard.index
    bound = _call_bound(call, queries.shape[0], index.n_bits_)
    with _BOUNDS_LOCK:
        seed = bound.copy()
    dist, idx = knn_partition(
        index._columns(), _as_words(queries), k, index.n_bits_, offset, seed
    )
    if dist.shape[1] == k:
        # Padding (n_bits + 1) never lowers a bound.
        with _BOUNDS_LOCK:
            np.minimum(bound, dist[:, k - 1], out=bound)
    return dist, idx


def _partition_radius(shard, queries, radius, offset):
    """(query, distance, global index) of every hit of one partition (on a worker).

    Flat and unsorted: the client sorts all partitions' hits at once.
    """
    from ..codes import _as_words
    from ..neighbors._partition import radius_partition

    index = shard.index
    return radius_partition(
        index._columns(), _as_words(queries), radius, index.n_bits_, offset
    )


def _as_partitions(codes, name):
    """Split ``codes`` into (partition, declared width) pairs."""
    if isinstance(codes, (list, tuple)):
        if not codes:
            raise ValueError(f"{name} is an empty list; give at least one partition.")
        parts = []
        for i, part in enumerate(codes):
            if isinstance(part, (list, tuple)):
                raise ValueError(f"{name}[{i}] must be an array, not a list.")
            parts.extend(_as_partitions(part, f"{name}[{i}]"))
        return parts
    if is_dask_array(codes):
        _check_static(codes, name)
        width = int(codes.shape[1])
        return [(block, width) for block in codes.to_delayed().ravel()]
    if isinstance(codes, np.ndarray):
        _check_static(codes, name)
        return [(codes, int(codes.shape[1]))]
    raise ValueError(
        f"{name} must be a dask array of packed codes (or a numpy array, or a "
        f"list of them, one partition each), got {type(codes).__name__}."
    )


def _check_static(codes, name):
    # The shared validator on an empty stand-in: shape and dtype are known
    # without computing a block.
    check_codes(np.empty((0, *codes.shape[1:]), dtype=codes.dtype), input_name=name)
    if is_dask_array(codes) and len(codes.chunks[1]) > 1:
        raise ValueError(
            f"{name} is chunked along its columns (chunks {codes.chunks[1]}); a "
            "partition must hold whole codes. Rechunk: codes.rechunk({1: -1})."
        )


class DaskHammingIndex(BaseEstimator):
    """Exact k-NN and radius search over codes partitioned on Dask workers.

    The interface and the answers of :class:`~sklhash.neighbors.HammingIndex`
    (sorted by Hamming distance, ties broken by global database index),
    with the database left where it lies: each partition of the dask array
    given to :meth:`fit` becomes a numpy-backend ``HammingIndex`` persisted on
    the worker that holds it, searched in place; only queries and per
    partition top-k lists travel. Runs on the current Dask scheduler: a
    ``distributed.Client`` if one is active, else threads in this process.

    Parameters
    ----------
    n_bits : int, default=None
        Code length; ``None`` means ``8 * width`` (distances are the same
        either way, padding bits are zero).

    Attributes
    ----------
    partitions_ : list of dask.delayed.Delayed
        The persisted partitions (each a numpy-backend ``HammingIndex`` of
        its codes, on a worker), in database order; empty partitions are
        dropped.
    partition_sizes_ : ndarray of shape (n_partitions_,), dtype int64
        Codes in each partition.
    n_partitions_ : int
        Number of (non-empty) partitions.
    n_codes_ : int
        Number of indexed codes.
    n_bits_ : int
        Code length.

    See Also
    --------
    sklhash.neighbors.HammingIndex : The same search in one process.
    encode : Encode a dask collection into the codes this index takes.

    Notes
    -----
    Memory: a worker holds about twice the bytes of its codes (a
    ``HammingIndex`` keeps the codes and a transposed copy of them as 64-bit
    words; for 64-bit codes, 16 bytes a code). The client holds
    ``n_queries * k * n_partitions_`` candidates (12 bytes each) during the
    merge.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklhash.dask import DaskHammingIndex
    >>> from sklhash.neighbors import HammingIndex
    >>> codes = np.random.default_rng(0).integers(0, 256, (1000, 4), dtype=np.uint8)
    >>> index = DaskHammingIndex().fit(da.from_array(codes, chunks=(300, 4)))
    >>> index.n_codes_, index.n_partitions_
    (1000, 4)
    >>> dist, ind = index.kneighbors(codes[:5], n_neighbors=20)
    >>> ref = HammingIndex(backend="numpy").fit(codes).kneighbors(codes[:5], 20)
    >>> bool((dist == ref[0]).all() and (ind == ref[1]).all())
    True
    """

    _parameter_constraints: dict = {
        "n_bits": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, *, n_bits=None):
        self.n_bits = n_bits

    # -- building -----------------------------------------------------------

    def _build(self, codes, name, n_bits, first):
        """Persist one HammingIndex per partition; return them and their sizes.

        Every static check runs before any task; the tasks check what only
        the data knows (a partition whose real width differs from the
        declared one). Nothing is stored on ``self`` here, so a failure
        leaves a fitted index as it was.
        """
        dask = import_optional("dask")
        parts = _as_partitions(codes, name)
        widths = {w for _, w in parts}
        if len(widths) > 1:
            raise ValueError(
                f"{name} mixes code widths {sorted(widths)} (bytes) across "
                "partitions; every partition must hold codes of one hasher."
            )
        width = widths.pop()
        if n_bits is None:
            n_bits = 8 * width if self.n_bits is None else int(self.n_bits)
            if n_bytes(n_bits) != width:
                raise ValueError(
                    f"n_bits={n_bits} does not fit codes of {width} bytes "
                    f"(expected {8 * width - 7} to {8 * width} bits)."
                )
        elif n_bytes(n_bits) != width:
            raise ValueError(
                f"{name} are codes of {width} bytes but the index holds codes of "
                f"{n_bytes(n_bits)} bytes (n_bits={n_bits}); encode them with "
                "the same hasher."
            )
        built = [
            dask.delayed(_build_partition, pure=True)(block, n_bits, width, first + i)
            for i, (block, _) in enumerate(parts)
        ]
        built = dask.persist(*built)
        sizes = dask.compute(
            *[dask.delayed(_partition_size, pure=True)(b) for b in built]
        )
        keep = [i for i, s in enumerate(sizes) if s > 0]
        return (
            [built[i] for i in keep],
            np.asarray([sizes[i] for i in keep], dtype=np.int64),
            n_bits,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, codes, y=None):
        """Index partitioned codes, replacing any previous content.

        Parameters
        ----------
        codes : dask array of shape (n_codes, n_bytes), dtype uint8, or list
            Packed codes, one chunk along the columns; each row block is a
            partition (any row chunking, empty blocks allowed). A numpy array
            is one partition; a list of arrays gives one partition each
            (all of one width).
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : DaskHammingIndex
            The fitted index.
        """
        parts, sizes, n_bits = self._build(codes, "codes", None, first=0)
        if sizes.sum() == 0:
            raise ValueError(
                "codes must hold at least one code; all partitions are empty."
            )
        self.partitions_ = parts
        self.partition_sizes_ = sizes
        self.n_partitions_ = len(parts)
        self.n_codes_ = int(sizes.sum())
        self.n_bits_ = n_bits
        return self

    def add(self, codes):
        """Append partitions of codes; they get the next database indices.

        Parameters
        ----------
        codes : dask array of shape (n_new, n_bytes), dtype uint8, or list
            Packed codes of the index's width, as in :meth:`fit`.

        Returns
        -------
        self : DaskHammingIndex
            The index, now holding ``n_codes_ + n_new`` codes.
        """
        check_is_fitted(self)
        parts, sizes, _ = self._build(
            codes, "codes", self.n_bits_, first=self.n_partitions_
        )
        self.partitions_ = self.partitions_ + parts
        self.partition_sizes_ = np.concatenate([self.partition_sizes_, sizes])
        self.n_partitions_ = len(self.partitions_)
        self.n_codes_ = int(self.partition_sizes_.sum())
        return self

    # -- search -------------------------------------------------------------

    def _check_queries(self, queries):
        check_is_fitted(self)
        if is_dask_array(queries):
            # Queries are few next to the database: gather them once.
            queries = queries.compute()
        queries = np.asarray(queries)
        if queries.ndim != 2 or queries.dtype != np.uint8:
            raise ValueError(
                "queries must be a 2-d uint8 array of packed codes, got shape "
                f"{queries.shape} and dtype {queries.dtype}."
            )
        width = n_bytes(self.n_bits_)
        if queries.shape[1] != width:
            raise ValueError(
                f"queries are codes of {queries.shape[1]} bytes but the index "
                f"holds codes of {width} bytes (n_bits={self.n_bits_}); encode "
                "them with the same hasher."
            )
        pad = 8 * width - self.n_bits_
        if pad and queries.shape[0] and (queries[:, -1] & ((1 << pad) - 1)).any():
            raise ValueError(
                f"queries have non-zero padding bits beyond n_bits={self.n_bits_}; "
                "packed codes from transform / pack_codes always pad with 0."
            )
        return np.ascontiguousarray(queries)

    def _offsets(self):
        return np.concatenate([[0], np.cumsum(self.partition_sizes_)[:-1]])

    def kneighbors(self, queries, n_neighbors=10, return_distance=True):
        """The ``n_neighbors`` nearest codes of each query, over all partitions.

        Parameters
        ----------
        queries : array-like of shape (n_queries, n_bytes), dtype uint8
            Packed query codes of the index's width (a dask array is
            computed first).
        n_neighbors : int, default=10
            Neighbours per query, between 1 and ``n_codes_``; may exceed a
            partition's size.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors), dtype int32
            Hamming distances, ascending. Only when ``return_distance``.
        indices : ndarray of shape (n_queries, n_neighbors), dtype int64
            Global database indices; among equal distances the smaller first.
        """
        queries = self._check_queries(queries)
        k = _check_n_neighbors(n_neighbors, self.n_codes_)
        n_q = queries.shape[0]
        if n_q == 0:
            dist = np.empty((0, k), dtype=np.int32)
            idx = np.empty((0, k), dtype=np.int64)
            return (dist, idx) if return_distance else idx
        dask = import_optional("dask")
        # One key for the queries, sent once to each worker that needs them;
        # unique to this call, as it also names the bounds its partition
        # tasks share on each worker.
        call = uuid.uuid4().hex
        q = dask.delayed(queries, name=f"sklhash-queries-{call}")
        tasks = [
            dask.delayed(_partition_knn, pure=True)(part, q, k, int(off), call)
            for part, off in zip(self.partitions_, self._offsets(), strict=True)
        ]
        answers = dask.compute(*tasks)
        dist = np.concatenate([a[0] for a in answers], axis=1)
        idx = np.concatenate([a[1] for a in answers], axis=1).astype(
            np.int64, copy=False
        )
        # Partitions are in database order and each answer is sorted by
        # (distance, index): a stable sort by distance keeps ties in index
        # order. Padding (distance n_bits + 1) sorts last, and at least k real
        # candidates exist (the database's k nearest).
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
        dist = np.take_along_axis(dist, order, axis=1).astype(np.int32, copy=False)
        idx = np.take_along_axis(idx, order, axis=1)
        return (dist, idx) if return_distance else idx

    def radius_neighbors(self, queries, radius, return_distance=True):
        """All codes within Hamming distance ``radius`` of each query.

        Parameters
        ----------
        queries : array-like of shape (n_queries, n_bytes), dtype uint8
            Packed query codes of the index's width.
        radius : float
            Largest distance included (``d <= radius``), at least 0.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries,), dtype object
            Per query, an int32 array of distances, ascending. Only when
            ``return_distance``.
        indices : ndarray of shape (n_queries,), dtype object
            Per query, an int64 array of global database indices, sorted by
            distance then index.
        """
        queries = self._check_queries(queries)
        radius = _check_radius(radius)
        n_q = queries.shape[0]
        if n_q == 0:
            empty = np.empty(0, dtype=object)
            return (empty, empty) if return_distance else empty
        dask = import_optional("dask")
        q = dask.delayed(
            queries, name=f"sklhash-queries-{dask.base.tokenize(queries)}"
        )
        tasks = [
            dask.delayed(_partition_radius, pure=True)(part, q, radius, int(off))
            for part, off in zip(self.partitions_, self._offsets(), strict=True)
        ]
        answers = dask.compute(*tasks)
        # One sort of every hit by (query, distance, global index), as
        # HammingIndex sorts the hits of one database.
        rows, dist, idx = sort_triples(
            *(np.concatenate([a[i] for a in answers]) for i in range(3)),
            n_q,
            self.n_bits_ + 2,
            self.n_codes_,
        )
        dist_out, idx_out = to_ragged(rows, dist, idx, n_q)
        return (dist_out, idx_out) if return_distance else idx_out
