"""HammingIndex: every backend against brute force, persistence, validation."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from sklhash.codes import hamming_distances, pack_codes, unpack_codes
from sklhash.neighbors import HammingIndex, _faiss, _io, _mih, _numpy

# faiss-cpu is an optional extra: its backend is tested where it is installed.
needs_faiss = pytest.mark.skipif(
    not _faiss.faiss_available(), reason="the optional faiss-cpu is not installed"
)
BACKENDS = ["numpy", pytest.param("faiss", marks=needs_faiss), "mih", "auto"]


def brute_knn(queries, db, k):
    d = hamming_distances(queries, db)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, axis=1), order


def brute_radius(queries, db, radius):
    d = hamming_distances(queries, db)
    out = []
    for row in d:
        hits = np.flatnonzero(row <= radius)
        hits = hits[np.argsort(row[hits], kind="stable")]
        out.append((row[hits], hits))
    return out


def random_codes(rng, n, n_bits, p=0.5):
    return pack_codes(rng.random((n, n_bits)) < p)


@st.composite
def search_problems(draw, max_codes=40, max_bits=130):
    """Database and queries with many duplicates and ties, any bit count."""
    n_bits = draw(st.integers(1, max_bits))
    n = draw(st.integers(1, max_codes))
    n_distinct = draw(st.integers(1, n))
    p = draw(st.sampled_from([0.5, 0.1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pool = random_codes(rng, n_distinct, n_bits, p)
    db = pool[rng.integers(0, n_distinct, n)]
    n_queries = draw(st.integers(1, 5))
    queries = np.concatenate(
        [pool[rng.integers(0, n_distinct, n_queries)], random_codes(rng, 2, n_bits, p)]
    )
    return db, queries, n_bits


def assert_ragged_equal(got, expected):
    dist, ind = got
    assert len(dist) == len(ind) == len(expected)
    for d, i, (ed, ei) in zip(dist, ind, expected, strict=True):
        assert d.dtype == np.int32 and i.dtype == np.int64
        np.testing.assert_array_equal(i, ei)
        np.testing.assert_array_equal(d, ed)


# -- every backend equals brute force ------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@given(problem=search_problems(), data=st.data())
def test_kneighbors_equals_brute_force(backend, problem, data):
    db, queries, n_bits = problem
    k = data.draw(st.integers(1, db.shape[0]))
    index = HammingIndex(backend, n_bits=n_bits, n_jobs=1).fit(db)
    dist, ind = index.kneighbors(queries, n_neighbors=k)
    expected_dist, expected_ind = brute_knn(queries, db, k)
    assert dist.dtype == np.int32 and ind.dtype == np.int64
    np.testing.assert_array_equal(ind, expected_ind)
    np.testing.assert_array_equal(dist, expected_dist)


@pytest.mark.parametrize("backend", BACKENDS)
@given(problem=search_problems(), data=st.data())
def test_radius_neighbors_equals_brute_force(backend, problem, data):
    db, queries, n_bits = problem
    radius = data.draw(st.integers(0, n_bits))
    index = HammingIndex(backend, n_bits=n_bits, n_jobs=1).fit(db)
    expected = brute_radius(queries, db, radius)
    assert_ragged_equal(index.radius_neighbors(queries, radius), expected)
    # A real radius means d <= radius.
    assert_ragged_equal(index.radius_neighbors(queries, radius + 0.5), expected)


@given(problem=search_problems(max_codes=300), data=st.data())
def test_numpy_streaming_and_threads_equal_brute_force(problem, data):
    # Tiny blocks and database ranges force the multi-block merge and the
    # split of a query chunk over threads, which small inputs never reach.
    db, queries, n_bits = problem
    k = data.draw(st.integers(1, db.shape[0]))
    n_threads = data.draw(st.integers(1, 3))
    block = data.draw(st.sampled_from([1, 7, 64]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_numpy, "_BLOCK_ELEMENTS", block)
        mp.setattr(_numpy, "_MIN_RANGE", 1)
        index = HammingIndex("numpy", n_bits=n_bits, n_jobs=n_threads).fit(db)
        dist, ind = index.kneighbors(queries, n_neighbors=k)
        ragged = index.radius_neighbors(queries, n_bits // 2)
    expected_dist, expected_ind = brute_knn(queries, db, k)
    np.testing.assert_array_equal(ind, expected_ind)
    np.testing.assert_array_equal(dist, expected_dist)
    assert_ragged_equal(ragged, brute_radius(queries, db, n_bits // 2))


@given(problem=search_problems(max_codes=120, max_bits=40), data=st.data())
def test_mih_alone_is_exact(problem, data):
    # No fallback to the linear scan: multi-index hashing must find every
    # neighbour itself, with any number of substrings.
    db, queries, n_bits = problem
    # Substrings of at most 8 bits keep exhaustive probing cheap.
    m = data.draw(st.integers(-(-n_bits // 8), n_bits))
    k = data.draw(st.integers(1, db.shape[0]))
    mih = _mih.MultiIndex(db, n_bits, n_substrings=m, probe_budget=np.inf)

    def no_fallback(rows, k):
        raise AssertionError("multi-index hashing fell back to the scan")

    dist, ind = mih.knn(queries, k, no_fallback)
    expected_dist, expected_ind = brute_knn(queries, db, k)
    np.testing.assert_array_equal(ind, expected_ind)
    np.testing.assert_array_equal(dist, expected_dist)
    radius = data.draw(st.integers(0, n_bits))
    assert_ragged_equal(mih.radius(queries, radius), brute_radius(queries, db, radius))


@given(problem=search_problems(max_codes=80), data=st.data())
def test_mih_query_chunks_and_fallback(problem, data):
    # One query per chunk and a tiny look-up budget: the queries MIH gives up
    # on must reach the fallback with their own row numbers.
    db, queries, n_bits = problem
    k = data.draw(st.integers(1, db.shape[0]))
    budget = data.draw(st.sampled_from([0, 3, 50]))
    expected_dist, expected_ind = brute_knn(queries, db, k)

    def fallback(rows, k):
        return expected_dist[rows], expected_ind[rows]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_mih, "_HISTOGRAM_CELLS", 1)
        mih = _mih.MultiIndex(db, n_bits, probe_budget=budget)
        dist, ind = mih.knn(queries, k, fallback)
    np.testing.assert_array_equal(ind, expected_ind)
    np.testing.assert_array_equal(dist, expected_dist)


@given(problem=search_problems(max_bits=70))
def test_mih_substring_keys_read_the_bits_in_order(problem):
    db, _, n_bits = problem
    m = _mih.effective_n_substrings(n_bits, db.shape[0])
    bounds = _mih.substring_bounds(n_bits, m)
    keys = _mih.substring_keys(db, bounds)
    bits = unpack_codes(db, n_bits).astype(np.uint64)
    for j in range(m):
        part = bits[:, bounds[j] : bounds[j + 1]]
        weights = np.uint64(1) << np.arange(part.shape[1])[::-1].astype(np.uint64)
        np.testing.assert_array_equal(keys[j], (part * weights).sum(axis=1))


@needs_faiss
def test_faiss_tie_heavy_equals_numpy(rng):
    # 6-bit codes in a database of 2,000: every distance is shared by
    # hundreds of codes, far past the extra neighbours asked of FAISS, so
    # both the in-list re-rank and the overflow path run.
    db = random_codes(rng, 2000, 6)
    queries = random_codes(rng, 50, 6)
    ref = HammingIndex("numpy", n_bits=6).fit(db)
    fast = HammingIndex("faiss", n_bits=6).fit(db)
    for k in (1, 5, 64, 200, 2000):
        np.testing.assert_array_equal(
            fast.kneighbors(queries, k)[1], ref.kneighbors(queries, k)[1]
        )
    # 64-bit codes with planted duplicates: ties inside the returned list.
    db = random_codes(rng, 3000, 64)
    db[1500:1600] = db[:100]
    queries = np.concatenate([db[:30], random_codes(rng, 30, 64)])
    d_ref, i_ref = HammingIndex("numpy").fit(db).kneighbors(queries, 10)
    d_fast, i_fast = HammingIndex("faiss").fit(db).kneighbors(queries, 10)
    np.testing.assert_array_equal(i_fast, i_ref)
    np.testing.assert_array_equal(d_fast, d_ref)


class _WorstTieFaiss:
    """A stand-in for IndexBinaryFlat that breaks ties by *descending* index.

    FAISS only promises the k smallest distances; which of the codes tied at
    the k-th distance it returns, and in which order, is unspecified (recent
    versions happen to prefer small ids). This one takes the worst choice, so
    the backend's re-ranking is what gets tested.
    """

    def __init__(self, faiss_codes):
        self.codes = faiss_codes
        self.ntotal = faiss_codes.shape[0]

    def search(self, queries, k):
        d = hamming_distances(queries, self.codes)
        order = np.lexsort((-np.arange(self.ntotal)[None, :].repeat(len(d), 0), d))
        order = order[:, :k]
        return np.take_along_axis(d, order, 1).astype(np.int32), order


@given(problem=search_problems(max_codes=150), data=st.data())
def test_faiss_tie_rule_restored_whatever_faiss_returns(problem, data):
    db, queries, n_bits = problem
    k = data.draw(st.integers(1, db.shape[0]))
    fake = _WorstTieFaiss(_faiss.to_faiss_order(db))
    index = HammingIndex("numpy", n_bits=n_bits).fit(db)

    def fallback(rows, k):
        return index.kneighbors(queries[rows], k)

    with pytest.MonkeyPatch.context() as mp:
        # Pretend faiss is importable even where it is not: the fake does
        # the searching. Chunks of one query check the fallback's row numbers.
        mp.setattr(_faiss, "import_faiss", lambda: _FakeFaissModule)
        mp.setattr(_faiss, "_RESULT_CELLS", data.draw(st.sampled_from([1, 1 << 22])))
        dist, ind = _faiss.knn(fake, queries, k, n_bits, 1, fallback)
    expected_dist, expected_ind = brute_knn(queries, db, k)
    np.testing.assert_array_equal(ind, expected_ind)
    np.testing.assert_array_equal(dist, expected_dist)


class _FakeFaissModule:
    @staticmethod
    def omp_get_max_threads():
        return 1

    @staticmethod
    def omp_set_num_threads(n):
        pass


@needs_faiss
def test_faiss_threads_are_restored(rng):
    import faiss

    db, queries = random_codes(rng, 500, 64), random_codes(rng, 20, 64)
    before = faiss.omp_get_max_threads()
    expected = HammingIndex("numpy").fit(db).kneighbors(queries, 5)
    for n_jobs in (None, 1, before + 1):
        got = HammingIndex("faiss", n_jobs=n_jobs).fit(db)
        np.testing.assert_array_equal(got.kneighbors(queries, 5)[1], expected[1])
        got.radius_neighbors(queries, 20)
        assert faiss.omp_get_max_threads() == before


def test_faiss_sees_bits_in_sklhash_order():
    # Reversing the bits of a byte twice is the identity, and FAISS computes
    # the same distances on converted codes.
    every_byte = np.arange(256, dtype=np.uint8)[:, None]
    np.testing.assert_array_equal(
        _faiss.to_faiss_order(_faiss.to_faiss_order(every_byte)), every_byte
    )
    np.testing.assert_array_equal(
        np.unpackbits(_faiss.to_faiss_order(every_byte), axis=1, bitorder="little"),
        np.unpackbits(every_byte, axis=1),
    )
    # Bit 0 of a sklhash code (MSB of byte 0) is FAISS's bit 0 (LSB of byte 0).
    assert _faiss.to_faiss_order(np.array([[0b1000_0000]], dtype=np.uint8))[0, 0] == 1


def _assert_same_as_numpy(index, queries, ks=(1, 10), radii=(0, 2, 5)):
    ref = HammingIndex("numpy").fit(index.codes_)
    for k in ks:
        for got, expected in zip(
            index.kneighbors(queries, k), ref.kneighbors(queries, k), strict=True
        ):
            np.testing.assert_array_equal(got, expected)
    for radius in radii:
        got = index.radius_neighbors(queries, radius)
        expected = ref.radius_neighbors(queries, radius)
        for a, b in zip(got[1], expected[1], strict=True):
            np.testing.assert_array_equal(a, b)


def test_auto_chooses_by_the_work_on_these_codes(rng):
    # Random codes: buckets nearly empty, neighbours far away. Radius 2 reads
    # a handful of table entries (multi-index hashing); radius 40 or a k-NN
    # search would probe more entries than the scan reads codes.
    db = random_codes(rng, 60_000, 64)
    queries = np.concatenate([db[:40], random_codes(rng, 40, 64)])
    auto = HammingIndex().fit(db)
    # One query over 60,000 codes: a scan costs less than choosing...
    assert auto._radius_backend(2, queries[:1]) == auto._scan_backend()
    assert auto._radius_backend(2, queries) == "mih"
    assert auto._radius_backend(40, queries) == auto._scan_backend()
    # ... until a full sample has chosen for this radius: then it is reused,
    # until the codes change.
    assert auto._radius_backend(2, queries[:1]) == "mih"
    auto.add(db[:1])
    assert auto._radius_backend(2, queries[:1]) == auto._scan_backend()
    assert auto._knn_backend(10, queries) == "numpy"
    _assert_same_as_numpy(auto, queries)
    # Clustered codes (300 distinct codes, 200 copies each): every probed
    # bucket holds 200 codes or more, so even radius 0 reads more than the
    # scan costs (60,000 / 256 codes, half that for a FAISS scan).
    clustered = np.repeat(random_codes(rng, 300, 64), 200, axis=0)
    auto = HammingIndex().fit(clustered)
    assert auto._radius_backend(0, clustered[::997]) == auto._scan_backend()
    # k-NN stops at the first bucket (ten neighbours at distance 0): 201
    # entries read, below the k-NN budget of 60,000 / 128.
    assert auto._knn_backend(10, clustered[::997]) == "mih"
    _assert_same_as_numpy(auto, clustered[::997], radii=(0, 1))
    # Near-duplicate pairs: neighbours at distance 0 and 1, buckets of two
    # codes: k-NN by multi-index hashing.
    base = random_codes(rng, 30_000, 64)
    bits = unpack_codes(base, 64).astype(bool)
    bits[np.arange(30_000), rng.integers(0, 64, 30_000)] ^= True
    pairs = np.concatenate([base, pack_codes(bits)])
    auto = HammingIndex().fit(pairs)
    queries = pairs[::599]
    # Too few queries for a sample: the scan answers them directly, until a
    # larger search has chosen for this k.
    assert auto._knn_backend(2, queries[:5]) == "numpy"
    assert auto._knn_backend(2, queries) == "mih"
    assert auto._knn_backend(2, queries[:5]) == "mih"
    _assert_same_as_numpy(auto, queries, ks=(1, 2, 7))


def test_auto_scan_is_faiss_only_on_its_fast_widths(rng, monkeypatch):
    monkeypatch.setattr(_faiss, "faiss_available", lambda: True)
    for bits, expected in ((32, "faiss"), (48, "numpy"), (64, "faiss"),
                           (96, "numpy"), (128, "faiss"), (256, "faiss")):
        index = HammingIndex().fit(random_codes(rng, 4, bits))
        assert index._scan_backend("radius") == expected, bits
        # k-NN scans with numpy: FAISS leaves ties unordered.
        assert index._scan_backend("knn") == "numpy"
    monkeypatch.setattr(_faiss, "faiss_available", lambda: False)
    assert HammingIndex().fit(random_codes(rng, 4, 64))._scan_backend() == "numpy"


# -- index life cycle ----------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_equals_fit_on_everything(backend, rng):
    a, b = random_codes(rng, 50, 20), random_codes(rng, 30, 20)
    b[:5] = a[:5]
    queries = random_codes(rng, 7, 20)
    grown = HammingIndex(backend, n_bits=20).fit(a)
    grown.kneighbors(queries, 3)  # build the backend's structures first
    grown.add(b).add(b[:0])
    whole = HammingIndex(backend, n_bits=20).fit(np.concatenate([a, b]))
    assert grown.n_codes_ == 80
    for method, arg in (("kneighbors", 12), ("radius_neighbors", 8)):
        got = getattr(grown, method)(queries, arg)
        expected = getattr(whole, method)(queries, arg)
        for g, e in zip(got[1], expected[1], strict=True):
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickle_round_trip(backend, rng):
    db, queries = random_codes(rng, 40, 33), random_codes(rng, 4, 33)
    index = HammingIndex(backend, n_bits=33).fit(db)
    before = index.kneighbors(queries, 5)
    clone = pickle.loads(pickle.dumps(index))
    for a, b in zip(before, clone.kneighbors(queries, 5), strict=True):
        np.testing.assert_array_equal(a, b)


def test_results_shapes_and_options(rng):
    db = random_codes(rng, 20, 16)
    index = HammingIndex("numpy").fit(db)
    assert index.n_codes_ == 20 and index.n_bits_ == 16
    ind = index.kneighbors(db[:3], 4, return_distance=False)
    assert ind.shape == (3, 4) and ind.dtype == np.int64
    dist, ind = index.kneighbors(db[:0], 4)
    assert dist.shape == ind.shape == (0, 4)
    ragged = index.radius_neighbors(db[:3], 0, return_distance=False)
    assert ragged.dtype == object and len(ragged) == 3
    assert all(i in r for i, r in enumerate(ragged))
    dist, ind = index.radius_neighbors(db[:0], 3)
    assert len(dist) == len(ind) == 0


# -- persistence ---------------------------------------------------------------


@given(problem=search_problems())
def test_save_load_round_trip(problem, tmp_path_factory):
    db, queries, n_bits = problem
    path = tmp_path_factory.mktemp("idx") / "codes.sklhidx"
    HammingIndex("numpy", n_bits=n_bits).fit(db).save(path)
    assert path.stat().st_size == _io.HEADER_SIZE + db.size
    loaded = HammingIndex.load(path, backend="mih")
    assert loaded.n_bits_ == n_bits and loaded.backend == "mih"
    np.testing.assert_array_equal(loaded.codes_, db)
    k = db.shape[0]
    np.testing.assert_array_equal(
        loaded.kneighbors(queries, k)[1], brute_knn(queries, db, k)[1]
    )
    assert os.listdir(path.parent) == ["codes.sklhidx"]


def _saved(tmp_path, rng):
    path = tmp_path / "index.bin"
    HammingIndex(n_bits=12).fit(random_codes(rng, 10, 12)).save(path)
    return path, path.read_bytes()


def test_load_refuses_truncated_file(tmp_path, rng):
    path, raw = _saved(tmp_path, rng)
    for cut in (3, _io.HEADER_SIZE - 1, len(raw) - 1):
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="index.bin"):
            HammingIndex.load(path)
    path.write_bytes(raw + b"\0")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        HammingIndex.load(path)


def test_load_refuses_foreign_file_and_other_version(tmp_path, rng):
    path, raw = _saved(tmp_path, rng)
    foreign = tmp_path / "foreign.npy"
    np.save(foreign, np.zeros((10, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="foreign.npy.*not a sklhash HammingIndex"):
        HammingIndex.load(foreign)
    path.write_bytes(raw[:8] + (3).to_bytes(4, "little") + raw[12:])
    with pytest.raises(ValueError, match="format version 3"):
        HammingIndex.load(path)
    path.write_bytes(raw[:12] + (0).to_bytes(4, "little") + raw[16:])
    with pytest.raises(ValueError, match="n_bits=0"):
        HammingIndex.load(path)


@settings(max_examples=40, deadline=None)
@given(problem=search_problems(), data=st.data())
def test_load_refuses_any_changed_byte(problem, data, tmp_path_factory):
    db, _, n_bits = problem
    path = tmp_path_factory.mktemp("idx") / "flip.sklhidx"
    HammingIndex(n_bits=n_bits).fit(db).save(path)
    raw = bytearray(path.read_bytes())
    pos = data.draw(st.integers(0, len(raw) - 1), label="position")
    raw[pos] ^= data.draw(st.integers(1, 255), label="xor")
    path.write_bytes(bytes(raw))
    # Whatever the byte (magic, version, sizes, checksum or a code), the file
    # is refused with a message naming it; never loaded with other codes.
    with pytest.raises(ValueError, match="flip.sklhidx"):
        HammingIndex.load(path)


def test_load_reads_version_1_files(tmp_path, rng):
    # Files written before the checksum existed: header without it.
    codes = random_codes(rng, 7, 12)
    path = tmp_path / "v1.sklhidx"
    path.write_bytes(
        b"SKLHIDX\0" + (1).to_bytes(4, "little") + (12).to_bytes(4, "little")
        + (7).to_bytes(8, "little") + codes.tobytes()
    )
    loaded = HammingIndex.load(path)
    assert loaded.n_bits_ == 12
    np.testing.assert_array_equal(loaded.codes_, codes)


def test_save_is_atomic(tmp_path, rng, monkeypatch):
    path, raw = _saved(tmp_path, rng)
    bigger = HammingIndex().fit(random_codes(rng, 50, 64))

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        bigger.save(path)
    # The old file is intact and no temporary file is left behind.
    assert path.read_bytes() == raw
    assert os.listdir(tmp_path) == ["index.bin"]


# -- validation ----------------------------------------------------------------


def test_queries_of_another_width_are_refused(rng):
    index = HammingIndex().fit(random_codes(rng, 10, 64))
    wrong_width = "queries are codes of .* bytes but codes of 8 bytes are expected"
    for queries in (random_codes(rng, 2, 32), random_codes(rng, 2, 72)):
        with pytest.raises(ValueError, match=wrong_width):
            index.kneighbors(queries, 3)
        with pytest.raises(ValueError, match=wrong_width):
            index.radius_neighbors(queries, 3)
    with pytest.raises(ValueError, match="dtype uint8"):
        index.kneighbors(np.zeros((2, 8), dtype=np.int64), 3)
    with pytest.raises(ValueError, match="2-d array"):
        index.kneighbors(np.zeros(8, dtype=np.uint8), 3)
    with pytest.raises(ValueError, match="codes are codes of 4 bytes but codes of 8"):
        index.add(random_codes(rng, 2, 32))


def test_padding_bits_must_be_zero(rng):
    codes = random_codes(rng, 5, 12)
    index = HammingIndex(n_bits=12).fit(codes)
    dirty = codes.copy()
    dirty[0, -1] |= 1
    with pytest.raises(ValueError, match="padding bits beyond n_bits=12"):
        index.kneighbors(dirty, 1)
    with pytest.raises(ValueError, match="padding bits beyond n_bits=12"):
        HammingIndex(n_bits=12).fit(dirty)
    with pytest.raises(ValueError, match="codes of 3 bytes are expected .n_bits=20"):
        HammingIndex(n_bits=20).fit(codes)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_n_neighbors_and_radius(backend, rng):
    index = HammingIndex(backend).fit(random_codes(rng, 10, 16))
    queries = random_codes(rng, 2, 16)
    too_many = "n_neighbors=11 and the index holds n_codes_=10"
    with pytest.raises(ValueError, match=too_many):
        index.kneighbors(queries, 11)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f"n_neighbors={bad}"):
            index.kneighbors(queries, bad)
    for bad in (True, 2.0, "3"):
        with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
            index.kneighbors(queries, bad)
    for bad in (-1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="radius must be a finite number"):
            index.radius_neighbors(queries, bad)


def test_unfitted_and_bad_parameters(rng):
    codes = random_codes(rng, 4, 8)
    with pytest.raises(NotFittedError):
        HammingIndex().kneighbors(codes, 1)
    with pytest.raises(NotFittedError):
        HammingIndex().save("never-written.bin")
    assert not os.path.exists("never-written.bin")
    with pytest.raises(ValueError, match="backend"):
        HammingIndex(backend="annoy").fit(codes)
    with pytest.raises(ValueError, match="at least one code"):
        HammingIndex().fit(codes[:0])


def test_missing_faiss_is_reported(monkeypatch, rng):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="pip install 'sklhash\\[faiss\\]'"):
        HammingIndex("faiss").fit(random_codes(rng, 4, 8))
    # The other backends do not need it.
    HammingIndex("auto").fit(random_codes(rng, 4, 8)).kneighbors(
        random_codes(rng, 1, 8), 2
    )


def test_neighbors_does_not_import_torch():
    code = "import sys, sklhash.neighbors; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
