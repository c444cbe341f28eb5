"""Packed binary codes: packing, unpacking and Hamming distances.

Every hasher in sklhash returns codes in one layout: ``np.uint8`` rows of
``ceil(n_bits / 8)`` bytes, packed with :func:`numpy.packbits` along axis 1 in
numpy's default ("big") bit order, so bit 0 is the most significant bit of
byte 0. Padding bits at the end of the last byte are always 0. FAISS's binary
indexes use the opposite order inside a byte; sklhash converts only at that
boundary.
"""

import numpy as np

__all__ = [
    "check_codes",
    "hamming_distances",
    "n_bytes",
    "pack_codes",
    "unpack_codes",
]


def n_bytes(n_bits):
    """Number of bytes a packed code of ``n_bits`` bits occupies.

    Parameters
    ----------
    n_bits : int
        Number of bits, at least 1.

    Returns
    -------
    int
        ``ceil(n_bits / 8)``.
    """
    return (int(n_bits) + 7) // 8


def check_codes(codes, *, n_bits=None, input_name="codes"):
    """Check that an array holds packed sklhash codes, and return it.

    The one validator of packed codes: the index, the metrics, the code
    helpers and the command line all call it, so a wrong array gets the
    same message everywhere. Nothing is converted: an array of another
    dtype is refused, not cast (casting floats or wider integers to bytes
    would silently give other codes).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_bytes)
        Packed codes as returned by a hasher's ``transform`` or by
        :func:`pack_codes`: dtype ``uint8``, numpy bit order.
    n_bits : int, default=None
        Code length the codes must have. When given, the width must be
        ``ceil(n_bits / 8)`` bytes and the padding bits beyond ``n_bits``
        in the last byte must be 0 (as :func:`pack_codes` writes them).
    input_name : str, default="codes"
        Name of the argument, used in error messages.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_bytes), dtype uint8
        The codes, C-contiguous (a copy only when the input was not).

    Raises
    ------
    ValueError
        When ``codes`` is not 2-d, not ``uint8``, has no byte per row, or
        does not match ``n_bits``; the message names ``input_name``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.codes import check_codes
    >>> check_codes(np.array([[0b1010_0000]], dtype=np.uint8), n_bits=4)
    array([[160]], dtype=uint8)
    >>> check_codes(np.array([[0b1010_1000]], dtype=np.uint8), n_bits=4)
    Traceback (most recent call last):
    ...
    ValueError: codes have non-zero padding bits beyond n_bits=4 ...
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(
            f"{input_name} must be a 2-d array of packed codes (n_samples, "
            f"n_bytes), got an array of shape {codes.shape}."
        )
    if codes.dtype != np.uint8:
        raise ValueError(
            f"{input_name} must have dtype uint8 (packed codes from transform "
            f"or pack_codes), got dtype {codes.dtype}."
        )
    if codes.shape[1] < 1:
        raise ValueError(
            f"{input_name} must have at least one byte per code, got shape "
            f"{codes.shape}."
        )
    if n_bits is not None:
        if (
            isinstance(n_bits, bool)
            or not isinstance(n_bits, (int, np.integer))
            or n_bits < 1
        ):
            raise ValueError(f"n_bits must be an int >= 1, got n_bits={n_bits!r}.")
        width = n_bytes(n_bits)
        if codes.shape[1] != width:
            raise ValueError(
                f"{input_name} are codes of {codes.shape[1]} bytes but codes of "
                f"{width} bytes are expected (n_bits={n_bits}); encode them "
                "with the same hasher."
            )
        pad = 8 * width - int(n_bits)
        if pad and codes.shape[0] and (codes[:, -1] & ((1 << pad) - 1)).any():
            raise ValueError(
                f"{input_name} have non-zero padding bits beyond n_bits={n_bits} "
                "(packed codes from transform / pack_codes always pad with 0); "
                "are these codes of another length?"
            )
    return np.ascontiguousarray(codes)


def pack_codes(bits):
    """Pack a binary matrix into sklhash codes.

    Parameters
    ----------
    bits : array-like of shape (n_samples, n_bits)
        Boolean matrix, or real values thresholded at 0: an entry is a 1-bit
        when it is strictly positive (so an exact 0 is a 0-bit, never a third
        state). NaN and infinity are refused: they are not a sign.

    Returns
    -------
    codes : ndarray of shape (n_samples, ceil(n_bits / 8)), dtype uint8
        Packed codes, numpy bit order, zero padding.

    Raises
    ------
    ValueError
        When ``bits`` is not 2-d, not boolean or real, or holds NaN or
        infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.codes import pack_codes
    >>> pack_codes(np.array([[1.0, -1.0, 0.0, 2.0, 1, 1, 1, 1, 1]]))
    array([[159, 128]], dtype=uint8)
    """
    bits = np.asarray(bits)
    if bits.ndim != 2:
        raise ValueError(
            f"bits must be a 2-d array (n_samples, n_bits), got shape {bits.shape}."
        )
    if bits.dtype != bool:
        if not np.issubdtype(bits.dtype, np.number):
            raise ValueError(f"bits must be boolean or numeric, got {bits.dtype}.")
        if np.issubdtype(bits.dtype, np.complexfloating):
            raise ValueError(f"bits must be real, got dtype {bits.dtype}.")
        if np.issubdtype(bits.dtype, np.inexact):
            # NaN > 0 is False: a diverged model would otherwise get all-zero
            # codes and no error (issue 17).
            bad = ~np.isfinite(bits)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                raise ValueError(
                    f"bits must be finite, got {bits[row, col]} at row {row}, "
                    f"column {col} ({int(bad.sum())} non-finite entries in all)."
                )
        bits = bits > 0
    return np.packbits(bits, axis=1)


def unpack_codes(codes, n_bits):
    """Unpack sklhash codes into a 0/1 matrix.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_bytes), dtype uint8
        Packed codes as returned by ``transform``.
    n_bits : int
        Number of meaningful bits per code; the padding bits are dropped.

    Returns
    -------
    bits : ndarray of shape (n_samples, n_bits), dtype uint8
        The bits, 0 or 1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.codes import unpack_codes
    >>> unpack_codes(np.array([[159, 128]], dtype=np.uint8), 9)
    array([[1, 0, 0, 1, 1, 1, 1, 1, 1]], dtype=uint8)
    """
    codes = check_codes(codes, n_bits=n_bits)
    return np.unpackbits(codes, axis=1, count=int(n_bits))


def _as_words(codes):
    """View packed codes as uint64 words, zero-padding each row as needed."""
    n, width = codes.shape
    n_words = (width + 7) // 8
    if width == 8 * n_words and codes.flags.c_contiguous:
        return codes.view(np.uint64)
    padded = np.zeros((n, 8 * n_words), dtype=np.uint8)
    padded[:, :width] = codes
    return padded.view(np.uint64)


def hamming_distances(a, b=None, *, chunk_size=None):
    """Hamming distances between two sets of packed codes.

    Parameters
    ----------
    a : ndarray of shape (n_a, n_bytes), dtype uint8
        Packed query codes.
    b : ndarray of shape (n_b, n_bytes), dtype uint8, default=None
        Packed database codes; ``None`` means ``a`` itself.
    chunk_size : int, default=None
        Number of rows of ``a`` processed at once (bounds the temporary
        memory to ``chunk_size * n_b`` words); ``None`` picks one.

    Returns
    -------
    distances : ndarray of shape (n_a, n_b), dtype int32
        Number of differing bits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.codes import hamming_distances
    >>> a = np.array([[0b10110000], [0b00000000]], dtype=np.uint8)
    >>> hamming_distances(a)
    array([[0, 3],
           [3, 0]], dtype=int32)
    """
    a = check_codes(a, input_name="a")
    b = a if b is None else check_codes(b, input_name="b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have the same code width, got {a.shape[1]} and "
            f"{b.shape[1]} bytes."
        )
    wa, wb = _as_words(a), _as_words(b)
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.int32)
    if chunk_size is None:
        # Keep the (chunk, n_b, n_words) temporary near 32 MiB.
        chunk_size = max(1, (1 << 22) // max(1, b.shape[0] * wa.shape[1]))
    for start in range(0, a.shape[0], chunk_size):
        stop = min(start + chunk_size, a.shape[0])
        if wa.shape[1] == 1:
            # Codes of up to 64 bits: one word, no reduction over words (a
            # third of the cost otherwise).
            out[start:stop] = np.bitwise_count(np.bitwise_xor(wa[start:stop], wb[:, 0]))
            continue
        xor = np.bitwise_xor(wa[start:stop, None, :], wb[None, :, :])
        out[start:stop] = np.bitwise_count(xor).sum(axis=2, dtype=np.int32)
    return out
