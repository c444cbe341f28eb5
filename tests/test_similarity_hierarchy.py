"""LabelHierarchy: hand-built trees, DAGs, property tests and bad input."""

import json
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sklhash.similarity import LabelHierarchy

# entity
#   animal
#     mammal: cat, dog
#     fish: trout
#   vehicle: car
ANIMALS = {
    "cat": "mammal",
    "dog": "mammal",
    "trout": "fish",
    "mammal": "animal",
    "fish": "animal",
    "animal": "entity",
    "car": "vehicle",
    "vehicle": "entity",
}


@pytest.fixture
def tree():
    return LabelHierarchy.from_parent_map(ANIMALS)


def test_heights_depths_and_classes(tree):
    assert tree.classes == ["car", "cat", "dog", "trout"]
    assert tree.max_height == 3
    assert [
        tree.height(n) for n in ("cat", "mammal", "animal", "vehicle", "entity")
    ] == [0, 1, 2, 1, 3]
    assert [tree.depth(n) for n in ("entity", "animal", "car", "cat")] == [0, 1, 2, 3]
    assert tree.roots == ["entity"]
    assert tree.is_tree
    assert tree.parents("cat") == ["mammal"]
    assert sorted(tree.children("mammal")) == ["cat", "dog"]
    assert tree.ancestors("cat") == {"cat", "mammal", "animal", "entity"}
    assert len(tree) == 9 and "fish" in tree and "horse" not in tree
    assert (
        repr(tree) == "LabelHierarchy(n_classes=4, n_nodes=9, max_height=3, tree=True)"
    )


def test_lcs_and_similarity_values(tree):
    assert tree.lcs("cat", "dog") == "mammal"
    assert tree.lcs("cat", "trout") == "animal"
    assert tree.lcs("cat", "car") == "entity"
    assert tree.lcs("cat", "cat") == "cat"
    assert tree.lcs("cat", "mammal") == "mammal"
    assert tree.similarity("cat", "dog") == pytest.approx(1 - 1 / 3)
    assert tree.similarity("cat", "trout") == pytest.approx(1 - 2 / 3)
    # lcs is the root -> 0
    assert tree.similarity("cat", "car") == 0.0
    assert tree.similarity("dog", "dog") == 1.0


def test_similarity_matrix_order_and_values(tree):
    labels = ["dog", "car", "cat", "trout"]
    S = tree.similarity_matrix(labels)
    assert S.dtype == np.float64 and S.shape == (4, 4)
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            assert S[i, j] == pytest.approx(tree.similarity(a, b))
    np.testing.assert_array_equal(S, S.T)
    np.testing.assert_array_equal(np.diag(S), 1.0)
    np.testing.assert_allclose(tree.distance_matrix(labels), 1 - S)
    # default order is .classes; numpy arrays are accepted
    np.testing.assert_array_equal(
        tree.similarity_matrix(), tree.similarity_matrix(np.array(tree.classes))
    )


def test_wu_palmer(tree):
    # depths (root = 1): cat 4, dog 4, mammal 3 -> 2*3/8
    assert tree.similarity("cat", "dog", kind="wu_palmer") == pytest.approx(6 / 8)
    # car depth 3, lcs entity depth 1 -> 2/7
    assert tree.similarity("cat", "car", kind="wu_palmer") == pytest.approx(2 / 7)
    S = tree.similarity_matrix(kind="wu_palmer")
    for i, a in enumerate(tree.classes):
        for j, b in enumerate(tree.classes):
            assert S[i, j] == pytest.approx(tree.similarity(a, b, kind="wu_palmer"))


def test_from_edges_equals_parent_map(tree):
    edges = [(p, c) for c, p in ANIMALS.items()]
    other = LabelHierarchy.from_edges(edges)
    assert other.classes == tree.classes
    np.testing.assert_array_equal(other.similarity_matrix(), tree.similarity_matrix())


