"""Argument checks shared by the database indexes.

Every value that reaches SQL goes through here first: ids must be integers
that fit ``bigint``, metadata must be JSON, table names are non-empty text
that the database will not truncate. Nothing is coerced silently; a bad
value is a ``ValueError`` naming the argument and the value.
"""

import json
import math
from numbers import Integral, Real

import numpy as np

# PostgreSQL truncates identifiers longer than 63 bytes (NAMEDATALEN - 1);
# refusing them keeps "table" meaning exactly the table used.
MAX_IDENTIFIER_BYTES = 63


def check_table(table):
    """A table name, returned unchanged, or ValueError."""
    if not isinstance(table, str) or not table:
        raise ValueError(f"table must be a non-empty string, got table={table!r}.")
    if "\x00" in table:
        raise ValueError(f"table must not contain NUL characters, got table={table!r}.")
    if len(table.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ValueError(
            f"table must be at most {MAX_IDENTIFIER_BYTES} bytes long (PostgreSQL "
            f"would truncate it), got table={table!r}."
        )
    return table


def check_n_bits(n_bits, name="n_bits"):
    """``None`` or a positive int."""
    if n_bits is None:
        return None
    if isinstance(n_bits, bool) or not isinstance(n_bits, Integral) or n_bits < 1:
        raise ValueError(f"{name} must be an int >= 1 or None, got {name}={n_bits!r}.")
    return int(n_bits)


def check_ids(ids, n, name="ids"):
    """A 1-d int64 array of ``n`` distinct ids (``n=None``: any length)."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-d array of integers, got shape {arr.shape}."
        )
    if arr.size and arr.dtype.kind not in "iu":
        # No float or string ids: 1.5 or "7; DROP TABLE" is refused, not cast.
        raise ValueError(
            f"{name} must be integers, got dtype {arr.dtype} (first value {arr[0]!r})."
        )
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"{name} must have one id per code: got {arr.shape[0]} ids for {n} codes."
        )
    if arr.size and arr.dtype.kind == "u" and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(
            f"{name} must fit a signed 64-bit integer (bigint), got {arr.max()}."
        )
    arr = arr.astype(np.int64)
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"{name} must be distinct, got duplicates {uniq[counts > 1][:5].tolist()}."
        )
    return arr


def encode_metadata(metadata, n):
    """Per-row UTF-8 JSON text (``None`` for no metadata), or ValueError."""
    if metadata is None:
        return None
    if isinstance(metadata, (str, bytes, dict)) or not hasattr(metadata, "__len__"):
        raise ValueError(
            "metadata must be a sequence with one JSON-serialisable value (or "
            f"None) per code, got {type(metadata).__name__}."
        )
    if len(metadata) != n:
        raise ValueError(
            f"metadata must have one entry per code: got {len(metadata)} entries "
            f"for {n} codes."
        )
    out = []
    for i, doc in enumerate(metadata):
        if doc is None:
            out.append(None)
            continue
        try:
            # allow_nan=False: NaN/Infinity are not JSON, jsonb rejects them.
            text = json.dumps(doc, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"metadata[{i}] is not JSON-serialisable: {exc} (value {doc!r})."
            ) from None
        if "\\u0000" in text:
            raise ValueError(
                f"metadata[{i}] contains a NUL character, which PostgreSQL's "
                "jsonb cannot store."
            )
        out.append(text.encode("utf-8"))
    return out


def check_n_neighbors(n_neighbors):
    """A positive int."""
    if (
        isinstance(n_neighbors, bool)
        or not isinstance(n_neighbors, Integral)
        or n_neighbors < 1
    ):
        raise ValueError(
            f"n_neighbors must be a positive integer, got n_neighbors={n_neighbors!r}."
        )
    return int(n_neighbors)


def check_radius(radius):
    """A finite radius >= 0, floored (Hamming distances are integers)."""
    if (
        isinstance(radius, bool)
        or not isinstance(radius, Real)
        or not math.isfinite(radius)
        or radius < 0
    ):
        raise ValueError(f"radius must be a finite number >= 0, got radius={radius!r}.")
    return int(math.floor(radius))
