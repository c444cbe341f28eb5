"""Binarisers for the embeddings of sentence and image encoders.

Vector engines binarise an embedding by the sign of each dimension
(sentence-transformers ``quantize_embeddings(..., precision="ubinary")``,
pgvector's ``binary_quantize``, Qdrant, Weaviate): :class:`SignHasher` is
exactly that, bit for bit. :class:`CenteredSignHasher` subtracts the training
mean first (what those engines' docs ask of the data). :class:`EmbeddingHasher`
is the one to reach for: centring, PCA and an ITQ rotation learned on the
embeddings alone, with defaults chosen by measurement (``docs/embeddings.md``,
``benchmarks/bench_embeddings.py``). No torch is imported.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from sklhash.utils._sklearn_compat import Interval, _fit_context, validate_data

from .._base import BaseHasher, check_bits_le_features
from .classic import itq_rotation

__all__ = ["SignHasher", "CenteredSignHasher", "EmbeddingHasher"]


class _SignBase(BaseHasher):
    _parameter_constraints = {
        "bits": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, bits=None):
        super().__init__(bits=bits)

    def _n_bits(self, n_features):
        if self.bits is None:
            return n_features
        if self.bits > n_features:
            raise ValueError(
                f"bits={self.bits} is larger than the {n_features} dimensions of "
                f"the embeddings: {type(self).__name__} takes one bit per "
                "dimension (bits=None takes all)."
            )
        return self.bits


class SignHasher(_SignBase):
    """Sign quantisation at 0: bit ``i`` is ``x_i > 0`` (the industry anchor).

    The codes are bit for bit those of sentence-transformers'
    ``quantize_embeddings(X, precision="ubinary")``, which packs
    ``np.packbits(X > 0, axis=-1)`` in numpy's default (big-endian) bit
    order, the same as every sklhash hasher. Its ``precision="binary"``
    codes are the same bytes minus 128 stored as int8, i.e. each byte's top
    bit flipped: ``binary.view(np.uint8) == ubinary ^ 0x80``, so Hamming
    distances are identical.

    Parameters
    ----------
    bits : int or None, default=None
        ``None``: one bit per dimension. An int keeps the first ``bits``
        dimensions (for Matryoshka-trained models, whose leading dimensions
        carry the most).

    Attributes
    ----------
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.

    See Also
    --------
    CenteredSignHasher : Subtracts the training mean first.
    EmbeddingHasher : A learned rotation; better recall at every size.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash import SignHasher
    >>> X = np.array([[0.5, -1.0, 0.0, 2.0]])
    >>> SignHasher().fit_transform(X)
    array([[144]], dtype=uint8)
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the width (nothing is learned).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.n_bits_ = self._n_bits(X.shape[1])
        return self

    def _decision_function(self, X):
        return X[:, : self.n_bits_]


