"""The file container: one safetensors file whose header carries a JSON document.

Layout (the safetensors format, https://github.com/huggingface/safetensors)::

    8 bytes   little-endian u64 N, the length of the header
    N bytes   JSON header: one entry per array (dtype, shape, byte offsets)
              and "__metadata__", a string-to-string map holding
                "format"          "sklhash-model" or "sklhash-checkpoint"
                "format_version"  "1"
                "document"        the JSON document (see _codec)
                "document_sha256" SHA-256 of that string (UTF-8)
    rest      the arrays' bytes, back to back

The document lists the SHA-256 of every array, so a flipped bit anywhere in
the file is caught: in the header by the JSON parser or the document's
checksum, in the data by the array's checksum. Before anything is handed to
safetensors, every array's announced size is checked against the file's real
size, so a forged header cannot make the reader allocate more than the file
holds.
"""

import hashlib
import json
import math
import os
import struct

import numpy as np

from ..utils._io import atomic_write

__all__ = ["FORMAT_VERSION", "ModelFileError", "kind_of", "read", "write"]

FORMAT_VERSION = 1

# safetensors' dtype names and their item sizes in bytes.
_DTYPES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
# A header holds array descriptions and a JSON document of parameters: a few
# megabytes for the largest hierarchy. The cap bounds what a forged length
# field can make us read and parse.
_MAX_HEADER = 256 * 2**20


class ModelFileError(ValueError):
    """A file that is not a readable sklhash model or checkpoint.

    The message names the file and what is wrong with it.
    """


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _array_bytes(array):
    # The bytes safetensors stores: C order, little-endian.
    array = np.asarray(array, order="C")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array.tobytes()


def write(path, kind, document, arrays):
    """Write ``document`` (JSON-ready dict) and ``arrays`` to ``path`` atomically.

    The bytes go to a temporary file in the destination's folder, are
    flushed to disk (``fsync``) and renamed over ``path``; the folder is then
    synced so that the rename itself survives a crash. A failure at any
    point leaves the previous ``path`` (or nothing) in place.
    """
    from safetensors.numpy import save as st_save

    path = os.fspath(path)
    # safetensors stores little-endian, C-ordered bytes (np.asarray, not
    # np.ascontiguousarray, which turns a 0-d array into shape (1,)).
    arrays = {
        key: np.asarray(a, dtype=a.dtype.newbyteorder("<"), order="C")
        for key, a in arrays.items()
    }
    document = {
        **document,
        "arrays": {k: _sha256(_array_bytes(a)) for k, a in arrays.items()},
    }
    text = json.dumps(document, sort_keys=True, allow_nan=False, ensure_ascii=False)
    metadata = {
        "format": kind,
        "format_version": str(FORMAT_VERSION),
        "document": text,
        "document_sha256": _sha256(text.encode("utf-8")),
    }
    data = st_save(arrays, metadata=metadata)
    atomic_write(path, lambda fh: fh.write(data))
    _sync_folder(path)


def _sync_folder(path):
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename still happened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fail(path, message):
    raise ModelFileError(f"{path!r}: {message}")


