"""The CUDA path: every torch-backed estimator fits on a GPU, and a model
trained there loads and encodes on a machine without one.

These tests need a CUDA device and are skipped without one (CI has none;
they were run on a lent H100, see docs/gpu.md). The CPU-only counterparts
(determinism, pickling, ``device='cuda'`` rejected without CUDA) run in
tests/test_deep_base.py.
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from _hashers import fit_small, torch_hashers
from sklearn.datasets import load_digits

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)

TORCH_HASHERS = torch_hashers()



@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16).astype(np.float32), y[:400]


_LOAD_ON_CPU = """
import pickle, sys, numpy as np, torch
assert not torch.cuda.is_available()
est = pickle.loads(open(sys.argv[1], "rb").read())
X = np.load(sys.argv[2])
np.save(sys.argv[3], est.transform(X))
print(est.net_.device if hasattr(est, "net_") else "cpu")
"""


@pytest.mark.parametrize("name, cls", TORCH_HASHERS, ids=[n for n, _ in TORCH_HASHERS])
def test_fit_on_cuda_then_encode_on_cpu(name, cls, digits, tmp_path):
    X, y = digits
    est = fit_small(name, cls, X, y, device="cuda")
    assert est.device_.startswith("cuda")
    codes = est.transform(X)
    assert codes.dtype == np.uint8

    model, data, out = tmp_path / "m.pkl", tmp_path / "X.npy", tmp_path / "c.npy"
    model.write_bytes(pickle.dumps(est))
    np.save(data, X)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(
        [sys.executable, "-c", _LOAD_ON_CPU, str(model), str(data), str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "cpu"
    cpu_codes = np.load(out)
    # GPU and CPU kernels round differently; a bit may flip only where the
    # continuous output is within float noise of 0.
    scores = est.decision_function(X)
    differ = np.unpackbits(codes ^ cpu_codes, axis=1)[:, : scores.shape[1]] != 0
    assert np.all(np.abs(scores[differ]) < 1e-3)
    assert differ.mean() < 0.01


def test_auto_picks_cuda(digits):
    from sklhash import SemanticKLHasher

    X, y = digits
    est = SemanticKLHasher(
        bits=8, hidden_layer_sizes=(16,), max_epochs=1, device="auto", random_state=0
    ).fit(X, y)
    assert est.device_ == "cuda"
    assert next(est.net_.module_.parameters()).is_cuda


def test_cnn_and_householder_on_cuda(digits):
    from sklhash import CSQHasher, NSHasher

    X, y = digits
    images = X.reshape(-1, 1, 8, 8)
    est = CSQHasher(bits=8, backbone="cnn", hidden_layer_sizes=(32,), max_epochs=2,
                    quantization="householder", device="cuda", random_state=0)
    codes = est.fit(images, y).transform(images)
    assert codes.shape == (len(X), 1)
    assert est.quantizer_ is not None
    # The Householder second stage trains on the hasher's device too.
    assert est.quantizer_.device_.startswith("cuda")
    nsh = NSHasher(bits=8, backbone="cnn", latent_dim=8, hidden_layer_sizes=(32,),
                   max_epochs=2, warmup_epochs=1, batch_size=32, device="cuda",
                   code_source="head", random_state=0)
    assert nsh.fit(images).transform(images).shape == (len(X), 1)
    # ITQ codes of latents computed on the GPU, and loaded without one.
    latent = nsh.set_params(code_source="latent").fit(images)
    assert type(latent.quantizer_).__name__ == "ITQHasher"
    restored = pickle.loads(pickle.dumps(latent))
    np.testing.assert_array_equal(restored.transform(images), latent.transform(images))


def test_rebuilt_net_on_cuda_encodes_like_the_trained_one(digits):
    from sklhash import DPSHHasher

    X, y = digits
    est = DPSHHasher(bits=8, hidden_layer_sizes=(16,), max_epochs=1, device="cuda",
                     random_state=0).fit(X, y)
    net = est._rebuild_net()
    assert str(net.device).startswith("cuda")
    net.module_.load_state_dict(est.net_.module_.state_dict())
    expected = est.decision_function(X)
    est.net_ = net
    np.testing.assert_array_equal(est.decision_function(X), expected)


def test_cuda_learns_like_cpu(digits):
    """The same model trained on CPU and on CUDA reaches a similar quality."""
    from sklhash import LSHHasher, SemanticKLHasher
    from sklhash.metrics import mean_average_precision

    X, y = digits
    scores = {}
    for device in ("cpu", "cuda"):
        est = SemanticKLHasher(bits=16, hidden_layer_sizes=(64,), max_epochs=30,
                               batch_size=64, device=device, random_state=0)
        C = est.fit(X, y).transform(X)
        scores[device] = mean_average_precision(C, C, y, y, k=100)
    C = LSHHasher(bits=16, random_state=0).fit(X).transform(X)
    lsh = mean_average_precision(C, C, y, y, k=100)
    # CPU: .85 against LSH's .37.
    assert scores["cuda"] > lsh + 0.3
    assert abs(scores["cuda"] - scores["cpu"]) < 0.05
