"""HammingIndex: exact k-NN and radius search over packed codes.

The search algorithms live in the sibling private modules (``_numpy``,
``_faiss``, ``_mih``, ``_select``) and the file format in ``_io``; this
module checks arguments, picks a backend and owns the persistence.
"""

import math
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklhash.utils._sklearn_compat import Interval, StrOptions, _fit_context

from ..codes import _as_words, check_codes
from . import _faiss, _io, _mih, _numpy

__all__ = ["HammingIndex"]

_BACKENDS = {"auto", "numpy", "faiss", "mih"}

# How "auto" chooses, from measurements on learned codes (ITQ codes of
# Fashion-MNIST, 60k and 1M clustered codes, 48 and 64 bits; random codes as
# the other extreme): benchmarks/bench_index.py --data learned, tables in
# docs/index_search.md.
#
# * Linear scan for radius search: FAISS only where it has a specialised
#   popcount loop (codes of 4, 8, 16, 20, 32 or 64 bytes): 1.5-2.3x faster
#   than numpy on 64-bit codes, but 2-5x slower on 48-bit codes (its generic
#   loop). For k-NN always numpy: FAISS does not order ties, and on learned
#   codes so many queries have more ties at the k-th distance than it returns
#   that re-answering them by the scan made the FAISS backend 0.6-1.9x the
#   numpy time at 64 bits and 3-4x at 48 bits.
_FAISS_FAST_WIDTHS = frozenset({4, 8, 16, 20, 32, 64})
# * Multi-index hashing only on databases of at least this many codes (the
#   tables are built on first use: 0.1 s at 60k codes, 2-3 s at 1M).
_MIH_MIN_CODES = 50_000
# * ... and only where the table entries it would read (probes plus candidate
#   codes in the probed buckets, counted on a sample of the queries) cost less
#   than the scan. Radius search: multi-index hashing took 0.4x the numpy time
#   reading 0.23 % of n_codes entries a query, 1.2-1.7x reading 1 %; k-NN
#   (whose scan does more per code): 0.5x at 0.3-0.4 %, 1.0x at 0.6 %, 1.6x at
#   1.25 % (1M codes; at 60k the scan is cheaper still). Hence budgets of
#   n_codes / 256 and n_codes / 128 entries; FAISS's fast scan halves them.
_MIH_ENTRY_COST = {"radius": 256, "knn": 128}
# * Queries sampled for that count; k-NN answers them by the scan first (their
#   k-th distances say how far multi-index hashing would have to search) and
#   keeps those answers, so the sample costs nothing extra.
_PILOT_QUERIES = 32
# * Choosing costs ~0.3-1 ms (counting table entries); a search smaller than
#   this many query x code comparisons (~0.5 ms of numpy scan) just scans,
#   unless an earlier search with the same k or radius already chose on a
#   full sample (kept until the codes change).
_PILOT_MIN_WORK = 1 << 19


def _check_n_neighbors(n_neighbors, n_codes):
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral):
        raise ValueError(
            f"n_neighbors must be a positive integer, got {n_neighbors!r}."
        )
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be >= 1, got n_neighbors={n_neighbors}.")
    if n_neighbors > n_codes:
        raise ValueError(
            f"Expected n_neighbors <= n_codes_, but n_neighbors={n_neighbors} and "
            f"the index holds n_codes_={n_codes} codes."
        )
    return int(n_neighbors)


def _check_radius(radius):
    if (
        isinstance(radius, bool)
        or not isinstance(radius, Real)
        or not math.isfinite(radius)
        or radius < 0
    ):
        raise ValueError(
            f"radius must be a finite number >= 0, got radius={radius!r}."
        )
    # Hamming distances are integers: d <= radius  <=>  d <= floor(radius).
    return int(math.floor(radius))


