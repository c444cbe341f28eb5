"""Import the optional Dask dependencies with an install hint when missing.

sklhash's core never imports Dask; only the functions of :mod:`sklhash.dask`
do, when they are called, so that ``import sklhash.dask`` itself costs
nothing and the streaming data source works on memory-mapped arrays alone.
"""

import importlib

_HINT = (
    "sklhash.dask needs the optional dependencies of the 'dask' extra: "
    "pip install 'sklhash[dask]' (dask[array,dataframe] and distributed)."
)


def import_optional(name):
    """Import module ``name`` (e.g. ``"dask.array"``) or explain how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"{_HINT} Importing {name!r} failed: {exc}") from exc


def is_dask_array(X):
    """Whether ``X`` is a dask array, without importing dask."""
    module = type(X).__module__ or ""
    return module.startswith("dask.array") and hasattr(X, "chunks")


def is_dask_dataframe(X):
    """Whether ``X`` is a dask DataFrame, without importing dask."""
    module = type(X).__module__ or ""
    return (
        module.startswith("dask") and hasattr(X, "columns") and hasattr(X, "to_delayed")
    )
