"""Sphinx configuration of the skqat documentation (``make docs`` builds it with -W)."""

import os
from pathlib import Path

import skqat

ROOT = Path(__file__).resolve().parents[1]

project = "skqat"
author = "The skqat developers"
copyright = "2026, the skqat developers"
release = version = skqat.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_intersphinx", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Offline builds: the inventories of the linked projects are kept in
# docs/_intersphinx (docs/_intersphinx/make_inventories.py writes them).
_INV = ROOT / "docs" / "_intersphinx"
intersphinx_mapping = {
    "sklearn": ("https://scikit-learn.org/stable/", str(_INV / "sklearn.inv")),
    "numpy": ("https://numpy.org/doc/stable/", str(_INV / "numpy.inv")),
    "pandas": ("https://pandas.pydata.org/docs/", str(_INV / "pandas.inv")),
    "torch": ("https://docs.pytorch.org/docs/stable/", str(_INV / "torch.inv")),
}

# The gallery runs every example; SKQAT_DOCS_QUICK shrinks them for CI.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

html_theme = "pydata_sphinx_theme"
html_title = f"skqat {version}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
os.environ.setdefault("MPLBACKEND", "Agg")
