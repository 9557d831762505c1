"""``cemkit eval-mapping``: how well `cemkit map` and an unattended `cemkit run` read client exports nobody
tuned them on.

Run: ``cemkit eval-mapping [FOLDER ...] [--run ingest|full|none] [--details] [--json OUT]`` (or
``python benchmarks/eval_mapping.py …``, the same).

Default folders: ``tests/data/mapping_eval/dev``, ``holdout``, ``fresh``, ``fresh2``, ``fresh3``, ``fresh4`` and ``fresh5``
(see the README.md there: invented exports, each with ``<name>.truth.yaml`` written by hand from the pack's meaning). For every
file it drafts a mapping the way ``cemkit map --out`` does (:func:`cemkit.ingest.map_command`, the YAML read
back), runs the file with no mapping, and scores both against the truth. Per pack and overall:

* **fields** — share of the truth's fields (distinct field ids a header of the file holds) that the draft
  places on a right header. A field two headers may hold (``EndDate`` / ``RecordedDate``, ``客户编号`` / ``VIN``)
  is right on either.
* **wrong / 50** — headers the draft sends to a field the truth does not give them (a platform column, a staff
  name, a question no pack field asks, or another field's header), per 50 headers of the files.
* **stages** — share of the files' stage labels whose drafted stage id is right (null included: a label no
  stage fits must stay null). When the draft did not find the stage column, every label of the file counts
  wrong. **stage wrong** counts the labels the draft gives a stage that is not theirs (a wrong assignment
  moves rows into another stage's figures; a null only quarantines them). **labels only** scores the labels alone (:func:`cemkit.ingest.propose_stage_values` on them).
* **scales** — header scale hints (``（0~10）``, ``(1-5分)``, ``(1 = poor, 10 = excellent)``): share whose effective
  scale in the draft (its ``scales:``, else the pack's scale) is the stated one; **scales≠pack** the same over
  the hints that differ from the pack's scale (those the draft must read).
* **required** — files where the unattended run uses every required field of the pack on a right header (the
  run itself decides, so its own confidence threshold ``AUTO_MATCH_MIN`` is the one applied); a required field
  the file does not hold (no response id) counts only through the run: it fails unless cemkit copes without it.
* **runs** — files where ``cemkit run --pack P --data FILE`` with no mapping succeeds with every row accounted
  (input rows = used + quarantined).
* **runs right** — files that run and are right: every required field used, no column used for a wrong
  field, every stage label given its true stage (or quarantined when the truth has none) and every row with a
  known stage used.

``--run ingest`` (default) runs the step of ``cemkit run`` that reads and maps the data
(:func:`cemkit.ingest.prepare` with no mapping, in this process: seconds for the corpus); ``--run full`` runs
the ``cemkit`` command itself per file (notebooks and deliverables: minutes per file on a loaded machine);
``--run none`` scores the drafts only. :func:`score_folder` is the API (a folder of exports, each with its ``<name>.truth.yaml``: a consultant
can score cemkit on a client's own files the same way); :func:`format_report` prints its result.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]  # the source tree (an editable install); else the working folder
CORPUS = next((p for p in (REPO / "tests" / "data" / "mapping_eval", Path.cwd() / "tests" / "data" / "mapping_eval")
               if p.is_dir()), REPO / "tests" / "data" / "mapping_eval")
SPLITS = ("dev", "holdout", "fresh", "fresh2", "fresh3", "fresh4", "fresh5")  # fresh*: written before a matcher change (README.md)
DURATION = "duration"  # the optional field every pack has for the time taken (cemkit.ingest.DURATION)

Drafter = Callable[[Path, Any], dict[str, Any]]
Runner = Callable[[Path, Any], dict[str, Any]]


def _label(v: Any) -> str:
    """A stage label as cemkit compares it (NFKC, trimmed)."""
    return unicodedata.normalize("NFKC", str(v)).strip()


@dataclass(frozen=True)
class Case:
    """One export of the corpus and its truth."""

    name: str
    path: Path
    pack: str
    kinds: tuple[str, ...]
    columns: dict[str, str | None]  # header → field id (None: not a pack field)
    scales: dict[str, tuple[float, float]]
    stage_values: dict[str, str | None]  # label → stage id (None: no stage fits)
    imitates: str = ""

    def field_headers(self) -> dict[str, set[str]]:
        """Field id → the headers that may hold it."""
        out: dict[str, set[str]] = {}
        for h, f in self.columns.items():
            if f is not None:
                out.setdefault(f, set()).add(h)
        return out


def load_case(truth_path: str | Path) -> Case:
    """Read ``<name>.truth.yaml`` (see the corpus README for the format)."""
    truth_path = Path(truth_path)
    t = yaml.safe_load(truth_path.read_text(encoding="utf-8")) or {}
    return Case(
        name=truth_path.name.removesuffix(".truth.yaml"),
        path=truth_path.parent / str(t["file"]),
        pack=str(t["pack"]),
        kinds=tuple(t.get("kinds") or ()),
        columns={str(h): (None if f is None else str(f)) for h, f in (t.get("columns") or {}).items()},
        scales={str(f): (float(v[0]), float(v[1])) for f, v in (t.get("scales") or {}).items()},
        stage_values={_label(k): (None if v is None else str(v)) for k, v in (t.get("stage_values") or {}).items()},
        imitates=str(t.get("imitates") or ""),
    )


def load_cases(folder: str | Path) -> list[Case]:
    return [load_case(p) for p in sorted(Path(folder).glob("*.truth.yaml"))]


def pack_targets(pack: Any) -> set[str]:
    """Every id a header may be mapped to in ``pack``: its fields, KPIs, attributes, segments and duration."""
    return {*pack.fields, *pack.kpis, *pack.attributes, *pack.segment_ids, DURATION}


def default_scale(pack: Any, fid: str) -> tuple[float, float] | None:
    spec = pack.kpis.get(fid) or pack.attributes.get(fid)
    if spec is None:
        return None
    return float(spec.scale.min), float(spec.scale.max)


# ------------------------------------------------------------------------------------ what cemkit does
def draft_mapping(path: Path, pack: Any) -> dict[str, Any]:
    """The draft ``cemkit map --pack P --data FILE --out mapping.yaml`` writes, read back: ``columns``
    (header → id), ``stage_values`` (label → id or None) and ``scales`` (id → (min, max))."""
    from cemkit.ingest import map_command

    with tempfile.TemporaryDirectory(prefix="eval-mapping-") as tmp:
        out = Path(tmp) / "mapping.yaml"
        map_command(pack, path, out)
        data = yaml.safe_load(out.read_text(encoding="utf-8")) or {}
    scales = {}
    for fid, v in (data.get("scales") or {}).items():
        lo, hi = (v.get("min"), v.get("max")) if isinstance(v, dict) else (v[0], v[1])
        scales[str(fid)] = (float(lo), float(hi))
    return {
        "columns": {str(h): (None if f is None else str(f)) for h, f in (data.get("columns") or {}).items()},
        "stage_values": {_label(k): (None if v is None else str(v))
                         for k, v in (data.get("stage_values") or {}).items()},
        "scales": scales,
    }


def _accounting_result(acc: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "columns": {str(h): str(f) for h, f in (acc.get("columns") or {}).items()},
        "stage_labels": {_label(k): str(v) for k, v in (acc.get("stage_labels") or {}).items()},
        "input_rows": int(acc.get("input_rows") or 0),
        "used": int(acc.get("used") or 0),
        "quarantined": int(acc.get("quarantined") or 0),
        "by_reason": dict(acc.get("by_reason") or {}),
    }


def run_ingest(path: Path, pack: Any) -> dict[str, Any]:
    """The data step of ``cemkit run --pack P --data FILE`` with no mapping (:func:`cemkit.ingest.prepare`)."""
    from cemkit.errors import InputError
    from cemkit.ingest import prepare

    try:
        prepared = prepare(path, pack, None)
    except InputError as exc:
        return {"ok": False, "error": " ".join(str(exc).split())}
    return _accounting_result(prepared.accounting)


def run_full(path: Path, pack: Any) -> dict[str, Any]:
    """``cemkit run --pack P --data FILE`` itself, in a scratch output folder."""
    exe = Path(sys.executable).with_name("cemkit")
    with tempfile.TemporaryDirectory(prefix="eval-mapping-run-") as tmp:
        proc = subprocess.run([str(exe), "run", "--pack", str(pack.root), "--data", str(path), "--out", tmp,
                               "--quiet"], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            said = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()][:1] or [""]
            return {"ok": False, "error": f"exit {proc.returncode}: {said[0]}"}  # the one-sentence reason
        run_json = next(Path(tmp).glob(f"{pack.id}-*/run.json"))
        return _accounting_result(json.loads(run_json.read_text(encoding="utf-8"))["accounting"])


RUNNERS: dict[str, Runner | None] = {"ingest": run_ingest, "full": run_full, "none": None}


# ------------------------------------------------------------------------------------------------ scoring
def _stage_counts(case: Case, table: Any) -> dict[str, int]:
    """Rows per stage label of the file (the header the truth gives the stage)."""
    stage_header = next((h for h, f in case.columns.items() if f == "stage"), None)
    if stage_header is None:
        return {}
    col = table[stage_header].dropna().map(_label)
    return {str(k): int(v) for k, v in col.value_counts().items()}


def score_case(case: Case, pack: Any, draft: dict[str, Any], run: dict[str, Any] | None,
               stage_rows: dict[str, int] | None = None) -> dict[str, Any]:
    """Score one file's draft (and unattended run, when given) against its truth. Counts, plus the misses
    (``missed``, ``wrong``, ``stage_wrong``, ``scale_wrong``, ``run_problems``) for reading."""
    from cemkit.ingest import propose_stage_values

    cols = draft.get("columns") or {}
    fields = case.field_headers()
    missed = {f: sorted(hs) for f, hs in fields.items() if not any(cols.get(h) == f for h in hs)}
    wrong = {h: {"draft": f, "truth": case.columns.get(h)} for h, f in cols.items()
             if f is not None and f != case.columns.get(h)}

    stage_ids = set(pack.stage_ids)
    truth_stage = fields.get("stage", set())
    stage_found = any(cols.get(h) == "stage" for h in truth_stage)
    drafted = draft.get("stage_values") or {}

    def drafted_id(label: str) -> str | None:
        if label in drafted:
            return drafted[label]
        return label if label in stage_ids else None  # cemkit map leaves out labels that are stage ids

    stage_wrong = {lab: {"draft": drafted_id(lab) if stage_found else "(no stage column)", "truth": sid}
                   for lab, sid in case.stage_values.items() if not stage_found or drafted_id(lab) != sid}
    misplaced = sum(1 for d in stage_wrong.values() if stage_found and d["draft"] is not None)
    alone = propose_stage_values(list(case.stage_values), pack)
    alone_right = sum(alone.get(lab) == sid or (alone.get(lab) is None and lab == sid)
                      for lab, sid in case.stage_values.items())

    scale_right = scale_nd = scale_nd_right = 0
    scale_wrong = {}
    for fid, want in case.scales.items():
        base = default_scale(pack, fid)
        got = (draft.get("scales") or {}).get(fid, base)
        scale_right += got == want
        if want != base:
            scale_nd += 1
            scale_nd_right += got == want
        if got != want:
            scale_wrong[fid] = {"draft": got, "truth": want}

    out: dict[str, Any] = {
        "name": case.name,
        "pack": case.pack,
        "kinds": list(case.kinds),
        "headers": len(case.columns),
        "fields": len(fields),
        "fields_right": len(fields) - len(missed),
        "wrong": len(wrong),
        "stage_labels": len(case.stage_values),
        "stage_right": len(case.stage_values) - len(stage_wrong),
        "stage_misplaced": misplaced,
        "stage_alone_right": alone_right,
        "scales": len(case.scales),
        "scales_right": scale_right,
        "scales_nondefault": scale_nd,
        "scales_nondefault_right": scale_nd_right,
        "missed": missed,
        "wrong_detail": wrong,
        "stage_wrong": stage_wrong,
        "scale_wrong": scale_wrong,
    }
    if run is None:
        return out
    problems: list[str] = []
    required = [f for f, spec in pack.fields.items() if spec.required]
    if not run.get("ok"):
        problems.append(run.get("error", "failed"))
        out.update(required_ok=False, runs=False, runs_right=False, run_problems=problems)
        return out
    used_cols = run["columns"]
    by_field = {f: h for h, f in used_cols.items()}
    # a required field the file holds must be used on a right header; one the file lacks (no response id)
    # may be left out when the run copes without it (a column used for it anyway is caught just below)
    req_bad = [f for f in required if f in fields and by_field.get(f) not in fields[f]]
    problems += [f"required {f}: used {by_field.get(f)!r}, truth {sorted(fields[f])}" for f in req_bad]
    bad_cols = {h: f for h, f in used_cols.items() if not h.startswith("=constant:") and case.columns.get(h) != f}
    problems += [f"column {h!r} used as {f} (truth {case.columns.get(h)})" for h, f in bad_cols.items()]

    def run_id(label: str) -> str | None:
        return label if label in stage_ids else run["stage_labels"].get(label)

    stage_bad = {lab: (run_id(lab), sid) for lab, sid in case.stage_values.items() if run_id(lab) != sid}
    problems += [f"stage label {lab!r} → {got} (truth {want})" for lab, (got, want) in stage_bad.items()]
    rows = stage_rows or {}
    expected_used = sum(n for lab, n in rows.items() if case.stage_values.get(lab) is not None)
    accounted = run["input_rows"] == run["used"] + run["quarantined"]
    if not accounted:
        problems.append(f"rows not accounted: {run['input_rows']} != {run['used']} + {run['quarantined']}")
    if run["used"] != expected_used:
        problems.append(f"used {run['used']} of {run['input_rows']} rows, expected {expected_used} "
                        f"(quarantined: {run['by_reason']})")
    out.update(
        required_ok=not req_bad,
        runs=accounted,
        runs_right=accounted and not req_bad and not bad_cols and not stage_bad and run["used"] == expected_used,
        run_problems=problems,
    )
    return out


_SUMS = ("headers", "fields", "fields_right", "wrong", "stage_labels", "stage_right", "stage_misplaced",
         "stage_alone_right",
         "scales", "scales_right", "scales_nondefault", "scales_nondefault_right")


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums and rates over file results."""
    s = {k: sum(r[k] for r in results) for k in _SUMS}

    def rate(a: str, b: str) -> float | None:
        return s[a] / s[b] if s[b] else None

    out = {"files": len(results), **s,
           "field_accuracy": rate("fields_right", "fields"),
           "wrong_per_50": 50 * s["wrong"] / s["headers"] if s["headers"] else None,
           "stage_accuracy": rate("stage_right", "stage_labels"),
           "stage_alone_accuracy": rate("stage_alone_right", "stage_labels"),
           "scale_accuracy": rate("scales_right", "scales"),
           "scale_nondefault_accuracy": rate("scales_nondefault_right", "scales_nondefault")}
    if results and "runs" in results[0]:
        out.update(required_ok=sum(r["required_ok"] for r in results), runs=sum(r["runs"] for r in results),
                   runs_right=sum(r["runs_right"] for r in results))
    return out


