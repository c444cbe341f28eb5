"""Image datasets stored as one folder per class (the ImageNet layout)."""

import os
import re
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np

from sklhash.utils._sklearn_compat import Interval, StrOptions, validate_params

from ._base import _check_regular_file, _finish, _Root

__all__ = ["LazyImageArray", "load_image_folder"]

IMAGENET_URL = "https://image-net.org/download.php"

# The extensions torchvision's ImageFolder accepts, compared case-insensitively.
IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
)

# The formats Pillow may decode, whatever a file's extension says. Pillow
# identifies files by content, and some of its plugins hand the file to
# other programs (EPS to Ghostscript) or parse rarely-audited formats: an EPS
# file named ``.jpg`` must not reach them.
SAFE_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF", "PPM")

# Images larger than this (Pillow's own default warning threshold, about a
# 9459 x 9459 square, 0.25 GiB as RGB) are refused before they are decoded: a
# small compressed file can announce a huge canvas (a decompression bomb).
MAX_IMAGE_PIXELS = 89_478_485

_WNID = re.compile(r"n\d{8}")

DESCR = """\
Image folder
============

Images stored as ``<root>/<class>/<image>`` (the ImageNet / torchvision
``ImageFolder`` layout). Classes are the sub-folders in sorted order, so the
integer label of a class is its rank among the folder names; for ImageNet-1k
(folders named by WordNet ids) this is the standard 0..999 order. Images are
decoded with Pillow (JPEG, PNG, BMP, GIF, WebP, TIFF, PPM/PGM only),
converted to RGB and resized.

``images`` is uint8 (n, 3, height, width): channels first, (n, C, H, W), the
layout of every sklhash image loader and of PyTorch. ``data`` is
``images.reshape(n, -1) / 255`` as float32, the flat rows the ``"cnn"``
backbone reshapes back to (3, height, width).

Only files inside the root are read: folder links are not followed (a loop
would count images many times under the wrong class) and a file link must
point inside the root.
"""


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # the ``images`` extra
        raise ImportError(
            "Decoding images needs Pillow: pip install 'sklhash[images]'"
        ) from exc
    return Image


def _check_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, Integral):
        image_size = (image_size, image_size)
    image_size = tuple(image_size)
    if len(image_size) != 2 or not all(
        isinstance(s, Integral) and s >= 1 for s in image_size
    ):
        raise ValueError(
            "image_size must be None, a positive int or a (height, width) "
            f"pair of positive ints, got {image_size!r}"
        )
    return tuple(int(s) for s in image_size)


def _decode(filename, image_size, center_crop):
    """One image as uint8 (3, height, width), channels first."""
    Image = _pil()
    try:
        _check_regular_file(filename, "image")  # a FIFO would block forever
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = _decode_safely(Image, filename, image_size, center_crop)
    except ValueError as exc:
        if str(exc).startswith(f"Cannot decode image {filename}"):
            raise
        raise ValueError(f"Cannot decode image {filename}: {exc}") from exc
    except Exception as exc:
        # A decoder of untrusted bytes can fail in many ways (OSError for
        # unidentified or truncated files, SyntaxError, struct.error,
        # EOFError, the decompression-bomb warning turned error): each one
        # means this file cannot be used.
        raise ValueError(f"Cannot decode image {filename}: {exc}") from exc
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def _decode_safely(Image, filename, image_size, center_crop):
    """Pillow's part of :func:`_decode`: HWC uint8, safe formats, size bound."""
    with Image.open(filename, formats=SAFE_FORMATS) as img:
        # ``open`` read the header only: refuse a huge canvas before decoding.
        width, height = img.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ValueError(
                f"{width}x{height} pixels, more than MAX_IMAGE_PIXELS="
                f"{MAX_IMAGE_PIXELS} (a decompression bomb?)"
            )
        img = img.convert("RGB")  # forces the full decode
        if image_size is not None:
            height, width = image_size
            if center_crop:
                # Largest centred box with the target aspect ratio.
                w, h = img.size
                scale = min(w / width, h / height)
                cw, ch = width * scale, height * scale
                left, top = (w - cw) / 2, (h - ch) / 2
                img = img.crop(
                    (round(left), round(top), round(left + cw), round(top + ch))
                )
            img = img.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def _stack(arrays, filenames):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"Images of different sizes {sorted(shapes)[:3]} (e.g. "
            f"{filenames[0]}) cannot be stacked: pass image_size= to resize "
            "them to one size"
        )
    return np.stack(arrays)


