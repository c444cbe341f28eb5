"""Training targets of similarity-driven hashers, resolved on the numpy side.

:class:`~sklhash.SemanticKLHasher` learns from a target similarity ``S_ij``
in ``[0, 1]`` for every pair of a batch. This module turns what the user
gives (class labels, a multi-label matrix, a hierarchy, a class-level or
sample-level similarity, a callable) into per-sample arrays plus, where the
targets are not class labels, a picklable object that returns the
similarity block of a batch. Nothing here imports torch: the training
criterion (:class:`sklhash.nn.semantic_kl.SemanticKLLoss`) converts.
"""

from dataclasses import dataclass, field

import numpy as np
from sklearn.utils.multiclass import type_of_target

__all__ = ["SimilarityTargets", "PairSimilarity", "resolve_similarity_targets"]


def _is_sample_level(similarity):
    return hasattr(similarity, "pairwise") or isinstance(similarity, np.ndarray)


def check_similarity_block(S, n, source):
    """Validate one batch of target similarities returned by user code."""
    S = np.asarray(S, dtype=np.float32)
    if S.shape != (n, n):
        raise ValueError(
            f"{source} returned similarities of shape {S.shape} for a batch of "
            f"{n} samples; expected ({n}, {n})."
        )
    if not np.all(np.isfinite(S)) or S.min() < 0 or S.max() > 1:
        raise ValueError(
            f"{source} returned similarities outside [0, 1] (or NaN); target "
            "similarities must lie in [0, 1]."
        )
    return S


class PairSimilarity:
    """The target similarity block of a batch, from sample-level sources.

    Called with the batch's ``"sample"`` entries (int64 ids), returns the
    validated float32 ``(n, n)`` block.

    Parameters
    ----------
    source : ndarray, object with ``pairwise`` or callable
        A square sample-similarity array, a sample-level similarity
        (``pairwise(idx_a, idx_b)``), or a plain callable ``f(a, b)``.
    rows : ndarray or None, default=None
        For a plain callable: what it is called with, indexed by the ids
        (the training rows of ``y``, or the row numbers).
    """

    def __init__(self, source, rows=None):
        self.source = source
        self.rows = rows

    def __call__(self, ids):
        ids = np.asarray(ids)
        if isinstance(self.source, np.ndarray):
            S, name = self.source[np.ix_(ids, ids)], "similarity"
        elif self.rows is None:
            S, name = self.source.pairwise(ids, ids), "similarity.pairwise"
        else:
            rows = self.rows[ids]
            S, name = self.source(rows, rows), "similarity"
        return check_similarity_block(S, len(ids), name)


@dataclass
class SimilarityTargets:
    """Resolved targets: what the training loop and the fitted model need.

    Parameters
    ----------
    kind : {"class", "multilabel", "sample", "callable"}
        Where the targets of a batch come from.
    arrays : dict of str to ndarray, default={}
        Per-sample arrays added to every batch (``"y"`` class indices,
        ``"labels"`` indicator rows, ``"sample"`` ids).
    classes : ndarray or None, default=None
        Sorted class labels (class-level targets only).
    class_similarity : ndarray of shape (n_classes, n_classes) or None, default=None
        Target similarity between classes, rows in the order of ``classes``.
    pair_similarity : PairSimilarity or None, default=None
        Batch blocks of sample-level targets.
    """

    kind: str
    arrays: dict = field(default_factory=dict)
    classes: np.ndarray = None
    class_similarity: np.ndarray = None
    pair_similarity: PairSimilarity = None


