"""Find every public hasher class, like :func:`sklearn.utils.all_estimators`."""

from .._registry import HASHERS

__all__ = ["all_hashers"]

_SUPERVISION = ("unsupervised", "supervised")


def all_hashers(supervision=None):
    """List every public hasher shipped with sklhash.

    The list comes from sklhash's table of hashers (``sklhash/_registry.py``);
    the common tests check that every public subclass of
    :class:`~sklhash.BaseHasher` under :mod:`sklhash.hashers` is in it.
    Importing the deep hashers imports torch.

    Parameters
    ----------
    supervision : {"unsupervised", "supervised"} or None, default=None
        Keep only the hashers whose ``fit`` ignores labels
        (``"unsupervised"``) or needs them (``"supervised"``); None keeps
        all.

    Returns
    -------
    hashers : list of (str, type)
        ``(name, class)`` pairs sorted by name.

    Examples
    --------
    >>> from sklhash import all_hashers
    >>> "ITQHasher" in dict(all_hashers())
    True
    >>> "DPSHHasher" in dict(all_hashers(supervision="unsupervised"))
    False
    """
    if supervision is not None and supervision not in _SUPERVISION:
        raise ValueError(
            f"supervision={supervision!r} is not one of 'unsupervised', "
            "'supervised' or None."
        )
    return sorted(
        (spec.name, spec.load())
        for spec in HASHERS
        if supervision is None or spec.supervision == supervision
    )
