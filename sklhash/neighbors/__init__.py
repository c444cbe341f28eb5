"""Exact nearest-neighbour search over packed binary codes.

:class:`HammingIndex` answers k-nearest-neighbour and radius queries over the
packed codes every sklhash hasher returns, exactly: neighbours are sorted by
Hamming distance and ties are broken by database index (the order in which
codes were added), whatever the backend. :class:`HashingNearestNeighbors`
fits a hasher and an index in one go, for search straight from features.

Backends (all exact, all giving the same answer):

* ``"numpy"``: a blocked popcount scan over 64-bit words, k-NN selection by
  counting the (small integer) distances rather than sorting them, threads
  over query chunks. No dependency beyond numpy.
* ``"faiss"``: FAISS ``IndexBinaryFlat`` (optional ``faiss-cpu``), with the
  bit order converted at the boundary and ties re-ranked to sklhash's rule.
* ``"mih"``: multi-index hashing (Norouzi, Punjani & Fleet, 2012), sublinear
  for small radii on large databases.

The package holds the index (``_index``), the estimator (``_estimator``) and
the private backends: ``_numpy`` (blocked popcount scan), ``_faiss`` (FAISS
with sklhash's tie rule restored), ``_mih`` (multi-index hashing),
``_select`` (top-k selection shared by the backends) and ``_io`` (the
on-disk format). It never imports torch.
"""

from ._estimator import HashingNearestNeighbors
from ._index import HammingIndex

__all__ = ["HammingIndex", "HashingNearestNeighbors"]
