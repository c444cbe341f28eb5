"""Transactional fit for every hasher (BaseHasher wraps each subclass's fit).

A fault is injected after the class's own ``fit`` has learned and set its
attributes: a subclass whose ``fit`` calls the real one and then raises. The
wrapper must drop everything that fit set (first fit) or put the previous
model back (refit), for every hasher in the table, classic and deep alike.
"""

import numpy as np
import pytest
from _hashers import instances
from sklearn.base import clone
from sklearn.datasets import load_digits

_INSTANCES = instances(first_only=True)


class _Injected(Exception):
    pass


def _faulty(cls, error=_Injected):
    """``cls`` whose fit runs the real fit, then raises ``error``."""

    def fit(self, X, y=None):
        cls.fit(self, X, y)
        raise error("injected after the real fit")

    # Defined as a subclass, so BaseHasher wraps this fit as well.
    return type(f"Faulty{cls.__name__}", (cls,), {"fit": fit, "__doc__": None})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:160] / 16).astype(np.float32), y[:160]


def _fit(est, X, y):
    if est.__sklearn_tags__().target_tags.required:
        return est.fit(X, y)
    return est.fit(X)


def _learned(est):
    return sorted(k for k in vars(est) if k.endswith("_") and not k.startswith("__"))


@pytest.mark.parametrize("est", _INSTANCES, ids=[type(e).__name__ for e in _INSTANCES])
@pytest.mark.parametrize("error", [_Injected, KeyboardInterrupt])
def test_failed_first_fit_leaves_no_learned_attribute(est, error, digits):
    X, y = digits
    faulty = _faulty(type(est), error)(**est.get_params())
    with pytest.raises(error, match="injected"):
        _fit(faulty, X, y)
    assert _learned(faulty) == []
    assert not any(k.startswith("_") and not k.startswith("__") for k in vars(faulty))


@pytest.mark.parametrize("est", _INSTANCES, ids=[type(e).__name__ for e in _INSTANCES])
def test_failed_refit_keeps_the_previous_model(est, digits):
    X, y = digits
    faulty = _faulty(type(est))(**est.get_params())
    # The first fit through the real class's fit (no fault).
    type(est).fit(faulty, X, y if est.__sklearn_tags__().target_tags.required else None)
    before = {k: vars(faulty)[k] for k in _learned(faulty)}
    codes = faulty.transform(X)
    # The refit sees other data (fewer features) and fails after fitting it.
    with pytest.raises((_Injected, ValueError)):
        _fit(faulty, X[:, :48].copy(), y)
    assert _learned(faulty) == sorted(before)
    assert all(vars(faulty)[k] is v for k, v in before.items())
    assert faulty.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(faulty.transform(X), codes)


def test_transactional_wrapper_keeps_signature_and_docstring():
    for est in _INSTANCES:
        fit = type(est).fit
        assert fit.__doc__ and "Parameters" in fit.__doc__
        assert getattr(fit, "_sklhash_transactional", False)
        clone(est)  # get_params still introspects __init__ only
