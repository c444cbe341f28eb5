"""sklhash.persistence.TrainingCheckpoint: a killed fit resumes and ends the same.

The main test trains in a subprocess that SIGKILLs itself right after epoch
2 of 4 (after the checkpoint of that epoch is on disk), resumes in this
process, and compares the codes with a run that was never interrupted.
"""

import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

torch = pytest.importorskip("torch")

from skorch.callbacks import Callback  # noqa: E402

from sklhash import SemanticKLHasher  # noqa: E402
from sklhash.persistence import ModelFileError, TrainingCheckpoint, load, save  # noqa: E402

# The cosine schedule is on so that the resumed epochs must also continue its
# curve (a schedule restarted at epoch 2 gives other codes).
PARAMS = dict(
    bits=16,
    hidden_layer_sizes=(32,),
    batch_size=64,
    max_epochs=4,
    lr_schedule="cosine",
    random_state=0,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:240] / 16).astype(np.float32), y[:240]


@pytest.fixture(scope="module")
def uninterrupted(digits):
    X, y = digits
    torch.set_num_threads(1)
    return SemanticKLHasher(**PARAMS).fit(X, y).transform(X)


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs_run = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_run += 1


_KILLED_RUN = """
import os, signal, sys
import numpy as np, torch
from skorch.callbacks import Callback
from sklearn.datasets import load_digits
from sklhash import SemanticKLHasher
from sklhash.persistence import TrainingCheckpoint

class KillAfterEpoch(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            os.kill(os.getpid(), signal.SIGKILL)

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X, y = (X[:240] / 16).astype(np.float32), y[:240]
SemanticKLHasher(**{params}, callbacks=[TrainingCheckpoint(sys.argv[1]),
                                        KillAfterEpoch()]).fit(X, y)
print("not killed")
"""


def test_sigkilled_fit_resumes_to_identical_codes(digits, uninterrupted, tmp_path):
    X, y = digits
    folder = tmp_path / "ckpt"
    res = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN.format(params=PARAMS), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode == -signal.SIGKILL, res.stderr
    assert "not killed" not in res.stdout
    assert os.listdir(folder) == ["checkpoint.safetensors"]  # no temporary left

    checkpoint, counter = TrainingCheckpoint(folder), _CountEpochs()
    resumed = SemanticKLHasher(**PARAMS, callbacks=[checkpoint, counter]).fit(X, y)
    assert checkpoint.resumed_epochs_ == 2
    assert counter.epochs_run == 2  # only the epochs that were left
    assert len(resumed.history_) == 4
    np.testing.assert_array_equal(resumed.transform(X), uninterrupted)


def test_two_epochs_differ_from_four(digits, uninterrupted, tmp_path):
    # The control for the test above: stopping early does change the codes,
    # so equality there means the resumed epochs were the right ones.
    X, y = digits
    two = SemanticKLHasher(**{**PARAMS, "max_epochs": 2}).fit(X, y).transform(X)
    assert (two != uninterrupted).any()


def test_finished_checkpoint_reproduces_without_training(
    digits, uninterrupted, tmp_path
):
    X, y = digits
    SemanticKLHasher(**PARAMS, callbacks=[TrainingCheckpoint(tmp_path)]).fit(X, y)
    counter = _CountEpochs()
    again = SemanticKLHasher(
        **PARAMS, callbacks=[TrainingCheckpoint(tmp_path), counter]
    ).fit(X, y)
    assert counter.epochs_run == 0
    np.testing.assert_array_equal(again.transform(X), uninterrupted)


def test_resume_false_starts_afresh(digits, tmp_path):
    X, y = digits
    params = {**PARAMS, "max_epochs": 1}
    SemanticKLHasher(**params, callbacks=[TrainingCheckpoint(tmp_path)]).fit(X, y)
    counter = _CountEpochs()
    checkpoint = TrainingCheckpoint(tmp_path, resume=False)
    SemanticKLHasher(**params, callbacks=[checkpoint, counter]).fit(X, y)
    assert counter.epochs_run == 1 and checkpoint.resumed_epochs_ == 0


def test_checkpoint_of_another_run_is_refused(digits, tmp_path):
    X, y = digits
    params = {**PARAMS, "max_epochs": 1}
    first = SemanticKLHasher(**params, callbacks=[TrainingCheckpoint(tmp_path)])
    first.fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"written for another training run "
        r"\(240 training samples, not 200\)",
    ):
        SemanticKLHasher(**params, callbacks=[TrainingCheckpoint(tmp_path)]).fit(
            X[:200], y[:200]
        )
    X_other = X.copy()
    X_other[0, 0] += 1
    with pytest.raises(ValueError, match=r"another training run \(other training data"):
        SemanticKLHasher(**params, callbacks=[TrainingCheckpoint(tmp_path)]).fit(
            X_other, y
        )
    # The checkpoint records the learning rate trained with ("auto" resolved).
    default_lr = first.net_.lr
    with pytest.raises(
        ValueError, match=rf"another training run \(lr {default_lr}, not 0.01"
    ):
        SemanticKLHasher(
            **{**params, "lr": 0.01}, callbacks=[TrainingCheckpoint(tmp_path)]
        ).fit(X, y)
    with pytest.raises(ValueError, match="another training run .*do not fit"):
        SemanticKLHasher(
            **{**params, "bits": 8}, callbacks=[TrainingCheckpoint(tmp_path)]
        ).fit(X, y)
    SemanticKLHasher(
        **{**params, "max_epochs": 2}, callbacks=[TrainingCheckpoint(tmp_path)]
    ).fit(X, y)
    with pytest.raises(
        ValueError, match="holds 2 trained epochs, more than max_epochs=1"
    ):
        SemanticKLHasher(**params, callbacks=[TrainingCheckpoint(tmp_path)]).fit(X, y)


