"""The whole of ingest: :func:`prepare` reads, maps, cleans, checks, quarantines, masks, weights and joins
O-data, keeps the accounting and writes the outputs (:class:`Prepared`).

Personal data
-------------
The comment is masked with :func:`cemkit.privacy.mask_text` (plates too when the mapping's ``privacy.plates``
or the pack's top-level ``privacy: {plates: true}`` in pack.yaml says so). Fields with ``pii: true`` (phone,
name) are never in ``responses``; those listed in ``keep_pii`` go to ``Prepared.contacts`` (response_id,
customer_id and the fields, written to ``contacts.parquet``) for work orders. Quarantined raw rows are
masked too (every text cell; name columns as ``张**``).

Weights
-------
A weight column (``weights: {column: W}``, or a column mapped to the ``weight`` field) must hold positive
numbers; ``weights: {rake: ...}`` rakes the used rows to the margins with :func:`cemkit.weights.rake`.
Weights are scaled to mean 1; unweighted data get 1.0. ``accounting["weighting"]`` holds the Kish summary.

Accounting keys
---------------
``source, format, encoding, sheet, header_row, input_rows, used, quarantined, by_reason, cells_blanked,
dates_unparsed, durations_unparsed`` (with a duration column), ``straightliners, straightliners_by_stage,
quality, wave_derived, wave_missing, customer_id_missing, stage_labels, masked`` (masks in the comment
column, all input rows, per kind), ``masked_quarantine`` (masks in the other cells of quarantined raw rows and
of malformed rows; ``name`` counts masked name cells), ``pii_dropped, pii_kept, columns`` (client header →
id), ``column_sources`` (how a non-identical header was found), ``unused_columns, weighting,
weighting_efficiency`` and, with O-data, ``odata_files, odata_rows_in, odata_rows_without_key,
odata_customers, odata_matched_responses, odata_unmatched_responses, odata_customers_without_response,
odata_unused_columns``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import privacy
from .. import weights as wt
from ..arrowtext import arrow
from ..errors import InputError
from ..packs import Pack
from ..results import json_safe
from .cells import _THREADS, _map_text, _nfkc, _series, _strip_text
from .clean import _clean, _resolve_columns, _Work, constant_header
from .headers import DURATION
from .mapping import ColumnMapping, _as_pack, load_mapping
from .odata import _match_odata, _read_odata
from .quality import _apply_checks, _deduplicate, _quality, _quality_report, _quarantine, _straightliners
from .readers import read_table


@dataclass
class Prepared:
    """The result of :func:`prepare`. ``responses`` follows the clean response table contract
    (docs/architecture.md); ``quarantine`` has one row per unused input row: ``row`` (spreadsheet row
    number, NA when unknown), ``response_id``, ``reason``, ``detail`` and ``raw`` (the masked input row as a
    JSON object); ``contacts`` holds kept PII (``keep_pii``) by response; ``timings`` seconds per stage."""

    responses: pd.DataFrame
    quarantine: pd.DataFrame
    accounting: dict[str, Any]
    odata: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _privacy_plates(pack: Pack, mp: ColumnMapping) -> bool:
    """Mask licence plates? The mapping's ``privacy.plates``, else the pack's (``privacy: {plates: true}``
    in pack.yaml)."""
    if mp.plates is not None:
        return mp.plates
    return bool(pack.privacy.get("plates"))


def prepare(
    data_path: str | Path | None,
    pack: Pack | str | Path,
    mapping: str | Path | dict | None = None,
    odata_paths: Iterable[str | Path] = (),
    out_dir: str | Path | None = None,
) -> Prepared:
    """Read, map, clean, quarantine, mask, weight and join a client export (see the docstrings of the
    cemkit.ingest modules).

    ``mapping``: a YAML path or dict (None: headers named by pack ids, plus confident synonym matches, which
    are also used alongside a mapping for the fields it leaves out).
    ``out_dir``: when given, receives ``responses.parquet``, ``quarantine.parquet``, ``odata.parquet``,
    ``contacts.parquet`` (only with ``keep_pii``) and ``accounting.json``. Raises InputError for an unreadable
    file, an absent mapped column or a missing required column (all listed at once), and when no row is
    usable (after writing ``out_dir``, so that the quarantine can be inspected)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    pk = _as_pack(pack)
    mp = load_mapping(mapping, pk)
    if data_path is None or str(data_path) == "":
        if not mp.source_file:
            raise InputError("no data file: give one, or name it under source.file in the mapping.")
        base = mp.path.parent if mp.path else Path(".")
        data_path = base / mp.source_file
    paths = [odata_paths] if isinstance(odata_paths, (str, Path)) else [p for p in (odata_paths or ()) if p]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the O-data needs nothing from the survey: read it on a second core while the survey is cleaned
        # (Arrow's readers and kernels release the GIL); its errors surface after the survey's own
        pending = pool.submit(_read_odata, paths, pk, mp) if paths else None
        return _prepare(data_path, pk, mp, pending, out_dir, timings, t0)


