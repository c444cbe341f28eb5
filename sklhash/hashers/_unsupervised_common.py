"""Pieces shared by the unsupervised two-view hashers (NSH, CIBHash)."""

import numpy as np

from ._deep import BaseDeepHasher as _BaseDeepHasher

__all__ = []

# The one parameter the two-view hashers add to the shared deep-hasher
# parameters (see ``_deep._DEEP_PARAMS_DOC``).
_AUGMENTATION_DOC = """\
    augmentation : {"auto", "image", "features"} or callable, default="auto"
        How the two random views of a batch are drawn. ``"image"``: random
        resized crop (area 0.5-1), horizontal flip (p = 0.5) and
        brightness/contrast jitter (0.4), for image input (flat square
        images or ``(n, C, H, W)`` arrays); ``"features"``: Gaussian noise of
        0.3 training standard deviations per feature and 20 % feature
        dropout; ``"auto"`` picks ``"image"`` when ``backbone="cnn"``, else
        ``"features"``. A callable maps a batch tensor to one view of it
        (it must be picklable to pickle the fitted hasher).
"""

_QUANTIZATION_DOC = """\
    quantization : {"householder"} or None, default=None
        ``"householder"`` rotates the trained continuous codes with a
        :class:`~sklhash.HouseholderQuantizer` before binarising.
"""


def _fill_two_view_doc(doc):
    return doc.replace("%(augmentation)s", _AUGMENTATION_DOC).replace(
        "%(quantization)s", _QUANTIZATION_DOC
    )


def _feature_scale(X):
    """Per-feature scale of the noise of feature views (training std).

    Constant features get the mean scale so that they are perturbed too.
    """
    if hasattr(X, "feature_std"):
        # A streamed training set (BlockStream): one pass over its blocks.
        std = X.feature_std().reshape(-1)
    else:
        flat = X.reshape(len(X), -1)
        std = flat.std(axis=0) if len(X) > 1 else np.ones(flat.shape[1])
    std = np.where(std > 0, std, std.mean() if std.mean() > 0 else 1.0)
    return std.reshape(X.shape[1:]).astype(np.float32)


class _TwoViewDeepHasher(_BaseDeepHasher):
    """Builds a :class:`~sklhash.nn._two_view.TwoViewNetwork`.

    Subclasses set ``_latent_dim()`` (None for no latent head) and a
    criterion that reads the augmented output ``(h, z)`` (two views
    stacked, see :func:`sklhash.nn._two_view.split_views`).
    """

    def __init_subclass__(cls, **kwargs):
        if cls.__dict__.get("__doc__"):
            cls.__doc__ = _fill_two_view_doc(cls.__doc__)
        super().__init_subclass__(**kwargs)

    def _latent_dim(self):
        return None

    def _augmentation_kind(self):
        if callable(self.augmentation) or self.augmentation != "auto":
            return self.augmentation
        return "image" if self.backbone == "cnn" else "features"

    def _fit_targets(self, X, y):
        return {}, {}, {"feature_scale": _feature_scale(X)}

    def _module(self, input_shape, training, **fitted):
        from ..nn._two_view import TwoViewNetwork

        return TwoViewNetwork, {
            "backbone": self._backbone_copy(),
            "input_shape": tuple(input_shape),
            "bits": self.bits,
            "augmentation": self._augmentation_kind(),
            "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
            "latent_dim": self._latent_dim(),
            "feature_scale": training.get("feature_scale"),
        }

    def _codes_from_output(self, out, fitted):
        import torch

        return torch.tanh(out[0])
