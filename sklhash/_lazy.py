"""Lazy re-exports, so that ``import sklhash`` does not import torch."""

import importlib


def lazy_getattr(package, table):
    """Build a module ``__getattr__`` that imports ``table[name]`` on first use."""

    def __getattr__(name):
        try:
            module_name = table[name]
        except KeyError:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}"
            ) from None
        return getattr(importlib.import_module(module_name, package), name)

    return __getattr__
