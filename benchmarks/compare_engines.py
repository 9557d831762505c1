"""Check a finished run's journey, driver and prediction results against the in-memory path.

    python benchmarks/compare_engines.py RUN_DIR [--pack auto]
    python benchmarks/compare_engines.py RUN_DIR --against OTHER_RUN_DIR

Loads the run's clean responses into pandas, recomputes ``journey_views``, ``driver_views`` and
``prediction_views`` in memory (default waves: the run must use them too), saves them to a scratch folder through the same
``results.save`` and compares every saved table with the run's own (numbers to 1e-9, text exactly) and their
facts (to 1e-9). Use it on a run made with ``--engine duckdb`` (bench_run.py --keep -- --engine duckdb) to show that
the engines agree on a large file. Prints one line per result and exits 1 on any difference.

``--against``: compare two finished runs of the same data instead (e.g. a branch's and main's), every result
table and its facts (the same rules), and the work orders and playbooks (``alerts.csv``, ``playbooks.csv``)
byte for byte.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cemkit import results, views
from cemkit.packs import load_pack


def _same(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return f"shape/columns differ: {a.shape} {b.shape}"
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            if not np.array_equal(np.isnan(xv), np.isnan(yv)) or np.nanmax(np.abs(xv - yv), initial=0) > 1e-9:
                return f"column {c}: max difference {np.nanmax(np.abs(xv - yv), initial=0):.3g}"
        elif not (x.astype(str).to_numpy() == y.astype(str).to_numpy()).all():
            return f"column {c}: text differs"
    return ""


def same_facts(a: object, b: object) -> bool:
    """Facts equal, numbers to 1e-9 (sums added in another order differ in the last bits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_facts(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_facts(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 or (math.isnan(a) and math.isnan(b))
    return a == b


def _differs(mine: results.Result, theirs: results.Result) -> str:
    """Why two results differ (their tables, then their facts), or ''."""
    why = _same(mine.table, theirs.table)
    if not why and not same_facts(mine.meta.get("facts"), theirs.meta.get("facts")):
        why = "facts differ"
    return why


def against(run_dir: Path, other: Path) -> int:
    """Every result of two runs compared (see the module docstring); the number that differ."""
    names = sorted({p.stem for p in (run_dir / "results").glob("*.json")} |
                   {p.stem for p in (other / "results").glob("*.json")})
    bad = 0
    for name in names:
        try:
            mine, theirs = results.load(run_dir, name), results.load(other, name)
        except FileNotFoundError as exc:
            why = f"missing: {exc}"
        else:
            why = _differs(mine, theirs)
        bad += bool(why)
        print(f"{name:<24} {'same' if not why else 'DIFFERENT: ' + why}")
    print(f"{len(names) - bad} of {len(names)} results the same")
    for extra in ("alerts.csv", "playbooks.csv"):
        a, b = run_dir / extra, other / extra
        if a.exists() or b.exists():
            same = a.exists() and b.exists() and a.read_bytes() == b.read_bytes()
            bad += not same
            print(f"{extra:<24} {'same bytes' if same else 'DIFFERENT'}")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--pack", default="auto")
    ap.add_argument("--against", type=Path, help="another run of the same data: compare the two runs' results")
    args = ap.parse_args()
    if args.against:
        sys.exit(1 if against(args.run_dir, args.against) else 0)
    run = json.loads((args.run_dir / "run.json").read_text(encoding="utf-8"))
    pack, lang = load_pack(args.pack), run["lang"]
    df = views.read_responses(args.run_dir, comments=False)
    odata_path = args.run_dir / "data" / "odata.parquet"
    out = {**views.journey_views(df, pack, lang), **views.driver_views(df, pack, lang)}  # default waves
    if odata_path.exists():
        out.update(views.prediction_views(df, pack, lang, run_dir=tempfile.mkdtemp(),
                                          odata=pd.read_parquet(odata_path)))
    scratch = Path(tempfile.mkdtemp(prefix="cemkit-compare-"))
    views.save_all(scratch, out)
    bad = 0
    for name in out:
        mine, theirs = results.load(scratch, name), results.load(args.run_dir, name)
        why = _differs(mine, theirs)
        bad += bool(why)
        print(f"{name:<20} {len(mine.table):>6} rows  {'same' if not why else 'DIFFERENT: ' + why}")
    print(f"{len(df):,} responses; {len(out) - bad} of {len(out)} results the same as in memory")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
