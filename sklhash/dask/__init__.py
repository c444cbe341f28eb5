"""Scale sklhash past one process with Dask.

* :func:`encode`: packed codes of a dask array or DataFrame, block by block
  on the workers, the fitted model shipped once per worker.
* :class:`DaskHammingIndex`: exact k-NN and radius search over codes that
  stay partitioned on the workers; answers identical to
  :class:`~sklhash.neighbors.HammingIndex`.
* :class:`BlockStream`: shuffled mini-batches streamed block by block from a
  dask array or a memory-mapped array, for training on data larger than
  memory.

Tuning needs nothing from this package: wrap ``GridSearchCV.fit`` in
``joblib.parallel_backend("dask")`` (sklhash's scorers pickle).

``import sklhash`` never imports this package, and this package imports Dask
only when one of its functions runs (optional extra: ``pip install
'sklhash[dask]'``). No module here imports torch.
"""

from ._encode import encode
from ._index import DaskHammingIndex
from ._stream import BlockStream

__all__ = ["BlockStream", "DaskHammingIndex", "encode"]
