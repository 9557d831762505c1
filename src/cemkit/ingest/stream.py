"""Streaming ingest: a large delimited export cleaned, masked, checked and written batch by batch, with the
same rules, privacy gate and row accounting as the in-memory ingest (:func:`cemkit.ingest.flow.prepare`) —
the same clean table, quarantine (true rows and lines) and accounting — while memory stays flat.

How
---
The file is read by :mod:`cemkit.ingest.batches` (pyarrow's streaming CSV reader). Which column is which
field is decided on its first rows, as the in-memory ingest decides it (the value fits look at the first
:data:`~cemkit.ingest.match.FIT_SAMPLE_ROWS` rows). Each batch then goes through the in-memory functions
themselves — cleaning (:func:`~cemkit.ingest.clean._clean`), the privacy gate, the ordered row checks, the
quarantine with masked raw rows — and its clean rows, its records and its keys are spilled to disk
(Arrow IPC). What needs the whole file is done at the end, on disk (:mod:`cemkit.ingest.stream_end`):
duplicate response ids (the latest by date, then the later row, is kept) by a DuckDB query over the ids,
dates and positions of the used rows; the quarantine rows of the copies from their spilled records; the
clean rows written once into ``responses.parquet`` without the copies, weights scaled to mean 1 over the
rows kept; cell counts of the dropped copies taken off the accounting. Column decisions that read a whole column — answers in
words (label scales), the day/month order of dates — are made per batch and checked at the end against the
decision on the whole file; when a batch decided otherwise, the file is read in memory instead.

The file is a delimited export in UTF-8, GBK/GB18030 (decoded as it streams) or a Parquet export
(:mod:`cemkit.ingest.sources`). A file without a response id column streams too: each row's id is made from file and line as
in memory, the line of the first row equal to it in every cell (:class:`_RowIds`). Read in memory instead
(:class:`~cemkit.ingest.batches.NotStreamed`, the reason in ``accounting["ingest"]``): xlsx and SAV (their
formats cap a sheet at 1,048,576 rows), UTF-16, a UTF-8 file with GBK past its first MiB, several files at
once, raking, and the column decisions above when batches disagree. A speeder check (its threshold is a median over the whole file) streams: the batches run
without it and set the durations aside, and it is made at the end (:func:`~cemkit.ingest.stream_end._speeders`).
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

from ..engine import Dataset
from ..packs import Pack
from ..privacy import file_name
from .batches import Batch, BatchReader, NotStreamed, bad_rows, open_batches
from .cells import _distinct, _nfkc
from .clean import _clean, _resolve_columns, _Work, constant_header
from .gate import gate
from .headers import DURATION
from .mapping import ColumnMapping
from .match import FIT_SAMPLE_ROWS
from .quality import _apply_checks, _quality, _quality_report, _quarantine, _straightliners
from .sources import PARQUET_SUFFIXES
from .stream_end import (
    _accounting,
    _add,
    _contacts_table,
    _dropped_rows,
    _duplicate_details,
    _duplicates,
    _Parts,
    _quarantine_table,
    _speeders,
    _write_responses,
)
from .values import _DMY, _day_month_order, recognise_labels

__all__ = ["BATCH_ROWS", "STREAM_FROM_BYTES", "NotStreamed", "prepare_streamed", "streams"]

#: records per batch
BATCH_ROWS = 200_000
#: ``engine="auto"``: a delimited file from this size is streamed (≈ 400,000 responses of 40 columns)
STREAM_FROM_BYTES = 100 << 20
#: ``engine="auto"``: a Parquet file from this many rows is streamed
STREAM_FROM_ROWS = 400_000
_SUFFIXES = (".csv", ".tsv", ".txt")


def streams(path: str | Path, engine: str) -> bool:
    """Is this file ingested in batches? ``engine``: "pandas" never, "duckdb" always (a delimited or Parquet
    file), "auto" from :data:`STREAM_FROM_BYTES` (delimited) or :data:`STREAM_FROM_ROWS` (Parquet, whose
    footer gives its row count)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if engine == "pandas" or suffix not in (*_SUFFIXES, *PARQUET_SUFFIXES) or not p.is_file():
        return False
    if engine == "duckdb":
        return True
    if suffix in PARQUET_SUFFIXES:
        try:
            return pq.ParquetFile(p).metadata.num_rows >= STREAM_FROM_ROWS
        except (pa.ArrowInvalid, OSError, ValueError):
            return False  # the whole-file reader says what is wrong with it
    return p.stat().st_size >= STREAM_FROM_BYTES