def _sample_targets(sim, y, n):
    if _is_sample_level(sim):
        if isinstance(sim, np.ndarray):
            if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
                raise ValueError(
                    "An array similarity must be a square sample-by-sample "
                    f"matrix, got shape {sim.shape}."
                )
            n_ref = sim.shape[0]
        else:
            n_ref = getattr(sim, "n_samples", None)
        if y is None:
            if n_ref is not None and n_ref != n:
                raise ValueError(
                    f"similarity describes {n_ref} samples but X has {n}; "
                    "pass y with each row's sample index."
                )
            ids = np.arange(n, dtype=np.int64)
        else:
            ids = np.asarray(y)
            if ids.ndim != 1 or len(ids) != n or ids.dtype.kind not in "iu":
                raise ValueError(
                    "With a sample-level similarity, y must be None or a "
                    f"1-d integer array of {n} sample indices."
                )
            if len(ids) and (
                ids.min() < 0 or (n_ref is not None and ids.max() >= n_ref)
            ):
                raise ValueError(
                    f"y holds sample indices outside [0, {n_ref}) of the "
                    "similarity."
                )
            ids = ids.astype(np.int64)
        return SimilarityTargets(
            "sample", {"sample": ids}, pair_similarity=PairSimilarity(sim)
        )
    # A plain callable receives the batch's rows of y (or row numbers).
    rows = np.arange(n, dtype=np.int64) if y is None else np.asarray(y)
    if len(rows) != n:
        raise ValueError(f"y has {len(rows)} rows but X has {n} samples.")
    return SimilarityTargets(
        "callable",
        {"sample": np.arange(n, dtype=np.int64)},
        pair_similarity=PairSimilarity(sim, rows),
    )


def resolve_similarity_targets(y, n_samples, similarity=None, hierarchy=None):
    """Turn ``y`` and a similarity source into training targets.

    Parameters
    ----------
    y : array-like or None
        Class labels (1-d), a multi-label indicator matrix (2-d), sample
        indices into a sample-level ``similarity``, rows for a callable, or
        None (sample-level or callable ``similarity`` only).
    n_samples : int
        Number of training rows.
    similarity : object, ndarray, callable or None, default=None
        See :class:`~sklhash.SemanticKLHasher`.
    hierarchy : object with ``similarity_matrix`` or None, default=None
        Class hierarchy over the labels of ``y``.

    Returns
    -------
    targets : SimilarityTargets
        Per-sample arrays, classes and class similarity or the batch
        similarity of sample-level targets.

    Examples
    --------
    >>> import numpy as np
    >>> t = resolve_similarity_targets(np.array(["b", "a", "b"]), 3)
    >>> t.kind, t.classes.tolist(), t.arrays["y"].tolist()
    ('class', ['a', 'b'], [1, 0, 1])
    """
    n = n_samples
    sim = similarity
    if sim is not None and hierarchy is not None:
        raise ValueError(
            "Give either similarity or hierarchy, not both: hierarchy is "
            "turned into a class-level similarity."
        )
    if sim is not None and (
        _is_sample_level(sim) or not hasattr(sim, "similarity_matrix")
    ):
        return _sample_targets(sim, y, n)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if len(y) != n:
        raise ValueError(f"y has {len(y)} rows but X has {n} samples.")
    if y.ndim == 2:
        if type_of_target(y) != "multilabel-indicator":
            raise ValueError(
                "A 2-d y must be a multi-label indicator matrix of 0/1 "
                f"entries; got type_of_target(y)={type_of_target(y)!r}."
            )
        if hierarchy is not None or sim is not None:
            raise ValueError(
                "hierarchy / class-level similarity need 1-d class labels, "
                "got a multi-label indicator matrix y."
            )
        return SimilarityTargets("multilabel", {"labels": y.astype(np.float32)})
    if y.ndim != 1:
        raise ValueError(f"y must be 1-d or 2-d, got shape {y.shape}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity.")
    if y.dtype.kind in "fc" and type_of_target(y) == "continuous":
        raise ValueError(
            "y holds continuous values (type_of_target(y)='continuous'), "
            "but class labels are needed: each distinct value would become "
            "its own class. Pass integer or string labels."
        )
    classes, y_idx = np.unique(y, return_inverse=True)
    source = hierarchy if hierarchy is not None else sim
    if source is None:
        S = np.eye(len(classes))
    else:
        name = "hierarchy" if hierarchy is not None else "similarity"
        try:
            S = source.similarity_matrix(list(classes))
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"The labels of y must all be classes of the {name}: {exc}"
            ) from exc
        S = np.asarray(S, dtype=np.float64)
        k = len(classes)
        if S.shape != (k, k) or not np.all(np.isfinite(S)):
            raise ValueError(
                f"{name}.similarity_matrix returned shape {S.shape} (or "
                f"non-finite values) for {k} classes."
            )
        if S.min() < 0 or S.max() > 1:
            raise ValueError(
                f"{name}.similarity_matrix returned values outside [0, 1]."
            )
    return SimilarityTargets(
        "class", {"y": y_idx.astype(np.int64)}, classes=classes, class_similarity=S
    )
