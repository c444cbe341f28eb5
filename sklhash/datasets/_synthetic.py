"""Synthetic data whose class structure follows a known hierarchy."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from sklhash.utils._sklearn_compat import Interval, validate_params

__all__ = ["make_hierarchical_blobs"]


def _child_directions(n_features, branching, rng):
    """``branching`` unit vectors that sum to zero (a random regular simplex
    when ``n_features >= branching``), so that a parent mean is the centroid
    of its children's means and all siblings are equally far apart."""
    if n_features >= branching:
        q, _ = np.linalg.qr(rng.standard_normal((n_features, branching)))
        directions = q.T
    else:
        directions = rng.standard_normal((branching, n_features))
    directions = directions - directions.mean(axis=0)
    norms = np.linalg.norm(directions, axis=1, keepdims=True)
    # Only possible when n_features == 1 and the draws coincide: keep the
    # child at its parent rather than divide by zero.
    return np.divide(directions, norms, out=np.zeros_like(directions), where=norms > 0)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "depth": [Interval(Integral, 1, None, closed="left")],
        "branching": [Interval(Integral, 2, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "shrink": [Interval(Real, 0, 1, closed="right")],
        "shuffle": ["boolean"],
        "return_centers": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_hierarchical_blobs(
    n_samples=1000,
    n_features=32,
    *,
    depth=3,
    branching=3,
    noise=0.5,
    shrink=0.5,
    shuffle=True,
    return_centers=False,
    random_state=None,
):
    """Gaussian blobs whose class means follow a tree.

    A complete tree of the given ``depth`` and ``branching`` is grown from a
    root at the origin; each node's mean is its parent's mean plus an offset
    of length ``sqrt(n_features) * shrink ** (level - 1)`` (so an offset of
    about ``shrink ** (level - 1)`` per feature), the offsets of siblings
    pointing along a random regular simplex (equal pairwise distances,
    summing to zero). The ``branching ** depth`` leaves are the classes.
    Samples are their class mean plus isotropic Gaussian noise.

    Two classes are therefore the closer the deeper their lowest common
    ancestor: samples of sibling classes lie nearer each other than samples
    of cousins, which lie nearer than classes that meet only at the root.
    This makes the returned hierarchy a fast, known ground truth for tests
    of semantic (hierarchy-aware) hashing.

    Parameters
    ----------
    n_samples : int, default=1000
        Total number of samples, split as evenly as possible over the
        classes (the first classes get one more when it does not divide).
        Must be at least the number of classes, ``branching ** depth``.
    n_features : int, default=32
        Number of features.
    depth : int, default=3
        Number of levels below the root; the leaves are at this depth.
    branching : int, default=3
        Children per inner node.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise, per feature.
    shrink : float, default=0.5
        Ratio between the offset lengths of two consecutive levels, in
        (0, 1]. Smaller values make sibling classes harder to tell apart
        compared with distant ones.
    shuffle : bool, default=True
        Shuffle the samples; otherwise they are grouped by class.
    return_centers : bool, default=False
        Also return the class means.
    random_state : int, RandomState instance or None, default=None
        Seeds the tree and the noise; an int makes the output deterministic.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
        The samples.
    y : ndarray of shape (n_samples,), int64
        Class labels ``0 .. branching ** depth - 1``, numbered left to right
        along the tree, so siblings have consecutive labels.
    hierarchy : LabelHierarchy
        The tree: leaves are the integer labels, inner nodes are named by
        their path from the root (``"root"``, ``"root/0"``, ``"root/0/2"``).
    centers : ndarray of shape (branching ** depth, n_features)
        The class means; only when ``return_centers`` is True.

    See Also
    --------
    sklearn.datasets.make_blobs : Isotropic blobs with unrelated centres.

    Examples
    --------
    >>> from sklhash.datasets import make_hierarchical_blobs
    >>> X, y, h = make_hierarchical_blobs(n_samples=80, n_features=8, depth=2,
    ...                                   branching=2, random_state=0)
    >>> X.shape, h.classes
    ((80, 8), [0, 1, 2, 3])
    >>> h.similarity(0, 1), h.similarity(0, 2)
    (0.5, 0.0)
    """
    from ..similarity import LabelHierarchy

    n_classes = branching**depth
    if n_samples < n_classes:
        raise ValueError(
            f"n_samples={n_samples} is smaller than the number of classes "
            f"branching ** depth = {n_classes}: every class needs a sample"
        )
    rng = check_random_state(random_state)

    parent_map = {"root": None}
    means = {"root": np.zeros(n_features)}
    level_nodes = ["root"]
    for level in range(1, depth + 1):
        length = np.sqrt(n_features) * shrink ** (level - 1)
        next_nodes = []
        for parent in level_nodes:
            offsets = length * _child_directions(n_features, branching, rng)
            for k in range(branching):
                child = f"{parent}/{k}"
                parent_map[child] = parent
                means[child] = means[parent] + offsets[k]
                next_nodes.append(child)
        level_nodes = next_nodes

    # The leaves, left to right, become the integer classes.
    centers = np.array([means[node] for node in level_nodes])
    for label, node in enumerate(level_nodes):
        parent_map[label] = parent_map.pop(node)
    hierarchy = LabelHierarchy.from_parent_map(
        parent_map, classes=list(range(n_classes))
    )

    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    y = np.repeat(np.arange(n_classes, dtype=np.int64), counts)
    X = centers[y] + noise * rng.standard_normal((n_samples, n_features))
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    if return_centers:
        return X, y, hierarchy, centers
    return X, y, hierarchy
