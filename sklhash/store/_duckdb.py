"""Codes in an embedded DuckDB file, searched exactly in SQL.

One row per code: ``id BIGINT primary key``, the code as ``UBIGINT`` words
``w0 .. w{m-1}`` (big-endian, so bit 0 is the top bit of ``w0``; any code
length) and ``metadata JSON``. The distance is the sum of
``bit_count(xor(w_j, q_j))``, which DuckDB vectorises over the column and
spreads over its threads. No server: the file can be shipped with the
application, and ``":memory:"`` keeps everything in RAM.
"""

import json
import os
import threading
import uuid

import numpy as np

from ._base import BaseCodeStore
from ._bits import codes_to_words, n_words, words_to_codes
from ._checks import check_n_bits, check_table
from ._schema import make_marker, read_marker

# DuckDB has no advisory locks; one process holds a file's write lock, so a
# process-wide lock per (database, table) serialises id assignment between
# this process's connections.
_WRITE_LOCKS = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def import_duckdb():
    """duckdb, or an ImportError saying how to install it."""
    try:
        import duckdb
    except ImportError as exc:
        raise ImportError(
            "DuckDBHammingIndex needs duckdb: pip install 'sklhash[db]' (or pip "
            "install duckdb)."
        ) from exc
    return duckdb


