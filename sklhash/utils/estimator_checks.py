"""Checks that a hasher keeps sklhash's contract, for sklhash's and yours.

scikit-learn's :func:`~sklearn.utils.estimator_checks.check_estimator`
checks the estimator API; the checks here add what makes a hasher
interchangeable with sklhash's own (the same idea as imbalanced-learn's
``imblearn.utils.estimator_checks`` for samplers):

* ``transform`` returns ``np.uint8`` codes of width ``ceil(n_bits_ / 8)``,
  exactly ``np.packbits(decision_function(X) > 0, axis=1)`` (numpy bit
  order, padding bits 0), and ``decision_function`` is float32 of shape
  ``(n_samples, n_bits_)``;
* encoding is deterministic, the same ``random_state`` gives the same
  codes, and a pickled hasher gives the same codes;
* ``get_feature_names_out`` names one column per byte;
* a ``bits`` that is not a positive integer and NaN / infinite / 1-d input
  are refused with a ``ValueError`` naming the problem.

A third-party hasher runs them all, together with scikit-learn's checks,
with :func:`parametrize_with_checks` in its test suite::

    from sklhash.utils.estimator_checks import parametrize_with_checks

    @parametrize_with_checks([MyHasher(bits=8)])
    def test_my_hasher(estimator, check):
        check(estimator)

or all at once with :func:`check_hasher`.
"""

import functools
import pickle

import numpy as np
from sklearn.base import clone

__all__ = [
    "check_hasher",
    "check_hasher_bad_bits",
    "check_hasher_bad_input",
    "check_hasher_codes",
    "check_hasher_deterministic",
    "check_hasher_feature_names",
    "check_hasher_pickle",
    "check_hasher_same_random_state",
    "hasher_checks",
    "parametrize_with_checks",
]


