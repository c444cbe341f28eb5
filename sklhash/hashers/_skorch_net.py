"""The private skorch pieces behind :class:`~sklhash.hashers._deep.BaseDeepHasher`.

Kept in their own module (imported on first ``fit``) so that the classes are
importable by name, which pickling requires, without making ``_deep`` import
torch at import time.
"""

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor

__all__ = ["HasherNet", "EpochCounter"]


class HasherNet(NeuralNet):
    """A NeuralNet whose loss is the hasher's, fed the whole batch dict.

    skorch hands dict inputs to ``module(**X)``; hashers need the row numbers
    and targets in the loss instead, so only ``X["X"]`` reaches the module and
    ``get_loss`` passes the whole batch to ``hasher._loss``.
    """

    # The hasher hands skorch a module *instance*, so the ``module`` parameter
    # and the trained ``module_`` are one object. skorch pickles only its
    # ``cuda_dependent_attributes_`` with a map_location; left out, ``module``
    # went through plain pickle, so a CUDA-trained model failed to load where
    # CUDA is missing. The prefix "module" covers both names.
    cuda_dependent_attributes_ = ["module"]

    def __init__(self, *args, hasher=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.hasher = hasher

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        return self.module_(x["X"])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        batch = to_tensor(X, device=self.device)
        loss = self.hasher._loss(y_pred, batch, training)
        if not torch.isfinite(loss):
            raise ValueError(
                f"{type(self.hasher).__name__}: the training loss became "
                f"{loss.item()} at epoch {self.hasher._epoch + 1}; training "
                "stopped and no model was kept. Lower lr, scale the input "
                "features, or check the targets for NaN."
            )
        return loss


class EpochCounter(Callback):
    """Tell the hasher which epoch runs, for schedules inside losses."""

    def __init__(self, hasher):
        self.hasher = hasher

    def on_epoch_begin(self, net, **kwargs):
        self.hasher._epoch = len(net.history) - 1
