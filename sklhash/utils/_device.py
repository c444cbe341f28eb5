"""Resolving the ``device`` parameter shared by every torch-backed estimator."""

__all__ = ["resolve_device"]


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
