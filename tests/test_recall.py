"""recall_at_k and recall_scorer against brute-force enumeration of tie orders."""

import itertools
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV

from sklhash import ITQHasher, LSHHasher
from sklhash.codes import hamming_distances, pack_codes
from sklhash.metrics import recall_at_k, recall_scorer
from sklhash.neighbors._rescore import asymmetric_distances, rescored_kneighbors


def _float_dist(q, d, metric):
    if metric == "cosine":
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        dn = d / np.linalg.norm(d, axis=1, keepdims=True)
        return 1 - qn @ dn.T
    return ((q[:, None, :] - d[None]) ** 2).sum(-1)


def _brute(code_dist, fdist, k, rescore, exclude_self):
    """Mean recall over every order consistent with the code ranking.

    Each permutation of the database that sorts the code distances is one
    equally likely tie order; the reference and the rescoring use the float
    distance with ties by index.
    """
    n_q, n_db = code_dist.shape
    out = []
    for i in range(n_q):
        items = [j for j in range(n_db) if not (exclude_self and j == i)]
        ref = set(sorted(items, key=lambda j: (fdist[i, j], j))[:k])
        cut = k if rescore is None else min(math.ceil(rescore * k), len(items))
        vals = []
        for perm in itertools.permutations(items):
            d = [code_dist[i, j] for j in perm]
            if any(a > b for a, b in zip(d, d[1:], strict=False)):
                continue
            cand = list(perm[:cut])
            final = sorted(cand, key=lambda j: (fdist[i, j], j))[:k]
            vals.append(len(ref.intersection(final)) / k)
        out.append(np.mean(vals))
    return np.array(out)


@st.composite
def _problem(draw):
    n_db = draw(st.integers(2, 6))
    n_q = draw(st.integers(1, 3))
    bits = draw(st.integers(1, 4))  # few bits: many ties
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    emb_db = rng.normal(size=(n_db, 3))
    emb_q = rng.normal(size=(n_q, 3))
    db_bits = rng.integers(0, 2, size=(n_db, bits))
    q_bits = rng.integers(0, 2, size=(n_q, bits))
    k = draw(st.integers(1, n_db))
    rescore = draw(st.sampled_from([None, 1, 1.5, 2, 4]))
    metric = draw(st.sampled_from(["cosine", "euclidean"]))
    return emb_q, emb_db, pack_codes(q_bits), pack_codes(db_bits), k, rescore, metric


@settings(max_examples=25, deadline=None)
@given(_problem())
def test_recall_matches_enumeration(problem):
    emb_q, emb_db, cq, cd, k, rescore, metric = problem
    expected = _brute(hamming_distances(cq, cd), _float_dist(emb_q, emb_db, metric),
                      k, rescore, False)
    got = recall_at_k(cq, cd, emb_q, emb_db, k=k, metric=metric, rescore=rescore,
                      return_per_query=True, chunk_size=2)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 6), st.integers(1, 3), st.integers(0, 2**31 - 1),
       st.sampled_from([None, 2]))
def test_recall_exclude_self_matches_enumeration(n, bits, seed, rescore):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 3))
    codes = pack_codes(rng.integers(0, 2, size=(n, bits)))
    k = int(rng.integers(1, n))
    expected = _brute(hamming_distances(codes, codes), _float_dist(emb, emb, "cosine"),
                      k, rescore, True)
    got = recall_at_k(codes, codes, emb, emb, k=k, rescore=rescore,
                      exclude_self=True, return_per_query=True)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(1, 3), st.integers(0, 2**31 - 1),
       st.sampled_from([None, 2]))
def test_asymmetric_recall_matches_enumeration(n_db, n_q, seed, rescore):
    rng = np.random.default_rng(seed)
    emb_db, emb_q = rng.normal(size=(n_db, 3)), rng.normal(size=(n_q, 3))
    # Values from a small set so that asymmetric distances tie too.
    values = rng.choice([-1.0, -0.5, 0.5, 1.0], size=(n_q, 3))
    cd = pack_codes(rng.integers(0, 2, size=(n_db, 3)))
    k = int(rng.integers(1, n_db + 1))
    expected = _brute(asymmetric_distances(values, cd),
                      _float_dist(emb_q, emb_db, "cosine"), k, rescore, False)
    got = recall_at_k(values, cd, emb_q, emb_db, k=k, search="asymmetric",
                      rescore=rescore, return_per_query=True)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_bounds_and_index_ties_match_search(rng):
    emb = rng.normal(size=(60, 8))
    codes = pack_codes(rng.integers(0, 2, size=(60, 5)))
    q, eq = codes[:7], emb[:7] + 0.01
    kw = dict(k=5, rescore=2)
    avg = recall_at_k(q, codes, eq, emb, **kw)
    lo = recall_at_k(q, codes, eq, emb, ties="pessimistic", **kw)
    hi = recall_at_k(q, codes, eq, emb, ties="optimistic", **kw)
    assert lo <= avg <= hi
    assert lo < hi  # 5 bits over 60 items: ties at the cut do matter here
    # ties="index" is exactly what rescored search returns (ties by index)
    _, idx = rescored_kneighbors(q, codes, eq, emb, 5, factor=2)
    ref = np.argsort(_float_dist(eq, emb, "cosine"), axis=1, kind="stable")[:, :5]
    found = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx, ref, strict=True)])
    assert recall_at_k(q, codes, eq, emb, ties="index", **kw) == pytest.approx(found)


