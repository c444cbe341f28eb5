"""Bit order at the database boundary.

sklhash codes are numpy ``packbits`` rows: bit 0 is the most significant bit
of byte 0 and the padding bits at the end of the last byte are 0. The two
databases keep that order:

* PostgreSQL ``bit(n)``: the string's first character is bit 0, and the
  binary wire format (``COPY ... (FORMAT BINARY)``, ``varbit_send``) is a
  32-bit length followed by the bits packed most significant first, i.e.
  exactly the packed row. The text form ``'1001...'`` is ``unpackbits``.
* DuckDB ``UBIGINT`` words: the packed row, zero-padded to a multiple of 8
  bytes, read as big-endian 64-bit integers. Word 0's highest bit is bit 0,
  so ``bin(w0)`` reads like the code; padding stays 0 and never counts in
  ``bit_count(xor(a, b))``.

Bit-order slips at this boundary are a known bug class (pgvector-python
#84/#110, sentence-transformers #3948); the round trips are tested for
widths 1 to 256.
"""

import struct

import numpy as np

from ..codes import n_bytes

# PostgreSQL's binary COPY header: signature, flags, header extension length.
PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0)
PG_COPY_TRAILER = struct.pack(">h", -1)


def n_words(n_bits):
    """Number of 64-bit words a code of ``n_bits`` bits spans."""
    return (int(n_bits) + 63) // 64


def codes_to_words(codes):
    """Packed codes to big-endian ``uint64`` words, shape (n, n_words)."""
    n, width = codes.shape
    padded = np.zeros((n, 8 * ((width + 7) // 8)), dtype=np.uint8)
    padded[:, :width] = codes
    return padded.view(">u8").astype(np.uint64)


def words_to_codes(words, n_bits):
    """Inverse of :func:`codes_to_words` for codes of ``n_bits`` bits."""
    words = np.ascontiguousarray(words, dtype=np.uint64)
    raw = words.astype(">u8").view(np.uint8).reshape(words.shape[0], 8 * words.shape[1])
    return np.ascontiguousarray(raw[:, : n_bytes(n_bits)])


def codes_to_bitstrings(codes, n_bits):
    """Packed codes to PostgreSQL bit-string literals (``'0110...'``)."""
    bits = np.unpackbits(codes, axis=1, count=int(n_bits)) + ord("0")
    return [row.tobytes().decode("ascii") for row in bits]


def bitstrings_to_codes(strings, n_bits):
    """PostgreSQL bit strings (``'0110...'``) to packed codes."""
    n_bits = int(n_bits)
    if not strings:
        return np.zeros((0, n_bytes(n_bits)), dtype=np.uint8)
    raw = np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8)
    bits = (raw - ord("0")).reshape(len(strings), n_bits)
    return np.packbits(bits, axis=1)


def pg_copy_rows(ids, codes, n_bits, metadata=None):
    """Rows of a binary ``COPY (id, code[, metadata])`` stream, no header.

    Parameters
    ----------
    ids : ndarray of shape (n,), dtype int64
        Row ids.
    codes : ndarray of shape (n, ceil(n_bits / 8)), dtype uint8
        Packed codes, already checked.
    n_bits : int
        Code length, the ``bit(n)`` length written before each code.
    metadata : list of bytes or None, default=None
        UTF-8 JSON text per row (``None`` entries for SQL NULL); ``None``
        means the stream has two columns.

    Returns
    -------
    bytes
        The rows, ready for ``copy.write`` between the header and trailer.
    """
    n, width = codes.shape
    if metadata is None:
        # Every row has the same layout: build them all at once.
        row = np.dtype(
            [
                ("n_fields", ">i2"),
                ("id_len", ">i4"),
                ("id", ">i8"),
                ("code_len", ">i4"),
                ("n_bits", ">i4"),
                ("code", np.uint8, (width,)),
            ]
        )
        rows = np.empty(n, dtype=row)
        rows["n_fields"] = 2
        rows["id_len"] = 8
        rows["id"] = ids
        rows["code_len"] = 4 + width
        rows["n_bits"] = n_bits
        rows["code"] = codes
        return rows.tobytes()
    fixed = struct.Struct(f">hiqii{width}s")
    parts = []
    for i in range(n):
        parts.append(
            fixed.pack(3, 8, int(ids[i]), 4 + width, n_bits, codes[i].tobytes())
        )
        doc = metadata[i]
        if doc is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            # jsonb's binary input: a version byte (1), then the JSON text.
            parts.append(struct.pack(">iB", len(doc) + 1, 1) + doc)
    return b"".join(parts)
