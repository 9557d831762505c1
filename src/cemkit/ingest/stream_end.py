"""The end of the streaming ingest (:mod:`cemkit.ingest.stream`): what the batches leave on disk, and what
needs the whole file, done over it.

Each batch spills Arrow IPC files into a scratch folder (uncompressed, read back memory-mapped: the
cost of a copy, not of an encoding): its clean rows (``responses-*``), its records as read with their
position, row and line (``raw-*``), and the keys of its used rows as parquet for DuckDB (``keys-*``: id,
date, position, row; beside them as IPC: stage, straightliner, cell flags). At the end, DuckDB finds the repeated response
ids over the keys (the latest by date, then the later row, is kept); the copies' quarantine rows are built
from their spilled records (the file is not read again); the clean rows are written once into
``responses.parquet`` (a row group per batch) without the copies, a weight column scaled to mean 1 over the
rows kept; the copies' cell counts are taken off the accounting summed over the batches. A speeder check
is made here too, before the repeated ids (:func:`_speeders`): the used rows under the whole file's
threshold are dropped as the copies are.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import privacy
from ..engine import _literal, connect
from ..packs import Pack
from .batches import BatchReader
from .clean import _clean, _Work
from .gate import gate
from .mapping import ColumnMapping
from .quality import _quarantine, speeder_rule


@dataclasses.dataclass
class _Parts:
    """What the batches leave behind: spill files on disk (``starts``: each batch's first position), and
    the accounting to add up."""

    folder: Path
    starts: list[int] = dataclasses.field(default_factory=list)
    responses: list[Path] = dataclasses.field(default_factory=list)
    raw: list[Path] = dataclasses.field(default_factory=list)
    keys: list[Path] = dataclasses.field(default_factory=list)
    flags: list[Path] = dataclasses.field(default_factory=list)
    quarantine: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    contacts: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    accs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    labels: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    words: dict[str, set] = dataclasses.field(default_factory=dict)
    date_orders: list[tuple[bool, str | None]] = dataclasses.field(default_factory=list)
    whole_labels: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, start: int, responses: pd.DataFrame, raw: pa.Table, keys: pd.DataFrame) -> None:
        """One batch's spill files: ``keys`` has the used rows' ``id``, ``date``, ``pos`` and ``row`` (for
        DuckDB) and their stage, straightliner flag and cell flags (for the accounting)."""
        k = len(self.starts)
        self.starts.append(start)
        keys = pa.Table.from_pandas(keys, preserve_index=False)
        for kind, table, files in (("responses", pa.Table.from_pandas(responses, preserve_index=False),
                                    self.responses), ("raw", raw, self.raw),
                                   ("flags", keys.drop_columns(["id", "date", "row"]), self.flags)):
            files.append(self.folder / f"{kind}-{k:05d}.arrow")
            spill(files[-1], table)
        self.keys.append(self.folder / f"keys-{k:05d}.parquet")
        pq.write_table(keys.select([c for c in ("id", "date", "pos", "row", "dur") if c in keys.column_names]),
                       self.keys[-1])


#: DuckDB's memory for the ingest's queries over the whole file (repeated ids, the speeders' median, the
#: O-data keys and match): above it DuckDB spills to disk. At 10M responses and 24M customers the O-data
#: match held 760 MB and the check for repeated customers 1,011 MB at the engine's 1 GB; at 256 MB, 322 and
#: 592 MB, in no more CPU time — the ingest's peak is then its batches', whatever the rows
INGEST_MEMORY_LIMIT = "256MB"


def ingest_connection(scratch: Path):
    """A DuckDB connection (:func:`cemkit.engine.connect`) with :data:`INGEST_MEMORY_LIMIT`, spilling into
    ``scratch`` (a folder the ingest removes; not a ``.tmp`` left in the working folder)."""
    con = connect()
    con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = '{_literal(Path(scratch) / 'duckdb')}'")
    return con


def spill(path: Path, table: pa.Table) -> None:
    """A table into an Arrow IPC file (uncompressed: written and read back at the speed of a copy)."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def unspill(path: Path) -> pa.Table:
    """A spilled table, memory-mapped (its pages are read as they are used, and need not stay resident)."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def _duplicates(parts: _Parts, speeder_below: float | None = None) -> pd.DataFrame:
    """Used rows whose response id repeats and that are not the one kept (latest date, then later row), with
    the row kept: ``pos``, ``keep_row``, sorted by position — one DuckDB query over the keys on disk. The
    repeats are looked for on 64-bit hashes of the ids (a hash table of numbers, not of the ids' text);
    the rows whose hash repeats are then ranked by their ids, so a collision ranks nothing wrongly. Rows
    answered in less than ``speeder_below`` seconds are speeders, not candidates."""
    speed = "" if speeder_below is None else " AND NOT coalesce(dur < ?, false)"
    con = ingest_connection(parts.folder)
    try:
        return con.execute(
            f"WITH k AS (SELECT id, date, pos, row FROM read_parquet(?) WHERE id IS NOT NULL{speed}), "
            "d AS (SELECT hash(id) AS h FROM k GROUP BY h HAVING count(*) > 1), "
            "r AS (SELECT k.pos, row_number() OVER w AS rn, first_value(k.row) OVER w AS keep_row "
            "      FROM k JOIN d ON hash(k.id) = d.h "
            "      WINDOW w AS (PARTITION BY k.id ORDER BY k.date DESC NULLS LAST, k.pos DESC)) "
            "SELECT pos, keep_row FROM r WHERE rn > 1 ORDER BY pos",
            [[str(p) for p in parts.keys], *([float(speeder_below)] if speed else [])]).df()
    finally:
        con.close()


def _duplicate_details(dups: pd.DataFrame) -> pd.DataFrame:
    """The dropped copies as rows to quarantine: ``pos``, ``reason``, ``detail`` (naming the row kept)."""
    return pd.DataFrame({"pos": dups["pos"].to_numpy(dtype=np.int64), "reason": "duplicate_id",
                         "detail": [f"response_id repeats; row {int(k)} is kept (latest date, then later in the "
                                    "file)" for k in dups["keep_row"]]})


def _dropped_rows(parts: _Parts, br: BatchReader, pk: Pack, mp: ColumnMapping, cols: dict[str, str],
                  plates: bool, dropped: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The quarantine rows of used rows dropped at the end (``pos``, ``reason``, ``detail``, by position: the
    copies of a repeated id, the speeders), from their records as the batches read them (the raw spill files;
    no second read of the file), their raw cells masked as every quarantined row's."""
    pos = dropped["pos"].to_numpy(dtype=np.int64)
    reasons = dropped["reason"].to_numpy(dtype=object)
    details = dropped["detail"].to_numpy(dtype=object)
    frames, masked = [], {}
    for start, end, path in zip(parts.starts, [*parts.starts[1:], None], parts.raw):
        lo, hi = np.searchsorted(pos, [start, end if end is not None else np.iinfo(np.int64).max])
        if hi <= lo:
            continue
        t = unspill(path).take(pa.array(pos[lo:hi] - start))  # a batch's records are consecutive positions
        assert np.array_equal(t["__pos"].to_numpy(), pos[lo:hi])
        attrs = {**br.attrs, "rows": t["__row"].to_numpy(), "lines": t["__line"].to_numpy(), "bad_rows": []}
        raw = t.drop_columns(["__pos", "__row", "__line"]).to_pandas()
        w = _Work(pk, mp, len(raw), cols, raw)
        _clean(w, attrs)
        w.plates = plates
        gate(w)
        q, qm = _quarantine(w, attrs, reasons[lo:hi], details[lo:hi], np.zeros(len(raw), bool),
                            w.clean.get("comment"))
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
    table = table.sort_values("__pos", kind="stable").drop(columns=["__pos", "__dur"], errors="ignore")
    table = table.reset_index(drop=True)
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
    """The clean rows spilled by the batches into one parquet file (a row group per batch), the dropped
    copies left out, a weight column scaled to mean 1 over the rows kept; returns the weighting summary (as
    ``tables._weigh``)."""
    from .. import weights as wt

    drop = dups["pos"].to_numpy(dtype=np.int64)
    mean = 1.0
    if weighted:
        total, n = 0.0, 0
        for p in parts.responses:
            t = unspill(p).select(["weight", "__pos"])
            keep = ~np.isin(t["__pos"].to_numpy(), drop)
            x = t["weight"].to_numpy(zero_copy_only=False)[keep]
            total, n = total + float(x.sum()), n + int(x.size)
        mean = total / n if n else 1.0
    writer = None
    schema = None
    try:
        for p in parts.responses:
            t = unspill(p)
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
                weighting: dict[str, Any], batch_rows: int, row_id: str,
                speed: dict[str, Any] | None = None, made_id: str | None = None) -> dict[str, Any]:
    """The in-memory ingest's accounting from the batches' counts, less the cell counts of the used rows
    dropped at the end (``dups``: the copies of repeated ids and the speeders; ``speed``: the speeder
    check over the whole file)."""
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
    if speed and speed["relabelled"]:  # quarantined as straightliners by the batches: speeders first
        sums["by_reason"] = _add(sums["by_reason"], {"speeder": speed["relabelled"],
                                                     "straightliner": -speed["relabelled"]})
        sums["by_reason"] = {k: v for k, v in sums["by_reason"].items() if v}
    if n_dup:
        sums["used"] -= n_dup
        sums["quarantined"] += n_dup
        sums["by_reason"] = _add(sums["by_reason"], dups["reason"].value_counts().to_dict())
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
    if speed:  # the batches ran without the speeder check: the rules in force and the whole file's threshold
        q = {**q, "rules": dict(quality), "speeders": speed["report"]}
    speeders = {**(q.get("speeders") or {}), "quarantined": int(sums["by_reason"].get("speeder", 0))}
    found = int(sums.get("straightliners", 0)) + int(sums["by_reason"].get("straightliner", 0))
    stage_labels: dict[str, str] = {}
    for a in accs:
        stage_labels.update(a.get("stage_labels") or {})
    acc: dict[str, Any] = {
        "source": br.attrs.get("source"), "format": br.attrs.get("format"), "encoding": br.attrs.get("encoding"),
        "encoding_lines_redecoded": int(br.attrs.get("encoding_lines_redecoded") or 0), "sheet": None, "header_row": br.attrs.get("header_row"),
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
        **column_notes(pk, mp, cols, how, stated, made_id,
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
    for p in parts.flags:
        t = unspill(p)
        t = t.filter(pa.array(np.isin(t["pos"].to_numpy(), drop)))
        if not t.num_rows:
            continue
        sub = t.to_pandas()
        if not len(sub):
            continue
        for c in sub.columns:
            if c.startswith("f:"):
                out[c[2:]] = out.get(c[2:], 0) + int(sub[c].sum())
        out["__straight"] = out.get("__straight", 0) + int(sub["straight"].sum())
        for stage, v in sub.loc[sub["straight"], "stage"].value_counts().items():
            out["__straight_by_stage"][stage] = out["__straight_by_stage"].get(stage, 0) + int(v)
    return out


def _speeders(parts: _Parts, quality: dict[str, Any], plates: bool) -> tuple[dict[str, Any], pd.DataFrame]:
    """The speeder check over the whole file, the batches having run without it: the median of the durations
    of the rows no earlier rule quarantined — the used rows (``dur`` in the keys) and those quarantined as
    straightliners (``__dur``), the one rule after it — gives the threshold (:func:`~cemkit.ingest.quality.
    speeder_rule`, as in memory). Straightliners under it are relabelled speeders in place (the earlier rule
    wins); returns ``{"report", "relabelled", "masked"}`` and the used rows under it (``pos``, ``reason``,
    ``detail``, by position), to be dropped."""
    sl = [q.loc[q["reason"] == "straightliner", "__dur"].to_numpy(dtype=float) for q in parts.quarantine]
    sl_dur = np.concatenate(sl) if sl else np.zeros(0)
    keys = [str(p) for p in parts.keys]
    con = ingest_connection(parts.folder)
    try:
        con.register("sl", pa.table({"dur": sl_dur[~np.isnan(sl_dur)]}))
        pool = ("WITH pool AS (SELECT dur FROM read_parquet(?) WHERE dur IS NOT NULL AND NOT isnan(dur) "
                "UNION ALL SELECT dur FROM sl) ")
        n = int(con.execute(pool + "SELECT count(*) FROM pool", [keys]).fetchall()[0][0])
        middle = con.execute(pool + f"SELECT dur FROM pool ORDER BY dur LIMIT {2 - n % 2} OFFSET {(n - 1) // 2}",
                             [keys]).fetchnumpy()["dur"] if n else np.zeros(0)
        median = float(np.median(np.asarray(middle, dtype=float))) if n else None  # np.median's own mean of two
        threshold, report, detail = speeder_rule(quality, median, n)
        used = con.execute("SELECT pos, dur FROM read_parquet(?) WHERE dur < ? ORDER BY pos",
                           [keys, threshold]).df() if threshold > 0 else pd.DataFrame({"pos": [], "dur": []})
    finally:
        con.close()
    relabelled, masked = 0, {}
    for q in parts.quarantine if threshold > 0 else ():
        hit = ((q["reason"] == "straightliner") & (q["__dur"] < threshold)).to_numpy(dtype=bool)
        if hit.any():
            text, c = privacy.mask_text(pd.Series(detail(q["__dur"].to_numpy(dtype=float)[hit]), dtype="str"),
                                        plates=plates, controls="text")
            q.loc[hit, "reason"] = "speeder"
            q.loc[hit, "detail"] = text.to_numpy()
            relabelled += int(hit.sum())
            masked = _add(masked, c)
    dropped = pd.DataFrame({"pos": used["pos"].to_numpy(dtype=np.int64), "reason": "speeder",
                            "detail": detail(used["dur"].to_numpy(dtype=float))})
    return {"report": report, "threshold": threshold if threshold > 0 else None, "relabelled": relabelled,
            "masked": masked}, dropped
