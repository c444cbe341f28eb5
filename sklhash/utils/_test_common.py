"""Moved to ``tests/_hashers.py``; this shim is removed once
``tests/test_deep_base.py`` and ``tests/test_cuda.py`` import from there.

It holds no table of its own: everything is derived from
``sklhash/_registry.py``.
"""

from .._registry import HASHERS as _HASHERS


def _first(name):
    from .._registry import Build, by_name

    params = by_name(name).test_params[0]
    return {k: v() if isinstance(v, Build) else v for k, v in params.items()}


def torch_hashers():
    """(name, class) of every hasher with a ``device`` parameter."""
    return [
        (spec.name, spec.load())
        for spec in _HASHERS
        if "device" in spec.load()(**_first(spec.name)).get_params()
    ]


def fit_small(name, cls, X, y, **params):
    """``cls`` from its first test parameters, fitted (with ``y`` if needed)."""
    est = cls(**{**_first(name), **params})
    if est.__sklearn_tags__().target_tags.required:
        return est.fit(X, y)
    return est.fit(X)
