"""
Codes in a database: an embedded DuckDB file
============================================

:class:`sklhash.store.DuckDBHammingIndex` keeps packed codes in a DuckDB table
beside the items' ids and metadata, and answers k-NN and radius queries in
SQL with exactly :class:`sklhash.neighbors.HammingIndex`'s answers (ties
broken by id). :class:`sklhash.store.PostgresHammingIndex` does the same on a
PostgreSQL server (``PostgresHammingIndex("postgresql://user@host/db")``).
"""

# %%
import os
import shutil
import tempfile

import numpy as np
from sklearn.datasets import load_digits

from sklhash import ITQHasher
from sklhash.neighbors import HammingIndex
from sklhash.store import DuckDBHammingIndex

X, y = load_digits(return_X_y=True)
hasher = ITQHasher(bits=32, random_state=0).fit(X)
codes = hasher.transform(X)
item_ids = 1000 + np.arange(len(X)) * 10  # the application's own ids

# %%
# Store the codes with ids and a JSON document per item, in one transaction.
folder = tempfile.mkdtemp()
path = os.path.join(folder, "digits.duckdb")
with DuckDBHammingIndex(path, table="digit_codes") as index:
    index.add(codes, ids=item_ids, metadata=[{"label": int(label)} for label in y])
    print(f"{len(index)} codes of {index.n_bits_} bits in {path}")

# %%
# Reopen the file (the table remembers its code length) and search.
with DuckDBHammingIndex(path, table="digit_codes") as index:
    queries = hasher.transform(X[:3])
    dist, ids = index.kneighbors(queries, n_neighbors=5)
    _, metadata = index.get(ids[0])
    print("neighbours of item", item_ids[0], ":", ids[0].tolist())
    print("their labels:", [doc["label"] for doc in metadata])

    # The same answer as the in-memory index, ids in place of positions.
    ref_dist, pos = HammingIndex().fit(codes).kneighbors(queries, n_neighbors=5)
    assert np.array_equal(dist, ref_dist) and np.array_equal(ids, item_ids[pos])

    # Radius search: every code within Hamming distance 3.
    _, within = index.radius_neighbors(queries, radius=3)
    print("codes within radius 3:", [len(w) for w in within])

    # Delete, then search again: removed items are gone from every answer.
    index.remove(ids[0][1:3])
    print("after removing two:", index.kneighbors(queries[:1], n_neighbors=5)[1][0])

shutil.rmtree(folder)
