"""Helpers shared by the dataset loaders: where data lives, errors, Bunches."""

import bz2
import gzip
import lzma
import os
import stat
import zlib
from contextlib import contextmanager
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


# --------------------------------------------------------------- file safety
# Every loader reads files it did not write. Three rules, each enforced by one
# helper below so that a new loader gets them by calling it:
#
# * memory is bounded by what a header announced, checked before a byte of
#   payload is decompressed (``_read_exactly``);
# * a file named by the data (a caption row, a file below an image folder)
#   stays inside the root the user gave (``_Root``);
# * reading errors of any library become a ValueError naming the file
#   (``_reading``).

# What the stdlib's readers raise on a damaged stream: a truncated gzip raises
# EOFError, a bad header or CRC BadGzipFile (an OSError), a bad deflate
# stream zlib.error, bz2/lzma their own errors.
_STREAM_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)


@contextmanager
def _reading(name):
    """Turn a damaged-stream error while reading ``name`` into a ValueError."""
    try:
        yield
    except _STREAM_ERRORS as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ValueError(f"Cannot read {name}: {reason}") from exc


def _check_regular_file(path, what="file"):
    """``path`` itself (after symlinks) must be a regular file.

    Refuses folders, FIFOs and devices (``/dev/zero`` would never end) with a
    ValueError naming the path.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ValueError(f"Cannot read {what} {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise ValueError(f"{what} {path} is not a regular file")
    return Path(path)


def _open_stream(path):
    """A binary stream over ``path``, decompressed by its suffix.

    ``.gz``, ``.bz2`` and ``.xz`` are decompressed on the fly (only as far as
    the caller reads), anything else is read as is.
    """
    path = _check_regular_file(path)
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(
        path.suffix.lower(), open
    )
    with _reading(path):
        return opener(path, "rb")


def _read_exactly(stream, out, name, *, trailing_ok=False):
    """Fill ``out`` (a writable buffer) from ``stream``, then check it ended.

    The caller allocates ``out`` with the size a header announced, after
    checking that size against its own bound, so a stream never costs more
    memory than that: a decompression bomb behind a small header stops after
    the announced bytes, at the ``trailing`` check, instead of expanding.

    Parameters
    ----------
    stream : binary file object
        Positioned after the header.
    out : writable buffer (bytearray, ndarray, memoryview)
        Filled completely.
    name : str or path-like
        Named in the error messages.
    trailing_ok : bool, default=False
        If False, a stream with data after ``out`` is corrupt.

    Raises
    ------
    ValueError
        If the stream ends early, has trailing data, or is damaged.
    """
    view = memoryview(out).cast("B")
    got = 0
    with _reading(name):
        while got < len(view):
            n = stream.readinto(view[got:])
            if not n:
                raise ValueError(
                    f"{name} is truncated: its header announces {len(view)} "
                    f"bytes of data, the file holds {got}"
                )
            got += n
        if not trailing_ok and stream.read(1):
            raise ValueError(
                f"{name} holds more data than the {len(view)} bytes its header "
                "announces: the file is corrupt or not what it claims to be"
            )
    return out


def _read_bounded(stream, limit, name):
    """All of ``stream``, refused once it exceeds ``limit`` bytes.

    For formats without a size header (a pickle, a JSON file): at most
    ``limit + 1`` bytes are ever decompressed or held.
    """
    with _reading(name):
        raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(
            f"{name} is larger than {limit} bytes, the most this loader reads "
            "for it: the file is not what it claims to be"
        )
    return raw


class _Root:
    """A folder that every file the data names must stay inside.

    ``resolve(relative)`` joins a path found in the data (a caption row, a
    file met while walking an image folder) to the root and refuses, with a
    ValueError naming it, any that leaves the root: an absolute path elsewhere,
    ``..`` components, or a symbolic link (of the file or of any folder on
    its way) that points outside. Folders are resolved once and cached, so the
    cost per file is one ``lstat``.

    Parameters
    ----------
    root : path-like
        The root folder; itself may be a symbolic link.
    what : str
        Named in the messages, e.g. ``"image_root"``.
    """

    def __init__(self, root, what):
        self.given = os.fspath(root)
        # Compared as absolute paths, so that an absolute row inside a root
        # given as a relative path is recognised as inside.
        self._cwd = os.getcwd()
        self._prefix = os.path.abspath(self.given).rstrip(os.sep) + os.sep
        self.real = os.path.realpath(self.given)
        self.what = what
        self._dirs = {}

    def _inside(self, real):
        return real == self.real or real.startswith(self.real.rstrip(os.sep) + os.sep)

    def _refuse(self, path, where, why):
        return ValueError(
            f"{where}{path!r} {why} outside {self.what} {self.given}: sklhash "
            f"reads only files inside {self.what}"
        )

    def check_link(self, path, where=""):
        """Refuse ``path`` when it is a symbolic link to a place outside the root.

        For a walker that never follows folder links, so that ``path`` itself
        is the only link to resolve.
        """
        if os.path.islink(path) and not self._inside(os.path.realpath(path)):
            raise self._refuse(path, where, "is a symbolic link to a file")
        return path

    def resolve(self, relative, where="", *, check_links=True):
        """The path of ``relative`` below the root, refused if it escapes.

        Parameters
        ----------
        relative : str
            Path found in the data, relative to the root (an absolute path is
            accepted only when it lies inside the root).
        where : str, default=""
            Prefix of the error message, e.g. ``"file.tsv, line 3: "``.
        check_links : bool, default=True
            Also resolve symbolic links on the file system. False checks the
            path lexically only, touching no file.

        Returns
        -------
        path : str
            The joined, normalised path (links not replaced, so the names the
            user sees are the ones in the data).
        """
        if check_links:
            return self.resolve_file(relative, where)[0]
        return self._lexical(relative, where)

    def _lexical(self, relative, where):
        if "\0" in relative:
            raise ValueError(f"{where}{relative!r} holds a NUL character")
        path = os.path.normpath(os.path.join(self.given, relative))
        absolute = path if os.path.isabs(path) else os.path.join(self._cwd, path)
        if not absolute.startswith(self._prefix):
            raise self._refuse(relative, where, "lies")
        return path

    def resolve_file(self, relative, where=""):
        """:meth:`resolve` with links checked, and whether the file exists.

        Returns
        -------
        path : str
            As :meth:`resolve`.
        is_file : bool
            Whether ``path`` is a regular file (after links), found with the
            same ``lstat`` that checked for a link.
        """
        path = self._lexical(relative, where)
        folder = path.rpartition(os.sep)[0]
        real_folder = self._dirs.get(folder)
        if real_folder is None:
            real_folder = self._dirs[folder] = os.path.realpath(folder)
        if not self._inside(real_folder):
            raise self._refuse(relative, where, "is in a folder linked to a place")
        try:
            mode = os.lstat(path).st_mode
        except OSError:  # missing, or a folder on the way is not one
            return path, False
        if stat.S_ISLNK(mode):
            if not self._inside(os.path.realpath(path)):
                raise self._refuse(relative, where, "is a symbolic link to a file")
            return path, os.path.isfile(path)
        return path, stat.S_ISREG(mode)
