"""SoftSort, the straight-through sign and the augmentation views (pure torch)."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklhash.nn._ste import TanhSignSTE, sign_ste
from sklhash.nn.augment import (
    FeatureAugment,
    ImageAugment,
    feature_views,
    image_views,
)
from sklhash.nn.softsort import SoftSort, soft_sort

distinct_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.integers(2, 9)),
    elements=st.integers(-50, 50).map(lambda v: v / 10),
).filter(lambda a: all(len(set(row)) == len(row) for row in a))


@given(distinct_rows)
def test_soft_sort_small_tau_is_argsort_permutation(scores):
    s = torch.as_tensor(scores)
    P = soft_sort(s, tau=1e-3)
    order = np.argsort(-scores, axis=1, kind="stable")
    n = scores.shape[1]
    expected = np.zeros((len(scores), n, n))
    for i, row in enumerate(order):
        expected[i, np.arange(n), row] = 1.0
    np.testing.assert_allclose(P.numpy(), expected, atol=1e-6)
    # The permutation applied to the scores sorts them descending.
    np.testing.assert_allclose(
        (P @ s.unsqueeze(2)).squeeze(2).numpy(), -np.sort(-scores, axis=1), atol=1e-6
    )


@given(
    arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 8)),
           elements=st.floats(-3, 3)),
    st.sampled_from([1e-2, 0.1, 1.0, 10.0]),
)
def test_soft_sort_rows_are_distributions_with_finite_gradients(scores, tau):
    s = torch.as_tensor(scores).requires_grad_(True)
    P = soft_sort(s, tau=tau)
    assert P.shape == (*scores.shape, scores.shape[1])
    np.testing.assert_allclose(P.sum(dim=2).detach().numpy(), 1.0, atol=1e-9)
    assert (P >= 0).all()
    # A weighted sum so the gradient is not identically zero by symmetry.
    w = torch.arange(P.numel(), dtype=P.dtype).reshape(P.shape).sin()
    (P * w).sum().backward()
    assert torch.isfinite(s.grad).all()


def test_soft_sort_ties_give_finite_gradients():
    # Hamming similarities are full of ties; the sorter must stay finite.
    s = torch.tensor([[0.5, 0.5, 0.25, 0.5]], requires_grad=True)
    P = soft_sort(s, tau=1 / 32)
    P[0, 0, 2].backward()
    assert torch.isfinite(s.grad).all()


def test_soft_sort_hard_is_straight_through():
    s = torch.tensor([[0.2, 0.9, 0.4]], requires_grad=True)
    P = soft_sort(s, tau=1.0, hard=True)
    np.testing.assert_array_equal(P[0].detach().numpy(), np.eye(3)[[1, 2, 0]])
    (P * torch.arange(9.0).reshape(1, 3, 3)).sum().backward()
    assert s.grad.abs().sum() > 0


def test_soft_sort_module_and_errors():
    P = SoftSort(tau=0.01)(torch.tensor([[3.0, 1.0, 2.0]]))
    assert P[0].argmax(dim=1).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="tau must be > 0, got tau=0"):
        soft_sort(torch.zeros(2, 3), tau=0)
    with pytest.raises(ValueError, match="scores must be 2-d"):
        soft_sort(torch.zeros(3), tau=1.0)


def test_sign_ste_forward_and_backward():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-6, 3.0], requires_grad=True)
    b = sign_ste(x)
    # Same convention as transform: a bit is 1 exactly where the value is > 0.
    assert b.tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0]
    (b * torch.arange(5.0)).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    h = torch.tensor([0.5], requires_grad=True)
    TanhSignSTE()(h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 1 - np.tanh(0.5) ** 2, rtol=1e-6)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_feature_views_identity_noise_and_dropout():
    X = torch.randn(400, 50, generator=_gen(1))
    assert torch.equal(feature_views(X, noise=0.0, dropout=0.0, generator=_gen(0)), X)
    dropped = feature_views(X, noise=0.0, dropout=0.3, generator=_gen(0))
    frac = float((dropped == 0).float().mean())
    assert 0.27 < frac < 0.33
    kept = dropped != 0
    assert torch.equal(dropped[kept], X[kept])
    scale = torch.linspace(0.0, 2.0, 50)
    noisy = feature_views(X, noise=0.5, dropout=0.0, scale=scale, generator=_gen(0))
    std = (noisy - X).std(dim=0)
    np.testing.assert_allclose(std.numpy(), 0.5 * scale.numpy(), atol=0.08)
    a = FeatureAugment(0.2, 0.1)(X, generator=_gen(3))
    b = FeatureAugment(0.2, 0.1)(X, generator=_gen(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, FeatureAugment(0.2, 0.1)(X, generator=_gen(4)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"noise": -1.0}, "noise must be >= 0, got noise=-1.0"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got dropout=1.0"),
    ],
)
def test_feature_views_bad_strengths(kwargs, match):
    with pytest.raises(ValueError, match=match):
        feature_views(torch.zeros(2, 3), **kwargs)


def test_image_views_identity_and_flip_are_exact():
    X = torch.rand(3, 2, 6, 5, generator=_gen(0))
    still = dict(crop_scale=(1.0, 1.0), ratio=(1.0, 1.0), brightness=0.0, contrast=0.0)
    same = image_views(X, flip=0.0, generator=_gen(0), **still)
    np.testing.assert_allclose(same.numpy(), X.numpy(), atol=1e-6)
    flipped = image_views(X, flip=1.0, generator=_gen(0), **still)
    np.testing.assert_allclose(flipped.numpy(), X.flip(-1).numpy(), atol=1e-6)


def test_image_views_crop_zooms_in_and_jitter_keeps_the_mean():
    # A centred bright square: any crop inside the image keeps or enlarges
    # the bright area's share (zooming in), never shrinks it.
    X = torch.zeros(64, 1, 20, 20)
    X[:, :, 5:15, 5:15] = 1.0
    crops = image_views(X, crop_scale=(0.3, 0.6), flip=0.0, brightness=0.0,
                        contrast=0.0, generator=_gen(0))
    assert not torch.allclose(crops, X)
    assert crops.shape == X.shape
    Y = torch.rand(16, 1, 8, 8, generator=_gen(2))
    jit = image_views(Y, crop_scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=0.0,
                      brightness=0.0, contrast=0.5, generator=_gen(0))
    np.testing.assert_allclose(jit.mean(dim=(1, 2, 3)).numpy(),
                               Y.mean(dim=(1, 2, 3)).numpy(), atol=1e-5)
    ratio = jit.std(dim=(1, 2, 3)) / Y.std(dim=(1, 2, 3))
    assert ((ratio > 0.5 - 1e-4) & (ratio < 1.5 + 1e-4)).all()
    assert ratio.std() > 0.01


def test_image_views_deterministic_given_generator():
    X = torch.rand(8, 1, 28, 28, generator=_gen(0))
    a = image_views(X, generator=_gen(5))
    assert torch.equal(a, image_views(X, generator=_gen(5)))
    assert not torch.equal(a, image_views(X, generator=_gen(6)))
    flat = ImageAugment(shape=(1, 28, 28))(X.reshape(8, -1), generator=_gen(5))
    assert torch.equal(flat.reshape(X.shape), a)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"crop_scale": (0.0, 1.0)}, "crop_scale must satisfy"),
        ({"crop_scale": (0.8, 0.5)}, "crop_scale must satisfy"),
        ({"flip": 1.5}, r"flip must be in \[0, 1\], got flip=1.5"),
    ],
)
def test_image_views_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_views(torch.zeros(2, 1, 4, 4), **kwargs)
    with pytest.raises(ValueError, match="X must be 4-d"):
        image_views(torch.zeros(2, 16))
