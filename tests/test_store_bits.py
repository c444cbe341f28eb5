"""Bit order at the database boundary, without a database."""

import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sklhash.codes import pack_codes
from sklhash.store._bits import (
    PG_COPY_HEADER,
    bitstrings_to_codes,
    codes_to_bitstrings,
    codes_to_words,
    pg_copy_rows,
    words_to_codes,
)

WIDTHS = [1, 7, 8, 63, 64, 65, 256]


@given(n_bits=st.sampled_from(WIDTHS), n=st.integers(0, 6), seed=st.integers(0, 99))
def test_round_trips(n_bits, n, seed):
    bits = np.random.default_rng(seed).integers(0, 2, size=(n, n_bits))
    codes = pack_codes(bits)
    words = codes_to_words(codes)
    assert words.dtype == np.uint64 and words.shape == (n, (n_bits + 63) // 64)
    assert np.array_equal(words_to_codes(words, n_bits), codes)
    strings = codes_to_bitstrings(codes, n_bits)
    assert strings == ["".join(map(str, row)) for row in bits]
    assert np.array_equal(bitstrings_to_codes(strings, n_bits), codes)
    # Popcounts of XORed words are Hamming distances: padding never counts.
    if n:
        xor = np.bitwise_xor(words[:, None, :], words[None, :, :])
        expected = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
        assert np.array_equal(np.bitwise_count(xor).sum(axis=2), expected)


def test_bit_zero_is_the_top_bit_of_word_zero():
    code = pack_codes(np.array([[1] + [0] * 64]))  # 65 bits, only bit 0 set
    assert codes_to_words(code).tolist() == [[1 << 63, 0]]
    code = pack_codes(np.array([[0] * 64 + [1]]))  # only bit 64 set
    assert codes_to_words(code).tolist() == [[0, 1 << 63]]


def test_pg_copy_rows_layout():
    # The binary COPY row: field count, then (length, value) per field; the
    # bit value is its length in bits followed by the packed bytes.
    codes = np.array([[0b1001_1111, 0b1000_0000]], dtype=np.uint8)
    row = pg_copy_rows(np.array([7]), codes, 9)
    assert row == struct.pack(">hiqiiBB", 2, 8, 7, 6, 9, 0b1001_1111, 0b1000_0000)
    with_meta = pg_copy_rows(np.array([7, 8]), np.repeat(codes, 2, 0), 9, [b"{}", None])
    assert with_meta == (
        struct.pack(">hiqiiBB", 3, 8, 7, 6, 9, 0b1001_1111, 0b1000_0000)
        + struct.pack(">iB", 3, 1)
        + b"{}"
        + struct.pack(">hiqiiBB", 3, 8, 8, 6, 9, 0b1001_1111, 0b1000_0000)
        + struct.pack(">i", -1)
    )
    assert PG_COPY_HEADER.startswith(b"PGCOPY\n\xff\r\n\0")
