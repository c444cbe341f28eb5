"""Two-view networks for the unsupervised (contrastive) deep hashers.

A :class:`TwoViewHashModule` is a backbone with a code head (``Linear`` to
``bits`` pre-activations) and an optional latent head (a small projection MLP
to ``latent_dim``, used by NSH's SortedNCE). Its ``forward`` returns the pair
``(h, z)`` of code pre-activations and latents in training and eval mode
alike; called with ``augment=True`` (the deep-hasher base does so for
training and validation batches) it first draws two random views of the
batch and stacks them, so ``h`` and ``z`` have ``2 n`` rows, view one first.
Randomness comes from torch's global generator, which the base seeds from
``random_state``. :class:`TwoViewNetwork` builds the same module from a
backbone specification, the form a skorch net instantiates.
"""

import torch
from torch import nn

from .augment import feature_views, image_views

__all__ = ["TwoViewHashModule", "TwoViewNetwork", "make_augmenter", "split_views"]


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
    >>> h, z = m(torch.zeros(5, 4), augment=True)
    >>> tuple(h.shape), tuple(z.shape)
    ((10, 3), (10, 2))
    >>> h, z = m(torch.zeros(5, 4))
    >>> tuple(h.shape), tuple(z.shape)
    ((5, 3), (5, 2))
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

    def forward(self, X, augment=False):
        """Code pre-activations ``h`` and latents ``z`` of ``X``.

        With ``augment=True`` the rows are two random views of ``X``
        (``2 n`` rows, all of view one first; see :func:`split_views`).
        Without a latent head ``z`` has zero columns, so the output type is
        the same for every configuration.
        """
        if augment:
            X = torch.cat([self.augment(X), self.augment(X)])
        f = self.backbone(X)
        h = self.hash(f)
        z = self.latent(f) if self.latent is not None else h[:, :0]
        return h, z


def split_views(out):
    """``(h1, h2, z1, z2)`` from the output of an augmented forward pass."""
    h, z = out
    n = h.shape[0] // 2
    return h[:n], h[n:], z[:n], z[n:]


class TwoViewNetwork(TwoViewHashModule):
    """:class:`TwoViewHashModule` built from a backbone specification.

    Parameters
    ----------
    backbone : {"identity", "mlp", "cnn"} or torch.nn.Module
        See :func:`sklhash.nn.backbones.build_backbone`.
    input_shape : tuple of int
        Shape of one input sample.
    bits : int
        Code length.
    augmentation : {"image", "features"} or callable
        How views are drawn (see :func:`make_augmenter`).
    hidden_layer_sizes : sequence of int, default=()
        Fully connected layers of the ``"mlp"`` and ``"cnn"`` backbones.
    latent_dim : int or None, default=None
        Width of the latent head; None builds none.
    feature_scale : array-like of shape input_shape or None, default=None
        Per-feature noise scale of ``"features"`` views (a buffer of the
        module, so it travels with the ``state_dict``); None means ones.

    Examples
    --------
    >>> import torch
    >>> net = TwoViewNetwork("mlp", (6,), bits=4, augmentation="features",
    ...                      hidden_layer_sizes=(8,), latent_dim=3)
    >>> [tuple(t.shape) for t in net(torch.zeros(2, 6), augment=True)]
    [(4, 4), (4, 3)]
    """

    def __init__(self, backbone, input_shape, bits, augmentation,
                 hidden_layer_sizes=(), latent_dim=None, feature_scale=None):
        from .backbones import build_backbone, infer_image_shape

        input_shape = tuple(input_shape)
        image_shape = None
        if isinstance(augmentation, str) and augmentation == "image" \
                and len(input_shape) == 1:
            image_shape = infer_image_shape(input_shape[0])
            if image_shape is None:
                raise ValueError(
                    f"augmentation='image' needs images: got flat rows of "
                    f"{input_shape[0]} features, which is not c*s*s for c in "
                    "(1, 3); pass X of shape (n, C, H, W) or use "
                    "augmentation='features'."
                )
        trunk, n_out = build_backbone(backbone, input_shape, tuple(hidden_layer_sizes))
        if feature_scale is not None:
            feature_scale = torch.as_tensor(feature_scale)
        augment = make_augmenter(augmentation, input_shape,
                                 feature_scale=feature_scale, image_shape=image_shape)
        super().__init__(trunk, n_out, bits, augment, latent_dim=latent_dim)
