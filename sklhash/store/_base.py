"""What every database index shares: the public API and its input checks.

A backend implements a handful of hooks (write a batch in one transaction,
one k-NN or radius query, delete, fetch, count); the checks, the id rules
and the shape of the results live here once, so both databases answer in
exactly :class:`~sklhash.neighbors.HammingIndex`'s format.
"""

import numpy as np

from ..codes import check_codes
from ._checks import (
    check_ids,
    check_n_neighbors,
    check_radius,
    encode_metadata,
)


class BaseCodeStore:
    """Exact Hamming search over codes kept in a database table.

    Not an estimator: an instance holds an open connection. Use it as a
    context manager, or call :meth:`close`.
    """

    # -- hooks a backend implements ------------------------------------------

    def _where(self):  # pragma: no cover - abstract
        """Where the table lives, for messages (no password)."""
        raise NotImplementedError

    def _read_n_bits(self):  # pragma: no cover - abstract
        """``n_bits`` of the existing table (marker checked), or None."""
        raise NotImplementedError

    def _write(self, codes, n_bits, ids, metadata, replace):  # pragma: no cover
        """Create the table if needed and load one batch, all or nothing."""
        raise NotImplementedError

    def _knn(self, queries, k):  # pragma: no cover - abstract
        """Per query, (ids, distances) of the k nearest, by (distance, id)."""
        raise NotImplementedError

    def _radius(self, queries, r):  # pragma: no cover - abstract
        """Per query, (ids, distances) of all rows within r, by (distance, id)."""
        raise NotImplementedError

    def _delete(self, ids):  # pragma: no cover - abstract
        """Delete ids, all or nothing: ValueError if any is absent."""
        raise NotImplementedError

    def _fetch(self, ids):  # pragma: no cover - abstract
        """``{id: (code, metadata)}`` for the ids present."""
        raise NotImplementedError

    def _export(self):  # pragma: no cover - abstract
        """(ids, codes) of every row, by id."""
        raise NotImplementedError

    def _count(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self):  # pragma: no cover - abstract
        """Close the connection if this index opened it."""
        raise NotImplementedError

    # -- context manager ----------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- shared logic -------------------------------------------------------

    def _sync_n_bits(self):
        n_bits = self._read_n_bits()
        if n_bits is not None:
            if self.n_bits is not None and self.n_bits != n_bits:
                raise ValueError(
                    f"n_bits={self.n_bits} but table {self.table!r} in "
                    f"{self._where()} holds {n_bits}-bit codes."
                )
            self.n_bits_ = n_bits
        return n_bits

    def _check_new_codes(self, codes):
        codes = check_codes(codes)
        n_bits = getattr(self, "n_bits_", None)
        if n_bits is None:
            n_bits = self.n_bits if self.n_bits is not None else 8 * codes.shape[1]
            if (n_bits + 7) // 8 != codes.shape[1]:
                raise ValueError(
                    f"n_bits={n_bits} does not fit codes of {codes.shape[1]} bytes "
                    f"(expected {8 * codes.shape[1] - 7} to {8 * codes.shape[1]} "
                    "bits)."
                )
        return check_codes(codes, n_bits=n_bits), n_bits

    def _load(self, codes, ids, metadata, replace):
        codes, n_bits = self._check_new_codes(codes)
        n = codes.shape[0]
        if ids is not None:
            ids = check_ids(ids, n)
        metadata = encode_metadata(metadata, n)
        ids = self._write(codes, n_bits, ids, metadata, replace)
        self.n_bits_ = n_bits
        return ids

    def add(self, codes, ids=None, metadata=None):
        """Insert codes in one transaction: all rows or none.

        Parameters
        ----------
        codes : ndarray of shape (n_new, n_bytes), dtype uint8
            Packed codes (numpy bit order, zero padding). The first ``add``
            to a new table fixes its code length: ``n_bits`` if given, else
            ``8 * n_bytes``.
        ids : array-like of int of shape (n_new,), default=None
            Distinct 64-bit integer ids, none already in the table.
            ``None`` numbers the rows on from the largest id in the table
            (from 0 in an empty one), as ``HammingIndex`` numbers rows.
        metadata : sequence of shape (n_new,), default=None
            One JSON-serialisable value (or ``None``) per code, stored in
            the ``metadata`` column.

        Returns
        -------
        ids : ndarray of shape (n_new,), dtype int64
            The ids of the new rows.
        """
        return self._load(codes, ids, metadata, replace=False)

    def fit(self, codes, ids=None, metadata=None):
        """Replace the table's content with these codes, in one transaction.

        Parameters
        ----------
        codes : ndarray of shape (n_codes, n_bytes), dtype uint8
            Packed codes of the table's width.
        ids : array-like of int of shape (n_codes,), default=None
            Distinct ids; ``None`` means ``0 .. n_codes - 1``.
        metadata : sequence of shape (n_codes,), default=None
            One JSON-serialisable value (or ``None``) per code.

        Returns
        -------
        self
            The index.
        """
        self._load(codes, ids, metadata, replace=True)
        return self

    def _check_queries(self, queries):
        n_bits = getattr(self, "n_bits_", None)
        if n_bits is None:
            n_bits = self._sync_n_bits()
        if n_bits is None:
            raise ValueError(
                f"table {self.table!r} in {self._where()} does not exist yet; "
                "add codes before searching."
            )
        return check_codes(queries, n_bits=n_bits, input_name="queries")

    def kneighbors(self, queries, n_neighbors=10, return_distance=True):
        """The ``n_neighbors`` nearest codes of each query, exactly.

        Parameters
        ----------
        queries : ndarray of shape (n_queries, n_bytes), dtype uint8
            Packed query codes of the table's width.
        n_neighbors : int, default=10
            Neighbours per query, between 1 and the number of rows.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors), dtype int32
            Hamming distances, ascending. Only when ``return_distance``.
        ids : ndarray of shape (n_queries, n_neighbors), dtype int64
            Row ids; among equal distances the smaller id first.
        """
        return self._kneighbors(self._knn, queries, n_neighbors, return_distance)

    def _kneighbors(self, search, queries, n_neighbors, return_distance):
        queries = self._check_queries(queries)
        k = check_n_neighbors(n_neighbors)
        dist = np.empty((queries.shape[0], k), dtype=np.int32)
        idx = np.empty((queries.shape[0], k), dtype=np.int64)
        for i, (ids, d) in enumerate(search(queries, k)):
            if len(ids) < k:
                raise ValueError(
                    f"Expected n_neighbors <= the number of codes, but "
                    f"n_neighbors={k} and table {self.table!r} holds {len(ids)}."
                )
            idx[i], dist[i] = ids, d
        return (dist, idx) if return_distance else idx

    def radius_neighbors(self, queries, radius, return_distance=True):
        """All codes within Hamming distance ``radius`` of each query.

        Parameters
        ----------
        queries : ndarray of shape (n_queries, n_bytes), dtype uint8
            Packed query codes of the table's width.
        radius : float
            Largest distance included (``d <= radius``), at least 0.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries,), dtype object
            Per query, an int32 array of distances, ascending. Only when
            ``return_distance``.
        ids : ndarray of shape (n_queries,), dtype object
            Per query, an int64 array of ids, by distance then id.
        """
        queries = self._check_queries(queries)
        r = check_radius(radius)
        dist = np.empty(queries.shape[0], dtype=object)
        idx = np.empty(queries.shape[0], dtype=object)
        for i, (ids, d) in enumerate(self._radius(queries, r)):
            idx[i] = np.asarray(ids, dtype=np.int64)
            dist[i] = np.asarray(d, dtype=np.int32)
        return (dist, idx) if return_distance else idx

    def remove(self, ids):
        """Delete rows by id, all or nothing.

        Parameters
        ----------
        ids : array-like of int of shape (n_ids,)
            Distinct ids, all present in the table.

        Returns
        -------
        self
            The index.
        """
        ids = check_ids(ids, None)
        if ids.size == 0:
            return self
        if self._read_n_bits() is None:
            raise ValueError(f"table {self.table!r} in {self._where()} does not exist.")
        self._delete(ids)
        return self

    def get(self, ids):
        """The codes and metadata stored under some ids.

        Parameters
        ----------
        ids : array-like of int of shape (n_ids,)
            Distinct ids, all present in the table.

        Returns
        -------
        codes : ndarray of shape (n_ids, n_bytes), dtype uint8
            The packed codes, in the order of ``ids``.
        metadata : list of length n_ids
            The stored metadata (``None`` where there is none).
        """
        ids = check_ids(ids, None)
        n_bits = self._sync_n_bits()
        if n_bits is None:
            raise ValueError(f"table {self.table!r} in {self._where()} does not exist.")
        rows = self._fetch(ids) if ids.size else {}
        missing = [int(i) for i in ids if int(i) not in rows]
        if missing:
            raise ValueError(f"ids not in table {self.table!r}: {missing[:10]}.")
        codes = np.zeros((ids.size, (n_bits + 7) // 8), dtype=np.uint8)
        metadata = []
        for j, i in enumerate(ids.tolist()):
            codes[j], doc = rows[i]
            metadata.append(doc)
        return codes, metadata

    def export(self):
        """All ids and codes, in id order: a snapshot for in-memory search.

        ``HammingIndex().fit(codes)`` on the snapshot answers like this index
        (positions in place of ids: ``ids[positions]``), many times faster,
        but does not see later changes to the table.

        Returns
        -------
        ids : ndarray of shape (n_codes,), dtype int64
            Ascending.
        codes : ndarray of shape (n_codes, n_bytes), dtype uint8
            The packed codes, row ``i`` stored under ``ids[i]``.
        """
        n_bits = self._sync_n_bits()
        if n_bits is None:
            raise ValueError(f"table {self.table!r} in {self._where()} does not exist.")
        return self._export()

    def __len__(self):
        if self._read_n_bits() is None:
            return 0
        return self._count()

    @property
    def n_codes_(self):
        """Number of rows in the table."""
        return len(self)

    def __repr__(self):
        return f"{type(self).__name__}({self._where()}, table={self.table!r})"
