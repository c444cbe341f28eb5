"""Classic, data-independent and linear hashers (no torch).

These are the baselines every learning-to-hash paper compares against:
random hyperplanes (LSH), the sign of principal components (PCAH), PCA
followed by iterative quantisation (ITQ) and spectral hashing. They need only
numpy and scipy, so importing them does not import torch.
"""

from numbers import Integral, Real

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state

from sklhash.utils._sklearn_compat import Interval, _fit_context, validate_data

from .._base import BaseHasher, check_bits_le_features

__all__ = ["LSHHasher", "PCAHasher", "ITQHasher", "SpectralHasher"]


def _pca(X, n_components):
    """Mean, top ``n_components`` principal directions and singular values.

    scikit-learn's :class:`~sklearn.decomposition.PCA` with the exact
    ``"full"`` solver: its sign convention (``svd_flip`` on the rows of
    ``Vt``, largest absolute loading positive) makes the codes independent of
    LAPACK's arbitrary signs. The ``"auto"`` choice would switch to an
    eigendecomposition of the covariance on tall data, faster but not the
    same directions to the last bit, and would change published codes.
    """
    pca = PCA(n_components=n_components, svd_solver="full").fit(X)
    return pca.mean_, pca.components_, pca.singular_values_


def _random_rotation(n, random_state):
    """A uniformly (Haar) distributed random orthogonal ``n x n`` matrix."""
    if n == 1:
        # ortho_group needs n >= 2; O(1) is {-1, 1}, drawn as the sign of a
        # normal so the stream matches ortho_group's for larger n.
        return np.sign(random_state.normal(size=(1, 1))) + 0.0
    return ortho_group.rvs(n, random_state=random_state)


class LSHHasher(BaseHasher):
    """Random-hyperplane locality-sensitive hashing on centred data.

    Each bit is the sign of the projection of the centred input onto a random
    Gaussian direction, so the expected Hamming distance grows with the angle
    between two (centred) inputs.

    Parameters
    ----------
    bits : int, default=64
        Code length.
    random_state : int, RandomState instance or None, default=None
        Seeds the random directions.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean subtracted before projecting.
    components_ : ndarray of shape (bits, n_features)
        Random hyperplane normals.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.

    See Also
    --------
    PCAHasher : Data-dependent directions instead of random ones.

    References
    ----------
    .. [1] M. S. Charikar, "Similarity estimation techniques from rounding
       algorithms", STOC 2002.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import LSHHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> LSHHasher(bits=12, random_state=0).fit_transform(X).shape
    (1797, 2)
    """

    _parameter_constraints = {
        **BaseHasher._parameter_constraints,
        "random_state": ["random_state"],
    }

    def __init__(self, bits=64, *, random_state=None):
        super().__init__(bits=bits)
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the random hyperplanes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, used for its mean only.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        rng = check_random_state(self.random_state)
        self.mean_ = X.mean(axis=0)
        self.components_ = rng.standard_normal((self.bits, X.shape[1]))
        self.n_bits_ = self.bits
        return self

    def _decision_function(self, X):
        return (X - self.mean_) @ self.components_.T


class PCAHasher(BaseHasher):
    """Sign of the top principal components (PCAH).

    Parameters
    ----------
    bits : int, default=64
        Code length; at most ``min(n_samples, n_features)``.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean.
    components_ : ndarray of shape (bits, n_features)
        Principal directions, largest variance first.
    explained_variance_ : ndarray of shape (bits,)
        Variance along each direction.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.

    See Also
    --------
    ITQHasher : Rotates the PCA projection to lower the quantisation error.

    References
    ----------
    .. [1] J. Wang, S. Kumar and S.-F. Chang, "Semi-supervised hashing for
       large-scale search", IEEE TPAMI 34(12), 2012 (PCAH baseline).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import PCAHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> PCAHasher(bits=16).fit_transform(X).shape
    (1797, 2)
    """

    def __init__(self, bits=64):
        super().__init__(bits=bits)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the principal directions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        check_bits_le_features(self.bits, X.shape[1], X.shape[0], "PCAHasher")
        self.mean_, self.components_, s = _pca(X, self.bits)
        self.explained_variance_ = s**2 / max(X.shape[0] - 1, 1)
        self.n_bits_ = self.bits
        return self

    def _decision_function(self, X):
        return (X - self.mean_) @ self.components_.T