def _data(n_samples=48, n_features=64, seed=0):
    """Toy data for the checks: 64 features (an 8x8 image for CNN
    backbones), four classes that depend on the features."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    return X, y


def _fit(estimator, X, y):
    est = clone(estimator)
    if est.__sklearn_tags__().target_tags.required:
        return est.fit(X, y)
    return est.fit(X)


def check_hasher_codes(name, estimator):
    """``transform`` is ``packbits(decision_function > 0)``, uint8, ceil(bits/8).

    Parameters
    ----------
    name : str
        Name of the estimator, for messages.
    estimator : estimator instance
        The hasher to check (cloned, never modified).
    """
    X, y = _data()
    est = _fit(estimator, X, y)
    codes = est.transform(X)
    values = est.decision_function(X)
    n_bits = est.n_bits_
    assert isinstance(n_bits, (int, np.integer)) and n_bits >= 1, (
        f"{name}.n_bits_ must be a positive integer, got {n_bits!r}"
    )
    assert codes.dtype == np.uint8, f"{name}.transform returned {codes.dtype}"
    assert codes.shape == (len(X), (n_bits + 7) // 8), (
        f"{name}.transform returned shape {codes.shape} for {n_bits} bits"
    )
    assert values.dtype == np.float32 and values.shape == (len(X), n_bits), (
        f"{name}.decision_function returned {values.dtype} {values.shape}"
    )
    expected = np.packbits(values > 0, axis=1)
    np.testing.assert_array_equal(
        codes, expected, err_msg=f"{name}: transform != packbits(decision > 0)"
    )


def check_hasher_deterministic(name, estimator):
    """A fitted hasher encodes the same input to the same codes every time.

    Parameters
    ----------
    name : str
        Name of the estimator, for messages.
    estimator : estimator instance
        The hasher to check (cloned, never modified).
    """
    X, y = _data()
    est = _fit(estimator, X, y)
    np.testing.assert_array_equal(
        est.transform(X), est.transform(X), err_msg=f"{name}: transform varies"
    )
    # Encoding a row alone or among others gives the same code.
    np.testing.assert_array_equal(
        est.transform(X[:5]),
        est.transform(X)[:5],
        err_msg=f"{name}: a row's code depends on the rest of the batch",
    )


def check_hasher_same_random_state(name, estimator):
    """Two fits with the same ``random_state`` give identical codes.

    Parameters
    ----------
    name : str
        Name of the estimator, for messages.
    estimator : estimator instance
        The hasher to check (cloned, never modified).
    """
    X, y = _data()
    params = estimator.get_params()
    if "random_state" in params and params["random_state"] is None:
        estimator = clone(estimator).set_params(random_state=0)
    a = _fit(estimator, X, y).transform(X)
    b = _fit(estimator, X, y).transform(X)
    np.testing.assert_array_equal(a, b, err_msg=f"{name}: refit gave other codes")


def check_hasher_pickle(name, estimator):
    """A pickled and unpickled hasher gives identical codes.

    Parameters
    ----------
    name : str
        Name of the estimator, for messages.
    estimator : estimator instance
        The hasher to check (cloned, never modified).
    """
    X, y = _data()
    est = _fit(estimator, X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(
        restored.transform(X), est.transform(X), err_msg=f"{name}: pickling"
    )


def check_hasher_feature_names(name, estimator):
    """``get_feature_names_out`` names one output column per code byte.

    Parameters
    ----------
    name : str
        Name of the estimator, for messages.
    estimator : estimator instance
        The hasher to check (cloned, never modified).
    """
    X, y = _data()
    est = _fit(estimator, X, y)
    width = est.transform(X[:1]).shape[1]
    names = list(est.get_feature_names_out())
    assert names == [f"hash{i}" for i in range(width)], (
        f"{name}.get_feature_names_out() = {names[:3]}..., expected hash0..."
    )


def _raises_value_error(function, match, name, what):
    import re

    try:
        function()
    except ValueError as exc:
        assert re.search(match, str(exc)), (
            f"{name}: {what} raised ValueError without {match!r}: {exc}"
        )
    else:
        raise AssertionError(f"{name}: {what} did not raise ValueError")


def check_hasher_bad_bits(name, estimator):
    """``bits`` that is not a positive integer is refused, naming ``bits``.

    Parameters
    ----------
    name : str
        Name of the estimator, for messages.
    estimator : estimator instance
        The hasher to check (cloned, never modified).
    """
    X, y = _data()
    for bits in (0, -3, 2.5, "8"):
        est = clone(estimator).set_params(bits=bits)
        _raises_value_error(
            lambda est=est: _fit(est, X, y), "bits", name, f"bits={bits!r}"
        )


def check_hasher_bad_input(name, estimator):
    """NaN, infinity, 1-d input and a wrong feature count are refused.

    Parameters
    ----------
    name : str
        Name of the estimator, for messages.
    estimator : estimator instance
        The hasher to check (cloned, never modified).
    """
    X, y = _data()
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    _raises_value_error(lambda: _fit(estimator, X_nan, y), "NaN", name, "NaN in X")
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    _raises_value_error(
        lambda: _fit(estimator, X_inf, y), "infinity", name, "inf in X"
    )
    _raises_value_error(
        lambda: _fit(estimator, X[:, 0], y), "2D array", name, "1-d X"
    )
    est = _fit(estimator, X, y)
    _raises_value_error(
        lambda: est.transform(X[:, :3]), "features", name, "too few features"
    )


_CHECKS = (
    check_hasher_codes,
    check_hasher_deterministic,
    check_hasher_same_random_state,
    check_hasher_pickle,
    check_hasher_feature_names,
    check_hasher_bad_bits,
    check_hasher_bad_input,
)


def hasher_checks(estimator):
    """Yield sklhash's hasher checks, each bound to the estimator's name.

    Parameters
    ----------
    estimator : estimator instance
        The hasher.

    Yields
    ------
    check : callable
        ``check(estimator)``.
    """
    name = type(estimator).__name__
    for check in _CHECKS:
        yield functools.partial(check, name)


def check_hasher(estimator):
    """Run every sklhash hasher check on ``estimator``; raise on a failure.

    Parameters
    ----------
    estimator : estimator instance
        The hasher (not modified: each check works on a clone).

    Examples
    --------
    >>> from sklhash import LSHHasher
    >>> from sklhash.utils.estimator_checks import check_hasher
    >>> check_hasher(LSHHasher(bits=12, random_state=0))
    """
    for check in hasher_checks(estimator):
        check(estimator)


def _check_id(value):
    if isinstance(value, functools.partial):
        return value.func.__name__
    return None


def parametrize_with_checks(
    estimators, *, sklearn_checks=True, expected_failed_checks=None
):
    """Pytest decorator running sklhash's (and scikit-learn's) checks.

    Like :func:`sklearn.utils.estimator_checks.parametrize_with_checks`, with
    the hasher checks of this module added for every estimator.

    Parameters
    ----------
    estimators : list of estimator instances
        The hashers.
    sklearn_checks : bool or callable, default=True
        Also run scikit-learn's estimator checks; a callable
        ``sklearn_checks(estimator) -> bool`` decides per estimator (the
        common tests run them once per class, not for every parameter set).
    expected_failed_checks : callable or None, default=None
        ``expected_failed_checks(estimator) -> {check name: reason}``;
        those checks are marked ``xfail`` with the reason.

    Returns
    -------
    decorator
        ``pytest.mark.parametrize("estimator, check", ...)``.
    """
    import pytest
    from sklearn.utils.estimator_checks import estimator_checks_generator

    def expected(estimator):
        return (expected_failed_checks or (lambda e: {}))(estimator)

    params = []
    for estimator in estimators:
        failing = expected(estimator)
        run_sklearn = (
            sklearn_checks(estimator) if callable(sklearn_checks) else sklearn_checks
        )
        if run_sklearn:
            for item in estimator_checks_generator(
                estimator, legacy=True, expected_failed_checks=failing, mark="xfail"
            ):
                # A plain (estimator, check) pair, or a pytest.param already
                # marked xfail.
                params.append(item if hasattr(item, "marks") else pytest.param(*item))
        for check in hasher_checks(estimator):
            reason = failing.get(check.func.__name__)
            marks = [pytest.mark.xfail(reason=reason)] if reason else []
            params.append(pytest.param(estimator, check, marks=marks))
    return pytest.mark.parametrize(
        "estimator, check", params, ids=_ids(params)
    )


def _ids(params):
    from ._sklearn_compat import get_check_estimator_ids as _get_check_estimator_ids

    ids = []
    for param in params:
        values = param.values
        ids.append(
            f"{_get_check_estimator_ids(values[0])}-"
            f"{_get_check_estimator_ids(values[1])}"
        )
    return ids
