"""``save`` and ``load``: a fitted estimator to one file and back, without pickle."""

import os
import warnings

from . import _container
from ._codec import Decoder, Encoder

__all__ = ["is_model_file", "load", "save"]

_KIND = "sklhash-model"
_WHAT = "sklhash model file"


def _versions(uses_torch):
    import numpy
    import sklearn

    import sklhash

    versions = {
        "sklhash": sklhash.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
    }
    if uses_torch:
        import torch

        versions["torch"] = torch.__version__
    return versions


def _check_fitted(est, where, hint="call fit before sklhash.save"):
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    if isinstance(est, Pipeline):
        for name, step in est.steps:
            if step is not None and step != "passthrough":
                _check_fitted(step, f"step {name!r} of the Pipeline", hint)
        return
    msg = f"{where} ({type(est).__name__}) is not fitted: {hint}."
    check_is_fitted(est, msg=msg)


def save(estimator, path):
    """Write a fitted estimator to ``path``, in a file that loads without pickle.

    The file is a single `safetensors <https://github.com/huggingface/safetensors>`_
    file: arrays (rotations, components, network weights, indexed codes) as
    tensors, and a JSON document in its header with the class names,
    parameters, fitted scalars, library versions and a SHA-256 checksum of
    every array. It is written to a temporary file, synced to disk and
    renamed into place, so a crash leaves the previous file or none.

    Parameters
    ----------
    estimator : estimator
        A fitted hasher of :func:`sklhash.all_hashers`, a
        :class:`~sklhash.neighbors.HammingIndex`, a
        :class:`~sklhash.neighbors.HashingNearestNeighbors`, or a
        :class:`~sklearn.pipeline.Pipeline` of those and the scikit-learn
        steps listed by :func:`supported_classes`.
    path : str or os.PathLike
        Destination file (conventionally ``*.skhash``); replaced if present.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the estimator (or a Pipeline step) is not fitted.
    TypeError
        When a class is not supported, or a parameter holds an object that
        cannot be stored without pickle (a function, a torch module, a
        callback): the message names it.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklhash import ITQHasher
    >>> from sklhash.persistence import load, save
    >>> X = np.random.default_rng(0).normal(size=(50, 8))
    >>> hasher = ITQHasher(bits=4, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "itq.skhash")
    >>> save(hasher, path)
    >>> bool((load(path).transform(X) == hasher.transform(X)).all())
    True
    """
    where = "the estimator"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or os.PathLike, got {type(path).__name__}."
        )
    _check_fitted(estimator, where)
    encoder = Encoder()
    document = encoder.estimator(estimator, where)
    _container.write(
        path,
        _KIND,
        {"versions": _versions(encoder.uses_torch), "estimator": document},
        encoder.arrays,
    )


def load(path):
    """Read an estimator written by :func:`save`.

    Nothing in the file is executed and nothing is unpickled: the file can
    only name classes of an allow-list (sklhash's estimators and the
    scikit-learn steps of :func:`supported_classes`); the estimator is built
    from its stored parameters and given its stored fitted attributes and
    weights. A network trained on a GPU loads on a machine without one.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    estimator
        The fitted estimator; it gives byte-identical codes.

    Raises
    ------
    ValueError
        Naming the file, when it does not exist, is a folder, is not an
        sklhash model, has another format version, is truncated or corrupt
        (every array and the JSON document carry a checksum), or names a
        class outside the allow-list.

    See Also
    --------
    save : Write the file.
    """
    path = os.fspath(path)
    document, arrays = _container.read(path, _KIND, what=_WHAT)
    decoder = Decoder(arrays, path)
    doc = document.get("estimator")
    if not isinstance(doc, dict) or doc.get("kind") != "estimator":
        decoder.fail("holds no estimator.")
    versions = document.get("versions") or {}
    _warn_versions(path, versions)
    try:
        est = decoder.estimator(doc, "the file's estimator")
    except RecursionError:
        decoder.fail("is corrupt: its document is nested too deeply.")
    try:
        _check_fitted(est, "the file's estimator", "it was not written by save")
    except ValueError as exc:
        decoder.fail(f"holds an unfitted estimator ({exc}).")
    return est


def _warn_versions(path, versions):
    import sklearn

    saved = versions.get("scikit-learn") if isinstance(versions, dict) else None
    if saved != sklearn.__version__:
        # scikit-learn's own advice for pickles applies: fitted attributes
        # can change meaning between versions.
        warnings.warn(
            f"{path!r} was saved with scikit-learn {saved}; this is "
            f"{sklearn.__version__}. Check its output before relying on it.",
            UserWarning,
            stacklevel=3,
        )


def is_model_file(path):
    """Whether ``path`` declares itself an sklhash model file.

    Reads the header only and never raises: use it to tell a model file from
    another (a pickle, say) before choosing how to open it. :func:`load`
    still checks everything.

    Parameters
    ----------
    path : str or os.PathLike
        Any path.

    Returns
    -------
    bool
        True when the header declares the format ``"sklhash-model"``.

    See Also
    --------
    load : Read (and check) the file.

    Examples
    --------
    >>> from sklhash.persistence import is_model_file
    >>> is_model_file("no/such/file")
    False
    """
    return os.path.isfile(path) and _container.kind_of(path) == _KIND
