"""Private search backends of :mod:`sklhash.neighbors`.

``_numpy`` (blocked popcount scan), ``_faiss`` (FAISS ``IndexBinaryFlat`` with
sklhash's tie rule restored), ``_mih`` (multi-index hashing) and ``_io`` (the
on-disk format). Every backend returns exactly the same neighbours: sorted by
Hamming distance, ties broken by database index.
"""
