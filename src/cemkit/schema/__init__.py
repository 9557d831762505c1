"""The pack format, described once: pydantic models of every pack file, and their JSON Schemas.

=================  =================================  ==================================
file               model                              owner of the cross-file checks
=================  =================================  ==================================
``pack.yaml``      :class:`~.pack.PackFile`           :mod:`cemkit.packs`
``themes.yaml``    :class:`~.pack.ThemesFile`         :mod:`cemkit.packs`
``storyline.yaml`` :class:`~.sections.StorylineFile`  :mod:`cemkit.storyline`
``alerts.yaml``    :class:`~.sections.AlertsFile`     :mod:`cemkit.alerts`
``playbooks.yaml`` :class:`~.sections.PlaybooksFile`  :mod:`cemkit.playbooks`
``demo.yaml``      :class:`~.sections.DemoFile`       :mod:`cemkit.demo`
=================  =================================  ==================================

An engagement's ``engagement.yaml`` (not a pack file) is described the same way:
:class:`~.engagement.EngagementFile`, read by :mod:`cemkit.engagement`.

The JSON Schemas in ``docs/schema/`` are generated from these models (``python -m cemkit.schema
docs/schema``; a test checks they are up to date) so that an editor with a YAML language server completes
keys and flags mistakes while a pack is written (docs/packs.md says how to hook them up).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .pack import PackFile, Quality, ThemesFile
from .problems import dotted, line_of, validate_model
from .sections import AlertsFile, DemoFile, PlaybooksFile, StorylineFile
from .types import Label, LabelValue, closest, did_you_mean

__all__ = [
    "FILES", "Label", "LabelValue", "PackFile", "Quality", "closest", "did_you_mean", "dotted", "json_schema",
    "line_of", "validate_model", "write_json_schemas",
]

#: the ``files:`` key of pack.yaml (``pack`` for pack.yaml itself) → the model of that file
FILES: dict[str, type[BaseModel]] = {
    "pack": PackFile,
    "themes": ThemesFile,
    "storyline": StorylineFile,
    "alerts": AlertsFile,
    "playbooks": PlaybooksFile,
    "demo": DemoFile,
}


def json_schema(key: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one pack file, keys as written in YAML."""
    model = FILES[key]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"cemkit/{key}.schema.json", **schema}


def write_json_schemas(folder: str | Path) -> list[Path]:
    """Write ``<key>.schema.json`` for every pack file into ``folder``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for key in FILES:
        path = folder / f"{key}.schema.json"
        path.write_text(json.dumps(json_schema(key), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        out.append(path)
    return out
