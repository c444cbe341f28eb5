"""Safe model files and training that survives interruption.

:func:`save` writes a fitted estimator (any hasher of
:func:`sklhash.all_hashers`, :class:`~sklhash.neighbors.HammingIndex`,
:class:`~sklhash.neighbors.HashingNearestNeighbors`, or a scikit-learn
``Pipeline`` of those and the steps of :func:`supported_classes`) to one
safetensors file with a JSON document in its header; :func:`load` reads it
back without unpickling or executing anything from the file.
:class:`TrainingCheckpoint` is a skorch callback that checkpoints a deep
hasher after every epoch and resumes a killed ``fit`` where it stopped.

The package holds the file container (``_container``: layout, checksums,
atomic writes), the value codec (``_codec``), the allow-list of classes
(``_allowlist``), the torch side of a trained net (``_torch_state``), the
public functions (``_api``) and the checkpoint callback (``_checkpoint``,
imported on first use: it needs torch). See docs/persistence.md.
"""

from .._lazy import lazy_getattr
from ._allowlist import supported_sklearn
from ._api import is_model_file, load, save
from ._container import FORMAT_VERSION, ModelFileError

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "TrainingCheckpoint",
    "is_model_file",
    "load",
    "save",
    "supported_classes",
]

__getattr__ = lazy_getattr(__name__, {"TrainingCheckpoint": "._checkpoint"})


def supported_classes():
    """What :func:`save` accepts besides sklhash's own estimators.

    Returns
    -------
    names : list of str
        The scikit-learn classes a model file may hold (as Pipeline steps).

    Examples
    --------
    >>> from sklhash.persistence import supported_classes
    >>> "sklearn.preprocessing.StandardScaler" in supported_classes()
    True
    """
    return supported_sklearn()