class ITQHasher(BaseHasher):
    """PCA followed by iterative quantisation (ITQ).

    Projects centred data onto its top ``bits`` principal directions ``V``
    and learns an orthogonal rotation ``R`` minimising the quantisation error
    ``||B - V R||_F^2`` with ``B = sgn(V R)`` by alternating minimisation. The
    rotation step is the orthogonal Procrustes problem
    ``argmin_R ||V R - B||``, solved with
    :func:`scipy.linalg.orthogonal_procrustes`; each step can only lower the
    error, so the objective never increases across iterations (recorded in
    ``quantization_errors_``). Note that some public implementations solve
    the transposed problem and stall at the starting error.

    Parameters
    ----------
    bits : int, default=64
        Code length; at most ``min(n_samples, n_features)``.
    n_iter : int, default=300
        Largest number of alternating iterations.
    tol : float, default=3e-5
        Stop once an iteration lowers the quantisation error by less than
        ``tol`` times the previous error. ``0`` runs all ``n_iter``
        iterations (unless the error stops going down at all). The defaults
        were measured (Fashion-MNIST, 60,000 training images = database,
        1,000 test queries, seeds 0-2; ``benchmarks/bench_itq_tol.py``): 50
        fixed iterations, the former default, are not converged and score
        mAP@1000 .521 / .548 at 32 / 64 bits; ``tol=3e-5`` stops after
        87-108 / 125-182 iterations at .527 / .551; running on to
        convergence (1,000 iterations, relative change < 1e-6) gains nothing
        more (.524 / .552) for 5-10x the iterations.
    random_state : int, RandomState instance or None, default=None
        Seeds the random initial rotation.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean.
    components_ : ndarray of shape (bits, n_features)
        Principal directions.
    rotation_ : ndarray of shape (bits, bits)
        Learned orthogonal rotation, applied after the projection.
    quantization_errors_ : ndarray of shape (n_iter_ + 1,)
        ``||B - V R||_F^2 / n_samples`` at the initial rotation and after
        each iteration; non-increasing.
    n_iter_ : int
        Iterations run: ``n_iter``, or fewer when ``tol`` stopped them.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.

    See Also
    --------
    PCAHasher : The same projection without the rotation.
    sklhash.HouseholderQuantizer : Learns the rotation by SGD over
        Householder reflections.

    References
    ----------
    .. [1] Y. Gong and S. Lazebnik, "Iterative quantization: A procrustean
       approach to learning binary codes", CVPR 2011.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import ITQHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> itq = ITQHasher(bits=16, random_state=0).fit(X)
    >>> bool(itq.quantization_errors_[-1] <= itq.quantization_errors_[0])
    True
    """

    _parameter_constraints = {
        **BaseHasher._parameter_constraints,
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, bits=64, *, n_iter=300, tol=3e-5, random_state=None):
        super().__init__(bits=bits)
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the projection and the rotation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        check_bits_le_features(self.bits, X.shape[1], X.shape[0], "ITQHasher")
        rng = check_random_state(self.random_state)
        self.mean_, self.components_, _ = _pca(X, self.bits)
        V = (X - self.mean_) @ self.components_.T
        self.rotation_, self.quantization_errors_ = itq_rotation(
            V, n_iter=self.n_iter, random_state=rng, tol=self.tol
        )
        self.n_iter_ = len(self.quantization_errors_) - 1
        self.n_bits_ = self.bits
        return self

    def _decision_function(self, X):
        return (X - self.mean_) @ self.components_.T @ self.rotation_


def itq_rotation(V, n_iter=50, random_state=None, *, tol=0.0):
    """Orthogonal rotation ``R`` minimising ``||sgn(V R) - V R||_F^2``.

    Alternates the two exact minimisations of Gong & Lazebnik: ``B = sgn(V
    R)`` for fixed ``R``, then the orthogonal Procrustes solution for fixed
    ``B``. Each step minimises the same objective, so it cannot increase;
    should rounding ever make an iterate worse, that iterate is discarded and
    the loop stops, so the returned ``errors`` never increase.

    Parameters
    ----------
    V : ndarray of shape (n_samples, n_dims)
        Projected (centred) data.
    n_iter : int, default=50
        Largest number of alternating iterations.
    random_state : int, RandomState instance or None, default=None
        Seeds the random initial rotation.
    tol : float, default=0.0
        Stop once an iteration lowers the error by less than ``tol`` times
        the previous error (relative decrease). ``0`` runs all ``n_iter``
        iterations unless the error stops going down at all.

    Returns
    -------
    rotation : ndarray of shape (n_dims, n_dims)
        Orthogonal matrix; codes are ``V @ rotation > 0``.
    errors : ndarray of shape (n_done + 1,)
        Quantisation error per sample before the first and after each
        iteration run (non-increasing); ``n_done <= n_iter``.
    """
    rng = check_random_state(random_state)
    V = np.asarray(V, dtype=np.float64)
    R = _random_rotation(V.shape[1], rng)
    n = max(V.shape[0], 1)

    def _binarize(P):
        return np.where(P > 0, 1.0, -1.0)

    P = V @ R
    errors = [np.sum((_binarize(P) - P) ** 2) / n]
    for _ in range(n_iter):
        # argmin over orthogonal R of ||V R - B||_F with B = sgn(V R): the
        # B-step and this R-step each minimise the same objective.
        R_new, _ = orthogonal_procrustes(V, _binarize(P))
        P_new = V @ R_new
        error = np.sum((_binarize(P_new) - P_new) ** 2) / n
        if error > errors[-1]:
            # Only rounding can do this (at a fixed point): keep the better
            # rotation, stop.
            break
        R, P = R_new, P_new
        errors.append(error)
        if errors[-2] - error <= tol * errors[-2]:
            break
    return R, np.asarray(errors)