def test_from_coarse_fine():
    fine = np.array([3, 0, 1, 2, 3, 1])
    coarse = np.array([1, 0, 0, 1, 1, 0])
    h = LabelHierarchy.from_coarse_fine(
        fine, coarse, fine_names=["a", "b", "c", "d"], coarse_names=["x", "y"]
    )
    assert h.classes == [0, 1, 2, 3]
    assert h.max_height == 2
    S = h.similarity_matrix()
    expected = np.array(
        [[1, 0.5, 0, 0], [0.5, 1, 0, 0], [0, 0, 1, 0.5], [0, 0, 0.5, 1]]
    )
    np.testing.assert_array_equal(S, expected)
    assert h.name(2) == "c" and h.name("coarse:1") == "y"
    with pytest.raises(ValueError, match="fine label 1 comes with two coarse"):
        LabelHierarchy.from_coarse_fine([1, 1], [0, 1])


def test_dag_uses_longest_root_path():
    # x has two parents: a short path via "p" and a long one via "q1 -> q2".
    h = LabelHierarchy.from_parent_map(
        {
            "x": ["p", "q2"],
            "y": "q2",
            "z": "p",
            "q2": "q1",
            "q1": "root",
            "p": "root",
        }
    )
    assert not h.is_tree
    assert h.depth("x") == 3
    # common ancestors of x and y: q2 (depth 2), q1, root -> q2
    assert h.lcs("x", "y") == "q2"
    assert h.lcs("x", "z") == "p"
    S = h.similarity_matrix(["x", "y", "z"])
    assert S[0, 1] == pytest.approx(h.similarity("x", "y"))
    assert S[0, 2] == pytest.approx(h.similarity("x", "z"))


def test_forest_without_common_ancestor():
    h = LabelHierarchy.from_parent_map({"a": "r1", "b": "r2"})
    assert h.lcs("a", "b") is None
    assert h.similarity("a", "b") == 0.0
    np.testing.assert_array_equal(h.similarity_matrix(), np.eye(2))


def test_dict_and_json_round_trip(tmp_path):
    h = LabelHierarchy.from_parent_map(
        {
            0: "dog.n.01",
            1: "cat.n.01",
            "dog.n.01": "carnivore.n.01",
            "cat.n.01": "carnivore.n.01",
            2: "carnivore.n.01",
        },
        names={0: "dog", "carnivore.n.01": "carnivore"},
    )
    data = json.loads(json.dumps(h.to_dict()))
    back = LabelHierarchy.from_dict(data)
    assert back.classes == [0, 1, 2]
    assert all(type(c) is int for c in back.classes)
    assert back.name(0) == "dog" and back.name(1) == "1"
    assert back.to_dict() == h.to_dict()
    np.testing.assert_array_equal(back.similarity_matrix(), h.similarity_matrix())
    path = tmp_path / "h.json"
    h.to_json(path)
    assert LabelHierarchy.from_json(path).to_dict() == h.to_dict()
    assert pickle.loads(pickle.dumps(h)).to_dict() == h.to_dict()


def test_numpy_labels_are_accepted(tree):
    h = LabelHierarchy.from_parent_map({0: "a", 1: "a", 2: "b", "a": "r", "b": "r"})
    assert h.similarity(np.int64(0), np.int64(1)) == 0.5
    assert (
        h.to_dict()["nodes"] == LabelHierarchy.from_dict(h.to_dict()).to_dict()["nodes"]
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda h: h.similarity("cat", "horse"),
            "label 'horse' is not in the hierarchy",
        ),
        (lambda h: h.lcs("unicorn", "cat"), "label 'unicorn'"),
        (lambda h: h.similarity_matrix(["cat", 7]), "label 7 is not in"),
        (lambda h: h.height("horse"), "label 'horse'"),
        (lambda h: h.similarity("cat", "dog", kind="path"), "kind must be one of"),
    ],
)
def test_unknown_labels_are_named(tree, call, match):
    with pytest.raises(ValueError, match=match):
        call(tree)


