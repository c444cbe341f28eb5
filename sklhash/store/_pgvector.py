"""Approximate k-NN with pgvector's HNSW index on the same ``bit(n)`` table.

pgvector (>= 0.7) adds a Hamming operator ``<~>`` on PostgreSQL's own
``bit`` type and an HNSW index for it (``bit_hamming_ops``), so the table
layout is the one :class:`PostgresHammingIndex` writes. The graph search is
approximate: it is opt-in through this class, never a silent fallback, and
:meth:`PgvectorHammingIndex.recall` measures it against the exact scan.
Building the graph is slow for short codes (measured in DESIGN.md: 200k
64-bit codes, 357 s, against a 42 ms exact scan); it pays off only where a
long code makes the scan expensive.
"""

import hashlib
from numbers import Integral

import numpy as np

from ._bits import codes_to_bitstrings
from ._postgres import PostgresHammingIndex

_MIN_VERSION = (0, 7)


def _version_tuple(text):
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


def _check_positive(value, name, low):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {name}={value!r}.")
    return int(value)


class PgvectorHammingIndex(PostgresHammingIndex):
    """Approximate Hamming k-NN with a pgvector HNSW index (opt-in).

    Same table, constructor and methods as :class:`PostgresHammingIndex`,
    except that :meth:`kneighbors` walks an HNSW graph (Malkov & Yashunin,
    2018) built by :meth:`build_index`, so it may miss true neighbours.
    :meth:`radius_neighbors` stays an exact scan and :meth:`recall`
    compares the graph search with the exact one.

    Parameters
    ----------
    dsn : str or psycopg.Connection
        As for :class:`PostgresHammingIndex`; the server needs pgvector
        >= 0.7 (the extension is created if available and absent).
    table : str, default="sklhash_codes"
        Table name.
    n_bits : int, default=None
        Code length.
    parallel_workers : int, default=None
        ``max_parallel_workers_per_gather`` for the exact scans.
    m : int, default=16
        HNSW graph degree (pgvector's ``m``).
    ef_construction : int, default=64
        Candidate list size while building.
    ef_search : int, default=40
        Candidate list size while searching (raised to ``n_neighbors``
        when smaller, since HNSW returns at most ``ef_search`` rows).

    Attributes
    ----------
    n_bits_ : int
        Code length of the table, once it exists.
    n_codes_ : int
        Number of rows.
    pgvector_version_ : str
        The server's pgvector version.

    See Also
    --------
    PostgresHammingIndex : Exact search on the same table.

    References
    ----------
    .. [1] Y. A. Malkov and D. A. Yashunin, "Efficient and robust approximate
       nearest neighbor search using Hierarchical Navigable Small World
       graphs", IEEE TPAMI 42(4), 2018.

    Examples
    --------
    >>> from sklhash.store import PgvectorHammingIndex
    >>> index = PgvectorHammingIndex("postgresql://localhost/db")  # doctest: +SKIP
    >>> index.add(codes); index.build_index()  # doctest: +SKIP
    >>> index.recall(queries, n_neighbors=10)  # doctest: +SKIP
    0.97
    """

    def __init__(
        self,
        dsn,
        table="sklhash_codes",
        *,
        n_bits=None,
        parallel_workers=None,
        m=16,
        ef_construction=64,
        ef_search=40,
    ):
        self.m = _check_positive(m, "m", 2)
        self.ef_construction = _check_positive(ef_construction, "ef_construction", 4)
        self.ef_search = _check_positive(ef_search, "ef_search", 1)
        super().__init__(dsn, table, n_bits=n_bits, parallel_workers=parallel_workers)
        try:
            self.pgvector_version_ = self._ensure_extension()
        except BaseException:
            self.close()
            raise

    def _ensure_extension(self):
        psycopg = self._psycopg()
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    "SELECT default_version FROM pg_available_extensions "
                    "WHERE name = 'vector'"
                )
                if cur.fetchone() is None:
                    raise ValueError(
                        f"the server at {self._dsn!r} has no pgvector extension; "
                        "PostgresHammingIndex searches the same table exactly."
                    )
                try:
                    with self._conn.transaction():  # a savepoint: undone alone
                        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except psycopg.Error as exc:
                    raise ValueError(
                        f"cannot create the pgvector extension at {self._dsn!r}: "
                        f"{' '.join(str(exc).split())}"
                    ) from None
                cur.execute(
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                )
                row = cur.fetchone()
        version = row[0]
        if _version_tuple(version) < _MIN_VERSION:
            raise ValueError(
                f"pgvector {version} at {self._dsn!r} has no Hamming HNSW index; "
                "it needs pgvector >= 0.7."
            )
        return version

    @staticmethod
    def _psycopg():
        import psycopg

        return psycopg

    def _index_name(self):
        # A hash keeps the name within 63 bytes whatever the table's length.
        digest = hashlib.sha1(self.table.encode("utf-8")).hexdigest()[:16]
        return self._sql.Identifier(f"sklhash_hnsw_{digest}")

    def build_index(self):
        """Build the HNSW index on the code column (if not built yet).

        Returns
        -------
        self
            The index.
        """
        if self._read_n_bits() is None:
            raise ValueError(
                f"table {self.table!r} does not exist yet; add codes first."
            )
        stmt = self._q(
            "CREATE INDEX IF NOT EXISTS {i} ON {t} USING hnsw (code bit_hamming_ops) "
            "WITH (m = {m}, ef_construction = {ef})",
            i=self._index_name(),
            m=self._sql.Literal(self.m),
            ef=self._sql.Literal(self.ef_construction),
        )
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(stmt)
        return self

    def _knn(self, queries, k):
        n_bits = self.n_bits_
        stmt = self._q(
            "SELECT id, (code <~> %s::bit({n}))::int AS d FROM {t} "
            "ORDER BY code <~> %s::bit({n}) LIMIT %s",
            n=self._sql.SQL(str(int(n_bits))),
        )
        out = []
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('hnsw.ef_search', %s, true)",
                [str(max(self.ef_search, k))],
            )
            # The planner may prefer a (exact) sequential scan on a small
            # table; this class promises the graph search, so use it.
            cur.execute("SELECT set_config('enable_seqscan', 'off', true)")
            for q in codes_to_bitstrings(queries, n_bits):
                cur.execute(stmt, [q, q, k], prepare=True)
                rows = cur.fetchall()
                ids = np.array([r[0] for r in rows], dtype=np.int64)
                d = np.array([r[1] for r in rows], dtype=np.int32)
                # The graph returns candidates in its own order; present them
                # by (distance, id) like every other index.
                order = np.lexsort((ids, d))
                out.append((ids[order], d[order]))
        return out

    def exact_kneighbors(self, queries, n_neighbors=10, return_distance=True):
        """Exact k-NN by a full scan, as :class:`PostgresHammingIndex` does.

        Parameters
        ----------
        queries : ndarray of shape (n_queries, n_bytes), dtype uint8
            Packed query codes.
        n_neighbors : int, default=10
            Neighbours per query.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors), dtype int32
            Only when ``return_distance``.
        ids : ndarray of shape (n_queries, n_neighbors), dtype int64
            Row ids by (distance, id).
        """
        return self._kneighbors(super()._knn, queries, n_neighbors, return_distance)

    def recall(self, queries, n_neighbors=10):
        """Recall@k of the graph search against the exact scan.

        A returned code counts as a hit when its distance is at most the
        exact k-th distance of its query, so a code tied with the k-th
        neighbour is not counted as a miss (Hamming rankings are full of
        ties).

        Parameters
        ----------
        queries : ndarray of shape (n_queries, n_bytes), dtype uint8
            Packed query codes.
        n_neighbors : int, default=10
            The k of recall@k.

        Returns
        -------
        float
            Mean over queries of hits / k.
        """
        exact, _ = self.exact_kneighbors(queries, n_neighbors)
        approx, _ = self.kneighbors(queries, n_neighbors)
        return float(np.mean(approx <= exact[:, -1:]))