class SpectralHasher(BaseHasher):
    """Spectral hashing (Weiss, Torralba & Fergus 2008).

    Projects the data onto its principal directions, fits a box to each
    projected coordinate, and takes as bits the ``bits`` lowest-frequency
    non-trivial eigenfunctions of the 1-d Laplacian on those boxes (sinusoids
    ``sin(pi/2 + k pi (x - min) / range)``), each thresholded at 0. This
    follows the authors' reference implementation: uniform distribution
    approximation, one principal direction per eigenfunction.

    Parameters
    ----------
    bits : int, default=64
        Code length.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean.
    components_ : ndarray of shape (n_pca, n_features)
        Principal directions used, ``n_pca = min(bits, n_features, n_samples)``.
    min_ : ndarray of shape (n_pca,)
        Lower end of the box along each direction.
    range_ : ndarray of shape (n_pca,)
        Width of the box along each direction.
    modes_ : ndarray of shape (bits, n_pca)
        Frequency index of each bit along each direction (one non-zero
        entry a row).
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.

    See Also
    --------
    PCAHasher : Thresholds the principal directions themselves.

    References
    ----------
    .. [1] Y. Weiss, A. Torralba and R. Fergus, "Spectral hashing",
       NeurIPS 2008.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import SpectralHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> SpectralHasher(bits=24).fit_transform(X).shape
    (1797, 3)
    """

    def __init__(self, bits=64):
        super().__init__(bits=bits)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the principal boxes and pick the eigenfunctions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n_pca = min(self.bits, X.shape[1], X.shape[0])
        self.mean_, self.components_, _ = _pca(X, n_pca)
        P = (X - self.mean_) @ self.components_.T
        eps = np.finfo(np.float64).eps
        self.min_ = P.min(axis=0) - eps
        self.range_ = np.maximum(P.max(axis=0) + eps - self.min_, 1e-12)
        # Candidate modes: along each direction, frequencies 1..max_mode, where
        # wider boxes get more candidates (their eigenvalues grow slower).
        max_mode = np.ceil((self.bits + 1) * self.range_ / self.range_.max())
        max_mode = max_mode.astype(int)
        candidates = [
            (dim, k) for dim in range(n_pca) for k in range(1, max_mode[dim] + 1)
        ]
        eig = np.array([(k * np.pi / self.range_[dim]) ** 2 for dim, k in candidates])
        order = np.argsort(eig, kind="stable")
        if len(order) < self.bits:
            # Tiny or degenerate data: repeat the frequencies of the widest
            # direction beyond its candidates so every bit is defined.
            widest = int(np.argmax(self.range_))
            extra = [
                (widest, max_mode[widest] + i + 1)
                for i in range(self.bits - len(order))
            ]
            candidates += extra
            order = np.concatenate([order, np.arange(len(order), len(candidates))])
        modes = np.zeros((self.bits, n_pca))
        for bit, idx in enumerate(order[: self.bits]):
            dim, k = candidates[idx]
            modes[bit, dim] = k
        self.modes_ = modes
        self.n_bits_ = self.bits
        return self

    def _decision_function(self, X):
        P = (X - self.mean_) @ self.components_.T - self.min_
        omegas = self.modes_ * (np.pi / self.range_)
        # Each row of modes_ has one non-zero entry, so the product of the
        # per-direction sinusoids reduces to the sum over that direction.
        phase = P @ omegas.T
        return np.sin(np.pi / 2 + phase)