class LazyImageArray:
    """A read-only array of images that decodes each one when it is indexed.

    Returned by :func:`load_image_folder` with ``lazy=True`` so that image
    trees larger than memory can be iterated, batched or fed to a PyTorch
    ``DataLoader`` (it has ``__len__`` and ``__getitem__``). Integer indexing
    returns one image; a slice, a list or an array of indices returns a
    stacked batch; ``np.asarray(lazy)`` decodes everything.

    Parameters
    ----------
    filenames : sequence of str
        Image files, in order.
    image_size : (int, int) or None
        ``(height, width)`` every image is resized to; None keeps the size
        of each file.
    center_crop : bool, default=False
        Crop the largest centred box with the target aspect ratio before
        resizing, instead of stretching the image.
    flatten : bool, default=False
        If False, items are uint8 arrays (3, height, width), channels first
        as everywhere in sklhash. If True, items are float32 vectors in
        [0, 1] of length ``3 * height * width``: the (channel, height,
        width) array flattened, the layout of ``load_image_folder(...).data``.

    Attributes
    ----------
    filenames : ndarray of str
        The image files.
    shape : tuple
        ``(n_images, 3, height, width)`` or ``(n_images, n_features)``
        (``None`` for unknown sizes when ``image_size`` is None).
    dtype : numpy.dtype
        ``uint8``, or ``float32`` when ``flatten`` is True.

    Examples
    --------
    >>> from sklhash.datasets import LazyImageArray
    >>> lazy = LazyImageArray([], image_size=(32, 32), flatten=True)
    >>> lazy.shape, lazy.dtype
    ((0, 3072), dtype('float32'))
    """

    def __init__(self, filenames, image_size, center_crop=False, flatten=False):
        self.filenames = np.asarray(filenames, dtype=str)
        self.image_size = _check_size(image_size)
        self.center_crop = center_crop
        self.flatten = flatten

    @property
    def dtype(self):
        """``uint8`` for images, ``float32`` when ``flatten``."""
        return np.dtype(np.float32 if self.flatten else np.uint8)

    @property
    def shape(self):
        """``(n, 3, height, width)``, or ``(n, 3 * height * width)`` if flatten."""
        n = len(self.filenames)
        if self.image_size is None:
            return (n, None) if self.flatten else (n, 3, None, None)
        height, width = self.image_size
        return (n, 3 * height * width) if self.flatten else (n, 3, height, width)

    @property
    def ndim(self):
        """Number of dimensions of :attr:`shape`."""
        return len(self.shape)

    def __len__(self):
        return len(self.filenames)

    def _item(self, filename):
        img = _decode(filename, self.image_size, self.center_crop)
        if self.flatten:
            return np.divide(img.reshape(-1), 255, dtype=np.float32)
        return img

    def __getitem__(self, key):
        if isinstance(key, Integral):
            return self._item(self.filenames[key])
        files = self.filenames[key]
        if self.image_size is None:
            if not len(files):
                raise ValueError(
                    "An empty batch of images of unknown size has no shape: "
                    "pass image_size="
                )
            return _stack([self._item(f) for f in files], files)
        # Known size: fill one array, so a batch never needs twice its memory.
        out = np.empty((len(files), *self.shape[1:]), dtype=self.dtype)
        for i, f in enumerate(files):
            out[i] = self._item(f)
        return out

    def __iter__(self):
        for filename in self.filenames:
            yield self._item(filename)

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return (
            f"LazyImageArray(n_images={len(self)}, shape={self.shape}, "
            f"dtype={self.dtype})"
        )


