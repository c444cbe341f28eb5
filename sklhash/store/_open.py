"""One entry point from a location string to the right database index."""

import os

from ._duckdb import DuckDBHammingIndex
from ._postgres import PostgresHammingIndex, mask_dsn

_DUCKDB_SUFFIXES = (".duckdb", ".ddb")


def driver_errors():
    """The base exception classes of the installed database drivers.

    For callers that report every failure in one line (the command line): a
    server that goes away mid-load raises the driver's own error, not a
    ``ValueError``.

    Returns
    -------
    tuple of type
        ``psycopg.Error`` and ``duckdb.Error``, those that are installed.
    """
    errors = []
    for module, name in (("psycopg", "Error"), ("duckdb", "Error")):
        try:
            errors.append(getattr(__import__(module), name))
        except ImportError:
            continue
    return tuple(errors)


def open_index(uri, *, table="sklhash_codes", n_bits=None, create=True):
    """Open a database index from a location string.

    Parameters
    ----------
    uri : str or os.PathLike
        ``postgresql://...`` or ``postgres://...``: a
        :class:`PostgresHammingIndex`. ``duckdb:<path>``, a path ending in
        ``.duckdb`` or ``.ddb``, or ``duckdb::memory:``: a
        :class:`DuckDBHammingIndex`.
    table : str, default="sklhash_codes"
        Table name.
    n_bits : int, default=None
        Code length (``None``: the table's, or taken from the first codes).
    create : bool, default=True
        Whether a missing DuckDB file or table may be created (on the first
        ``add``). ``False`` (for searching) makes either a ``ValueError``.

    Returns
    -------
    PostgresHammingIndex or DuckDBHammingIndex
        The open index; close it (or use it as a context manager) when done.

    Examples
    --------
    >>> from sklhash.store import open_index
    >>> with open_index("duckdb::memory:") as index:
    ...     print(type(index).__name__, len(index))
    DuckDBHammingIndex 0
    >>> open_index("mysql://db/codes")
    Traceback (most recent call last):
    ...
    ValueError: unknown index location scheme 'mysql' in 'mysql://db/codes': ...
    """
    if isinstance(uri, os.PathLike):
        uri = os.fspath(uri)
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"uri must be a non-empty string, got uri={uri!r}.")
    lower = uri.lower()
    if lower.startswith(("postgresql://", "postgres://")):
        index = PostgresHammingIndex(uri, table, n_bits=n_bits)
    elif lower.startswith("duckdb:") or (
        "://" not in uri and lower.endswith(_DUCKDB_SUFFIXES)
    ):
        path = uri[len("duckdb:") :] if lower.startswith("duckdb:") else uri
        if not create and path != ":memory:" and not os.path.isfile(path):
            raise ValueError(f"DuckDB file {path!r} does not exist.")
        index = DuckDBHammingIndex(path, table, n_bits=n_bits)
    else:
        index = None
    if index is not None:
        if not create and not hasattr(index, "n_bits_"):
            index.close()
            raise ValueError(f"table {table!r} does not exist in {mask_dsn(uri)!r}.")
        return index
    scheme = uri.split("://", 1)[0] if "://" in uri else None
    what = f"scheme {scheme!r}" if scheme else "location"
    raise ValueError(
        f"unknown index location {what} in {mask_dsn(uri)!r}: use "
        "postgresql://user@host/db, a file ending in .duckdb, or duckdb:<path>."
    )
