"""CIFAR-100 from the published "CIFAR-100 python version"."""

import io
import os
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from sklhash.utils._sklearn_compat import StrOptions, validate_params

from ._base import (
    _check_regular_file,
    _finish,
    _not_found,
    _read_bounded,
    _reading,
    _search_dirs,
)

__all__ = ["load_cifar100"]

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FOLDER = "cifar-100-python"
ARCHIVE = FOLDER + ".tar.gz"

DESCR = """\
CIFAR-100
=========

60,000 colour 32x32 images (50,000 train, 10,000 test) in 100 fine classes
grouped into 20 coarse superclasses, 600 images a fine class.

``images`` holds the pixels as uint8 (n, 3, 32, 32): channels first,
(n, C, H, W), the layout of every sklhash image loader and of PyTorch, and
the order of the published pickles (a red, a green and a blue 32x32 plane).
``data`` holds the same pixels scaled to [0, 1] as float32, one image a row:
``images.reshape(n, -1) / 255``, the flat rows the ``"cnn"`` backbone
reshapes back to (3, 32, 32). ``target`` is
the fine label, ``coarse_target`` the superclass; ``hierarchy`` is the
shipped WordNet hierarchy whose leaves are the fine labels 0..99.

Reference: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny
Images", technical report, University of Toronto, 2009.
Source: https://www.cs.toronto.edu/~kriz/cifar.html
"""

# The largest member the loader reads, by name: the published train pickle
# is 155 MB, test 31 MB, meta 1.5 kB. A bigger member is not CIFAR-100, and
# reading it could exhaust memory (a gzip archive can expand 1000-fold).
_MAX_MEMBER_BYTES = {"train": 192 << 20, "test": 48 << 20, "meta": 1 << 20}

# Containers deeper than this are not in the format (the published pickles
# are a dict of lists and arrays: depth 2).
_MAX_DEPTH = 8

# Byte-order-free dtype codes an array of the format may have.
_DTYPES = {"b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` in a pickle: only ever passed around."""


class _Array:
    """An array being unpickled: its state is kept, and parsed afterwards."""

    def __init__(self, state=None):
        self.state = state

    def __setstate__(self, state):
        self.state = state


class _Dtype:
    """A dtype being unpickled: ``numpy.dtype(spec, align, copy)`` + state."""

    def __init__(self, spec, align=False, copy=False):
        self.spec = spec
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _Scalar:
    def __init__(self, dtype, raw=None):
        self.dtype, self.raw = dtype, raw


def _reconstruct(cls, shape, dtype_code):
    if cls is not _NdarrayToken:
        raise pickle.UnpicklingError("_reconstruct of something else than ndarray")
    return _Array()


def _frombuffer(buf, dtype, shape, order):
    # protocol 5's reduction of an ndarray
    return _Array((1, shape, dtype, order == "F", buf))


def _latin1(text, encoding):
    # How Python 3 pickles bytes with protocol 2; any other codec is refused.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r}")
    return text.encode("latin-1")


# The pickles hold plain dicts, lists, bytes and numpy arrays. numpy's own
# reconstruction is not trusted with the file's bytes (an array of dtype
# object built from raw bytes reads them as pointers): every global a pickle
# may name is replaced by an inert stand-in, and the arrays are then built
# from their parsed state with np.frombuffer, for plain numeric dtypes only.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _Scalar,
    ("numpy._core.multiarray", "scalar"): _Scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NdarrayToken,
    ("numpy", "dtype"): _Dtype,
    ("_codecs", "encode"): _latin1,  # bytes pickled by Python 3, protocol 2
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: not part of the CIFAR format"
            ) from None


def _as_str(value):
    return value.decode("ascii") if isinstance(value, bytes) else value


def _dtype(stub):
    """A numeric numpy dtype from its pickled spec and state, or an error."""
    spec = _as_str(stub.spec) if isinstance(stub, _Dtype) else None
    if spec not in _DTYPES:
        raise pickle.UnpicklingError(
            f"refusing dtype {spec!r}: only {', '.join(sorted(_DTYPES))}"
        )
    dtype = np.dtype(spec)
    state = stub.state
    if state is not None:
        # (version, byte order, subarray, names, fields, elsize, alignment,
        # flags): plain dtypes have no subarray, names nor fields.
        if (
            not isinstance(state, tuple)
            or len(state) < 5
            or any(v is not None for v in state[2:5])
        ):
            raise pickle.UnpicklingError(f"refusing dtype state {state!r:.80}")
        order = _as_str(state[1])
        if order not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError(f"refusing byte order {order!r}")
        if order in "<>":
            dtype = dtype.newbyteorder(order)
    return dtype


