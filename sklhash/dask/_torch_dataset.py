"""A torch ``IterableDataset`` over a :class:`~sklhash.dask.BlockStream`.

Kept apart from the stream so that ``sklhash.dask`` never imports torch:
this module is imported only by :meth:`BlockStream.as_torch_dataset`.
"""

import numpy as np
import torch
from torch.utils.data import IterableDataset

__all__ = ["StreamDataset"]


class StreamDataset(IterableDataset):
    """Whole mini-batches of a BlockStream as tensors: ``(batch_dict, y)``.

    skorch's ``train_step`` unpacks each item into ``(X, y)``; ``X`` is the
    stream's batch dict (``"X"``, ``"idx"``, optional ``"y"``) plus the rows
    of ``targets``, and ``y`` the batch's labels or a zero placeholder.
    Each ``iter`` is one epoch of the stream (one pass over the data).

    Parameters
    ----------
    stream : BlockStream
        The source of batches.
    targets : dict of str to ndarray, default=None
        Per-row arrays added to each batch, indexed by its ``"idx"``.
    """

    def __init__(self, stream, targets=None):
        super().__init__()
        targets = dict(targets or {})
        for key, value in targets.items():
            if len(value) != stream.n_samples:
                raise ValueError(
                    f"targets[{key!r}] has {len(value)} rows but the stream has "
                    f"{stream.n_samples}; they must match."
                )
        self.stream = stream
        self.targets = targets

    def __len__(self):
        return len(self.stream)

    def __iter__(self):
        for batch in self.stream:
            out = {key: torch.as_tensor(value) for key, value in batch.items()}
            for key, value in self.targets.items():
                out[key] = torch.as_tensor(np.asarray(value)[batch["idx"]])
            y = out.get("y", torch.zeros(len(batch["idx"])))
            yield out, y
