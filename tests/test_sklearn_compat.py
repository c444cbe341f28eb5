"""scikit-learn's private helpers are reached through one module only.

``sklhash/utils/_sklearn_compat.py`` imports them; every other module
imports them from there, so a scikit-learn release that moves one is
fixed in one file (imbalanced-learn does the same with ``sklearn-compat``).
"""

import ast
from pathlib import Path

import sklhash
from sklhash.utils import _sklearn_compat

PACKAGE = Path(sklhash.__file__).parent
SHIM = PACKAGE / "utils" / "_sklearn_compat.py"


def _private_sklearn_imports(path):
    """(line, what) of each import of a private scikit-learn name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sklearn"
        ):
            private_module = any(p.startswith("_") for p in node.module.split("."))
            for alias in node.names:
                if private_module or alias.name.startswith("_") or (
                    alias.name == "validate_data"
                ):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sklearn" and any(p.startswith("_") for p in parts):
                    found.append((node.lineno, alias.name))
    return found


def test_private_helpers_only_through_the_shim():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == SHIM:
            continue
        for line, what in _private_sklearn_imports(path):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} {what}")
    assert not offenders, (
        "import these from sklhash.utils._sklearn_compat instead:\n"
        + "\n".join(offenders)
    )


def test_shim_exports_the_helpers():
    for name in _sklearn_compat.__all__:
        assert getattr(_sklearn_compat, name) is not None, name
    assert _private_sklearn_imports(SHIM), "the shim is where they are imported"
