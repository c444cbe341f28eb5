"""The DPSH, HashNet and CSQ losses against hand-computed values, and their
hash-centre construction."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.linalg import hadamard as scipy_hadamard

from sklhash.nn.hashing_losses import (
    csq_loss,
    dpsh_loss,
    hadamard,
    hash_centers,
    hashnet_beta,
    hashnet_loss,
    label_similarity,
    sample_centers,
)

LOG2 = math.log(2.0)


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


def test_dpsh_hand_computed():
    u = _t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    s = label_similarity(torch.tensor([0, 0, 1]))
    # theta = u_i.u_j / 2: pair (0,1) -> 0 (similar), (0,2) and (1,2) -> 1/2
    # (dissimilar). Pair NLL: log 2, log(1 + e^0.5), log(1 + e^0.5).
    likelihood = (LOG2 + 2 * math.log(1 + math.exp(0.5))) / 3
    # sgn(0) is -1 in sklhash (bit = u > 0): two of six entries are 1 away.
    quantization = 2 / 6
    expected = likelihood + 0.1 * quantization
    assert expected == pytest.approx(0.913767, abs=1e-6)
    assert dpsh_loss(u, s, eta=0.1).item() == pytest.approx(expected, rel=1e-12)
    assert dpsh_loss(u, s, eta=0.0).item() == pytest.approx(likelihood, rel=1e-12)


def test_hashnet_hand_computed():
    u = _t([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    s = label_similarity(torch.tensor([0, 0, 1]))
    # alpha * u_i.u_j: (0,1) -> 0 similar, (0,2) -> -1 and (1,2) -> 0
    # dissimilar. 6 ordered pairs, 2 similar (weight 6/2 = 3), 4 dissimilar
    # (weight 6/4 = 1.5). NLLs: log 2; log(1 + e^-1); log 2.
    sp = math.log(1 + math.exp(-1.0))
    expected = (2 * 3 * LOG2 + 1.5 * (2 * sp + 2 * LOG2)) / 6
    assert expected == pytest.approx(1.196352, abs=1e-6)
    assert hashnet_loss(u, s, alpha=0.5).item() == pytest.approx(expected, rel=1e-12)
    unbalanced = (2 * LOG2 + 2 * sp + 2 * LOG2) / 6
    got = hashnet_loss(u, s, alpha=0.5, balance=False).item()
    assert got == pytest.approx(unbalanced, rel=1e-12)


def test_hashnet_multilabel_weight_is_label_cosine():
    u = _t([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    Y = torch.tensor([[1, 1], [1, 0], [0, 1]])
    s = label_similarity(Y, kind="cosine")
    c = 1 / math.sqrt(2)
    np.testing.assert_allclose(s.numpy(), [[1, c, c], [c, 1, 0], [c, 0, 1]], rtol=1e-6)
    # Now (0,1) and (0,2) are similar with weight c, (1,2) dissimilar: 4
    # similar ordered pairs (x 6/4), 2 dissimilar (x 6/2).
    sp_pos = math.log(1 + math.exp(-1.0)) + 1.0  # softplus(-1) - (-1)
    expected = (1.5 * c * 2 * (LOG2 + sp_pos) + 3 * 2 * LOG2) / 6
    got = hashnet_loss(u, s.double(), alpha=0.5).item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_csq_hand_computed():
    a = 0.5 * math.log(3.0)  # sigmoid(2a) = 3/4 and tanh(a) = 1/2
    z = _t([[0.0, a], [-a, 0.0], [a, a]])
    centers = _t([[1, 1], [1, -1], [-1, 1]])
    # BCE per entry: log 2, log 4/3 | log 4, log 2 | log 4, log 4/3.
    center_loss = math.log(32 / 3) / 3
    # (|tanh z| - 1)^2: 1, 1/4 | 1/4, 1 | 1/4, 1/4 -> mean 1/2.
    expected = center_loss + 0.1 * 0.5
    assert expected == pytest.approx(0.839041, abs=1e-6)
    assert csq_loss(z, centers, lam=0.1).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("scale", [1e2, 1e4])
def test_losses_finite_for_huge_outputs(scale):
    u = _t([[1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]]) * scale
    u.requires_grad_(True)
    s = label_similarity(torch.tensor([0, 1, 1]))
    losses = [dpsh_loss(u, s), hashnet_loss(torch.tanh(u), s), csq_loss(u, -u.sign())]
    for loss in losses:
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(u.grad).all()
        u.grad = None


@given(
    arrays(np.float64, (5, 3), elements=st.floats(-4, 4)),
    st.lists(st.integers(0, 2), min_size=5, max_size=5),
    st.permutations(range(5)),
)
def test_pairwise_losses_ignore_batch_order(u, y, perm):
    u, y, perm = torch.tensor(u), torch.tensor(y), list(perm)
    s = label_similarity(y)
    sp = label_similarity(y[perm])
    assert dpsh_loss(u[perm], sp).item() == pytest.approx(dpsh_loss(u, s).item())
    a = hashnet_loss(torch.tanh(u[perm]), sp).item()
    assert a == pytest.approx(hashnet_loss(torch.tanh(u), s).item())


@given(arrays(np.float64, (4, 3), elements=st.floats(-6, 6)))
def test_dpsh_matches_naive_formula(u):
    y = torch.tensor([0, 1, 0, 2])
    s = label_similarity(y).double()
    ut = torch.tensor(u)
    theta = 0.5 * u @ u.T
    nll = np.log1p(np.exp(theta)) - s.numpy() * theta
    off = ~np.eye(4, dtype=bool)
    b = np.where(u > 0, 1.0, -1.0)
    expected = nll[off].mean() + 0.3 * ((u - b) ** 2).mean()
    assert dpsh_loss(ut, s, eta=0.3).item() == pytest.approx(expected, rel=1e-9)


def test_csq_pulls_towards_centre():
    z = torch.zeros(1, 4, requires_grad=True)
    centre = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    csq_loss(z, centre).backward()
    # Gradient descent moves each bit towards its centre's sign.
    assert torch.all(torch.sign(-z.grad) == centre)


def test_label_similarity_one_hot_equals_labels():
    y = torch.tensor([3, 1, 3, 0, 1])
    onehot = torch.nn.functional.one_hot(y)
    for kind in ["binary", "cosine"]:
        np.testing.assert_array_equal(
            label_similarity(y).numpy(), label_similarity(onehot, kind=kind).numpy()
        )
    empty = torch.tensor([[1, 0], [0, 0]])
    np.testing.assert_array_equal(label_similarity(empty).numpy(), [[1, 0], [0, 0]])
    with pytest.raises(ValueError, match="kind must be"):
        label_similarity(y, kind="jaccard")
    with pytest.raises(ValueError, match="ndim 1 and 2"):
        label_similarity(y, onehot)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"s must have shape .*\(3, 3\)"):
        dpsh_loss(torch.zeros(3, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="same shape"):
        csq_loss(torch.zeros(3, 2), torch.zeros(3, 4))


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_hadamard_is_sylvester(n):
    h = hadamard(n)
    np.testing.assert_array_equal(h, scipy_hadamard(n))
    np.testing.assert_array_equal(h.astype(int) @ h.T, n * np.eye(n))


@pytest.mark.parametrize("n", [0, 3, 12, 2.0])
def test_hadamard_rejects_non_powers_of_two(n):
    with pytest.raises(ValueError, match="power of two"):
        hadamard(n)


def _distances(c):
    return (c.shape[1] - c @ c.T) / 2


@pytest.mark.parametrize("n_classes, bits", [(10, 16), (32, 16), (2, 1), (10, 64)])
def test_hadamard_centres(n_classes, bits):
    c = hash_centers(n_classes, bits)
    assert c.shape == (n_classes, bits) and c.dtype == np.float32
    d = _distances(c)[~np.eye(n_classes, dtype=bool)]
    # Rows of [H; -H]: half the bits apart, or all of them for a row and its
    # negation.
    assert set(np.unique(d)) <= {bits / 2, bits}


@pytest.mark.parametrize("n_classes, bits", [(33, 16), (10, 12), (100, 48)])
def test_random_centres(n_classes, bits):
    c = hash_centers(n_classes, bits, random_state=0)
    assert set(np.unique(c)) == {-1.0, 1.0}
    np.testing.assert_array_equal((c < 0).sum(axis=1), bits // 2)
    d = _distances(c)[~np.eye(n_classes, dtype=bool)]
    assert d.min() >= 2  # all distinct, and not merely one bit apart
    np.testing.assert_array_equal(c, hash_centers(n_classes, bits, random_state=0))
    assert not np.array_equal(c, hash_centers(n_classes, bits, random_state=1))


def test_sample_centres_single_and_multi_label():
    centers = hash_centers(3, 4)
    tie = np.array([1, -1, -1, 1], dtype=np.float32)
    Y = np.array([[0, 1, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]])
    t = sample_centers(Y, centers, tie)
    np.testing.assert_array_equal(t[0], centers[1])
    # Two centres: agreeing bits kept, the disagreeing ones take the tie-break.
    agree = centers[0] == centers[1]
    np.testing.assert_array_equal(t[1][agree], centers[0][agree])
    np.testing.assert_array_equal(t[1][~agree], tie[~agree])
    # Three centres: the sign of the sum (never 0 for an odd count).
    np.testing.assert_array_equal(t[2], np.sign(centers.sum(axis=0)))
    np.testing.assert_array_equal(t[3], tie)


def test_hashnet_beta_grows_from_one():
    betas = [hashnet_beta(t) for t in range(0, 5000, 500)]
    assert betas[0] == 1.0
    assert np.all(np.diff(betas) > 0)
    assert hashnet_beta(200, gamma=0.005, power=0.5) == pytest.approx(math.sqrt(2))
