"""The pure-torch Householder rotation and the quantisation losses."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sklhash.nn.householder import (
    QUANTIZATION_LOSSES,
    HouseholderOrthogonal,
    householder_sgd_step,
    quantization_loss,
    quantization_loss_grad,
)


def _with_weight(w):
    module = HouseholderOrthogonal(w.shape[0], dtype=w.dtype)
    with torch.no_grad():
        module.weight.copy_(w)
    return module


def _reference_product(w):
    """H(v_1) ... H(v_K) multiplied out one reflection at a time."""
    K = w.shape[1]
    U = torch.eye(K, dtype=w.dtype)
    for v in w:
        U = U @ (torch.eye(K, dtype=w.dtype) - 2 * torch.outer(v, v) / (v @ v))
    return U


@given(
    n_dims=st.integers(1, 12),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
)
def test_random_parameters_give_an_orthogonal_matrix(n_dims, seed, scale):
    g = torch.Generator().manual_seed(seed)
    w = scale * torch.randn(n_dims, n_dims, generator=g)
    U = _with_weight(w).matrix().detach()
    np.testing.assert_allclose(U.T @ U, np.eye(n_dims), atol=1e-5)
    np.testing.assert_allclose(U @ U.T, np.eye(n_dims), atol=1e-5)


@given(n_dims=st.integers(1, 10), seed=st.integers(0, 2**31 - 1))
def test_compact_form_equals_product_of_reflections(n_dims, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_dims, n_dims, generator=g, dtype=torch.float64)
    U = _with_weight(w).matrix().detach()
    np.testing.assert_allclose(U, _reference_product(w), atol=1e-10)
    # K non-zero reflections: determinant (-1)^K.
    assert np.linalg.det(U.numpy()) == pytest.approx((-1) ** n_dims, abs=1e-8)


@pytest.mark.parametrize("n_dims", [1, 2, 5, 16])
def test_identity_initialisation_is_minus_identity(n_dims):
    rot = HouseholderOrthogonal(n_dims)
    np.testing.assert_array_equal(rot.weight.detach(), np.eye(n_dims))
    np.testing.assert_allclose(rot.matrix().detach(), -np.eye(n_dims), atol=1e-7)


def test_zero_vector_acts_as_identity():
    w = torch.randn(4, 4, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    w[2] = 0.0
    U = _with_weight(w).matrix().detach()
    expected = _reference_product(w[[0, 1, 3]])
    np.testing.assert_allclose(U, expected, atol=1e-10)
    assert torch.isfinite(U).all()


def test_forward_rotates_each_row():
    g = torch.Generator().manual_seed(1)
    rot = _with_weight(torch.randn(6, 6, generator=g))
    x = torch.randn(50, 6, generator=g)
    y = rot(x).detach()
    U = rot.matrix().detach()
    np.testing.assert_allclose(y, x @ U.T, rtol=1e-5, atol=1e-6)
    # Orthogonal: norms and inner products kept.
    np.testing.assert_allclose(y @ y.T, x @ x.T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("loss", sorted(QUANTIZATION_LOSSES))
def test_gradients_reach_every_reflection(loss):
    g = torch.Generator().manual_seed(2)
    K = 7
    rot = _with_weight(torch.eye(K) + 0.3 * torch.randn(K, K, generator=g))
    x = torch.randn(40, K, generator=g)
    quantization_loss(rot(x), loss).backward()
    grad = rot.weight.grad
    assert torch.isfinite(grad).all()
    assert (grad.norm(dim=1) > 1e-6).all(), grad.norm(dim=1)


def _matrix_of(weight):
    rot = HouseholderOrthogonal(weight.shape[0], dtype=weight.dtype)
    # Swap the parameter for a plain tensor so gradcheck can perturb it.
    del rot.weight
    rot.weight = weight
    return rot.matrix()


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_matrix_of, (w,))


@pytest.mark.parametrize("loss", sorted(QUANTIZATION_LOSSES))
def test_hand_written_loss_gradient_matches_autograd(loss):
    g = torch.Generator().manual_seed(4)
    y = (2 * torch.randn(30, 6, generator=g, dtype=torch.float64)).requires_grad_()
    expected = quantization_loss(y, loss)
    expected.backward()
    value, grad = quantization_loss_grad(y.detach(), loss)
    assert float(value) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, y.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", sorted(QUANTIZATION_LOSSES))
def test_sgd_step_equals_autograd_step(loss):
    g = torch.Generator().manual_seed(5)
    K = 8
    w0 = torch.eye(K, dtype=torch.float64) + 0.5 * torch.randn(
        K, K, generator=g, dtype=torch.float64)
    x = torch.randn(50, K, generator=g, dtype=torch.float64)
    rot = _with_weight(w0)
    quantization_loss(rot(x), loss).backward()
    expected = w0 - 0.3 * rot.weight.grad
    w = w0.clone()
    value = householder_sgd_step(w, x, loss, lr=0.3)
    np.testing.assert_allclose(w, expected, rtol=1e-10, atol=1e-12)
    before = quantization_loss(x @ _reference_product(w0).T, loss)
    assert float(value) == pytest.approx(float(before), rel=1e-10)


def test_quantization_losses_by_hand():
    y = torch.tensor([[2.0, -0.5], [0.0, 1.0]], dtype=torch.float64)
    # b = [[1, -1], [-1, 1]]: an exact 0 rounds to -1, never to 0.
    assert float(quantization_loss(y, "l2")) == pytest.approx(
        (1.0 + 0.25 + 1.0 + 0.0) / 4
    )
    assert float(quantization_loss(y, "l1")) == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    lse = [math.log(math.exp(-4) + math.exp(-0.25)), math.log(1 + math.exp(-1))]
    assert float(quantization_loss(y, "min")) == pytest.approx(sum(lse) / 2)

    def s(v):
        return 1 / (1 + math.exp(-v))

    bv = [s(v) * (1 - s(v)) for v in (2.0, -0.5, 0.0, 1.0)]
    assert float(quantization_loss(y, "bit_var")) == pytest.approx(sum(bv) / 4)


@given(n_dims=st.integers(1, 16), seed=st.integers(0, 2**31 - 1))
def test_l2_loss_is_itq_objective_on_rows_of_norm_sqrt_k(n_dims, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((20, n_dims))
    z *= math.sqrt(n_dims) / np.maximum(np.linalg.norm(z, axis=1, keepdims=True),
                                        1e-12)
    y = torch.as_tensor(z)
    expected = 2 - 2 / n_dims * np.abs(z).sum(axis=1).mean()
    assert float(quantization_loss(y, "l2")) == pytest.approx(expected, abs=1e-10)


def test_unknown_loss_rejected():
    with pytest.raises(ValueError, match="loss must be one of .* got loss='l3'"):
        quantization_loss(torch.zeros(2, 2), "l3")
    with pytest.raises(ValueError, match="loss must be one of .* got loss='l3'"):
        quantization_loss_grad(torch.zeros(2, 2), "l3")


def test_bad_n_dims_rejected():
    with pytest.raises(ValueError, match="n_dims must be at least 1, got n_dims=0"):
        HouseholderOrthogonal(0)
