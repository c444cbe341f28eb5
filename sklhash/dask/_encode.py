"""Encode a dask collection with a fitted hasher, block by block.

Codes are per row, so encoding is embarrassingly parallel: each block of rows
of the input becomes the block of packed codes of the same rows. The output is
declared with explicit ``chunks=`` (same row chunks, one column chunk of
``ceil(n_bits / 8)`` bytes), ``dtype=np.uint8`` and a ``uint8`` meta, so dask
knows the true shape without running anything (dask-ml's
``ParallelPostFit.transform`` omits ``chunks=`` and declares the input's
column count, dask/dask-ml#773).

The fitted model travels once per worker. With a ``distributed.Client`` as
the active scheduler it is scattered to every worker (``broadcast=True``)
before the graph is built, and the graph holds only a reference to it: each
worker deserialises it once, however many blocks it encodes, and the
scheduler never unpickles it (so the scheduler needs neither torch nor the
model's memory). A worker that joins later, or replaces a lost one, fetches
it from a peer. Without a distributed scheduler the model is one key of the
graph, shared in memory by the threads that encode the blocks.
"""

import sys

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..codes import n_bytes
from ._deps import import_optional, is_dask_array, is_dask_dataframe

__all__ = ["encode"]


def _final_step(estimator):
    """The hasher that produces the codes: ``estimator`` or a Pipeline's last step."""
    if not hasattr(estimator, "transform"):
        raise ValueError(
            "estimator must be a fitted sklhash hasher or a Pipeline ending in "
            f"one, got {type(estimator).__name__}, which has no transform method."
        )
    # NotFittedError is a ValueError: an unfitted model fails here, before
    # any graph is built.
    check_is_fitted(estimator)
    final = estimator
    if hasattr(estimator, "steps"):
        final = estimator.steps[-1][1]
    n_bits = getattr(final, "n_bits_", None)
    if n_bits is None:
        raise ValueError(
            "estimator must be a fitted sklhash hasher or a Pipeline ending in "
            f"one; its last step {type(final).__name__} has no n_bits_, so the "
            "width of its codes is unknown."
        )
    return final, int(n_bits)


def _check_n_features(estimator, n_features, what):
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and n_features != expected:
        raise ValueError(
            f"X has {n_features} {what}, but {type(estimator).__name__} was "
            f"fitted on {expected} features."
        )


def _check_array(X, estimator):
    if X.ndim < 2:
        raise ValueError(
            f"X must be a 2-d dask array (n_samples, n_features), got a "
            f"{X.ndim}-d array of shape {X.shape}."
        )
    split = [axis for axis in range(1, X.ndim) if len(X.chunks[axis]) > 1]
    if split:
        raise ValueError(
            f"X is chunked along axis {split[0]} (chunks {X.chunks[split[0]]}); "
            "a hasher needs every feature of a row in one block. Rechunk "
            "first: X.rechunk({1: -1})."
        )
    if not (np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)):
        raise ValueError(f"X must hold numbers, got dtype {X.dtype}.")
    _check_n_features(estimator, X.shape[1], "features")


def _check_frame(X, estimator):
    columns = list(X.columns)
    _check_n_features(estimator, len(columns), "columns")
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and columns != list(names):
        raise ValueError(
            f"X has columns {columns[:5]}{'...' if len(columns) > 5 else ''}, "
            f"but {type(estimator).__name__} was fitted on columns "
            f"{list(names)[:5]}{'...' if len(names) > 5 else ''} (same names, "
            "same order)."
        )
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    bad = [
        c for c, t in X.dtypes.items() if not (is_numeric_dtype(t) or is_bool_dtype(t))
    ]
    if bad:
        raise ValueError(f"X must hold numbers; columns {bad[:5]} do not.")


def _encode_block(block, model, width):
    """Codes of one block of rows (runs on a worker)."""
    if block.shape[0] == 0:
        # scikit-learn's validation refuses 0 rows; an empty partition has
        # empty codes.
        return np.empty((0, width), dtype=np.uint8)
    codes = np.asarray(model.transform(block))
    if codes.dtype != np.uint8 or codes.shape != (block.shape[0], width):
        raise ValueError(
            f"{type(model).__name__}.transform returned an array of shape "
            f"{codes.shape} and dtype {codes.dtype} for a block of "
            f"{block.shape[0]} rows; packed codes of shape ({block.shape[0]}, "
            f"{width}) and dtype uint8 were expected."
        )
    return codes


