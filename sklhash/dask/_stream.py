"""Shuffled mini-batches streamed block by block from a larger-than-memory array.

A deep hasher trains on mini-batches, so it never needs the whole training
set in memory at once: :class:`BlockStream` reads a dask array (computed
block by block on whatever scheduler is active) or a memory-mapped
``np.memmap`` (read from disk block by block) one buffer of blocks at a
time, shuffles the rows inside the buffer and yields mini-batches, while the
next buffer is read in a background thread.

Shuffling is two-level, as in tf.data's and WebDataset's shuffle buffers:
the order of the blocks is a fresh random permutation every epoch, and the
rows of ``blocks_per_buffer`` blocks are mixed together. Each row is yielded
exactly once per epoch. With ``blocks_per_buffer`` equal to the number of
blocks this is a full shuffle (and needs the memory of the whole array);
with 1 a batch draws its rows from one block, so the blocks should not be
sorted by class (shuffle the rows once when writing the data, or raise
``blocks_per_buffer``).

This module imports neither torch nor dask; :meth:`BlockStream.as_torch_dataset`
imports torch when called.
"""

from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numpy as np

from ._deps import is_dask_array

__all__ = ["BlockStream"]

# Default block height for arrays that have no chunks of their own: about
# 64 MiB of float32 a block.
_DEFAULT_BLOCK_BYTES = 64 << 20


