"""The on-disk format of a :class:`~sklhash.neighbors.HammingIndex`.

Version 1, all integers little-endian::

    offset  size  field
    0       8     magic   b"SKLHIDX\\0"
    8       4     version uint32, 1
    12      4     n_bits  uint32, >= 1
    16      8     n_codes uint64
    24      ...   codes   n_codes * ceil(n_bits / 8) bytes, row after row,
                          sklhash bit order (numpy packbits, padding bits 0)

The file is exactly ``24 + n_codes * ceil(n_bits / 8)`` bytes long. Nothing
else is stored: the backend is a search-time choice, not part of the data.
"""

import os
import struct

import numpy as np

from ..utils._io import atomic_write

MAGIC = b"SKLHIDX\0"
VERSION = 1
_HEADER = struct.Struct("<8sIIQ")
HEADER_SIZE = _HEADER.size


def write(path, codes, n_bits):
    """Write atomically: a failure leaves the destination untouched."""

    def _write(f):
        f.write(_HEADER.pack(MAGIC, VERSION, int(n_bits), int(codes.shape[0])))
        f.write(np.ascontiguousarray(codes, dtype=np.uint8).tobytes())

    atomic_write(path, _write)


def read(path):
    """Read and check a file; returns ``(codes, n_bits)``.

    Raises
    ------
    ValueError
        When the file is not a sklhash index, has another version, or its
        size does not match its header; the message names the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        header = f.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE or header[:8] != MAGIC:
            raise ValueError(
                f"{path!r} is not a sklhash HammingIndex file (expected the "
                f"magic bytes {MAGIC!r} at its start)."
            )
        _, version, n_bits, n_codes = _HEADER.unpack(header)
        if version != VERSION:
            raise ValueError(
                f"{path!r} is a HammingIndex file of format version {version}; "
                f"this sklhash reads version {VERSION}."
            )
        if n_bits < 1:
            raise ValueError(f"{path!r} has an invalid header: n_bits={n_bits}.")
        width = (n_bits + 7) // 8
        expected = HEADER_SIZE + n_codes * width
        size = os.fstat(f.fileno()).st_size
        if size != expected:
            raise ValueError(
                f"{path!r} is truncated or corrupt: its header announces "
                f"{n_codes} codes of {n_bits} bits ({expected} bytes in all) "
                f"but the file has {size} bytes."
            )
        codes = np.fromfile(f, dtype=np.uint8, count=n_codes * width)
    return codes.reshape(n_codes, width), int(n_bits)