def _array(stub):
    """The ndarray an ``_Array`` stands for, built with np.frombuffer only."""
    state = stub.state
    if isinstance(state, tuple) and len(state) == 4:
        state = (1, *state)  # the version-less form
    if not isinstance(state, tuple) or len(state) != 5:
        raise pickle.UnpicklingError(f"refusing array state {state!r:.80}")
    _, shape, dtype, fortran, raw = state
    dtype = _dtype(dtype)
    if (
        not isinstance(shape, tuple)
        or not all(isinstance(d, int) and d >= 0 for d in shape)
        or not isinstance(raw, (bytes, bytearray))
    ):
        raise pickle.UnpicklingError("refusing an array with a bad shape or data")
    n_items = 1
    for d in shape:
        n_items *= d
    if len(raw) != n_items * dtype.itemsize:
        raise pickle.UnpicklingError(
            f"array of shape {shape} and dtype {dtype} holds {len(raw)} bytes"
        )
    flat = np.frombuffer(raw, dtype)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def _materialise(obj, depth=0):
    """Replace the stand-ins left by the unpickler by real arrays."""
    if depth > _MAX_DEPTH:
        raise pickle.UnpicklingError(f"containers nested deeper than {_MAX_DEPTH}")
    if isinstance(obj, _Array):
        return _array(obj)
    if isinstance(obj, _Scalar):
        dtype = _dtype(obj.dtype)
        if not isinstance(obj.raw, bytes) or len(obj.raw) != dtype.itemsize:
            raise pickle.UnpicklingError("refusing a scalar with bad data")
        return np.frombuffer(obj.raw, dtype)[0]
    if isinstance(obj, (_Dtype, _NdarrayToken)) or obj is _NdarrayToken:
        raise pickle.UnpicklingError("a bare numpy type is not part of the format")
    if isinstance(obj, dict):
        return {
            _materialise(k, depth + 1): _materialise(v, depth + 1)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, depth + 1) for v in obj)
    if obj is None or isinstance(obj, (bytes, str, int, float, bool)):
        return obj
    raise pickle.UnpicklingError(f"{type(obj).__name__} is not part of the format")