def _check_int(value, name, minimum=1, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(
            f"{name} must be an integer >= {minimum}, got {name}={value!r}."
        )
    return int(value)


def _row_bounds(X, block_size):
    """Row ranges ``(start, stop)`` of the blocks."""
    n = X.shape[0]
    if block_size is None and is_dask_array(X):
        rows = X.chunks[0]
        if any(np.isnan(r) for r in rows):
            raise ValueError(
                "X has blocks of unknown size; call X.compute_chunk_sizes() "
                "(or give block_size) before streaming it."
            )
        stops = np.cumsum(rows, dtype=np.int64)
        starts = stops - np.asarray(rows, dtype=np.int64)
        return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b > a]
    if block_size is None:
        row_bytes = max(1, int(np.prod(X.shape[1:])) * 4)
        block_size = max(1, _DEFAULT_BLOCK_BYTES // row_bytes)
    return [(a, min(a + block_size, n)) for a in range(0, n, block_size)]


class BlockStream:
    """Shuffled mini-batches of a dask or memory-mapped array, block by block.

    Iterating over the stream runs one epoch: one pass over the data, every
    row exactly once, in batches of ``batch_size`` rows (the last one may be
    smaller). Each iteration draws a new shuffle from the stream's random
    generator, so successive epochs differ while the whole sequence is fixed
    by ``random_state``.

    Parameters
    ----------
    X : dask array or array-like of shape (n_samples, ...)
        Training data: a dask array (its row chunks are the blocks unless
        ``block_size`` is given; it may not be chunked along other axes), or
        anything with ``shape`` and row slicing such as an ``np.memmap`` or
        an HDF5/Zarr dataset.
    y : array-like of shape (n_samples, ...), default=None
        Per-row targets (class labels, indicator rows), sliced with the same
        rows as ``X``; a dask array is computed block by block too.
    batch_size : int, default=256
        Rows per mini-batch.
    block_size : int, default=None
        Rows read at a time. ``None``: the dask array's row chunks, or about
        64 MiB of float32 rows for other arrays.
    blocks_per_buffer : int, default=1
        Blocks whose rows are shuffled together; memory grows with it.
    shuffle : bool, default=True
        Shuffle block order and rows; ``False`` streams rows in order.
    drop_last : bool, default=False
        Drop a final batch smaller than ``batch_size``.
    dtype : numpy dtype, default=np.float32
        Dtype of the yielded ``X`` batches (what the deep hashers train on).
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffles.

    Attributes
    ----------
    n_samples : int
        Number of rows.
    n_blocks : int
        Number of non-empty blocks.

    Notes
    -----
    Passes and memory: an epoch reads the data once (``max_epochs`` epochs
    are ``max_epochs`` passes); at most two buffers are held at once, the
    one being batched and the next one being read, i.e. about
    ``2 * blocks_per_buffer * block_size * row_bytes`` plus one batch.

    Each batch is a dict: ``"X"`` (the rows, ``dtype``), ``"idx"`` (their
    row numbers, int64, to look up per-row targets) and ``"y"`` when ``y``
    is given. A block holding NaN or infinity raises a ``ValueError`` naming
    its rows and its number when it is read.

    Every deep hasher's ``fit`` takes a stream in place of ``X``:
    ``hasher.fit(BlockStream(X, y, batch_size=hasher.batch_size))`` trains
    without holding ``X`` in memory (see the hasher's ``fit``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.dask import BlockStream
    >>> X = np.arange(20, dtype=np.float32).reshape(10, 2)
    >>> stream = BlockStream(X, batch_size=4, block_size=3, random_state=0)
    >>> sizes = [len(batch["idx"]) for batch in stream]
    >>> sizes, stream.n_blocks, len(stream)
    ([4, 4, 2], 4, 3)
    >>> rows = np.concatenate([batch["idx"] for batch in stream])
    >>> sorted(rows.tolist()) == list(range(10))
    True
    """

    def __init__(
        self,
        X,
        y=None,
        *,
        batch_size=256,
        block_size=None,
        blocks_per_buffer=1,
        shuffle=True,
        drop_last=False,
        dtype=np.float32,
        random_state=None,
    ):
        if not hasattr(X, "shape") or len(X.shape) < 2:
            raise ValueError(
                "X must be a 2-d (or image) array with a shape, such as a dask "
                f"array or an np.memmap, got {type(X).__name__}."
            )
        if is_dask_array(X):
            split = [a for a in range(1, X.ndim) if len(X.chunks[a]) > 1]
            if split:
                raise ValueError(
                    f"X is chunked along axis {split[0]}; a block must hold whole "
                    "rows. Rechunk first: X.rechunk({1: -1})."
                )
        if not np.issubdtype(np.dtype(X.dtype), np.number):
            raise ValueError(f"X must hold numbers, got dtype {X.dtype}.")
        if y is not None:
            if not hasattr(y, "shape"):
                y = np.asarray(y)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"y has {y.shape[0]} rows but X has {X.shape[0]}; they must match."
                )
        self.X = X
        self.y = y
        self.batch_size = _check_int(batch_size, "batch_size")
        self.block_size = _check_int(block_size, "block_size", allow_none=True)
        self.blocks_per_buffer = _check_int(blocks_per_buffer, "blocks_per_buffer")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.dtype = np.dtype(dtype)
        self.random_state = random_state
        self._bounds = _row_bounds(X, self.block_size)
        self.n_samples = int(X.shape[0])
        self.n_blocks = len(self._bounds)
        seed = (
            random_state.randint(np.iinfo(np.int32).max)
            if isinstance(random_state, np.random.RandomState)
            else random_state
        )
        # Kept so that a copy (``_replace``) can restart the same shuffles.
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        """Number of batches in an epoch."""
        if self.drop_last:
            return self.n_samples // self.batch_size
        return -(-self.n_samples // self.batch_size)

    # -- reading -------------------------------------------------------------

    @staticmethod
    def _read(array, start, stop):
        part = array[start:stop]
        if is_dask_array(part):
            part = part.compute()
        return np.asarray(part)

    def _read_block(self, start, stop):
        """Rows ``start..stop`` of ``X`` as ``dtype``, checked finite."""
        x = self._read(self.X, start, stop).astype(self.dtype, copy=False)
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            k = self._bounds.index((start, stop))
            raise ValueError(
                f"X holds NaN or infinity in rows {start}..{stop - 1} (block "
                f"{k} of {self.n_blocks}, numbered from 0); clean the data "
                "before training."
            )
        return x

    def _read_buffer(self, blocks, rng):
        """Rows of ``blocks`` (shuffled when asked) with their row numbers."""
        xs, idxs, ys = [], [], []
        for start, stop in blocks:
            x = self._read_block(start, stop)
            xs.append(x)
            idxs.append(np.arange(start, stop, dtype=np.int64))
            if self.y is not None:
                ys.append(self._read(self.y, start, stop))
        if len(xs) == 1:  # no copy: the shuffle below makes the one needed
            x, idx, y = xs[0], idxs[0], ys[0] if ys else None
        else:
            x, idx = np.concatenate(xs), np.concatenate(idxs)
            y = np.concatenate(ys) if ys else None
        if self.shuffle:
            perm = rng.permutation(len(idx))
            x, idx = x[perm], idx[perm]
            y = None if y is None else y[perm]
        # A block of a memory-mapped file is read-only; torch tensors made
        # from the batches want memory of their own.
        if not x.flags.writeable:
            x = x.copy()
        if y is not None and not y.flags.writeable:
            y = y.copy()
        return x, idx, y

    # -- single passes (for the deep hashers' fit) -----------------------------

    def _replace(self, **changes):
        """A stream with these parameters changed, its shuffles restarted.

        Its generator starts from the seed this stream started from, so two
        copies yield the same epochs whatever this stream has yielded.
        """
        params = {
            "y": self.y,
            "batch_size": self.batch_size,
            "block_size": self.block_size,
            "blocks_per_buffer": self.blocks_per_buffer,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "dtype": self.dtype,
            "random_state": self._seed,
        }
        params.update(changes)
        return BlockStream(self.X, **params)

    def _feature_std(self):
        """Standard deviation (ddof=0) of every feature, in one pass, float64.

        Block statistics are merged with the pairwise update of Chan, Golub &
        LeVeque (1983), which stays accurate over many rows where summing
        squares would cancel. Memory: one block.
        """
        count, mean, m2 = 0, 0.0, 0.0
        for start, stop in self._bounds:
            x = self._read_block(start, stop).reshape(stop - start, -1)
            x = x.astype(np.float64)
            n_b, mean_b = len(x), x.mean(axis=0)
            m2_b = ((x - mean_b) ** 2).sum(axis=0)
            delta, total = mean_b - mean, count + n_b
            mean = mean + delta * (n_b / total)
            m2 = m2 + m2_b + delta**2 * (count * n_b / total)
            count = total
        return np.sqrt(m2 / count).reshape(self.X.shape[1:])

    def _row_sample(self, n_rows, seed):
        """All rows, or ``n_rows`` of them drawn uniformly (seeded), lazily.

        Returns an object sliced like an array (``shape``, ``[a:b]``) that
        reads the blocks holding the chosen rows, each once when sliced in
        order, keeping only the chosen rows of one block.
        """
        n = self.n_samples
        if n <= n_rows:
            rows = np.arange(n, dtype=np.int64)
        else:
            rows = np.random.default_rng(seed).choice(n, n_rows, replace=False)
        return _RowSample(self, rows)

    # -- iteration ------------------------------------------------------------

    def __iter__(self):
        """Yield the mini-batches of one epoch (dicts, see the class Notes)."""
        rng = np.random.default_rng(self._rng.integers(np.iinfo(np.int64).max))
        order = rng.permutation(self.n_blocks) if self.shuffle else range(self.n_blocks)
        groups = [
            [self._bounds[b] for b in list(order)[i : i + self.blocks_per_buffer]]
            for i in range(0, self.n_blocks, self.blocks_per_buffer)
        ]
        carry = None
        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = (
                reader.submit(self._read_buffer, groups[0], rng) if groups else None
            )
            for g in range(len(groups)):
                x, idx, y = pending.result()
                # Read the next buffer while this one is batched. The shared
                # rng is used by one buffer read at a time: deterministic.
                pending = (
                    reader.submit(self._read_buffer, groups[g + 1], rng)
                    if g + 1 < len(groups)
                    else None
                )
                first = 0
                if carry is not None and len(carry[1]):
                    # The rows left over from the last buffer are completed
                    # with this buffer's first rows: one batch is copied, not
                    # the whole buffer (the batches are those of the two
                    # buffers joined).
                    first = min(self.batch_size - len(carry[1]), len(idx))
                    head = slice(0, first)
                    carry = (
                        np.concatenate([carry[0], x[head]]),
                        np.concatenate([carry[1], idx[head]]),
                        None if y is None else np.concatenate([carry[2], y[head]]),
                    )
                    if len(carry[1]) < self.batch_size:
                        continue
                    yield self._batch(*carry, slice(None))
                n_full = (len(idx) - first) // self.batch_size * self.batch_size
                for s in range(first, first + n_full, self.batch_size):
                    yield self._batch(x, idx, y, slice(s, s + self.batch_size))
                # Copied, so that the buffer is freed before the next one.
                tail = slice(first + n_full, len(idx))
                carry = (
                    x[tail].copy(),
                    idx[tail].copy(),
                    None if y is None else y[tail].copy(),
                )
                del x, idx, y
        if carry is not None and len(carry[1]) and not self.drop_last:
            yield self._batch(*carry, slice(None))

    @staticmethod
    def _batch(x, idx, y, rows):
        batch = {"X": x[rows], "idx": idx[rows]}
        if y is not None:
            batch["y"] = y[rows]
        return batch

    def as_torch_dataset(self, targets=None):
        """Wrap this stream as a torch ``IterableDataset`` of whole batches.

        Parameters
        ----------
        targets : dict of str to ndarray, default=None
            Per-row arrays (first dimension ``n_samples``) added to every
            batch, indexed by the batch's row numbers, e.g. what a deep
            hasher's ``_fit_targets`` returns.

        Returns
        -------
        dataset : torch.utils.data.IterableDataset
            Yields ``(batch, y)`` pairs of tensors, the shape skorch's
            ``train_step`` unpacks; ``y`` is the batch's ``"y"`` or a zero
            placeholder. Use it with ``iterator_train__batch_size=None``
            (batches are formed here) and ``iterator_train__shuffle=False``.
        """
        from ._torch_dataset import StreamDataset

        return StreamDataset(self, targets)


class _RowSample:
    """Chosen rows of a stream's ``X``, sliced like an array, read by block.

    ``sample[a:b]`` returns the chosen rows at positions ``a..b`` (in row
    order) as ``stream.dtype``. The chosen rows of the last block read are
    cached, so slicing in order reads every block that holds chosen rows
    exactly once.
    """

    def __init__(self, stream, rows):
        self.stream = stream
        self.rows = np.sort(np.asarray(rows, dtype=np.int64))
        self.shape = (len(self.rows), *stream.X.shape[1:])
        self.dtype = stream.dtype
        stops = np.array([stop for _, stop in stream._bounds], dtype=np.int64)
        block = np.searchsorted(stops, self.rows, side="right")
        # Positions of block k's chosen rows: first[k]..first[k + 1].
        self._first = np.searchsorted(block, np.arange(stream.n_blocks + 1))
        self._block = block
        self._cached = (None, None)

    def __len__(self):
        return self.shape[0]

    def _chosen(self, k):
        if self._cached[0] != k:
            start, stop = self.stream._bounds[k]
            x = self.stream._read_block(start, stop)
            rows = self.rows[self._first[k] : self._first[k + 1]]
            self._cached = (k, x[rows - start])
        return self._cached[1]

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a row sample is sliced with [a:b] only")
        a, b, _ = key.indices(len(self))
        parts = []
        if b > a:
            for k in range(int(self._block[a]), int(self._block[b - 1]) + 1):
                p0, p1 = self._first[k], self._first[k + 1]
                if p1 > p0:
                    parts.append(self._chosen(k)[max(a, p0) - p0 : min(b, p1) - p0])
        if not parts:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        return np.concatenate(parts)
