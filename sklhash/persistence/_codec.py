"""Turning estimators into a JSON document plus named arrays, and back.

Every value becomes JSON, tagged (``"kind"``) where JSON alone would lose
its type:

====================  ===================================================
value                 JSON form
====================  ===================================================
None, bool, int,      themselves
str
float                 ``{"kind": "float", "hex": "0x1.8p+1"}`` (exact,
                      NaN and infinities too)
list                  ``[items]``
tuple                 ``{"kind": "tuple", "items": [...]}``
dict                  ``{"kind": "dict", "items": [[key, value], ...]}``
numpy scalar          ``{"kind": "scalar", "dtype": "<f4", "value": ...}``
numpy dtype / type    ``{"kind": "dtype" | "numpy_type", "name": "<f4"}``
numeric ndarray       ``{"kind": "array", "key": "a7"}``, bytes in the
                      safetensors part; ``"order": "F"`` for a
                      Fortran-ordered array, stored transposed
ndarray of str        ``{"kind": "str_array", "dtype", "shape", "items"}``
torch tensor          ``{"kind": "tensor", "key": "a8", "dtype": "float32"}``
pathlib path          ``{"kind": "path", "value": "/some/folder"}``
LabelHierarchy        ``{"kind": "LabelHierarchy", "data": h.to_dict()}``
EmbeddingSimilarity   ``{"kind": "EmbeddingSimilarity", "level", "vectors",
                      "labels", "similarity_kind"}`` (unit vectors as stored)
allow-listed          ``{"kind": "estimator", "class", "params", "fitted"}``
estimator             (plus ``"net"`` and ``"history"`` for a deep hasher,
                      ``"set_output"`` when one was chosen)
====================  ===================================================

An estimator is its class name (see ``_allowlist``), its parameters
(``get_params(deep=False)``) and its public fitted attributes (names ending
in ``_``). Private attributes are not stored: by the estimator contract they
are caches rebuilt on demand or training-only state. A trained skorch net
(``net_``) is stored as the state dicts of its module and criterion and
rebuilt by the estimator (see ``_torch_state``). Anything else (a function,
a user's torch module, a callback) is refused at save time with a
``TypeError`` naming where it sits.
"""

import inspect
import re
from pathlib import Path, PurePath

import numpy as np

from . import _allowlist

__all__ = ["Decoder", "Encoder"]

_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*_$")
_NUMERIC_KINDS = "biuf"


