"""Find every public hasher class, like :func:`sklearn.utils.all_estimators`."""

import importlib
import inspect
import pkgutil

__all__ = ["all_hashers"]


def all_hashers():
    """List every public hasher shipped with sklhash.

    Walks the modules of :mod:`sklhash.hashers` (importing the deep ones
    imports torch) and returns each concrete subclass of
    :class:`~sklhash.BaseHasher` whose name does not start with ``_``.

    Returns
    -------
    hashers : list of (str, type)
        ``(name, class)`` pairs sorted by name.

    Examples
    --------
    >>> from sklhash import all_hashers
    >>> "ITQHasher" in dict(all_hashers())
    True
    """
    from .. import hashers
    from .._base import BaseHasher

    found = {}
    for info in pkgutil.iter_modules(hashers.__path__):
        if info.name.startswith("_") or info.name.startswith("test"):
            continue
        module = importlib.import_module(f"{hashers.__name__}.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseHasher)
                and not name.startswith("_")
                and not inspect.isabstract(cls)
                and cls.__module__.startswith(hashers.__name__)
                # Private bases (sklhash.hashers._deep) are imported into the
                # public modules; only classes defined publicly count.
                and not any(p.startswith("_") for p in cls.__module__.split("."))
            ):
                found[name] = cls
    return sorted(found.items())
