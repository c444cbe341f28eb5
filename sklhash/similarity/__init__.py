"""What "similar" means: class hierarchies, WordNet and embedding similarity.

Class-level similarities expose ``similarity_matrix(labels)``; sample-level
similarities expose ``pairwise(idx_a, idx_b)``. Hashers and metrics accept any
object following one of these two protocols. Nothing here imports torch:
:class:`SentenceEncoder` loads sentence-transformers on first use.
"""

from ._embedding import EmbeddingSimilarity
from ._encoder import SentenceEncoder
from ._hierarchy import LabelHierarchy
from ._targets import PairSimilarity, SimilarityTargets, resolve_similarity_targets
from ._wordnet import load_wordnet, synset, wordnet_available

__all__ = [
    "EmbeddingSimilarity",
    "LabelHierarchy",
    "PairSimilarity",
    "SentenceEncoder",
    "SimilarityTargets",
    "load_wordnet",
    "resolve_similarity_targets",
    "synset",
    "wordnet_available",
]
