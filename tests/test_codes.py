"""Property tests of the packed-code helpers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklhash.codes import hamming_distances, n_bytes, pack_codes, unpack_codes


@st.composite
def bit_matrices(draw, max_rows=12, max_bits=130):
    n = draw(st.integers(1, max_rows))
    k = draw(st.integers(1, max_bits))
    return draw(arrays(np.bool_, (n, k)))


@given(bit_matrices())
def test_pack_unpack_round_trip(bits):
    codes = pack_codes(bits)
    assert codes.dtype == np.uint8
    assert codes.shape == (bits.shape[0], n_bytes(bits.shape[1]))
    np.testing.assert_array_equal(unpack_codes(codes, bits.shape[1]), bits)
    # Padding bits are zero.
    full = np.unpackbits(codes, axis=1)
    assert not full[:, bits.shape[1] :].any()


@given(bit_matrices())
def test_bit_zero_is_msb_of_byte_zero(bits):
    codes = pack_codes(bits)
    np.testing.assert_array_equal((codes[:, 0] >> 7) & 1, bits[:, 0])


@given(bit_matrices(), st.data())
def test_hamming_is_count_of_differing_bits(a_bits, data):
    b_bits = data.draw(
        arrays(np.bool_, (data.draw(st.integers(1, 9)), a_bits.shape[1]))
    )
    a, b = pack_codes(a_bits), pack_codes(b_bits)
    expected = (a_bits[:, None, :] != b_bits[None, :, :]).sum(axis=2)
    d = hamming_distances(a, b)
    assert d.dtype == np.int32
    np.testing.assert_array_equal(d, expected)
    np.testing.assert_array_equal(hamming_distances(a, b, chunk_size=1), expected)


@given(bit_matrices())
def test_hamming_is_a_metric(bits):
    codes = pack_codes(bits)
    d = hamming_distances(codes)
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0)
    assert (d >= 0).all() and (d <= bits.shape[1]).all()
    # Triangle inequality over all triples.
    assert (d[:, None, :] <= d[:, :, None] + d[None, :, :]).all()


def test_real_values_thresholded_strictly_at_zero():
    values = np.array([[0.0, -0.0, 1e-30, -1e-30]])
    np.testing.assert_array_equal(unpack_codes(pack_codes(values), 4), [[0, 0, 1, 0]])


def test_non_contiguous_codes():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(7, 16), dtype=np.uint8)[:, ::2]
    expected = (
        np.unpackbits(codes, axis=1)[:, None] != np.unpackbits(codes, axis=1)[None]
    ).sum(2)
    np.testing.assert_array_equal(hamming_distances(codes), expected)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: unpack_codes(np.zeros((2, 2), np.uint8), 17), "n_bits=17"),
        (lambda: unpack_codes(np.zeros((2, 2), np.uint8), 8), "n_bits=8"),
        (lambda: unpack_codes(np.zeros((2, 2), np.int64), 16), "uint8"),
        (lambda: unpack_codes(np.zeros(2, np.uint8), 8), "2-d"),
        (
            lambda: hamming_distances(
                np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8)
            ),
            "same code width",
        ),
        (lambda: pack_codes(np.zeros(3)), "2-d"),
        (lambda: pack_codes(np.array([["a"]])), "boolean or numeric"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
