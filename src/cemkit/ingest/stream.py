"""Streaming ingest: a large delimited export cleaned, masked, checked and written batch by batch, with the
same rules, privacy gate and row accounting as the in-memory ingest (:func:`cemkit.ingest.flow.prepare`) —
the same clean table, quarantine (true rows and lines) and accounting — while memory stays flat.

How
---
The file is read by :mod:`cemkit.ingest.batches` (pyarrow's streaming CSV reader). Which column is which
field is decided on its first rows, as the in-memory ingest decides it (the value fits look at the first
:data:`~cemkit.ingest.match.FIT_SAMPLE_ROWS` rows). Each batch then goes through the in-memory functions
themselves — cleaning (:func:`~cemkit.ingest.clean._clean`), the privacy gate, the ordered row checks, the
quarantine with masked raw rows — and its clean rows are appended to a parquet file. What needs the whole
file is done at the end, on disk: duplicate response ids (the latest by date, then the later row, is kept)
by a DuckDB query over the ids, dates and positions of the used rows; the quarantine rows of the copies
come from a second read of just those records; weights are scaled to mean 1 over the rows kept; cell counts
of the dropped copies are taken off the accounting. Column decisions that read a whole column — answers in
words (label scales), the day/month order of dates — are made per batch and checked at the end against the
decision on the whole file; when a batch decided otherwise, the file is read in memory instead.

Read in memory instead (:class:`~cemkit.ingest.batches.NotStreamed`, the reason in
``accounting["ingest"]``): xlsx and SAV (their formats cap a sheet at 1,048,576 rows), Parquet, text that
is not UTF-8 throughout (decoded line by line), several files at once, a file without a response id
column (ids made from file and line need every row first), raking, a speeder check (its threshold is a
median over the whole file) and the column decisions above when batches disagree.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..engine import Dataset, connect
from ..packs import Pack
from .batches import Batch, BatchReader, NotStreamed, bad_rows, open_batches
from .cells import _distinct, _nfkc
from .clean import _clean, _resolve_columns, _Work, constant_header
from .gate import gate
from .headers import DURATION
from .mapping import ColumnMapping
from .match import FIT_SAMPLE_ROWS
from .quality import _apply_checks, _quality, _quality_report, _quarantine, _straightliners
from .values import _DMY, _day_month_order, recognise_labels

__all__ = ["BATCH_ROWS", "STREAM_FROM_BYTES", "NotStreamed", "prepare_streamed", "streams"]

#: records per batch
BATCH_ROWS = 200_000
#: ``engine="auto"``: a delimited file from this size is streamed (≈ 400,000 responses of 40 columns)
STREAM_FROM_BYTES = 100 << 20
_SUFFIXES = (".csv", ".tsv", ".txt")


def streams(path: str | Path, engine: str) -> bool:
    """Is this file ingested in batches? ``engine``: "pandas" never, "duckdb" always (a delimited file), "auto"
    from :data:`STREAM_FROM_BYTES`."""
    p = Path(path)
    if engine == "pandas" or p.suffix.lower() not in _SUFFIXES or not p.is_file():
        return False
    return engine == "duckdb" or p.stat().st_size >= STREAM_FROM_BYTES


@dataclasses.dataclass
class _Parts:
    """What the batches leave behind: parquet parts on disk, and the accounting to add up."""

    folder: Path
    responses: list[Path] = dataclasses.field(default_factory=list)
    keys: list[Path] = dataclasses.field(default_factory=list)
    quarantine: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    contacts: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    accs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    labels: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    words: dict[str, set] = dataclasses.field(default_factory=dict)
    date_orders: list[tuple[bool, str | None]] = dataclasses.field(default_factory=list)
    whole_labels: dict[str, Any] = dataclasses.field(default_factory=dict)


def prepare_streamed(data_path: str | Path, pk: Pack, mp: ColumnMapping, out_dir: str | Path,
                     timings: dict[str, float], batch_rows: int = BATCH_ROWS):
    """The streaming counterpart of :func:`cemkit.ingest.flow._prepare_file` for one delimited file: writes
    ``responses.parquet``, ``quarantine.parquet`` and ``contacts.parquet`` (with ``keep_pii``) into
    ``out_dir`` and returns a :class:`~cemkit.ingest.flow.Prepared` whose ``responses`` is a
    :class:`cemkit.engine.Dataset` of that file. Raises :class:`NotStreamed` (nothing left behind) when the
    file is to be read in memory instead."""
    from .flow import ROW_ID, Prepared, _privacy_plates

    t0 = time.perf_counter()
    path = Path(data_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    br = open_batches(path)
    gen = br.batches(batch_rows)
    peek: list[Batch] = []
    for b in gen:  # the first rows decide which column is which field, as in memory
        peek.append(b)
        if sum(len(p.frame) for p in peek) >= FIT_SAMPLE_ROWS:
            break
    head = pd.concat([p.frame for p in peek], ignore_index=True) if peek else pd.DataFrame(columns=br.names)
    attrs = dict(br.attrs)
    for fid, value in mp.constants.items():
        head[constant_header(fid)] = pd.Series(value, index=head.index, dtype="str")
    cols, how, stated = _resolve_columns(head, attrs, pk, mp)
    headers = list(head.columns)
    del head
    if stated:
        mp = dataclasses.replace(mp, scales={**stated, **mp.scales})
    quality = _quality(pk, mp)
    if "response_id" not in cols:
        raise NotStreamed("no response id column: ids made from file and line need every row first")
    if (mp.weights or {}).get("rake"):
        raise NotStreamed("raking weighs the whole table at once")
    if DURATION in cols and (float(quality["speeder_seconds"] or 0) > 0 or
                             float(quality["speeder_median_share"] or 0) > 0):
        raise NotStreamed("the speeder threshold is a median over every duration")
    timings["read"] = time.perf_counter() - t0
    folder = out / ".batches"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    parts = _Parts(folder)
    plates = _privacy_plates(pk, mp)
    try:
        t = time.perf_counter()
        for b in _chain(peek, gen):
            _one_batch(b, br, pk, mp, cols, quality, plates, parts)
        timings["batches"] = time.perf_counter() - t
        _check_decisions(parts, pk, mp, cols)
        t = time.perf_counter()
        bad = bad_rows(br)
        dups = _duplicates(parts)
        dup_q, dup_masked = _duplicate_rows(path, br, pk, mp, cols, plates, dups, batch_rows) if len(dups) else \
            (None, {})
        quarantine, bad_masked = _quarantine_table(parts, dup_q, bad, pk, mp, cols, plates, path.name)
        weighting = _write_responses(parts, dups, out / "responses.parquet", "weight" in _clean_fields(cols, mp))
        contacts = _contacts_table(parts, dups)
        timings["whole file"] = time.perf_counter() - t
        acc = _accounting(parts, br, pk, mp, cols, how, stated, headers, quality, dups, quarantine, bad,
                          {**_add(dup_masked, bad_masked)}, weighting, batch_rows, ROW_ID)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    quarantine.insert(0, "file", pd.Series([path.name] * len(quarantine), dtype="str"))
    quarantine.to_parquet(out / "quarantine.parquet", index=False)
    if contacts is not None:
        contacts.to_parquet(out / "contacts.parquet", index=False)
    timings["total stream"] = time.perf_counter() - t0
    return Prepared(Dataset(out / "responses.parquet"), quarantine, acc, None, contacts, timings,
                    written=("responses", "quarantine", "contacts"))


def _chain(first: list[Batch], rest):
    yield from first
    first.clear()
    yield from rest


def _clean_fields(cols: dict[str, str], mp: ColumnMapping) -> set[str]:
    """Fields that get a cleaned column (only ``weight`` matters here: a weight column)."""
    wcol = mp.weights.get("column") if mp.weights else None
    return {"weight"} if wcol is not None or ("weight" in cols and not (mp.weights or {}).get("rake")) else set()


def _one_batch(b: Batch, br: BatchReader, pk: Pack, mp: ColumnMapping, cols: dict[str, str],
               quality: dict[str, Any], plates: bool, parts: _Parts) -> None:
    """One batch through the in-memory steps; its clean rows, keys and quarantine set aside."""
    from .tables import _contacts, _notes, _responses

    raw = b.frame
    for fid, value in mp.constants.items():
        raw[constant_header(fid)] = pd.Series(value, index=raw.index, dtype="str")
    attrs = {**br.attrs, "rows": b.rows, "lines": b.lines, "bad_rows": []}
    w = _Work(pk, mp, len(raw), cols, raw)
    stage_labels = _clean(w, attrs)
    w.quality = dict(quality)
    w.straight = w.clean["straightliner"] = _straightliners(w, int(quality["straightliner_min_items"]))
    _decisions(w, raw, cols, parts)
    w.plates = plates
    gated = gate(w)
    comment = w.clean.get("comment")
    reason, detail = _apply_checks(w)
    used = pd.isna(reason)
    quarantine, qmasked = _quarantine(w, attrs, reason, detail, used, comment)
    quarantine["__pos"] = b.start + np.flatnonzero(~used)
    parts.quarantine.append(quarantine)
    contacts = _contacts(w, used)
    if contacts is not None:
        contacts["__pos"] = b.start + np.flatnonzero(used)
        parts.contacts.append(contacts)
    by_reason = quarantine["reason"].value_counts().to_dict() if len(quarantine) else {}
    acc = {"input_rows": len(raw), "used": int(used.sum()), "quarantined": len(quarantine),
           "by_reason": {str(k): int(v) for k, v in by_reason.items()}, **_notes(w, used),
           **_quality_report(w, used, by_reason), "stage_labels": stage_labels, **gated,
           "masked_quarantine": {k: int(v) for k, v in qmasked.items() if v}}
    parts.accs.append(acc)
    pos = b.start + np.flatnonzero(used)
    keys = pd.DataFrame({"pos": pos, "row": b.rows[used], "id": w.clean["response_id"][used].to_numpy(),
                         "date": w.clean["date"].to_numpy()[used],
                         "stage": w.clean["stage"][used].to_numpy(), "straight": w.straight[used]})
    for k, v in w.flags.items():
        keys[f"f:{k}"] = np.asarray(v, dtype=bool)[used]
    weight = np.asarray(w.clean["weight"])[used] if w.clean.get("weight") is not None else None
    w.raw = raw = comment = None
    responses = _responses(w, used)
    if weight is not None:
        responses["weight"] = weight  # scaled to mean 1 over the rows kept, at the end
    responses["source_file"] = pd.Categorical([br.path.name] * len(responses))
    responses["source_row"] = np.asarray(b.rows)[used].astype(np.int64)  # the reader's rows, as the whole file's
    responses["__pos"] = pos
    w.clean.clear()
    k = len(parts.responses)
    parts.responses.append(parts.folder / f"responses-{k:05d}.parquet")
    responses.to_parquet(parts.responses[-1], index=False)
    parts.keys.append(parts.folder / f"keys-{k:05d}.parquet")
    keys.to_parquet(parts.keys[-1], index=False)


def _decisions(w: _Work, raw: pd.DataFrame, cols: dict[str, str], parts: _Parts) -> None:
    """What this batch decided from its whole columns: label scales (and their words), the date order."""
    parts.labels.append({f: dict(n) for f, n in w.labels.items()})
    for f, note in w.labels.items():
        parts.words.setdefault(f, set()).update(note["labels"])
    if "date" in cols:
        uniq = [u for u in _distinct(raw[cols["date"]])[1] if u is not None]
        has = any(_DMY.match(_nfkc(str(u))) for u in uniq)
        parts.date_orders.append((has, _day_month_order(uniq)))


def _check_decisions(parts: _Parts, pk: Pack, mp: ColumnMapping, cols: dict[str, str]) -> dict[str, Any]:
    """The label scales decided on the whole file's words (as in memory); :class:`NotStreamed` when a batch
    decided a column's labels or the order of its dates otherwise."""
    whole: dict[str, Any] = {}
    scored = {**{k: v.scale for k, v in pk.kpis.items()}, **{a: v.scale for a, v in pk.attributes.items()}}
    for f, words in parts.words.items():
        clo, chi = mp.scales.get(f) or (scored[f].min, scored[f].max)
        points, why = recognise_labels(words, int(chi - clo) + 1)
        note = {"labels": sorted(words), "why": why, "scale": None}
        if points is not None:
            note.update(scale=why, recoded={t: clo + points[t] - 1 for t in note["labels"]})
        whole[f] = note
        for batch in parts.labels:
            got = batch.get(f)
            if got is None:
                continue
            same = got["why"] == why and got["scale"] == note["scale"] and \
                all(note.get("recoded", {}).get(t) == v for t, v in (got.get("recoded") or {}).items())
            if not same:
                raise NotStreamed(f"the answers in words of {f!r} read differently in parts of the file")
    orders = {o for has, o in parts.date_orders if has}
    if len(orders) > 1:
        raise NotStreamed("the dates' day/month order reads differently in parts of the file")
    parts.whole_labels = whole
    return whole


