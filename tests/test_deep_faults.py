"""Deep hashers under faults and misuse: interruption, divergence, shared or
channels-last inputs, threads; and the seams of the skorch net (no reference
back to the estimator, a net rebuilt from parameters and weights)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from _hashers import fit_small, torch_hashers
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from sklhash import DPSHHasher, SemanticKLHasher
from sklhash.hashers._deep import BaseDeepHasher
from sklhash.hashers._skorch_net import HasherNet

_TORCH = [(n, c) for n, c in torch_hashers() if issubclass(c, BaseDeepHasher)]
_FAST = dict(bits=8, hidden_layer_sizes=(16,), batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:200] / 16).astype(np.float32), y[:200]


def _fit_small(cls, X, y, **params):
    return fit_small(cls.__name__, cls, X, y, **params)


# --------------------------------------------------------------- the seams
def _reaches(obj, target, seen=None, depth=0):
    """Whether ``target`` is reachable from ``obj`` through containers,
    object ``__dict__``s and torch modules (depth-limited)."""
    seen = set() if seen is None else seen
    if obj is target:
        return True
    if id(obj) in seen or depth > 12 or isinstance(obj, (str, bytes, np.ndarray)):
        return False
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return False
    if isinstance(obj, dict):
        children = list(obj.keys()) + list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = list(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        children = list(vars(obj).values())
    else:
        return False
    return any(_reaches(c, target, seen, depth + 1) for c in children)


@pytest.mark.parametrize("name, cls", _TORCH, ids=[n for n, _ in _TORCH])
def test_net_holds_no_reference_to_the_estimator(name, cls, digits):
    X, y = digits
    est = _fit_small(cls, X, y)
    assert not _reaches(est.net_.get_params(), est)
    assert not _reaches(vars(est.net_), est)
    # Only parameters, net_ and learned (``_``-suffixed) names remain.
    params = set(est.get_params(deep=False))
    extra = [k for k in vars(est) if k not in params and not k.endswith("_")]
    assert extra == []
    assert "hasher" not in HasherNet(module=torch.nn.Linear, criterion=torch.nn.MSELoss
                                     ).get_params()


@pytest.mark.parametrize("name, cls", _TORCH, ids=[n for n, _ in _TORCH])
def test_rebuilt_net_with_the_weights_encodes_the_same(name, cls, digits):
    # The persistence contract: parameters + fitted metadata + state_dict.
    X, y = digits
    est = _fit_small(cls, X, y)
    state = torch.get_rng_state()
    net = est._rebuild_net()
    assert torch.equal(state, torch.get_rng_state())
    assert not any(p.grad is not None for p in net.module_.parameters())
    net.module_.load_state_dict(est.net_.module_.state_dict())
    expected = est.decision_function(X)
    est.net_ = net
    np.testing.assert_array_equal(est.decision_function(X), expected)


@pytest.mark.parametrize("name, cls", _TORCH, ids=[n for n, _ in _TORCH])
def test_module_output_type_is_the_same_in_train_and_eval(name, cls, digits):
    X, y = digits
    module = _fit_small(cls, X, y).net_.module_
    x = torch.as_tensor(X[:4])

    def shape(out):
        if isinstance(out, tuple):
            return tuple(tuple(t.shape) for t in out)
        return tuple(out.shape)

    with torch.no_grad():
        trained, evaluated = shape(module.train()(x)), shape(module.eval()(x))
    assert trained == evaluated


# ------------------------------------------------------------ interruption
class _SigintAt(Callback):
    """Sends the process a real SIGINT at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def test_interrupt_raises_and_keeps_the_previous_model(digits):
    X, y = digits
    est = DPSHHasher(max_epochs=2, **_FAST).fit(X, y)
    net, codes = est.net_, est.transform(X)
    est.set_params(max_epochs=6, callbacks=[_SigintAt(2)])
    with pytest.raises(KeyboardInterrupt, match="after 2 of 6 epochs"):
        est.fit(X, y)
    assert est.net_ is net and len(est.history_) == 2
    np.testing.assert_array_equal(est.transform(X), codes)
    fresh = DPSHHasher(max_epochs=6, callbacks=[_SigintAt(1)], **_FAST)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(X, y)
    assert not [k for k in vars(fresh) if k.endswith("_")]


def test_interrupt_can_keep_the_partial_model(digits):
    X, y = digits
    est = SemanticKLHasher(max_epochs=6, callbacks=[_SigintAt(3)],
                           on_interrupt="keep", **_FAST)
    with pytest.warns(UserWarning, match="after 3 of 6 epochs"):
        est.fit(X, y)
    assert len(est.history_) == 3
    assert est.transform(X).shape == (len(X), 1)