def score_folder(folder: str | Path, *, run: str = "ingest", drafter: Drafter = draft_mapping,
                 runner: Runner | None = None) -> dict[str, Any]:
    """Score every ``*.truth.yaml`` export of ``folder``. ``run``: ``ingest`` | ``full`` | ``none`` (see the
    module docstring); ``drafter(path, pack)`` / ``runner(path, pack)`` replace the drafting or the run (a
    later matcher plugs in here). Returns ``{"folder", "files": [per-file results], "by_pack": {pack:
    aggregate}, "overall": aggregate}``."""
    from cemkit.ingest import read_table
    from cemkit.packs import load_pack

    runner = runner if runner is not None else RUNNERS[run]
    packs: dict[str, Any] = {}
    results = []
    for case in load_cases(folder):
        pack = packs.setdefault(case.pack, load_pack(case.pack))
        draft = drafter(case.path, pack)
        outcome = runner(case.path, pack) if runner is not None else None
        rows = _stage_counts(case, read_table(case.path)) if runner is not None else None
        results.append(score_case(case, pack, draft, outcome, rows))
    by_pack = {p: aggregate([r for r in results if r["pack"] == p]) for p in sorted({r["pack"] for r in results})}
    return {"folder": str(folder), "files": results, "by_pack": by_pack, "overall": aggregate(results)}