def _folder_link_error(path):
    return ValueError(
        f"{path} is a symbolic link to a folder. load_image_folder does not "
        "follow folder links: a loop would count images many times under the "
        "wrong class, and a link can lead outside the root. Replace the link "
        "by the folder, or pass the linked folder itself as path."
    )


def _images_below(folder, extensions, root):
    """Image files below ``folder``, sorted, without following folder links.

    Hidden files and folders (name starting with ".") are skipped; a file
    link must point inside ``root`` (a :class:`_Root`).
    """
    found, todo = [], [folder]
    while todo:
        current = todo.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except OSError as exc:
            # os.walk would skip an unreadable folder silently: fewer images.
            raise ValueError(
                f"Cannot list image folder {current}: {exc.strerror or exc}"
            ) from exc
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                if entry.is_dir():
                    raise _folder_link_error(entry.path)
                if entry.name.lower().endswith(extensions):
                    found.append(root.check_link(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                todo.append(entry.path)
            elif entry.name.lower().endswith(extensions):
                found.append(entry.path)
    return sorted(found)


def _scan(root, extensions):
    if not root.is_dir():
        raise ValueError(
            f"Image folder {root} does not exist or is not a folder. Expected "
            "<root>/<class>/<image files>, e.g. the ImageNet ILSVRC2012 train "
            f"folder (download it from {IMAGENET_URL}; the validation images "
            "must first be sorted into class folders with the devkit's labels)."
        )
    confined = _Root(root, "the image folder")
    classes = []
    with os.scandir(root) as it:
        for entry in sorted(it, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                if entry.is_dir():
                    raise _folder_link_error(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                classes.append(entry.name)
    if not classes:
        raise ValueError(
            f"Image folder {root} has no class sub-folders: expected "
            "<root>/<class>/<image files>"
        )
    filenames, target = [], []
    for label, cls in enumerate(classes):
        files = _images_below(str(root / cls), extensions, confined)
        if not files:
            raise ValueError(
                f"Class folder {root / cls} holds no image file with an "
                f"extension in {extensions}"
            )
        filenames += files
        target += [label] * len(files)
    return classes, np.array(filenames, dtype=str), np.array(target, dtype=np.int64)


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "lazy": ["boolean"],
        "center_crop": ["boolean"],
        "hierarchy": [StrOptions({"auto"}), None],
        "extensions": [tuple, list, None],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_image_folder(
    path,
    *,
    image_size=(64, 64),
    lazy=False,
    center_crop=False,
    hierarchy="auto",
    extensions=None,
    return_X_y=False,
):
    """Load images stored as one sub-folder per class (ImageNet layout).

    ``path/<class>/**/<image>``: classes are the sub-folders of ``path`` in
    sorted order (integer label = rank), images are every file below a class
    folder whose extension is an image extension, in sorted order; hidden
    files and folders are skipped. Images are decoded with Pillow (extra
    ``images``), converted to RGB and resized.

    Layout: ``images`` is (n_samples, 3, height, width), channels first
    (n, C, H, W) as in every sklhash loader and in PyTorch, and ``data`` is
    ``images.reshape(n_samples, -1) / 255``, which the ``"cnn"`` backbone
    reshapes back to (3, height, width).

    Safety: only files inside ``path`` are read. Folder links are never
    followed (a ValueError names them: a loop would multiply images under
    the wrong class), a file link must point inside ``path``, and files are
    decoded only as JPEG, PNG, BMP, GIF, WebP, TIFF or PPM/PGM whatever
    their extension (:data:`SAFE_FORMATS`; an EPS file named ``.jpg`` never
    reaches Ghostscript), and only up to ``MAX_IMAGE_PIXELS`` pixels.
    When every folder name is a WordNet noun id (``n02084071``), as in
    ImageNet, the class hierarchy is built from WordNet.

    Parameters
    ----------
    path : str or path-like
        The root folder.
    image_size : int or (int, int) or None, default=(64, 64)
        ``(height, width)`` to resize every image to (an int means a
        square). None keeps the files' sizes, which then must all agree
        unless ``lazy`` is True.
    lazy : bool, default=False
        If True, ``data`` and ``images`` are :class:`LazyImageArray` objects
        that decode an image only when it is indexed or iterated, so trees
        larger than memory can be used. If False, every image is decoded now.
    center_crop : bool, default=False
        Crop the largest centred box with the aspect ratio of
        ``image_size`` before resizing, instead of stretching the image.
    hierarchy : "auto" or None, default="auto"
        "auto": when all class folders are named by WordNet ids, build
        ``LabelHierarchy.from_wordnet({label: wnid})`` (needs WordNet, see
        :mod:`sklhash.similarity`), else None. None: no hierarchy.
    extensions : sequence of str, default=None
        File extensions counted as images (case-insensitive); default
        ``.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 3 * height * width), float32
            Pixels in [0, 1], each image flattened in (channel, height,
            width) order, i.e. ``images.reshape(n_samples, -1) / 255``; a
            :class:`LazyImageArray` when ``lazy``.
        target : ndarray of shape (n_samples,), int64
            Class labels, the rank of the class folder.
        target_names : ndarray of str
            Class folder names, in label order.
        images : ndarray of shape (n_samples, 3, height, width), uint8
            RGB images, channels first; a :class:`LazyImageArray` when
            ``lazy``.
        filenames : ndarray of str
            Image files, in sample order.
        hierarchy : LabelHierarchy or None
            WordNet hierarchy whose leaves are the labels, when the folders
            are named by WordNet ids.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` (an array, or a :class:`LazyImageArray` when ``lazy``)
        and the target array, without the Bunch.

    Raises
    ------
    ValueError
        If ``path`` is not a folder of class folders, a class folder holds
        no image, a link leads outside ``path`` or to a folder, or an image
        cannot be decoded, is not in a safe format or is too large (the
        message names the file).
    LookupError
        If the folders are WordNet ids, ``hierarchy="auto"`` and no WordNet
        is found (see :func:`sklhash.similarity.load_wordnet`).
    ImportError
        If the folders are WordNet ids, ``hierarchy="auto"`` and nltk (the
        ``wordnet`` extra) is not installed.

    Examples
    --------
    >>> from sklhash.datasets import load_image_folder
    >>> train = load_image_folder("ILSVRC2012/train", image_size=64,
    ...                           lazy=True)  # doctest: +SKIP
    >>> train.images[0].shape  # doctest: +SKIP
    (3, 64, 64)
    """
    image_size = _check_size(image_size)
    if extensions is None:
        extensions = IMAGE_EXTENSIONS
    if not extensions or not all(isinstance(e, str) and e for e in extensions):
        raise ValueError(
            "extensions must be a non-empty sequence of non-empty str such as "
            f"['.jpg', '.png'], got {extensions!r}"
        )
    extensions = tuple(e.lower() for e in extensions)
    classes, filenames, target = _scan(Path(path).expanduser(), extensions)

    if lazy:
        data = LazyImageArray(filenames, image_size, center_crop, flatten=True)
        images = LazyImageArray(filenames, image_size, center_crop)
    else:
        images = LazyImageArray(filenames, image_size, center_crop)[:]
        data = np.divide(images.reshape(len(images), -1), 255, dtype=np.float32)

    if return_X_y:
        return data, target
    tree = None
    if hierarchy == "auto" and all(_WNID.fullmatch(c) for c in classes):
        from ..similarity import LabelHierarchy

        try:
            tree = LabelHierarchy.from_wordnet(
                dict(enumerate(classes)), names=dict(enumerate(classes))
            )
        except (LookupError, ImportError) as exc:  # no WordNet, or no nltk
            raise type(exc)(
                f"{exc}\nThe class folders of {path} are WordNet ids, so "
                "load_image_folder builds their hierarchy from WordNet; pass "
                "hierarchy=None to load the images without it."
            ) from exc
    bunch = dict(
        data=data,
        target=target,
        target_names=np.array(classes),
        images=images,
        filenames=filenames,
        hierarchy=tree,
        DESCR=DESCR,
    )
    return _finish(bunch, False)
