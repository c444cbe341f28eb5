"""HouseholderQuantizer: rotation, codes, small-data behaviour, errors."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklhash import HouseholderQuantizer, hamming_distances, unpack_codes
from sklhash.hashers.classic import _random_rotation, itq_rotation
from sklhash.hashers.householder import _rescale_rows, householder_rotation

LOSSES = ["l2", "l1", "min", "bit_var"]


def _planted(n=1500, K=8, noise=0.2, seed=0):
    """Binary codes plus noise, rotated by a random orthogonal matrix."""
    rng = np.random.RandomState(seed)
    B = np.where(rng.rand(n, K) > 0.5, 1.0, -1.0)
    return (B + noise * rng.standard_normal((n, K))) @ _random_rotation(K, rng)


def _quantization_error(V):
    V = _rescale_rows(V)
    return float(np.mean((np.where(V > 0, 1.0, -1.0) - V) ** 2))


@pytest.mark.parametrize("loss", LOSSES)
def test_fitted_rotation_is_orthogonal(loss):
    Z = _planted(n=300, K=6, seed=1)
    hq = HouseholderQuantizer(loss=loss, max_epochs=5, random_state=0).fit(Z)
    R = hq.rotation_
    assert R.shape == (6, 6) and R.dtype == np.float64
    np.testing.assert_allclose(R.T @ R, np.eye(6), atol=1e-10)
    # decision_function is the rescaled input rotated by rotation_.
    values = hq.decision_function(Z)
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, _rescale_rows(Z) @ R, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(values, axis=1), np.sqrt(6), rtol=1e-5)


@pytest.mark.parametrize("loss", LOSSES)
def test_hamming_ranking_of_binary_input_unchanged(loss):
    # Already +-1: every loss is stationary at the starting rotation -I, which
    # flips all bits and so keeps every Hamming distance.
    rng = np.random.RandomState(3)
    X = np.where(rng.rand(80, 10) > 0.5, 1.0, -1.0)
    hq = HouseholderQuantizer(loss=loss, max_epochs=10, random_state=0).fit(X)
    np.testing.assert_array_equal(
        hamming_distances(hq.transform(X), hq.transform(X)),
        hamming_distances(np.packbits(X > 0, axis=1), np.packbits(X > 0, axis=1)),
    )


@pytest.mark.parametrize("loss", LOSSES)
def test_quantization_error_decreases_on_planted_rotation(loss):
    Z, Z_test = np.split(_planted(n=3000), 2)
    # bit_var's default step (0.01) needs far more than 40 x 11 steps.
    lr = 0.1 if loss == "bit_var" else None
    hq = HouseholderQuantizer(loss=loss, lr=lr, max_epochs=40, random_state=0)
    hq.fit(Z)
    before = _quantization_error(Z_test)
    after = _quantization_error(hq.decision_function(Z_test))
    assert after < 0.5 * before, (before, after)
    assert hq.validation_loss_curve_[hq.best_epoch_] < hq.validation_loss_curve_[0]


def test_l2_reaches_itq_error_on_planted_rotation():
    Z = _planted(K=12, n=3000, seed=4)
    R_itq, _ = itq_rotation(_rescale_rows(Z), n_iter=50, random_state=0)
    itq = _quantization_error(_rescale_rows(Z) @ R_itq)
    hq = HouseholderQuantizer(max_epochs=100, random_state=0).fit(Z)
    ours = _quantization_error(hq.decision_function(Z))
    assert ours <= 1.02 * itq, (ours, itq)
    assert ours < 0.5 * _quantization_error(Z)


def test_plateau_schedule_beats_constant_step():
    Z = _planted(K=8, n=2000, seed=1)
    kw = dict(n_iter_no_change=5, random_state=0)
    plateau = HouseholderQuantizer(lr_schedule="plateau", **kw).fit(Z)
    constant = HouseholderQuantizer(lr_schedule="constant", **kw).fit(Z)
    assert plateau.n_iter_ > constant.n_iter_
    assert min(plateau.validation_loss_curve_) < min(constant.validation_loss_curve_)


def test_deterministic_with_random_state():
    Z = _planted(n=400, seed=5).astype(np.float32)
    a = HouseholderQuantizer(max_epochs=8, random_state=7).fit(Z)
    b = HouseholderQuantizer(max_epochs=8, random_state=7).fit(Z)
    np.testing.assert_array_equal(a.rotation_, b.rotation_)
    np.testing.assert_array_equal(a.transform(Z), b.transform(Z))
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)


def test_pickle_round_trip_and_encoding_without_torch(tmp_path):
    Z = _planted(n=200, seed=6)
    hq = HouseholderQuantizer(max_epochs=3, random_state=0).fit(Z)
    codes = hq.transform(Z)
    restored = pickle.loads(pickle.dumps(hq))
    np.testing.assert_array_equal(restored.transform(Z), codes)

    path = tmp_path / "hq.pkl"
    path.write_bytes(pickle.dumps(hq))
    np.save(tmp_path / "Z.npy", Z)
    np.save(tmp_path / "codes.npy", codes)
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import numpy as np
        hq = pickle.loads(open({str(path)!r}, "rb").read())
        codes = hq.transform(np.load({str(tmp_path / "Z.npy")!r}))
        assert (codes == np.load({str(tmp_path / "codes.npy")!r})).all()
        assert "torch" not in sys.modules, "encoding imported torch"
        """
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr


def test_bits_must_match_features_without_projection():
    X = np.random.RandomState(0).standard_normal((30, 5))
    with pytest.raises(
        ValueError, match=r"bits=3 does not match n_features=5.*projection='pca'"
    ):
        HouseholderQuantizer(bits=3).fit(X)
    with pytest.raises(ValueError, match="bits=7 does not match n_features=5"):
        HouseholderQuantizer(bits=7).fit(X)


