"""make_hierarchical_blobs, and the sklhash.datasets package surface."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.neighbors import KNeighborsClassifier

import sklhash.datasets
from sklhash.datasets import make_hierarchical_blobs
from sklhash.similarity import LabelHierarchy


def test_shapes_and_tree():
    X, y, h = make_hierarchical_blobs(
        n_samples=100, n_features=5, depth=2, branching=3, random_state=0
    )
    assert X.shape == (100, 5) and X.dtype == np.float64
    assert y.dtype == np.int64
    # 9 classes, 100 samples: the first one gets the extra sample.
    np.testing.assert_array_equal(np.bincount(y), [12] + [11] * 8)
    assert isinstance(h, LabelHierarchy) and h.classes == list(range(9))
    assert h.is_tree and h.max_height == 2
    assert h.lcs(0, 2) == "root/0" and h.lcs(3, 5) == "root/1"
    assert h.lcs(2, 3) == "root"
    assert h.similarity(0, 1) == 0.5 and h.similarity(0, 8) == 0.0


def test_deterministic_and_seeded():
    a = make_hierarchical_blobs(n_samples=50, depth=2, random_state=3)
    b = make_hierarchical_blobs(
        n_samples=50, depth=2, random_state=np.random.RandomState(3)
    )
    c = make_hierarchical_blobs(n_samples=50, depth=2, random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].to_dict() == b[2].to_dict()
    assert not np.allclose(a[0], c[0])


def test_no_shuffle_and_centers():
    X, y, _, centers = make_hierarchical_blobs(
        n_samples=12,
        n_features=4,
        depth=1,
        branching=4,
        noise=0.0,
        shuffle=False,
        return_centers=True,
        random_state=0,
    )
    np.testing.assert_array_equal(y, np.repeat(np.arange(4), 3))
    np.testing.assert_allclose(X, centers[y])
    # depth 1: a regular simplex around the origin, offset length sqrt(d).
    np.testing.assert_allclose(centers.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0)
    d = cdist(centers, centers)[np.triu_indices(4, 1)]
    np.testing.assert_allclose(d, d[0])


def _mean_distance_by_similarity(X, y, h):
    """Mean distance between samples of different classes, per similarity."""
    S = h.similarity_matrix()[np.ix_(y, y)]
    D = cdist(X, X)
    off = y[:, None] != y[None, :]
    levels = np.unique(S[off])
    return levels, np.array([D[off & (S == s)].mean() for s in levels])


@given(
    seed=st.integers(0, 2**16),
    n_features=st.integers(3, 24),
    depth=st.integers(2, 3),
    branching=st.integers(2, 3),
)
def test_hierarchy_matters(seed, n_features, depth, branching):
    # The deeper two classes meet, the closer their samples.
    X, y, h = make_hierarchical_blobs(
        n_samples=10 * branching**depth,
        n_features=n_features,
        depth=depth,
        branching=branching,
        random_state=seed,
    )
    levels, dist = _mean_distance_by_similarity(X, y, h)
    assert len(levels) == depth
    assert np.all(np.diff(dist) < 0), (levels, dist)


def test_confusions_are_between_siblings():
    # With enough noise to confuse classes, a nearest-neighbour classifier
    # confuses mostly siblings, as semantic hashing tests expect.
    X, y, h = make_hierarchical_blobs(
        n_samples=1200, n_features=16, depth=3, branching=2, noise=0.8, random_state=0
    )
    clf = KNeighborsClassifier(5).fit(X[:600], y[:600])
    pred = clf.predict(X[600:])
    wrong = pred != y[600:]
    assert 0.05 < wrong.mean() < 0.6
    sim = h.similarity_matrix()[pred[wrong], y[600:][wrong]]
    # Chance level for a wrong label among 8 classes of a binary tree: 1/7
    # siblings (sim 2/3), 2/7 cousins (1/3), 4/7 root (0).
    assert np.mean(np.isclose(sim, 2 / 3)) > 0.6
    assert np.mean(np.isclose(sim, 0)) < 0.1


def test_more_classes_than_samples():
    with pytest.raises(ValueError, match="n_samples=5 is smaller than .* = 8"):
        make_hierarchical_blobs(n_samples=5, depth=3, branching=2)


@pytest.mark.parametrize(
    "param, value",
    [
        ("branching", 1),
        ("depth", 0),
        ("noise", -1.0),
        ("shrink", 0.0),
        ("shrink", 1.5),
        ("n_features", 0),
    ],
)
def test_bad_parameters(param, value):
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        make_hierarchical_blobs(**{param: value})


def test_one_feature_still_works():
    X, y, h = make_hierarchical_blobs(
        n_samples=40, n_features=1, depth=2, branching=2, random_state=0
    )
    assert X.shape == (40, 1) and np.isfinite(X).all()


# ------------------------------------------------------------- package surface
def test_public_names_import():
    for name in sklhash.datasets.__all__:
        assert getattr(sklhash.datasets, name) is not None, name
    assert set(sklhash.datasets.__all__) <= set(dir(sklhash.datasets))
    from sklearn.datasets import load_digits

    assert sklhash.datasets.load_digits is load_digits
    with pytest.raises(AttributeError, match="no attribute 'load_imagenet'"):
        sklhash.datasets.load_imagenet  # noqa: B018


def test_importing_datasets_does_not_import_torch_or_pillow():
    code = (
        "import sys, sklhash.datasets; "
        "print(sorted({'torch', 'PIL', 'nltk'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
