"""Feature extractors shared by the deep hashers (pure torch).

A backbone maps a batch of inputs to a batch of feature vectors; a hash head
(see :class:`HashModule`) maps those features to ``bits`` real values. Three
backbones cover sklhash's use cases: ``identity`` for precomputed embeddings
(CNN features, sentence embeddings), ``mlp`` for raw feature vectors, and a
small ``cnn`` for raw images of a few dozen pixels a side (28x28, 32x32).
"""

import torch
from torch import nn

__all__ = [
    "build_backbone",
    "SmallCNN",
    "HashModule",
    "HashNetwork",
    "infer_image_shape",
    "check_channels_first",
]


def _mlp(n_in, hidden_layer_sizes):
    layers = []
    for width in hidden_layer_sizes:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.Sequential(*layers), n_in


def infer_image_shape(n_features):
    """Guess (channels, height, width) of a flattened square image.

    Returns ``None`` when ``n_features`` is neither ``s*s`` nor ``3*s*s``.
    """
    for channels in (1, 3):
        if n_features % channels:
            continue
        side = int(round((n_features // channels) ** 0.5))
        if side * side * channels == n_features and side >= 4:
            return channels, side, side
    return None


class SmallCNN(nn.Module):
    """Two double-conv blocks with batch norm, then a 7x7 grid (≈ 65k conv weights).

    Conv-BN-ReLU twice, 2x2 max-pool, the same at twice the width, and an
    adaptive pool to 7x7 (the identity for 28x28 input), flattened. Batch
    norm and the finer grid matter: on Fashion-MNIST (SemanticKLHasher, 32
    bits, trained on 20k images, 60k database) the earlier version without
    them reached mAP@1000 .655 after 5 epochs; see docs/semantic_kl.md for
    this one.

    Parameters
    ----------
    in_channels : int
        Number of image channels.
    image_shape : tuple of int or None
        ``(channels, height, width)`` used to reshape flat input rows;
        ``None`` means the input already is ``(n, C, H, W)``.
    width : int, default=32
        Channels of the first block (the second has twice as many).
    """

    def __init__(self, in_channels, image_shape=None, width=32):
        super().__init__()
        self.image_shape = image_shape

        def block(n_in, n_out):
            return [
                nn.Conv2d(n_in, n_out, 3, padding=1),
                nn.BatchNorm2d(n_out),
                nn.ReLU(),
            ]

        self.features = nn.Sequential(
            *block(in_channels, width),
            *block(width, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            *block(2 * width, 2 * width),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(7),
            nn.Flatten(),
        )
        self.n_out = 2 * width * 49

    def forward(self, x):
        if x.dim() == 2:
            x = x.reshape(x.shape[0], *self.image_shape)
        elif x.dim() == 3:
            x = x.unsqueeze(1)
        return self.features(x)


_CHANNEL_COUNTS = (1, 3, 4)


def check_channels_first(input_shape):
    """Raise when a 3-d sample shape looks channels-last.

    sklhash's image convention is torch's, channels first: a batch is
    ``(n, C, H, W)``. A sample of shape ``(H, W, C)`` with ``C`` in
    ``(1, 3, 4)`` (and no such count first) would be read as ``H`` channels
    of ``W x C`` pixels, which trains on scrambled images without any error.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample.
    """
    if len(input_shape) != 3:
        return
    first, last = input_shape[0], input_shape[-1]
    if last in _CHANNEL_COUNTS and first not in _CHANNEL_COUNTS:
        n_shape = "(n, " + ", ".join(str(s) for s in input_shape) + ")"
        raise ValueError(
            f"backbone='cnn' expects channels-first images (n, C, H, W), but X "
            f"has shape {n_shape}, which looks channels-last (n, H, W, C) with "
            f"C={last}. Pass X.transpose(0, 3, 1, 2) (numpy) or "
            "X.permute(0, 3, 1, 2) (torch)."
        )


def build_backbone(kind, input_shape, hidden_layer_sizes=()):
    """Build a backbone and return it with its output width.

    Parameters
    ----------
    kind : {"identity", "mlp", "cnn"} or torch.nn.Module
        ``"identity"`` passes features through, ``"mlp"`` stacks
        Linear+ReLU layers of ``hidden_layer_sizes``, ``"cnn"`` is
        :class:`SmallCNN` followed by the same MLP layers. A module instance
        is used as is; its output width is found with a dummy forward pass.
    input_shape : tuple of int
        Shape of one input sample: ``(n_features,)`` or ``(C, H, W)`` /
        ``(H, W)`` for images.
    hidden_layer_sizes : sequence of int, default=()
        Widths of the fully connected layers after the trunk.

    Returns
    -------
    backbone : torch.nn.Module
    n_out : int
        Width of the backbone's output.
    """
    if isinstance(kind, nn.Module):
        with torch.no_grad():
            was_training = kind.training
            kind.eval()
            try:
                out = kind(torch.zeros((2, *input_shape)))
            except (RuntimeError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"backbone module {type(kind).__name__} cannot process "
                    f"samples of shape {tuple(input_shape)}: {exc}"
                ) from exc
            finally:
                kind.train(was_training)
            n_out = out.reshape(2, -1).shape[1]
        return kind, n_out
    if kind == "identity":
        n_in = 1
        for s in input_shape:
            n_in *= s
        return nn.Flatten(), n_in
    if kind == "mlp":
        n_in = 1
        for s in input_shape:
            n_in *= s
        mlp, n_out = _mlp(n_in, hidden_layer_sizes)
        return nn.Sequential(nn.Flatten(), mlp), n_out
    if kind == "cnn":
        if len(input_shape) == 1:
            image_shape = infer_image_shape(input_shape[0])
            if image_shape is None:
                raise ValueError(
                    f"backbone='cnn' needs images: got flat rows of "
                    f"{input_shape[0]} features, which is not c*s*s for c in "
                    "(1, 3); pass X of shape (n, C, H, W) or (n, H, W)."
                )
            channels = image_shape[0]
        elif len(input_shape) == 2:
            image_shape, channels = None, 1
        else:
            check_channels_first(input_shape)
            image_shape, channels = None, input_shape[0]
        cnn = SmallCNN(channels, image_shape)
        mlp, n_out = _mlp(cnn.n_out, hidden_layer_sizes)
        return nn.Sequential(cnn, mlp), n_out
    raise ValueError(f"Unknown backbone {kind!r}.")


class HashModule(nn.Module):
    """Backbone followed by a linear hash layer.

    ``forward`` returns the pre-activation values ``h`` (n, bits); the
    hashers apply ``tanh`` (or their own continuation) in their losses, and a
    bit is ``h > 0`` either way. An optional classifier head on ``tanh(h)``
    serves losses with a classification term.

    Parameters
    ----------
    backbone : torch.nn.Module
        Feature extractor.
    n_features : int
        Output width of the backbone.
    bits : int
        Code length.
    n_classes : int or None, default=None
        Adds ``classifier`` (Linear(bits, n_classes)) when given.
    """

    def __init__(self, backbone, n_features, bits, n_classes=None):
        super().__init__()
        self.backbone = backbone
        self.hash = nn.Linear(n_features, bits)
        self.classifier = None if n_classes is None else nn.Linear(bits, n_classes)

    def forward(self, X, augment=False):
        """Pre-activation hash values ``h`` of shape (n, bits).

        ``augment`` is accepted for the interface shared with the two-view
        modules (the training net passes ``augment=True``) and ignored: a
        plain hash module draws no views.
        """
        return self.hash(self.backbone(X))


class HashNetwork(HashModule):
    """:class:`HashModule` built from a backbone specification.

    The form a skorch net instantiates from ``module__*`` arguments, so that
    a trained network is rebuilt from parameters plus its ``state_dict``.

    Parameters
    ----------
    backbone : {"identity", "mlp", "cnn"} or torch.nn.Module
        See :func:`build_backbone`.
    input_shape : tuple of int
        Shape of one input sample.
    bits : int
        Code length.
    hidden_layer_sizes : sequence of int, default=()
        Fully connected layers of the ``"mlp"`` and ``"cnn"`` backbones.

    Examples
    --------
    >>> import torch
    >>> net = HashNetwork("mlp", (6,), bits=4, hidden_layer_sizes=(8,))
    >>> tuple(net(torch.zeros(3, 6)).shape)
    (3, 4)
    """

    def __init__(self, backbone, input_shape, bits, hidden_layer_sizes=()):
        trunk, n_out = build_backbone(
            backbone, tuple(input_shape), tuple(hidden_layer_sizes)
        )
        super().__init__(trunk, n_out, bits)
