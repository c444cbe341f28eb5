"""Similarity from vectors: cosine similarity of class or sample embeddings."""

from collections.abc import Mapping

import numpy as np

from ._hierarchy import _as_list

_KINDS = ("cosine", "rescaled")


def _normalise(vectors, what):
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(
            f"embeddings must be a 2-d array (one row per {what}), got shape "
            f"{vectors.shape}."
        )
    if vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(f"embeddings are empty: shape {vectors.shape}.")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise ValueError(
            f"embeddings contain NaN or infinity (row {int(np.flatnonzero(bad)[0])})."
        )
    norms = np.linalg.norm(vectors, axis=1)
    zero = norms == 0
    if zero.any():
        raise ValueError(
            f"embedding row {int(np.flatnonzero(zero)[0])} is all zeros: its "
            "cosine similarity is undefined."
        )
    return vectors / norms[:, None]


def _to_unit_interval(cos, kind):
    if kind == "cosine":
        return np.clip(cos, 0.0, 1.0)
    return np.clip((1.0 + cos) / 2.0, 0.0, 1.0)


class EmbeddingSimilarity:
    """Cosine similarity between class vectors or between sample vectors.

    Two kinds of object, chosen by the arguments:

    * **class level** -- ``embeddings`` is a mapping ``{label: vector}`` or a
      matrix with ``labels``: the object has :meth:`similarity_matrix` (and
      ``classes``), like :class:`LabelHierarchy`;
    * **sample level** -- ``embeddings`` is a matrix with one row per sample
      (e.g. sentence embeddings of captions) and no labels: the object has
      :meth:`pairwise` and ``n_samples``.

    Hashers and metrics tell the two apart by the method they have.

    Parameters
    ----------
    embeddings : mapping of label to array-like, or array-like of shape (n, d)
        The vectors (no zero rows, no NaN).
    labels : sequence, default=None
        The label of each row of a matrix (class level). ``None`` with a
        matrix: sample level.
    kind : {"cosine", "rescaled"}, default="cosine"
        How a cosine ``c`` becomes a similarity in [0, 1]: ``max(0, c)``
        (opposite and orthogonal vectors are both dissimilar), or
        ``(1 + c) / 2``.

    Attributes
    ----------
    classes : list
        The labels (class level only).
    n_samples : int
        The number of samples (sample level only).
    vectors_ : ndarray of shape (n, d)
        The unit-normalised vectors, float64.

    See Also
    --------
    LabelHierarchy : Similarity from a class hierarchy.
    SentenceEncoder : Sentence embeddings of texts (``text`` extra).

    Examples
    --------
    >>> from sklhash.similarity import EmbeddingSimilarity
    >>> cls = EmbeddingSimilarity({"cat": [1, 0], "dog": [1, 1], "car": [0, 1]})
    >>> cls.similarity_matrix(["cat", "dog"]).round(3)
    array([[1.   , 0.707],
           [0.707, 1.   ]])
    >>> smp = EmbeddingSimilarity([[1, 0], [1, 1], [-1, 0]])
    >>> smp.n_samples, smp.pairwise([0], [1, 2]).round(3)
    (3, array([[0.707, 0.   ]]))
    """

    def __new__(cls, embeddings, labels=None, kind="cosine"):
        if cls is EmbeddingSimilarity:
            if isinstance(embeddings, Mapping) or labels is not None:
                cls = _ClassEmbeddingSimilarity
            else:
                cls = _SampleEmbeddingSimilarity
        return super().__new__(cls)

    def __init__(self, embeddings, labels=None, kind="cosine"):
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}.")
        self.kind = kind

    def __getnewargs__(self):
        # pickle calls the subclass's __new__ with these; the state follows
        return (None,)

    @classmethod
    def from_class_means(cls, embeddings, y, kind="cosine"):
        """Class-level similarity of the mean (unit-normalised) vector of each class.

        Parameters
        ----------
        embeddings : array-like of shape (n_samples, d)
            One vector per sample (normalised to unit length before averaging).
        y : array-like of shape (n_samples,)
            Class labels.
        kind : {"cosine", "rescaled"}, default="cosine"

        Examples
        --------
        >>> X = [[1, 0], [0.8, 0.2], [0, 1]]
        >>> s = EmbeddingSimilarity.from_class_means(X, [0, 0, 1])
        >>> s.classes
        [0, 1]
        """
        X = _normalise(embeddings, "sample")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(
                f"y must have shape ({X.shape[0]},) to match embeddings, got {y.shape}."
            )
        classes = np.unique(y)
        means = np.stack([X[y == c].mean(axis=0) for c in classes])
        return cls(means, labels=classes.tolist(), kind=kind)


