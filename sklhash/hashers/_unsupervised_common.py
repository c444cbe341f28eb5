"""Pieces shared by the unsupervised two-view hashers (NSH, CIBHash)."""

import numpy as np

from ._deep import BaseDeepHasher as _BaseDeepHasher

__all__ = []

_SHARED_PARAMS_DOC = """\
    augmentation : {"auto", "image", "features"} or callable, default="auto"
        How the two random views of a batch are drawn. ``"image"``: random
        resized crop (area 0.5-1), horizontal flip (p = 0.5) and
        brightness/contrast jitter (0.4), for image input (flat square
        images or ``(n, C, H, W)`` arrays); ``"features"``: Gaussian noise of
        0.3 training standard deviations per feature and 20 % feature
        dropout; ``"auto"`` picks ``"image"`` when ``backbone="cnn"``, else
        ``"features"``. A callable maps a batch tensor to one view of it
        (it must be picklable to pickle the fitted hasher).
    backbone : {"identity", "mlp", "cnn"} or torch.nn.Module, default="mlp"
        Feature extractor before the heads: ``"identity"`` for precomputed
        features, ``"mlp"`` for raw feature vectors, ``"cnn"`` for raw
        images (flat square images or ``(n, C, H, W)`` arrays).
    hidden_layer_sizes : tuple of int, default=(256,)
        Fully connected layers of the ``"mlp"`` and ``"cnn"`` backbones.
    max_epochs : int, default=20
        Number of passes over the training data.
    batch_size : int, default=128
        Mini-batch size; each item's views contrast with the batch.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        Optimiser.
    weight_decay : float, default=1e-5
        L2 penalty of the optimiser.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, batch order and the random views; the same
        value gives the same codes on CPU.
    verbose : int, default=0
        1 prints a line per epoch and shows a progress bar.
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks of the private ``NeuralNet``.
    validation_fraction : float or None, default=None
        Held-out fraction to report ``valid_loss`` on.
    early_stopping : bool, default=False
        Stop when the monitored loss stalls for 5 epochs; keep the best
        weights.
    quantization : {"householder"} or None, default=None
        ``"householder"`` rotates the trained continuous codes with a
        :class:`~sklhash.HouseholderQuantizer` before binarising.
"""

_SHARED_ATTRS_DOC = """\
    net_ : skorch.NeuralNet
        The trained network wrapper.
    history_ : skorch.History
        Per-epoch losses.
    device_ : str
        Device used.
    quantizer_ : HouseholderQuantizer or None
        Second stage when ``quantization="householder"``.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.
"""


class _TwoViewDeepHasher(_BaseDeepHasher):
    """Builds a :class:`~sklhash.nn._two_view.TwoViewHashModule`.

    Subclasses set ``_latent_dim()`` (None for no latent head) and write
    ``_loss`` on the ``(h1, h2, z1, z2)`` outputs, obtained with
    ``self._views(out, batch)``.
    """

    def _latent_dim(self):
        return None

    def _augmentation_kind(self):
        if callable(self.augmentation) or self.augmentation != "auto":
            return self.augmentation
        return "image" if self.backbone == "cnn" else "features"

    def _build_module(self, input_shape):
        import torch

        from ..nn._two_view import TwoViewHashModule, make_augmenter
        from ..nn.backbones import build_backbone, infer_image_shape

        kind = self._augmentation_kind()
        image_shape = None
        if kind == "image" and len(input_shape) == 1:
            image_shape = infer_image_shape(input_shape[0])
            if image_shape is None:
                raise ValueError(
                    f"augmentation='image' needs images: got flat rows of "
                    f"{input_shape[0]} features, which is not c*s*s for c in "
                    "(1, 3); pass X of shape (n, C, H, W) or use "
                    "augmentation='features'."
                )
        backbone, n_out = build_backbone(
            self.backbone, input_shape, tuple(self.hidden_layer_sizes)
        )
        augment = make_augmenter(
            kind, input_shape,
            feature_scale=torch.as_tensor(self._feature_scale),
            image_shape=image_shape,
        )
        module = TwoViewHashModule(
            backbone, n_out, self.bits, augment, latent_dim=self._latent_dim()
        )
        # _loss needs the module for validation batches (eval mode gives
        # single-view outputs); the reference is dropped after fit.
        self._module = module
        return module

    def _train(self, X, targets, device, seed):
        # Noise for feature views is scaled per feature; constant features
        # get the mean scale so that they are perturbed too.
        flat = X.reshape(len(X), -1)
        std = flat.std(axis=0) if len(X) > 1 else np.ones(flat.shape[1])
        std = np.where(std > 0, std, std.mean() if std.mean() > 0 else 1.0)
        self._feature_scale = std.reshape(X.shape[1:]).astype(np.float32)
        try:
            return super()._train(X, targets, device, seed)
        finally:
            self.__dict__.pop("_module", None)
            self.__dict__.pop("_feature_scale", None)

    def _views(self, out, batch):
        if isinstance(out, tuple):
            return out
        return self._module.two_views(batch["X"])