def _prepare(data_path: str | Path, pk: Pack, mp: ColumnMapping, pending: Future | None,
             out_dir: str | Path | None, timings: dict[str, float], t0: float) -> Prepared:
    """The rest of :func:`prepare`, with the O-data being read in ``pending``."""
    raw = read_table(data_path, sheet=mp.sheet)
    attrs, raw.attrs = dict(raw.attrs), {}
    for fid, value in mp.constants.items():  # one value for every row, read like a client column
        raw[constant_header(fid)] = pd.Series(value, index=raw.index, dtype="str")
    timings["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    cols, how = _resolve_columns(raw, attrs, pk, mp)
    w = _Work(pk, mp, len(raw), cols, raw)
    acc: dict[str, Any] = {
        "source": attrs.get("source"),
        "format": attrs.get("format"),
        "encoding": attrs.get("encoding"),
        "sheet": attrs.get("sheet"),
        "header_row": attrs.get("header_row"),
    }
    stage_labels = _clean(w, attrs)
    w.quality = _quality(pk, mp)
    w.straight = w.clean["straightliner"] = _straightliners(w, int(w.quality["straightliner_min_items"]))
    timings["clean"] = time.perf_counter() - t

    t = time.perf_counter()
    w.plates = _privacy_plates(pk, mp)
    comment, masked = (
        privacy.mask_text(w.clean["comment"], plates=w.plates) if "comment" in w.clean else (None, {})
    )
    if comment is not None:
        w.clean["comment"] = comment
    timings["mask"] = time.perf_counter() - t

    t = time.perf_counter()
    reason, detail = _apply_checks(w)
    _deduplicate(w, reason, detail, attrs)
    used = pd.isna(reason)
    timings["checks"] = time.perf_counter() - t

    t = time.perf_counter()
    quarantine, qmasked = _quarantine(w, attrs, reason, detail, used, comment)
    contacts = _contacts(w, used)
    n_raw, unused = len(raw), [h for h in raw.columns if h not in set(cols.values())]
    by_reason = quarantine["reason"].value_counts().to_dict() if len(quarantine) else {}
    quality = _quality_report(w, used, by_reason)
    w.raw = raw = comment = None  # the input is no longer needed: free it before copying the used rows
    timings["quarantine"] = time.perf_counter() - t

    t = time.perf_counter()
    responses = _responses(w, used)
    weighting = _weigh(w, responses, used)
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
            "masked": {k: int(v) for k, v in masked.items()},
            "masked_quarantine": {k: int(v) for k, v in qmasked.items() if v},
            "pii_dropped": [f for f, s in pk.fields.items() if s.pii and f in cols and f not in mp.keep_pii],
            "pii_kept": [f for f in mp.keep_pii if f in cols],
            "columns": {cols[f]: f for f in cols},
            "column_sources": {f: how[f] for f in cols if how[f] != "id"},
            "unused_columns": unused,
            "weighting": weighting,
            "weighting_efficiency": weighting.get("efficiency"),
        }
    )
    # the invariant: a failure here is a bug in cemkit, not bad input
    if acc["input_rows"] != acc["used"] + acc["quarantined"]:
        raise AssertionError(
            f"accounting does not add up: {acc['input_rows']} != {acc['used']} + {acc['quarantined']}"
        )

    t = time.perf_counter()
    odata = None
    if pending is not None:
        odata, oacc = _match_odata(*pending.result(), pk, responses)
        acc.update(oacc)
    timings["odata"] = time.perf_counter() - t  # the wait for the O-data reader, and the match

    acc = json_safe(acc)
    prepared = Prepared(responses, quarantine, acc, odata, contacts, timings)
    if out_dir is not None:
        t = time.perf_counter()
        _write(prepared, Path(out_dir))
        timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if not acc["used"]:
        why = ", ".join(f"{k} {v}" for k, v in acc["by_reason"].items()) or "the file has no data rows"
        where = (
            f"; see {Path(out_dir) / 'quarantine.parquet'}"
            if out_dir is not None and acc["quarantined"]
            else ""
        )
        raise InputError(f"{acc['source']}: no usable rows ({acc['input_rows']} read, {why}){where}.")
    return prepared


def _notes(w: _Work, used: np.ndarray) -> dict[str, Any]:
    """Cell-level counts over the used rows: blanked scores, unreadable dates, derived/missing waves."""
    count = {k: int((v & used).sum()) for k, v in w.flags.items()}
    blanked: dict[str, dict[str, int]] = {}
    for k, v in count.items():
        if k.startswith("blanked:") and v:
            _, fid, why = k.split(":")
            blanked.setdefault(fid, {})[why] = v
    return {
        "customer_id_missing": count.get("customer_id_missing", 0),
        "cells_blanked": blanked,
        "dates_unparsed": count.get("dates_unparsed", 0),
        **({"durations_unparsed": count["durations_unparsed"]} if "durations_unparsed" in count else {}),
        "wave_derived": count.get("wave_derived", 0),
        "wave_missing": count.get("wave_missing", 0),
        **({"phone_unreadable": count["phone_unreadable"]} if "phone_unreadable" in count else {}),
    }


