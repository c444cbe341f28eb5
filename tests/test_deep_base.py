"""The deep-hasher base, through a minimal supervised hasher defined here."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from _hashers import fit_small, torch_hashers
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklhash import LSHHasher, hamming_distances
from sklhash.hashers._deep import BaseDeepHasher
from sklhash.hashers.supervised import DPSHHasher


class ToyLoss(torch.nn.Module):
    """Pairwise same-class regression of code inner products (test only)."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale

    def forward(self, out, batch):
        u = torch.tanh(out) * self.scale
        s = (batch["y"][:, None] == batch["y"][None, :]).float() * 2 - 1
        return ((u @ u.T / u.shape[1] - s) ** 2).mean()


class ToyHasher(BaseDeepHasher):
    """Pairwise same-class regression of code inner products (test only)."""

    _parameter_constraints = {**BaseDeepHasher._parameter_constraints}
    _uses_targets = True

    def __init__(
        self,
        bits=8,
        *,
        backbone="mlp",
        hidden_layer_sizes=(32,),
        max_epochs=2,
        batch_size=64,
        lr=1e-2,
        optimizer="adam",
        weight_decay=0.0,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        validation_fraction=None,
        early_stopping=False,
        on_interrupt="raise",
        quantization=None,
        scale=1.0,
    ):
        super().__init__(
            bits,
            backbone=backbone,
            hidden_layer_sizes=hidden_layer_sizes,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            device=device,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            on_interrupt=on_interrupt,
            quantization=quantization,
        )
        self.scale = scale

    def _fit_targets(self, X, y):
        classes, y_idx = np.unique(np.asarray(y), return_inverse=True)
        return {"y": y_idx.astype(np.int64)}, {"classes_": classes}, {}

    def _criterion(self, training, **fitted):
        return ToyLoss, {"scale": self.scale}


def _retrieval_precision(codes, y, k=20):
    d = hamming_distances(codes).astype(float)
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return (y[idx] == y[:, None]).mean()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@parametrize_with_checks([ToyHasher(bits=5, max_epochs=1, random_state=0)])
def test_toy_hasher_is_sklearn_compatible(estimator, check):
    check(estimator)


def test_learns_and_beats_lsh(digits):
    X, y = digits
    toy = ToyHasher(bits=16, max_epochs=5, random_state=0).fit(X, y)
    lsh = LSHHasher(bits=16, random_state=0).fit(X)
    assert _retrieval_precision(toy.transform(X), y) > 0.85
    assert (
        _retrieval_precision(toy.transform(X), y)
        > _retrieval_precision(lsh.transform(X), y) + 0.2
    )
    assert len(toy.history_) == 5
    assert toy.device_ == "cpu"


