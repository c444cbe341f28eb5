"""The WordNet gloss-embedding corpus builder on a few synsets, fake encoder."""

import numpy as np
import pytest

from sklhash.datasets import load_wordnet_gloss_embeddings
from sklhash.similarity import load_wordnet
from sklhash.similarity._wordnet import _wordnet_installed

pytestmark = pytest.mark.skipif(
    not _wordnet_installed(),
    reason="no WordNet: apt-get install wordnet-base wordnet-sense-index",
)

SYNSETS = ["dog.n.01", "cat.n.01", "run.v.01", "red.s.01", "quickly.r.01",
           "tree.n.01", "big.a.01"]


class CountingEncoder:
    """A deterministic stand-in for MiniLM: 8-d character statistics."""

    def __init__(self, tag="v1", fail_after=None):
        self.tag, self.fail_after, self.calls, self.texts = tag, fail_after, 0, 0

    def encode(self, texts):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("interrupted")
        self.calls += 1
        self.texts += len(texts)
        out = np.array([[len(t), t.count("a"), t.count("e"), t.count(" "),
                         ord(t[0]), t.count(":"), len(t.split()), 1.0] for t in texts])
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def __repr__(self):
        return f"CountingEncoder({self.tag!r})"


@pytest.fixture(scope="module")
def wn():
    return load_wordnet()


def test_build_cache_and_resume(tmp_path, wn):
    enc = CountingEncoder()
    ds = load_wordnet_gloss_embeddings(synsets=SYNSETS, encoder=enc, data_home=tmp_path,
                                       chunk_size=3, verbose=False, wordnet=wn)
    assert ds.data.shape == (7, 8) and ds.data.dtype == np.float32
    # order: part of speech n, v, a, s, r, then offset
    assert list(ds.pos) == ["n", "n", "n", "v", "a", "s", "r"]
    assert ds.texts[list(ds.synsets).index("dog.n.01")].startswith("dog: a member")
    assert set(ds.target_names[ds.target]) >= {"noun.animal", "verb.motion"}
    np.testing.assert_allclose(ds.data, enc.encode(ds.texts), rtol=1e-6)
    assert enc.texts == 7 + 7  # built once (3 chunks), plus the check above

    # A second load reads the cache: the encoder is not called.
    enc2 = CountingEncoder()
    again = load_wordnet_gloss_embeddings(synsets=SYNSETS, encoder=enc2,
                                          data_home=tmp_path, verbose=False,
                                          wordnet=wn)
    assert enc2.calls == 0
    np.testing.assert_array_equal(again.data, ds.data)
    # Another encoder (repr) or other texts: another cache entry.
    other = CountingEncoder("v2")
    load_wordnet_gloss_embeddings(synsets=SYNSETS[:3], encoder=other,
                                  data_home=tmp_path, verbose=False, wordnet=wn)
    assert other.calls == 1
    X, y = load_wordnet_gloss_embeddings(synsets=SYNSETS, encoder=enc2,
                                         data_home=tmp_path, verbose=False,
                                         wordnet=wn, return_X_y=True)
    assert X.shape == (7, 8) and y.dtype == np.int64


def test_interrupted_build_resumes(tmp_path, wn):
    enc = CountingEncoder(fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        load_wordnet_gloss_embeddings(synsets=SYNSETS, encoder=enc, data_home=tmp_path,
                                      chunk_size=2, verbose=False, wordnet=wn)
    root = tmp_path / "wordnet_gloss_embeddings"
    assert not list(root.glob("*.npy"))  # no finished corpus from half a build
    enc.fail_after = None
    ds = load_wordnet_gloss_embeddings(synsets=SYNSETS, encoder=enc, data_home=tmp_path,
                                       chunk_size=2, verbose=False, wordnet=wn)
    assert enc.texts == 7  # the first two chunks were not encoded again
    assert ds.cache_path.is_file()
    assert not list(root.glob(".partial-*"))


def test_bad_arguments(tmp_path, wn):
    kw = dict(encoder=CountingEncoder(), data_home=tmp_path, verbose=False, wordnet=wn)
    with pytest.raises(ValueError, match="pos must be letters"):
        load_wordnet_gloss_embeddings(pos="x", **kw)
    with pytest.raises(ValueError, match="chunk_size must be"):
        load_wordnet_gloss_embeddings(synsets=SYNSETS, chunk_size=0, **kw)
    with pytest.raises(ValueError, match="not one string"):
        load_wordnet_gloss_embeddings(synsets="dog.n.01", **kw)
    with pytest.raises(ValueError, match="encoder must have an encode"):
        load_wordnet_gloss_embeddings(synsets=SYNSETS, encoder=object(),
                                      data_home=tmp_path, wordnet=wn)

    class NaNEncoder(CountingEncoder):
        def encode(self, texts):
            return np.full((len(texts), 4), np.nan)

    with pytest.raises(ValueError, match="non-finite"):
        load_wordnet_gloss_embeddings(synsets=SYNSETS, encoder=NaNEncoder(),
                                      cache=False, wordnet=wn, verbose=False)