def _unpickle(raw, name):
    try:
        # Python 2 pickles: 'bytes' keeps their str objects as bytes.
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
        obj = _materialise(obj)
    except Exception as exc:  # pickle raises many kinds on a corrupt stream
        raise ValueError(f"Cannot unpickle {name}: {exc!r}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{name} does not hold a dict but {type(obj).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


class _Source:
    """The pickles, from a folder or from the published archive."""

    def __init__(self, location):
        self.location = location

    def read(self, members):
        """Unpickle ``members``: a list of ``(dict, name)`` in that order.

        The archive is read in one sequential pass, so a gzipped tar is
        decompressed once whatever the number of members.
        """
        if self.location.is_file():
            names = {m: f"{self.location}:{m}" for m in members}
            raws = self._read_archive(names)
        else:
            names = {m: str(self.location / m) for m in members}
            raws = {}
            for m in members:
                path = _check_regular_file(self.location / m, "CIFAR-100 pickle")
                with _reading(path), open(path, "rb") as f:
                    raws[m] = _read_bounded(f, _MAX_MEMBER_BYTES[m], path)
        return [(_unpickle(raws[m], names[m]), names[m]) for m in members]

    def _read_archive(self, names):
        raws = {}
        try:
            with tarfile.open(self.location, "r:*") as tar:
                for entry in tar:
                    base = Path(entry.name).name
                    if entry.isfile() and base in names and base not in raws:
                        # The tar header announces the size: check it first.
                        if entry.size > _MAX_MEMBER_BYTES[base]:
                            raise ValueError(
                                f"{names[base]} announces {entry.size} bytes, more "
                                f"than the {_MAX_MEMBER_BYTES[base]} of the "
                                "published file: not CIFAR-100"
                            )
                        raws[base] = tar.extractfile(entry).read()
                        if len(raws) == len(names):
                            break  # nothing more to decompress
        except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
            # A truncated gzip raises EOFError, a bad one BadGzipFile.
            raise ValueError(f"Cannot read {self.location}: {exc!r}") from exc
        missing = [m for m in names if m not in raws]
        if missing:
            raise ValueError(
                f"{self.location} has no member named {missing[0]!r}; is it "
                f"the published {ARCHIVE}?"
            )
        return raws


def _locate(path, data_home):
    looked_in = _search_dirs(path, data_home, "")
    candidates = []
    for place in looked_in:
        candidates += [place, place / FOLDER, place / ARCHIVE]
    for cand in candidates:
        if cand.is_file() or (cand / "meta").is_file():
            return _Source(cand)
    raise _not_found(
        f"CIFAR-100 (a {FOLDER!r} folder with the train, test and meta "
        f"pickles, or {ARCHIVE!r})",
        candidates,
        f"Download the CIFAR-100 python version from {URL} (no Debian "
        "package exists) and pass its path (archive or extracted folder) as "
        "path=, or put it in $SKLHASH_DATA.",
    )


def _labels(values, name, key):
    """Integer labels, never truncated floats or coerced strings."""
    try:
        labels = np.asarray(values)
    except ValueError as exc:  # ragged nesting
        raise ValueError(f"{name}: {key} is not a list of integers") from exc
    if labels.size == 0:
        return labels.astype(np.int64).reshape(labels.shape)
    if labels.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: {key} must hold integers, got dtype {labels.dtype} "
            f"(first value {labels.flat[0]!r})"
        )
    return labels.astype(np.int64)


