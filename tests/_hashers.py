"""Test-only helpers over sklhash's table of hashers (sklhash/_registry.py).

Every hasher comes with small constructor arguments in the table
(``test_params``: tiny codes, one or two epochs, and several parameter sets
per class so non-default code paths run too); these helpers build the
instances the tests parametrise over. Test modules import this file by
name (pytest puts ``tests/`` on ``sys.path``).
"""

from sklhash._registry import HASHERS, Build


def _resolve(params):
    return {k: v() if isinstance(v, Build) else v for k, v in params.items()}


def instances(first_only=False):
    """One small instance per parameter set of every hasher (table order)."""
    out = []
    for spec in HASHERS:
        cls = spec.load()
        for params in spec.test_params[:1] if first_only else spec.test_params:
            out.append(cls(**_resolve(params)))
    return out


def is_first_params(estimator):
    """Whether ``estimator`` is built from its class's first parameter set
    (the one that also runs scikit-learn's full checks)."""
    from sklearn.base import clone

    spec = next(s for s in HASHERS if s.name == type(estimator).__name__)
    first = spec.load()(**_resolve(spec.test_params[0])).get_params(deep=False)
    own = clone(estimator).get_params(deep=False)
    return {k: repr(v) for k, v in own.items()} == {
        k: repr(v) for k, v in first.items()
    }


def expected_failed_checks(estimator):
    """The checks ``estimator`` is known to fail, with reasons."""
    spec = next(s for s in HASHERS if s.name == type(estimator).__name__)
    return dict(spec.expected_failed_checks)


def params_of(name):
    """The first parameter set of hasher ``name``."""
    spec = next(s for s in HASHERS if s.name == name)
    return _resolve(spec.test_params[0])


def torch_hashers():
    """(name, class) of every hasher trained with torch (a ``device``
    parameter)."""
    return [
        (spec.name, spec.load())
        for spec in HASHERS
        if "device" in spec.load()(**params_of(spec.name)).get_params()
    ]


def fit_small(name, cls, X, y, **params):
    """``cls`` built from its first test parameters (updated with
    ``params``) and fitted on ``X``, with ``y`` when its tags require
    labels."""
    est = cls(**{**params_of(name), **params})
    if est.__sklearn_tags__().target_tags.required:
        return est.fit(X, y)
    return est.fit(X)
