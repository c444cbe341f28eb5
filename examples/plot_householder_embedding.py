"""
Householder quantisation on top of any embedding
================================================

Learn a continuous embedding first (here: linear discriminant analysis), then
let :class:`sklhash.HouseholderQuantizer` find a rotation that brings every
coordinate close to its sign. A rotation keeps all distances, so only the
rounding error shrinks (Schwengber et al., 2023).
"""

# %%
import numpy as np
from sklearn.datasets import load_digits
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklhash import HouseholderQuantizer, ITQHasher
from sklhash.metrics import mean_average_precision

X, y = load_digits(return_X_y=True)
X_db, X_q, y_db, y_q = train_test_split(X, y, test_size=300, stratify=y, random_state=0)

# %%
# A 9-dimensional supervised embedding, then three ways to get 9 bits.
bits = 9
lda = LinearDiscriminantAnalysis(n_components=bits).fit(X_db, y_db)
Z_db, Z_q = lda.transform(X_db), lda.transform(X_q)

sign = FunctionTransformer(lambda Z: np.packbits(Z > 0, axis=1))
hq = HouseholderQuantizer(random_state=0, max_epochs=100).fit(Z_db)
itq = ITQHasher(bits=bits, random_state=0).fit(Z_db)

print(
    f"embedding (Euclidean) mAP@100: "
    f"{mean_average_precision(Z_q, Z_db, y_q, y_db, k=100, metric='euclidean'):.3f}"
)
for name, model in [("plain sign", sign), ("ITQ", itq), ("Householder", hq)]:
    score = mean_average_precision(
        model.transform(Z_q), model.transform(Z_db), y_q, y_db, k=100
    )
    print(f"{name:>12s} codes mAP@100: {score:.3f}")

# %%
# The rotation is orthogonal; it is all the quantiser learned.
R = hq.rotation_
print("max |R R^T - I| =", float(np.abs(R @ R.T - np.eye(bits)).max()))

# %%
# In a pipeline, after any embedder (``projection="pca"`` reduces first when
# the embedding is wider than the code).
pipe = make_pipeline(lda, HouseholderQuantizer(random_state=0, max_epochs=100))
print("pipeline codes:", pipe.fit(X_db, y_db).transform(X_q).shape)
