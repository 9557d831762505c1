"""The whole of ingest: :func:`prepare` reads, maps, cleans, checks, quarantines, masks, weights and joins
O-data, keeps the accounting and writes the outputs (:class:`Prepared`).

Personal data
-------------
Every text column passes the privacy gate (:mod:`cemkit.ingest.gate`): control characters cleaned, personal
data masked with :func:`cemkit.privacy.mask_text` (plates too when the mapping's ``privacy.plates`` or the
pack's top-level ``privacy: {plates: true}`` in pack.yaml says so), ids that hold personal data replaced by
a keyed pseudonym. Fields with ``pii: true`` (phone, name) are never in ``responses``; those listed in
``keep_pii`` go to ``Prepared.contacts`` (response_id, customer_id and the fields, written to
``contacts.parquet``) for work orders. Quarantined raw rows and their details are masked too (every text
cell; name columns as ``张**``), and so are the accounting's texts and the messages of errors.

Weights
-------
A weight column (``weights: {column: W}``, or a column mapped to the ``weight`` field) must hold positive
numbers; ``weights: {rake: ...}`` rakes the used rows to the margins with :func:`cemkit.weights.rake`.
Weights are scaled to mean 1; unweighted data get 1.0. ``accounting["weighting"]`` holds the Kish summary.

Accounting keys
---------------
``source, format, encoding, sheet, header_row, input_rows, used, quarantined, by_reason, cells_blanked,
dates_unparsed, durations_unparsed`` (with a duration column), ``straightliners, straightliners_by_stage,
quality, wave_derived, wave_missing, customer_id_missing, stage_labels, masked`` (masks in the text
columns, all input rows, per kind), ``masked_by_column`` (the same per column), ``pseudonymised`` (id values
replaced, per id column), ``masked_quarantine`` (masks in the other cells of quarantined raw rows, their
details and malformed rows; ``name`` counts masked name cells), ``encoding_lines_redecoded`` (lines of a
mixed-encoding file decoded in its minority encoding), ``pii_dropped, pii_kept, columns`` (client header →
id), ``column_sources`` (how a non-identical header was found), ``unused_columns, weighting,
weighting_efficiency`` and, with O-data, ``odata_files, odata_rows_in, odata_rows_without_key,
odata_customers, odata_matched_responses, odata_unmatched_responses, odata_customers_without_response,
odata_unused_columns``.

Several files
-------------
``data_path`` may name several files (a list; folders and glob patterns are expanded by
:func:`~cemkit.ingest.readers.data_files`), e.g. one export per wave. Each file is read and cleaned on its own,
with its own mapping (a list of mappings, one per file, or one mapping whose ``sources`` name the files) and
its own row numbers; then the files are stacked. A response id found in more than one file is kept once —
the latest by date, then the later file — and its other copies are quarantined as ``duplicate_id`` naming the
file and row kept. Every clean response keeps ``source_file`` and ``source_row`` (the row as the file shows
it); every quarantined row its ``file`` and ``row``. ``accounting["files"]`` lists each file's accounting
(``input_rows = used + quarantined`` per file) and the top-level counts are the totals; cell-level counts
(``cells_blanked``, ``wave_derived`` …) are summed per file before the cross-file duplicates are removed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import privacy
from ..engine import Dataset
from ..errors import InputError
from ..packs import Pack
from ..results import json_safe
from .clean import _clean, _resolve_columns, _Work, constant_header
from .gate import gate, mask_strings
from .mapping import ColumnMapping, _as_pack, load_mapping, mapping_for, source_files
from .odata import _match_odata, _read_odata
from .quality import _apply_checks, _deduplicate, _quality, _quality_report, _quarantine, _straightliners
from .readers import data_files, read_table
from .tables import _contacts, _notes, _responses, _weigh


@dataclass
class Prepared:
    """The result of :func:`prepare`. ``responses`` follows the clean response table contract
    (docs/architecture.md); ``quarantine`` has one row per unused input row: ``row`` (the row a spreadsheet
    shows, NA when unknown), ``line`` (the line an editor shows where it starts), ``response_id``, ``reason``,
    ``detail`` and ``raw`` (the masked input row as a JSON object; both masked); ``contacts`` holds kept PII (``keep_pii``) by response; ``timings`` seconds per stage."""

    responses: pd.DataFrame
    quarantine: pd.DataFrame
    accounting: dict[str, Any]
    odata: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: tables already in ``out_dir`` (the streaming ingest writes them as it goes): ``responses`` is then a
    #: :class:`cemkit.engine.Dataset` of ``responses.parquet``
    written: tuple[str, ...] = ()


def _privacy_plates(pack: Pack, mp: ColumnMapping) -> bool:
    """Mask licence plates? The mapping's ``privacy.plates``, else the pack's (``privacy: {plates: true}``
    in pack.yaml)."""
    if mp.plates is not None:
        return mp.plates
    return bool(pack.privacy.get("plates"))


def prepare(
    data_path: str | Path | Sequence[str | Path] | None,
    pack: Pack | str | Path,
    mapping: str | Path | dict | Sequence[str | Path] | None = None,
    odata_paths: Iterable[str | Path] = (),
    out_dir: str | Path | None = None,
    engine: str = "pandas",
) -> Prepared:
    """Read, map, clean, quarantine, mask, weight and join a client export — or several (see "Several files"
    in the module docstring and the docstrings of the cemkit.ingest modules).

    ``data_path``: a file, folder or glob, or a list of them (None: the files the mapping names).
    ``mapping``: a YAML path or dict, or a list with one per data file (None: headers named by pack ids, plus
    confident synonym matches, which are also used alongside a mapping for the fields it leaves out).
    ``out_dir``: when given, receives ``responses.parquet``, ``quarantine.parquet``, ``odata.parquet``,
    ``contacts.parquet`` (only with ``keep_pii``) and ``accounting.json``. Raises InputError for an unreadable
    file, an absent mapped column or a missing required column (all listed at once), and when no row is
    usable (after writing ``out_dir``, so that the quarantine can be inspected).

    ``engine``: "pandas" reads the file whole; "duckdb" streams one delimited file in batches
    (:mod:`cemkit.ingest.stream`: the same tables and accounting, memory flat; ``responses`` is then a
    :class:`cemkit.engine.Dataset` of the written file); "auto" streams from
    :data:`cemkit.ingest.stream.STREAM_FROM_BYTES`. A file the streaming ingest does not take is read whole,
    and ``accounting["ingest"]`` says why."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    pk = _as_pack(pack)
    several = isinstance(mapping, (list, tuple))
    mp = load_mapping(None if several else mapping, pk)
    if data_path is None or (isinstance(data_path, (str, Path)) and str(data_path) == ""):
        if not mp.source_file and not mp.sources:
            raise InputError("no data file: give one, or name it under source.file in the mapping.")
        data_path = source_files(mp)
    files = data_files(data_path)
    if several:
        if len(mapping) != len(files):
            raise InputError(f"{len(mapping)} mappings for {len(files)} data files: give one mapping for all "
                             "files, or one per file in the same order.")
        maps = [load_mapping(m, pk) for m in mapping]
        mp = maps[0]
    else:
        maps = [mapping_for(mp, f, pk) for f in files]
    paths = [odata_paths] if isinstance(odata_paths, (str, Path)) else [p for p in (odata_paths or ()) if p]
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            # the O-data needs nothing from the survey: read it on a second core while the survey is cleaned
            # (Arrow's readers and kernels release the GIL); its errors surface after the survey's own
            pending = pool.submit(_odata, paths, pk, mp, out_dir, engine) if paths else None
            if len(files) == 1:
                return _prepare(files[0], pk, maps[0], pending, out_dir, timings, t0, engine)
            from .several import prepare_many

            return prepare_many(files, pk, maps, pending, out_dir, timings, t0)
    except InputError as exc:  # a message may quote a cell or a header: it passes the gate too
        exc.args = tuple(privacy.mask_message(a) if isinstance(a, str) else a for a in exc.args)
        raise


