"""What "similar" means: class hierarchies, WordNet and embedding similarity.

Class-level similarities expose ``similarity_matrix(labels)``; sample-level
similarities expose ``pairwise(idx_a, idx_b)``. Hashers and metrics accept any
object following one of these two protocols.
"""

from ._hierarchy import LabelHierarchy
from ._wordnet import load_wordnet, synset, wordnet_available

__all__ = ["LabelHierarchy", "load_wordnet", "synset", "wordnet_available"]
