"""Helpers shared by the dataset loaders: where data lives, errors, Bunches."""

import os
from pathlib import Path

from sklearn.utils import Bunch

__all__ = ["get_data_home"]


def get_data_home(data_home=None):
    """Return the folder where sklhash looks for downloaded datasets.

    The folder is ``data_home`` when given, else the environment variable
    ``SKLHASH_DATA``, else ``~/sklhash_data``. Nothing is created: the
    loaders only read, they never download.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder to use instead of the default.

    Returns
    -------
    data_home : pathlib.Path
        The folder, with ``~`` expanded.

    Examples
    --------
    >>> from sklhash.datasets import get_data_home
    >>> str(get_data_home("/srv/data"))
    '/srv/data'
    """
    if data_home is None:
        data_home = os.environ.get("SKLHASH_DATA") or Path("~", "sklhash_data")
    return Path(data_home).expanduser()


def _search_dirs(path, data_home, subdir, system_dirs=()):
    """Folders to search, in order.

    ``path`` alone when given; else ``<data_home>/<subdir>`` alone when
    ``data_home`` is given; else the system folders (Debian packages)
    followed by ``<default data home>/<subdir>``.
    """
    if path is not None:
        return [Path(path).expanduser()]
    if data_home is not None:
        return [get_data_home(data_home) / subdir]
    return [Path(d) for d in system_dirs] + [get_data_home() / subdir]


def _not_found(what, looked_in, how_to_get):
    """The ``ValueError`` a loader raises when its files are nowhere."""
    places = "\n".join(f"  - {p}" for p in looked_in)
    return ValueError(f"{what} not found. Looked in:\n{places}\n{how_to_get}")


def _finish(bunch_kwargs, return_X_y, X_key="data", y_key="target"):
    """``(X, y)`` when ``return_X_y`` else the full ``Bunch``."""
    if return_X_y:
        return bunch_kwargs[X_key], bunch_kwargs[y_key]
    return Bunch(**bunch_kwargs)
