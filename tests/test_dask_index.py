"""DaskHammingIndex answers exactly as HammingIndex, on a 2-worker LocalCluster."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklhash.neighbors import HammingIndex

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

from sklhash.dask import DaskHammingIndex  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=50,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _reference(codes, n_bits=None):
    return HammingIndex(backend="numpy", n_bits=n_bits).fit(codes)


def _assert_same_knn(index, ref, queries, k):
    dist, idx = index.kneighbors(queries, k)
    rdist, ridx = ref.kneighbors(queries, k)
    assert dist.dtype == rdist.dtype and idx.dtype == ridx.dtype
    np.testing.assert_array_equal(dist, rdist)
    np.testing.assert_array_equal(idx, ridx)


def _assert_same_radius(index, ref, queries, radius):
    dist, idx = index.radius_neighbors(queries, radius)
    rdist, ridx = ref.radius_neighbors(queries, radius)
    assert len(dist) == len(rdist)
    for a, b, c, d in zip(dist, rdist, idx, ridx, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, d)
        assert a.dtype == b.dtype and c.dtype == d.dtype


@st.composite
def sharded_codes(draw):
    """Codes with many ties (few distinct bytes), cut into random partitions."""
    n = draw(st.integers(1, 40))
    width = draw(st.integers(1, 3))
    n_bits = draw(st.integers(8 * width - 7, 8 * width))
    alphabet = draw(st.sampled_from([[0, 1], [0, 3, 128], list(range(256))]))
    values = draw(
        st.lists(st.sampled_from(alphabet), min_size=n * width, max_size=n * width)
    )
    codes = np.array(values, dtype=np.uint8).reshape(n, width)
    pad = 8 * width - n_bits
    codes[:, -1] &= np.uint8((0xFF << pad) & 0xFF)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    chunks = tuple(np.diff([0, *cuts, n]).tolist())  # may hold empty chunks
    k = draw(st.integers(1, n))
    radius = draw(st.integers(0, n_bits))
    return codes, n_bits, chunks, k, radius


@settings(max_examples=15)
@given(case=sharded_codes())
def test_sharded_search_equals_hamming_index(client, case):
    codes, n_bits, chunks, k, radius = case
    dcodes = da.from_array(codes, chunks=(chunks, codes.shape[1]))
    index = DaskHammingIndex(n_bits=n_bits).fit(dcodes)
    ref = _reference(codes, n_bits)
    queries = codes[::3]
    assert index.n_codes_ == len(codes)
    assert index.n_partitions_ == sum(c > 0 for c in chunks)
    _assert_same_knn(index, ref, queries, k)
    _assert_same_radius(index, ref, queries, radius)


def test_ties_across_partitions_and_k_larger_than_partition(client):
    rng = np.random.default_rng(0)
    # 16-bit codes drawn from 6 distinct values: every distance is a huge tie
    # that spans all partitions.
    distinct = rng.integers(0, 256, (6, 2), dtype=np.uint8)
    codes = distinct[rng.integers(0, 6, 3000)]
    dcodes = da.from_array(codes, chunks=((7, 0, 993, 1000, 1000, 0),) + ((2,),))
    index = DaskHammingIndex().fit(dcodes)
    ref = _reference(codes)
    queries = rng.integers(0, 256, (50, 2), dtype=np.uint8)
    for k in (1, 8, 1500, 3000):  # 8 > the first partition, 1500 > every one
        _assert_same_knn(index, ref, queries, k)
    _assert_same_radius(index, ref, queries, 3)
    # The partitions live on the workers, as HammingIndex objects.
    keys = [p.key for p in index.partitions_]
    who = client.who_has()
    assert all(who[key] for key in keys)
    assert index.partition_sizes_.tolist() == [7, 993, 1000, 1000]


def test_add_appends_partitions(client):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, (500, 3), dtype=np.uint8)
    b = rng.integers(0, 4, (300, 3), dtype=np.uint8)
    index = DaskHammingIndex().fit(da.from_array(a, chunks=(200, 3)))
    index.add(da.from_array(b, chunks=(150, 3)))
    index.add(b[:10])  # a numpy array is one partition
    assert index.n_partitions_ == 3 + 2 + 1
    full = np.concatenate([a, b, b[:10]])
    ref = _reference(full)
    _assert_same_knn(index, ref, full[:40], 25)
    _assert_same_radius(index, ref, full[:40], 2)
    # A failed add leaves the index as it was.
    with pytest.raises(ValueError, match="codes of 2 bytes but the index holds"):
        index.add(da.from_array(b[:, :2], chunks=(100, 2)))
    assert index.n_codes_ == len(full)
    _assert_same_knn(index, ref, full[:5], 3)


def test_encoded_codes_index_without_client(client):
    """The threaded scheduler (no distributed Client) gives the same answers."""
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 256, (400, 1), dtype=np.uint8)
    with dask.config.set(scheduler="threads"):
        index = DaskHammingIndex().fit(da.from_array(codes, chunks=(64, 1)))
        _assert_same_knn(index, _reference(codes), codes[:30], 10)


def _boom(block):
    raise RuntimeError("a task ran")


def test_bad_input_raises_before_any_task(client):
    base = da.zeros((100, 3), chunks=(50, 3), dtype=np.uint8)
    never = base.map_blocks(_boom, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"mixes code widths \[2, 3\]"):
        DaskHammingIndex().fit([never, never[:, :2].rechunk({1: -1})])
    with pytest.raises(ValueError, match="chunked along its columns"):
        DaskHammingIndex().fit(never.rechunk((50, 1)))
    with pytest.raises(ValueError, match="dtype uint8"):
        DaskHammingIndex().fit(never.astype(np.int32))
    with pytest.raises(ValueError, match="2-d array"):
        DaskHammingIndex().fit(never[:, 0])
    with pytest.raises(ValueError, match="n_bits=12 does not fit codes of 3 bytes"):
        DaskHammingIndex(n_bits=12).fit(never)
    with pytest.raises(ValueError, match="must be a dask array"):
        DaskHammingIndex().fit("codes")
    with pytest.raises(RuntimeError, match="a task ran"):
        never.compute(scheduler="sync")


def test_partition_whose_real_width_differs_is_refused(client):
    # A dask array whose declared shape lies about one partition's width.
    good = np.zeros((10, 2), dtype=np.uint8)
    bad = dask.delayed(np.zeros)((10, 3), dtype=np.uint8)
    lying = da.concatenate(
        [
            da.from_array(good, chunks=(10, 2)),
            da.from_delayed(bad, shape=(10, 2), dtype=np.uint8),
        ]
    )
    with pytest.raises(
        ValueError, match=r"partition 1 holds an array of shape \(10, 3\)"
    ):
        DaskHammingIndex().fit(lying)


def test_query_checks(client):
    codes = np.random.default_rng(3).integers(0, 256, (50, 2), dtype=np.uint8)
    index = DaskHammingIndex().fit(da.from_array(codes, chunks=(20, 2)))
    with pytest.raises(ValueError, match="n_neighbors <= n_codes_"):
        index.kneighbors(codes[:2], 51)
    with pytest.raises(ValueError, match="n_neighbors must be >= 1"):
        index.kneighbors(codes[:2], 0)
    with pytest.raises(ValueError, match="codes of 1 bytes but the index holds"):
        index.kneighbors(codes[:2, :1], 3)
    with pytest.raises(ValueError, match="radius must be a finite number"):
        index.radius_neighbors(codes[:2], -1)
    padded = DaskHammingIndex(n_bits=12).fit(codes & np.array([255, 240], np.uint8))
    with pytest.raises(ValueError, match="non-zero padding bits"):
        padded.kneighbors(codes[:2] | np.uint8(1), 3)
    dist, idx = index.kneighbors(codes[:0], 4)
    assert dist.shape == idx.shape == (0, 4)
    # Queries as a dask array are gathered first.
    dist, idx = index.kneighbors(da.from_array(codes[:7], chunks=3), 5)
    rdist, ridx = _reference(codes).kneighbors(codes[:7], 5)
    np.testing.assert_array_equal(idx, ridx)
    np.testing.assert_array_equal(dist, rdist)
    with pytest.raises(ValueError, match="NotFitted|not fitted"):
        DaskHammingIndex().kneighbors(codes[:2], 1)


def _search_partitions(codes, cuts, order, queries, k, n_bits):
    """knn_partition over ``codes`` cut at ``cuts``, searched in ``order``,
    sharing one bound as a worker does; merged as DaskHammingIndex merges."""
    from sklhash.codes import _as_words
    from sklhash.neighbors._numpy import columns_of
    from sklhash.neighbors._partition import knn_partition

    edges = [0, *cuts, len(codes)]
    parts = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    bound = np.full(len(queries), n_bits, dtype=np.int32)
    answers = {}
    for p in order:
        a, b = parts[p % len(parts)]
        if (a, b) in answers:
            continue
        cols = columns_of(_as_words(codes[a:b]))
        dist, idx = knn_partition(cols, _as_words(queries), k, n_bits, a, bound.copy())
        assert dist.shape == idx.shape == (len(queries), min(k, b - a))
        pad = dist == n_bits + 1
        assert (idx[pad] == -1).all() and (idx[~pad] >= a).all()
        if dist.shape[1] == k:
            np.minimum(bound, dist[:, k - 1], out=bound)
        answers[(a, b)] = dist, idx
    for a, b in parts:  # partitions the order skipped, unbounded
        if (a, b) not in answers:
            cols = columns_of(_as_words(codes[a:b]))
            answers[(a, b)] = knn_partition(cols, _as_words(queries), k, n_bits, a)
    dist = np.concatenate([answers[p][0] for p in parts], axis=1)
    idx = np.concatenate([answers[p][1] for p in parts], axis=1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, 1), np.take_along_axis(idx, order, 1)


@settings(max_examples=60, deadline=None)
@given(case=sharded_codes(), order=st.lists(st.integers(0, 10), max_size=8))
def test_partitions_sharing_bounds_in_any_order_equal_hamming_index(case, order):
    codes, n_bits, chunks, k, _ = case
    cuts = np.cumsum(chunks)[:-1].tolist()
    queries = codes[::2]
    dist, idx = _search_partitions(codes, cuts, order, queries, k, n_bits)
    rdist, ridx = _reference(codes, n_bits).kneighbors(queries, k)
    np.testing.assert_array_equal(dist, rdist)
    np.testing.assert_array_equal(idx, ridx)


def test_bounded_partition_keeps_only_codes_within_bound_and_ties():
    from sklhash.codes import _as_words
    from sklhash.neighbors._numpy import columns_of
    from sklhash.neighbors._partition import knn_partition

    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, (5000, 8), dtype=np.uint8)
    queries = rng.integers(0, 256, (40, 8), dtype=np.uint8)
    # Searched last, the second half keeps only what can still matter: codes
    # within the first half's 10th distance, ties included (they have the
    # smaller global index when the halves are searched out of order).
    for first, second in (((0, 2500), (2500, 5000)), ((2500, 5000), (0, 2500))):
        a, b = first
        d1, _ = knn_partition(
            columns_of(_as_words(codes[a:b])), _as_words(queries), 10, 64, a
        )
        bound = d1[:, 9].astype(np.int32)
        a, b = second
        d2, i2 = knn_partition(
            columns_of(_as_words(codes[a:b])), _as_words(queries), 10, 64, a, bound
        )
        full_d, full_i = knn_partition(
            columns_of(_as_words(codes[a:b])), _as_words(queries), 10, 64, a
        )
        real = d2 <= 64
        assert (d2[real] <= bound[np.nonzero(real)[0]]).all()
        assert (~real).any()  # some rows padded: the bounded path ran
        keep = full_d <= bound[:, None]
        np.testing.assert_array_equal(d2[keep], full_d[keep])
        np.testing.assert_array_equal(i2[keep], full_i[keep])
        assert ((d2 == 65) == ~keep).all() and (i2[~keep] == -1).all()
