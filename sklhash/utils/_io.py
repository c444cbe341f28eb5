"""Writing files so that a failure never leaves half a file behind."""

import os
import tempfile

__all__ = ["atomic_write"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Write ``path`` through a temporary file in the same folder, then rename.

    ``write(fh)`` receives a binary file object. A failure at any point
    leaves the destination untouched and no temporary file behind. The file
    gets the permissions of a normally created file (``0o666`` less the
    umask), not the private ones of :func:`tempfile.mkstemp`.

    Parameters
    ----------
    path : str or path-like
        Destination.
    write : callable
        Called once with the open temporary file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