def _responses(w: _Work, used: np.ndarray) -> pd.DataFrame:
    """The clean response table (contract order) for the used rows (columns subset on the thread pool)."""
    pk, c = w.pack, w.clean
    every = bool(used.all())
    keep = pa.array(used)

    def col(v: Any) -> Any:
        if isinstance(v, pd.Series):
            if every:
                return v.reset_index(drop=True)
            if isinstance(v.array, pd.arrays.ArrowStringArray):  # Arrow's filter: far cheaper than .iloc here
                return _series(arrow(v).filter(keep))
            return v[used].reset_index(drop=True)
        v = np.asarray(v)
        return v if every else np.compress(used, v)

    order = [
        "response_id",
        "customer_id",
        "wave",
        "date",
        "stage",
        *(["touchpoint"] if "touchpoint" in c else []),
        *pk.kpis,
        *pk.attributes,
        "comment",
        *(s for s in pk.segment_ids if s in c),
        *([DURATION] if DURATION in c else []),
        "straightliner",
    ]
    order += [
        f
        for f in c
        if f not in order and f not in ("stage_label", "weight") and f in pk.fields and not pk.fields[f].pii
    ]
    n_used = int(used.sum())
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        jobs = {k: pool.submit(col, c[k]) for k in order if k in c}
        data: dict[str, Any] = {
            k: jobs[k].result() if k in jobs else pd.Series(pd.NA, index=range(n_used), dtype="str")
            for k in order
        }
    for k in [*pk.kpis, *pk.attributes]:
        data[k] = np.asarray(data[k], dtype=float)
    data["weight"] = np.ones(n_used)
    return pd.DataFrame(data, copy=False)  # no block consolidation: a million rows × 30 floats is 0.2 s


def _weigh(w: _Work, responses: pd.DataFrame, used: np.ndarray) -> dict[str, Any]:
    """Fill ``responses.weight`` (mean 1) from the weight column or by raking; return the Kish summary."""
    mp = w.mapping
    method = "none"
    if "weight" in w.clean and w.clean["weight"] is not None and len(responses):
        x = np.asarray(w.clean["weight"])[used]
        responses["weight"] = x / x.mean()
        method = "column"
    elif (mp.weights or {}).get("rake") and len(responses):
        kw = {k: mp.weights[k] for k in ("max_iter", "tol") if k in mp.weights}
        r = wt.rake(responses, mp.weights["rake"], **kw)
        responses["weight"] = r.to_numpy()
        method = "rake"
    k = (
        wt.kish(responses["weight"])
        if len(responses)
        else {"n": 0, "n_eff": 0.0, "deff": None, "efficiency": None}
    )
    out = {"method": method, **k}
    if len(responses):
        out.update(min=float(responses["weight"].min()), max=float(responses["weight"].max()))
    return out


def _contacts(w: _Work, used: np.ndarray) -> pd.DataFrame | None:
    """Kept PII fields (``keep_pii``) of the used rows, by response and customer id."""
    keep = [f for f in w.mapping.keep_pii if f in w.cols]
    if not keep:
        return None
    data = {"response_id": w.clean["response_id"][used], "customer_id": w.clean["customer_id"][used]}
    for f in keep:
        col = _strip_text(w.raw[w.cols[f]])
        if f == "phone":
            phone = _map_text(col, clean_phone)
            w.flags["phone_unreadable"] = (col.notna() & phone.isna()).to_numpy()
            col = phone
        data[f] = col[used]
    return pd.DataFrame(data).reset_index(drop=True)


_PHONE_FLOAT = re.compile(r"^(\d)(?:\.(\d+))?[eE]\+?(\d{1,2})$")


def clean_phone(value: str | None) -> str | None:
    """A phone cell as digits: ``+86 138 0013 8000`` / ``0086-13800138000`` → ``13800138000``; a number a
    spreadsheet stored as a float, ``13800138000.0`` or ``1.3800138000e10``, back to its digits. A float that
    lost digits (``1.38E+10``) cannot be called: None. Anything else is returned as it is."""
    if value is None:
        return None
    s = _nfkc(str(value))
    m = _PHONE_FLOAT.match(s)
    if m:
        frac = m.group(2) or ""
        exp = int(m.group(3))
        return m.group(1) + frac if len(frac) == exp else None  # fewer digits: rounded away, unknowable
    s = re.sub(r"\.0+$", "", s)
    digits = re.sub(r"[\s\-()（）]", "", s)
    if re.fullmatch(r"(?:\+?86|0086)1[3-9]\d{9}", digits):
        return digits[-11:]
    return digits if re.fullmatch(r"\+?\d{5,15}", digits) else s


def _write(p: Prepared, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"responses": p.responses, "quarantine": p.quarantine, "odata": p.odata, "contacts": p.contacts}
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow encodes and compresses without the GIL
        done = [pool.submit(t.to_parquet, out_dir / f"{name}.parquet", index=False)
                for name, t in tables.items() if t is not None]
    for f in done:
        f.result()
    (out_dir / "accounting.json").write_text(
        json.dumps(p.accounting, ensure_ascii=False, indent=1), encoding="utf-8"
    )
