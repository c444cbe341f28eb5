"""Bad input to the deep hashers: one clear ValueError naming the argument,
and nothing fitted afterwards (every deep hasher)."""

import numpy as np
import pytest
import torch
from _hashers import params_of, torch_hashers
from sklearn.datasets import load_digits

from sklhash.hashers._deep import BaseDeepHasher

_DEEP = [(n, c) for n, c in torch_hashers() if issubclass(c, BaseDeepHasher)]
_IDS = [n for n, _ in _DEEP]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:64] / 16).astype(np.float32), y[:64]


def _fit(cls, name, X, y, **params):
    est = cls(**{**params_of(name), **params})
    try:
        if est.__sklearn_tags__().target_tags.required:
            est.fit(X, y)
        else:
            est.fit(X)
    finally:
        assert not [k for k in vars(est) if k.endswith("_")]


@pytest.mark.parametrize("name, cls", _DEEP, ids=_IDS)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"device": "gpu"}, "device='gpu'"),
        ({"device": "cuda:7"}, "device='cuda:7'"),
        ({"backbone": torch.nn.Linear(10, 4)}, "backbone module Linear cannot "
                                               r"process samples of shape \(64,\)"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"on_interrupt": "ignore"}, "on_interrupt"),
    ],
    ids=["gpu", "cuda7", "module-shape", "n_jobs0", "on_interrupt"],
)
def test_bad_parameters_are_one_clear_error(name, cls, params, match, digits):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        _fit(cls, name, X, y, **params)


@pytest.mark.parametrize("name, cls", _DEEP, ids=_IDS)
def test_non_finite_input_is_refused(name, cls, digits):
    X, y = digits
    X = X.copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fit(cls, name, X, y)


def test_nsh_latent_codes_need_bits_samples(digits):
    from sklhash import NSHasher

    X, _ = digits
    est = NSHasher(bits=16, latent_dim=16, max_epochs=1)
    with pytest.raises(ValueError, match="bits=16 training samples; got n_samples=8"):
        est.fit(X[:8])
    assert not [k for k in vars(est) if k.endswith("_")]


@pytest.mark.parametrize("name", ["DPSHHasher", "HashNetHasher", "CSQHasher"])
def test_labels_of_three_dimensions_are_one_short_error(name, digits):
    import sklhash

    X, y = digits
    cls = getattr(sklhash, name)
    with pytest.raises(ValueError, match=r"y of shape \(64, 1, 1\)") as info:
        _fit(cls, name, X, y.reshape(-1, 1, 1))
    assert len(str(info.value)) < 200