def test_bits_none_means_n_features():
    X = np.random.RandomState(0).standard_normal((30, 5))
    hq = HouseholderQuantizer(max_epochs=1, random_state=0).fit(X)
    assert hq.n_bits_ == 5 and hq.mean_ is None and hq.components_ is None
    hq = HouseholderQuantizer(bits=5, max_epochs=1, random_state=0).fit(X)
    assert hq.n_bits_ == 5


def test_pca_projection():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 20)) + 3.0
    hq = HouseholderQuantizer(bits=12, projection="pca", max_epochs=3,
                              random_state=0).fit(X)
    assert hq.n_bits_ == 12 and hq.rotation_.shape == (12, 12)
    assert hq.components_.shape == (12, 20)
    codes = hq.transform(X)
    assert codes.shape == (200, 2)
    P = (X - X.mean(axis=0)) @ hq.components_.T
    np.testing.assert_array_equal(
        unpack_codes(codes, 12), _rescale_rows(P) @ hq.rotation_ > 0
    )
    with pytest.raises(ValueError, match="bits=21 is larger than"):
        HouseholderQuantizer(bits=21, projection="pca").fit(X)


@pytest.mark.parametrize("n_samples", [1, 2, 3])
@pytest.mark.parametrize("validation_fraction", [0.0, 0.1, 0.5, 0.9])
def test_tiny_inputs(n_samples, validation_fraction):
    X = np.random.RandomState(n_samples).standard_normal((n_samples, 3))
    hq = HouseholderQuantizer(
        max_epochs=3, validation_fraction=validation_fraction, random_state=0
    ).fit(X)
    assert hq.transform(X).shape == (n_samples, 1)
    np.testing.assert_allclose(hq.rotation_.T @ hq.rotation_, np.eye(3), atol=1e-10)


def test_one_feature_and_zero_rows():
    X = np.array([[2.0], [-1.0], [0.0]])
    hq = HouseholderQuantizer(max_epochs=2, random_state=0).fit(X)
    # The only 1-d rotations are +-1; a zero row stays 0 and is a 0-bit.
    assert abs(hq.rotation_[0, 0]) == pytest.approx(1.0)
    values = hq.decision_function(X)
    assert values[2, 0] == 0.0
    assert np.isfinite(values).all()


def test_best_epoch_is_kept_and_early_stopping():
    Z = _planted(n=600, seed=8)
    hq = HouseholderQuantizer(max_epochs=60, n_iter_no_change=2, tol=1.0,
                              lr_schedule="constant", random_state=0).fit(Z)
    # tol=1 never counts as progress: stops after exactly 2 epochs, or after
    # 3 plateaus of 2 epochs with the plateau schedule.
    assert hq.n_iter_ == 2 and len(hq.loss_curve_) == 2
    hq.set_params(lr_schedule="plateau").fit(Z)
    assert hq.n_iter_ == 6
    full = HouseholderQuantizer(max_epochs=15, n_iter_no_change=None,
                                random_state=0).fit(Z)
    assert full.n_iter_ == 15 and len(full.validation_loss_curve_) == 16
    assert full.best_epoch_ == int(np.argmin(full.validation_loss_curve_))
    # rotation_ is the kept epoch's parameters, not the last epoch's.
    import torch

    from sklhash.nn.householder import HouseholderOrthogonal

    rot = HouseholderOrthogonal(8, dtype=torch.float64)
    with torch.no_grad():
        rot.weight.copy_(torch.as_tensor(full.householder_vectors_))
        np.testing.assert_allclose(rot.matrix().numpy().T, full.rotation_,
                                   atol=1e-12)


def test_householder_rotation_function_on_float32():
    # The deep hashers' two-stage option fits on float32 network outputs.
    Z = _planted(n=300, K=16, seed=9).astype(np.float32)
    R, info = householder_rotation(Z, max_epochs=4, random_state=0)
    assert R.shape == (16, 16)
    assert info["n_epochs"] == 4 and len(info["validation_loss_curve"]) == 5
    hq = HouseholderQuantizer(bits=16, random_state=0, max_epochs=4).fit(Z)
    np.testing.assert_array_equal(hq.rotation_, R)
    assert hq.decision_function(Z).shape == (300, 16)


def test_in_a_pipeline():
    X = _planted(n=200, seed=10)
    pipe = make_pipeline(StandardScaler(), HouseholderQuantizer(max_epochs=2,
                                                                random_state=0))
    assert pipe.fit_transform(X).shape == (200, 1)


def test_diverging_loss_raises_with_epoch():
    Z = _planted(n=100, seed=11)
    with pytest.raises(ValueError, match="became nan at epoch 1"):
        HouseholderQuantizer(lr=1e300, max_epochs=3, random_state=0).fit(Z)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"loss": "l3"}, "'loss' parameter"),
        ({"projection": "svd"}, "'projection' parameter"),
        ({"lr": 0.0}, "'lr' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"lr_schedule": "cosine"}, "'lr_schedule' parameter"),
    ],
)
def test_bad_parameters_rejected(params, match):
    with pytest.raises(ValueError, match=match):
        HouseholderQuantizer(**params).fit(np.ones((5, 2)))


def test_verbose_prints_losses(capsys):
    HouseholderQuantizer(max_epochs=2, verbose=1, random_state=0).fit(
        _planted(n=50, seed=12)
    )
    out = capsys.readouterr().out
    assert out.count("held-out") == 2 and "epoch    1" in out
