"""Packed codes in a database: PostgreSQL (server) and DuckDB (embedded).

The indexes here answer exactly what :class:`~sklhash.neighbors.HammingIndex`
answers, with row ids in place of row positions, while the codes live in a
table beside the rest of an application's data:

* :class:`PostgresHammingIndex`: a ``bit(n)`` column, searched with
  ``bit_count(code # q)`` (PostgreSQL >= 14), loaded with binary ``COPY``.
* :class:`DuckDBHammingIndex`: ``UBIGINT`` words in an embedded file,
  searched with ``bit_count(xor(w, q))``; no server.
* :class:`PgvectorHammingIndex`: opt-in approximate search with pgvector's
  HNSW index (``bit_hamming_ops``) where the server has pgvector >= 0.7.
* :func:`open_index`: from ``postgresql://...`` or ``file.duckdb`` to the
  right one.

The database drivers are optional (``pip install 'sklhash[db]'``) and
imported on first use; nothing here imports torch.
"""

from ._duckdb import DuckDBHammingIndex
from ._open import driver_errors, open_index
from ._pgvector import PgvectorHammingIndex
from ._postgres import PostgresHammingIndex

__all__ = [
    "DuckDBHammingIndex",
    "PgvectorHammingIndex",
    "PostgresHammingIndex",
    "driver_errors",
    "open_index",
]
