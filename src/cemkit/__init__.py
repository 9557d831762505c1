"""cemkit: customer-experience (CEM) analysis from survey + operational data to a client-ready deck.

Public surface: ``load_pack`` / ``list_packs`` / ``validate_pack`` and the analysis modules, imported on
first use (``cemkit.metrics``, ``cemkit.drivers``, ``cemkit.text``, ``cemkit.ingest`` …) so that
``import cemkit`` stays fast.
"""

from __future__ import annotations

import importlib

from .errors import DataError, InputError, PackError, UserError
from .packs import list_packs, load_pack, validate_pack

__version__ = "0.1.0"
__all__ = [
    "DataError",
    "InputError",
    "PackError",
    "UserError",
    "__version__",
    "alerts",
    "demo",
    "drivers",
    "ingest",
    "list_packs",
    "load_pack",
    "metrics",
    "pipeline",
    "playbooks",
    "predict",
    "privacy",
    "results",
    "text",
    "validate_pack",
    "views",
    "weights",
]

_LAZY = {"ingest", "privacy", "weights", "metrics", "drivers", "text", "views", "results", "demo", "alerts",
         "playbooks", "predict", "pipeline", "storyline", "render"}


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cemkit' has no attribute {name!r}")
