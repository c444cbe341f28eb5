"""The hashers: one module per method (``sklhash/hashers/<method>.py``).

The names exported here come from the table in ``sklhash/_registry.py``;
each module is imported on first use, so the deep hashers import torch only
when one of them is looked up.
"""

from .._lazy import lazy_getattr
from .._registry import HASHERS as _HASHERS

_LAZY = {spec.name: spec.module for spec in _HASHERS}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
