"""
Caption-similarity hashing with sentence embeddings
===================================================

When items come with text (captions, descriptions), "similar" can mean "the
captions say similar things": the cosine similarity of sentence embeddings.
Here each Fashion-MNIST class gets a one-line caption, the offline
all-MiniLM-L6-v2 encoder (the ``text`` extra) embeds the captions, and
:class:`sklhash.SemanticKLHasher` learns codes for the *images* whose Hamming
distances follow the *caption* similarities: a sandal lands nearer a sneaker
than a coat. The WordNet hierarchy, which the hasher never sees, judges the
result (mAHP).

Needs the Debian package ``dataset-fashion-mnist`` (the README's install
command installs it).
"""

# %%
import numpy as np
from sklearn.model_selection import train_test_split

from sklhash import EmbeddingSimilarity, SemanticKLHasher
from sklhash.datasets import fashion_mnist_hierarchy, load_fashion_mnist
from sklhash.metrics import mean_average_hierarchical_precision, mean_average_precision
from sklhash.similarity import SentenceEncoder

captions = {
    0: "a short-sleeved cotton t-shirt",
    1: "a pair of long trousers",
    2: "a warm knitted pullover sweater",
    3: "a summer dress",
    4: "a long winter coat",
    5: "an open summer sandal",
    6: "a buttoned shirt with a collar",
    7: "a running sneaker",
    8: "a leather handbag",
    9: "an ankle boot",
}
E = SentenceEncoder().encode(list(captions.values()))
caption_similarity = EmbeddingSimilarity(dict(zip(captions, E, strict=True)))
S = caption_similarity.similarity_matrix()
print("caption similarity sandal/sneaker %.2f, sandal/coat %.2f" % (S[5, 7], S[5, 4]))

# %%
data = load_fashion_mnist(subset="test")
X_tr, X_q, y_tr, y_q = train_test_split(
    data.data,
    data.target,
    train_size=3000,
    test_size=500,
    stratify=data.target,
    random_state=0,
)

# %%
# Captions as targets versus plain same-class targets; same network and seed.
h = fashion_mnist_hierarchy()
for name, similarity in [
    ("same-class targets", None),
    ("caption similarity", caption_similarity),
]:
    hasher = SemanticKLHasher(
        bits=32, similarity=similarity, ce_weight=0.0, max_epochs=15, random_state=0
    ).fit(X_tr, y_tr)
    db, q = hasher.transform(X_tr), hasher.transform(X_q)
    m = mean_average_precision(q, db, y_q, y_tr, k=100)
    mahp = mean_average_hierarchical_precision(q, db, y_q, y_tr, similarity=h, k=250)
    print(f"{name:>20s}: mAP@100 {m:.3f}  mAHP@250 {mahp:.3f}")
    assert np.asarray(db).dtype == np.uint8
