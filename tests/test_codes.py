"""Property tests of the packed-code helpers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklhash.codes import (
    check_codes,
    hamming_distances,
    n_bytes,
    pack_codes,
    unpack_codes,
)


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


# -- check_codes: the one validator of packed codes ------------------------------


@given(bit_matrices())
def test_check_codes_accepts_every_packed_code(bits):
    codes = pack_codes(bits)
    out = check_codes(codes, n_bits=bits.shape[1])
    np.testing.assert_array_equal(out, codes)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    # Without n_bits only the layout is checked.
    np.testing.assert_array_equal(check_codes(codes), codes)


@given(bit_matrices(), st.data())
def test_check_codes_refuses_dirty_padding(bits, data):
    n_bits = bits.shape[1]
    pad = 8 * n_bytes(n_bits) - n_bits
    codes = pack_codes(bits)
    if pad == 0:
        # No padding: one more bit claimed than the width holds is refused.
        with pytest.raises(ValueError, match=f"n_bits={n_bits + 1}"):
            check_codes(codes, n_bits=n_bits + 1)
        return
    row = data.draw(st.integers(0, codes.shape[0] - 1))
    bit = data.draw(st.integers(0, pad - 1))
    codes[row, -1] |= np.uint8(1 << bit)
    match = f"my_codes have non-zero padding.*n_bits={n_bits}"
    with pytest.raises(ValueError, match=match):
        check_codes(codes, n_bits=n_bits, input_name="my_codes")
    # The same bytes are valid codes of the full width.
    check_codes(codes, n_bits=8 * n_bytes(n_bits))


@given(
    arrays(
        st.sampled_from([np.int8, np.int64, np.uint16, np.float32, np.float64, bool]),
        st.tuples(st.integers(1, 4), st.integers(1, 4)),
    )
)
def test_check_codes_never_casts(codes):
    match = f"x must have dtype uint8.*got dtype {codes.dtype}"
    with pytest.raises(ValueError, match=match):
        check_codes(codes, input_name="x")


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2), ()])
def test_check_codes_refuses_other_ranks(shape):
    with pytest.raises(ValueError, match=f"q must be a 2-d array.*{shape}"):
        check_codes(np.zeros(shape, np.uint8), input_name="q")


@pytest.mark.parametrize("n_bits", [0, -3, 2.5, True, "8"])
def test_check_codes_refuses_bad_n_bits(n_bits):
    with pytest.raises(ValueError, match="n_bits must be an int >= 1"):
        check_codes(np.zeros((1, 1), np.uint8), n_bits=n_bits)


def test_check_codes_refuses_zero_width():
    with pytest.raises(ValueError, match="at least one byte"):
        check_codes(np.zeros((3, 0), np.uint8))


# -- pack_codes refuses what is not a sign -----------------------------------------


@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 20)),
           elements=st.floats(-5, 5)),
    st.sampled_from([np.nan, np.inf, -np.inf]),
    st.data(),
)
def test_pack_codes_refuses_non_finite(values, bad, data):
    row = data.draw(st.integers(0, values.shape[0] - 1))
    col = data.draw(st.integers(0, values.shape[1] - 1))
    values[row, col] = bad
    match = f"bits must be finite.*row {row}, column {col}"
    for dtype in (np.float64, np.float32, np.float16):
        with pytest.raises(ValueError, match=match):
            pack_codes(values.astype(dtype))