class _ClassEmbeddingSimilarity(EmbeddingSimilarity):
    __doc__ = EmbeddingSimilarity.__doc__

    def __init__(self, embeddings, labels=None, kind="cosine"):
        super().__init__(embeddings, labels=labels, kind=kind)
        if isinstance(embeddings, Mapping):
            if labels is not None:
                raise ValueError("labels must be None when embeddings is a mapping.")
            labels = list(embeddings)
            if not labels:
                raise ValueError("embeddings are empty: no labels.")
            try:
                matrix = np.stack(
                    [np.asarray(embeddings[k], dtype=np.float64) for k in labels]
                )
            except ValueError as exc:
                raise ValueError(f"class vectors differ in length ({exc}).") from None
        else:
            matrix = embeddings
            labels = _as_list(labels)
        self.vectors_ = _normalise(matrix, "class")
        if len(labels) != self.vectors_.shape[0]:
            raise ValueError(
                f"{len(labels)} labels for {self.vectors_.shape[0]} embedding rows."
            )
        self.classes = list(labels)
        self._index = {}
        for i, lab in enumerate(self.classes):
            if self._index.setdefault(lab, i) != i:
                raise ValueError(f"label {lab!r} is listed twice.")

    def __repr__(self):
        return (
            f"EmbeddingSimilarity(n_classes={len(self.classes)}, "
            f"dim={self.vectors_.shape[1]}, kind={self.kind!r})"
        )

    def _rows(self, labels):
        rows = []
        for lab in labels:
            try:
                rows.append(self._index[lab])
            except (KeyError, TypeError):
                raise ValueError(f"label {lab!r} has no embedding.") from None
        return np.asarray(rows, dtype=np.intp)

    def similarity(self, a, b):
        """Similarity of two labels, in [0, 1]."""
        return float(self.similarity_matrix([a, b])[0, 1])

    def similarity_matrix(self, labels=None):
        """Pairwise similarities of ``labels`` (default: :attr:`classes`).

        Returns
        -------
        S : ndarray of shape (len(labels), len(labels)), dtype float64
            Symmetric, in [0, 1], 1 on the diagonal.
        """
        labels = self.classes if labels is None else _as_list(labels)
        V = self.vectors_[self._rows(labels)]
        S = _to_unit_interval(V @ V.T, self.kind)
        S = (S + S.T) / 2  # exact symmetry despite rounding
        np.fill_diagonal(S, 1.0)
        return S

    def distance_matrix(self, labels=None):
        """``1 - similarity_matrix(labels)``."""
        return 1.0 - self.similarity_matrix(labels)


class _SampleEmbeddingSimilarity(EmbeddingSimilarity):
    __doc__ = EmbeddingSimilarity.__doc__

    def __init__(self, embeddings, labels=None, kind="cosine"):
        super().__init__(embeddings, labels=labels, kind=kind)
        self.vectors_ = _normalise(embeddings, "sample")

    @property
    def n_samples(self):
        return self.vectors_.shape[0]

    def __repr__(self):
        return (
            f"EmbeddingSimilarity(n_samples={self.n_samples}, "
            f"dim={self.vectors_.shape[1]}, kind={self.kind!r})"
        )

    def _indices(self, idx, name):
        idx = np.asarray(idx)
        if idx.ndim == 0:
            idx = idx.reshape(1)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(
                f"{name} must be a 1-d array of sample indices, got {idx!r}."
            )
        bad = (idx < -self.n_samples) | (idx >= self.n_samples)
        if bad.any():
            raise ValueError(
                f"{name} holds index {int(idx[bad][0])}, out of range for "
                f"{self.n_samples} samples."
            )
        return idx.astype(np.intp, copy=False)

    def pairwise(self, idx_a, idx_b=None):
        """Similarities between samples ``idx_a`` and samples ``idx_b``.

        Parameters
        ----------
        idx_a : array-like of int
        idx_b : array-like of int, default=None
            ``None`` means ``idx_a``.

        Returns
        -------
        S : ndarray of shape (len(idx_a), len(idx_b)), dtype float64, in [0, 1]
            A sample compared with itself gets exactly 1.
        """
        a = self._indices(idx_a, "idx_a")
        b = a if idx_b is None else self._indices(idx_b, "idx_b")
        S = _to_unit_interval(self.vectors_[a] @ self.vectors_[b].T, self.kind)
        same = (a % self.n_samples)[:, None] == (b % self.n_samples)[None, :]
        S[same] = 1.0
        return S