def _check_split(batch, name, n_fine, n_coarse):
    for key in ("data", "fine_labels", "coarse_labels"):
        if key not in batch:
            raise ValueError(f"{name} has no {key!r} entry: not a CIFAR-100 pickle")
    data = np.asarray(batch["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(
            f"{name}: 'data' must be uint8 of shape (n, 3072), got "
            f"{data.dtype} {data.shape}"
        )
    fine = _labels(batch["fine_labels"], name, "fine_labels")
    coarse = _labels(batch["coarse_labels"], name, "coarse_labels")
    for key, labels, n_classes in (
        ("fine_labels", fine, n_fine),
        ("coarse_labels", coarse, n_coarse),
    ):
        if labels.shape != (len(data),):
            raise ValueError(f"{name}: {len(labels)} {key} for {len(data)} images")
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(
                f"{name}: {key} must lie in 0..{n_classes - 1}, found "
                f"{labels.min()}..{labels.max()}"
            )
    return data, fine, coarse


@validate_params(
    {
        "path": [str, os.PathLike, None],
        "subset": [StrOptions({"train", "test", "all"})],
        "data_home": [str, os.PathLike, None],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_cifar100(path=None, *, subset="train", data_home=None, return_X_y=False):
    """Load CIFAR-100 from the published "CIFAR-100 python version".

    The published archive ``cifar-100-python.tar.gz`` unpacks to a folder
    ``cifar-100-python`` with three pickles written by Python 2: ``train``
    and ``test`` (keys ``data``, an (n, 3072) uint8 array of red, green and
    blue 32x32 planes; ``fine_labels``; ``coarse_labels``) and ``meta``
    (``fine_label_names``, ``coarse_label_names``). The archive is read in
    place, without extracting it.

    The pickles are read without trusting them: no class or function they
    name is imported or called; arrays are rebuilt from their bytes for
    plain numeric dtypes only, and a member larger than the published file
    is refused before it is decompressed. A file that asks for anything
    else is refused with a ValueError.

    Layout: ``images`` is (n_samples, 3, 32, 32), channels first (n, C, H,
    W) as in every sklhash loader and in PyTorch, and ``data`` is
    ``images.reshape(n_samples, -1) / 255``, which the ``"cnn"`` backbone
    reshapes back to (3, 32, 32).

    Parameters
    ----------
    path : str or path-like, default=None
        The archive, the extracted ``cifar-100-python`` folder, or a folder
        holding either. When None, ``data_home`` (default ``$SKLHASH_DATA``,
        else ``~/sklhash_data``) is searched for either.
    subset : {"train", "test", "all"}, default="train"
        The 50,000 training images, the 10,000 test images, or both (train
        first).
    data_home : str or path-like, default=None
        Data folder searched when ``path`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 3072), float32
            Pixels in [0, 1], each image flattened in (channel, height,
            width) order, i.e. ``images.reshape(n_samples, -1) / 255``.
        target : ndarray of shape (n_samples,), int64
            Fine labels 0..99.
        coarse_target : ndarray of shape (n_samples,), int64
            Superclass labels 0..19.
        target_names, coarse_target_names : ndarray of str
            Names of the 100 fine classes and of the 20 superclasses.
        images : ndarray of shape (n_samples, 3, 32, 32), uint8
            RGB images, channels first.
        filenames : ndarray of str
            The original image file names stored in the pickles (empty
            strings when a pickle has none).
        hierarchy : LabelHierarchy
            WordNet hierarchy over the fine labels
            (:func:`cifar100_hierarchy`).
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The data and the (fine) target arrays, without the Bunch.

    Raises
    ------
    ValueError
        If the files are not found (the message lists where the loader
        looked and where to download them) or a pickle is truncated,
        corrupt or not in the CIFAR-100 format (the message names it).

    See Also
    --------
    cifar100_hierarchy : The class hierarchy alone.

    Examples
    --------
    >>> from sklhash.datasets import load_cifar100
    >>> cifar = load_cifar100("~/data/cifar-100-python.tar.gz")  # doctest: +SKIP
    >>> cifar.images.shape, cifar.target_names[cifar.target[0]]  # doctest: +SKIP
    ((50000, 3, 32, 32), 'cattle')
    """
    source = _locate(path, data_home)
    splits = ["train", "test"] if subset == "all" else [subset]
    (meta, meta_name), *batches = source.read(["meta", *splits])
    for key in ("fine_label_names", "coarse_label_names"):
        if key not in meta:
            raise ValueError(f"{meta_name} has no {key!r} entry")
    fine_names = _text(meta["fine_label_names"])
    coarse_names = _text(meta["coarse_label_names"])
    if len(fine_names) != 100 or len(coarse_names) != 20:
        raise ValueError(
            f"{meta_name} names {len(fine_names)} fine and {len(coarse_names)} "
            "coarse classes; CIFAR-100 has 100 and 20"
        )

    datas, fines, coarses, filenames = [], [], [], []
    for batch, name in batches:
        data, fine, coarse = _check_split(batch, name, 100, 20)
        datas.append(data)
        fines.append(fine)
        coarses.append(coarse)
        names = _text(batch.get("filenames", [b""] * len(data)))
        if len(names) != len(data):
            # Misaligned names would silently point at other images.
            raise ValueError(f"{name}: {len(names)} filenames for {len(data)} images")
        filenames += names
    data = np.concatenate(datas)
    fine = np.concatenate(fines)
    coarse = np.concatenate(coarses)

    # A fine class belongs to exactly one superclass; a file that says
    # otherwise is corrupt, and the hierarchy would be wrong.
    pairs = np.unique(fine * 20 + coarse)  # sorted by fine label
    pair_fine = pairs // 20
    if len(np.unique(pair_fine)) != len(pairs):
        bad = pair_fine[1:][pair_fine[1:] == pair_fine[:-1]][0]
        raise ValueError(
            f"CIFAR-100 at {source.location}: fine class {bad} "
            f"({fine_names[bad]!r}) appears under several coarse classes"
        )

    # Stored as 3 colour planes of 32x32, row-major: already (C, H, W).
    images = data.reshape(-1, 3, 32, 32)
    bunch = dict(
        data=np.divide(data, 255, dtype=np.float32),
        target=fine,
        coarse_target=coarse,
        target_names=np.array(fine_names),
        coarse_target_names=np.array(coarse_names),
        images=images,
        filenames=np.array(filenames),
        DESCR=DESCR,
    )
    if return_X_y:
        return _finish(bunch, True)
    from ._hierarchies import cifar100_hierarchy

    bunch["hierarchy"] = cifar100_hierarchy()
    return _finish(bunch, False)
