"""Optional dependencies: checked before work starts, with the install command.

torch is left to the user (as skorch does, see CONTRIBUTING), nltk is the
``wordnet`` extra and matplotlib the ``plot`` extra. Code that needs one
calls :func:`require` first, so a missing library is one clear
``ImportError`` naming the command that installs it, not a
``ModuleNotFoundError`` minutes into a run.
"""

import importlib
import importlib.util

__all__ = ["INSTALL", "available", "require"]

#: Import name -> how to install it.
INSTALL = {
    "torch": "pip install torch (CPU only: pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu)",
    "skorch": "pip install skorch",
    "nltk": "pip install 'sklhash[wordnet]'",
    "matplotlib": "pip install 'sklhash[plot]'",
    "faiss": "pip install 'sklhash[faiss]'",
    "pandas": "pip install pandas pyarrow",
    "pyarrow": "pip install pandas pyarrow",
}


def available(name):
    """Whether module ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require(name, feature):
    """Import and return module ``name``, or say how to install it.

    Parameters
    ----------
    name : str
        Import name (``"torch"``, ``"nltk"``, ...).
    feature : str
        What needs it, for the message (``"DPSHHasher"``).

    Returns
    -------
    module

    Raises
    ------
    ImportError
        ``"<feature> needs <name>, which is not installed: <command>"``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != name.split(".")[0]:
            raise  # the library is there but one of its own imports failed
        command = INSTALL.get(name.split(".")[0], f"pip install {name}")
        raise ImportError(
            f"{feature} needs {name}, which is not installed: {command}"
        ) from None
