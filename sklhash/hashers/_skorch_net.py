"""The skorch pieces behind :class:`~sklhash.hashers._deep.BaseDeepHasher`.

Kept in their own module (imported on first ``fit``) so that the classes are
importable by name, which pickling requires, without making ``_deep`` import
torch at import time. Nothing here knows the estimator: the net is built from
a module class, a criterion class and their ``module__*`` / ``criterion__*``
arguments, as any skorch net.
"""

import math
import signal
import threading
from contextlib import contextmanager

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor

__all__ = ["HasherNet", "CriterionEpoch", "CosineLR"]


class HasherNet(NeuralNet):
    """A NeuralNet whose criterion sees the whole training batch.

    Training data is a dict: ``"X"`` (the inputs), ``"idx"`` (row numbers)
    and the per-sample targets. The module gets ``X`` only, called as
    ``module(X, augment=True)`` so that two-view modules draw their random
    views (plain hash modules ignore the flag); the criterion is called as
    ``criterion(output, batch)`` with the batch dict on the training device.
    Inference data is a plain array, which reaches ``module(X)`` through
    skorch's own ``forward_iter``.

    Training also stops with a ``ValueError`` naming the epoch when the loss
    or, at the end of an epoch, any weight of the module is not finite, and a
    ``KeyboardInterrupt`` (which skorch's ``partial_fit`` swallows) is
    recorded in ``interrupted_epoch_`` (the number of epochs whose steps
    all ran, ``epochs_completed_``) so
    that the caller can tell a finished run from an interrupted one.

    skorch's callbacks also stop training by raising ``KeyboardInterrupt``
    (``EarlyStopping`` does), so an interrupt counts as the user's only when
    a SIGINT was received during training: the loop records SIGINTs by
    wrapping the SIGINT handler for its duration (main thread only;
    elsewhere, where no handler can be installed, every interrupt is taken
    for a callback's stop, as skorch does).
    """

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        if isinstance(x, dict):
            return self.module_(x["X"], augment=True, **fit_params)
        return self.module_(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        batch = to_tensor(X, device=self.device)
        loss = self.criterion_(y_pred, batch)
        if not torch.isfinite(loss):
            raise ValueError(
                f"the training loss became {loss.item()} at epoch "
                f"{len(self.history)}; training stopped and no model was kept. "
                "Lower lr, scale the input features, or check the targets for "
                "NaN."
            )
        return loss

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.interrupted_epoch_ = None
        self.epochs_completed_ = len(self.history)
        with _record_sigint() as received:
            try:
                return super().fit_loop(X, y, epochs=epochs, **fit_params)
            except KeyboardInterrupt:
                if received:
                    self.interrupted_epoch_ = self.epochs_completed_
                raise

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        # A last optimiser step can turn weights into NaN while the loss it
        # computed (before the step) was finite.
        for name, tensor in self.module_.state_dict().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ValueError(
                    f"the network weight {name!r} became non-finite at epoch "
                    f"{len(self.history)}; training stopped and no model was "
                    "kept. Lower lr or scale the input features."
                )
        # Every training and validation step of this epoch has run.
        self.epochs_completed_ = len(self.history)


@contextmanager
def _record_sigint():
    """Yield a list that gets an entry for every SIGINT while the block runs.

    The SIGINT handler in place (Python's default, which raises
    ``KeyboardInterrupt``, or one installed by the application, such as a
    notebook kernel's) is wrapped, then restored: it still runs. When SIGINT
    is ignored or left to the operating system, or outside the main thread
    (where handlers cannot be installed), nothing is recorded.
    """
    received = []
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):
            previous = None
    if previous is not None:

        def handler(signum, frame):
            received.append(signum)
            previous(signum, frame)

        signal.signal(signal.SIGINT, handler)
    try:
        yield received
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


class CriterionEpoch(Callback):
    """Tell the criterion which epoch (0-based) runs, for its schedules.

    Writes ``net.criterion_.epoch`` at the beginning of every epoch; criteria
    without an ``epoch`` attribute are left alone.
    """

    def on_epoch_begin(self, net, **kwargs):
        if hasattr(net.criterion_, "epoch"):
            net.criterion_.epoch = len(net.history) - 1


class CosineLR(Callback):
    """Cosine decay of the learning rate from ``net.lr`` towards 0.

    Epoch ``e`` (0-based) trains at ``lr * (1 + cos(pi * e / max_epochs)) /
    2``, the schedule of torch's ``CosineAnnealingLR`` stepped once per
    epoch. The rate is computed from the epoch number alone, not from a
    scheduler's running state, so a run resumed from a checkpoint (history
    restored) continues the same curve. The rate of each epoch is recorded
    in the history as ``"lr"``.

    Parameters
    ----------
    max_epochs : int
        Length of the whole schedule (the estimator's ``max_epochs``, not
        the epochs left to a resumed run).
    """

    def __init__(self, max_epochs):
        self.max_epochs = max_epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = min(len(net.history) - 1, self.max_epochs)
        lr = net.lr * (1.0 + math.cos(math.pi * epoch / self.max_epochs)) / 2.0
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        net.history.record("lr", lr)


def all_finite(module):
    """Whether every floating-point weight and buffer of ``module`` is finite."""
    return all(
        bool(torch.isfinite(t).all())
        for t in module.state_dict().values()
        if t.is_floating_point()
    )

