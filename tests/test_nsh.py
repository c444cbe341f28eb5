"""NSHasher, CIBHasher and the SortedNCE loss."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sklhash import CIBHasher, ITQHasher, LSHHasher, NSHasher, pack_codes, unpack_codes
from sklhash.nn._ste import sign_ste
from sklhash.nn._two_view import TwoViewNetwork, split_views
from sklhash.nn.losses import (
    cibhash_loss,
    nt_xent_loss,
    sorted_cosines,
    sorted_nce_loss,
)
from sklhash.nn.nsh import NSHLoss


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # The machine is shared: one thread is as fast for these small models
    # and avoids oversubscription.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------------------
# SortedNCE (pure torch)
# ---------------------------------------------------------------------------


def _distinct_codes(n, bits, seed=0):
    g = torch.Generator().manual_seed(seed)
    while True:
        b = torch.randint(0, 2, (n, bits), generator=g).float() * 2 - 1
        if len({tuple(r) for r in b.tolist()}) == n:
            return b


def test_rank_one_is_the_items_other_view_when_codes_agree():
    n, bits, d = 12, 16, 5
    b = _distinct_codes(n, bits)
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    c = sorted_cosines(b, b, z1, z2, sort_temperature=1e-3)
    cos = torch.nn.functional.cosine_similarity
    # Rank 0 of anchor i gathers the *view-1* latent of item i and compares it
    # with the anchor's *view-2* latent: the two views of one item, never an
    # item with itself (which would always give 1).
    torch.testing.assert_close(c[:, 0], cos(z1, z2, dim=1), atol=1e-4, rtol=0)
    assert (c[:, 0] < 0.999).all()
    # Later ranks follow the code similarity of view 1 (anchor) to view 2 (items).
    s = b @ b.T
    for i in range(n):
        order = torch.argsort(-s[i], stable=True)
        expected = cos(z1[order[1]].unsqueeze(0), z2[i].unsqueeze(0), dim=1)
        if s[i, order[1]] > s[i, order[2]]:  # a unique second rank
            torch.testing.assert_close(c[i, 1], expected[0], atol=1e-4, rtol=0)


def test_loss_lower_when_code_ranking_agrees_with_latents():
    g = torch.Generator().manual_seed(0)
    n, bits, d = 64, 32, 8
    centres = torch.randn(4, d, generator=g) * 3
    z = centres[torch.arange(n) % 4] + 0.3 * torch.randn(n, d, generator=g)
    z1 = z + 0.05 * torch.randn(n, d, generator=g)
    z2 = z + 0.05 * torch.randn(n, d, generator=g)
    # Codes from a random projection of the latents: neighbours in z are
    # neighbours in Hamming space.
    W = torch.randn(d, bits, generator=g)
    b1, b2 = (z1 @ W).sign(), (z2 @ W).sign()
    agree = sorted_nce_loss(b1, b2, z1, z2, n_positives=8)
    perm = torch.randperm(n, generator=g)
    shuffled = sorted_nce_loss(b1[perm], b2[perm], z1, z2, n_positives=8)
    assert agree < shuffled - 0.5


def test_gradient_reaches_the_code_head():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x1, x2 = torch.randn(32, 10, generator=g), torch.randn(32, 10, generator=g)
    code_head = torch.nn.Linear(10, 16)
    z1, z2 = torch.randn(32, 6, generator=g), torch.randn(32, 6, generator=g)
    b1 = sign_ste(torch.tanh(code_head(x1)))
    b2 = sign_ste(torch.tanh(code_head(x2)))
    sorted_nce_loss(b1, b2, z1, z2, n_positives=4, symmetric=True).backward()
    grad = code_head.weight.grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_loss_decreases_on_a_fixed_batch():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    X = torch.randn(32, 12, generator=g)
    x1 = X + 0.1 * torch.randn(32, 12, generator=g)
    x2 = X + 0.1 * torch.randn(32, 12, generator=g)
    code_head, latent_head = torch.nn.Linear(12, 16), torch.nn.Linear(12, 8)
    params = [*code_head.parameters(), *latent_head.parameters()]
    opt = torch.optim.Adam(params, lr=0.02)

    def loss_fn():
        b1 = sign_ste(torch.tanh(code_head(x1)))
        b2 = sign_ste(torch.tanh(code_head(x2)))
        return sorted_nce_loss(b1, b2, latent_head(x1), latent_head(x2), n_positives=4)

    first = float(loss_fn().detach())
    for _ in range(40):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert float(loss_fn().detach()) < 0.8 * first


def test_sorted_nce_small_batches_and_bad_arguments():
    b, z = torch.ones(3, 4), torch.randn(3, 2)
    # m is clipped to n - 1 so a negative is left; one row gives a zero loss.
    assert torch.isfinite(sorted_nce_loss(b, b, z, z, n_positives=10))
    single = sorted_nce_loss(b[:1], b[:1], z[:1].requires_grad_(), z[:1])
    assert float(single.detach()) == 0.0
    with pytest.raises(ValueError, match="n_positives must be >= 1, got n_positives=0"):
        sorted_nce_loss(b, b, z, z, n_positives=0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sorted_nce_loss(b, b, z, z, temperature=0.0)
    with pytest.raises(ValueError, match="same number of rows"):
        sorted_nce_loss(b, b, z[:2], z[:2])


def test_nt_xent_prefers_matching_views():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, 8, generator=g)
    matched = nt_xent_loss(a, a + 0.01 * torch.randn(16, 8, generator=g))
    unmatched = nt_xent_loss(a, torch.randn(16, 8, generator=g))
    assert matched < unmatched
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_loss(a, a[:3])


def test_cibhash_loss_prefers_agreeing_codes_and_passes_gradients():
    g = torch.Generator().manual_seed(0)
    h = 3 * torch.randn(32, 16, generator=g)
    agree = cibhash_loss(h, h + 0.1 * torch.randn(32, 16, generator=g),
                         stochastic=False)
    shuffled = cibhash_loss(h, h[torch.randperm(32, generator=g)], stochastic=False)
    assert agree < shuffled
    # The KL part is 0 at p = 1/2 and grows as the bits saturate.
    zero = torch.zeros(8, 4)
    nt_only = nt_xent_loss(2 * (zero > 0).float() - 1, 2 * (zero > 0).float() - 1,
                           0.5)
    assert torch.isclose(cibhash_loss(zero, zero, stochastic=False), nt_only)
    assert cibhash_loss(h, h, kl_weight=1.0, stochastic=False) > cibhash_loss(
        h, h, kl_weight=0.0, stochastic=False)
    # Straight-through: the sampled codes still pass gradients to the logits.
    leaf = h.clone().requires_grad_(True)
    cibhash_loss(leaf, leaf.detach() + 0.5).backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0


# ---------------------------------------------------------------------------
# The estimators
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def _map_at_k(codes, n_bits, y, k=100):
    """Leave-one-out mAP@k of Hamming ranking (ties by index order)."""
    b = unpack_codes(codes, n_bits).astype(np.float32) * 2 - 1
    dist = -(b @ b.T)
    np.fill_diagonal(dist, np.inf)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    rel = y[order] == y[:, None]
    prec = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
    return float(((prec * rel).sum(axis=1) / k).mean())


SMALL = dict(bits=16, hidden_layer_sizes=(128,), batch_size=64, random_state=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: NSHasher(latent_dim=32, max_epochs=4, warmup_epochs=1, **SMALL),
        lambda: CIBHasher(max_epochs=6, lr=3e-3, **SMALL),
    ],
    ids=["NSHasher", "CIBHasher"],
)
def test_learns_beats_lsh_on_digits(digits, make):
    X, y = digits
    hasher = make().fit(X)
    lsh = LSHHasher(bits=16, random_state=0).fit(X)
    ours = _map_at_k(hasher.transform(X), 16, y)
    base = _map_at_k(lsh.transform(X), 16, y)
    assert ours > base + 0.1, (ours, base)
    # Codes use all the bits: none is constant over the data.
    bits = unpack_codes(hasher.transform(X), 16)
    assert (bits.mean(axis=0) > 0.02).all() and (bits.mean(axis=0) < 0.98).all()


def test_nsh_deterministic_pickles_and_ignores_y(digits):
    X, y = digits
    X = X[:300]
    params = dict(bits=12, latent_dim=8, hidden_layer_sizes=(16,), batch_size=32,
                  max_epochs=2, warmup_epochs=1, random_state=3)
    a = NSHasher(**params).fit(X)
    codes = a.transform(X)
    np.testing.assert_array_equal(NSHasher(**params).fit(X, y).transform(X), codes)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.transform(X), codes)
    other = NSHasher(**{**params, "random_state": 4}).fit(X).transform(X)
    assert not np.array_equal(other, codes)
    # The caller's global torch state is left alone.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    clone(a).fit(X)
    assert torch.equal(torch.rand(3), expected)


def test_nsh_warmup_trains_latents_first():
    crit = NSHLoss(warmup_epochs=2, n_epochs=3)
    started = []
    for epoch in range(3):
        crit.epoch = epoch
        started.append(crit.sorting_started())
    assert started == [False, False, True]
    # Warm-up never swallows the whole run; no auxiliary term, no warm-up.
    crit = NSHLoss(warmup_epochs=10, n_epochs=3)
    crit.epoch = 2
    assert crit.sorting_started()
    crit = NSHLoss(warmup_epochs=2, n_epochs=3, contrastive_weight=0.0)
    assert crit.sorting_started()


def test_epoch_reaches_the_criterion_through_the_net(digits):
    X, _ = digits
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(net.criterion_.epoch)

    NSHasher(bits=8, latent_dim=8, hidden_layer_sizes=(16,), batch_size=64,
             max_epochs=3, callbacks=[Spy()], random_state=0).fit(X[:128])
    assert seen == [0, 1, 2]


def _fashion_like_images(n=96):
    # Digits upsampled 3x and padded to Fashion-MNIST's (n, 1, 28, 28).
    X, _ = load_digits(return_X_y=True)
    X = np.kron(X[:n].reshape(n, 8, 8) / 16, np.ones((3, 3)))
    return np.pad(X, ((0, 0), (2, 2), (2, 2)))[:, None].astype(np.float32)


@pytest.mark.parametrize("cls", [NSHasher, CIBHasher])
def test_image_backbone_on_nchw_input(cls):
    X = _fashion_like_images()
    kw = {"latent_dim": 16} if cls is NSHasher else {}
    hasher = cls(bits=10, backbone="cnn", hidden_layer_sizes=(32,), max_epochs=1,
                 batch_size=32, random_state=0, **kw).fit(X)
    assert hasher._augmentation_kind() == "image"
    codes = hasher.transform(X)
    assert codes.shape == (len(X), 2) and codes.dtype == np.uint8
    # Flat rows of a square image work too and are seen as images.
    flat = clone(hasher).fit(X.reshape(len(X), -1))
    assert flat.transform(X.reshape(len(X), -1)).shape == (len(X), 2)


def test_image_augmentation_needs_images(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="augmentation='image' needs images"):
        NSHasher(bits=8, augmentation="image", max_epochs=1).fit(X[:50, :60])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_positives": 0}, "n_positives"),
        ({"temperature": 0.0}, "temperature"),
        ({"sort_temperature": -1.0}, "sort_temperature"),
        ({"warmup_epochs": -1}, "warmup_epochs"),
        ({"code_contrastive_weight": -0.1}, "code_contrastive_weight"),
        ({"augmentation": "rotate"}, "augmentation"),
    ],
)
def test_nsh_bad_parameters(digits, params, match):
    X, _ = digits
    with pytest.raises(ValueError, match=match):
        NSHasher(bits=8, max_epochs=1, **params).fit(X[:40])


def _two_view_net(X):
    torch.manual_seed(0)
    return TwoViewNetwork("mlp", X.shape[1:], bits=8, augmentation="features",
                          hidden_layer_sizes=(16,), latent_dim=8)


def test_warmup_passes_no_gradient_to_the_code_head(digits):
    X, _ = digits
    net = _two_view_net(X)
    crit = NSHLoss(warmup_epochs=2, n_epochs=3)
    X = torch.as_tensor(X[:32])
    for epoch, expect_grad in [(0, False), (2, True)]:
        crit.epoch = epoch
        net.zero_grad()
        crit(net(X, augment=True), {}).backward()
        grad = net.hash.weight.grad
        has_grad = grad is not None and bool(grad.abs().sum() > 0)
        assert has_grad is expect_grad


def test_code_contrastive_term_adds_cibhash_loss_on_the_code_head(digits):
    X, _ = digits
    net = _two_view_net(X)
    out = net(torch.as_tensor(X[:32]), augment=True)  # one draw of the views
    kw = dict(warmup_epochs=1, n_epochs=3)
    with_term, without = NSHLoss(code_contrastive_weight=2.0, **kw), NSHLoss(**kw)
    for crit in (with_term, without):
        crit.epoch = 2
        crit.eval()
    h1, h2, _, _ = split_views(out)
    expected = 2.0 * cibhash_loss(h1, h2, 0.5, 0.001, stochastic=False)
    assert torch.isclose(with_term(out, {}) - without(out, {}), expected, atol=1e-5)


def test_latent_codes_are_itq_of_the_trained_latents(digits):
    X, _ = digits
    X = X[:300]
    params = dict(bits=6, latent_dim=8, hidden_layer_sizes=(16,), batch_size=32,
                  max_epochs=2, warmup_epochs=1, random_state=3)
    head = NSHasher(code_source="head", **params).fit(X)
    latent = NSHasher(**params).fit(X)  # "auto": latent, as bits <= latent_dim
    assert (head.code_source_, latent.code_source_) == ("head", "latent")
    # The same network is trained; only the way to codes differs.
    pairs = zip(head.net_.module_.parameters(), latent.net_.module_.parameters(),
                strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert head.quantizer_ is None
    assert isinstance(latent.quantizer_, ITQHasher)
    module = latent.net_.module_.eval()
    with torch.no_grad():
        Z = module.latent(module.backbone(torch.as_tensor(X))).numpy()
    np.testing.assert_allclose(
        latent.decision_function(X), latent.quantizer_.decision_function(Z),
        rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(
        latent.transform(X), pack_codes(latent.quantizer_.decision_function(Z) > 0))
    # embed gives what the ITQ stage rounds: the latents.
    np.testing.assert_allclose(latent.embed(X), Z, rtol=1e-5, atol=1e-6)
    # The rotation is fitted on the training latents, not learned afresh.
    refit = ITQHasher(bits=6, random_state=latent.quantizer_.random_state).fit(Z)
    np.testing.assert_allclose(refit.rotation_, latent.quantizer_.rotation_, atol=1e-5)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(latent)).transform(X), latent.transform(X))
    np.testing.assert_array_equal(
        NSHasher(code_source="latent", **params).fit(X).transform(X),
        latent.transform(X))


def test_latent_codes_learn_on_digits(digits):
    X, y = digits
    hasher = NSHasher(latent_dim=32, max_epochs=4, warmup_epochs=1,
                      code_source="latent", **SMALL).fit(X)
    lsh = LSHHasher(bits=16, random_state=0).fit(X)
    ours = _map_at_k(hasher.transform(X), 16, y)
    assert ours > _map_at_k(lsh.transform(X), 16, y) + 0.1


@pytest.mark.parametrize(
    "params, match",
    [
        ({"code_source": "codes"}, "code_source"),
        ({"bits": 16, "latent_dim": 8}, "bits=16 must not exceed latent_dim=8"),
        ({"quantization": "householder"}, "quantization='householder'"),
    ],
)
def test_latent_code_source_bad_parameters(digits, params, match):
    X, _ = digits
    params = {"bits": 8, "latent_dim": 8, "max_epochs": 1, "code_source": "latent",
              **params}
    with pytest.raises(ValueError, match=match):
        NSHasher(**params).fit(X[:40])


def test_auto_code_source_falls_back_to_the_head(digits):
    X, _ = digits
    small = dict(hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    assert NSHasher(bits=16, latent_dim=8, **small).fit(X).code_source_ == "head"
    hh = NSHasher(bits=8, latent_dim=8, quantization="householder", **small).fit(X)
    assert hh.code_source_ == "head" and type(hh.quantizer_).__name__ == (
        "HouseholderQuantizer")
    # A failed fit leaves no fitted attribute behind.
    bad = NSHasher(bits=16, latent_dim=8, code_source="latent", **small)
    with pytest.raises(ValueError, match="latent_dim"):
        bad.fit(X)
    assert not [k for k in vars(bad) if k.endswith("_") and not k.startswith("_")]


# The common checks (tests/test_common.py) run the default, latent codes; the
# paper's code-head path gets its own run.
@parametrize_with_checks([
    NSHasher(bits=5, latent_dim=8, hidden_layer_sizes=(16,), max_epochs=1,
             batch_size=16, code_source="head", random_state=0)
])
def test_head_code_source_passes_sklearn_checks(estimator, check):
    check(estimator)


def test_warmup_steps_without_sortednce_value_give_the_same_gradients():
    # Skipping SortedNCE's value in a warm-up training step changes the
    # reported loss, never a gradient.
    import torch

    from sklhash.nn.nsh import NSHLoss

    g = torch.Generator().manual_seed(0)
    h = torch.randn(2 * 12, 8, generator=g, requires_grad=True)
    z = torch.randn(2 * 12, 5, generator=g, requires_grad=True)
    grads, values = [], []
    for report in (True, False):
        crit = NSHLoss(n_positives=2, warmup_epochs=2, n_epochs=5,
                       report_warmup_loss=report)
        crit.epoch = 0
        loss = crit((h, z), {})
        values.append(loss.item())
        grads.append(torch.autograd.grad(loss, (h, z)))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert values[0] != values[1]
