"""A trained skorch net stored as weights, rebuilt by the estimator that owns it.

Only the state dict of the net's module is stored (as
tensors, moved to the CPU first, so a file written on a GPU machine holds
nothing CUDA-specific). Loading asks the estimator to build its untrained,
initialised net from its parameters and fitted metadata, then loads the
weights into it: no module object is ever unpickled. The net lands on the
device it was trained on when that device exists here, else on the CPU (with
a warning), and the estimator's ``device_`` says where it is.
"""

import math
import warnings

__all__ = ["decode_net", "encode_net"]


def _state(encoder, module, where):
    if module is None:
        return None
    return {
        name: encoder.value(tensor, f"{where} state {name!r}")
        for name, tensor in module.state_dict().items()
    }


def encode_net(encoder, net, where):
    """The JSON form of a trained net (its weights go to ``encoder.arrays``)."""
    module = getattr(net, "module_", None)
    if module is None:
        raise TypeError(f"{where} is not an initialised skorch net.")
    # Only the module: the criterion is training state (the deep base's
    # contract rebuilds an encoding net from parameters plus module weights).
    return {
        "module_class": type(module).__qualname__,
        "module": _state(encoder, module, f"{where}.module_"),
    }


def _target_device(stored):
    import torch

    stored = str(stored or "cpu")
    if stored.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"the model was trained on {stored!r}, which this machine lacks; "
            "it is loaded on the CPU.",
            UserWarning,
            stacklevel=4,
        )
        return "cpu"
    return stored


def _initialised_net(est, device):
    """The estimator's net, initialised and untrained, on ``device``.

    The deep base's persistence contract (``sklhash/hashers/_deep.py``):
    ``_rebuild_net`` builds it from the parameters and fitted metadata,
    leaving the caller's torch random state alone.
    """
    return est._rebuild_net(device=device)


def _load_state(decoder, module, doc, where):
    if module is None or doc is None:
        if module is None and doc:
            decoder.fail(f"{where}: the file holds weights for a part the net lacks.")
        return
    state = {
        name: decoder.value(v, f"{where} state {name!r}") for name, v in doc.items()
    }
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        decoder.fail(
            f"{where}: the stored weights do not fit the network the parameters "
            f"describe ({exc})."
        )


def _check_shapes_first(decoder, est, stored, where):
    """Refuse parameters that describe another network before building it.

    The module is built on torch's ``meta`` device, which allocates nothing,
    and its weight shapes are compared with those in the file: a forged
    ``hidden_layer_sizes=(10**6, 10**6)`` would otherwise allocate terabytes
    before ``load_state_dict`` could object.
    """
    import torch

    if not isinstance(stored, dict):
        decoder.fail(f"{where}: corrupt weights entry.")
    try:
        stored_shapes = {
            name: tuple(decoder.arrays[entry["key"]].shape)
            for name, entry in stored.items()
        }
    except (KeyError, TypeError) as exc:
        decoder.fail(f"{where}: corrupt weights entry ({exc!r}).")
    try:
        module, kwargs = est._module(est.input_shape_, {}, **est._net_fitted_meta())
        with torch.device("meta"):
            shapes = {
                name: tuple(t.shape)
                for name, t in module(**kwargs).state_dict().items()
            }
    except Exception as exc:  # any failure: nothing real gets built
        decoder.fail(
            f"{where}: the network its parameters describe could not be "
            f"checked ({type(exc).__name__}: {exc})."
        )
    if shapes != stored_shapes:
        n_params = sum(math.prod(v) for v in shapes.values())
        n_stored = sum(math.prod(v) for v in stored_shapes.values())
        decoder.fail(
            f"{where}: its parameters describe a network of {n_params} weights "
            f"but the file holds {n_stored} of other shapes; refused before "
            "building it."
        )


def decode_net(decoder, est, doc, history, where):
    """Rebuild ``est.net_`` (and ``history_``, ``device_``) from ``doc``."""
    if not isinstance(doc, dict):
        decoder.fail(f"{where}: corrupt net entry.")
    from skorch.history import History

    _check_shapes_first(decoder, est, doc.get("module"), f"{where}.module_")
    device = _target_device(getattr(est, "device_", None))
    try:
        net = _initialised_net(est, device)
    except (TypeError, ValueError, RuntimeError, AttributeError) as exc:
        decoder.fail(f"{where}: the network could not be rebuilt ({exc}).")
    _load_state(decoder, net.module_, doc.get("module"), f"{where}.module_")
    net.module_.eval()
    net.history = History(history)
    est.net_ = net
    est.history_ = net.history
    est.device_ = device
