"""Retrieval metrics: exact ties checked against brute-force enumeration."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score

from sklhash.codes import hamming_distances, pack_codes
from sklhash.metrics import (
    mean_average_hierarchical_precision,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_recall_at_radius,
    precision_recall_curve,
)

TIES = ["average", "optimistic", "pessimistic", "index"]
# A 3-class similarity with three distinct off-diagonal levels.
S3 = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 1.0]])


# --------------------------------------------------------------------------
# Brute force: every ranking consistent with the distances
# --------------------------------------------------------------------------


def all_rankings(dist):
    """Every database order that sorts ``dist`` (all within-tie permutations)."""
    groups = [np.flatnonzero(dist == v) for v in np.unique(dist)]
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        yield np.concatenate(perms).astype(int)


def ap_of(rel, k, normalize):
    R = rel.sum()
    top = rel[:k].astype(float)
    hits = np.cumsum(top)
    num = (top * hits / np.arange(1, len(top) + 1)).sum()
    den = min(R, k) if normalize == "relevant" else hits[-1]
    return num / den if den > 0 else 0.0


def hp_curve(gains, K):
    ideal = np.sort(gains)[::-1]
    num, den = np.cumsum(gains[:K]), np.cumsum(ideal[:K])
    return np.array([a / b if b > 0 else 0.0 for a, b in zip(num, den, strict=True)])


def ahp_of(gains, K, normalize="barz"):
    hp = hp_curve(gains, K)
    if normalize == "barz":
        # Barz & Denzler's code: the trapezoid with step 1/K.
        return np.trapezoid(hp, dx=1.0 / len(hp))
    if len(hp) == 1:
        return hp[0]
    return (hp.sum() - (hp[0] + hp[-1]) / 2) / (len(hp) - 1)


def ndcg_of(gains, k):
    disc = 1 / np.log2(np.arange(2, k + 2))
    ideal = (np.sort(gains)[::-1][:k] * disc[: min(k, len(gains))]).sum()
    dcg = (gains[:k] * disc[: min(k, len(gains))]).sum()
    return dcg / ideal if ideal > 0 else 0.0


@st.composite
def small_cases(draw, max_db=6):
    n_db = draw(st.integers(1, max_db))
    bits = draw(st.integers(1, 3))
    db = pack_codes(draw(arrays(np.bool_, (n_db, bits))))
    q = pack_codes(draw(arrays(np.bool_, (2, bits))))
    yd = draw(arrays(np.int64, n_db, elements=st.integers(0, 2)))
    yq = draw(arrays(np.int64, 2, elements=st.integers(0, 2)))
    k = draw(st.integers(1, n_db + 1))
    return q, db, yq, yd, k


def brute(q, db, yq, yd, score):
    """Per query: (mean, max, min, stable-order value) of ``score(order, i)``."""
    dist = hamming_distances(q, db)
    out = []
    for i in range(len(q)):
        vals = [score(order, i) for order in all_rankings(dist[i])]
        stable = score(np.argsort(dist[i], kind="stable"), i)
        out.append((np.mean(vals), max(vals), min(vals), stable))
    return np.array(out)


def brute_curves(q, db, yq, yd, score):
    """Like :func:`brute` for a vector-valued score: shape (n_q, 4, len)."""
    dist = hamming_distances(q, db)
    out = []
    for i in range(len(q)):
        vals = np.array([score(order, i) for order in all_rankings(dist[i])])
        stable = score(np.argsort(dist[i], kind="stable"), i)
        out.append([vals.mean(0), vals.max(0), vals.min(0), stable])
    return np.array(out)


def per_query(func, *args, **kwargs):
    return {t: func(*args, ties=t, return_per_query=True, **kwargs) for t in TIES}


def check_against_brute(got, expected, bounds=True):
    np.testing.assert_allclose(got["average"], expected[:, 0], atol=1e-10)
    np.testing.assert_allclose(got["index"], expected[:, 3], atol=1e-10)
    if bounds:
        np.testing.assert_allclose(got["optimistic"], expected[:, 1], atol=1e-10)
        np.testing.assert_allclose(got["pessimistic"], expected[:, 2], atol=1e-10)


@given(small_cases())
def test_ap_matches_enumeration(case):
    q, db, yq, yd, k = case
    kk = min(k, len(yd))
    expected = brute(q, db, yq, yd, lambda o, i: ap_of(yd[o] == yq[i], kk, "relevant"))
    check_against_brute(per_query(mean_average_precision, q, db, yq, yd, k=k), expected)


@given(small_cases())
def test_ap_retrieved_normalization_matches_enumeration(case):
    # Dividing by the hits found is not monotone in the order, so only the
    # average and the stable order are compared.
    q, db, yq, yd, k = case
    kk = min(k, len(yd))
    expected = brute(q, db, yq, yd, lambda o, i: ap_of(yd[o] == yq[i], kk, "retrieved"))
    got = per_query(mean_average_precision, q, db, yq, yd, k=k, normalize="retrieved")
    check_against_brute(got, expected, bounds=False)


@given(small_cases())
def test_precision_at_k_matches_enumeration(case):
    q, db, yq, yd, k = case
    kk = min(k, len(yd))
    expected = brute(q, db, yq, yd, lambda o, i: (yd[o][:kk] == yq[i]).mean())
    check_against_brute(per_query(precision_at_k, q, db, yq, yd, k=k), expected)


@given(small_cases())
def test_ahp_matches_enumeration(case):
    q, db, yq, yd, k = case
    kk = min(k, len(yd))
    for normalize in ("barz", "unit"):
        expected = brute(
            q, db, yq, yd, lambda o, i, n=normalize: ahp_of(S3[yq[i], yd[o]], kk, n))
        got = per_query(mean_average_hierarchical_precision, q, db, yq, yd,
                        similarity=S3, k=k, normalize=normalize)
        check_against_brute(got, expected)


@given(small_cases())
def test_hp_curve_matches_enumeration(case):
    # HP@j for every j, recovered from AHP@1..K: with A_j = (j - 1) AHP@j,
    # A_j - A_(j-1) = (HP@j + HP@(j-1)) / 2 (and A_1 = 0, HP@1 = AHP@1).
    q, db, yq, yd, k = case
    kk = min(k, len(yd))
    curves = brute_curves(q, db, yq, yd, lambda o, i: hp_curve(S3[yq[i], yd[o]], kk))
    for t, col in [("average", 0), ("optimistic", 1), ("pessimistic", 2)]:
        ahp = [mean_average_hierarchical_precision(
            q, db, yq, yd, similarity=S3, k=j, ties=t, return_per_query=True,
            normalize="unit")
            for j in range(1, kk + 1)]
        hp, area_prev = ahp[0], 0.0
        np.testing.assert_allclose(hp, curves[:, col, 0], atol=1e-9)
        for j in range(2, kk + 1):
            area = ahp[j - 1] * (j - 1)
            hp = 2 * (area - area_prev) - hp
            area_prev = area
            np.testing.assert_allclose(hp, curves[:, col, j - 1], atol=1e-9)


@given(small_cases())
def test_ndcg_matches_enumeration(case):
    q, db, yq, yd, k = case
    kk = min(k, len(yd))
    expected = brute(q, db, yq, yd, lambda o, i: ndcg_of(S3[yq[i], yd[o]], kk))
    got = per_query(ndcg_at_k, q, db, yq, yd, k=k, similarity=S3)
    check_against_brute(got, expected)
    expected = brute(q, db, yq, yd, lambda o, i: ndcg_of((yd[o] == yq[i]) * 1.0, kk))
    check_against_brute(per_query(ndcg_at_k, q, db, yq, yd, k=k), expected)


@st.composite
def medium_cases(draw):
    n_db = draw(st.integers(2, 40))
    bits = draw(st.integers(1, 12))
    db = pack_codes(draw(arrays(np.bool_, (n_db, bits))))
    q = pack_codes(draw(arrays(np.bool_, (5, bits))))
    yd = draw(arrays(np.int64, n_db, elements=st.integers(0, 2)))
    yq = draw(arrays(np.int64, 5, elements=st.integers(0, 2)))
    k = draw(st.integers(1, n_db + 3))
    return q, db, yq, yd, k


@given(medium_cases())
def test_optimistic_average_pessimistic_ordered_and_in_unit_interval(case):
    q, db, yq, yd, k = case
    eps = 1e-12
    for func, kwargs in [
        (mean_average_precision, {}),
        (precision_at_k, {}),
        (ndcg_at_k, {"similarity": S3}),
        (mean_average_hierarchical_precision, {"similarity": S3}),
    ]:
        got = per_query(func, q, db, yq, yd, k=k, **kwargs)
        for t in TIES:
            assert np.all((got[t] >= 0) & (got[t] <= 1))
        assert np.all(got["optimistic"] >= got["average"] - eps), func.__name__
        assert np.all(got["average"] >= got["pessimistic"] - eps), func.__name__
        assert np.all(got["optimistic"] >= got["index"] - eps), func.__name__
        assert np.all(got["index"] >= got["pessimistic"] - eps), func.__name__


@given(medium_cases(), st.integers(1, 4))
def test_chunk_size_does_not_change_results(case, chunk_size):
    q, db, yq, yd, k = case
    for t in TIES:
        a = mean_average_precision(q, db, yq, yd, k=k, ties=t, return_per_query=True)
        b = mean_average_precision(q, db, yq, yd, k=k, ties=t, return_per_query=True,
                                   chunk_size=chunk_size)
        np.testing.assert_allclose(a, b, atol=1e-12)


# --------------------------------------------------------------------------
# Against scikit-learn and direct transcriptions on tie-free data
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("ties", TIES)
def test_no_ties_ap_equals_sklearn_average_precision(rng, metric, ties):
    Xq, Xd = rng.normal(size=(15, 5)), rng.normal(size=(60, 5))
    yq, yd = rng.integers(0, 4, 15), rng.integers(0, 4, 60)
    yd[yd == 3] = 2  # class 3 absent from the database: R = 0 queries score 0
    got = mean_average_precision(Xq, Xd, yq, yd, metric=metric, ties=ties,
                                 return_per_query=True)
    if metric == "euclidean":
        dist = ((Xq[:, None] - Xd[None]) ** 2).sum(-1)
    else:
        qn = Xq / np.linalg.norm(Xq, axis=1, keepdims=True)
        dn = Xd / np.linalg.norm(Xd, axis=1, keepdims=True)
        dist = 1 - qn @ dn.T
    for i in range(len(yq)):
        rel = yd == yq[i]
        expected = average_precision_score(rel, -dist[i]) if rel.any() else 0.0
        assert got[i] == pytest.approx(expected, abs=1e-12)
    assert (got[yq == 3] == 0).all() and (yq == 3).any()


def test_mahp_equals_direct_transcription_without_ties(rng):
    # Barz & Denzler's HP / AHP written out query by query.
    Xq, Xd = rng.normal(size=(12, 4)), rng.normal(size=(80, 4))
    yq, yd = rng.integers(0, 3, 12), rng.integers(0, 3, 80)
    K = 25
    got = mean_average_hierarchical_precision(
        Xq, Xd, yq, yd, similarity=S3, k=K, metric="euclidean", return_per_query=True)
    unit = mean_average_hierarchical_precision(
        Xq, Xd, yq, yd, similarity=S3, k=K, metric="euclidean", return_per_query=True,
        normalize="unit")
    dist = ((Xq[:, None] - Xd[None]) ** 2).sum(-1)
    for i in range(len(yq)):
        sims = S3[yq[i], yd[np.argsort(dist[i])]]
        best = np.sort(S3[yq[i], yd])[::-1]
        hp = np.array([sims[:k].sum() / best[:k].sum() for k in range(1, K + 1)])
        # The published definition, as Barz & Denzler's evaluation code
        # computes it: np.trapz(hp, dx=1/K) (the default).
        assert got[i] == pytest.approx(np.trapezoid(hp, dx=1.0 / K), abs=1e-12)
        # normalize="unit": a perfect ranking scores 1.
        assert unit[i] == pytest.approx(np.trapezoid(hp, dx=1.0 / (K - 1)), abs=1e-12)
        assert got[i] == pytest.approx(unit[i] * (K - 1) / K, abs=1e-12)


def test_mahp_of_a_perfect_ranking():
    # Published: (K - 1) / K; unit: 1.
    codes = np.array([[0], [0], [1], [3], [7]], dtype=np.uint8)
    y = np.array([0, 0, 1, 2, 2])
    S = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    kw = {"similarity": S, "k": 4}
    assert mean_average_hierarchical_precision(
        codes[:1], codes[1:], y[:1], y[1:], **kw) == pytest.approx(3 / 4)
    assert mean_average_hierarchical_precision(
        codes[:1], codes[1:], y[:1], y[1:], normalize="unit", **kw) == 1.0
    with pytest.raises(ValueError, match="normalize"):
        mean_average_hierarchical_precision(
            codes[:1], codes[1:], y[:1], y[1:], normalize="K", **kw)


def test_euclidean_on_bits_equals_hamming_on_codes(rng):
    # Squared Euclidean distance between 0/1 vectors is the Hamming distance,
    # so the float path (ties found by sorting) must agree with the code path
    # (ties found by counting) for every tie rule.
    bq = rng.random((9, 10)) < 0.5
    bd = rng.random((50, 10)) < 0.5
    yq, yd = rng.integers(0, 3, 9), rng.integers(0, 3, 50)
    for t in TIES:
        for func, kw in [(mean_average_precision, {"k": 17}),
                         (mean_average_precision, {"k": 17, "normalize": "retrieved"}),
                         (precision_at_k, {"k": 9}),
                         (ndcg_at_k, {"k": 12, "similarity": S3}),
                         (mean_average_hierarchical_precision,
                          {"k": 30, "similarity": S3})]:
            a = func(pack_codes(bq), pack_codes(bd), yq, yd, ties=t,
                     return_per_query=True, **kw)
            b = func(bq * 1.0, bd * 1.0, yq, yd, ties=t, metric="euclidean",
                     return_per_query=True, **kw)
            np.testing.assert_allclose(a, b, atol=1e-12)


@given(medium_cases())
def test_float_path_equals_code_path(case):
    # Same as above on random tie-heavy cases, where top-k partitioning of
    # float rows must keep the tie at rank k whole.
    q, db, yq, yd, k = case
    fq, fd = np.unpackbits(q, axis=1) * 1.0, np.unpackbits(db, axis=1) * 1.0
    for func, kw in [(mean_average_precision, {}),
                     (mean_average_precision, {"normalize": "retrieved"}),
                     (precision_at_k, {}),
                     (ndcg_at_k, {"similarity": S3}),
                     (mean_average_hierarchical_precision, {"similarity": S3})]:
        for t in ("average", "optimistic"):
            a = func(q, db, yq, yd, k=k, ties=t, return_per_query=True, **kw)
            b = func(fq, fd, yq, yd, k=k, ties=t, metric="euclidean",
                     return_per_query=True, **kw)
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_retrieved_normalization_matches_deephash_calc_top_map(rng):
    # DeepHash-pytorch's CalcTopMap, transcribed, with a stable argsort.
    bits = 16
    bq, bd = rng.random((20, bits)) < 0.5, rng.random((300, bits)) < 0.5
    Lq = np.eye(4)[rng.integers(0, 4, 20)]
    Ld = (rng.random((300, 4)) < 0.3).astype(float)
    topk = 50
    total = 0.0
    for i in range(20):
        gnd = (Lq[i] @ Ld.T > 0).astype(np.float32)
        hamm = 0.5 * (bits - (2.0 * bq[i] - 1) @ (2.0 * bd - 1).T)
        tgnd = gnd[np.argsort(hamm, kind="stable")][:topk]
        tsum = int(tgnd.sum())
        if tsum == 0:
            continue
        tindex = np.flatnonzero(tgnd == 1) + 1.0
        total += np.mean(np.linspace(1, tsum, tsum) / tindex)
    got = mean_average_precision(pack_codes(bq), pack_codes(bd), Lq, Ld, k=topk,
                                 ties="index", normalize="retrieved")
    assert got == pytest.approx(total / 20, abs=1e-12)
    # ... and it is well above the min(R, k) normalisation on the same ranking.
    assert got > mean_average_precision(pack_codes(bq), pack_codes(bd), Lq, Ld,
                                        k=topk, ties="index")


# --------------------------------------------------------------------------
# Reference values of special codes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("k", [None, 1, 7, 500])
def test_perfect_codes_score_one(rng, ties, k):
    y = rng.integers(0, 5, 200)
    codes = pack_codes(np.eye(8, dtype=bool)[y])  # one code per class
    assert mean_average_precision(codes, codes, y, y, k=k, ties=ties) == 1.0
    assert mean_average_precision(codes, codes, y, y, k=k, ties=ties,
                                  exclude_self=True) == 1.0
    assert precision_at_k(codes, codes, y, y, k=k or 5, ties=ties) == pytest.approx(
        np.mean(np.minimum(np.bincount(y)[y], k or 5) / min(k or 5, len(y))))


@pytest.mark.parametrize("ties", TIES)
def test_hierarchy_perfect_codes_score_one(rng, ties):
    # Classes {0, 1} and {2, 3} form two groups: codes whose distance grows
    # with semantic distance give the ideal ranking for every query.
    S = np.array([[1, .5, 0, 0], [.5, 1, 0, 0], [0, 0, 1, .5], [0, 0, .5, 1]])
    y = rng.integers(0, 4, 120)
    bits = np.zeros((4, 12), dtype=bool)
    bits[2:, :8] = True           # groups differ in 8 bits
    bits[[1, 3], 8:] = True       # classes inside a group differ in 4
    codes = pack_codes(bits[y])
    for k in (1, 20, 250):
        assert mean_average_hierarchical_precision(
            codes, codes, y, y, similarity=S, k=k, ties=ties,
            normalize="unit") == pytest.approx(1.0)
        # The published definition: a perfect ranking scores (K - 1) / K.
        assert mean_average_hierarchical_precision(
            codes, codes, y, y, similarity=S, k=k, ties=ties
        ) == pytest.approx((min(k, len(y)) - 1) / min(k, len(y)))
        assert ndcg_at_k(codes, codes, y, y, similarity=S, k=k,
                         ties=ties) == pytest.approx(1.0)


def test_identical_label_database_scores_one(rng):
    codes = pack_codes(rng.random((50, 16)) < 0.5)
    y = np.full(50, 2)
    for t in TIES:
        assert mean_average_hierarchical_precision(
            codes[:5], codes, y[:5], y, similarity=S3, k=250, ties=t,
            normalize="unit") == 1.0
        assert mean_average_hierarchical_precision(
            codes[:5], codes, y[:5], y, similarity=S3, k=250, ties=t
        ) == pytest.approx(49 / 50)  # K is cut to the 50 database items
        assert mean_average_precision(codes[:5], codes, y[:5], y, ties=t) == 1.0


def test_identical_codes_score_the_class_prior(rng):
    n = 300
    y = rng.integers(0, 3, n)
    codes = np.zeros((n, 2), dtype=np.uint8)
    q, yq = codes[:4], np.array([0, 1, 2, 0])
    prior = np.bincount(y, minlength=3)[yq] / n
    for k in (1, 10, n):
        np.testing.assert_allclose(
            precision_at_k(q, codes, yq, y, k=k, return_per_query=True), prior)
    # AP of a uniformly random ranking: r/n plus an O(log n / n) term.
    ap = mean_average_precision(q, codes, yq, y, return_per_query=True)
    r = prior * n
    H = np.sum(1.0 / np.arange(1, n + 1))
    exact = (r - 1) / (n - 1) * (1 - H / n) + H / n
    np.testing.assert_allclose(ap, exact, rtol=1e-12)
    np.testing.assert_allclose(ap, prior, atol=0.03)
    # Not inflated by database order: sorting the database by class changes
    # nothing for "average" but inflates the "index" rule.
    by_class = np.argsort(y != 0, kind="stable")
    ap_sorted = mean_average_precision(q, codes, yq, y[by_class], return_per_query=True)
    np.testing.assert_allclose(ap_sorted, ap, rtol=1e-12)
    idx = mean_average_precision(q, codes, yq, y[by_class], ties="index",
                                 return_per_query=True)
    assert idx[0] == 1.0 and idx[0] > ap[0] + 0.5


# --------------------------------------------------------------------------
# Relevance forms, leave-one-out, radius metrics
# --------------------------------------------------------------------------


def test_multilabel_and_callable_relevance(rng):
    q = pack_codes(rng.random((8, 12)) < 0.5)
    db = pack_codes(rng.random((70, 12)) < 0.5)
    yq, yd = rng.integers(0, 4, 8), rng.integers(0, 4, 70)
    one_hot = np.eye(4)
    for t in TIES:
        a = mean_average_precision(q, db, yq, yd, k=20, ties=t)
        b = mean_average_precision(q, db, one_hot[yq], one_hot[yd], k=20, ties=t)
        c = mean_average_precision(q, db, yq, yd, k=20, ties=t,
                                   relevance=lambda a, b: a[:, None] == b[None, :])
        assert a == pytest.approx(b, abs=1e-14) and a == pytest.approx(c, abs=1e-14)
    # Multi-label: shares at least one label.
    Lq = rng.random((8, 5)) < 0.3
    Ld = rng.random((70, 5)) < 0.3
    a = mean_average_precision(q, db, Lq, Ld, ties="index", return_per_query=True)
    share = (Lq[:, None, :] & Ld[None, :, :]).any(-1)
    d = hamming_distances(q, db)
    for i in range(8):
        expected = ap_of(share[i][np.argsort(d[i], kind="stable")], 70, "relevant")
        assert a[i] == pytest.approx(expected, abs=1e-12)


def test_string_labels(rng):
    q = pack_codes(rng.random((6, 9)) < 0.5)
    db = pack_codes(rng.random((40, 9)) < 0.5)
    yq, yd = rng.integers(0, 3, 6), rng.integers(0, 3, 40)
    names = np.array(["cat", "dog", "owl"])
    assert mean_average_precision(q, db, names[yq], names[yd]) == pytest.approx(
        mean_average_precision(q, db, yq, yd), abs=1e-14)


@pytest.mark.parametrize("ties", TIES)
def test_exclude_self_equals_explicit_leave_one_out(rng, ties):
    n = 30
    codes = pack_codes(rng.random((n, 6)) < 0.5)
    y = rng.integers(0, 3, n)
    funcs = [
        (mean_average_precision, {"k": 8}),
        (mean_average_precision, {"normalize": "retrieved", "k": 8}),
        (precision_at_k, {"k": 5}),
        (ndcg_at_k, {"k": 6, "similarity": S3}),
        (mean_average_hierarchical_precision, {"k": 10, "similarity": S3}),
    ]
    for func, kw in funcs:
        got = func(codes, codes, y, y, ties=ties, exclude_self=True,
                   return_per_query=True, **kw)
        for i in range(n):
            keep = np.arange(n) != i
            expected = func(codes[i:i + 1], codes[keep], y[i:i + 1], y[keep],
                            ties=ties, **kw)
            assert got[i] == pytest.approx(expected, abs=1e-12), func.__name__
    for func in (precision_recall_at_radius,):
        p, r = func(codes, codes, y, y, radius=2, exclude_self=True,
                    return_per_query=True)
        for i in range(n):
            keep = np.arange(n) != i
            pe, re = func(codes[i:i + 1], codes[keep], y[i:i + 1], y[keep], radius=2)
            assert (p[i], r[i]) == pytest.approx((pe, re), abs=1e-12)


def test_exclude_self_with_float_embeddings(rng):
    X = rng.normal(size=(25, 3))
    X[5] = X[7]  # a duplicate: tied with each other, never with itself
    y = rng.integers(0, 2, 25)
    for t, k in itertools.product(TIES, [None, 1, 6]):
        got = mean_average_precision(X, X, y, y, metric="cosine", ties=t, k=k,
                                     exclude_self=True, return_per_query=True)
        for i in (0, 5, 7):
            keep = np.arange(25) != i
            expected = mean_average_precision(X[i:i + 1], X[keep], y[i:i + 1], y[keep],
                                              metric="cosine", ties=t, k=k)
            assert got[i] == pytest.approx(expected, abs=1e-12)


def test_radius_metrics_against_brute_force(rng):
    q = pack_codes(rng.random((10, 8)) < 0.5)
    db = pack_codes(rng.random((90, 8)) < 0.5)
    yq, yd = rng.integers(0, 3, 10), rng.integers(0, 3, 90)
    d = hamming_distances(q, db)
    rel = yq[:, None] == yd[None, :]
    precision, recall, radii = precision_recall_curve(q, db, yq, yd)
    np.testing.assert_array_equal(radii, np.arange(9))
    for j, radius in enumerate(radii):
        within = d <= radius
        hits = (within & rel).sum(1)
        p = np.where(within.sum(1) > 0, hits / np.maximum(within.sum(1), 1), 0)
        r = hits / rel.sum(1)
        assert precision[j] == pytest.approx(p.mean())
        assert recall[j] == pytest.approx(r.mean())
        assert precision_recall_at_radius(q, db, yq, yd, radius=int(radius)) == (
            pytest.approx(p.mean()), pytest.approx(r.mean()))
    assert np.all(np.diff(recall) >= 0) and recall[-1] == 1.0
    # Float embeddings need explicit radii.
    p, r, radii = precision_recall_curve(
        rng.normal(size=(3, 2)), rng.normal(size=(20, 2)), [0, 1, 0],
        rng.integers(0, 2, 20), metric="euclidean", radii=[4.0, 0.5, 1.0])
    np.testing.assert_array_equal(radii, [0.5, 1.0, 4.0])
    assert np.all(np.diff(r) >= 0)


def test_k_beyond_database_means_whole_database(rng):
    q = pack_codes(rng.random((4, 8)) < 0.5)
    db = pack_codes(rng.random((30, 8)) < 0.5)
    yq, yd = rng.integers(0, 3, 4), rng.integers(0, 3, 30)
    assert mean_average_precision(q, db, yq, yd, k=1000) == mean_average_precision(
        q, db, yq, yd)
    assert mean_average_hierarchical_precision(
        q, db, yq, yd, similarity=S3, k=1000) == mean_average_hierarchical_precision(
        q, db, yq, yd, similarity=S3, k=30)


# --------------------------------------------------------------------------
# Similarity objects
# --------------------------------------------------------------------------


class _NamedSimilarity:
    """A minimal class-level similarity with string labels."""

    def __init__(self, names, matrix):
        self.names, self.matrix = list(names), np.asarray(matrix)
        self.calls = []

    def similarity_matrix(self, labels=None):
        labels = self.names if labels is None else labels
        self.calls.append(list(labels))
        idx = []
        for lab in labels:
            if lab not in self.names:
                raise ValueError(f"unknown label {lab!r}")
            idx.append(self.names.index(lab))
        return self.matrix[np.ix_(idx, idx)]


def test_similarity_object_equals_matrix(rng):
    names = np.array(["owl", "cat", "dog"])
    sim = _NamedSimilarity(names, S3)
    q = pack_codes(rng.random((7, 10)) < 0.5)
    db = pack_codes(rng.random((50, 10)) < 0.5)
    yq, yd = rng.integers(0, 3, 7), rng.integers(0, 3, 50)
    a = mean_average_hierarchical_precision(q, db, yq, yd, similarity=S3, k=20)
    b = mean_average_hierarchical_precision(q, db, names[yq], names[yd],
                                            similarity=sim, k=20)
    assert a == pytest.approx(b, abs=1e-14)
    assert sim.calls[-1] == sorted(set(names[yq]) | set(names[yd]))
    c = ndcg_at_k(q, db, names[yq], names[yd], similarity=sim, k=20)
    assert c == pytest.approx(ndcg_at_k(q, db, yq, yd, similarity=S3, k=20))


def test_many_classes_use_weighted_counting(rng):
    # More classes than the per-class counting path allows: same values.
    C = 300
    S = rng.random((C, C))
    S = (S + S.T) / 2
    np.fill_diagonal(S, 1.0)
    q = pack_codes(rng.random((5, 16)) < 0.5)
    db = pack_codes(rng.random((40, 16)) < 0.5)
    yq, yd = rng.integers(0, C, 5), rng.integers(0, C, 40)
    a = mean_average_hierarchical_precision(q, db, yq, yd, similarity=S, k=20,
                                            return_per_query=True)
    b = mean_average_hierarchical_precision(q, db, yq, yd, similarity=S, k=20,
                                            ties="index", return_per_query=True)
    d = hamming_distances(q, db)
    for i in range(5):
        gains = S[yq[i], yd[np.argsort(d[i], kind="stable")]]
        assert b[i] == pytest.approx(ahp_of(gains, 20), abs=1e-12)
    assert np.all((a >= 0) & (a <= 1))


# --------------------------------------------------------------------------
# Inputs are never modified; bad inputs are rejected by name
# --------------------------------------------------------------------------


def _frozen(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def test_inputs_are_not_modified(rng):
    q = _frozen(pack_codes(rng.random((6, 12)) < 0.5))
    db = _frozen(pack_codes(rng.random((40, 12)) < 0.5))
    X = _frozen(rng.normal(size=(40, 3)))
    yq, yd = _frozen(rng.integers(0, 3, 6)), _frozen(rng.integers(0, 3, 40))
    Lq, Ld = _frozen(np.eye(3)[yq]), _frozen(np.eye(3)[yd])
    S = _frozen(S3)
    copies = [a.copy() for a in (q, db, X, yq, yd, Lq, Ld, S)]
    for t in TIES:
        mean_average_precision(q, db, yq, yd, ties=t, k=5)
        mean_average_precision(q, db, Lq, Ld, ties=t, normalize="retrieved")
        mean_average_precision(db, db, yd, yd, ties=t, exclude_self=True)
        mean_average_precision(X, X, yd, yd, ties=t, metric="euclidean",
                               exclude_self=True)
        precision_at_k(q, db, yq, yd, ties=t, k=3)
        ndcg_at_k(q, db, yq, yd, ties=t, similarity=S)
        mean_average_hierarchical_precision(q, db, yq, yd, similarity=S, ties=t)
        mean_average_hierarchical_precision(X, X, yd, yd, similarity=S, ties=t,
                                            metric="cosine", exclude_self=True)
    precision_recall_at_radius(q, db, yq, yd)
    precision_recall_curve(db, db, yd, yd, exclude_self=True)
    for a, b in zip((q, db, X, yq, yd, Lq, Ld, S), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def _codes(n, width=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, width), dtype=np.uint8)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"db_codes": _codes(10, width=3)}, "db_codes must have the same code width"),
        ({"query_labels": [0, 1, 2]}, "query_labels has 3 entries but query_codes"),
        ({"db_labels": np.zeros(9, int)}, "db_labels has 9 entries but db_codes has"),
        ({"k": 0}, "'k' parameter of mean_average_precision must be an int"),
        ({"k": -3}, "'k' parameter .* Got -3 instead"),
        ({"k": 2.5}, "'k' parameter .* Got 2.5 instead"),
        ({"k": True}, "'k' parameter .* Got True instead"),
        ({"ties": "random"}, "'ties' parameter .* Got 'random' instead"),
        ({"normalize": "hits"}, "'normalize' parameter .* Got 'hits'"),
        ({"metric": "manhattan"}, "'metric' parameter .* Got 'manhattan'"),
        ({"query_codes": np.zeros((4, 2))}, "must have dtype uint8.*euclid"),
        ({"query_codes": _codes(4), "exclude_self": True}, "exclude_self=True needs"),
        ({"query_labels": np.zeros((4, 3)), "db_labels": np.zeros((10, 2))},
         "same number of label columns"),
        ({"query_labels": np.zeros((4, 3))}, "must both be 1-d class labels or both"),
        ({"relevance": "same"}, "'relevance' parameter .* callable or None"),
        ({"relevance": lambda a, b: np.ones((2, 2))}, "relevance returned an array"),
        ({"chunk_size": 0}, "'chunk_size' parameter .* Got 0 instead"),
        ({"exclude_self": "yes"}, "'exclude_self' parameter .* Got 'yes'"),
    ],
)
def test_map_bad_input(kwargs, match):
    args = {"query_codes": _codes(4), "db_codes": _codes(10),
            "query_labels": [0, 1, 0, 1], "db_labels": np.arange(10) % 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mean_average_precision(args.pop("query_codes"), args.pop("db_codes"),
                               args.pop("query_labels"), args.pop("db_labels"), **args)


@pytest.mark.parametrize(
    "similarity, labels, match",
    [
        (S3, [0, 1, 3, 1], "does not cover label 3 in query_labels"),
        (S3[:2, :2], [0, 1, 1, 0], "does not cover label 2 in db_labels"),
        (S3[:2], [0, 1, 1, 0], "similarity must be a square"),
        (S3, [0.0, 1.0, 1.0, 0.0], "query_labels must be integer class indices"),
        (-S3, [0, 1, 1, 0], "non-negative"),
        (_NamedSimilarity(["a", "b"], np.eye(2)), ["a", "b", "c", "a"],
         "similarity does not cover the labels: unknown label 'c'"),
        ("tree", [0, 1, 1, 0], "'similarity' parameter"),
    ],
)
def test_mahp_bad_similarity(similarity, labels, match):
    db_labels = np.arange(10) % 3
    if isinstance(similarity, _NamedSimilarity):
        db_labels = np.array(["a", "b"])[np.arange(10) % 2]
    with pytest.raises(ValueError, match=match):
        mean_average_hierarchical_precision(_codes(4), _codes(10), labels, db_labels,
                                            similarity=similarity)


def test_radius_and_curve_bad_input(rng):
    q, db = _codes(3), _codes(8)
    yq, yd = [0, 1, 0], np.arange(8) % 2
    for radius in (-1, np.inf, np.nan, True):
        with pytest.raises(ValueError, match="'radius' parameter of precision_rec"):
            precision_recall_at_radius(q, db, yq, yd, radius=radius)
    with pytest.raises(ValueError, match="radii must be given for metric='cosine'"):
        precision_recall_curve(rng.normal(size=(3, 2)), rng.normal(size=(8, 2)),
                               yq, yd, metric="cosine")
    with pytest.raises(ValueError, match="db_codes must have as many features"):
        mean_average_precision(rng.normal(size=(3, 2)), rng.normal(size=(8, 3)),
                               yq, yd, metric="euclidean")
    with pytest.raises(ValueError, match="NaN"):
        mean_average_precision(np.full((3, 2), np.nan), rng.normal(size=(8, 2)),
                               yq, yd, metric="euclidean")
    with pytest.raises(ValueError, match="'k' parameter"):
        mean_average_hierarchical_precision(q, db, yq, yd, similarity=S3[:2, :2], k=0)


def test_label_hierarchy_as_similarity(rng):
    from sklhash.similarity import LabelHierarchy

    h = LabelHierarchy.from_parent_map(
        {0: "a", 1: "a", 2: "b", 3: "b", "a": "root", "b": "root"})
    q = pack_codes(rng.random((6, 10)) < 0.5)
    db = pack_codes(rng.random((60, 10)) < 0.5)
    yq, yd = rng.integers(0, 4, 6), rng.integers(0, 4, 60)
    S = h.similarity_matrix([0, 1, 2, 3])
    for t in TIES:
        a = mean_average_hierarchical_precision(q, db, yq, yd, similarity=h, k=25,
                                                ties=t)
        b = mean_average_hierarchical_precision(q, db, yq, yd, similarity=S, k=25,
                                                ties=t)
        assert a == pytest.approx(b, abs=1e-14)
    # A label missing from the hierarchy is named in the error.
    with pytest.raises(ValueError, match="similarity does not cover the labels.*7"):
        mean_average_hierarchical_precision(q, db, yq, np.where(yd == 3, 7, yd),
                                            similarity=h)


@given(arrays(np.int64, st.integers(2, 60), elements=st.integers(0, 7)),
       st.integers(1, 70), st.sampled_from(TIES))
def test_perfect_and_identical_codes_property(y, k, ties):
    # One code per class: every relevant item is at distance 0, the rest at 2.
    perfect = pack_codes(np.eye(8, dtype=bool)[y])
    assert mean_average_precision(perfect, perfect, y, y, k=k, ties=ties) == 1.0
    loo = mean_average_precision(perfect, perfect, y, y, k=k, ties=ties,
                                 exclude_self=True, return_per_query=True)
    # Leave-one-out: 1, or 0 for an item alone in its class (R = 0).
    np.testing.assert_array_equal(loo, np.bincount(y)[y] > 1)
    # All codes identical: P@k is the class prior whatever k and the order.
    same = np.zeros((len(y), 1), dtype=np.uint8)
    prior = np.bincount(y)[y] / len(y)
    np.testing.assert_allclose(
        precision_at_k(same, same, y, y, k=k, return_per_query=True), prior,
        atol=1e-12)
    ap = mean_average_precision(same, same, y, y, return_per_query=True)
    np.testing.assert_allclose(
        mean_average_precision(same, same[::-1], y, y[::-1], return_per_query=True),
        ap, atol=1e-12)
    assert np.all(ap <= 1) and np.all(ap[prior < 1] < 1)
