"""``cemkit map``: draft a mapping YAML for a client file (:func:`map_command`, :func:`map_cli`), written
by :func:`write_mapping_yaml` with the evidence for each line as comments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..packs import Pack
from .cells import _nfkc, _normalise_text
from .mapping import _as_pack
from .match import FIT_SAMPLE_ROWS, propose_mapping, value_fit
from .readers import read_table
from .stages import StageMatcher, propose_stage_values
from .values import _score_values, recognise_labels


def _q(v: Any) -> str:
    """A YAML scalar (JSON strings are valid YAML)."""
    if v is None:
        return "null"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)


def write_mapping_yaml(draft: dict[str, Any], path: str | Path | None = None) -> str:
    """The draft mapping as commented YAML (written to ``path`` when given); returns the text. Unplaced
    headers are listed as comments under ``columns`` (with a blank target to fill in), required fields that
    were not found are flagged at the top."""
    out = [
        "# cemkit column mapping (draft by `cemkit map`): check every line, then pass it with --mapping.",
        "# columns: client header → pack id. Delete wrong lines; fill in the commented ones you need.",
    ]
    if draft.get("pack"):
        out.append(f"# pack: {draft['pack']}")
    for f in draft.get("missing_required") or []:
        out.append(f"# !! required field {f!r} not found: map a header to it")
    out += [f"# {n}" for n in draft.get("notes") or []]
    src = draft.get("source") or {}
    if src:
        out.append("source:")
        out += [f"  {k}: {_q(v)}" for k, v in src.items() if v is not None]
    out.append("columns:")
    matches = draft.get("matches") or {}
    for h, fid in (draft.get("columns") or {}).items():
        m = matches.get(h) or {}
        how = f"  # {m.get('score', 1):.2f} via {m['via']!r}" if m.get("via") else ""
        out.append(f"  {_q(h)}: {fid}{how}")
    unplaced = draft.get("unplaced") or []
    cands = draft.get("candidates") or {}
    close = set(draft.get("close") or ())
    if unplaced:
        out.append(f"  # not placed ({len(unplaced)}): uncomment and add a pack id, or leave them out")
        for h in unplaced:
            best = ", ".join(f"{f} {sc:.2f}" for f, sc in cands.get(h) or ())
            why = "too close to choose" if h in close else "closest"
            out.append(f"  # {_q(h)}: " + (f"  # {why}: {best}" if best else ""))
    platform = draft.get("platform") or []
    if platform:
        out.append(f"  # platform columns ({len(platform)}: time taken, IP, device …), not analysed unless you map them:")
        out += [f"  # {_q(h)}: " for h in platform]
    sv = draft.get("stage_values") or {}
    if sv:
        out.append(
            "stage_values:   # client stage label → stage id (null = not recognised: fill it in, or the rows "
            "are quarantined)"
        )
        hints = draft.get("stage_suggestions") or {}
        out += [f"  {_q(k)}: {v if v else 'null'}" + (f"  # closest: {hints[k]}" if not v and hints.get(k) else "")
                for k, v in sv.items()]
    out += [
        "recode: {}       # {field: {client value: value}}",
        *(["scales:         # the client's scale, as the headers state it (rescaled to the pack's)"]
          + [f"  {f}: {{min: {lo:g}, max: {hi:g}}}" for f, (lo, hi) in draft["scales"].items()]
          if draft.get("scales") else
          ["scales: {}       # {field: {min: 1, max: 10}} when the client's scale differs (not for NPS)"]),
        "keep_pii: []     # e.g. [phone, name] to keep them for work orders (never in the analysis data)",
        "# weights: {column: 权重}   or   {rake: {region: {华东: 0.3, ...}}}",
        "# wave: {from_date: half}  # when the file has no wave column: half | quarter | month | year",
        "# constants: {stage: delivery, wave: 2024H1}  # one value for every row (a one-stage or one-wave file)",
        "# quality: {speeder_seconds: 60, straightliners: quarantine}  # overrides the pack's rules.quality",
    ]
    text = "\n".join(out) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def used_mapping_yaml(accounting: dict[str, Any], data: list[str] | None = None) -> str:
    """The mapping a run without ``--mapping`` used (``mapping.used.yaml`` beside the run): the columns it
    matched with confidence, the stage labels it placed, the scales the headers stated, one section per file
    when there were several. Run again with ``--mapping`` on it (after any edit) to repeat or correct the run."""
    out = [
        "# The mapping cemkit run used: drafted without --mapping (headers matched with confidence, see",
        "# `cemkit map` for every candidate). Check it; edit what is wrong; run again with --mapping on this file.",
    ]
    if accounting.get("response_id_made"):
        out.append(f"# {accounting['response_id_made']}")

    def body(acc: dict[str, Any], indent: str) -> list[str]:
        lines = [f"{indent}columns:"]
        how = acc.get("column_sources") or {}
        for h, fid in (acc.get("columns") or {}).items():
            if str(h).startswith("="):
                continue
            note = how.get(fid)
            lines.append(f"{indent}  {_q(h)}: {fid}" + (f"  # {note}" if note else ""))
        labels = acc.get("stage_labels") or {}
        if labels:
            lines.append(f"{indent}stage_values:")
            lines += [f"{indent}  {_q(k)}: {v}" for k, v in labels.items()]
        stated = acc.get("scales_stated") or {}
        if stated:
            lines.append(f"{indent}scales:")
            lines += [f"{indent}  {f}: {{min: {lo:g}, max: {hi:g}}}" for f, (lo, hi) in stated.items()]
        return lines

    files = accounting.get("files") or []
    if len(files) > 1:
        out.append("sources:")
        for f in files:
            out.append(f"  - file: {_q(f.get('source'))}")
            out += body(f, "    ")
    else:
        src = (data or [None])[0] if data and len(data) == 1 else accounting.get("source")
        if src:
            out.append(f"source: {{file: {_q(src)}}}")
        out += body(accounting, "")
    return "\n".join(out) + "\n"


def map_command(pack: Pack | str | Path, data_path: str | Path, out_path: str | Path | None = None) -> str:
    """``cemkit map`` as one text: the summary, then the draft YAML when there is no ``out_path`` (see
    :func:`map_draft`, which keeps them apart)."""
    summary, text = map_draft(pack, data_path, out_path)
    return summary if out_path is not None else summary + "\n\n" + text


def map_draft(
    pack: Pack | str | Path, data_path: str | Path, out_path: str | Path | None = None
) -> tuple[str, str]:
    """Read the file, propose a mapping (columns and stage values), write the draft YAML to ``out_path``
    when given; returns (the summary for a person, the YAML)."""
    pk = _as_pack(pack)
    raw = read_table(data_path)
    attrs = dict(raw.attrs)
    draft = propose_mapping(
        list(raw.columns), pk, labels=attrs.get("column_labels"),
        fits=value_fit(raw, pk, value_codes=attrs.get("value_codes"), labels=attrs.get("column_labels")),
    )
    nps_ids = {k for k, v in pk.kpis.items() if v.scale.kind == "nps"}
    off_nps = {f: sc for f, sc in draft["scales"].items() if f in nps_ids}
    draft["scales"] = {f: sc for f, sc in draft["scales"].items() if f not in nps_ids}
    draft["pack"] = pk.id
    data_file = Path(data_path).resolve()
    if out_path is not None and data_file.is_relative_to(Path(out_path).resolve().parent):
        data_file = data_file.relative_to(
            Path(out_path).resolve().parent
        )  # the mapping sits next to the data
    draft["source"] = {"file": str(data_file), "sheet": attrs.get("sheet")}
    draft["notes"] = _value_notes(raw, draft["columns"], pk, attrs.get("value_codes") or {})
    draft["notes"] += [f"!! {f}: the header states a {lo:g}-{hi:g} scale: a recommend question not asked on 0-10 "
                       "is not NPS; check the column" for f, (lo, hi) in off_nps.items()]
    stage_col = next((h for h, f in draft["columns"].items() if f == "stage"), None)
    if stage_col is not None:
        labels = raw[stage_col].dropna().map(_nfkc).unique().tolist()[:500]
        draft["stage_values"] = {k: v for k, v in propose_stage_values(labels, pk).items() if k != v}
        matcher = StageMatcher(pk)
        draft["stage_suggestions"] = {k: matcher.suggest(k) for k, v in draft["stage_values"].items() if v is None}
    text = write_mapping_yaml(draft, out_path)
    where = (
        f" (sheet {attrs['sheet']!r}"
        + (f" of {', '.join(attrs['sheets'])}" if attrs.get("sheets") else "")
        + ")"
        if attrs.get("sheet")
        else ""
    )
    lines = [
        f"cemkit map: {len(raw.columns)} columns, {len(raw):,} rows in {Path(data_path).name}{where}, "
        f"header on row {attrs.get('header_row', 1)}"
        + (f", encoding {attrs['encoding']}" if attrs.get("encoding") else "")
    ]
    lines.append(f"  matched {len(draft['columns'])}:")
    for h, fid in draft["columns"].items():
        m = draft["matches"][h]
        lines.append(f"    {h} → {fid}  ({m['score']:.2f}, {m['via']})")
    if draft.get("stage_values"):
        lines.append(
            "  stage values: " + ", ".join(f"{k} → {v or '?'}" for k, v in draft["stage_values"].items())
        )
    if draft["unplaced"]:
        lines.append(f"  not placed {len(draft['unplaced'])}: " + ", ".join(draft["unplaced"]))
    for h in draft.get("close") or ():
        lines.append(f"  !! {h}: " + " or ".join(f"{f} ({sc:.2f})" for f, sc in draft["candidates"][h])
                     + " fit almost equally: choose in the mapping")
    if draft.get("platform"):
        lines.append(f"  platform columns {len(draft['platform'])} (not analysed): " + ", ".join(draft["platform"]))
    if draft["missing_required"]:
        lines.append("  required fields not found: " + ", ".join(draft["missing_required"]))
    lines += [f"  {n}" for n in draft["notes"]]
    if out_path is not None:
        lines.append(f"  draft written to {out_path}: review it, then run with --mapping {out_path}")
    return "\n".join(lines), text


def _value_notes(raw: pd.DataFrame, columns: dict[str, str], pack: Pack, value_codes: dict) -> list[str]:
    """What the values of the proposed columns tell the consultant (first FIT_SAMPLE_ROWS rows): score
    columns answered in words (recoded from which scale, or what to add), option numbers of a coded export
    (NPS 1-11, stage 1, 2, 3 …)."""
    notes: list[str] = []
    scales = {k: v.scale for k, v in pack.kpis.items()} | {a: v.scale for a, v in pack.attributes.items()}
    for h, fid in columns.items():
        vals = raw[h].iloc[:FIT_SAMPLE_ROWS].dropna().unique().tolist()
        if fid in scales:
            sc = scales[fid]
            xs, _, words = _score_values(vals, None, value_codes.get(h))
            if words:
                points, why = recognise_labels(words.values(), int(sc.max - sc.min) + 1)
                if points is not None:
                    shown = sorted(points.items(), key=lambda kv: kv[1])
                    notes.append(f"{fid}: answers are labels of {why}, read as "
                                 + ", ".join(f"{k}={sc.min + v - 1:g}" for k, v in shown))
                else:
                    notes.append(f"!! {fid}: answers in words are not read ({why}); add recode: {{{fid}: "
                                 + "{" + ", ".join(f"{w}: ?" for w in sorted(set(words.values()))[:8]) + "}}")
            nums = set(xs[np.isfinite(xs)].tolist())
            if sc.kind == "nps" and sc.min == 0 and sc.max + 1 in nums and sc.min not in nums:
                notes.append(
                    f"!! {fid}: answers run 1-11 with no 0: option numbers of a coded export (问卷星 按选项序号)? "
                    "Re-export as option text, or recode: {" + f"{fid}: " + "{"
                    + ", ".join(f'"{i + 1}": {i}' for i in range(11)) + "}}"
                )
        elif fid == "stage":
            labels = [t for t in (_normalise_text(v) for v in vals) if t is not None]
            if labels and all(t.isdigit() for t in labels):
                notes.append(
                    "!! stage: the answers are numbers (" + ", ".join(sorted(set(labels), key=int)[:8])
                    + "): option numbers of a coded export? Give each its stage under stage_values, or "
                    "re-export as option text"
                )
    return notes


def map_cli(args: Any) -> int:
    """Entry point of ``cemkit map --pack P --data FILE [--out mapping.yaml]``: the summary goes to stderr and
    the YAML to stdout (or ``--out``), so ``cemkit map … > mapping.yaml`` writes a file that loads."""
    out = getattr(args, "out", None)
    summary, text = map_draft(args.pack, args.data, out)
    print(summary, file=sys.stderr)
    if out is None:
        sys.stdout.write(text)
    return 0
