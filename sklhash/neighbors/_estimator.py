"""HashingNearestNeighbors: a hasher and a HammingIndex in one estimator."""

from numbers import Integral, Real

from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from sklhash.utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context

from ._index import _BACKENDS, HammingIndex

__all__ = ["HashingNearestNeighbors"]


class HashingNearestNeighbors(BaseEstimator):
    """Nearest neighbours from features: a hasher and a HammingIndex in one.

    ``fit`` fits a clone of ``hasher`` on the database features, encodes
    them and indexes the codes; ``kneighbors`` and ``radius_neighbors``
    encode the queries with the same hasher and search.

    Parameters
    ----------
    hasher : estimator
        An sklhash hasher (anything with ``fit`` and a ``transform`` that
        returns packed codes). It is cloned, never modified.
    n_neighbors : int, default=10
        Default number of neighbours of :meth:`kneighbors`.
    radius : float, default=2
        Default Hamming radius of :meth:`radius_neighbors`.
    backend : {"auto", "numpy", "faiss", "mih"}, default="auto"
        Backend of the index, see :class:`HammingIndex`.
    n_jobs : int, default=None
        Threads for a search. ``None`` means 1, ``-1`` all cores.

    Attributes
    ----------
    hasher_ : estimator
        The fitted clone of ``hasher``.
    index_ : HammingIndex
        The index of the database codes.
    n_features_in_ : int
        Number of features seen during ``fit``.
    n_samples_fit_ : int
        Number of database items.

    See Also
    --------
    HammingIndex : The index alone, for codes you already have.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import LSHHasher
    >>> from sklhash.neighbors import HashingNearestNeighbors
    >>> X, y = load_digits(return_X_y=True)
    >>> nn = HashingNearestNeighbors(LSHHasher(bits=32, random_state=0),
    ...                              n_neighbors=5).fit(X[100:])
    >>> dist, ind = nn.kneighbors(X[:3])
    >>> ind.shape, dist.dtype
    ((3, 5), dtype('int32'))
    """

    _parameter_constraints: dict = {
        "hasher": [HasMethods(["fit", "transform"])],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="left")],
        "backend": [StrOptions(_BACKENDS)],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self, hasher, *, n_neighbors=10, radius=2, backend="auto", n_jobs=None
    ):
        self.hasher = hasher
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.backend = backend
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the hasher on ``X`` and index the codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Database items.
        y : array-like, default=None
            Passed to the hasher's ``fit`` (supervised hashers need it).

        Returns
        -------
        self : HashingNearestNeighbors
            The fitted estimator.
        """
        hasher = clone(self.hasher)
        hasher.fit(X, y)
        codes = hasher.transform(X)
        n_bits = getattr(hasher, "n_bits_", None)
        self.index_ = HammingIndex(
            backend=self.backend, n_bits=n_bits, n_jobs=self.n_jobs
        ).fit(codes)
        self.hasher_ = hasher
        self.n_features_in_ = getattr(hasher, "n_features_in_", None)
        if hasattr(hasher, "feature_names_in_"):
            self.feature_names_in_ = hasher.feature_names_in_
        self.n_samples_fit_ = self.index_.n_codes_
        return self

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """The nearest database items of each query, by Hamming distance.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query items.
        n_neighbors : int, default=None
            Neighbours per query; ``None`` uses the ``n_neighbors`` parameter.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors), dtype int32
            Only when ``return_distance``.
        indices : ndarray of shape (n_queries, n_neighbors), dtype int64
            Indices into the ``X`` given to ``fit``.
        """
        check_is_fitted(self)
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        return self.index_.kneighbors(
            self.hasher_.transform(X), k, return_distance=return_distance
        )

    def radius_neighbors(self, X, radius=None, return_distance=True):
        """Database items within a Hamming radius of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query items.
        radius : float, default=None
            Largest distance included; ``None`` uses the ``radius`` parameter.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries,), dtype object
            Per query, int32 distances. Only when ``return_distance``.
        indices : ndarray of shape (n_queries,), dtype object
            Per query, int64 indices into the ``X`` given to ``fit``.
        """
        check_is_fitted(self)
        r = self.radius if radius is None else radius
        return self.index_.radius_neighbors(
            self.hasher_.transform(X), r, return_distance=return_distance
        )
