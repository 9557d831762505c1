"""Where cemkit finds its data folders (packs, templates, notebooks) and its bundled assets."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parents[1]
ASSETS_DIR = PACKAGE_DIR / "assets"


def _dir(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


def packs_dir() -> Path:
    """Folder holding the industry packs (override with CEMKIT_PACKS)."""
    return _dir("CEMKIT_PACKS", REPO_DIR / "industry_packs")


def templates_dir() -> Path:
    """Folder holding the PPTX masters, report.qmd and HTML templates (override with CEMKIT_TEMPLATES)."""
    return _dir("CEMKIT_TEMPLATES", REPO_DIR / "templates")


def notebooks_dir() -> Path:
    """Folder holding the numbered pipeline notebooks (override with CEMKIT_NOTEBOOKS)."""
    return _dir("CEMKIT_NOTEBOOKS", REPO_DIR / "notebooks")


def scratch_dir() -> Path:
    """Folder for the run folders of notebooks run on their own, outside ``cemkit run`` (override with
    CEMKIT_SCRATCH): ``reports/scratch`` in the repository."""
    return _dir("CEMKIT_SCRATCH", REPO_DIR / "reports" / "scratch")