class Encoder:
    """Collects the arrays while it turns values into JSON."""

    def __init__(self):
        self.arrays = {}
        self.uses_torch = False

    def _store(self, array):
        key = f"a{len(self.arrays)}"
        self.arrays[key] = array
        return key

    def value(self, value, where):
        """The JSON form of ``value``; ``where`` names it in errors."""
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return {"kind": "float", "hex": value.hex()}
        if type(value) is list:
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if type(value) is tuple:
            return {
                "kind": "tuple",
                "items": [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)],
            }
        if type(value) is dict:
            return {
                "kind": "dict",
                "items": [
                    [self.value(k, f"{where} key"), self.value(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ],
            }
        if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
            return {
                "kind": "scalar",
                "dtype": value.dtype.str,
                "value": self.value(value.item(), where),
            }
        if isinstance(value, np.dtype) and value.kind in _NUMERIC_KINDS:
            return {"kind": "dtype", "name": value.str}
        if isinstance(value, type) and issubclass(value, np.generic):
            if np.dtype(value).kind in _NUMERIC_KINDS:
                return {"kind": "numpy_type", "name": np.dtype(value).str}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if _is_tensor(value):
            self.uses_torch = True
            array = value.detach().cpu()
            dtype = str(array.dtype).removeprefix("torch.")
            if dtype == "bfloat16":
                raise TypeError(f"{where}: bfloat16 tensors are not supported.")
            return {"kind": "tensor", "key": self._store(array.numpy()), "dtype": dtype}
        if isinstance(value, PurePath):
            return {"kind": "path", "value": str(value)}
        if _is_label_hierarchy(value):
            return {"kind": "LabelHierarchy", "data": value.to_dict()}
        level = _embedding_similarity_level(value)
        if level is not None:
            return {
                "kind": "EmbeddingSimilarity",
                "level": level,
                "vectors": self._array(value.vectors_, where),
                "labels": self.value(value.classes, where)
                if level == "class"
                else None,
                "similarity_kind": value.kind,
            }
        if hasattr(value, "get_params") and not isinstance(value, type):
            return self.estimator(value, where)
        raise TypeError(
            f"{where} is a {_describe(value)}, which sklhash.save cannot store "
            "without pickle. Supported: numbers, strings, lists, tuples, dicts, "
            "numpy arrays, paths, a LabelHierarchy, an EmbeddingSimilarity, "
            "sklhash's estimators and those of "
            "sklhash.persistence.supported_classes(); set it to one of those "
            "(or None) before saving."
        )

    def _array(self, array, where):
        if array.dtype.kind in _NUMERIC_KINDS and not array.dtype.fields:
            if _column_major(array):
                # Memory order decides how BLAS sums a product, hence its
                # last bits: a column-major array (Fortran-ordered, or a
                # transposed slice such as TruncatedSVD's components_)
                # comes back column-major.
                return {"kind": "array", "key": self._store(array.T), "order": "F"}
            return {"kind": "array", "key": self._store(array)}
        if array.dtype.kind in "OU" and all(isinstance(s, str) for s in array.flat):
            return {
                "kind": "str_array",
                "dtype": "object" if array.dtype.kind == "O" else array.dtype.str,
                "shape": list(array.shape),
                "items": [str(s) for s in array.flat],
            }
        raise TypeError(
            f"{where} is an array of dtype {array.dtype}, which sklhash.save "
            "cannot store (numeric arrays and arrays of strings only)."
        )

    def estimator(self, est, where):
        """The JSON form of an allow-listed estimator, fitted or not."""
        cls = type(est)
        name = _allowlist.class_name(cls)
        if name is None:
            raise TypeError(
                f"{where} is a {cls.__module__}.{cls.__qualname__}, which "
                "sklhash.save does not support. Supported: sklhash's hashers "
                "and HammingIndex, and the scikit-learn steps "
                f"{', '.join(_allowlist.supported_sklearn())}."
            )
        fitted = _fitted_attributes(est)
        params = est.get_params(deep=False)
        doc = {
            "kind": "estimator",
            "class": name,
            "params": {k: self._param(cls, k, v) for k, v in params.items()},
            "fitted": {},
        }
        for attr, value in fitted.items():
            if attr == "net_":
                from ._torch_state import encode_net

                self.uses_torch = True
                doc["net"] = encode_net(self, value, f"{cls.__name__}.net_")
            elif attr == "history_" and "net_" in fitted:
                # net_.history, restored with the net.
                doc["history"] = self.value(list(value), f"{cls.__name__}.history_")
            else:
                doc["fitted"][attr] = self.value(value, f"{cls.__name__}.{attr}")
        output = vars(est).get("_sklearn_output_config", {}).get("transform")
        if output is not None:
            # set_output's choice lives in a private attribute; without it a
            # loaded pandas-output step would quietly return arrays.
            doc["set_output"] = self.value(output, f"{cls.__name__} set_output")
        return doc

    def _param(self, cls, name, value):
        if name == "steps" and isinstance(value, list):
            # A Pipeline's steps: errors name the step, not a list position.
            return [
                {
                    "kind": "tuple",
                    "items": [
                        self.value(step_name, f"the name of step {i}"),
                        self.value(step, f"step {step_name!r} of the Pipeline"),
                    ],
                }
                if isinstance(item, tuple) and len(item) == 2
                else self.value(item, f"step {i} of the Pipeline")
                for i, item in enumerate(value)
                for step_name, step in [item if isinstance(item, tuple) else (i, item)]
            ]
        return self.value(value, f"parameter {name!r} of {cls.__name__}")


def _column_major(array):
    if array.ndim < 2 or array.flags.c_contiguous:
        return False
    if array.flags.f_contiguous:
        return True
    return array.ndim == 2 and abs(array.strides[0]) < abs(array.strides[1])


def _fitted_attributes(est):
    return {
        k: v
        for k, v in vars(est).items()
        if _ATTRIBUTE.match(k) and not k.startswith("_")
    }


def _is_tensor(value):
    return type(value).__module__.startswith("torch") and type(value).__name__ in (
        "Tensor",
        "Parameter",
    )


def _is_label_hierarchy(value):
    from ..similarity import LabelHierarchy

    return type(value) is LabelHierarchy


def _embedding_similarity_level(value):
    from ..similarity import EmbeddingSimilarity

    if not isinstance(value, EmbeddingSimilarity):
        return None
    name = type(value).__name__
    return {
        "_ClassEmbeddingSimilarity": "class",
        "_SampleEmbeddingSimilarity": "sample",
    }.get(name)


def _describe(value):
    if inspect.isroutine(value):
        return f"callable ({getattr(value, '__qualname__', repr(value))})"
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__} object"


class Decoder:
    """Rebuilds values from JSON and the file's arrays; raises ValueError."""

    def __init__(self, arrays, path):
        self.arrays = arrays
        self.path = path

    def fail(self, message):
        raise ValueError(f"{self.path!r}: {message}")

    def _array(self, key):
        if not isinstance(key, str) or key not in self.arrays:
            self.fail(f"refers to a missing array {key!r}.")
        return self.arrays[key]

    def value(self, doc, where):
        if doc is None or type(doc) in (bool, int, str):
            return doc
        if type(doc) is list:
            return [self.value(v, where) for v in doc]
        if type(doc) is not dict:
            self.fail(f"{where}: unexpected JSON value {doc!r}.")
        kind = doc.get("kind")
        try:
            if kind == "float":
                return float.fromhex(doc["hex"])
            if kind == "tuple":
                return tuple(self.value(v, where) for v in doc["items"])
            if kind == "dict":
                return {
                    self.value(k, where): self.value(v, where) for k, v in doc["items"]
                }
            if kind == "scalar":
                return np.dtype(_numeric_dtype(doc["dtype"])).type(
                    self.value(doc["value"], where)
                )
            if kind == "dtype":
                return np.dtype(_numeric_dtype(doc["name"]))
            if kind == "numpy_type":
                return np.dtype(_numeric_dtype(doc["name"])).type
            if kind == "array":
                array = self._array(doc["key"])
                if doc.get("order") == "F":
                    return np.asfortranarray(array.T)
                return array
            if kind == "str_array":
                dtype = object if doc["dtype"] == "object" else _str_dtype(doc["dtype"])
                items = doc["items"]
                if not all(isinstance(s, str) for s in items):
                    raise ValueError("not strings")
                return np.array(items, dtype=dtype).reshape(doc["shape"])
            if kind == "tensor":
                import torch

                array = self._array(doc["key"])
                tensor = torch.from_numpy(np.array(array))
                if str(tensor.dtype).removeprefix("torch.") != doc["dtype"]:
                    raise ValueError("tensor dtype mismatch")
                return tensor
            if kind == "path":
                if not isinstance(doc["value"], str):
                    raise ValueError("not a string")
                return Path(doc["value"])
            if kind == "LabelHierarchy":
                from ..similarity import LabelHierarchy

                return LabelHierarchy.from_dict(doc["data"])
            if kind == "EmbeddingSimilarity":
                return self._embedding_similarity(doc, where)
            if kind == "estimator":
                return self.estimator(doc, where)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(repr(self.path)):
                raise
            self.fail(f"{where}: corrupt {kind} entry ({exc}).")
        self.fail(f"{where}: unknown value kind {kind!r}.")

    def _embedding_similarity(self, doc, where):
        from ..similarity import EmbeddingSimilarity

        vectors = self.value(doc["vectors"], where)
        if not isinstance(vectors, np.ndarray) or doc["level"] not in (
            "class",
            "sample",
        ):
            raise ValueError("malformed")
        labels = self.value(doc["labels"], where) if doc["level"] == "class" else None
        similarity = EmbeddingSimilarity(
            vectors, labels=labels, kind=doc["similarity_kind"]
        )
        # The stored vectors are already unit length; normalising them again
        # can move the last bit, so they are put back as stored.
        if similarity.vectors_.shape != vectors.shape:
            raise ValueError("vectors do not match the labels")
        similarity.vectors_ = vectors.astype(similarity.vectors_.dtype, copy=False)
        return similarity

    def estimator(self, doc, where):
        name = doc.get("class")
        cls = _allowlist.resolve(name)
        if cls is None:
            self.fail(
                f"{where} names the class {name!r}, which is not one sklhash "
                "loads (only sklhash's estimators and the scikit-learn steps "
                f"{', '.join(_allowlist.supported_sklearn())}); nothing was "
                "imported or run."
            )
        short = cls.__name__
        params = {
            k: self.value(v, f"parameter {k!r} of {short}")
            for k, v in _mapping(self, doc.get("params"), where).items()
        }
        try:
            est = cls(**params)
            if hasattr(est, "_validate_params"):
                est._validate_params()
        except (TypeError, ValueError) as exc:
            self.fail(f"{where}: invalid parameters for {short} ({exc}).")
        fitted = {}
        for attr, v in _mapping(self, doc.get("fitted"), where).items():
            if not _ATTRIBUTE.match(attr):
                self.fail(f"{where}: {attr!r} is not a fitted-attribute name.")
            fitted[attr] = self.value(v, f"{short}.{attr}")
        if _is_index(cls):
            return self._index(est, fitted, where)
        for attr, value in fitted.items():
            setattr(est, attr, value)
        output = doc.get("set_output")
        if output is not None:
            if output not in ("default", "pandas", "polars") or not hasattr(
                est, "set_output"
            ):
                self.fail(f"{where}: invalid set_output value {output!r}.")
            try:
                est.set_output(transform=output)
            except (ImportError, ValueError) as exc:  # polars/pandas missing
                self.fail(f"{where}: set_output(transform={output!r}) failed ({exc}).")
        if "net" in doc:
            from ._torch_state import decode_net

            history = self.value(doc.get("history", []), f"{short}.history_")
            decode_net(self, est, doc["net"], history, f"{short}.net_")
        return est

    def _index(self, est, fitted, where):
        # Rebuilt through its public fit, which checks the codes and builds
        # the search structures; the counts must then agree with the file.
        codes = fitted.get("codes_")
        if not isinstance(codes, np.ndarray):
            self.fail(f"{where}: the index holds no codes_ array.")
        try:
            est.fit(codes)
        except ValueError as exc:
            self.fail(f"{where}: the stored codes are invalid ({exc}).")
        for attr in ("n_codes_", "n_bits_"):
            if attr in fitted and fitted[attr] != getattr(est, attr):
                self.fail(f"{where}: {attr}={fitted[attr]!r} does not match its codes.")
        return est


def _mapping(decoder, value, where):
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        decoder.fail(f"{where}: expected a JSON object.")
    return value


def _numeric_dtype(name):
    dtype = np.dtype(name) if isinstance(name, str) and len(name) <= 4 else None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"not a numeric dtype: {name!r}")
    return dtype


def _str_dtype(name):
    dtype = np.dtype(name) if isinstance(name, str) and len(name) <= 12 else None
    if dtype is None or dtype.kind != "U":
        raise ValueError(f"not a string dtype: {name!r}")
    return dtype


def _is_index(cls):
    from ..neighbors import HammingIndex

    return issubclass(cls, HammingIndex)
