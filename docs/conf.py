"""Sphinx configuration of the nmcraman documentation.

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Before reading the pages, this runs ``docs/figures/make_figures.py`` when its outputs
(``docs/_static/figures/*.png``, ``docs/_generated/*``) are missing or out of date
with the script, the package sources or the example spectra. After reading, it
checks that every name of ``nmcraman.__all__`` is documented (a warning, hence an
error under ``-W``, otherwise).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sphinx.util import logging

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "figures"))

import make_figures  # noqa: E402

import nmcraman  # noqa: E402

logger = logging.getLogger(__name__)

# -- Project -------------------------------------------------------------------------

project = "nmcraman"
author = "nmcraman developers"
copyright = "nmcraman developers, MIT licence"
release = nmcraman.__version__
version = release

# -- General -------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "figures", "README.md", "**/.ipynb_checkpoints"]
# `Band` and `deconvolve` in docstrings link where Sphinx knows the name, else stay text.
default_role = "py:obj"
pygments_style = "sphinx"

# -- autodoc, autosummary, numpydoc --------------------------------------------------

autosummary_generate = True
# Parameters are documented (with types) in the numpydoc sections; signatures with
# the long union annotations would only repeat them.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False

numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- HTML ----------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"nmcraman {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

# -- Hooks ---------------------------------------------------------------------------


def _make_figures(app) -> None:
    """Run docs/figures/make_figures.py if any figure or table is missing or stale."""
    if not make_figures.stale():
        logger.info("nmcraman docs: figures and tables are up to date")
        return
    logger.info("nmcraman docs: making figures and tables (docs/figures/make_figures.py)")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(Path(make_figures.__file__))], cwd=ROOT, check=True)
    logger.info(f"nmcraman docs: figures made in {time.perf_counter() - t0:.1f} s")


def _check_api_coverage(app, exception) -> None:
    """Warn (an error under -W) for every public name without an API entry.

    Runs at the end of every build, incremental ones included.
    """
    if exception is not None:
        return
    documented = set(app.env.get_domain("py").objects)
    missing = [name for name in nmcraman.__all__ if f"nmcraman.{name}" not in documented]
    for name in missing:
        logger.warning(
            f"nmcraman.{name} is in nmcraman.__all__ but not in the API reference;"
            " add it to docs/api.rst"
        )


def setup(app) -> dict:
    """Connect the figure maker and the API coverage check."""
    app.connect("builder-inited", _make_figures)
    app.connect("build-finished", _check_api_coverage)
    return {"parallel_read_safe": True}
