"""Several files in one run (``prepare`` with a list, folders or patterns): each file read, cleaned and
accounted on its own (:func:`cemkit.ingest.flow._prepare_file`), then stacked; a response id found in more
than one file is kept once — the latest by date, then the later file — and its other copies are quarantined
as ``duplicate_id`` naming the file and row kept (see "Several files" in :mod:`cemkit.ingest.flow`)."""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import weights as wt
from ..errors import InputError
from ..packs import Pack
from ..privacy import file_name
from .flow import Prepared, _finish, _prepare_file
from .mapping import ColumnMapping


def prepare_many(files: list[Path], pk: Pack, maps: list[ColumnMapping], pending: Future | None,
                  out_dir: str | Path | None, timings: dict[str, float], t0: float) -> Prepared:
    """Each file on its own (own mapping, row numbers and accounting), then stacked; a response id in several
    files is kept once (latest date, then later file) and its other copies quarantined."""
    parts = []
    for path, mp in zip(files, maps):
        parts.append(_prepare_file(path, pk, mp, {}, time.perf_counter()))
        if not parts[-1].accounting["used"]:
            acc = parts[-1].accounting
            why = ", ".join(f"{k} {v}" for k, v in acc["by_reason"].items()) or "the file has no data rows"
            raise InputError(f"{acc['source']}: no usable rows ({acc['input_rows']} read, {why}); check its "
                             "mapping (one per file, or sources: in the mapping).")
    t = time.perf_counter()
    responses = pd.concat([p.responses for p in parts], ignore_index=True)
    responses["source_file"] = pd.Categorical(responses["source_file"].astype(str),
                                              categories=list(dict.fromkeys(file_name(f) for f in files)))
    quarantine = pd.concat([p.quarantine for p in parts], ignore_index=True)
    responses, dups = _cross_file_duplicates(responses, files)
    if len(dups):
        quarantine = pd.concat([quarantine, dups], ignore_index=True)
    contacts = [p.contacts for p in parts if p.contacts is not None]
    contact = pd.concat(contacts, ignore_index=True) if contacts else None
    if contact is not None:
        contact = contact[contact["response_id"].isin(responses["response_id"])].reset_index(drop=True)
    acc = _sum_accounting([p.accounting for p in parts])
    per_file = [dict(p.accounting) for p in parts]
    for entry in per_file:  # a file's rows dropped as copies of another file's move from used to quarantined
        lost = int((dups["file"] == Path(entry["source"]).name).sum()) if len(dups) else 0
        if lost:
            entry["used"] -= lost
            entry["quarantined"] += lost
            entry["by_reason"] = {**entry["by_reason"], "duplicate_id": entry["by_reason"].get("duplicate_id", 0) + lost}
    acc.update(
        source=", ".join(file_name(f) for f in files),
        files=[{k: e.get(k) for k in _FILE_KEYS if k in e} for e in per_file],
        used=len(responses),
        quarantined=len(quarantine),
        by_reason={str(k): int(v) for k, v in sorted(quarantine["reason"].value_counts().items(),
                                                     key=lambda kv: (-kv[1], kv[0]))},
    )
    acc["weighting"] = {"method": "per file", **(wt.kish(responses["weight"]) if len(responses) else {})}
    acc["weighting_efficiency"] = acc["weighting"].get("efficiency")
    if acc["input_rows"] != acc["used"] + acc["quarantined"]:
        raise AssertionError(
            f"accounting does not add up: {acc['input_rows']} != {acc['used']} + {acc['quarantined']}"
        )
    timings["combine"] = time.perf_counter() - t
    return _finish(Prepared(responses, quarantine, acc, None, contact, timings), pk, pending, out_dir,
                   timings, t0)


#: what each file's entry of ``accounting["files"]`` keeps
_FILE_KEYS = ("source", "format", "encoding", "sheet", "header_row", "input_rows", "used", "quarantined",
              "by_reason", "columns", "column_sources", "unused_columns", "wave_derived", "wave_missing",
              "masked", "stage_labels", "scales_stated", "response_id_made")


def _sum_accounting(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over files: counts added (nested mappings key by key), lists joined without repeats, other
    values kept when every file agrees."""
    def merge(values: list[Any]) -> Any:
        present = [v for v in values if v is not None]
        if not present:
            return None
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            return sum(present)
        if all(isinstance(v, dict) for v in present):
            keys = list(dict.fromkeys(k for v in present for k in v))
            return {k: merge([v.get(k) for v in present]) for k in keys}
        if all(isinstance(v, list) for v in present):
            return list(dict.fromkeys(x for v in present for x in (v if all(isinstance(i, str) for i in v)
                                                                  else [json.dumps(i, sort_keys=True) for i in v])))
        return present[0] if all(v == present[0] for v in present) else [str(v) for v in present]

    keys = list(dict.fromkeys(k for p in parts for k in p))
    return {k: merge([p.get(k) for p in parts]) for k in keys}


def _cross_file_duplicates(responses: pd.DataFrame, files: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one copy of a response id found in several files: the latest by date, then the later file, then
    the later row. Returns the kept responses and the quarantine rows of the other copies."""
    ids = responses["response_id"].astype("string")
    dup = ids.duplicated(keep=False) & ids.notna()
    cols = ["file", "row", "response_id", "reason", "detail", "raw"]
    if not dup.any():
        return responses, pd.DataFrame(columns=cols)
    order = {file_name(f): i for i, f in enumerate(files)}
    sub = responses[dup]
    frame = pd.DataFrame({"id": ids[dup], "date": sub["date"], "file": sub["source_file"].astype(str).map(order),
                          "row": sub["source_row"], "pos": np.flatnonzero(dup.to_numpy())})
    frame = frame.sort_values(["id", "date", "file", "row"], na_position="first", kind="stable")
    keep_pos = frame.groupby("id", sort=False)["pos"].transform("last").to_numpy()
    drop = frame["pos"].to_numpy() != keep_pos
    gone, kept = frame["pos"].to_numpy()[drop], keep_pos[drop]
    src = responses["source_file"].astype(str).to_numpy()
    rows = responses["source_row"].to_numpy()
    copies = responses.iloc[gone]
    raw = copies.drop(columns=["source_file", "source_row", "weight"], errors="ignore")
    out = pd.DataFrame({
        "file": src[gone],
        "row": pd.array(rows[gone], dtype="Int64"),
        "response_id": ids.iloc[gone].to_numpy(),
        "reason": "duplicate_id",
        "detail": [f"response_id repeats in {src[k]} row {rows[k]}, which is kept (latest date, then later file)"
                   for k in kept],
        "raw": raw.to_json(orient="records", force_ascii=False, lines=True, date_format="iso").splitlines(),
    }).astype({"response_id": "str", "reason": "str", "detail": "str", "raw": "str"})
    keep = np.ones(len(responses), dtype=bool)
    keep[gone] = False
    return responses[keep].reset_index(drop=True), out
