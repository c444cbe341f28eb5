"""Sphinx configuration of the sklhash documentation."""

import os
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
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
exclude_patterns = ["_build", "generated/*.examples"]
suppress_warnings = ["myst.header", "myst.xref_missing"]
intersphinx_mapping = {}
html_theme = "pydata_sphinx_theme"
html_title = "sklhash"
html_theme_options = {"navigation_with_keys": False}
