"""A skorch callback that checkpoints training each epoch and resumes a killed fit.

The checkpoint holds everything the next epoch depends on, so a resumed run
continues exactly where the killed one stopped: the weights of the module
and criterion (with the criterion's public counters, which schedules keep
outside its state dict), the optimiser's state (Adam's moments and step counts), the
history (epoch-dependent schedules read it), and the random number
generators: torch's (weight noise, sampling inside losses, the data
loader's shuffling order, which is drawn from torch's generator each epoch),
CUDA's, numpy's and Python's. It is written with sklhash's safe container
(no pickle) through a temporary file, ``fsync`` and a rename, so a kill
during the write leaves the previous epoch's checkpoint intact.
"""

import hashlib
import os
import random
import re
import warnings
from collections.abc import Mapping

import numpy as np
from skorch.callbacks import Callback

from . import _container
from ._codec import Decoder, Encoder

__all__ = ["TrainingCheckpoint"]

_KIND = "sklhash-checkpoint"
_WHAT = "sklhash training checkpoint"
_FILE = "checkpoint.safetensors"
_LEARNED = re.compile(r"^[A-Za-z][A-Za-z0-9_]*_$")


def _data_digest(X):
    """A digest of the training arrays, or None when they are not arrays."""
    arrays = X if isinstance(X, dict) else {"X": X}
    digest = hashlib.blake2b(digest_size=16)
    for key in sorted(arrays):
        value = arrays[key]
        if not isinstance(value, np.ndarray):
            return None
        digest.update(f"{key}{value.dtype.str}{value.shape}".encode())
        digest.update(np.asarray(value, order="C").reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def _setup(net):
    """What a checkpoint must agree on with the net that resumes from it."""
    return {
        "module": type(net.module_).__qualname__,
        "criterion": type(net.criterion_).__qualname__,
        "optimizer": type(net.optimizer_).__qualname__,
        "lr": float(net.lr),
        "batch_size": int(net.batch_size),
    }


def _n_samples(X):
    if isinstance(X, dict) and X:
        X = next(iter(X.values()))
    try:
        return len(X)
    except TypeError:
        return None


def _rng_state():
    import torch

    state = {
        "torch": torch.get_rng_state(),
        # numpy's legacy global generator: code that still draws from it
        # (np.random.rand, np.random.shuffle) continues identically.
        "numpy": np.random.get_state(),  # noqa: NPY002
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state):
    import torch

    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingCheckpoint(Callback):
    """Checkpoint a deep hasher after every epoch; resume a killed ``fit``.

    Pass it in a deep hasher's ``callbacks``. After each epoch it writes
    ``checkpoint_dir/checkpoint.safetensors``; when ``fit`` starts and that
    file exists, training continues from it and runs only the epochs left
    of ``max_epochs``. With the same data, parameters and ``random_state``
    the resumed run gives the same codes, byte for byte (on CPU), as a run
    that was never interrupted.

    Parameters
    ----------
    checkpoint_dir : str or os.PathLike
        Folder of the checkpoint (created if missing). Use one folder per
        training run: a checkpoint written for other data or another network
        is refused.
    resume : bool, default=True
        Continue from an existing checkpoint. ``False`` starts afresh and
        overwrites it.

    Attributes
    ----------
    resumed_epochs_ : int
        Epochs taken from the checkpoint in the last ``fit`` (0 when it
        started afresh).
    checkpointed_epochs_ : int
        Epochs completed and in the checkpoint, in the last ``fit``.
    total_epochs_ : int
        The net's ``max_epochs`` in the last ``fit``.
    n_samples_ : int or None
        Training samples of the last ``fit`` (a checkpoint is only resumed
        with as many).
    data_digest_ : str or None
        BLAKE2 digest of the last ``fit``'s training arrays; a checkpoint
        is only resumed on the same data (and the same network, criterion,
        optimiser, learning rate and batch size).

    Notes
    -----
    The public learned state of the net's other callbacks (attributes ending
    in ``_``: early stopping's patience counter, best epoch and best weights)
    is checkpointed too, where it can be stored without pickle.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklhash import SemanticKLHasher
    >>> from sklhash.persistence import TrainingCheckpoint
    >>> X = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    >>> y = np.arange(64) % 4
    >>> folder = tempfile.mkdtemp()
    >>> hasher = SemanticKLHasher(bits=8, hidden_layer_sizes=(16,), max_epochs=2,
    ...                           random_state=0,
    ...                           callbacks=[TrainingCheckpoint(folder)]).fit(X, y)
    >>> sorted(os.listdir(folder))
    ['checkpoint.safetensors']
    """

    def __init__(self, checkpoint_dir, *, resume=True):
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume

    @property
    def path(self):
        """The checkpoint file."""
        return os.path.join(os.fspath(self.checkpoint_dir), _FILE)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Resume from the checkpoint, if there is one.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net about to train.
        X : dict or array-like, default=None
            Training data (its length is checked against the checkpoint).
        y : array-like, default=None
            Unused.
        **kwargs : dict
            Unused.
        """
        self.total_epochs_ = net.max_epochs
        self.n_samples_ = _n_samples(X)
        self.data_digest_ = _data_digest(X)
        self.resumed_epochs_ = 0
        self.checkpointed_epochs_ = 0
        if self.resume and os.path.exists(self.path):
            done = self._restore(net)
            if done > self.total_epochs_:
                raise ValueError(
                    f"{self.path!r} holds {done} trained epochs, more than "
                    f"max_epochs={self.total_epochs_}: raise max_epochs or use "
                    "another checkpoint_dir."
                )
            self.resumed_epochs_ = done
            self.checkpointed_epochs_ = done
            # skorch's fit loop reads max_epochs after on_train_begin; it is
            # put back in on_train_end.
            net.max_epochs = self.total_epochs_ - done

    def on_epoch_end(self, net, **kwargs):
        """Write the checkpoint of the epoch that just ended.

        Parameters
        ----------
        net : skorch.NeuralNet
            The training net.
        **kwargs : dict
            Unused.
        """
        os.makedirs(os.fspath(self.checkpoint_dir), exist_ok=True)
        encoder = Encoder()
        document = {
            "epochs": len(net.history),
            "max_epochs": self.total_epochs_,
            "n_samples": self.n_samples_,
            "data_digest": self.data_digest_,
            "setup": _setup(net),
            "state": encoder.value(
                {
                    "module": dict(net.module_.state_dict()),
                    "criterion": dict(net.criterion_.state_dict()),
                    "criterion_counters": _counters(net.criterion_),
                    "optimizer": net.optimizer_.state_dict(),
                    "history": list(net.history),
                    "rng": _rng_state(),
                    "callbacks": _callback_states(net, self),
                },
                "training checkpoint",
            ),
        }
        _container.write(self.path, _KIND, document, encoder.arrays)
        self.checkpointed_epochs_ = len(net.history)

    def on_train_end(self, net, **kwargs):
        """Restore ``max_epochs``; warn if training stopped before the end.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net that trained.
        **kwargs : dict
            Unused.
        """
        if hasattr(self, "total_epochs_"):
            net.max_epochs = self.total_epochs_
            # Not len(net.history): an interrupt inside an epoch leaves that
            # epoch's unfinished row there.
            done = self.checkpointed_epochs_
            if done < self.total_epochs_ and not _stopped_early(net):
                warnings.warn(
                    f"training stopped after epoch {done} of "
                    f"{self.total_epochs_}; fit again with the same "
                    f"checkpoint_dir ({os.fspath(self.checkpoint_dir)!r}) to resume.",
                    UserWarning,
                    stacklevel=2,
                )

    def _restore(self, net):
        path = self.path
        document, arrays = _container.read(path, _KIND, what=_WHAT)
        decoder = Decoder(arrays, path)

        def refuse(why):
            raise ValueError(
                f"{path!r} was written for another training run ({why}); delete "
                "it or pass another checkpoint_dir."
            )

        if document.get("n_samples") != self.n_samples_:
            refuse(
                f"{document.get('n_samples')} training samples, not {self.n_samples_}"
            )
        if document.get("data_digest") != self.data_digest_:
            refuse("other training data")
        stored = document.get("setup")
        setup = _setup(net)
        if not isinstance(stored, dict):
            refuse("no description of its network")
        for key, value in setup.items():
            if stored.get(key) != value:
                refuse(f"{key} {stored.get(key)!r}, not {value!r}")
        state = decoder.value(document.get("state"), "training checkpoint")
        if not isinstance(state, dict) or not isinstance(
            state.get("callbacks", {}), dict
        ):
            decoder.fail("is corrupt: malformed training state.")
        try:
            net.module_.load_state_dict(state["module"])
            net.criterion_.load_state_dict(state["criterion"])
            for name, value in state.get("criterion_counters", {}).items():
                if name in _counters(net.criterion_):
                    setattr(net.criterion_, name, value)
            net.optimizer_.load_state_dict(state["optimizer"])
        except (KeyError, RuntimeError, ValueError) as exc:
            refuse(f"its weights do not fit this network: {exc}")
        from skorch.history import History

        net.history = History(state["history"])
        # After the callbacks' own on_train_begin (they come before this one
        # in skorch's order), which resets what is put back here.
        callbacks = dict(net.callbacks_)
        for name, (cls_name, attrs) in state.get("callbacks", {}).items():
            callback = callbacks.get(name)
            if callback is not None and type(callback).__qualname__ == cls_name:
                for attr, value in attrs.items():
                    # only learned attributes, never a method or a parameter
                    if not _LEARNED.match(attr) or hasattr(type(callback), attr):
                        decoder.fail(f"is corrupt: {attr!r} is not learned state.")
                    setattr(callback, attr, value)
        _set_rng_state(state["rng"])
        return len(net.history)


def _callback_states(net, own):
    """The public learned state of the net's other callbacks (early stopping's
    patience counter, best epoch and best weights), where it is storable."""
    states = {}
    for name, callback in net.callbacks_:
        if callback is own:
            continue
        attrs = {}
        for attr, value in vars(callback).items():
            if not attr.endswith("_") or attr.startswith("_"):
                continue
            if isinstance(value, Mapping) and type(value) is not dict:
                value = dict(value)  # a state dict (OrderedDict)
            try:
                Encoder().value(value, attr)
            except TypeError:
                continue  # not storable without pickle (a progress bar, say)
            attrs[attr] = value
        if attrs:
            states[name] = (type(callback).__qualname__, attrs)
    return states


def _counters(criterion):
    """The criterion's plain public numbers (a step counter, an epoch, a
    continuation parameter), which schedules keep outside its state dict."""
    return {
        name: value
        for name, value in vars(criterion).items()
        if not name.startswith("_")
        and name != "training"
        and type(value) in (int, float, bool)
    }


def _stopped_early(net):
    from skorch.callbacks import EarlyStopping

    return any(
        isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
        for _, cb in net.callbacks_
    )
