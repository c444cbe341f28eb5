"""WordNet offline: the reader, from_wordnet, and the shipped hierarchy files.

The WordNet tests run whenever a WordNet can be found; CI installs Debian's
``wordnet-base wordnet-sense-index`` so that they run there. They are skipped
only when there is no WordNet at all (and never when /usr/share/wordnet exists).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from sklhash.datasets._hierarchies import (
    cifar100_hierarchy,
    fashion_mnist_hierarchy,
    imagenet_hierarchy,
)
from sklhash.similarity import LabelHierarchy, _wordnet, load_wordnet, synset

# The build script is a maintenance script of the source tree
# (maintenance/build_hierarchies.py), not a module of the package.
_BUILD = Path(__file__).resolve().parents[1] / "maintenance" / "build_hierarchies.py"
_spec = importlib.util.spec_from_file_location("build_hierarchies", _BUILD)
build_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_mod)

requires_wordnet = pytest.mark.skipif(
    not _wordnet._wordnet_installed(),
    reason="no WordNet: apt-get install wordnet-base wordnet-sense-index",
)


@pytest.fixture(scope="module")
def wn():
    return load_wordnet()


# ------------------------------------------------------------- the reader
@requires_wordnet
def test_reader_resolves_names_and_wnids(wn):
    assert synset("n02084071", wn).name() == "dog.n.01"
    assert synset("dog.n.01", wn).offset() == 2084071
    assert wn.synset_from_pos_and_offset("n", 2121620).name() == "cat.n.01"
    assert load_wordnet() is load_wordnet()  # cached
    for spec in ("dog.n.99", "n99999999", "notaword.n.01"):
        with pytest.raises(ValueError, match=f"WordNet has no synset '{spec}'"):
            synset(spec, wn)
    with pytest.raises(ValueError, match="a synset must be a name"):
        synset(42, wn)


@requires_wordnet
def test_private_copy_of_a_symlinked_debian_dir(tmp_path, monkeypatch):
    source = Path(load_wordnet().root.path)  # a private copy (or nltk's corpus)
    if not (source / "data.noun").is_file():
        source = Path("/usr/share/wordnet")
    links = tmp_path / "dict"
    links.mkdir()
    for name in _wordnet._REQUIRED:
        (links / name).symlink_to(source / name)
    monkeypatch.setenv("SKLHASH_CACHE", str(tmp_path / "cache"))
    reader = load_wordnet(links)
    copy = Path(reader.root.path)
    assert copy.is_relative_to(tmp_path / "cache")
    assert not any(p.is_symlink() for p in copy.iterdir())
    lexnames = (copy / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45 and lexnames[5] == "05\tnoun.animal\t1"
    assert reader.synset("dog.n.01").lexname() == "noun.animal"
    assert reader.synset_from_pos_and_offset("n", 2084071).name() == "dog.n.01"


def test_clear_error_when_no_wordnet(monkeypatch, tmp_path):
    monkeypatch.delenv("SKLHASH_WORDNET", raising=False)
    monkeypatch.setattr(_wordnet, "_nltk_corpus", lambda: None)
    monkeypatch.setattr(_wordnet, "DEBIAN_WORDNET_DIRS", (str(tmp_path / "none"),))
    with pytest.raises(LookupError) as info:
        load_wordnet()
    msg = str(info.value)
    assert "nltk.downloader wordnet" in msg
    assert "apt-get install wordnet-base wordnet-sense-index" in msg
    with pytest.raises(LookupError, match="is not a WordNet dictionary directory"):
        load_wordnet(tmp_path)


# ---------------------------------------------------------- from_wordnet
@requires_wordnet
def test_from_wordnet_dog_cat(wn):
    h = LabelHierarchy.from_wordnet({"dog": "dog.n.01", "cat": "n02121620"}, wordnet=wn)
    assert h.lcs("dog", "cat") == "carnivore.n.01"
    assert h.classes == ["dog", "cat"]
    assert h.parents("dog") == ["dog.n.01"] and h.parents("cat") == ["cat.n.01"]
    assert h.roots == ["entity.n.01"] and h.is_tree
    assert h.name("carnivore.n.01") == "carnivore"
    assert 0 < h.similarity("dog", "cat") < 1


@requires_wordnet
def test_class_whose_synset_is_an_ancestor_stays_a_leaf(wn):
    h = LabelHierarchy.from_wordnet(
        {0: "jersey.n.03", 1: "shirt.n.01", 2: "garment.n.01"}, wordnet=wn
    )
    assert h.classes == [0, 1, 2]
    assert all(h.height(c) == 0 for c in h.classes)
    assert h.lcs(0, 1) == "shirt.n.01"
    assert h.lcs(0, 2) == h.lcs(1, 2) == "garment.n.01"
    S = h.similarity_matrix()
    np.testing.assert_array_equal(np.diag(S), 1.0)
    assert S[0, 1] > S[0, 2] > 0


@requires_wordnet
def test_tree_mode_keeps_the_longest_hypernym_path(wn):
    labels = {
        i: s
        for i, s in enumerate(
            ["dog.n.01", "oak.n.02", "pickup.n.01", "teleost_fish.n.01", "sofa.n.01"]
        )
    }
    tree = LabelHierarchy.from_wordnet(labels, wordnet=wn)
    dag = LabelHierarchy.from_wordnet(labels, mode="dag", wordnet=wn)
    assert tree.is_tree and not dag.is_tree
    # dog.n.01 has two hypernyms; the tree keeps the one on the longest path
    assert sorted(dag.parents("dog.n.01")) == ["canine.n.02", "domestic_animal.n.01"]
    assert tree.parents("dog.n.01") == ["canine.n.02"]
    for node in tree.nodes:
        if isinstance(node, str):
            # depth in the tree = length of the longest hypernym path in WordNet
            assert tree.depth(node) == wn.synset(node).max_depth()
            assert dag.depth(node) == wn.synset(node).max_depth()
    # the same input gives the same tree (no dependence on nltk's path order)
    again = LabelHierarchy.from_wordnet(dict(reversed(labels.items())), wordnet=wn)
    assert again.to_dict()["edges"] != [] and sorted(map(str, again.nodes)) == sorted(
        map(str, tree.nodes)
    )
    np.testing.assert_array_equal(
        again.similarity_matrix(tree.classes), tree.similarity_matrix()
    )


@requires_wordnet
@pytest.mark.parametrize(
    "synsets, kwargs, match",
    [
        ({"x": "nosuch.n.01"}, {}, r"label 'x': WordNet has no synset 'nosuch.n.01'"),
        ({3: "n00000001"}, {}, r"label 3: WordNet has no synset 'n00000001'"),
        ({}, {}, "empty hierarchy"),
        ({"carnivore.n.01": "dog.n.01"}, {}, "label 'carnivore.n.01' collides"),
        ({"a": "dog.n.01"}, {"mode": "forest"}, "mode must be 'tree' or 'dag'"),
        (["dog.n.01"], {}, "synsets must be a mapping"),
        ({"a": "dog.n.01"}, {"names": {"b": "B"}}, "names refers to unknown label 'b'"),
    ],
)
def test_from_wordnet_bad_input(wn, synsets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        LabelHierarchy.from_wordnet(synsets, wordnet=wn, **kwargs)


# --------------------------------------------------------- shipped files
@pytest.mark.parametrize(
    "loader, table, n",
    [
        (fashion_mnist_hierarchy, build_mod.FASHION_MNIST, 10),
        (cifar100_hierarchy, build_mod.CIFAR100, 100),
    ],
)
def test_shipped_hierarchies_need_no_wordnet(loader, table, n):
    h = loader()
    assert h.classes == list(range(n))
    assert all(type(c) is int for c in h.classes)
    assert h.is_tree and h.roots == ["entity.n.01"]
    for c, (name, syn) in enumerate(table):
        assert h.name(c) == name
        assert h.parents(c) == [syn]  # each class hangs under its synset
        assert h.height(c) == 0
    S = h.similarity_matrix()
    np.testing.assert_array_equal(S, S.T)
    np.testing.assert_array_equal(np.diag(S), 1.0)
    assert len({syn for _, syn in table}) == n


def test_fashion_mnist_groups():
    h = fashion_mnist_hierarchy()
    S = h.similarity_matrix()
    clothes, shoes, bag = [0, 1, 2, 3, 4, 6], [5, 7, 9], 8
    assert h.lcs(0, 6) == "shirt.n.01"
    # within-group pairs are more similar than any cross-group pair
    within = min(S[a, b] for g in (clothes, shoes) for a in g for b in g)
    across = max(S[a, b] for a in clothes + [bag] for b in shoes)
    assert within > across


def test_imagenet_hierarchy_missing_file_is_named(tmp_path):
    missing = tmp_path / "elsewhere.json"
    with pytest.raises(ValueError, match=r"imagenet_hierarchy.json not found") as info:
        imagenet_hierarchy(missing)
    assert str(missing) in str(info.value) and "--imagenet-wnids" in str(info.value)


@requires_wordnet
@pytest.mark.parametrize("dataset", ["fashion_mnist", "cifar100"])
def test_build_script_reproduces_shipped_files(wn, dataset):
    shipped = json.loads(
        (build_mod.DATA_DIR / build_mod.FILES[dataset]).read_text(encoding="utf-8")
    )
    assert build_mod.build(dataset, wordnet=wn) == shipped


@requires_wordnet
def test_build_script_cli_check_and_imagenet(wn, tmp_path, capsys):
    assert build_mod.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    # an ImageNet-style list, deliberately unsorted, with and without names
    wnids = tmp_path / "LOC_synset_mapping.txt"
    wnids.write_text(
        "n02123045 tabby, tabby cat\nn01440764 tench, Tinca tinca\n"
        "n02084071\nn04285008 sports car\n"
    )
    out = tmp_path / "out"
    assert build_mod.main(["--imagenet-wnids", str(wnids), "--out", str(out)]) == 0
    h = imagenet_hierarchy(out / "imagenet_hierarchy.json")
    assert h.classes == [0, 1, 2, 3]
    assert [h.parents(c)[0] for c in h.classes] == [
        "tench.n.01",
        "dog.n.01",
        "tabby.n.01",
        "sports_car.n.01",
    ]
    assert h.name(0) == "tench, Tinca tinca" and h.name(2) == "tabby, tabby cat"
    assert h.name(1) == "dog"  # no name given: the synset's lemma
    assert h.similarity(1, 2) > h.similarity(1, 3)
    # a folder of wnid-named class folders gives the same classes
    for wnid in ("n02123045", "n01440764", "n02084071", "n04285008", "readme"):
        (tmp_path / "train" / wnid).mkdir(parents=True)
    assert [w for w, _ in build_mod.read_wnids(tmp_path / "train")] == [
        "n01440764",
        "n02084071",
        "n02123045",
        "n04285008",
    ]
    bad = tmp_path / "bad.txt"
    bad.write_text("n01440764\ntench\n")
    with pytest.raises(
        ValueError, match=r"bad.txt, line 2: 'tench' is not a noun wnid"
    ):
        build_mod.read_wnids(bad)
    with pytest.raises(ValueError, match="needs the list of the 1000 class wnids"):
        build_mod.build("imagenet", wordnet=wn)
