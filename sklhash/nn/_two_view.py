"""Two-view networks for the unsupervised (contrastive) deep hashers.

A :class:`TwoViewHashModule` is a backbone with a code head (``Linear`` to
``bits`` pre-activations) and an optional latent head (a small projection MLP
to ``latent_dim``, used by NSH's SortedNCE). In training mode its ``forward``
draws two random views of the batch and returns the heads' outputs for both;
in eval mode it returns the code pre-activations of the input itself, so the
deep-hasher base encodes without augmentation. Randomness comes from torch's
global generator, which the base seeds from ``random_state``.
"""

import torch
from torch import nn

from .augment import feature_views, image_views

__all__ = ["TwoViewHashModule", "make_augmenter"]


class _FeatureViews(nn.Module):
    def __init__(self, scale, noise=0.3, dropout=0.2):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.noise = noise
        self.dropout = dropout

    def forward(self, X):
        return feature_views(X, self.noise, self.dropout, self.scale.to(X))


class _ImageViews(nn.Module):
    def __init__(self, image_shape=None, crop_scale=(0.5, 1.0), flip=0.5,
                 brightness=0.4, contrast=0.4):
        super().__init__()
        self.image_shape = image_shape
        self.crop_scale = crop_scale
        self.flip = flip
        self.brightness = brightness
        self.contrast = contrast

    def forward(self, X):
        shape = X.shape
        if X.dim() == 2:
            X = X.reshape(shape[0], *self.image_shape)
        elif X.dim() == 3:
            X = X.unsqueeze(1)
        out = image_views(X, crop_scale=self.crop_scale, flip=self.flip,
                          brightness=self.brightness, contrast=self.contrast)
        return out.reshape(shape)


def make_augmenter(kind, input_shape, feature_scale=None, image_shape=None):
    """The view generator for ``kind`` ("image" or "features") or a callable.

    Parameters
    ----------
    kind : {"image", "features"} or callable
        A callable maps a batch tensor to one random view of it.
    input_shape : tuple of int
        Shape of one sample.
    feature_scale : array-like of shape (n_features,) or None
        Per-feature noise scale for ``"features"`` (e.g. training std).
    image_shape : tuple of int or None
        ``(C, H, W)`` used to reshape flat rows for ``"image"``.

    Returns
    -------
    augment : callable
    """
    if callable(kind):
        return kind
    if kind == "image":
        return _ImageViews(image_shape)
    if kind == "features":
        scale = torch.ones(input_shape) if feature_scale is None else feature_scale
        return _FeatureViews(scale)
    raise ValueError(f"Unknown augmentation {kind!r}; use 'image', 'features' "
                     "or a callable.")


class TwoViewHashModule(nn.Module):
    """Backbone, code head and latent head, run on two random views.

    Parameters
    ----------
    backbone : torch.nn.Module
        Feature extractor.
    n_features : int
        Output width of the backbone.
    bits : int
        Code length.
    augment : callable
        Maps a batch to one random view of it.
    latent_dim : int or None, default=None
        Width of the latent head; None builds no latent head.

    Examples
    --------
    >>> import torch
    >>> m = TwoViewHashModule(torch.nn.Flatten(), 4, bits=3,
    ...                       augment=lambda x: x + 0.1, latent_dim=2)
    >>> h1, h2, z1, z2 = m(torch.zeros(5, 4))
    >>> tuple(h1.shape), tuple(z2.shape)
    ((5, 3), (5, 2))
    >>> tuple(m.eval()(torch.zeros(5, 4)).shape)
    (5, 3)
    """

    def __init__(self, backbone, n_features, bits, augment, latent_dim=None):
        super().__init__()
        self.backbone = backbone
        self.hash = nn.Linear(n_features, bits)
        self.augment = augment
        self.latent = None
        if latent_dim is not None:
            self.latent = nn.Sequential(
                nn.Linear(n_features, n_features), nn.ReLU(),
                nn.Linear(n_features, latent_dim),
            )

    def two_views(self, X):
        """Heads' outputs ``(h1, h2, z1, z2)`` for two random views of ``X``."""
        n = X.shape[0]
        # One backbone pass over both views (2n rows).
        f = self.backbone(torch.cat([self.augment(X), self.augment(X)]))
        h = self.hash(f)
        z = self.latent(f) if self.latent is not None else None
        h1, h2 = h[:n], h[n:]
        z1, z2 = (None, None) if z is None else (z[:n], z[n:])
        return h1, h2, z1, z2

    def forward(self, X):
        if self.training:
            return self.two_views(X)
        return self.hash(self.backbone(X))
