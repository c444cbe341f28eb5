"""Helpers for the file-safety tests of the dataset loaders and readers."""

import contextlib
import errno
import os
import threading
import time

_OPENED = set()


def was_opened(path):
    """Whether a reader opened the FIFO made by :func:`fifo` at ``path``."""
    return str(path) in _OPENED


@contextlib.contextmanager
def fifo(path, payload=b"not a regular file\n" * 64):
    """A FIFO at ``path`` that a reader would wait on.

    A loader that refuses non-regular files never opens it. One that does
    open it is fed ``payload`` by a background writer, so that the test
    fails on the loader's answer instead of hanging forever.
    """
    os.mkfifo(path)
    _OPENED.discard(str(path))
    stop = threading.Event()

    def feed():
        while not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: nobody reads yet
                if exc.errno != errno.ENXIO:
                    return
                time.sleep(0.01)
                continue
            _OPENED.add(str(path))
            try:
                os.set_blocking(fd, True)
                os.write(fd, payload)
            except OSError:
                pass
            finally:
                os.close(fd)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        stop.set()
        writer.join(5)
