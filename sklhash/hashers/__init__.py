"""The hashers: one module per method (``sklhash/hashers/<method>.py``).

Classic hashers import eagerly; the deep ones import torch on first use.
"""

from .._lazy import lazy_getattr
from .classic import ITQHasher, LSHHasher, PCAHasher, SpectralHasher

_LAZY = {
    "SemanticKLHasher": ".semantic_kl",
    "HouseholderQuantizer": ".householder",
    "NSHasher": ".nsh",
    "CIBHasher": ".cibhash",
    "DPSHHasher": ".supervised",
    "HashNetHasher": ".supervised",
    "CSQHasher": ".supervised",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["ITQHasher", "LSHHasher", "PCAHasher", "SpectralHasher", *_LAZY]
