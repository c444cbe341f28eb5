"""Fashion-MNIST from the standard idx files (Debian ``dataset-fashion-mnist``)."""

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

from ._base import _finish, _not_found, _search_dirs

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

``data`` holds the pixels scaled to [0, 1] as float32, one flattened
row-major image a row; ``images`` holds the same pixels as uint8 (n, 28, 28).
``hierarchy`` is the WordNet hierarchy over the 10 classes (garment /
footwear / bag), whose leaves are the integer labels 0..9.

Reference: H. Xiao, K. Rasul, R. Vollgraf, "Fashion-MNIST: a Novel Image
Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747,
2017. Licence: MIT. Source: https://github.com/zalandoresearch/fashion-mnist
"""


def read_idx(filename):
    """Read an idx file (the MNIST / Fashion-MNIST format), gzipped or not.

    The file starts with two zero bytes, a type byte (``0x08`` for unsigned
    bytes), the number of dimensions, then each dimension as a big-endian
    32-bit integer, then the values in row-major order.

    Parameters
    ----------
    filename : str or path-like
        The file; a name ending in ``.gz`` is decompressed.

    Returns
    -------
    array : ndarray
        The values, in native byte order, with the file's dimensions.

    Raises
    ------
    ValueError
        If the file is not a valid idx file, is truncated, or its gzip
        stream is corrupt. The message names the file.

    Examples
    --------
    >>> from sklhash.datasets import read_idx
    >>> labels = read_idx(
    ...     "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    ... )
    >>> labels.shape, labels.dtype
    ((10000,), dtype('uint8'))
    """
    filename = Path(filename)
    try:
        if filename.suffix == ".gz":
            with gzip.open(filename, "rb") as f:
                raw = f.read()
        else:
            raw = filename.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        # gzip raises EOFError on a truncated stream and BadGzipFile (an
        # OSError) on a bad header or CRC.
        raise ValueError(f"Cannot read idx file {filename}: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{filename} is not an idx file: bad magic number "
            f"{raw[:4].hex() or '(empty file)'}"
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{filename} is truncated: the idx header is incomplete")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    expected = header + dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        raise ValueError(
            f"{filename} has {len(raw)} bytes but its idx header {shape} "
            f"announces {expected}: the file is truncated or corrupt"
        )
    values = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def _find_file(folder, stem):
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_split(folder, split):
    images_stem, labels_stem = _FILES[split]
    images_file = _find_file(folder, images_stem)
    labels_file = _find_file(folder, labels_stem)
    images = read_idx(images_file)
    labels = read_idx(labels_file)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_file} does not hold 28x28 uint8 images: "
            f"dtype {images.dtype}, shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{labels_file} does not hold a 1-d uint8 label vector: "
            f"dtype {labels.dtype}, shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise ValueError(
            f"{labels_file} has {len(labels)} labels but {images_file} has "
            f"{len(images)} images"
        )
    if len(labels) and labels.max() >= len(CLASS_NAMES):
        raise ValueError(
            f"{labels_file} holds label {labels.max()}; Fashion-MNIST labels are 0..9"
        )
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
            Pixels scaled to [0, 1], each image flattened row by row.
        target : ndarray of shape (n_samples,), int64
            Class labels 0..9.
        target_names : ndarray of shape (10,)
            Class names, in label order.
        images : ndarray of shape (n_samples, 28, 28), uint8
            The raw images.
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
        looked and how to get them) or a file is truncated or corrupt (the
        message names it).

    See Also
    --------
    fashion_mnist_hierarchy : The class hierarchy alone.

    Examples
    --------
    >>> from sklhash.datasets import load_fashion_mnist
    >>> fmnist = load_fashion_mnist("test")
    >>> fmnist.data.shape, fmnist.images.shape
    ((10000, 784), (10000, 28, 28))
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