def test_early_stopping_is_not_taken_for_an_interrupt(digits):
    # skorch's EarlyStopping stops by raising KeyboardInterrupt itself.
    X, y = digits
    est = DPSHHasher(max_epochs=60, early_stopping=True, lr=0.05, **_FAST).fit(X, y)
    assert len(est.history_) < 60


_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from sklearn.datasets import load_digits
    from skorch.callbacks import Callback
    from sklhash import DPSHHasher

    class Started(Callback):
        def on_epoch_end(self, net, **kw):
            print("epoch", len(net.history), flush=True)

    X, y = load_digits(return_X_y=True)
    est = DPSHHasher(bits=8, hidden_layer_sizes=(8,), batch_size=64,
                     max_epochs=10**6, callbacks=[Started()], random_state=0)
    try:
        est.fit(X[:128] / 16, y[:128])
    except KeyboardInterrupt as exc:
        print("interrupted:", exc, "fitted:",
              sorted(k for k in vars(est) if k.endswith("_")), flush=True)
        sys.exit(130)
    print("finished", flush=True)
""")


def test_ctrl_c_in_a_subprocess_is_not_a_success():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 1"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted: DPSHHasher.fit interrupted after" in out
    assert "fitted: []" in out
    assert "finished" not in out


# -------------------------------------------------------------- divergence
def test_weights_non_finite_after_the_last_step_raise(digits):
    # One batch, one epoch: the loss of the only step is finite, the step
    # itself overflows the weights.
    X, y = digits
    est = DPSHHasher(bits=8, hidden_layer_sizes=(16,), batch_size=512, max_epochs=1,
                     optimizer="sgd", lr=1e38, random_state=0)
    with pytest.raises(ValueError, match="non-finite at epoch 1"):
        est.fit(X * 1e6, y)
    assert not [k for k in vars(est) if k.endswith("_")]


# ------------------------------------------------------------ user modules
def test_module_backbone_is_cloned_not_trained_in_place(digits):
    X, y = digits
    torch.manual_seed(0)
    shared = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU())
    before = {k: v.clone() for k, v in shared.state_dict().items()}
    a = SemanticKLHasher(backbone=shared, max_epochs=2, **_FAST).fit(X, y)
    assert all(torch.equal(before[k], v) for k, v in shared.state_dict().items())
    assert a.net_.module_.backbone is not shared
    codes = a.transform(X)
    # A second hasher on the same module, then a refit: same seed, same codes.
    b = DPSHHasher(backbone=shared, max_epochs=2, **_FAST).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), codes)
    np.testing.assert_array_equal(a.fit(X, y).transform(X), codes)
    assert b.transform(X).shape == codes.shape


# ----------------------------------------------------------- image layout
def test_cnn_refuses_channels_last_images(digits):
    X, y = digits
    rgb = np.repeat(X.reshape(-1, 8, 8, 1), 3, axis=3)  # (n, H, W, C)
    est = DPSHHasher(backbone="cnn", max_epochs=1, **_FAST)
    with pytest.raises(ValueError, match=r"\(n, 8, 8, 3\).*transpose\(0, 3, 1, 2\)"):
        est.fit(rgb, y)
    assert not [k for k in vars(est) if k.endswith("_")]
    est.fit(rgb.transpose(0, 3, 1, 2), y)
    assert est.input_shape_ == (3, 8, 8)
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        est.transform(np.zeros((2, 3, 9, 9), dtype=np.float32))


# ---------------------------------------------------------------- threads
@pytest.mark.parametrize("n_jobs, expected", [(None, 1), (1, 1), (2, 2)])
def test_n_jobs_scopes_torch_threads(digits, n_jobs, expected):
    X, y = digits
    seen = []

    class Threads(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    outside = torch.get_num_threads()
    DPSHHasher(max_epochs=1, n_jobs=n_jobs, callbacks=[Threads()],
               **_FAST).fit(X[:64], y[:64])
    assert seen == [expected]
    assert torch.get_num_threads() == outside


def test_n_jobs_zero_is_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match="n_jobs=0"):
        DPSHHasher(n_jobs=0, max_epochs=1, **_FAST).fit(X, y)


# ------------------------------------------------------------------ targets
def test_continuous_y_is_refused(digits):
    X, _ = digits
    y = np.random.default_rng(0).random(len(X))
    with pytest.raises(ValueError, match="continuous"):
        SemanticKLHasher(max_epochs=1, **_FAST).fit(X, y)