def read(path, kind, *, what="sklhash model file"):
    """Read and check a file written by :func:`write`.

    Returns ``(document, arrays)``. Raises :class:`ModelFileError` (a
    ``ValueError``) naming the file for a missing path, a folder, a file of
    another kind or format version, a truncated or corrupt file.
    """
    from safetensors.numpy import load as st_load

    path = os.fspath(path)
    if os.path.isdir(path):
        _fail(path, f"is a folder, not a {what}.")
    if not os.path.exists(path):
        _fail(path, f"no such {what}.")
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 8:
            _fail(path, f"is not a {what}: {size} bytes, too short for a header.")
        (n_header,) = struct.unpack("<Q", fh.read(8))
        if n_header > min(size - 8, _MAX_HEADER):
            _fail(
                path,
                f"is not a {what}, or is truncated: its first 8 bytes announce a "
                f"header of {n_header} bytes but the file has {size} bytes.",
            )
        raw_header = fh.read(n_header)
        header = _parse_header(path, raw_header, what)
        metadata = header.pop("__metadata__", None)
        if not isinstance(metadata, dict) or metadata.get("format") not in (
            kind,
            *_OTHER_KINDS,
        ):
            _fail(
                path,
                f"is not a {what} (a safetensors file without sklhash's metadata?).",
            )
        if metadata["format"] != kind:
            _fail(path, f"is a {metadata['format']!r} file, not a {what}.")
        version = metadata.get("format_version")
        if version != str(FORMAT_VERSION):
            _fail(
                path,
                f"has format version {version}; this sklhash "
                f"reads format version {FORMAT_VERSION} only. Save it again with "
                "the sklhash that wrote it, or upgrade sklhash.",
            )
        text = metadata.get("document")
        if not isinstance(text, str) or _sha256(text.encode("utf-8")) != metadata.get(
            "document_sha256"
        ):
            _fail(path, "is corrupt: the checksum of its JSON document does not match.")
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            _fail(path, f"is corrupt: its JSON document does not parse ({exc}).")
        checksums = document.get("arrays") if isinstance(document, dict) else None
        if not isinstance(checksums, dict):
            _fail(path, "is corrupt: its document lists no array checksums.")
        data_size = size - 8 - n_header
        _check_layout(path, header, data_size, checksums)
        fh.seek(0)
        # Sizes are checked: reading the file allocates what it really holds.
        data = fh.read()
    if len(data) != size:
        _fail(path, "changed while it was read.")
    try:
        arrays = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        _fail(path, f"is corrupt: safetensors could not read it ({exc}).")
    for key, digest in checksums.items():
        if _sha256(_array_bytes(arrays[key])) != digest:
            _fail(path, f"is corrupt: the checksum of array {key!r} does not match.")
    return document, arrays


_OTHER_KINDS = ("sklhash-model", "sklhash-checkpoint")


def kind_of(path):
    """The ``format`` a file's header declares, or None (reads the header only)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 8:
                return None
            (n_header,) = struct.unpack("<Q", fh.read(8))
            if n_header > min(size - 8, _MAX_HEADER):
                return None
            header = json.loads(fh.read(n_header).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    kind = metadata.get("format") if isinstance(metadata, dict) else None
    return kind if isinstance(kind, str) else None


def _parse_header(path, raw, what):
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        _fail(path, f"is not a {what}, or is corrupt: its header is not JSON ({exc}).")
    if not isinstance(header, dict):
        _fail(path, f"is not a {what}: its header is not a JSON object.")
    return header


def _check_layout(path, header, data_size, checksums):
    """Every array's size is what its dtype and shape say, inside the file."""
    if set(header) != set(checksums):
        _fail(path, "is corrupt: its arrays do not match the document's list.")
    spans = []
    for key, entry in header.items():
        try:
            dtype, shape, (begin, end) = (
                entry["dtype"],
                entry["shape"],
                entry["data_offsets"],
            )
            ok = (
                dtype in _DTYPES
                and isinstance(shape, list)
                and all(isinstance(d, int) and d >= 0 for d in shape)
                and isinstance(begin, int)
                and isinstance(end, int)
            )
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            _fail(path, f"is corrupt: the header entry of array {key!r} is malformed.")
        # Python integers: a forged shape cannot overflow this product.
        n_bytes = math.prod(shape) * _DTYPES[dtype]
        if not 0 <= begin <= end <= data_size or end - begin != n_bytes:
            _fail(
                path,
                f"is corrupt or truncated: array {key!r} claims {n_bytes} bytes "
                f"(shape {shape}, {dtype}) at offsets {begin}..{end}, but the file "
                f"holds {data_size} bytes of array data.",
            )
        spans.append((begin, end))
    spans.sort()
    position = 0
    for begin, end in spans:
        if begin != position:
            _fail(path, "is corrupt: its arrays overlap or leave gaps.")
        position = end
    if position != data_size:
        _fail(
            path,
            f"is corrupt or truncated: its arrays cover {position} bytes but the "
            f"file holds {data_size}.",
        )
