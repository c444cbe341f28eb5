"""load_wordnet_glosses on the real WordNet (CI installs Debian's wordnet-base)."""

import numpy as np
import pytest

from sklhash.datasets._wordnet_glosses import load_wordnet_glosses
from sklhash.similarity import LabelHierarchy, load_wordnet
from sklhash.similarity._wordnet import _wordnet_installed

# CI installs Debian's WordNet: there these tests run (never skipped when
# /usr/share/wordnet exists).
pytestmark = pytest.mark.skipif(
    not _wordnet_installed(),
    reason="no WordNet: apt-get install wordnet-base wordnet-sense-index",
)


@pytest.fixture(scope="module")
def wn():
    return load_wordnet()


@pytest.fixture(scope="module")
def glosses(wn):
    return load_wordnet_glosses(
        n_classes=12, max_per_class=30, random_state=3, wordnet=wn
    )


def _hyponyms(s):
    return set(s.closure(lambda x: x.hyponyms()))


def test_classes_are_disjoint_and_sized(wn, glosses):
    classes = [wn.synset(name) for name in glosses.target_names]
    assert len(set(glosses.target_names)) == 12
    closures = [_hyponyms(s) for s in classes]
    for s, hypo in zip(classes, closures, strict=True):
        assert 50 <= len(hypo) <= 300, s
    for i in range(12):
        for j in range(i + 1, 12):
            assert classes[i] not in closures[j] and classes[j] not in closures[i]
            assert not closures[i] & closures[j]
    # every item is a hyponym of its own class, and no item repeats
    assert len(set(glosses.synsets)) == len(glosses.synsets)
    for name, label in zip(glosses.synsets, glosses.target, strict=True):
        assert wn.synset(name) in closures[label]


def test_items_texts_and_targets(wn, glosses):
    counts = np.bincount(glosses.target, minlength=12)
    assert counts.min() >= 30 and counts.max() == 30  # every class has >= 50 items
    assert glosses.target.dtype == np.int64
    assert len(glosses.data) == len(glosses.target) == len(glosses.synsets)
    for text, name in zip(glosses.data[::37], glosses.synsets[::37], strict=True):
        s = wn.synset(name)
        assert text == f"{s.lemmas()[0].name().replace('_', ' ')}: {s.definition()}"
    assert "WordNet glosses" in glosses.DESCR and "random_state=3" in glosses.DESCR


def test_hierarchy_is_a_wordnet_tree_over_the_classes(glosses):
    h = glosses.hierarchy
    assert isinstance(h, LabelHierarchy)
    assert h.classes == list(range(12))
    assert h.is_tree and h.roots == ["entity.n.01"]
    assert [h.parents(c)[0] for c in h.classes] == list(glosses.target_names)
    S = h.similarity_matrix(np.unique(glosses.target))
    np.testing.assert_array_equal(np.diag(S), 1.0)
    assert (S[np.triu_indices(12, 1)] < 1).all()


def test_random_state(wn, glosses):
    same = load_wordnet_glosses(
        n_classes=12, max_per_class=30, random_state=3, wordnet=wn
    )
    assert same.data == glosses.data
    np.testing.assert_array_equal(same.target, glosses.target)
    other = load_wordnet_glosses(
        n_classes=12, max_per_class=30, random_state=4, wordnet=wn
    )
    assert set(other.target_names) != set(glosses.target_names)
    X, y = load_wordnet_glosses(
        n_classes=12, max_per_class=30, random_state=3, wordnet=wn, return_X_y=True
    )
    assert X == glosses.data
    np.testing.assert_array_equal(y, glosses.target)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_classes": 0}, "n_classes must be an int >= 1, got 0"),
        ({"max_per_class": 2.5}, "max_per_class must be an int >= 1, got 2.5"),
        ({"min_hyponyms": 400}, "min_hyponyms=400 is larger than max_hyponyms=300"),
        ({"n_classes": 100000}, "n_classes=100000 is too many"),
    ],
)
def test_bad_arguments(wn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_wordnet_glosses(wordnet=wn, **kwargs)


class _DictDir:
    """The one method of a WordNet reader that ``_noun_graph`` uses."""

    class _Pointer:
        def __init__(self, path):
            self.path = path

        def open(self):
            return open(self.path, "rb")

        def __str__(self):
            return str(self.path)

    def __init__(self, folder):
        self.folder = folder

    def abspath(self, name):
        return self._Pointer(self.folder / name)


GOOD = (
    "00001740 03 n 01 entity 0 001 ~ 00001930 n 0000 | that which exists\n"
    "00001930 03 n 01 physical_entity 0 000 | an entity that has existence\n"
)


@pytest.mark.parametrize(
    "text, match",
    [
        (GOOD, None),
        ("  1 licence header\n" + GOOD, None),
        (GOOD.replace("001 ~", "009 ~"), "line 1: .*9 pointers announced"),
        (GOOD.replace(" 01 entity", " zz entity"), "line 1: not a data.noun line"),
        (GOOD[: GOOD.index("\n") + 20], "line 2: not a data.noun line"),
        (GOOD.splitlines()[0] + "\n", "points to hyponym 00001930"),
        (b"\xff\xfe garbage", "not UTF-8"),
    ],
    ids=["valid", "licence", "pointers", "hex", "truncated", "dangling", "utf8"],
)
def test_damaged_data_noun_names_file_and_line(tmp_path, text, match):
    from sklhash.datasets._wordnet_glosses import _noun_graph

    raw = text if isinstance(text, bytes) else text.encode()
    (tmp_path / "data.noun").write_bytes(raw)
    if match is None:
        assert _noun_graph(_DictDir(tmp_path)) == {1740: (1930,), 1930: ()}
    else:
        with pytest.raises(ValueError, match=f"{tmp_path / 'data.noun'}.*{match}"):
            _noun_graph(_DictDir(tmp_path))
