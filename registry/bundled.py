"""Where the data directories shipped with the product are: the registry template, the catalog's site
files and the demo proposals.

In the repository they sit at the top level (``registry_repo_template/``, ``site/``, ``demo/proposals/``,
the layout DESIGN.md describes). A wheel cannot install top-level data directories next to the packages
(``site`` would even shadow the standard library's module), so ``pyproject.toml`` installs them inside this
package as ``registry/_bundled/<name>/``. Every caller asks this module instead of walking up from its own
``__file__``, so a source checkout, an editable install and a regular ``pip install`` all work.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


def _locate(installed_name: str, checkout_path: str) -> Path:
    """The installed copy when there is one (a wheel), else the checkout's directory (source tree,
    editable install). Never fails: a missing directory surfaces where it is read, with its path."""
    installed = Path(str(files("registry") / "_bundled" / installed_name))
    return installed if installed.is_dir() else _CHECKOUT / checkout_path


REPO_TEMPLATE = _locate("repo_template", "registry_repo_template")
"""What ``llm-registry init`` copies into a new registry repository (subjects, registry.yaml, CI files)."""

CATALOG_SITE = _locate("site", "site")
"""The catalog's page templates (``templates/``), theme overrides (``overrides/``) and ``assets/``."""

DEMO_PROPOSALS = _locate("demo_proposals", "demo/proposals")
"""The change proposals ``llm-registry demo`` checks and merges, one directory each."""
