"""Docstring hygiene of the public API: numpydoc validation, and every
fitted attribute of every hasher documented in its class docstring.

Like scikit-learn's ``sklearn/tests/test_docstrings.py`` and
imbalanced-learn's meta-tests. The checked numpydoc rules are those a
reader of the API pages relies on: every public object has a docstring,
every parameter is documented with a type, in order, the summary is a
sentence in the imperative; sections a method may well omit (See Also,
Examples, an extended summary) are not required.
"""

import importlib
import inspect

import pytest
from _hashers import instances

numpydoc_validate = pytest.importorskip("numpydoc.validate")

# Modules whose ``__all__`` is the public API.
PUBLIC_MODULES = [
    "sklhash",
    "sklhash.codes",
    "sklhash.metrics",
    "sklhash.neighbors",
    "sklhash.similarity",
    "sklhash.datasets",
    "sklhash.benchmark",
    "sklhash.hashers",
    "sklhash.utils",
    "sklhash.utils.estimator_checks",
    "sklhash.store",
    "sklhash.model_selection",
    "sklhash.persistence",
    "sklhash.dask",
]

CHECKED = {
    "GL08",  # no docstring
    "PR01",  # a parameter is not documented
    "PR02",  # a documented parameter does not exist
    "PR03",  # parameters documented in another order than the signature
    "PR04",  # a parameter has no type
    "PR06",  # a type spelled "integer"/"string"/"boolean"
    "PR08",  # a parameter description does not start with a capital letter
    "PR10",  # "name: type" without a space before the colon
    "RT01",  # no Returns section
    "RT03",  # a return value without description
    "SS01",  # no summary
    "SS02",  # summary does not start with a capital letter
    "SS03",  # summary does not end with a period
    "SS05",  # summary in the third person ("Returns ...")
    "YD01",  # no Yields section in a generator
}


def _public_objects():
    seen, paths = set(), []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if id(obj) in seen or not (inspect.isclass(obj) or callable(obj)):
                continue
            seen.add(id(obj))
            path = f"{module_name}.{name}"
            paths.append(path)
            if inspect.isclass(obj):
                for member_name, member in vars(obj).items():
                    if member_name.startswith("_"):
                        continue
                    if inspect.isfunction(member) or isinstance(
                        member, (property, classmethod, staticmethod)
                    ):
                        paths.append(f"{path}.{member_name}")
    return paths


PUBLIC_OBJECTS = _public_objects()


def test_public_objects_found():
    assert "sklhash.ITQHasher.fit" in PUBLIC_OBJECTS
    assert "sklhash.benchmark.run_benchmark" in PUBLIC_OBJECTS
    assert len(PUBLIC_OBJECTS) > 100


@pytest.mark.parametrize("path", PUBLIC_OBJECTS)
def test_docstring(path):
    result = numpydoc_validate.validate(path)
    errors = [f"{code}: {message}" for code, message in result["errors"]
              if code in CHECKED]
    assert not errors, f"{path}\n" + "\n".join(errors)


def _documented_attributes(cls):
    from numpydoc.docscrape import ClassDoc

    names = set()
    for item in ClassDoc(cls)["Attributes"]:
        # "a_, b_ : ndarray" documents two attributes.
        names.update(part.strip() for part in item.name.split(","))
    return names


def _fitted(estimator):
    import numpy as np
    from sklearn.base import clone

    rng = np.random.RandomState(0)
    X = rng.standard_normal((48, 64))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    est = clone(estimator)
    if est.__sklearn_tags__().target_tags.required:
        return est.fit(X, y)
    return est.fit(X)


@pytest.mark.parametrize(
    "estimator", instances(), ids=lambda e: type(e).__name__
)
def test_fitted_attributes_documented(estimator):
    est = _fitted(estimator)
    fitted = {
        name for name in vars(est)
        if name.endswith("_") and not name.startswith("_")
    }
    assert fitted, "a fitted hasher has at least n_bits_ and n_features_in_"
    missing = sorted(fitted - _documented_attributes(type(est)))
    assert not missing, (
        f"{type(est).__name__} sets {missing} in fit but its docstring's "
        "Attributes section does not list them"
    )
