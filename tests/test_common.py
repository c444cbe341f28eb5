"""scikit-learn's estimator checks and sklhash's hasher checks on every hasher.

The hashers and their small test parameters come from the one table in
``sklhash/_registry.py``; the tests below also check that everything that
lists hashers (the lazy exports, ``all_hashers``, the benchmark / CLI
methods) agrees with it.
"""

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest
from _hashers import expected_failed_checks, instances, is_first_params, params_of

import sklhash
from sklhash import all_hashers
from sklhash._registry import HASHERS
from sklhash.utils.estimator_checks import parametrize_with_checks

HASHER_INSTANCES = instances()


def _public_hasher_classes():
    """Every public BaseHasher subclass defined under sklhash.hashers."""
    from sklhash import hashers
    from sklhash._base import BaseHasher

    found = {}
    for info in pkgutil.iter_modules(hashers.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{hashers.__name__}.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseHasher)
                and not name.startswith("_")
                and not inspect.isabstract(cls)
                and cls.__module__ == module.__name__
            ):
                found[name] = cls
    return found


def test_registry_lists_every_public_hasher():
    table = {spec.name: spec.load() for spec in HASHERS}
    assert table == _public_hasher_classes()
    assert dict(all_hashers()) == table
    assert len({spec.method for spec in HASHERS}) == len(HASHERS)


@pytest.mark.parametrize("spec", HASHERS, ids=lambda s: s.name)
def test_registry_row_matches_class(spec):
    cls = spec.load()
    assert cls.__module__ == spec.module
    assert spec.supervision in ("unsupervised", "supervised")
    est = cls(**params_of(spec.name))
    required = est.__sklearn_tags__().target_tags.required
    assert required == (spec.supervision == "supervised"), spec.name
    assert spec in [s for s in HASHERS if s.name in dict(all_hashers(spec.supervision))]
    # torch-trained classes (a device parameter) declare that they need it.
    needs_torch = "device" in est.get_params()
    assert ("torch" in spec.requires) == needs_torch, spec.name
    # Each test parameter set names real parameters of the class.
    for params in spec.test_params:
        assert set(params) <= set(est.get_params())


def test_exports_derived_from_registry():
    from sklhash import benchmark, hashers

    names = [spec.name for spec in HASHERS]
    assert set(names) <= set(sklhash.__all__)
    assert set(hashers.__all__) == set(names)
    assert list(benchmark.METHODS) == [spec.method for spec in HASHERS]
    with pytest.raises(ValueError, match="supervision='semi'"):
        all_hashers(supervision="semi")


def test_api_page_lists_every_hasher():
    from pathlib import Path

    api = (Path(__file__).parents[1] / "docs" / "api.rst").read_text()
    listed = {line.strip() for line in api.splitlines()}
    missing = [spec.name for spec in HASHERS if spec.name not in listed]
    assert not missing, f"add {missing} to docs/api.rst"


def test_every_public_name_imports():
    for name in sklhash.__all__:
        assert getattr(sklhash, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sklhash.Nope  # noqa: B018


def test_import_sklhash_does_not_import_torch():
    code = (
        "import sys, sklhash, sklhash.hashers, sklhash.benchmark, sklhash.cli; "
        "sklhash.ITQHasher; print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_several_parameter_sets_are_checked():
    # The non-default code paths named in the architecture issue.
    params = [
        {k: v for k, v in est.get_params(deep=False).items()}
        for est in HASHER_INSTANCES
    ]
    assert any(p.get("hierarchy") is not None for p in params)
    assert any(p.get("quantization") == "householder" for p in params)
    assert any(p.get("backbone") == "cnn" for p in params)
    assert any(p.get("code_source") == "head" for p in params)


@parametrize_with_checks(
    HASHER_INSTANCES,
    sklearn_checks=is_first_params,
    expected_failed_checks=expected_failed_checks,
)
def test_hashers(estimator, check):
    check(estimator)