class CenteredSignHasher(_SignBase):
    """Sign of the embedding minus the training mean.

    Sign quantisation needs centred data: an encoder whose dimensions have
    non-zero means (most do) gives bits that are nearly constant. Subtracting
    the mean learned in ``fit`` makes every bit closer to balanced.

    Parameters
    ----------
    bits : int or None, default=None
        ``None``: one bit per dimension; an int keeps the first ``bits``.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.

    See Also
    --------
    SignHasher : No centring (the vector engines' default).
    EmbeddingHasher : A learned rotation; better recall at every size.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash import CenteredSignHasher
    >>> X = np.array([[1.0, 0.0], [3.0, 1.0]])
    >>> CenteredSignHasher().fit(X).transform(X)
    array([[  0],
           [192]], dtype=uint8)
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n_bits = self._n_bits(X.shape[1])
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        self.n_bits_ = n_bits
        return self

    def _decision_function(self, X):
        return X[:, : self.n_bits_] - self.mean_[: self.n_bits_]


def _principal_directions(X, mean, n_components):
    """Top principal directions from the covariance (fast on tall data).

    An eigendecomposition of the ``d x d`` covariance costs one ``X^T X``
    (about a quarter of a thin SVD of ``X`` on 100k x 384). Signs are fixed
    as scikit-learn's ``svd_flip`` does for ``Vt`` rows: the largest absolute
    loading of each direction is positive, so the codes do not depend on
    LAPACK's arbitrary signs.
    """
    C = np.zeros((X.shape[1], X.shape[1]))
    for start in range(0, X.shape[0], 16384):
        B = X[start:start + 16384] - mean
        C += B.T @ B
    w, V = np.linalg.eigh(C)
    order = np.argsort(w, kind="stable")[::-1][:n_components]
    comps = V[:, order].T
    big = np.argmax(np.abs(comps), axis=1)
    comps *= np.sign(comps[np.arange(len(comps)), big])[:, None]
    return comps


class EmbeddingHasher(BaseHasher):
    """Binary codes for embeddings: centring, PCA and an ITQ rotation.

    The one to reach for to compress the embeddings of a sentence or image
    encoder, fitted on the embeddings alone (no labels). The input is
    centred, projected on its top ``bits`` principal directions (all of
    them when ``bits`` equals the dimension) and rotated by ITQ (Gong &
    Lazebnik), which balances the variance over the bits and lowers the
    quantisation error; bit ``i`` is the sign of rotated coordinate ``i``.
    The rotation is learned on at most ``max_fit_samples`` rows (a random
    subset) so that fitting 100k x 384 takes seconds of CPU
    (``docs/embeddings.md``).

    Drop-in replacement for sentence-transformers' sign quantisation::

        # before: codes = quantize_embeddings(emb, precision="ubinary")
        from sklhash import EmbeddingHasher
        hasher = EmbeddingHasher(bits=384, random_state=0).fit(emb_db)
        codes = hasher.transform(emb_db)      # (n, 48) uint8, same packing
        q_codes = hasher.transform(emb_query)

    The codes are packed exactly like ``"ubinary"`` (``np.packbits``,
    big-endian), so they go wherever those went (FAISS ``IndexBinaryFlat``
    after its bit-order flip, :class:`~sklhash.neighbors.HammingIndex`, a
    ``bit`` column in pgvector). For asymmetric search use
    ``hasher.decision_function(emb_query)`` as the query.

    Parameters
    ----------
    bits : int, default=128
        Code length; at most the embedding dimension.
    n_iter : int, default=50
        Largest number of ITQ iterations.
    tol : float, default=0.0
        Stop once an iteration lowers the quantisation error by less than
        ``tol`` times the previous error. ``0`` runs all ``n_iter``: on 20k
        gloss embeddings, stopping at ``tol=3e-5`` (ITQHasher's default) cost
        .011 / .007 recall@10 at 256 / 384 bits for a 2-4x faster fit.
    max_fit_samples : int or None, default=20000
        Rows used to learn the rotation (a random subset when there are
        more); ``None`` uses all. The mean and principal directions always
        use every row.
    random_state : int, RandomState instance or None, default=None
        Seeds the subset and the initial rotation.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean.
    components_ : ndarray of shape (bits, n_features)
        Principal directions, largest variance first.
    rotation_ : ndarray of shape (bits, bits)
        ITQ rotation.
    quantization_errors_ : ndarray of shape (n_done + 1,)
        ITQ's quantisation error per row before and after each iteration.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.

    See Also
    --------
    SignHasher : Sign at 0, what vector engines do.
    sklhash.metrics.recall_at_k : Neighbour recall, the label-free measure.

    Notes
    -----
    Learned replacements for the rotation were measured on 20k MiniLM
    embeddings of two WordNet corpora (``docs/embeddings.md``, "What we
    tried"): a torch head trained to reproduce the exact cosine
    neighbourhoods, started at this rotation, gained at most .011
    recall@10 at 128 and 384 bits for 5-20x the fit time; an MLP variant
    and a CroVCA-style head lost .01-.06. The rotation stays the default.

    References
    ----------
    .. [1] Y. Gong and S. Lazebnik, "Iterative quantization: a Procrustean
       approach to learning binary codes", CVPR 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash import EmbeddingHasher
    >>> X = np.random.default_rng(0).normal(size=(500, 64))
    >>> EmbeddingHasher(bits=32, random_state=0).fit_transform(X).shape
    (500, 4)
    """

    _parameter_constraints = {
        **BaseHasher._parameter_constraints,
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_fit_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, bits=128, *, n_iter=50, tol=0.0, max_fit_samples=20000,
                 random_state=None):
        super().__init__(bits=bits)
        self.n_iter = n_iter
        self.tol = tol
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the mean, the principal directions and the rotation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        check_bits_le_features(self.bits, X.shape[1], X.shape[0], "EmbeddingHasher")
        rng = check_random_state(self.random_state)
        mean = X.mean(axis=0, dtype=np.float64)
        comps = _principal_directions(X, mean, self.bits)
        if self.max_fit_samples is not None and X.shape[0] > self.max_fit_samples:
            rows = np.sort(rng.choice(X.shape[0], self.max_fit_samples, replace=False))
            sub = X[rows]
        else:
            sub = X
        V = (sub - mean) @ comps.T
        R, errors = itq_rotation(V, n_iter=self.n_iter, random_state=rng,
                                 tol=self.tol)
        self.mean_ = mean
        self.components_ = comps
        self.rotation_ = R
        self.quantization_errors_ = errors
        self.n_bits_ = self.bits
        return self

    def _decision_function(self, X):
        return (X - self.mean_) @ (self.components_.T @ self.rotation_)