def test_deterministic_and_leaves_global_rng_alone(digits):
    X, y = digits
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = ToyHasher(random_state=7).fit(X[:300], y[:300]).transform(X)
    after = torch.rand(1)
    b = ToyHasher(random_state=7).fit(X[:300], y[:300]).transform(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(before, after)
    c = ToyHasher(random_state=8).fit(X[:300], y[:300]).transform(X)
    assert not np.array_equal(a, c)


def test_pickle_round_trip(digits):
    X, y = digits
    toy = ToyHasher(random_state=0).fit(X[:200], y[:200])
    clone = pickle.loads(pickle.dumps(toy))
    np.testing.assert_array_equal(clone.transform(X), toy.transform(X))


def test_net_gets_module_and_criterion_classes(digits):
    # A class with module__* / criterion__* arguments, as skorch expects, so
    # that skorch's own device-aware pickling covers everything and a net
    # can be rebuilt from parameters (no instance to carry around).
    X, y = digits
    toy = ToyHasher(random_state=0).fit(X[:200], y[:200])
    assert isinstance(toy.net_.module, type)
    assert toy.net_.criterion is ToyLoss
    assert toy.net_.criterion__scale == 1.0
    assert type(toy.net_).cuda_dependent_attributes_ == []  # skorch's default


def test_decision_function_matches_embed(digits):
    X, y = digits
    toy = ToyHasher(random_state=0).fit(X[:200], y[:200])
    np.testing.assert_allclose(toy.decision_function(X), toy.embed(X))
    assert np.abs(toy.embed(X)).max() <= 1


def test_nan_loss_is_reported_with_epoch(digits):
    X, y = digits
    toy = ToyHasher(scale=float("nan"), random_state=0)
    with pytest.raises(ValueError, match="loss became nan at epoch 1"):
        toy.fit(X[:100], y[:100])
    assert not hasattr(toy, "net_")


def test_supervised_hasher_needs_y(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="requires y to be passed"):
        ToyHasher().fit(X)


def test_cuda_request_without_gpu(digits):
    X, y = digits
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; this checks the CPU-only error")
    with pytest.raises(ValueError, match="CUDA is not available"):
        ToyHasher(device="cuda").fit(X[:50], y[:50])
    assert ToyHasher(device="auto").fit(X[:50], y[:50]).device_ == "cpu"


def test_validation_split_and_early_stopping(digits):
    X, y = digits
    toy = ToyHasher(
        max_epochs=40,
        validation_fraction=0.2,
        early_stopping=True,
        lr=0.05,
        random_state=0,
    ).fit(X[:400], y[:400])
    assert "valid_loss" in toy.history_[-1]
    assert len(toy.history_) < 40


def test_cnn_backbone_on_images(digits):
    X, y = digits
    images = X[:200].reshape(-1, 1, 8, 8)
    toy = ToyHasher(backbone="cnn", random_state=0).fit(images, y[:200])
    assert toy.transform(images).shape == (200, 1)
    flat = ToyHasher(backbone="cnn", random_state=0).fit(X[:200], y[:200])
    assert flat.transform(X[:10]).shape == (10, 1)
    with pytest.raises(ValueError, match="backbone='cnn' needs images"):
        ToyHasher(backbone="cnn").fit(X[:50, :10], y[:50])


def test_custom_module_backbone(digits):
    X, y = digits
    toy = ToyHasher(backbone=torch.nn.Linear(64, 12), random_state=0)
    assert toy.fit(X[:100], y[:100]).transform(X).shape == (len(X), 1)


def test_verbose_prints_progress(digits, capsys):
    X, y = digits
    ToyHasher(verbose=1, max_epochs=1).fit(X[:100], y[:100])
    assert "train_loss" in capsys.readouterr().out


def test_householder_two_stage(digits):
    X, y = digits
    plain = ToyHasher(bits=12, max_epochs=8, random_state=0).fit(X[:600], y[:600])
    two = ToyHasher(
        bits=12, max_epochs=8, quantization="householder", random_state=0
    ).fit(X[:600], y[:600])
    assert two.quantizer_ is not None and plain.quantizer_ is None
    values = two.decision_function(X)
    assert values.shape == (len(X), 12)
    # The second stage rotates the raw outputs orthogonally: norms are kept
    # up to the quantiser's rescaling to sqrt(bits).
    raw = two.embed(X)
    np.testing.assert_allclose(np.linalg.norm(values, axis=1), np.sqrt(12), rtol=1e-3)
    assert raw.shape == values.shape
    np.testing.assert_array_equal(two.transform(X), np.packbits(values > 0, axis=1))
    # Same network (same seed), so the rotation is the only difference.
    np.testing.assert_allclose(raw, plain.embed(X), atol=1e-6)
    two_stage = _retrieval_precision(two.transform(X), y)
    assert two_stage > 0.8
    assert two_stage > _retrieval_precision(plain.transform(X), y) - 0.05


def _torch_objects(obj, path, seen):
    """(path, object) of every tensor or module reachable through plain
    containers and sklhash objects, not descending into modules."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        yield path, obj
        return
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    elif type(obj).__module__.startswith("sklhash"):
        items = vars(obj).items()
    else:
        return
    for key, value in items:
        yield from _torch_objects(value, f"{path}.{key}", seen)


_TORCH_HASHERS = torch_hashers()



@pytest.mark.parametrize(
    "name, cls", _TORCH_HASHERS, ids=[name for name, _ in _TORCH_HASHERS]
)
def test_fitted_hasher_holds_torch_state_only_in_skorch_device_aware_part(
    name, cls, digits
):
    # Weights referenced from anywhere else are pickled by plain pickle,
    # device and all: a CUDA-trained model would then fail to load on a
    # CPU-only machine. (SemanticKLHasher kept such a reference; found on a
    # GPU by tests/test_cuda.py.)
    X, y = digits
    est = fit_small(name, cls, X[:200], y[:200])
    state = {k: v for k, v in vars(est).items() if k != "net_"}
    assert list(_torch_objects(state, name, set())) == []
    if hasattr(est, "net_"):
        prefixes = tuple(est.net_.cuda_dependent_attributes_)
        outside = [
            key
            for key, value in vars(est.net_).items()
            if isinstance(value, (torch.Tensor, torch.nn.Module))
            and not key.startswith(prefixes)
        ]
        assert outside == []


class _Dead(torch.nn.Module):
    """A backbone whose features are all zero: the hash layer sees only its bias."""

    def forward(self, X):
        return X.flatten(1) * 0.0


def test_collapsed_codes_warn():
    # Every sample gets the hash layer's bias as its output, hence one code.
    X, y = load_digits(return_X_y=True)
    X = (X[:200] / 16).astype(np.float32)
    est = DPSHHasher(bits=8, backbone=_Dead(), max_epochs=1, random_state=0)
    with pytest.warns(UserWarning, match="get the same code"):
        est.fit(X, y[:200])
    assert len(np.unique(est.transform(X), axis=0)) == 1


def test_trained_codes_do_not_warn_collapse():
    X, y = load_digits(return_X_y=True)
    X = (X[:400] / 16).astype(np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*get the same code")
        est = DPSHHasher(bits=8, hidden_layer_sizes=(32,), max_epochs=3,
                         random_state=0).fit(X, y[:400])
    assert len(np.unique(est.transform(X), axis=0)) > 1


def test_identical_rows_may_share_a_code():
    # Constant inputs legitimately give one code: no warning.
    X = np.ones((50, 6), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*get the same code")
        DPSHHasher(bits=4, hidden_layer_sizes=(8,), max_epochs=1,
                   random_state=0).fit(X, np.arange(50) % 2)