def _odata(paths: list, pk: Pack, mp: ColumnMapping, out_dir: str | Path | None, engine: str):
    """The O-data: streamed into parquet parts (:mod:`cemkit.ingest.odata_stream`; a folder is returned)
    when ``engine`` says so and the file allows, else read whole (a DataFrame); and its accounting."""
    from .odata_stream import read_odata_streamed
    from .stream import NotStreamed, streams

    why = None
    if out_dir is not None and len(paths) == 1 and streams(paths[0], engine):
        try:
            folder, acc = read_odata_streamed(paths, pk, mp, out_dir)
            acc["odata_ingest"] = "streamed in batches (cemkit.ingest.odata_stream)"
            return folder, acc
        except NotStreamed as exc:
            why = f"read whole: {exc}"
    merged, acc = _read_odata(paths, pk, mp)
    if why:
        acc["odata_ingest"] = why
    return merged, acc


def _prepare(data_path: str | Path, pk: Pack, mp: ColumnMapping, pending: Future | None,
             out_dir: str | Path | None, timings: dict[str, float], t0: float, engine: str = "pandas") -> Prepared:
    """The rest of :func:`prepare` for one file, with the O-data being read in ``pending``: streamed in
    batches (:mod:`cemkit.ingest.stream`) when ``engine`` says so, else whole."""
    from .stream import NotStreamed, prepare_streamed, streams

    why = None
    if out_dir is not None and streams(data_path, engine):
        try:
            return _finish(prepare_streamed(data_path, pk, mp, out_dir, timings), pk, pending, out_dir, timings, t0)
        except NotStreamed as exc:
            why = f"read whole: {exc}"
    prepared = _prepare_file(data_path, pk, mp, timings, t0)
    if why:
        prepared.accounting["ingest"] = why
    return _finish(prepared, pk, pending, out_dir, timings, t0)