def _duplicates(parts: _Parts) -> pd.DataFrame:
    """Used rows whose response id repeats and that are not the one kept (latest date, then later row), with
    the row kept: ``pos``, ``keep_row``, sorted by position — one DuckDB query over the keys on disk."""
    con = connect()
    try:
        return con.execute(
            "WITH k AS (SELECT id, date, pos, row FROM read_parquet(?)), "
            "d AS (SELECT id FROM k GROUP BY id HAVING count(*) > 1), "
            "r AS (SELECT k.pos, row_number() OVER w AS rn, first_value(k.row) OVER w AS keep_row "
            "      FROM k JOIN d USING (id) "
            "      WINDOW w AS (PARTITION BY k.id ORDER BY k.date DESC NULLS LAST, k.pos DESC)) "
            "SELECT pos, keep_row FROM r WHERE rn > 1 ORDER BY pos",
            [[str(p) for p in parts.keys]]).df()
    finally:
        con.close()


def _duplicate_rows(path: Path, br0: BatchReader, pk: Pack, mp: ColumnMapping, cols: dict[str, str],
                    plates: bool, dups: pd.DataFrame, batch_rows: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """The quarantine rows of the dropped copies, from a second read of those records only (their raw cells
    masked as every quarantined row's)."""
    pos = dups["pos"].to_numpy(dtype=np.int64)
    keep_row = dups["keep_row"].to_numpy(dtype=np.int64)
    br = open_batches(path)
    frames, masked = [], {}
    for b in br.batches(batch_rows):
        lo, hi = np.searchsorted(pos, [b.start, b.start + len(b.frame)])
        if hi <= lo:
            continue
        idx = pos[lo:hi] - b.start
        raw = b.frame.iloc[idx].reset_index(drop=True)
        for fid, value in mp.constants.items():
            raw[constant_header(fid)] = pd.Series(value, index=raw.index, dtype="str")
        attrs = {**br0.attrs, "rows": b.rows[idx], "lines": b.lines[idx], "bad_rows": []}
        w = _Work(pk, mp, len(raw), cols, raw)
        _clean(w, attrs)
        w.plates = plates
        gate(w)
        detail = np.array([f"response_id repeats; row {int(k)} is kept (latest date, then later in the file)"
                           for k in keep_row[lo:hi]], dtype=object)
        reason = np.full(len(raw), "duplicate_id", dtype=object)
        q, qm = _quarantine(w, attrs, reason, detail, np.zeros(len(raw), bool), w.clean.get("comment"))
        q["__pos"] = pos[lo:hi]
        frames.append(q)
        masked = _add(masked, qm)
    return pd.concat(frames, ignore_index=True), masked


def _quarantine_table(parts: _Parts, dup_q: pd.DataFrame | None, bad: list[dict], pk: Pack, mp: ColumnMapping,
                      cols: dict[str, str], plates: bool, name: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every quarantined row in file order (the dropped copies among them), then the ragged records — as the
    in-memory quarantine lists them."""
    frames = [q for q in parts.quarantine if len(q)] + ([dup_q] if dup_q is not None else [])
    template = parts.quarantine[0] if parts.quarantine else None
    table = pd.concat(frames, ignore_index=True) if frames else template
    if table is None:
        table = pd.DataFrame({"row": pd.array([], dtype="Int64"), "line": pd.array([], dtype="Int64"),
                              "response_id": pd.Series([], dtype="str"), "reason": pd.Series([], dtype="str"),
                              "detail": pd.Series([], dtype="str"), "raw": pd.Series([], dtype="str"),
                              "__pos": np.zeros(0, np.int64)})
    table = table.sort_values("__pos", kind="stable").drop(columns="__pos").reset_index(drop=True)
    parts.quarantine.clear()
    masked: dict[str, int] = {}
    if bad:  # the ragged records: built as the in-memory quarantine builds them
        empty = pd.DataFrame(columns=[])
        w = _Work(pk, mp, 0, cols, empty)
        w.clean["response_id"] = pd.Series([], dtype="str")
        w.plates = plates
        extra, masked = _quarantine(w, {"rows": np.zeros(0, np.int64), "lines": np.zeros(0, np.int64),
                                        "bad_rows": bad}, np.zeros(0, object), np.zeros(0, object),
                                    np.zeros(0, bool), None)
        table = pd.concat([table, extra], ignore_index=True)
    return table, masked


def _write_responses(parts: _Parts, dups: pd.DataFrame, target: Path, weighted: bool) -> dict[str, Any]:
    """The clean parts into one parquet file (a row group per batch), the dropped copies left out, a weight
    column scaled to mean 1 over the rows kept; returns the weighting summary (as ``tables._weigh``)."""
    from .. import weights as wt

    drop = dups["pos"].to_numpy(dtype=np.int64)
    mean = 1.0
    if weighted:
        total, n = 0.0, 0
        for p in parts.responses:
            t = pq.read_table(p, columns=["weight", "__pos"])
            keep = ~np.isin(t["__pos"].to_numpy(), drop)
            x = t["weight"].to_numpy(zero_copy_only=False)[keep]
            total, n = total + float(x.sum()), n + int(x.size)
        mean = total / n if n else 1.0
    writer = None
    schema = None
    try:
        for p in parts.responses:
            t = pq.read_table(p)
            keep = ~np.isin(t["__pos"].to_numpy(), drop)
            t = t.filter(pa.array(keep)).drop_columns(["__pos"])
            if weighted:
                t = t.set_column(t.schema.get_field_index("weight"), "weight",
                                 pa.array(t["weight"].to_numpy(zero_copy_only=False) / mean))
            if writer is None:
                schema = t.schema
                writer = pq.ParquetWriter(target, schema)
            writer.write_table(t.cast(schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        pd.DataFrame().to_parquet(target)
    w = pq.read_table(target, columns=["weight"])["weight"].to_numpy(zero_copy_only=False) if writer else \
        np.zeros(0)
    out = {"method": "column" if weighted and w.size else "none",
           **(wt.kish(w) if w.size else {"n": 0, "n_eff": 0.0, "deff": None, "efficiency": None})}
    if w.size:
        out.update(min=float(w.min()), max=float(w.max()))
    return out


def _contacts_table(parts: _Parts, dups: pd.DataFrame) -> pd.DataFrame | None:
    if not parts.contacts:
        return None
    table = pd.concat(parts.contacts, ignore_index=True)
    table = table[~np.isin(table["__pos"].to_numpy(), dups["pos"].to_numpy())]
    return table.drop(columns="__pos").reset_index(drop=True)


def _add(a: Any, b: Any) -> Any:
    """Counts added key by key (nested dicts)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _add(a.get(k), b.get(k)) if k in a and k in b else (a[k] if k in a else b[k])
                for k in dict.fromkeys([*a, *b])}
    return (a or 0) + (b or 0)


def _accounting(parts: _Parts, br: BatchReader, pk: Pack, mp: ColumnMapping, cols: dict[str, str],
                how: dict[str, str], stated: dict, headers: list[str], quality: dict[str, Any],
                dups: pd.DataFrame, quarantine: pd.DataFrame, bad: list[dict], extra_masked: dict[str, int],
                weighting: dict[str, Any], batch_rows: int, row_id: str) -> dict[str, Any]:
    """The in-memory ingest's accounting from the batches' counts, less the cell counts of the dropped
    copies (counted over used rows)."""
    from .flow import column_notes

    accs = parts.accs
    sums: dict[str, Any] = {}
    count_keys = ("input_rows", "used", "quarantined", "by_reason", "customer_id_missing", "cells_blanked",
                  "dates_unparsed", "durations_unparsed", "wave_derived", "wave_missing", "phone_unreadable",
                  "straightliners", "straightliners_by_stage", "masked", "masked_by_column", "pseudonymised",
                  "masked_quarantine")
    for a in accs:
        for k in count_keys:
            if k in a:
                sums[k] = _add(sums.get(k), a[k]) if k in sums else a[k]
    first = accs[0] if accs else {}
    flags = _dropped_flags(parts, dups)
    n_dup = len(dups)
    if n_dup:
        sums["used"] -= n_dup
        sums["quarantined"] += n_dup
        sums["by_reason"] = _add(sums["by_reason"], {"duplicate_id": n_dup})
        for key in ("customer_id_missing", "dates_unparsed", "durations_unparsed", "wave_derived", "wave_missing",
                    "phone_unreadable"):
            if key in sums:
                sums[key] -= flags.get(key, 0)
        blanked = sums.get("cells_blanked") or {}
        for key, v in flags.items():
            if key.startswith("blanked:") and v:
                _, fid, why = key.split(":")
                blanked[fid][why] -= v
                if not blanked[fid][why]:
                    del blanked[fid][why]
                if not blanked[fid]:
                    del blanked[fid]
        sums["straightliners"] -= flags.get("__straight", 0)
        for stage, v in flags.get("__straight_by_stage", {}).items():
            sums["straightliners_by_stage"][stage] -= v
            if not sums["straightliners_by_stage"][stage]:
                del sums["straightliners_by_stage"][stage]
    sums["input_rows"] = sums.get("input_rows", 0) + len(bad)
    sums["quarantined"] = len(quarantine)
    sums["by_reason"] = dict(sorted(_add(sums.get("by_reason") or {},
                                         {"malformed_row": len(bad)} if bad else {}).items(),
                                    key=lambda kv: (-kv[1], kv[0])))
    sums["straightliners_by_stage"] = dict(sorted((sums.get("straightliners_by_stage") or {}).items()))
    masked_q = {k: v for k, v in _add(sums.get("masked_quarantine") or {}, extra_masked).items() if v}
    q = first.get("quality") or {}
    speeders = {**(q.get("speeders") or {}), "quarantined": int(sums["by_reason"].get("speeder", 0))}
    found = int(sums.get("straightliners", 0)) + int(sums["by_reason"].get("straightliner", 0))
    stage_labels: dict[str, str] = {}
    for a in accs:
        stage_labels.update(a.get("stage_labels") or {})
    acc: dict[str, Any] = {
        "source": br.attrs.get("source"), "format": br.attrs.get("format"), "encoding": br.attrs.get("encoding"),
        "encoding_lines_redecoded": 0, "sheet": None, "header_row": br.attrs.get("header_row"),
        "input_rows": sums["input_rows"], "used": sums["used"], "quarantined": sums["quarantined"],
        "by_reason": sums["by_reason"],
        "customer_id_missing": sums.get("customer_id_missing", 0), "cells_blanked": sums.get("cells_blanked", {}),
        "dates_unparsed": sums.get("dates_unparsed", 0),
        **({"durations_unparsed": sums["durations_unparsed"]} if "durations_unparsed" in sums else {}),
        "wave_derived": sums.get("wave_derived", 0), "wave_missing": sums.get("wave_missing", 0),
        **({"phone_unreadable": sums["phone_unreadable"]} if "phone_unreadable" in sums else {}),
        "straightliners": sums.get("straightliners", 0), "straightliners_by_stage": sums["straightliners_by_stage"],
        "quality": {**q, "speeders": speeders, "straightliners": {**(q.get("straightliners") or {}), "found": found}},
        "stage_labels": stage_labels, "label_scales": parts.whole_labels,
        "masked": sums.get("masked", {}), "masked_by_column": sums.get("masked_by_column", {}),
        "pseudonymised": sums.get("pseudonymised", {}), "masked_quarantine": masked_q,
        **column_notes(pk, mp, cols, how, stated, None,
                       [h for h in headers if h not in set(cols.values()) and h != row_id]),
        "weighting": weighting, "weighting_efficiency": weighting.get("efficiency"),
        "ingest": f"streamed in batches of {batch_rows:,} records (cemkit.ingest.stream)",
    }
    if acc["input_rows"] != acc["used"] + acc["quarantined"]:
        raise AssertionError(f"accounting does not add up: {acc['input_rows']} != {acc['used']} + "
                             f"{acc['quarantined']}")
    return acc


def _dropped_flags(parts: _Parts, dups: pd.DataFrame) -> dict[str, Any]:
    """Cell flags of the dropped copies (to take off counts over used rows), from the keys on disk."""
    if not len(dups):
        return {}
    drop = dups["pos"].to_numpy(dtype=np.int64)
    out: dict[str, Any] = {"__straight_by_stage": {}}
    for p in parts.keys:
        t = pq.read_table(p).to_pandas()
        sub = t[np.isin(t["pos"].to_numpy(), drop)]
        if not len(sub):
            continue
        for c in sub.columns:
            if c.startswith("f:"):
                out[c[2:]] = out.get(c[2:], 0) + int(sub[c].sum())
        out["__straight"] = out.get("__straight", 0) + int(sub["straight"].sum())
        for stage, v in sub.loc[sub["straight"], "stage"].value_counts().items():
            out["__straight_by_stage"][stage] = out["__straight_by_stage"].get(stage, 0) + int(v)
    return out
