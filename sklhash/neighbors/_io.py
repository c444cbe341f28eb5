"""The on-disk format of a :class:`~sklhash.neighbors.HammingIndex`.

Version 2, all integers little-endian::

    offset  size  field
    0       8     magic    b"SKLHIDX\\0"
    8       4     version  uint32, 2
    12      4     n_bits   uint32, >= 1
    16      8     n_codes  uint64
    24      32    sha256   SHA-256 of bytes 0..23 followed by the codes
    56      ...   codes    n_codes * ceil(n_bits / 8) bytes, row after row,
                           sklhash bit order (numpy packbits, padding bits 0)

The file is exactly ``56 + n_codes * ceil(n_bits / 8)`` bytes long. The
checksum covers the header fields and every code, so any changed byte (a
flipped bit on disk, a bad copy) is reported when the file is read instead of
silently changing search results. Nothing else is stored: the backend is a
search-time choice, not part of the data.

Version 1 (sklhash before the checksum: the same without the ``sha256``
field, codes at offset 24) is still read, with no integrity check possible.
"""

import hashlib
import os
import struct

import numpy as np

from ..utils._io import atomic_write

MAGIC = b"SKLHIDX\0"
VERSION = 2
_FIELDS = struct.Struct("<8sIIQ")
_DIGEST_SIZE = hashlib.sha256().digest_size
HEADER_SIZE = _FIELDS.size + _DIGEST_SIZE
_HEADER_SIZES = {1: _FIELDS.size, 2: HEADER_SIZE}


def _digest(fields, codes):
    h = hashlib.sha256(fields)
    h.update(memoryview(np.ascontiguousarray(codes, dtype=np.uint8)).cast("B"))
    return h.digest()


def write(path, codes, n_bits):
    """Write atomically: a failure leaves the destination untouched."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    fields = _FIELDS.pack(MAGIC, VERSION, int(n_bits), int(codes.shape[0]))
    digest = _digest(fields, codes)

    def _write(f):
        f.write(fields)
        f.write(digest)
        f.write(memoryview(codes).cast("B"))

    atomic_write(path, _write)


def read(path):
    """Read and check a file; returns ``(codes, n_bits)``.

    Raises
    ------
    ValueError
        When the file is not a sklhash index, has an unknown version, its
        size does not match its header, or its checksum does not match its
        contents; the message names the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        fields = f.read(_FIELDS.size)
        if len(fields) < _FIELDS.size or fields[:8] != MAGIC:
            raise ValueError(
                f"{path!r} is not a sklhash HammingIndex file (expected the "
                f"magic bytes {MAGIC!r} at its start)."
            )
        _, version, n_bits, n_codes = _FIELDS.unpack(fields)
        if version not in _HEADER_SIZES:
            raise ValueError(
                f"{path!r} is a HammingIndex file of format version {version}; "
                f"this sklhash reads versions {sorted(_HEADER_SIZES)}."
            )
        if n_bits < 1:
            raise ValueError(f"{path!r} has an invalid header: n_bits={n_bits}.")
        header_size = _HEADER_SIZES[version]
        width = (n_bits + 7) // 8
        expected = header_size + n_codes * width
        size = os.fstat(f.fileno()).st_size
        if size != expected:
            # Checked before reading anything more, so a header announcing
            # huge sizes allocates nothing.
            raise ValueError(
                f"{path!r} is truncated or corrupt: its header announces "
                f"{n_codes} codes of {n_bits} bits ({expected} bytes in all) "
                f"but the file has {size} bytes."
            )
        stored = f.read(header_size - _FIELDS.size)
        codes = np.fromfile(f, dtype=np.uint8, count=n_codes * width)
    if version >= 2 and _digest(fields, codes) != stored:
        raise ValueError(
            f"{path!r} is corrupt: its SHA-256 checksum does not match its "
            "contents (the file changed after it was saved); refusing to "
            "load it."
        )
    return codes.reshape(n_codes, width), int(n_bits)