@pytest.mark.parametrize(
    "parent_map, match",
    [
        ({"a": "b", "b": "c", "c": "a"}, r"cycle in the hierarchy: .*'a'"),
        ({"a": "a"}, r"cycle in the hierarchy: 'a' -> 'a'"),
        (
            {"x": "r", "a": "b", "b": "a"},
            r"cycle in the hierarchy: '(a|b)' -> '(a|b)' -> ",
        ),
        ({}, "empty hierarchy"),
    ],
)
def test_bad_parent_maps(parent_map, match):
    with pytest.raises(ValueError, match=match):
        LabelHierarchy.from_parent_map(parent_map)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="empty hierarchy"):
        LabelHierarchy.from_edges([])
    with pytest.raises(ValueError, match="empty hierarchy"):
        LabelHierarchy.from_coarse_fine([], [])
    with pytest.raises(ValueError, match="edges must be"):
        LabelHierarchy.from_edges([("a", "b", "c")])
    with pytest.raises(ValueError, match="class 'm' is not a leaf"):
        LabelHierarchy.from_parent_map({"a": "m", "m": "r"}, classes=["a", "m"])
    with pytest.raises(ValueError, match=r"leaves \['b'\] are missing"):
        LabelHierarchy.from_parent_map({"a": "r", "b": "r"}, classes=["a"])
    with pytest.raises(ValueError, match="names refers to unknown node 'zz'"):
        LabelHierarchy.from_parent_map({"a": "r"}, names={"zz": "?"})
    with pytest.raises(ValueError, match="not a LabelHierarchy description"):
        LabelHierarchy.from_dict({"nodes": []})
    with pytest.raises(ValueError, match="cannot be stored in JSON"):
        LabelHierarchy.from_parent_map({(1, 2): "r"}).to_dict()


def test_from_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        LabelHierarchy.from_json(path)


# ----------------------------------------------------------------- properties
@st.composite
def random_trees(draw):
    """A random rooted tree: node i > 0 picks a parent among 0..i-1."""
    n = draw(st.integers(2, 25))
    parents = [draw(st.integers(0, i - 1)) for i in range(1, n)]
    parent_map = {i: parents[i - 1] for i in range(1, n)}
    return LabelHierarchy.from_parent_map(parent_map)


@given(random_trees())
def test_tree_similarity_properties(h):
    S = h.similarity_matrix()
    assert ((S >= 0) & (S <= 1)).all()
    np.testing.assert_array_equal(S, S.T)
    np.testing.assert_array_equal(np.diag(S), 1.0)
    D = 1 - S
    # ultrametric: d(a, c) <= max(d(a, b), d(b, c)) for all triples
    assert (D[:, None, :] <= np.maximum(D[:, :, None], D[None, :, :]) + 1e-12).all()
    # lcs of two different leaves under the root's different children is the root
    root = h.roots[0]
    a, b = h.classes[0], h.classes[-1]
    assert (h.similarity(a, b) == 0.0) == (h.lcs(a, b) == root)


@given(random_trees(), st.data())
def test_matrix_matches_pairwise_calls_and_round_trip(h, data):
    labels = data.draw(st.lists(st.sampled_from(h.nodes), min_size=1, max_size=6))
    S = h.similarity_matrix(labels)
    W = h.similarity_matrix(labels, kind="wu_palmer")
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            assert S[i, j] == pytest.approx(h.similarity(a, b))
            assert W[i, j] == pytest.approx(h.similarity(a, b, kind="wu_palmer"))
    assert ((W >= 0) & (W <= 1 + 1e-12)).all()
    back = LabelHierarchy.from_dict(json.loads(json.dumps(h.to_dict())))
    np.testing.assert_array_equal(back.similarity_matrix(labels), S)


@st.composite
def random_dags(draw):
    n = draw(st.integers(2, 20))
    parent_map = {
        i: draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=3, unique=True))
        for i in range(1, n)
    }
    return LabelHierarchy.from_parent_map(parent_map)


@given(random_dags())
def test_dag_similarity_properties(h):
    S = h.similarity_matrix()
    assert ((S >= 0) & (S <= 1)).all()
    np.testing.assert_array_equal(S, S.T)
    np.testing.assert_array_equal(np.diag(S), 1.0)
    for i, a in enumerate(h.classes):
        for j, b in enumerate(h.classes):
            lcs = h.lcs(a, b)
            common = h.ancestors(a) & h.ancestors(b)
            assert lcs in common
            assert h.depth(lcs) == max(h.depth(c) for c in common)
            assert S[i, j] == pytest.approx(h.similarity(a, b))


