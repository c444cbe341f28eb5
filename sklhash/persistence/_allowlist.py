"""The classes a model file may name, and nothing else.

A file names classes by string. Loading never imports a module or looks up
an attribute that the file spells out: the string is only a key into the
tables below, whose import paths are written here. sklhash's own estimators
are the classes exported by ``sklhash`` (its ``__all__``) that are hashers
or the index; the scikit-learn steps are an explicit list, each covered by a
round-trip test (their fitted state is public ``_``-suffixed attributes
only, which is what the codec stores).
"""

import importlib

__all__ = ["class_name", "resolve", "supported_sklearn"]

# {name in the file: (module, attribute)}. Adding a step here needs a
# round-trip test in tests/test_persistence.py.
_SKLEARN = {
    "sklearn.pipeline.Pipeline": ("sklearn.pipeline", "Pipeline"),
    "sklearn.preprocessing.StandardScaler": ("sklearn.preprocessing", "StandardScaler"),
    "sklearn.preprocessing.MinMaxScaler": ("sklearn.preprocessing", "MinMaxScaler"),
    "sklearn.preprocessing.MaxAbsScaler": ("sklearn.preprocessing", "MaxAbsScaler"),
    "sklearn.preprocessing.RobustScaler": ("sklearn.preprocessing", "RobustScaler"),
    "sklearn.preprocessing.Normalizer": ("sklearn.preprocessing", "Normalizer"),
    "sklearn.decomposition.PCA": ("sklearn.decomposition", "PCA"),
    "sklearn.decomposition.TruncatedSVD": ("sklearn.decomposition", "TruncatedSVD"),
}
# sklhash classes that are not estimators but may sit in a parameter.
_SKLHASH_EXTRA = {
    "sklhash.persistence.TrainingCheckpoint": (
        "sklhash.persistence._checkpoint",
        "TrainingCheckpoint",
    ),
}


def supported_sklearn():
    """Names of the scikit-learn classes a model file may hold."""
    return sorted(_SKLEARN)


def _sklhash_class(name):
    import sklhash

    if name not in sklhash.__all__:
        return None
    cls = getattr(sklhash, name)
    return cls if _is_sklhash_estimator(cls) else None


def _is_sklhash_estimator(cls):
    from .._base import BaseHasher

    if not isinstance(cls, type):
        return False
    if issubclass(cls, BaseHasher):
        return True
    from ..neighbors import HammingIndex, HashingNearestNeighbors

    return issubclass(cls, (HammingIndex, HashingNearestNeighbors))


def class_name(cls):
    """The name a file stores for ``cls``, or None when it is not allowed."""
    for name, (module, attr) in {**_SKLEARN, **_SKLHASH_EXTRA}.items():
        if cls.__module__.startswith(module.split(".")[0]) and cls.__name__ == attr:
            if getattr(importlib.import_module(module), attr) is cls:
                return name
    if cls.__module__.startswith("sklhash.") and _sklhash_class(cls.__name__) is cls:
        return f"sklhash.{cls.__name__}"
    return None


def resolve(name):
    """The class a file's ``name`` stands for, or None when it is not allowed."""
    if not isinstance(name, str):
        return None
    table = {**_SKLEARN, **_SKLHASH_EXTRA}
    if name in table:
        module, attr = table[name]
        return getattr(importlib.import_module(module), attr)
    prefix, _, short = name.partition(".")
    if prefix == "sklhash" and short.isidentifier():
        return _sklhash_class(short)
    return None