def prepare_streamed(data_path: str | Path, pk: Pack, mp: ColumnMapping, out_dir: str | Path,
                     timings: dict[str, float], batch_rows: int = BATCH_ROWS):
    """The streaming counterpart of :func:`cemkit.ingest.flow._prepare_file` for one delimited or Parquet file: writes
    ``responses.parquet``, ``quarantine.parquet`` and ``contacts.parquet`` (with ``keep_pii``) into
    ``out_dir`` and returns a :class:`~cemkit.ingest.flow.Prepared` whose ``responses`` is a
    :class:`cemkit.engine.Dataset` of that file. Raises :class:`NotStreamed` (nothing left behind) when the
    file is to be read in memory instead."""
    from .flow import ROW_ID, Prepared, _privacy_plates, made_id_note

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
    made_id = made = None
    if "response_id" not in cols:  # ids from file and line: each row's is its first equal row's (_RowIds)
        made_id, made = made_id_note(path.name), _RowIds()
        cols["response_id"], how["response_id"] = ROW_ID, "made from file and line (no response id column)"
    if (mp.weights or {}).get("rake"):
        raise NotStreamed("raking weighs the whole table at once")
    # the speeder threshold is a median over every duration: the batches run without the check, which is
    # made at the end over the durations they set aside (stream_end._speeders)
    deferred = DURATION in cols and (float(quality["speeder_seconds"] or 0) > 0 or
                                     float(quality["speeder_median_share"] or 0) > 0)
    batch_quality = {**quality, "speeder_seconds": 0.0, "speeder_median_share": 0.0} if deferred else quality
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
            _one_batch(b, br, pk, mp, cols, batch_quality, plates, parts, made)
        timings["batches"] = time.perf_counter() - t
        _check_decisions(parts, pk, mp, cols)
        t = time.perf_counter()
        bad = bad_rows(br)
        speed, speeders = _speeders(parts, quality, plates) if deferred else (None, None)
        dups = _duplicate_details(_duplicates(parts, speed["threshold"] if speed else None))
        if speeders is not None and len(speeders):
            dups = pd.concat([speeders, dups], ignore_index=True).sort_values("pos", ignore_index=True)
        dup_q, dup_masked = _dropped_rows(parts, br, pk, mp, cols, plates, dups) if len(dups) else (None, {})
        dup_masked = _add(dup_masked, speed["masked"]) if speed else dup_masked
        quarantine, bad_masked = _quarantine_table(parts, dup_q, bad, pk, mp, cols, plates, path.name)
        weighting = _write_responses(parts, dups, out / "responses.parquet", "weight" in _clean_fields(cols, mp))
        contacts = _contacts_table(parts, dups)
        timings["whole file"] = time.perf_counter() - t
        acc = _accounting(parts, br, pk, mp, cols, how, stated, headers, quality, dups, quarantine, bad,
                          {**_add(dup_masked, bad_masked)}, weighting, batch_rows, ROW_ID, speed, made_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    quarantine.insert(0, "file", pd.Series([file_name(path)] * len(quarantine), dtype="str"))
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
               quality: dict[str, Any], plates: bool, parts: _Parts, made: _RowIds | None = None) -> None:
    """One batch through the in-memory steps; its clean rows, keys and quarantine set aside."""
    from .flow import ROW_ID, row_ids
    from .tables import _contacts, _notes, _responses

    raw = b.frame
    for fid, value in mp.constants.items():
        raw[constant_header(fid)] = pd.Series(value, index=raw.index, dtype="str")
    if made is not None:
        raw[ROW_ID] = row_ids(br.path.name, int(br.attrs.get("first_data_row") or 2), made.first(raw, b.start),
                              raw.index)
    spilled = pa.Table.from_pandas(raw, preserve_index=False)  # the records as read: the copies' quarantine rows
    spilled = spilled.append_column("__pos", pa.array(b.start + np.arange(len(raw), dtype=np.int64))) \
        .append_column("__row", pa.array(np.asarray(b.rows, np.int64))) \
        .append_column("__line", pa.array(np.asarray(b.lines, np.int64)))
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
    duration = np.asarray(w.clean[DURATION], dtype=float) if DURATION in w.clean else None
    if duration is not None:  # the speeder check at the end reads the durations of these rows
        quarantine["__dur"] = np.where(reason[~used] == "straightliner", duration[~used], np.nan)
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
    if duration is not None:
        keys["dur"] = duration[used]
    weight = np.asarray(w.clean["weight"])[used] if w.clean.get("weight") is not None else None
    w.raw = raw = comment = None
    responses = _responses(w, used)
    if weight is not None:
        responses["weight"] = weight  # scaled to mean 1 over the rows kept, at the end
    responses["source_file"] = pd.Categorical([file_name(br.path)] * len(responses))
    responses["source_row"] = np.asarray(b.rows)[used].astype(np.int64)  # the reader's rows, as the whole file's
    responses["__pos"] = pos
    w.clean.clear()
    parts.add(b.start, responses, spilled, keys)


class _RowIds:
    """Ids made from file and line, batch by batch: each row's is the position of the first row equal to it
    in every cell (:func:`cemkit.ingest.flow.row_keys`), found among this batch's rows and the rows of the
    batches before — those of each earlier batch kept as sorted hashes with their first positions (16
    bytes a distinct row)."""

    def __init__(self) -> None:
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def first(self, raw: pd.DataFrame, start: int) -> np.ndarray:
        from .flow import row_keys

        keys = row_keys(raw)
        uniq, where, inverse = np.unique(keys, return_index=True, return_inverse=True)
        first = start + where.astype(np.int64)  # the first position of each distinct row in this batch
        new = np.ones(len(uniq), dtype=bool)
        for hashes, positions in self.seen:  # earlier batches first: their positions are smaller
            i = np.minimum(np.searchsorted(hashes, uniq), max(len(hashes) - 1, 0))
            hit = new & (hashes[i] == uniq) if len(hashes) else np.zeros(len(uniq), dtype=bool)
            first[hit] = positions[i[hit]]
            new &= ~hit
        self.seen.append((uniq[new], first[new]))
        return first[inverse.reshape(-1)]


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