# ---------------------------------------------------------------------------------------------- reporting
def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def format_table(scored: dict[str, Any]) -> str:
    """A Markdown table: one row per pack and one overall."""
    head = ["", "files", "fields", "wrong / 50", "stages", "stage wrong", "labels only", "scales", "scales≠pack"]
    with_run = "runs" in scored["overall"]
    if with_run:
        head += ["required", "runs", "runs right"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, a in [*scored["by_pack"].items(), ("**all**", scored["overall"])]:
        row = [name, str(a["files"]),
               f"{_pct(a['field_accuracy'])} ({a['fields_right']}/{a['fields']})",
               f"{a['wrong_per_50']:.1f} ({a['wrong']}/{a['headers']})",
               f"{_pct(a['stage_accuracy'])} ({a['stage_right']}/{a['stage_labels']})",
               str(a["stage_misplaced"]),
               _pct(a["stage_alone_accuracy"]),
               _pct(a["scale_accuracy"]),
               f"{_pct(a['scale_nondefault_accuracy'])} ({a['scales_nondefault_right']}/{a['scales_nondefault']})"]
        if with_run:
            row += [f"{a['required_ok']}/{a['files']}", f"{a['runs']}/{a['files']}", f"{a['runs_right']}/{a['files']}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def format_details(scored: dict[str, Any]) -> str:
    """Per file: what the draft missed or placed wrongly, and why the run is not right."""
    out = []
    for r in scored["files"]:
        out.append(f"{r['name']} ({r['pack']}): fields {r['fields_right']}/{r['fields']}, wrong {r['wrong']}, "
                   f"stages {r['stage_right']}/{r['stage_labels']} ({r['stage_misplaced']} wrong)"
                   + (f", runs right: {r['runs_right']}" if "runs_right" in r else ""))
        out += [f"    missed {f}: {', '.join(hs)}" for f, hs in r["missed"].items()]
        out += [f"    wrong  {h} → {d['draft']} (truth {d['truth']})" for h, d in r["wrong_detail"].items()]
        out += [f"    stage  {lab} → {d['draft']} (truth {d['truth']})" for lab, d in r["stage_wrong"].items()]
        out += [f"    scale  {f}: {d['draft']} (truth {d['truth']})" for f, d in r["scale_wrong"].items()]
        out += [f"    run    {p}" for p in r.get("run_problems") or []]
    return "\n".join(out)


def format_report(scored: dict[str, Any], details: bool = False) -> str:
    text = f"{scored['folder']}\n\n{format_table(scored)}\n"
    return text + ("\n" + format_details(scored) + "\n" if details else "")


def eval_mapping_cli(args: Any) -> int:
    """Entry point of ``cemkit eval-mapping``."""
    folders = [Path(f) for f in args.folders] or [CORPUS / s for s in SPLITS]
    missing = [str(f) for f in folders if not f.is_dir() or not any(f.glob("*.truth.yaml"))]
    if missing:
        from ..errors import InputError

        raise InputError(f"{missing[0]}: no folder of exports with <name>.truth.yaml files (see "
                         "tests/data/mapping_eval/README.md for the format).")
    everything = {}
    for folder in folders:
        scored = score_folder(folder, run=args.run)
        everything[str(folder)] = scored
        print(format_report(scored, args.details))
    if args.json:
        Path(args.json).write_text(json.dumps(everything, ensure_ascii=False, indent=1, default=str),
                                   encoding="utf-8")
    return 0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The arguments of ``cemkit eval-mapping`` (cli.py declares the same without importing this module)."""
    ap.add_argument("folders", nargs="*", help="corpus folders (default: the dev, holdout and fresh* parts)")
    ap.add_argument("--run", choices=sorted(RUNNERS), default="ingest",
                    help="how to check the unattended run (default: ingest, in this process)")
    ap.add_argument("--details", action="store_true", help="list every miss per file")
    ap.add_argument("--json", help="write every result to this JSON file")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return eval_mapping_cli(ap.parse_args(argv))