class HammingIndex(BaseEstimator):
    """Exact k-NN and radius search over packed binary codes.

    Codes are the packed ``uint8`` rows that a hasher's ``transform`` returns
    (``ceil(n_bits / 8)`` bytes each, numpy bit order, zero padding). Results
    are exact and identical for every backend: sorted by Hamming distance,
    ties broken by database index.

    Parameters
    ----------
    backend : {"auto", "numpy", "faiss", "mih"}, default="auto"
        Search algorithm. ``"numpy"``: blocked popcount scan. ``"faiss"``:
        FAISS ``IndexBinaryFlat`` (needs the optional ``faiss-cpu``).
        ``"mih"``: multi-index hashing, sublinear for small radii; its k-NN
        search grows the radius and hands queries whose neighbours lie far
        away to the linear scan. ``"auto"``: a linear scan (FAISS when
        installed, it is the faster one; else numpy), except for radius
        search on a database of at least 50,000 codes with a radius that
        needs fewer than ``n_codes / 1000`` table look-ups a query: there
        multi-index hashing.
    n_bits : int, default=None
        Code length. The packed width only tells ``ceil(n_bits / 8)``;
        ``None`` means ``8 * width``. Distances are the same either way
        (padding bits are zero), but multi-index hashing splits the
        ``n_bits`` real bits.
    n_substrings : int, default=None
        Substrings of multi-index hashing; ``None`` picks
        ``round(n_bits / log2(n_codes))`` as Norouzi et al. advise (at most
        32 bits a substring).
    n_jobs : int, default=None
        Threads for a search. ``None`` means 1, ``-1`` all cores; for the
        FAISS backend ``None`` leaves FAISS's own OpenMP setting alone (all
        cores unless set with ``faiss.omp_set_num_threads``).

    Attributes
    ----------
    codes_ : ndarray of shape (n_codes_, ceil(n_bits_ / 8)), dtype uint8
        The indexed codes, in database order.
    n_codes_ : int
        Number of indexed codes.
    n_bits_ : int
        Code length.

    See Also
    --------
    HashingNearestNeighbors : A hasher and an index in one estimator.
    sklhash.codes.hamming_distances : All pairwise distances.

    Notes
    -----
    ``kneighbors`` refuses ``n_neighbors`` larger than the database with a
    ``ValueError``, as scikit-learn's ``NearestNeighbors`` does.

    :meth:`save` writes a documented, versioned binary file (magic bytes,
    version, ``n_bits``, ``n_codes``, a SHA-256 checksum, then the raw
    codes); :meth:`load` refuses a file whose header, size or checksum is
    wrong, naming the file.

    References
    ----------
    .. [1] M. Norouzi, A. Punjani and D. J. Fleet, "Fast search in Hamming
       space with multi-index hashing", CVPR 2012.
    .. [2] J. Johnson, M. Douze and H. Jegou, "Billion-scale similarity
       search with GPUs", IEEE Trans. Big Data, 2019 (FAISS).

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.neighbors import HammingIndex
    >>> codes = np.array([[0b0000_0000], [0b1000_0000], [0b1100_0000],
    ...                   [0b0100_0000]], dtype=np.uint8)
    >>> index = HammingIndex(backend="numpy").fit(codes)
    >>> dist, ind = index.kneighbors(codes[:1], n_neighbors=3)
    >>> dist
    array([[0, 1, 1]], dtype=int32)
    >>> ind
    array([[0, 1, 3]])
    >>> dist, ind = index.radius_neighbors(codes[2:3], radius=1)
    >>> ind[0], dist[0]
    (array([2, 1, 3]), array([0, 1, 1], dtype=int32))
    """

    _parameter_constraints: dict = {
        "backend": [StrOptions(_BACKENDS)],
        "n_bits": [Interval(Integral, 1, None, closed="left"), None],
        "n_substrings": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(self, backend="auto", *, n_bits=None, n_substrings=None, n_jobs=None):
        self.backend = backend
        self.n_bits = n_bits
        self.n_substrings = n_substrings
        self.n_jobs = n_jobs

    # -- input checks -----------------------------------------------------

    def _check_queries(self, queries):
        # check_is_fitted costs tens of microseconds (estimator tags), a
        # sizeable share of a single-query search over a small database.
        if not hasattr(self, "codes_"):
            check_is_fitted(self)
        return check_codes(queries, n_bits=self.n_bits_, input_name="queries")

    # -- fitting ------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, codes, y=None):
        """Index packed codes, replacing any previous content.

        Parameters
        ----------
        codes : ndarray of shape (n_codes, n_bytes), dtype uint8
            Packed codes, at least one.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : HammingIndex
            The fitted index.
        """
        codes = check_codes(codes)
        if codes.shape[0] < 1:
            raise ValueError(
                f"codes must hold at least one code, got shape {codes.shape}."
            )
        n_bits = 8 * codes.shape[1] if self.n_bits is None else self.n_bits
        codes = check_codes(codes, n_bits=n_bits)
        if self.backend == "faiss":
            _faiss.import_faiss()
        self.codes_ = codes.copy()
        self.n_bits_ = int(n_bits)
        self.n_codes_ = codes.shape[0]
        self._clear_caches()
        # Explicit backends build their structures now, so that search timings
        # measure search only.
        if self.backend == "faiss":
            self._faiss_index()
        elif self.backend == "mih":
            self._mih()
        elif self.backend == "numpy":
            self._columns()
        return self

    def add(self, codes):
        """Append codes to the index; they get the next database indices.

        Parameters
        ----------
        codes : ndarray of shape (n_new, n_bytes), dtype uint8
            Packed codes of the index's width.

        Returns
        -------
        self : HammingIndex
            The index, now holding ``n_codes_ + n_new`` codes.
        """
        check_is_fitted(self)
        codes = check_codes(codes, n_bits=self.n_bits_)
        if codes.shape[0] == 0:
            return self
        self.codes_ = np.concatenate([self.codes_, codes])
        self.n_codes_ = self.codes_.shape[0]
        faiss_index = self._cache.get("faiss")
        self._clear_caches()
        if faiss_index is not None:
            _faiss.add(faiss_index, codes)
            self._cache["faiss"] = faiss_index
        return self

    # -- backend structures (rebuilt lazily, never pickled) -----------------

    def _clear_caches(self):
        self._cache = {}

    def __getstate__(self):
        # FAISS indexes cannot be pickled; every cache is rebuilt on demand.
        # A copy: object.__getstate__ returns the live __dict__ itself, and
        # popping from it broke the index that was being pickled.
        state = dict(super().__getstate__())
        state.pop("_cache", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._cache = {}

    def _columns(self):
        if "columns" not in self._cache:
            self._cache["columns"] = _numpy.columns_of(_as_words(self.codes_))
        return self._cache["columns"]

    def _faiss_index(self):
        if "faiss" not in self._cache:
            self._cache["faiss"] = _faiss.build(self.codes_)
        return self._cache["faiss"]

    def _mih(self):
        if "mih" not in self._cache:
            self._cache["mih"] = _mih.MultiIndex(
                self.codes_, self.n_bits_, self.n_substrings
            )
        return self._cache["mih"]

    def _n_threads(self):
        if self.n_jobs is None or self.n_jobs == 1:
            return 1
        return max(1, effective_n_jobs(self.n_jobs))

    def _faiss_threads(self):
        # None keeps FAISS's own OpenMP setting (all cores unless the user
        # set it with faiss.omp_set_num_threads).
        return None if self.n_jobs is None else self._n_threads()

    def _numpy_knn(self, queries, k):
        return _numpy.knn(
            self._columns(), _as_words(queries), k, self.n_bits_, self._n_threads()
        )

    def _scan_backend(self, task="radius"):
        """The linear scan "auto" uses for ``task`` (see _FAISS_FAST_WIDTHS)."""
        if self.backend == "auto":
            fast = task == "radius" and self.codes_.shape[1] in _FAISS_FAST_WIDTHS
            return "faiss" if fast and _faiss.faiss_available() else "numpy"
        return "faiss" if self.backend == "faiss" else "numpy"

    def _mih_pays(self, task, queries, radii):
        """Whether multi-index hashing reads fewer entries than a scan costs."""
        budget = self.n_codes_ / _MIH_ENTRY_COST[task]
        if self._scan_backend(task) == "faiss":
            budget /= 2
        m = _mih.effective_n_substrings(self.n_bits_, self.n_codes_, self.n_substrings)
        radii = np.atleast_1d(radii)
        # Probes alone, from the code length: no tables built when they already
        # cost more than the scan (random codes: neighbours far away).
        probes = np.mean(
            [_mih.probes_per_query(self.n_bits_, m, int(r)) for r in radii]
        )
        if probes >= budget:
            return False
        return float(self._mih().lookup_cost(queries, radii).mean()) < budget

    def _pilot(self, queries):
        n = queries.shape[0]
        return np.unique(np.linspace(0, n - 1, min(n, _PILOT_QUERIES)).astype(np.int64))

    def _choose_knn(self, queries, k):
        """Backend for a k-NN search, and the sample answered while choosing.

        Returns ``(backend, rows, dist, idx)``; ``rows`` (possibly empty) are
        queries already answered exactly with ``dist`` and ``idx``.
        """
        none = np.empty(0, dtype=np.int64)
        if self.backend != "auto":
            return self.backend, none, None, None
        scan = self._scan_backend("knn")
        if self.n_codes_ < _MIH_MIN_CODES:
            return scan, none, None, None
        known = self._decisions().get(("knn", k))
        if known is not None:
            return known, none, None, None
        if queries.shape[0] <= _PILOT_QUERIES:
            return scan, none, None, None
        rows = self._pilot(queries)
        dist, idx = self._search_knn(scan, queries[rows], k)
        pays = self._mih_pays("knn", queries[rows], dist[:, k - 1])
        backend = "mih" if pays else scan
        self._decisions()[("knn", k)] = backend
        return backend, rows, dist, idx

    def _decisions(self):
        """Choices "auto" made on a full sample, kept until the codes change.

        Later searches with the same ``k`` or radius reuse them instead of
        sampling again, so a stream of single queries pays for no choosing.
        """
        return self._cache.setdefault("auto", {})

    def _knn_backend(self, k, queries):
        """The backend "auto" picks for this k-NN search (for benchmarks)."""
        return self._choose_knn(check_codes(queries), k)[0]

    def _radius_backend(self, radius, queries):
        """The backend a radius search runs on."""
        if self.backend in ("numpy", "faiss"):
            return self.backend
        if self.backend == "mih":
            m = _mih.effective_n_substrings(
                self.n_bits_, self.n_codes_, self.n_substrings
            )
            # Past this, looking codes up costs more than scanning them all.
            probes = _mih.probes_per_query(self.n_bits_, m, radius)
            return "mih" if probes <= self.n_codes_ else "numpy"
        if self.n_codes_ < _MIH_MIN_CODES:
            return self._scan_backend()
        known = self._decisions().get(("radius", radius))
        if known is not None:
            return known
        if queries.shape[0] * self.n_codes_ < _PILOT_MIN_WORK:
            return self._scan_backend()
        sample = queries[self._pilot(queries)]
        backend = (
            "mih" if self._mih_pays("radius", sample, radius)
            else self._scan_backend()
        )
        if sample.shape[0] >= _PILOT_QUERIES:
            self._decisions()[("radius", radius)] = backend
        return backend

    # -- search -------------------------------------------------------------

    def kneighbors(self, queries, n_neighbors=10, return_distance=True, *,
                   search="hamming", rescore=None, query_vectors=None,
                   db_vectors=None, metric="cosine"):
        """The ``n_neighbors`` nearest codes of each query.

        Parameters
        ----------
        queries : ndarray
            Packed ``uint8`` query codes of the index's width, shape
            ``(n_queries, n_bytes)``; with ``search="asymmetric"``, float
            projected values ``(n_queries, n_bits_)`` (a hasher's
            ``decision_function``).
        n_neighbors : int, default=10
            Neighbours per query, between 1 and ``n_codes_``.
        return_distance : bool, default=True
            Also return the distances.
        search : {"hamming", "asymmetric"}, default="hamming"
            ``"asymmetric"`` scores the stored bits against the queries'
            float values (:func:`sklhash.neighbors.asymmetric_distances`).
        rescore : float >= 1, default=None
            Take the ``ceil(rescore * n_neighbors)`` best candidates of the
            code search and re-rank them by the float distance between
            ``query_vectors`` and ``db_vectors``.
        query_vectors : array-like of shape (n_queries, dim), default=None
            Float query vectors, needed with ``rescore``.
        db_vectors : array-like of shape (n_codes_, dim), default=None
            Float database vectors in database order (a ``np.memmap`` is
            fine: only the candidates' rows are read), needed with
            ``rescore``.
        metric : {"cosine", "euclidean"}, default="cosine"
            Float distance of the re-ranking (``1 - cosine`` or Euclidean).

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Ascending. int32 Hamming distances; float64 with
            ``search="asymmetric"`` (asymmetric distances) or ``rescore``
            (float distances). Only when ``return_distance``.
        indices : ndarray of shape (n_queries, n_neighbors), dtype int64
            Database indices; among equal distances the smaller index first.
        """
        if search != "hamming" or rescore is not None:
            return self._kneighbors_float(
                queries, n_neighbors, return_distance, search, rescore,
                query_vectors, db_vectors, metric,
            )
        queries = self._check_queries(queries)
        k = _check_n_neighbors(n_neighbors, self.n_codes_)
        if queries.shape[0] == 0:
            dist = np.empty((0, k), dtype=np.int32)
            idx = np.empty((0, k), dtype=np.int64)
            return (dist, idx) if return_distance else idx
        backend, done, done_dist, done_idx = self._choose_knn(queries, k)
        if done.size == 0:
            dist, idx = self._search_knn(backend, queries, k)
        else:
            rest = np.ones(queries.shape[0], dtype=bool)
            rest[done] = False
            dist = np.empty((queries.shape[0], k), dtype=np.int32)
            idx = np.empty((queries.shape[0], k), dtype=np.int64)
            dist[done], idx[done] = done_dist, done_idx
            if rest.any():
                dist[rest], idx[rest] = self._search_knn(backend, queries[rest], k)
        return (dist, idx) if return_distance else idx

    def _kneighbors_float(self, queries, n_neighbors, return_distance, search,
                          rescore, query_vectors, db_vectors, metric):
        """Asymmetric search and/or float rescoring (see ``_rescore``)."""
        from ._rescore import (
            asymmetric_kneighbors,
            check_factor,
            check_query_values,
            rescore_candidates,
        )

        check_is_fitted(self)
        if search not in ("hamming", "asymmetric"):
            raise ValueError(
                f"search must be 'hamming' or 'asymmetric', got {search!r}."
            )
        k = _check_n_neighbors(n_neighbors, self.n_codes_)
        m = k
        if rescore is not None:
            m = min(math.ceil(check_factor(rescore) * k), self.n_codes_)
            if query_vectors is None or db_vectors is None:
                raise ValueError(
                    "rescore needs query_vectors and db_vectors (the float "
                    "vectors of the queries and of the indexed items)."
                )
            if len(db_vectors) != self.n_codes_:
                raise ValueError(
                    f"db_vectors has {len(db_vectors)} rows but the index holds "
                    f"n_codes_={self.n_codes_} codes."
                )
        if search == "asymmetric":
            values = check_query_values(queries, self.codes_, name="queries")
            if values.shape[1] != self.n_bits_:
                raise ValueError(
                    f"queries has {values.shape[1]} columns but the index holds "
                    f"{self.n_bits_}-bit codes: asymmetric search needs one "
                    "float value per bit."
                )
            dist, idx = asymmetric_kneighbors(values, self.codes_, m)
        else:
            dist, idx = self.kneighbors(queries, m)
        if rescore is not None:
            dist, idx = rescore_candidates(query_vectors, db_vectors, idx, k,
                                           metric=metric)
        return (dist, idx) if return_distance else idx

    def _search_knn(self, backend, queries, k):
        if backend == "numpy":
            return self._numpy_knn(queries, k)

        def fallback(rows, k):
            return self._numpy_knn(queries[rows], k)

        if backend == "faiss":
            return _faiss.knn(
                self._faiss_index(), queries, k, self.n_bits_,
                self._faiss_threads(), fallback,
            )
        return self._mih().knn(queries, k, fallback)

    def radius_neighbors(self, queries, radius, return_distance=True):
        """All codes within Hamming distance ``radius`` of each query.

        Parameters
        ----------
        queries : ndarray of shape (n_queries, n_bytes), dtype uint8
            Packed query codes of the index's width.
        radius : float
            Largest distance included (``d <= radius``), at least 0.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries,), dtype object
            Per query, an int32 array of distances, ascending. Only when
            ``return_distance``.
        indices : ndarray of shape (n_queries,), dtype object
            Per query, an int64 array of database indices, sorted by distance
            then index.
        """
        queries = self._check_queries(queries)
        r = _check_radius(radius)
        backend = self._radius_backend(r, queries)
        if queries.shape[0] == 0:
            dist, idx = np.empty(0, dtype=object), np.empty(0, dtype=object)
        elif backend == "faiss":
            dist, idx = _faiss.radius(
                self._faiss_index(), queries, r, self.n_bits_, self._faiss_threads()
            )
        elif backend == "mih":
            dist, idx = self._mih().radius(queries, r)
        else:
            dist, idx = _numpy.radius(
                self._columns(), _as_words(queries), r, self.n_bits_,
                self._n_threads(),
            )
        return (dist, idx) if return_distance else idx

    # -- persistence --------------------------------------------------------

    def save(self, path):
        """Write the codes to ``path`` in sklhash's index format (version 2).

        The file is written to a temporary name in the same folder and
        renamed into place, so ``path`` is never left half-written.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.
        """
        check_is_fitted(self)
        _io.write(path, self.codes_, self.n_bits_)

    @classmethod
    def load(cls, path, *, backend="auto", n_substrings=None, n_jobs=None):
        """Read an index written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            File to read.
        backend : {"auto", "numpy", "faiss", "mih"}, default="auto"
            Backend of the returned index (not stored in the file).
        n_substrings : int, default=None
            Substrings of multi-index hashing, see the class.
        n_jobs : int, default=None
            Threads for a search, see the class.

        Returns
        -------
        index : HammingIndex
            Fitted index holding the stored codes, with ``n_bits`` as saved.

        Raises
        ------
        ValueError
            When the file's magic bytes, version or size are wrong, or its
            SHA-256 checksum does not match its contents (a changed byte).
        """
        codes, n_bits = _io.read(path)
        index = cls(
            backend=backend, n_bits=n_bits, n_substrings=n_substrings, n_jobs=n_jobs
        )
        return index.fit(codes)
