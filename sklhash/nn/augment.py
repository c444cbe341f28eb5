"""Random "views" of a batch for contrastive hashing, in plain torch.

Two families, both driven by an explicit :class:`torch.Generator` so that a
seeded run is reproducible on CPU:

* :func:`feature_views` for feature vectors ``(n, d)``: additive Gaussian
  noise (scaled per feature) and random feature dropout.
* :func:`image_views` for images ``(n, C, H, W)``: random resized crop (with
  an aspect-ratio jitter and translation) and horizontal flip, both in one
  affine warp through ``affine_grid`` / ``grid_sample``, then brightness and
  contrast jitter. No torchvision dependency.

:class:`FeatureAugment` and :class:`ImageAugment` wrap them as modules with
their strengths as attributes.
"""

import math

import torch
import torch.nn.functional as F

__all__ = ["feature_views", "image_views", "FeatureAugment", "ImageAugment"]


def _uniform(n, low, high, generator, device):
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _check_probability(name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {name}={value!r}.")


def feature_views(X, noise=0.1, dropout=0.1, scale=None, generator=None):
    """One random view of feature vectors: Gaussian noise + feature dropout.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
        Feature vectors.
    noise : float, default=0.1
        Standard deviation of the additive noise, in units of ``scale``.
    dropout : float, default=0.1
        Probability of zeroing each feature (survivors are *not* rescaled:
        a missing feature should look like a missing feature, not like a
        brighter one).
    scale : torch.Tensor of shape (d,) or float or None, default=None
        Per-feature noise scale (e.g. the training standard deviation);
        None means 1.
    generator : torch.Generator or None, default=None
        Source of randomness.

    Returns
    -------
    X_view : torch.Tensor of shape (n, d)
        The perturbed copy (``X`` itself is not modified).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> feature_views(torch.ones(2, 3), noise=0.0, dropout=0.0, generator=g).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    if X.dim() != 2:
        raise ValueError(f"X must be 2-d (n, d), got shape {tuple(X.shape)}.")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got noise={noise!r}.")
    _check_probability("dropout", dropout)
    out = X
    if noise > 0:
        eps = torch.randn(X.shape, generator=generator, device=X.device, dtype=X.dtype)
        s = 1.0 if scale is None else scale
        out = out + noise * s * eps
    if dropout > 0:
        keep = torch.rand(X.shape, generator=generator, device=X.device) >= dropout
        out = out * keep.to(X.dtype)
    return out


def image_views(
    X,
    crop_scale=(0.5, 1.0),
    ratio=(3 / 4, 4 / 3),
    flip=0.5,
    brightness=0.4,
    contrast=0.4,
    generator=None,
):
    """One random view of a batch of images.

    Parameters
    ----------
    X : torch.Tensor of shape (n, C, H, W)
        Images (any value range; jitter is applied around each image's mean).
    crop_scale : tuple of float, default=(0.5, 1.0)
        Range of the crop's area as a fraction of the image, in (0, 1]. The
        crop is resized back to ``H x W`` (bilinear).
    ratio : tuple of float, default=(3/4, 4/3)
        Range of the crop's aspect ratio (log-uniform).
    flip : float, default=0.5
        Probability of a horizontal flip.
    brightness : float, default=0.4
        Additive brightness shift drawn from ``[-b, b]`` times the image's
        standard deviation.
    contrast : float, default=0.4
        Contrast factor drawn from ``[1 - c, 1 + c]``.
    generator : torch.Generator or None, default=None
        Source of randomness.

    Returns
    -------
    X_view : torch.Tensor of shape (n, C, H, W)
        The warped and jittered copy (``X`` itself is not modified).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> image_views(torch.rand(4, 1, 28, 28), generator=g).shape
    torch.Size([4, 1, 28, 28])
    """
    if X.dim() != 4:
        raise ValueError(f"X must be 4-d (n, C, H, W), got shape {tuple(X.shape)}.")
    lo, hi = crop_scale
    if not 0 < lo <= hi <= 1:
        raise ValueError(
            "crop_scale must satisfy 0 < low <= high <= 1, got "
            f"crop_scale={crop_scale!r}."
        )
    if not 0.0 <= flip <= 1.0:
        raise ValueError(f"flip must be in [0, 1], got flip={flip!r}.")
    n, dev, dt = X.shape[0], X.device, X.dtype
    area = _uniform(n, lo, hi, generator, dev)
    log_r = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), generator, dev)
    r = log_r.exp()
    # Crop width / height as fractions of the image, clipped to the image.
    sx = (area * r).sqrt().clamp(max=1.0)
    sy = (area / r).sqrt().clamp(max=1.0)
    # The crop centre may move as far as the crop stays inside the image.
    tx = (1 - sx) * (2 * torch.rand(n, generator=generator, device=dev) - 1)
    ty = (1 - sy) * (2 * torch.rand(n, generator=generator, device=dev) - 1)
    flip_sign = torch.where(
        torch.rand(n, generator=generator, device=dev) < flip, -1.0, 1.0
    ).to(dev)
    theta = torch.zeros(n, 2, 3, device=dev, dtype=dt)
    theta[:, 0, 0] = sx * flip_sign
    theta[:, 0, 2] = tx
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(X.shape), align_corners=False)
    out = F.grid_sample(X, grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    if brightness > 0 or contrast > 0:
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        std = out.std(dim=(1, 2, 3), keepdim=True)
        c = _uniform(n, 1 - contrast, 1 + contrast, generator, dev).view(n, 1, 1, 1)
        b = _uniform(n, -brightness, brightness, generator, dev).view(n, 1, 1, 1)
        out = (out - mean) * c.to(dt) + mean + b.to(dt) * std
    return out


class FeatureAugment(torch.nn.Module):
    """Module form of :func:`feature_views`.

    Examples
    --------
    >>> import torch
    >>> aug = FeatureAugment(noise=0.1, dropout=0.2)
    >>> aug(torch.randn(5, 3), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([5, 3])
    """

    def __init__(self, noise=0.1, dropout=0.1, scale=None):
        super().__init__()
        self.noise = noise
        self.dropout = dropout
        self.scale = scale

    def forward(self, X, generator=None):
        return feature_views(X, self.noise, self.dropout, self.scale, generator)


class ImageAugment(torch.nn.Module):
    """Module form of :func:`image_views`; ``shape`` reshapes flat rows first.

    Parameters
    ----------
    shape : tuple of int or None, default=None
        ``(C, H, W)`` of the images when the input rows are flat vectors;
        the output then has the input's shape again.

    Examples
    --------
    >>> import torch
    >>> aug = ImageAugment(shape=(1, 8, 8))
    >>> aug(torch.rand(3, 64), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([3, 64])
    """

    def __init__(self, shape=None, crop_scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3),
                 flip=0.5, brightness=0.4, contrast=0.4):
        super().__init__()
        self.shape = shape
        self.crop_scale = crop_scale
        self.ratio = ratio
        self.flip = flip
        self.brightness = brightness
        self.contrast = contrast

    def forward(self, X, generator=None):
        flat_shape = None
        if self.shape is not None and X.dim() == 2:
            flat_shape = X.shape
            X = X.reshape(X.shape[0], *self.shape)
        out = image_views(X, self.crop_scale, self.ratio, self.flip,
                          self.brightness, self.contrast, generator)
        return out.reshape(flat_shape) if flat_shape is not None else out
