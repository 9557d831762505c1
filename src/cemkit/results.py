"""The run folder contract between notebooks and renderers.

A notebook saves each result as ``results/<name>.parquet`` (the table a chart or slide is drawn from) and
``results/<name>.json`` (its meta: ``facts`` for titles, ``base`` for footnotes, ``notes``, ``method``).
Renderers only ever read these files, so a deck can be rebuilt from a run folder without re-running the
analysis (``cemkit render RUN_DIR``).

Which results the standard notebooks write, and the facts each gives slide texts, is declared once in
``cemkit/data/results.yaml`` (:func:`catalogue`); a test checks it against a demo run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RESULTS", "Catalogue", "Result", "catalogue", "find_run", "json_safe", "load", "load_all", "load_json",
           "save", "save_json", "scratch_run"]

RESULTS = "results"
_CATALOGUE = Path(__file__).parent / "data" / "results.yaml"


@dataclass(frozen=True)
class Catalogue:
    """The results the standard notebooks write and their facts (``cemkit/data/results.yaml``)."""

    every_slide: frozenset[str]
    notebook: dict[str, str]                  # result → the notebook that writes it ("render": the renderer)
    facts: dict[str, frozenset[str]]          # result → facts every run writes
    sometimes: dict[str, frozenset[str]]      # result → facts only some runs write
    needs: dict[str, str] = field(default_factory=dict)  # result → what a run needs to write it (--previous …)

    def provides(self, result: str) -> frozenset[str]:
        """Every fact a slide drawn from ``result`` can use (its facts and the every-slide facts)."""
        return self.every_slide | self.facts.get(result, frozenset()) | self.sometimes.get(result, frozenset())


@cache
def catalogue() -> Catalogue:
    """The result and fact catalogue, read once."""
    import yaml

    data = yaml.safe_load(_CATALOGUE.read_text(encoding="utf-8"))
    res = data["results"]
    wave = frozenset(data.get("wave_facts") or ())
    return Catalogue(
        every_slide=frozenset(data["every_slide"]),
        notebook={name: str(r["notebook"]) for name, r in res.items()},
        facts={name: frozenset(r.get("facts") or ()) | (wave if r.get("wave") else frozenset())
               for name, r in res.items()},
        sometimes={name: frozenset(r.get("sometimes") or ()) for name, r in res.items()},
        needs={name: str(r["needs"]) for name, r in res.items() if r.get("needs")},
    )


@dataclass
class Result:
    name: str
    table: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def facts(self) -> dict[str, Any]:
        return self.meta.get("facts", {})


def json_safe(obj: Any) -> Any:
    """Make numpy/pandas values JSON-safe (NaN and ±inf → None)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    if hasattr(obj, "__dataclass_fields__"):
        return json_safe(obj.__dict__)
    return obj


def save(run_dir: str | Path, name: str, table: pd.DataFrame, meta: dict[str, Any] | None = None) -> Path:
    """Save a result table and its meta into ``<run_dir>/results/``. Returns the parquet path."""
    folder = Path(run_dir) / RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    table = table.reset_index(drop=True).copy()
    for col in table.columns:  # categoricals → strings keep parquet simple and order explicit
        if isinstance(table[col].dtype, pd.CategoricalDtype):
            table[col] = table[col].astype(str)
    path = folder / f"{name}.parquet"
    table.to_parquet(path, index=False)
    save_json(run_dir, name, {"name": name, "rows": len(table), **(meta or {})})
    return path


def save_json(run_dir: str | Path, name: str, obj: dict[str, Any]) -> Path:
    folder = Path(run_dir) / RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(json_safe(obj), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def load_json(run_dir: str | Path, name: str) -> dict[str, Any]:
    return json.loads((Path(run_dir) / RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def load(run_dir: str | Path, name: str) -> Result:
    folder = Path(run_dir) / RESULTS
    path = folder / f"{name}.parquet"
    table = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    return Result(name, table, load_json(run_dir, name))


def load_all(run_dir: str | Path) -> dict[str, Result]:
    """Every result of a run, by name."""
    folder = Path(run_dir) / RESULTS
    return {p.stem: load(run_dir, p.stem) for p in sorted(folder.glob("*.json"))}


# ------------------------------------------------------------------------------------------ run folders
KEEP_SCRATCH = 5  # scratch runs kept per pack: the newest ones; older ones are removed when a new one is made


def scratch_run(pack_id: str) -> Path:
    """A new, empty run folder for notebooks run on their own (JupyterLab, papermill without ``cemkit run``):
    ``<scratch>/<pack>-<YYYYmmdd-HHMMSS>`` under :func:`cemkit.paths.scratch_dir`. Only the newest
    :data:`KEEP_SCRATCH` scratch runs of a pack are kept (folders named otherwise are never touched), so
    re-running ``01_data_check`` does not fill the disk with copies of the data."""
    import datetime as dt
    import re
    import shutil

    from .paths import scratch_dir

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = scratch_dir() / f"{pack_id}-{stamp}"
    i = 1
    while folder.exists():
        i += 1
        folder = scratch_dir() / f"{pack_id}-{stamp}-{i}"
    folder.mkdir(parents=True)
    stamped = re.compile(re.escape(pack_id) + r"-\d{8}-\d{6}(-\d+)?")
    older = sorted((p for p in scratch_dir().iterdir() if p != folder and p.is_dir() and stamped.fullmatch(p.name)),
                   key=lambda p: p.stat().st_mtime)
    for old in older[:max(0, len(older) - (KEEP_SCRATCH - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def find_run(run_dir: str | Path = "", pack_id: str = "") -> Path:
    """The run folder an analysis notebook works in: ``run_dir`` when given (relative to the notebook's folder
    in a published run: ``..``), else the newest scratch run of ``pack_id`` (:func:`scratch_run`) whose data
    the data-check notebook has written. Raises :class:`~cemkit.errors.UserError` when the folder has no clean
    data yet."""
    from .errors import UserError
    from .paths import scratch_dir

    if run_dir:
        folder = Path(run_dir)
    else:
        ready = [p for p in scratch_dir().glob(f"{pack_id}-*") if (p / "data" / "responses.parquet").exists()]
        if not ready:
            raise UserError(f"no scratch run of pack {pack_id!r} in {scratch_dir()}: run 01_data_check first "
                            "(or set run_dir to a run folder)")
        folder = max(ready, key=lambda p: (p / "data" / "responses.parquet").stat().st_mtime)
    if not (folder / "data" / "responses.parquet").exists():
        raise UserError(f"{folder.resolve()}: no data/responses.parquet in this run folder; run 01_data_check first")
    return folder