def test_damaged_checkpoint_is_refused_naming_it(digits, tmp_path):
    X, y = digits
    params = {**PARAMS, "max_epochs": 1}
    SemanticKLHasher(**params, callbacks=[TrainingCheckpoint(tmp_path)]).fit(X, y)
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelFileError, match="checkpoint.safetensors") as info:
        SemanticKLHasher(**params, callbacks=[TrainingCheckpoint(tmp_path)]).fit(X, y)
    assert "truncated" in str(info.value)
    with pytest.raises(ModelFileError, match="not a sklhash model file"):
        load(path)


def test_hasher_trained_with_a_checkpoint_saves_and_loads(digits, tmp_path):
    from sklhash import DPSHHasher

    X, y = digits
    est = DPSHHasher(
        bits=8,
        hidden_layer_sizes=(16,),
        max_epochs=1,
        random_state=0,
        callbacks=[TrainingCheckpoint(tmp_path / "c")],
    ).fit(X, y)
    save(est, tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert isinstance(loaded.callbacks[0], TrainingCheckpoint)
    assert loaded.callbacks[0].checkpoint_dir == tmp_path / "c"
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


class _InterruptInEpoch(Callback):
    """Ctrl-C (a real SIGINT) at the first batch of the given epoch (1-based)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def _skorch_hashers():
    """The hashers trained through skorch (they take ``callbacks``)."""
    from _hashers import params_of, torch_hashers

    return [
        (name, cls)
        for name, cls in torch_hashers()
        if "callbacks" in cls(**params_of(name)).get_params()
    ]


@pytest.mark.parametrize(
    "name, cls", _skorch_hashers(), ids=[n for n, _ in _skorch_hashers()]
)
def test_every_deep_hasher_resumes_an_interrupted_fit_bitwise(
    name, cls, digits, tmp_path
):
    from _hashers import params_of

    X, y = digits
    X, y = X[:96], y[:96] % 4
    params = {**params_of(name), "max_epochs": 3, "batch_size": 32}
    fit_args = (X, y) if cls(**params).__sklearn_tags__().target_tags.required else (X,)
    reference = cls(**params).fit(*fit_args).transform(X)
    interrupted = cls(
        **params, callbacks=[TrainingCheckpoint(tmp_path), _InterruptInEpoch(2)]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            interrupted.fit(*fit_args)
        except KeyboardInterrupt:
            pass  # the deep base raises Ctrl-C again unless on_interrupt="keep"
    assert any("stopped after epoch 1 of 3" in str(w.message) for w in caught)
    checkpoint, counter = TrainingCheckpoint(tmp_path), _CountEpochs()
    resumed = cls(**params, callbacks=[checkpoint, counter]).fit(*fit_args)
    assert checkpoint.resumed_epochs_ == 1 and counter.epochs_run == 2
    np.testing.assert_array_equal(resumed.transform(X), reference)


def test_early_stopping_state_is_checkpointed(digits, tmp_path):
    from sklhash import DPSHHasher

    X, y = digits
    params = dict(
        bits=8,
        hidden_layer_sizes=(16,),
        max_epochs=5,
        batch_size=32,
        lr=1.0,
        random_state=0,
        early_stopping=True,
        validation_fraction=0.25,
    )
    reference = DPSHHasher(**params).fit(X, y)
    interrupted = DPSHHasher(
        **params, callbacks=[TrainingCheckpoint(tmp_path), _InterruptInEpoch(4)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            interrupted.fit(X, y)
        except KeyboardInterrupt:
            pass
    checkpoint = TrainingCheckpoint(tmp_path)
    resumed = DPSHHasher(**params, callbacks=[checkpoint]).fit(X, y)
    assert checkpoint.resumed_epochs_ == 3
    stopper = dict(resumed.net_.callbacks_)["early_stopping"]
    best = dict(reference.net_.callbacks_)["early_stopping"].best_epoch_
    # lr=1.0 makes epoch 1 the best of 5: the best weights come from before
    # the interruption, so they must have been in the checkpoint.
    assert stopper.best_epoch_ == best == 1
    np.testing.assert_array_equal(resumed.transform(X), reference.transform(X))
