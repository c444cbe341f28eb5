"""Scoped thread limits for BLAS, OpenMP and torch.

On a machine shared with other processes, torch's and BLAS's default of one
thread per core oversubscribes the CPUs: the main job's NSH part took 829 s
with two threads on a loaded 2-core machine and 86 s with one (issue 17).
:func:`limit_threads` caps them for one block of work and restores the
previous settings afterwards, so it never leaks into the caller's process.
"""

import contextlib
import os
import sys

__all__ = ["default_threads", "limit_threads", "resolve_threads"]


def _available_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads():
    """Half the CPUs this process may use, at least 1 and at most 8.

    Leaving half the cores free keeps a shared machine responsive and
    avoids the collapse seen when every process takes all of them; beyond 8
    threads the small matrix products of hashing gain little.
    """
    return max(1, min(8, _available_cpus() // 2))


def resolve_threads(threads):
    """``None`` → :func:`default_threads`; ``-1`` → all available CPUs.

    Raises
    ------
    ValueError
        If ``threads`` is not a positive integer, -1 or None.
    """
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise ValueError(f"threads={threads!r} must be a positive integer, -1 or None.")
    if threads == -1:
        return _available_cpus()
    if threads < 1:
        raise ValueError(f"threads={threads!r} must be a positive integer, -1 or None.")
    return threads


@contextlib.contextmanager
def limit_threads(threads=None, *, torch=None):
    """Cap BLAS/OpenMP (threadpoolctl) and torch threads inside the block.

    Parameters
    ----------
    threads : int or None, default=None
        Number of threads, ``-1`` for all CPUs, None for
        :func:`default_threads`.
    torch : bool or None, default=None
        Whether to also set ``torch.set_num_threads``; None does it only when
        torch is already imported (so a numpy-only job does not import it).

    Yields
    ------
    int
        The number of threads in effect.
    """
    from threadpoolctl import threadpool_limits

    n = resolve_threads(threads)
    use_torch = (sys.modules.get("torch") is not None) if torch is None else torch
    previous = None
    if use_torch:
        import torch as _torch

        previous = _torch.get_num_threads()
        _torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        if previous is not None:
            _torch.set_num_threads(previous)
