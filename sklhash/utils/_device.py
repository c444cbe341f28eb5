"""Where and on how many threads the torch-backed estimators compute.

``resolve_device`` maps the ``device`` parameter to a torch device string;
``limit_threads`` scopes the ``n_jobs`` parameter to one fit or transform.
"""

from contextlib import contextmanager

__all__ = ["resolve_device", "limit_threads", "effective_n_threads"]


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` or ``"cpu"`` and check CUDA requests.

    torch is imported only here, when a torch-backed estimator is fitted.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.

    Returns
    -------
    str
        The device to use.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use "
            "device='cpu' or device='auto'."
        )
    return device


def effective_n_threads(n_jobs):
    """Number of threads for ``n_jobs``, scikit-learn's convention.

    ``None`` means 1 unless a :func:`joblib.parallel_config` context says
    otherwise; ``-1`` means all CPUs, ``-2`` all but one, and so on.
    """
    from joblib import effective_n_jobs

    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, a positive "
                         "number of threads or -1 for all CPUs.")
    return max(1, int(effective_n_jobs(n_jobs)))


@contextmanager
def limit_threads(n_jobs):
    """Run the block with torch and BLAS limited to ``n_jobs`` threads.

    torch's intra-op thread count is process-wide, so it is set on entry and
    restored on exit (also when the block raises); BLAS and OpenMP pools are
    limited through threadpoolctl.

    Parameters
    ----------
    n_jobs : int or None
        See :func:`effective_n_threads`.
    """
    import torch
    from threadpoolctl import threadpool_limits

    n = effective_n_threads(n_jobs)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        torch.set_num_threads(before)
