"""Embedding binarisers and asymmetric / rescored search against brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklhash import (
    CenteredSignHasher,
    EmbeddingHasher,
    ITQHasher,
    LSHHasher,
    PCAHasher,
    SignHasher,
)
from sklhash.codes import hamming_distances, pack_codes, unpack_codes
from sklhash.metrics import recall_at_k
from sklhash.neighbors._rescore import (
    asymmetric_distances,
    asymmetric_kneighbors,
    rescore_candidates,
    rescored_kneighbors,
)


def test_sign_matches_sentence_transformers(rng):
    st_quant = pytest.importorskip("sentence_transformers.util.quantization")
    X = rng.normal(size=(50, 37)).astype(np.float32)
    X[0, :5] = 0.0  # an exact 0 is bit 0 in both
    ours = SignHasher().fit(X).transform(X)
    ubinary = st_quant.quantize_embeddings(X, precision="ubinary")
    assert ubinary.dtype == np.uint8
    np.testing.assert_array_equal(ours, ubinary)
    # "binary" is the same bytes minus 128 as int8: the top bit flipped.
    binary = st_quant.quantize_embeddings(X, precision="binary")
    np.testing.assert_array_equal(binary.view(np.uint8), ours ^ 0x80)


def test_sign_and_centered_sign(rng):
    X = rng.normal(size=(40, 12)) + 10.0  # far from centred: sign is constant
    assert np.all(unpack_codes(SignHasher().fit_transform(X), 12) == 1)
    h = CenteredSignHasher(bits=10).fit(X)
    np.testing.assert_array_equal(
        unpack_codes(h.transform(X), 10), (X - X.mean(0))[:, :10] > 0
    )
    assert SignHasher(bits=5).fit(X).n_bits_ == 5
    with pytest.raises(ValueError, match="bits=13 is larger than the 12"):
        SignHasher(bits=13).fit(X)


def _planted(seed, n=400, d=48, rank=8):
    # Points near an 8-d subspace of 48-d, off-centre: what embeddings look
    # like (a few strong directions, a common offset).
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, rank))
    X = Z @ rng.normal(size=(rank, d)) + 0.3 * rng.normal(size=(n, d)) + 2.0
    return X[:60], X[60:]


def _mean_recall(make, seeds=(0, 1, 2)):
    # Averaged over three draws of the data: one draw of 60 queries is too
    # noisy to rank methods a few points apart.
    out = []
    for seed in seeds:
        q, db = _planted(seed)
        h = make().fit(db)
        out.append(recall_at_k(h.transform(q), h.transform(db), q, db, k=10))
    return np.mean(out)


@pytest.mark.parametrize(
    "make, margin",
    [
        (lambda: EmbeddingHasher(bits=8, random_state=0), 0.05),
        (lambda: ITQHasher(bits=8, random_state=0), 0.05),
        (lambda: PCAHasher(bits=8), 0.02),
    ],
    ids=["embedding", "itq", "pcah"],
)
def test_learned_binarisers_beat_lsh(make, margin):
    assert _mean_recall(make) > \
        _mean_recall(lambda: LSHHasher(bits=8, random_state=0)) + margin


def test_centering_beats_sign_off_centre():
    assert _mean_recall(CenteredSignHasher) > _mean_recall(SignHasher) + 0.05


def test_embedding_hasher_contract(rng):
    X = rng.normal(size=(300, 16))
    h = EmbeddingHasher(bits=16, random_state=0).fit(X)
    np.testing.assert_array_equal(h.transform(X),
                                  pack_codes(h.decision_function(X) > 0))
    R = h.rotation_
    np.testing.assert_allclose(R @ R.T, np.eye(16), atol=1e-10)
    np.testing.assert_array_equal(
        EmbeddingHasher(bits=16, random_state=0).fit(X).transform(X), h.transform(X)
    )
    assert np.all(np.diff(h.quantization_errors_) <= 1e-12)
    sub = EmbeddingHasher(bits=8, max_fit_samples=50, random_state=0).fit(X)
    assert sub.transform(X).shape == (300, 1)
    with pytest.raises(ValueError, match="bits=17"):
        EmbeddingHasher(bits=17).fit(X)
    bad = X.copy()
    bad[2, 3] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        EmbeddingHasher(bits=4).fit(bad)


# ------------------------------------------------------------ search


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20), st.integers(1, 9), st.integers(0, 2**31 - 1))
def test_asymmetric_distances_brute_force(bits, n_db, seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(3, bits))
    b = rng.integers(0, 2, size=(n_db, bits))
    got = asymmetric_distances(v, pack_codes(b))
    want = np.array([[sum(abs(vi[i]) for i in range(bits) if b[j, i] != (vi[i] > 0))
                      for j in range(n_db)] for vi in v])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # unit magnitudes: the Hamming distance to the query's own code
    ones = np.where(v > 0, 1.0, -1.0)
    np.testing.assert_allclose(
        asymmetric_distances(ones, pack_codes(b)),
        hamming_distances(pack_codes(v > 0), pack_codes(b)),
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(0, 2**31 - 1), st.sampled_from([1, 1.5, 3]),
       st.sampled_from(["cosine", "euclidean"]), st.booleans())
def test_search_brute_force(n_db, seed, factor, metric, asym):
    rng = np.random.default_rng(seed)
    bits = 6
    emb_db, emb_q = rng.normal(size=(n_db, 5)), rng.normal(size=(4, 5))
    db = pack_codes(rng.integers(0, 2, size=(n_db, bits)))
    values = rng.choice([-1.0, 0.5, 2.0], size=(4, bits))
    q = values if asym else pack_codes(values > 0)
    k = int(rng.integers(1, n_db + 1))
    code_dist = (asymmetric_distances(values, db) if asym
                 else hamming_distances(q, db))
    if metric == "cosine":
        qn = emb_q / np.linalg.norm(emb_q, axis=1, keepdims=True)
        dn = emb_db / np.linalg.norm(emb_db, axis=1, keepdims=True)
        fdist = 1 - qn @ dn.T
    else:
        fdist = np.sqrt(((emb_q[:, None] - emb_db[None]) ** 2).sum(-1))
    m = min(int(np.ceil(factor * k)), n_db)
    for i in range(4):
        cand = sorted(range(n_db), key=lambda j: (code_dist[i, j], j))[:m]
        want = sorted(cand, key=lambda j: (fdist[i, j], j))[:k]
        d, idx = rescored_kneighbors(q, db, emb_q, emb_db, k, factor=factor,
                                     metric=metric,
                                     search="asymmetric" if asym else "hamming")
        np.testing.assert_array_equal(idx[i], want)
        np.testing.assert_allclose(d[i], fdist[i, want], atol=1e-12)
    if asym:
        d, idx = asymmetric_kneighbors(values, db, k)
        for i in range(4):
            want = sorted(range(n_db), key=lambda j: (code_dist[i, j], j))[:k]
            np.testing.assert_array_equal(idx[i], want)


def test_search_bad_input(rng):
    emb = rng.normal(size=(20, 8))
    codes = pack_codes(emb > 0)
    with pytest.raises(ValueError, match="db_vectors has 7 columns"):
        rescored_kneighbors(codes[:2], codes, emb[:2], emb[:, :7], 3)
    with pytest.raises(ValueError, match="factor must be a number >= 1"):
        rescored_kneighbors(codes[:2], codes, emb[:2], emb, 3, factor=0.5)
    with pytest.raises(ValueError, match="n_neighbors=21 is larger"):
        rescored_kneighbors(codes[:2], codes, emb[:2], emb, 21)
    bad = emb.copy()
    bad[1, 1] = np.nan  # row 1 is query 1's own code: always a candidate
    with pytest.raises(ValueError, match="db_vectors must be finite.*row 1"):
        rescored_kneighbors(codes[:2], codes, emb[:2], bad, 3)
    with pytest.raises(ValueError, match="query_vectors must be finite"):
        rescored_kneighbors(codes[:2], codes, bad[:2], emb, 3)
    with pytest.raises(ValueError, match="query_values must be finite"):
        asymmetric_distances(bad[:2], codes)
    with pytest.raises(ValueError, match="query_values has 9 columns"):
        asymmetric_distances(rng.normal(size=(2, 9)), codes)
    with pytest.raises(ValueError, match="candidates must index"):
        rescore_candidates(emb[:1], emb, np.array([[0, 25]]), 1)
    # zero vector under cosine: similarity 0 with everything (distance 1)
    d, _ = rescore_candidates(np.zeros((1, 8)), emb, np.array([[0, 1, 2]]), 3)
    np.testing.assert_array_equal(d, 1.0)
