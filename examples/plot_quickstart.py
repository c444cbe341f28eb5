"""
Quick start: encode, search and evaluate
========================================

Fit a hasher in a scikit-learn pipeline, encode a database and queries to
packed binary codes, search them with :class:`sklhash.HammingIndex` and score
the ranking with the tie-exact mAP of :mod:`sklhash.metrics`.
"""

# %%
# Data: scikit-learn's digits, 200 queries, the rest is the database.
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklhash import HammingIndex, ITQHasher, LSHHasher
from sklhash.metrics import mean_average_precision

X, y = load_digits(return_X_y=True)
X_db, X_q, y_db, y_q = train_test_split(X, y, test_size=200, stratify=y, random_state=0)

# %%
# A hasher is a transformer: ``transform`` returns ``ceil(bits/8)`` bytes a row.
pipe = make_pipeline(StandardScaler(), ITQHasher(bits=32, random_state=0))
codes_db = pipe.fit_transform(X_db)
codes_q = pipe.transform(X_q)
print("codes:", codes_db.shape, codes_db.dtype)

# %%
# Exact k-nearest-neighbour search in Hamming space; ties go to the smaller
# database index.
index = HammingIndex().fit(codes_db)
distances, indices = index.kneighbors(codes_q, n_neighbors=5)
print("first query's neighbours:", indices[0], "at distances", distances[0])
print("their labels:", y_db[indices[0]], "query label:", y_q[0])

# %%
# Evaluate: mAP@100 with ties averaged exactly, against random hyperplanes.
lsh = make_pipeline(StandardScaler(), LSHHasher(bits=32, random_state=0)).fit(X_db)
for name, model in [("ITQ", pipe), ("LSH", lsh)]:
    score = mean_average_precision(
        model.transform(X_q), model.transform(X_db), y_q, y_db, k=100
    )
    print(f"{name} mAP@100 = {score:.3f}")
