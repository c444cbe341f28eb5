"""The one place where sklhash reaches into scikit-learn's private API.

scikit-learn's parameter validation (``_fit_context``, ``Interval``,
``StrOptions``, ...) and ``_check_feature_names_in`` are private and may move
between releases; ``validate_data`` became a public function in 1.6. Every
sklhash module imports them from here, so a scikit-learn release that moves
one is handled in this file alone (imbalanced-learn does the same through
the ``sklearn-compat`` package). ``pyproject.toml`` bounds scikit-learn to
the releases this module was tested with.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_check_feature_names_in",
    "_fit_context",
    "check_is_fitted",
    "get_check_estimator_ids",
    "validate_data",
    "validate_params",
]


def get_check_estimator_ids(obj):
    """Test ids of scikit-learn's ``parametrize_with_checks`` (private there).

    Imported on call: scikit-learn's estimator checks module is heavy and
    only the test helpers need it.
    """
    from sklearn.utils.estimator_checks import _get_check_estimator_ids

    return _get_check_estimator_ids(obj)