def _prepare_file(data_path: str | Path, pk: Pack, mp: ColumnMapping, timings: dict[str, float],
                  t0: float) -> Prepared:
    """Read, clean, check and quarantine one file (no O-data, nothing written)."""
    raw = read_table(data_path, sheet=mp.sheet)
    attrs, raw.attrs = dict(raw.attrs), {}
    for fid, value in mp.constants.items():  # one value for every row, read like a client column
        raw[constant_header(fid)] = pd.Series(value, index=raw.index, dtype="str")
    timings["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    cols, how, stated = _resolve_columns(raw, attrs, pk, mp)
    if stated:  # the scales the auto-matched headers state, as a mapping's scales would declare them
        mp = dataclasses.replace(mp, scales={**stated, **mp.scales})
    made_id = None
    if "response_id" not in cols:
        made_id = _make_row_ids(raw, Path(data_path).name, int(attrs.get("first_data_row") or 2))
        cols["response_id"], how["response_id"] = ROW_ID, "made from file and line (no response id column)"
    w = _Work(pk, mp, len(raw), cols, raw)
    acc: dict[str, Any] = {
        "source": attrs.get("source"),
        "format": attrs.get("format"),
        "encoding": attrs.get("encoding"),
        "encoding_lines_redecoded": int(attrs.get("encoding_lines_redecoded") or 0),
        "sheet": attrs.get("sheet"),
        "header_row": attrs.get("header_row"),
    }
    stage_labels = _clean(w, attrs)
    w.quality = _quality(pk, mp)
    w.straight = w.clean["straightliner"] = _straightliners(w, int(w.quality["straightliner_min_items"]))
    timings["clean"] = time.perf_counter() - t

    t = time.perf_counter()
    w.plates = _privacy_plates(pk, mp)
    gated = gate(w)  # the privacy gate: every text column, before any detail or output is built from it
    comment = w.clean.get("comment")
    timings["mask"] = time.perf_counter() - t

    t = time.perf_counter()
    reason, detail = _apply_checks(w)
    _deduplicate(w, reason, detail, attrs)
    used = pd.isna(reason)
    timings["checks"] = time.perf_counter() - t

    t = time.perf_counter()
    quarantine, qmasked = _quarantine(w, attrs, reason, detail, used, comment)
    contacts = _contacts(w, used)
    n_raw, unused = len(raw), [h for h in raw.columns if h not in set(cols.values()) and h != ROW_ID]
    by_reason = quarantine["reason"].value_counts().to_dict() if len(quarantine) else {}
    quality = _quality_report(w, used, by_reason)
    w.raw = raw = comment = None  # the input is no longer needed: free it before copying the used rows
    timings["quarantine"] = time.perf_counter() - t

    t = time.perf_counter()
    responses = _responses(w, used)
    weighting = _weigh(w, responses, used)
    responses["source_file"] = pd.Categorical([privacy.file_name(data_path)] * len(responses))
    # the row a spreadsheet shows (the reader's row numbers: a ragged record or a quoted line break before a
    # row does not shift it), as the quarantine reports its rows
    rows = attrs.get("rows")
    responses["source_row"] = (np.asarray(rows)[np.asarray(used, dtype=bool)] if rows is not None else
                               int(attrs.get("first_data_row") or 2) + np.flatnonzero(used)).astype(np.int64)
    w.clean.clear()
    timings["responses"] = time.perf_counter() - t

    acc.update(
        {
            "input_rows": int(n_raw + len(attrs.get("bad_rows") or [])),
            "used": len(responses),
            "quarantined": len(quarantine),
            "by_reason": {
                str(k): int(v) for k, v in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
            },
            **_notes(w, used),
            **quality,
            "stage_labels": stage_labels,
            "label_scales": w.labels,
            **gated,
            "masked_quarantine": {k: int(v) for k, v in qmasked.items() if v},
            **column_notes(pk, mp, cols, how, stated, made_id, unused),
            "weighting": weighting,
            "weighting_efficiency": weighting.get("efficiency"),
        }
    )
    # the invariant: a failure here is a bug in cemkit, not bad input
    if acc["input_rows"] != acc["used"] + acc["quarantined"]:
        raise AssertionError(
            f"accounting does not add up: {acc['input_rows']} != {acc['used']} + {acc['quarantined']}"
        )

    quarantine.insert(0, "file", pd.Series([privacy.file_name(data_path)] * len(quarantine), dtype="str"))
    return Prepared(responses, quarantine, acc, None, contacts, timings)


def column_notes(pk: Pack, mp: ColumnMapping, cols: dict[str, str], how: dict[str, str], stated: dict,
                 made_id: str | None, unused: list[str]) -> dict[str, Any]:
    """The accounting's notes on the columns: personal data dropped and kept, client header → field, how a
    header was found, the scales headers state, the headers not used."""
    return {
        "pii_dropped": [f for f, s in pk.fields.items() if s.pii and f in cols and f not in mp.keep_pii],
        "pii_kept": [f for f in mp.keep_pii if f in cols],
        "columns": {cols[f]: f for f in cols if cols[f] != ROW_ID},
        "response_id_made": made_id,
        "scales_stated": {f: list(v) for f, v in stated.items()},
        "column_sources": {f: how[f] for f in cols if how[f] != "id"},
        "unused_columns": unused,
    }


#: the column a response id made from file and line is held in (no client header looks like it)
ROW_ID = "=row:response_id"


def _make_row_ids(raw: pd.DataFrame, source: str, first_row: int) -> str:
    """A response id for a file with none: ``<file>:<line>`` per row (the line of the file it came from).
    Rows identical in every cell share the first one's id, so the duplicate check keeps one of them
    (dedupe on the full row). Returns the sentence the accounting and the data-quality page give."""
    keys = row_keys(raw)
    first = pd.Series(np.arange(len(raw))).groupby(keys).transform("min").to_numpy()
    raw[ROW_ID] = row_ids(source, first_row, first, raw.index)
    return made_id_note(source)


def row_keys(raw: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's cells (rows equal in every cell share it): what ids made from file and
    line group by, whole or batch by batch."""
    return pd.util.hash_pandas_object(raw.astype("string"), index=False).to_numpy()


def row_ids(source: str, first_row: int, first: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """``<file>:<first data row + position of the first row equal to it>`` per row."""
    return pd.Series([f"{source}:{first_row + int(i)}" for i in first], index=index, dtype="str")


def made_id_note(source: str) -> str:
    """The sentence the accounting and the data-quality page give for ids made from file and line."""
    return (f"no response id column: each row's id is {source}:<line>, and rows repeated in every cell are "
            "duplicates")


def _finish(prepared: Prepared, pk: Pack, pending: Future | None, out_dir: str | Path | None,
            timings: dict[str, float], t0: float) -> Prepared:
    """Join the O-data, write the outputs, refuse a run without usable rows."""
    t = time.perf_counter()
    acc = prepared.accounting
    if pending is not None:
        odata, oacc = pending.result()
        if isinstance(odata, Path):  # streamed into parquet parts: matched by DuckDB into odata.parquet
            from .odata_stream import match_streamed

            target = Path(out_dir) / "odata.parquet"
            responses = Path(out_dir) / "responses.parquet" if "responses" in prepared.written else \
                prepared.responses
            oacc = match_streamed(odata, oacc, pk, responses, target)
            prepared.odata, prepared.written = Dataset(target), (*prepared.written, "odata")
        else:
            responses = prepared.responses
            if "responses" in prepared.written:  # on disk: the customer ids are all the match needs
                responses = pd.read_parquet(Path(out_dir) / "responses.parquet", columns=["customer_id"])
            prepared.odata, oacc = _match_odata(odata, oacc, pk, responses)
        acc.update(oacc)
    timings["odata"] = time.perf_counter() - t  # the wait for the O-data reader, and the match

    acc = prepared.accounting = mask_strings(json_safe(acc))
    if out_dir is not None:
        t = time.perf_counter()
        _write(prepared, Path(out_dir))
        timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if not acc["used"]:
        why = ", ".join(f"{k} {v}" for k, v in acc["by_reason"].items()) or "the file has no data rows"
        where = (
            f"; see {Path(out_dir).resolve() / 'quarantine.parquet'}"  # absolute: notebooks get run_dir='..'
            if out_dir is not None and acc["quarantined"]
            else ""
        )
        raise InputError(f"{acc['source']}: no usable rows ({acc['input_rows']} read, {why}){where}.")
    return prepared


def _write(p: Prepared, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"responses": p.responses, "quarantine": p.quarantine, "odata": p.odata, "contacts": p.contacts}
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow encodes and compresses without the GIL
        done = [pool.submit(t.to_parquet, out_dir / f"{name}.parquet", index=False)
                for name, t in tables.items() if t is not None and name not in p.written]
    for f in done:
        f.result()
    (out_dir / "accounting.json").write_text(
        json.dumps(p.accounting, ensure_ascii=False, indent=1), encoding="utf-8"
    )