def quote_identifier(name):
    """``name`` as a DuckDB quoted identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _write_lock(key):
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


class DuckDBHammingIndex(BaseCodeStore):
    """Exact Hamming k-NN and radius search over codes in a DuckDB file.

    The embedded choice: no server, one file (or ``":memory:"``). The table
    (created on first use) holds ``id BIGINT PRIMARY KEY``, the code as
    big-endian ``UBIGINT`` words and an optional ``metadata JSON``; a
    version marker in the table comment protects tables sklhash did not
    create. Results are exactly those of
    :class:`~sklhash.neighbors.HammingIndex` over the codes taken in id
    order: sorted by Hamming distance, ties broken by the smaller id.

    Parameters
    ----------
    path : str, os.PathLike or duckdb.DuckDBPyConnection
        Database file (created if absent; its folder must exist),
        ``":memory:"``, or an open DuckDB connection, which the index uses
        but never closes.
    table : str, default="sklhash_codes"
        Table name, used verbatim as a quoted identifier.
    n_bits : int, default=None
        Code length. ``None``: the existing table's, or for a new table
        ``8 * n_bytes`` of the first codes added.
    threads : int, default=None
        DuckDB's ``threads`` setting for the database (shared by all its
        connections). ``None`` keeps DuckDB's default (all cores).

    Attributes
    ----------
    n_bits_ : int
        Code length of the table, once it exists.
    n_codes_ : int
        Number of rows.

    See Also
    --------
    sklhash.store.PostgresHammingIndex : The same on a PostgreSQL server.
    sklhash.neighbors.HammingIndex : In-memory search, the reference.

    Notes
    -----
    DuckDB lets one process write a file at a time; within the process,
    writes to one table are serialised so concurrent ``add`` calls from
    several connections lose nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.store import DuckDBHammingIndex
    >>> codes = np.array([[0b0000_0000], [0b1000_0000], [0b1100_0000]],
    ...                  dtype=np.uint8)
    >>> with DuckDBHammingIndex(":memory:") as index:
    ...     ids = index.add(codes, ids=[10, 20, 30])
    ...     dist, ids = index.kneighbors(codes[2:], n_neighbors=2)
    >>> dist, ids
    (array([[0, 1]], dtype=int32), array([[30, 20]]))
    """

    def __init__(self, path, table="sklhash_codes", *, n_bits=None, threads=None):
        duckdb = import_duckdb()
        self.table = check_table(table)
        self.n_bits = check_n_bits(n_bits)
        self.threads = check_n_bits(threads, "threads")
        if isinstance(path, duckdb.DuckDBPyConnection):
            self._conn, self._owns, self._path = path, False, "<connection>"
        else:
            if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
                raise ValueError(
                    f"path must be a DuckDB file path, ':memory:' or a duckdb "
                    f"connection, got path={path!r}."
                )
            path = os.fspath(path)
            folder = os.path.dirname(os.path.abspath(path))
            if path != ":memory:" and not os.path.isdir(folder):
                raise ValueError(f"path {path!r}: folder {folder!r} does not exist.")
            try:
                self._conn = duckdb.connect(path)
            except duckdb.Error as exc:
                raise ValueError(
                    f"cannot open DuckDB database {path!r}: {exc}"
                ) from None
            self._owns, self._path = True, path
        if self.threads is not None:
            self._run(f"SET threads = {int(self.threads)}")
        self._ident = quote_identifier(self.table)
        self._lock = threading.RLock()  # one statement at a time per connection
        database = self._run(
            "SELECT coalesce(path, database_name) FROM duckdb_databases() "
            "WHERE database_name = current_database()"
        )[0][0]
        # In-memory databases have no path: key them by this connection.
        self._lock_key = (database if database != "memory" else id(self), self.table)
        try:
            self._sync_n_bits()
        except BaseException:
            self.close()  # a refused table must not leak the connection
            raise

    # -- plumbing -------------------------------------------------------------

    def _run(self, statement, params=None):
        # DuckDB >= 2 refuses new work on a connection with an unread result.
        return self._conn.execute(statement, params).fetchall()

    def _where(self):
        return f"DuckDB {self._path!r}"

    def close(self):
        """Close the connection if this index opened it."""
        if self._owns:
            self._conn.close()

    def _read_n_bits(self):
        with self._lock:
            return self._read_n_bits_locked()

    def _read_n_bits_locked(self):
        rows = self._run(
            "SELECT comment FROM duckdb_tables() WHERE table_name = ? AND "
            "schema_name = current_schema() AND database_name = current_database()",
            [self.table],
        )
        if not rows:
            return None
        n_bits = read_marker(rows[0][0], self.table, self._where())
        columns = [
            r[0]
            for r in self._conn.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND "
                "schema_name = current_schema() AND database_name = "
                "current_database() AND column_name LIKE 'w%' ORDER BY column_index",
                [self.table],
            ).fetchall()
        ]
        if columns != [f"w{j}" for j in range(n_words(n_bits))]:
            raise ValueError(
                f"table {self.table!r} in {self._where()} is marked as {n_bits}-bit "
                f"codes but has code columns {columns}."
            )
        return n_bits

    # -- writing ----------------------------------------------------------------

    def _write(self, codes, n_bits, ids, metadata, replace):
        duckdb = import_duckdb()
        m = n_words(n_bits)
        words = codes_to_words(codes)
        with _write_lock(self._lock_key), self._lock:
            self._conn.begin()
            source = f"sklhash_src_{uuid.uuid4().hex}"
            registered = False
            try:
                existing = self._read_n_bits()
                if existing is None:
                    cols = ", ".join(f"w{j} UBIGINT NOT NULL" for j in range(m))
                    self._run(
                        f"CREATE TABLE {self._ident} (id BIGINT PRIMARY KEY, {cols}, "
                        "metadata JSON)"
                    )
                    marker = make_marker(n_bits).replace("'", "''")
                    self._run(f"COMMENT ON TABLE {self._ident} IS '{marker}'")
                elif existing != n_bits:
                    raise ValueError(
                        f"codes have {n_bits} bits but table {self.table!r} in "
                        f"{self._where()} holds {existing}-bit codes."
                    )
                if replace:
                    self._run(f"DELETE FROM {self._ident}")
                if ids is None:
                    start = self._run(
                        f"SELECT coalesce(max(id) + 1, 0) FROM {self._ident}"
                    )[0][0]
                    ids = np.arange(start, start + codes.shape[0], dtype=np.int64)
                data = {"id": ids}
                data.update({f"w{j}": words[:, j] for j in range(m)})
                names = ", ".join(data)
                if metadata is not None:
                    data["metadata"] = np.array(
                        [None if d is None else d.decode("utf-8") for d in metadata],
                        dtype=object,
                    )
                    names += ", metadata"
                # The arrays are scanned in place by DuckDB (no copy to
                # Python objects); the view is private to this connection.
                self._conn.register(source, data)
                registered = True
                try:
                    self._run(
                        f"INSERT INTO {self._ident} ({names}) SELECT {names} FROM "
                        f"{source}"
                    )
                except duckdb.ConstraintException as exc:
                    raise ValueError(
                        f"ids already in table {self.table!r}: {exc} Nothing was added."
                    ) from None
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise
            finally:
                # Only after the transaction ends: an aborted one refuses it.
                if registered:
                    self._conn.unregister(source)
        return ids

    # -- reading ------------------------------------------------------------------

    def _distance_sql(self, m):
        return " + ".join(f"bit_count(xor(w{j}, ${j + 1}::UBIGINT))" for j in range(m))

    def _search(self, queries, template, limit):
        m = n_words(self.n_bits_)
        stmt = template.format(
            d=self._distance_sql(m), t=self._ident, limit=f"${m + 1}"
        )
        out = []
        with self._lock:
            for q in codes_to_words(queries).tolist():
                rows = self._conn.execute(stmt, [*q, limit]).fetchnumpy()
                out.append((rows["id"].astype(np.int64), rows["d"].astype(np.int32)))
        return out

    def _knn(self, queries, k):
        return self._search(
            queries,
            "SELECT id, ({d})::INTEGER AS d FROM {t} ORDER BY d, id LIMIT {limit}",
            k,
        )

    def _radius(self, queries, r):
        return self._search(
            queries,
            "SELECT id, d FROM (SELECT id, ({d})::INTEGER AS d FROM {t}) "
            "WHERE d <= {limit} ORDER BY d, id",
            r,
        )

    def _delete(self, ids):
        with _write_lock(self._lock_key), self._lock:
            self._conn.begin()
            try:
                found = self._conn.execute(
                    f"DELETE FROM {self._ident} WHERE id IN (SELECT unnest(?)) "
                    "RETURNING id",
                    [ids.tolist()],
                ).fetchall()
                found = {r[0] for r in found}
                missing = [i for i in ids.tolist() if i not in found]
                if missing:
                    raise ValueError(
                        f"ids not in table {self.table!r}: {sorted(missing)[:10]}; "
                        "nothing was removed."
                    )
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise

    def _fetch(self, ids):
        m = n_words(self.n_bits_)
        cols = ", ".join(f"w{j}" for j in range(m))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id, {cols}, metadata FROM {self._ident} "
                "WHERE id IN (SELECT unnest(?))",
                [ids.tolist()],
            ).fetchall()
        words = np.array([r[1 : m + 1] for r in rows], dtype=np.uint64).reshape(-1, m)
        codes = words_to_codes(words, self.n_bits_)
        return {
            r[0]: (codes[j], None if r[-1] is None else json.loads(r[-1]))
            for j, r in enumerate(rows)
        }

    def _export(self):
        m = n_words(self.n_bits_)
        cols = ", ".join(f"w{j}" for j in range(m))
        with self._lock:
            data = self._conn.execute(
                f"SELECT id, {cols} FROM {self._ident} ORDER BY id"
            ).fetchnumpy()
        words = np.stack([np.asarray(data[f"w{j}"]) for j in range(m)], axis=1)
        ids = np.asarray(data["id"], dtype=np.int64)
        return ids, words_to_codes(words.reshape(len(ids), m), self.n_bits_)

    def _count(self):
        with self._lock:
            return self._run(f"SELECT count(*) FROM {self._ident}")[0][0]

    def drop(self):
        """Drop the table (it must carry the sklhash marker)."""
        with _write_lock(self._lock_key), self._lock:
            if self._read_n_bits() is not None:
                self._run(f"DROP TABLE {self._ident}")
        self.__dict__.pop("n_bits_", None)
