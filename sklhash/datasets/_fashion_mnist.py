"""Fashion-MNIST from the standard idx files (Debian ``dataset-fashion-mnist``)."""

import math
import os
import struct
from numbers import Integral
from pathlib import Path

import numpy as np

from sklhash.utils._sklearn_compat import StrOptions, validate_params

from ._base import (
    _finish,
    _not_found,
    _open_stream,
    _read_exactly,
    _reading,
    _search_dirs,
)

__all__ = ["load_fashion_mnist", "read_idx"]

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
URL = "https://github.com/zalandoresearch/fashion-mnist"

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# idx type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

DESCR = """\
Fashion-MNIST
=============

Zalando's article images: 70,000 grayscale 28x28 images (60,000 train,
10,000 test) in 10 balanced classes: T-shirt/top, Trouser, Pullover, Dress,
Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.

``images`` holds the pixels as uint8 (n, 1, 28, 28): channels first,
(n, C, H, W), the layout of every sklhash image loader and of PyTorch.
``data`` holds the same pixels scaled to [0, 1] as float32, one image a row:
``images.reshape(n, -1) / 255``, the flat rows the ``"cnn"`` backbone
reshapes back to (1, 28, 28).
``hierarchy`` is the WordNet hierarchy over the 10 classes (garment /
footwear / bag), whose leaves are the integer labels 0..9.

Reference: H. Xiao, K. Rasul, R. Vollgraf, "Fashion-MNIST: a Novel Image
Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747,
2017. Licence: MIT. Source: https://github.com/zalandoresearch/fashion-mnist
"""


# The most bytes read_idx holds by default: 1 GiB covers every file of the
# MNIST family (EMNIST's largest is 0.55 GB) and refuses a lying header.
MAX_IDX_BYTES = 2**30

# The published split sizes: a header announcing more is not Fashion-MNIST.
_SPLIT_SIZES = {"train": 60000, "test": 10000}


def _idx_header(stream, name):
    """``(dtype, shape)`` from the header of an idx stream, nothing more read."""
    with _reading(name):
        magic = stream.read(4)
    if len(magic) < 4 or magic[0] or magic[1] or magic[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{name} is not an idx file: bad magic number "
            f"{magic.hex() or '(empty file)'}"
        )
    ndim = magic[3]
    with _reading(name):
        dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{name} is truncated: the idx header is incomplete")
    return _IDX_DTYPES[magic[2]], struct.unpack(f">{ndim}I", dims)


def _idx_payload(stream, dtype, shape, name, max_bytes):
    """The values after an idx header: exactly what it announced, or an error."""
    n_items = math.prod(shape)  # Python ints: no overflow on a lying header
    n_bytes = n_items * dtype.itemsize
    if n_bytes > max_bytes:
        raise ValueError(
            f"{name}: its idx header announces shape {shape}, {n_bytes} bytes, "
            f"more than max_bytes={max_bytes}; refusing to read it"
        )
    values = np.empty(n_items, dtype)
    _read_exactly(stream, values.view(np.uint8), name)
    return values.astype(dtype.newbyteorder("=")).reshape(shape)


