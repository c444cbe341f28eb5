"""Packed binary codes: packing, unpacking and Hamming distances.

Every hasher in sklhash returns codes in one layout: ``np.uint8`` rows of
``ceil(n_bits / 8)`` bytes, packed with :func:`numpy.packbits` along axis 1 in
numpy's default ("big") bit order, so bit 0 is the most significant bit of
byte 0. Padding bits at the end of the last byte are always 0. FAISS's binary
indexes use the opposite order inside a byte; sklhash converts only at that
boundary.
"""

import numpy as np

__all__ = ["pack_codes", "unpack_codes", "hamming_distances", "n_bytes"]


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


def _check_packed(codes, name):
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-d array of packed codes, got an array of "
            f"shape {codes.shape}."
        )
    if codes.dtype != np.uint8:
        raise ValueError(
            f"{name} must have dtype uint8 (packed codes from transform), got "
            f"dtype {codes.dtype}."
        )
    return codes


def pack_codes(bits):
    """Pack a binary matrix into sklhash codes.

    Parameters
    ----------
    bits : array-like of shape (n_samples, n_bits)
        Boolean matrix, or real values thresholded at 0: an entry is a 1-bit
        when it is strictly positive (so an exact 0 is a 0-bit, never a third
        state).

    Returns
    -------
    codes : ndarray of shape (n_samples, ceil(n_bits / 8)), dtype uint8
        Packed codes, numpy bit order, zero padding.

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
    codes = _check_packed(codes, "codes")
    if isinstance(n_bits, bool) or not isinstance(n_bits, (int, np.integer)):
        raise ValueError(f"n_bits must be an int, got {n_bits!r}.")
    if n_bits < 1 or n_bytes(n_bits) != codes.shape[1]:
        raise ValueError(
            f"n_bits={n_bits} does not fit codes of {codes.shape[1]} bytes "
            f"(expected {8 * codes.shape[1] - 7} to {8 * codes.shape[1]} bits)."
        )
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
    a = _check_packed(a, "a")
    b = a if b is None else _check_packed(b, "b")
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