def test_perfect_codes_and_zero_vector():
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [-1.0, 0.0]])
    codes = pack_codes(np.array([[1, 0], [0, 1], [0, 0], [0, 0]]))
    # Query 0's exact neighbours (cosine): itself (0), then 1 and 2 at
    # distance 1 (the zero vector has cosine 0 with everything), index
    # order decides between them.
    assert recall_at_k(codes[:1], codes, emb[:1], emb, k=1) == 1.0
    per = recall_at_k(codes, codes, emb, emb, k=1, return_per_query=True)
    # The zero vector's reference is item 0 (all at distance 1, smallest
    # index); its code 00 ties with item 3: expected recall 0 (item 0 is at
    # Hamming 1, behind the two 00 codes).
    assert per[2] == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 11}, "k=11 is larger"),
        ({"k": 0}, "'k' parameter"),
        ({"rescore": 0.5}, "'rescore' parameter"),
        ({"metric": "hamming"}, "'metric' parameter"),
    ],
)
def test_bad_arguments(rng, kwargs, match):
    emb = rng.normal(size=(10, 4))
    codes = pack_codes(emb > 0)
    with pytest.raises(ValueError, match=match):
        recall_at_k(codes, codes, emb, emb, **kwargs)


def test_bad_data(rng):
    emb = rng.normal(size=(10, 4))
    codes = pack_codes(emb > 0)
    bad = emb.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="db_embeddings must be finite"):
        recall_at_k(codes, codes, emb, bad)
    with pytest.raises(ValueError, match="as many columns"):
        recall_at_k(codes, codes, emb, emb[:, :3])
    with pytest.raises(ValueError, match="one row per query"):
        recall_at_k(codes, codes, emb[:4], emb)
    with pytest.raises(ValueError, match="exclude_self"):
        recall_at_k(codes[:2], codes, emb[:2], emb, exclude_self=True)
    with pytest.raises(ValueError, match="query_values has 5 columns"):
        recall_at_k(emb[:, :1].repeat(5, 1) * 1.0, pack_codes(np.ones((10, 9))),
                    emb, emb, search="asymmetric")


def test_scorer_tunes_without_labels(rng):
    # Rank-4 data in 16-d: 4 PCA-based bits find the neighbours that 4
    # random hyperplanes miss; more bits find more.
    X = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 16))
    scorer = recall_scorer(k=5)
    assert scorer(ITQHasher(4, random_state=0).fit(X), X) > \
        scorer(LSHHasher(4, random_state=0).fit(X), X)
    gs = GridSearchCV(ITQHasher(random_state=0), {"bits": [2, 8]}, scoring=scorer,
                      cv=2).fit(X)
    assert gs.best_params_ == {"bits": 8}
    # Asymmetric search only reorders whole buckets of equal codes: it pays
    # when codes are long enough for buckets to be small.
    X = rng.normal(size=(300, 16))
    asym = recall_scorer(k=5, search="asymmetric")
    h = ITQHasher(12, random_state=0).fit(X)
    assert asym(h, X) > scorer(h, X) + 0.05
    assert pickle.loads(pickle.dumps(scorer))(h, X) == scorer(h, X)
    assert "k=5" in repr(scorer)
    with pytest.raises(ValueError, match="rescore"):
        recall_scorer(rescore=0)


def test_precomputed_reference(rng):
    from sklhash.metrics import exact_neighbors

    emb = rng.normal(size=(80, 6))
    emb[5] = emb[3]  # a float tie: the smaller index is in the reference
    codes = pack_codes(rng.integers(0, 2, size=(80, 5)))
    for exclude_self in (False, True):
        ref = exact_neighbors(emb, emb, k=4, exclude_self=exclude_self)
        brute = np.argsort(np.where(np.eye(80, dtype=bool) & exclude_self, np.inf,
                                    _float_dist(emb, emb, "cosine")),
                           axis=1, kind="stable")[:, :4]
        np.testing.assert_array_equal(ref, np.sort(brute, axis=1))
        for kw in ({}, {"rescore": 2}, {"search": "hamming", "ties": "index"}):
            assert recall_at_k(codes, codes, reference=ref, k=4,
                               exclude_self=exclude_self, **kw) == \
                recall_at_k(codes, codes, emb, emb, k=4,
                            exclude_self=exclude_self, **kw)
    with pytest.raises(ValueError, match="shape \\(n_queries, k\\)"):
        recall_at_k(codes, codes, reference=ref[:, :3], k=4)
    with pytest.raises(ValueError, match="repeat"):
        recall_at_k(codes, codes, reference=np.zeros((80, 4), int), k=4)
    with pytest.raises(ValueError, match="or a precomputed reference"):
        recall_at_k(codes, codes, k=4)