def _active_client():
    """The distributed Client that dask would compute on now, or None."""
    if "distributed" not in sys.modules:
        return None
    import dask

    if dask.config.get("scheduler", None) not in (None, "dask.distributed"):
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def encode(estimator, X, *, scatter="auto"):
    """Packed codes of a dask array or DataFrame, computed block by block.

    Parameters
    ----------
    estimator : estimator
        A fitted sklhash hasher, or a fitted :class:`~sklearn.pipeline.Pipeline`
        whose last step is one. It enters the task graph once: each worker
        deserialises it once, whatever the number of blocks. A deep hasher
        trained on a GPU loads its weights on the CPU of a worker that has
        none (skorch maps them when unpickling).
    X : dask array of shape (n_samples, n_features) or dask DataFrame
        Rows to encode. A dask array must hold every feature of a row in
        one block (one chunk along the columns; rows may be chunked in any
        way, including empty blocks and blocks of unknown size). Image
        arrays of shape (n_samples, C, H, W) go to hashers with
        ``backbone="cnn"``. A DataFrame's partitions reach ``transform`` as
        pandas frames, so column names are checked as in ``transform``.
    scatter : {"auto", True, False}, default="auto"
        How the model reaches the workers. ``True``: scatter it to every
        worker of the active ``distributed.Client`` now (needs one), so the
        scheduler never deserialises it; compute the codes on that client.
        ``False``: embed it in the graph as one key (fine for the threaded
        scheduler and for small models). ``"auto"``: ``True`` when a
        distributed Client is the active scheduler, else ``False``.

    Returns
    -------
    codes : dask array of shape (n_samples, ceil(n_bits_ / 8)), dtype uint8
        Lazy codes with the row chunks of ``X`` (unknown for a DataFrame:
        call ``codes.compute_chunk_sizes()`` when you need them); block ``i``
        equals ``estimator.transform`` of block ``i`` of ``X``, byte for byte.

    Raises
    ------
    ValueError
        Before any task runs: the estimator is not fitted (scikit-learn's
        ``NotFittedError``, a ``ValueError``) or does not end in a hasher;
        ``X`` has the wrong number of features, is chunked along its
        columns, or does not hold numbers.

    See Also
    --------
    DaskHammingIndex : Search the codes where they lie.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklhash import ITQHasher
    >>> from sklhash.dask import encode
    >>> X = np.random.default_rng(0).normal(size=(1000, 20)).astype(np.float32)
    >>> hasher = ITQHasher(bits=12, random_state=0).fit(X[:200])
    >>> codes = encode(hasher, da.from_array(X, chunks=(300, 20)))
    >>> codes.shape, codes.chunks, codes.dtype
    ((1000, 2), ((300, 300, 300, 100), (2,)), dtype('uint8'))
    >>> bool((codes.compute() == hasher.transform(X)).all())
    True
    """
    if scatter not in ("auto", True, False):
        raise ValueError(f"scatter must be 'auto', True or False, got {scatter!r}.")
    final, n_bits = _final_step(estimator)
    width = n_bytes(n_bits)
    dask = import_optional("dask")
    da = import_optional("dask.array")
    frame = "dask.dataframe" in sys.modules and is_dask_dataframe(X)
    if not (frame or is_dask_array(X)):
        raise ValueError(
            "X must be a dask array or a dask DataFrame, got "
            f"{type(X).__name__}; for an in-memory array call "
            "estimator.transform(X) directly, or wrap it with "
            "dask.array.from_array."
        )
    meta = np.empty((0, width), dtype=np.uint8)
    if frame:
        _check_frame(X, estimator)
    else:
        _check_array(X, estimator)
    client = _active_client()
    if scatter is True and client is None:
        raise ValueError(
            "scatter=True needs an active distributed.Client; create one, or "
            "pass scatter=False (or 'auto')."
        )
    # One key for the model, shared by every block task (see the module
    # docstring).
    if scatter is False or client is None:
        # tokenize gives equal models equal keys.
        model = dask.delayed(
            estimator, name=f"sklhash-model-{dask.base.tokenize(estimator)}"
        )
    else:
        # hash=False: a random key, instead of pickling the model once more
        # only to name it.
        model = client.scatter(estimator, broadcast=True, hash=False)
    if frame:
        blocks = [
            da.from_delayed(
                dask.delayed(_encode_block, pure=True)(part, model, width),
                shape=(np.nan, width),
                dtype=np.uint8,
                meta=meta,
            )
            for part in X.to_delayed()
        ]
        return da.concatenate(blocks, axis=0)
    return da.map_blocks(
        _encode_block,
        X,
        model=model,
        width=width,
        chunks=(X.chunks[0], (width,)),
        drop_axis=list(range(2, X.ndim)),
        dtype=np.uint8,
        meta=meta,
        token=f"sklhash-encode-{type(final).__name__.lower()}",
    )
