"""sklhash: learning to hash for semantic similarity search, the scikit-learn way.

Every hasher is a scikit-learn transformer whose ``transform`` returns packed
binary codes (``np.uint8``, ``ceil(bits / 8)`` bytes a row). ``import sklhash``
stays light: torch is imported only when a deep hasher is first used, and
each hasher's module only when its class is first looked up.
"""

from ._base import BaseHasher
from ._lazy import lazy_getattr
from ._registry import HASHERS as _HASHERS
from .codes import hamming_distances, pack_codes, unpack_codes
from .utils.discovery import all_hashers

__version__ = "0.1.0"

# The hashers come from the one table in sklhash/_registry.py; the other
# lazily imported public names are listed here.
_LAZY = {
    **{spec.name: spec.module for spec in _HASHERS},
    "HammingIndex": "sklhash.neighbors",
    "HashingNearestNeighbors": "sklhash.neighbors",
    "LabelHierarchy": "sklhash.similarity",
    "EmbeddingSimilarity": "sklhash.similarity",
    "save": "sklhash.persistence",
    "load": "sklhash.persistence",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "BaseHasher",
    "all_hashers",
    "hamming_distances",
    "pack_codes",
    "unpack_codes",
    *_LAZY,
]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
