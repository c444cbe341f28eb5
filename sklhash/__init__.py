"""sklhash: learning to hash for semantic similarity search, the scikit-learn way.

Every hasher is a scikit-learn transformer whose ``transform`` returns packed
binary codes (``np.uint8``, ``ceil(bits / 8)`` bytes a row). ``import sklhash``
stays light: torch is imported only when a deep hasher is first used.
"""

from ._base import BaseHasher
from ._lazy import lazy_getattr
from .codes import hamming_distances, pack_codes, unpack_codes
from .hashers.classic import ITQHasher, LSHHasher, PCAHasher, SpectralHasher
from .utils.discovery import all_hashers

__version__ = "0.1.0"

_LAZY = {
    "SemanticKLHasher": "sklhash.hashers.semantic_kl",
    "HouseholderQuantizer": "sklhash.hashers.householder",
    "NSHasher": "sklhash.hashers.nsh",
    "CIBHasher": "sklhash.hashers.cibhash",
    "DPSHHasher": "sklhash.hashers.supervised",
    "HashNetHasher": "sklhash.hashers.supervised",
    "CSQHasher": "sklhash.hashers.supervised",
    "HammingIndex": "sklhash.neighbors",
    "HashingNearestNeighbors": "sklhash.neighbors",
    "LabelHierarchy": "sklhash.similarity",
    "EmbeddingSimilarity": "sklhash.similarity",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "BaseHasher",
    "ITQHasher",
    "LSHHasher",
    "PCAHasher",
    "SpectralHasher",
    "all_hashers",
    "hamming_distances",
    "pack_codes",
    "unpack_codes",
    *_LAZY,
]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
