"""
Index and search: k-NN and radius queries over packed codes
===========================================================

:class:`sklhash.HammingIndex` searches packed codes exactly. Its backends
(numpy popcount, FAISS ``IndexBinaryFlat``, multi-index hashing) give the same
answer, ties broken by database index; :class:`sklhash.HashingNearestNeighbors`
goes straight from features to neighbours.
"""

# %%
import os
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits

from sklhash import HammingIndex, HashingNearestNeighbors, ITQHasher

X, y = load_digits(return_X_y=True)
hasher = ITQHasher(bits=32, random_state=0).fit(X)
codes = hasher.transform(X)

# %%
# Every backend returns identical neighbours.
rng = np.random.default_rng(0)
queries = codes[rng.choice(len(codes), 100, replace=False)]
answers = {}
for backend in ["numpy", "faiss", "mih"]:
    index = HammingIndex(backend=backend).fit(codes)
    t0 = time.perf_counter()
    answers[backend] = index.kneighbors(queries, n_neighbors=10)
    print(f"{backend:>6s}: {1e3 * (time.perf_counter() - t0):.1f} ms for 100 queries")
for backend in ["faiss", "mih"]:
    assert np.array_equal(answers[backend][1], answers["numpy"][1])

# %%
# Radius search: everything within Hamming distance 2 (ragged results).
index = HammingIndex().fit(codes)
_, ind = index.radius_neighbors(queries[:3], radius=2)
for i in ind:
    print(f"{len(i)} codes within radius 2; labels {np.bincount(y[i], minlength=10)}")

# %%
# Save and load: a small versioned binary format (header + raw codes).
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "digits.shi")
    index.save(path)
    again = HammingIndex.load(path)
    assert np.array_equal(
        again.kneighbors(queries, 5)[1], index.kneighbors(queries, 5)[1]
    )
    print("saved", os.path.getsize(path), "bytes for", again.n_codes_, "codes")

# %%
# From features to neighbours in one estimator.
nn = HashingNearestNeighbors(ITQHasher(bits=32, random_state=0), n_neighbors=5).fit(X)
dist, ind = nn.kneighbors(X[:3])
print("neighbours of the first three digits:", ind.tolist())
