"""Codes in a PostgreSQL table, searched exactly in SQL.

One row per code: ``id bigint primary key, code bit(n) not null, metadata
jsonb``. The distance is ``bit_count(code # q)`` (XOR then popcount, built
into PostgreSQL >= 14), a sequential scan that the server can split over
parallel workers. Loading uses binary ``COPY`` inside a transaction, so a
load that fails or whose connection drops leaves the table as it was.
Everything that comes from the user reaches the server as a query
parameter, a quoted identifier (``psycopg.sql.Identifier``) or, for the code
length and the table comment, a validated integer and a quoted literal.
"""

import re
import threading

import numpy as np

from ._base import BaseCodeStore
from ._bits import (
    PG_COPY_HEADER,
    PG_COPY_TRAILER,
    bitstrings_to_codes,
    codes_to_bitstrings,
    pg_copy_rows,
)
from ._checks import check_n_bits, check_table
from ._schema import make_marker, read_marker

# Rows per COPY write: bounds the client's buffer at a few MB.
_COPY_CHUNK = 65_536
_SCHEMES = ("postgresql://", "postgres://")


def import_psycopg():
    """psycopg 3, or an ImportError saying how to install it."""
    try:
        import psycopg
    except ImportError as exc:
        raise ImportError(
            "PostgresHammingIndex needs psycopg 3: pip install 'sklhash[db]' "
            "(or pip install 'psycopg[binary]')."
        ) from exc
    return psycopg


def mask_dsn(dsn):
    """The DSN with any password replaced by ``***``, for messages."""
    if "://" in dsn:
        dsn = re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", dsn)
        return re.sub(r"([?&]password=)[^&#]*", r"\1***", dsn)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)