def read_idx(filename, *, max_bytes=MAX_IDX_BYTES):
    """Read an idx file (the MNIST / Fashion-MNIST format), gzipped or not.

    The file starts with two zero bytes, a type byte (``0x08`` for unsigned
    bytes), the number of dimensions, then each dimension as a big-endian
    32-bit integer, then the values in row-major order.

    The header is read and checked first; then exactly the bytes it
    announces are decompressed, and a file holding more (a decompression
    bomb behind a small header) is refused after those bytes, so memory
    never exceeds what the header announced, itself at most ``max_bytes``.

    Parameters
    ----------
    filename : str or path-like
        The file; a name ending in ``.gz`` (or ``.bz2``, ``.xz``) is
        decompressed.
    max_bytes : int, default=2**30
        Largest payload, in bytes, a header may announce.

    Returns
    -------
    array : ndarray
        The values, in native byte order, with the file's dimensions.

    Raises
    ------
    ValueError
        If the file is not a regular file, not a valid idx file, is
        truncated, holds more than its header announces, announces more than
        ``max_bytes``, or its compressed stream is corrupt. The message names
        the file.

    Examples
    --------
    >>> from sklhash.datasets import read_idx
    >>> labels = read_idx(
    ...     "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    ... )
    >>> labels.shape, labels.dtype
    ((10000,), dtype('uint8'))
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, Integral):
        raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
    filename = Path(filename)
    with _open_stream(filename) as stream:
        dtype, shape = _idx_header(stream, filename)
        return _idx_payload(stream, dtype, shape, filename, max_bytes)


def _find_file(folder, stem):
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_split(folder, split):
    """Images (n, 1, 28, 28) and labels (n,) of one split.

    Both headers are read and checked against each other and against the
    published split size before any payload is decompressed.
    """
    images_stem, labels_stem = _FILES[split]
    images_file = _find_file(folder, images_stem)
    labels_file = _find_file(folder, labels_stem)
    with _open_stream(images_file) as fi, _open_stream(labels_file) as fl:
        images_dtype, images_shape = _idx_header(fi, images_file)
        labels_dtype, labels_shape = _idx_header(fl, labels_file)
        if images_dtype != np.uint8 or images_shape[1:] != (28, 28):
            raise ValueError(
                f"{images_file} does not hold 28x28 uint8 images: "
                f"dtype {images_dtype}, shape {images_shape}"
            )
        if labels_dtype != np.uint8 or len(labels_shape) != 1:
            raise ValueError(
                f"{labels_file} does not hold a 1-d uint8 label vector: "
                f"dtype {labels_dtype}, shape {labels_shape}"
            )
        n = images_shape[0]
        if labels_shape[0] != n:
            raise ValueError(
                f"{labels_file} has {labels_shape[0]} labels but {images_file} "
                f"has {n} images"
            )
        if n > _SPLIT_SIZES[split]:
            raise ValueError(
                f"{images_file} and {labels_file} announce {n} images; the "
                f"Fashion-MNIST {split} split has {_SPLIT_SIZES[split]}"
            )
        images = _idx_payload(fi, images_dtype, images_shape, images_file, np.inf)
        labels = _idx_payload(fl, labels_dtype, labels_shape, labels_file, np.inf)
    if len(labels) and labels.max() >= len(CLASS_NAMES):
        raise ValueError(
            f"{labels_file} holds label {labels.max()}; Fashion-MNIST labels are 0..9"
        )
    # Channels first, as everywhere in sklhash: one grey channel.
    images = images.reshape(n, 1, 28, 28)
    return images, labels, [str(images_file), str(labels_file)]


@validate_params(
    {
        "subset": [StrOptions({"train", "test", "all"})],
        "path": [str, os.PathLike, None],
        "data_home": [str, os.PathLike, None],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(subset="train", *, path=None, data_home=None, return_X_y=False):
    """Load Fashion-MNIST from its standard idx files.

    Reads ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (or the
    same names without ``.gz``). Nothing is downloaded.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which split: the 60,000 training images, the 10,000 test images, or
        both (train first, then test).
    path : str or path-like, default=None
        Folder holding the four files. When None, the loader looks in
        ``<data_home>/fashion-mnist`` if ``data_home`` is given, else in
        ``/usr/share/datasets/fashion-mnist`` (Debian package
        ``dataset-fashion-mnist``) and then in ``$SKLHASH_DATA/fashion-mnist``
        (default ``~/sklhash_data/fashion-mnist``).
    data_home : str or path-like, default=None
        Data folder to search instead of the defaults; see ``path``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 784), float32
            Pixels scaled to [0, 1]: ``images.reshape(n_samples, -1) / 255``,
            i.e. each image flattened in (channel, height, width) order.
        target : ndarray of shape (n_samples,), int64
            Class labels 0..9.
        target_names : ndarray of shape (10,)
            Class names, in label order.
        images : ndarray of shape (n_samples, 1, 28, 28), uint8
            The raw images, channels first (n, C, H, W) as in every sklhash
            image loader.
        hierarchy : LabelHierarchy
            WordNet hierarchy over the labels 0..9
            (:func:`fashion_mnist_hierarchy`).
        filenames : list of str
            The files read.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The data and the target arrays, without the Bunch.

    Raises
    ------
    ValueError
        If the files are not found (the message lists where the loader
        looked and how to get them), a file is truncated or corrupt, or its
        header announces other shapes than the other file or more images
        than the published split (the message names it). Headers are
        checked before any payload is decompressed.

    See Also
    --------
    fashion_mnist_hierarchy : The class hierarchy alone.

    Examples
    --------
    >>> from sklhash.datasets import load_fashion_mnist
    >>> fmnist = load_fashion_mnist("test")
    >>> fmnist.data.shape, fmnist.images.shape
    ((10000, 784), (10000, 1, 28, 28))
    >>> fmnist.target_names[fmnist.target[:3]]
    array(['Ankle boot', 'Pullover', 'Trouser'], dtype='<U11')
    """
    splits = ["train", "test"] if subset == "all" else [subset]
    needed = [stem for split in splits for stem in _FILES[split]]
    looked_in = _search_dirs(path, data_home, "fashion-mnist", [DEBIAN_DIR])
    for folder in looked_in:
        if all(_find_file(folder, stem) for stem in needed):
            break
    else:
        raise _not_found(
            f"Fashion-MNIST ({', '.join(s + '.gz' for s in needed)})",
            looked_in,
            "Install the Debian package with `apt-get install "
            "dataset-fashion-mnist`, or download the four *-ubyte.gz files "
            f"from {URL} into one of these folders (or pass path=).",
        )

    parts = [_read_split(folder, split) for split in splits]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    target = np.concatenate([p[1] for p in parts]).astype(np.int64)
    data = np.divide(images.reshape(len(images), -1), 255, dtype=np.float32)
    bunch = dict(
        data=data,
        target=target,
        target_names=np.array(CLASS_NAMES),
        images=images,
        filenames=[f for p in parts for f in p[2]],
        DESCR=DESCR,
    )
    if return_X_y:
        return _finish(bunch, True)
    from ._hierarchies import fashion_mnist_hierarchy

    bunch["hierarchy"] = fashion_mnist_hierarchy()
    return _finish(bunch, False)
