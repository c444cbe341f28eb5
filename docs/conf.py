"""Sphinx configuration of the sklhash documentation."""

import os
import re
import sys

sys.path.insert(0, os.path.abspath(".."))

import sklhash  # noqa: E402

project = "sklhash"
author = "the sklhash developers"
copyright = "2026, the sklhash developers"
release = sklhash.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
autosummary_generate = True
# Document what sklhash adds (and its own base classes), not scikit-learn's
# mixins, whose docstrings point into scikit-learn's own docs.
autodoc_default_options = {
    "members": True,
    "inherited-members": "BaseEstimator, TransformerMixin, _SetOutputMixin, "
    "_MetadataRequester, object",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
exclude_patterns = ["_build", "generated/*.examples"]
suppress_warnings = ["myst.header", "myst.xref_missing"]
intersphinx_mapping = {}
html_theme = "pydata_sphinx_theme"
html_title = "sklhash"
html_theme_options = {"navigation_with_keys": False}


_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?=[\s,;:.)\]]|$)")
_VERBATIM = re.compile(r"(``.*?``|`[^`]*`|\*\*.*?\*\*)")


def _escape_learned_attributes(app, what, name, obj, options, lines):
    """Escape the trailing underscore of learned attributes in prose.

    scikit-learn names fitted attributes ``n_bits_``; in reStructuredText a
    bare ``word_`` is a reference, so "(n_samples, n_bits_)" in a docstring
    would be an error. Runs after numpydoc, leaving directives and literal or
    strong spans alone.
    """
    for i, line in enumerate(lines):
        if line.lstrip().startswith(".."):
            continue
        parts = _VERBATIM.split(line)
        lines[i] = "".join(
            part if j % 2 else _TRAILING_UNDERSCORE.sub(r"\\_", part)
            for j, part in enumerate(parts)
        )


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods whose docstrings point
    # into its own glossary.
    if re.fullmatch(r"set_\w+_request|get_metadata_routing", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
    app.connect("autodoc-process-docstring", _escape_learned_attributes, priority=900)