def check_dsn(dsn):
    """A PostgreSQL URI (``postgresql://...``) or ``key=value`` conninfo."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise ValueError(
            f"dsn must be a PostgreSQL URI such as 'postgresql://user@host/db' or "
            f"a psycopg connection, got {type(dsn).__name__} {dsn!r}."
        )
    if "://" in dsn and not dsn.lower().startswith(_SCHEMES):
        scheme = dsn.split("://", 1)[0]
        raise ValueError(
            f"unknown DSN scheme {scheme!r} in {mask_dsn(dsn)!r}: "
            "PostgresHammingIndex takes postgresql:// or postgres:// URIs."
        )
    return dsn


def connect(dsn):
    """Open an autocommit connection; a failure names the masked DSN."""
    psycopg = import_psycopg()
    try:
        return psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(
            f"cannot connect to PostgreSQL at {mask_dsn(dsn)!r}: {detail}"
        ) from None


class PostgresHammingIndex(BaseCodeStore):
    """Exact Hamming k-NN and radius search over codes in PostgreSQL.

    The table (created on first use) holds ``id bigint primary key``,
    ``code bit(n)`` in numpy's packed bit order (bit 0 first) and an
    optional ``metadata jsonb``, beside whatever the rest of the
    application stores; a version marker in the table comment protects
    tables that sklhash did not create. Results are exactly those of
    :class:`~sklhash.neighbors.HammingIndex` over the codes taken in id
    order: sorted by Hamming distance, ties broken by the smaller id.

    Parameters
    ----------
    dsn : str or psycopg.Connection
        A ``postgresql://`` URI (or ``key=value`` conninfo), or an open
        psycopg 3 connection, which the index uses but never closes.
    table : str, default="sklhash_codes"
        Table name in the connection's current schema, used verbatim as a
        quoted identifier (case and punctuation kept).
    n_bits : int, default=None
        Code length. ``None``: the existing table's, or for a new table
        ``8 * n_bytes`` of the first codes added.
    parallel_workers : int, default=None
        ``max_parallel_workers_per_gather`` for searches (0: the backend
        process alone). ``None`` keeps the server's setting.

    Attributes
    ----------
    n_bits_ : int
        Code length of the table, once it exists.
    n_codes_ : int
        Number of rows (a ``count(*)``).

    See Also
    --------
    sklhash.store.DuckDBHammingIndex : The same in an embedded file.
    sklhash.neighbors.HammingIndex : In-memory search, the reference.

    Notes
    -----
    Every ``add`` takes a transaction-scoped advisory lock on the table, so
    concurrent writers from several connections serialise their id
    assignment and nothing is lost. The search is a sequential scan with a
    top-k sort: about 0.3-0.6 s a query at a million 64-bit codes on one
    core (see the store benchmark), far slower than an in-memory scan; the
    point of the table is serving codes beside the rest of the data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.store import PostgresHammingIndex
    >>> codes = np.array([[0b0000_0000], [0b1000_0000], [0b1100_0000]],
    ...                  dtype=np.uint8)
    >>> dsn = "postgresql://localhost/db"
    >>> with PostgresHammingIndex(dsn) as index:  # doctest: +SKIP
    ...     index.add(codes, ids=[10, 20, 30])
    ...     index.kneighbors(codes[:1], n_neighbors=2)
    array([10, 20, 30])
    (array([[0, 1]], dtype=int32), array([[10, 20]]))
    """

    def __init__(
        self, dsn, table="sklhash_codes", *, n_bits=None, parallel_workers=None
    ):
        psycopg = import_psycopg()
        self.table = check_table(table)
        self.n_bits = check_n_bits(n_bits)
        if parallel_workers is not None and (
            isinstance(parallel_workers, bool)
            or not isinstance(parallel_workers, int)
            or parallel_workers < 0
        ):
            raise ValueError(
                "parallel_workers must be None or an int >= 0, got "
                f"parallel_workers={parallel_workers!r}."
            )
        self.parallel_workers = parallel_workers
        if isinstance(dsn, psycopg.Connection):
            self._conn, self._owns = dsn, False
            self._dsn = "<connection>"
        else:
            dsn = check_dsn(dsn)
            self._dsn = mask_dsn(dsn)
            self._conn, self._owns = connect(dsn), True
        self._sql = psycopg.sql
        self._lock = threading.Lock()  # psycopg connections are not for two threads
        try:
            self._sync_n_bits()
        except BaseException:
            self.close()  # a refused table must not leak the connection
            raise

    # -- plumbing -------------------------------------------------------------

    def _where(self):
        return f"PostgreSQL {self._dsn}"

    def close(self):
        """Close the connection if this index opened it."""
        if self._owns and not self._conn.closed:
            self._conn.close()

    def _q(self, template, **parts):
        """A statement with the table name quoted in place of ``{t}``."""
        # psycopg looks for placeholders in the whole composed text, quoted
        # identifiers included: a '%' in the table name must be doubled in a
        # statement that takes parameters (and only there).
        ident = self._sql.Identifier(
            self.table.replace("%", "%%") if "%s" in template else self.table
        )
        return self._sql.SQL(template).format(t=ident, **parts)

    def _table_oid(self, cur):
        cur.execute(
            "SELECT c.oid, obj_description(c.oid, 'pg_class') FROM pg_class c "
            "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind IN ('r', 'p')",
            [self.table],
        )
        return cur.fetchone()

    def _read_n_bits_in(self, cur):
        row = self._table_oid(cur)
        if row is None:
            return None
        oid, comment = row
        n_bits = read_marker(comment, self.table, self._where())
        cur.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s AND attname = 'code' AND NOT attisdropped",
            [oid],
        )
        column = cur.fetchone()
        if column is None or column[0] != f"bit({n_bits})":
            raise ValueError(
                f"table {self.table!r} in {self._where()} is marked as {n_bits}-bit "
                f"codes but its code column is {column and column[0]!r}."
            )
        return n_bits

    def _read_n_bits(self):
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            return self._read_n_bits_in(cur)

    # -- writing ----------------------------------------------------------------

    def _write(self, codes, n_bits, ids, metadata, replace):
        psycopg = import_psycopg()
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            # One writer per table at a time: id assignment and table creation
            # stay consistent across connections; released at commit/rollback.
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                ["sklhash.store:" + self.table],
            )
            existing = self._read_n_bits_in(cur)
            if existing is None:
                cur.execute(
                    self._q(
                        "CREATE TABLE {t} (id bigint PRIMARY KEY, "
                        "code bit({n}) NOT NULL, metadata jsonb)",
                        n=self._sql.SQL(str(int(n_bits))),
                    )
                )
                cur.execute(
                    self._q(
                        "COMMENT ON TABLE {t} IS {m}",
                        m=self._sql.Literal(make_marker(n_bits)),
                    )
                )
            elif existing != n_bits:
                raise ValueError(
                    f"codes have {n_bits} bits but table {self.table!r} in "
                    f"{self._where()} holds {existing}-bit codes."
                )
            if replace:
                cur.execute(self._q("DELETE FROM {t}"))
            if ids is None:
                cur.execute(self._q("SELECT coalesce(max(id) + 1, 0) FROM {t}"))
                start = cur.fetchone()[0]
                ids = np.arange(start, start + codes.shape[0], dtype=np.int64)
            columns = "id, code, metadata" if metadata is not None else "id, code"
            try:
                with cur.copy(
                    self._q("COPY {t} (" + columns + ") FROM STDIN (FORMAT BINARY)")
                ) as copy:
                    copy.write(PG_COPY_HEADER)
                    for start in range(0, codes.shape[0], _COPY_CHUNK):
                        stop = start + _COPY_CHUNK
                        copy.write(
                            pg_copy_rows(
                                ids[start:stop],
                                codes[start:stop],
                                n_bits,
                                None if metadata is None else metadata[start:stop],
                            )
                        )
                    copy.write(PG_COPY_TRAILER)
            except psycopg.errors.UniqueViolation as exc:
                detail = exc.diag.message_detail or str(exc)
                raise ValueError(
                    f"ids already in table {self.table!r}: {detail} Nothing was added."
                ) from None
        return ids

    # -- reading ------------------------------------------------------------------

    def _search(self, queries, template, limit):
        n_bits = self.n_bits_
        stmt = self._q(template, n=self._sql.SQL(str(int(n_bits))))
        out = []
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            if self.parallel_workers is not None:
                cur.execute(
                    "SELECT set_config('max_parallel_workers_per_gather', %s, true)",
                    [str(self.parallel_workers)],
                )
            for q in codes_to_bitstrings(queries, n_bits):
                cur.execute(stmt, [q, limit], prepare=True)
                rows = cur.fetchall()
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                d = np.fromiter((r[1] for r in rows), dtype=np.int32, count=len(rows))
                out.append((ids, d))
        return out

    def _knn(self, queries, k):
        return self._search(
            queries,
            "SELECT id, bit_count(code # %s::bit({n})) AS d FROM {t} "
            "ORDER BY d, id LIMIT %s",
            k,
        )

    def _radius(self, queries, r):
        return self._search(
            queries,
            "SELECT id, d FROM (SELECT id, bit_count(code # %s::bit({n})) AS d "
            "FROM {t}) AS s WHERE d <= %s ORDER BY d, id",
            r,
        )

    def _delete(self, ids):
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(
                self._q("DELETE FROM {t} WHERE id = ANY(%s) RETURNING id"),
                [ids.tolist()],
            )
            found = {r[0] for r in cur.fetchall()}
            missing = [i for i in ids.tolist() if i not in found]
            if missing:
                # Leaving the block by an exception rolls the delete back.
                raise ValueError(
                    f"ids not in table {self.table!r}: {sorted(missing)[:10]}; "
                    "nothing was removed."
                )

    def _fetch(self, ids):
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(
                self._q("SELECT id, code::text, metadata FROM {t} WHERE id = ANY(%s)"),
                [ids.tolist()],
            )
            rows = cur.fetchall()
        codes = bitstrings_to_codes([r[1] for r in rows], self.n_bits_)
        return {r[0]: (codes[j], r[2]) for j, r in enumerate(rows)}

    def _export(self):
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(self._q("SELECT id, code::text FROM {t} ORDER BY id"))
            rows = cur.fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, bitstrings_to_codes([r[1] for r in rows], self.n_bits_)

    def _count(self):
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(self._q("SELECT count(*) FROM {t}"))
            return cur.fetchone()[0]

    def drop(self):
        """Drop the table (it must carry the sklhash marker)."""
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            if self._read_n_bits_in(cur) is not None:
                cur.execute(self._q("DROP TABLE {t}"))
        self.__dict__.pop("n_bits_", None)