def test_similarity_and_hierarchy_modules_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, sklhash.similarity, sklhash.datasets._hierarchies, "
        "sklhash.datasets._wordnet_glosses; "
        "sklhash.datasets._hierarchies.cifar100_hierarchy(); "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'sentence_transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------- stored descriptions are not trusted
def _description():
    h = LabelHierarchy.from_parent_map(ANIMALS, names={"cat": "Felis catus"})
    return json.loads(json.dumps(h.to_dict()))


@pytest.mark.parametrize(
    "edit, match",
    [
        # Python would take -1 as the last node, True as node 1: silently
        # another hierarchy.
        (lambda d: d["edges"].__setitem__(0, [-1, d["edges"][0][1]]), "edges holds -1"),
        (lambda d: d["edges"].__setitem__(0, [True, 0]), "edges holds True"),
        (lambda d: d["classes"].__setitem__(0, -1), "classes holds -1"),
        (lambda d: d["classes"].__setitem__(0, False), "classes holds False"),
        (lambda d: d["classes"].__setitem__(0, 10**6), "classes holds 1000000"),
        (lambda d: d.update(nodes="abcdefghij"), "'nodes' must be a list"),
        (lambda d: d.update(classes={"0": 1}), "'classes' must be a list"),
        (lambda d: d["nodes"].__setitem__(0, 1.5), "nodes must be int or str"),
        (lambda d: d["nodes"].__setitem__(0, [1]), "nodes must be int or str"),
        (lambda d: d["edges"].append([0, 1, 2]), "an edge must be a"),
        (lambda d: d.update(names=["Felis catus"]), "'names' must map"),
        (lambda d: d.update(names={"0": 5}), "'names' must map"),
        (lambda d: d.update(names={"-1": "x"}), "'names' must map"),
        (lambda d: d.update(names={"²": "x"}), "'names' must map"),
        (lambda d: d.update(names={"99": "x"}), "names holds 99"),
    ],
)
def test_corrupt_descriptions_are_refused(edit, match):
    data = _description()
    edit(data)
    with pytest.raises(
        ValueError, match=f"corrupt LabelHierarchy description: {match}"
    ):
        LabelHierarchy.from_dict(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 12) | st.floats() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(key=st.sampled_from(["nodes", "edges", "classes", "names"]), value=_json)
def test_any_json_value_gives_a_hierarchy_or_a_value_error(key, value):
    data = _description()
    data[key] = value
    try:
        h = LabelHierarchy.from_dict(data)
    except ValueError:
        return
    # What loads must be a consistent hierarchy that round-trips.
    assert LabelHierarchy.from_dict(h.to_dict()).to_dict() == h.to_dict()


@given(
    position=st.sampled_from(["edges", "classes"]),
    index=st.integers(0, 20),
    value=_json,
)
def test_any_json_value_inside_a_list_gives_a_hierarchy_or_a_value_error(
    position, index, value
):
    data = _description()
    items = data[position]
    items[index % len(items)] = value
    try:
        LabelHierarchy.from_dict(data)
    except ValueError:
        pass


@pytest.mark.parametrize("kind", ["missing", "folder", "latin-1", "nested"])
def test_unreadable_json_files_name_the_file(tmp_path, kind):
    path = tmp_path / "h.json"
    if kind == "folder":
        path.mkdir()
    elif kind == "latin-1":
        path.write_bytes('{"format": "café"}'.encode("latin-1"))
    elif kind == "nested":
        path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=f"{path}"):
        LabelHierarchy.from_json(path)


def test_oversized_json_file_is_refused(tmp_path, monkeypatch):
    from sklhash.similarity import _hierarchy

    path = tmp_path / "h.json"
    LabelHierarchy.from_parent_map(ANIMALS).to_json(path)
    monkeypatch.setattr(_hierarchy, "_MAX_JSON_BYTES", 100)
    with pytest.raises(ValueError, match=f"{path}: larger than 100 bytes"):
        LabelHierarchy.from_json(path)
