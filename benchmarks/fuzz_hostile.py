"""Fuzz the whole path from client file to every output with generated hostile exports (issue 14).

Run: PYTHONPATH=src python benchmarks/fuzz_hostile.py [--files 2000] [--start 0] [--jobs 2] [--work DIR] [--keep]

Each seed draws an export with ``tests/hostile_data.py`` (CSV in UTF-8, UTF-8 with BOM, GBK or GBK with UTF-8
records appended, or xlsx; personal data in random spellings in random columns, formula prefixes, control
and separator characters, ragged lines, line breaks in quoted cells, blank lines, title rows), runs ingest,
every pipeline notebook and the renderers in process (``hostile_data.run_inprocess``: papermill's kernels
would make 2,000 runs take a day), and checks with ``hostile_data.problems``: exit 0 or 2 and never a
traceback; input = used + quarantined; true row and line numbers; nothing garbled; no personal data and no
formula in any file (pptx and xlsx unzipped, the charts' embedded workbooks too, parquet, json, html, csv,
yaml, the notebooks' displayed outputs). Prints one line per failing file and a summary (files, exit codes,
problems, tracebacks, wall and CPU time); writes every result to ``fuzz_hostile.jsonl`` in the work folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("CEMKIT_PSEUDONYM_KEY", "cemkit-fuzz")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def one(seed: int, work: str, keep: bool) -> dict:
    import warnings

    import hostile_data as hd

    warnings.simplefilter("ignore")
    folder = Path(work) / f"s{seed}"
    t = time.perf_counter()
    cpu = time.process_time()
    spec = hd.random_spec(seed)
    out = {"seed": seed, "fmt": spec.fmt, "encoding": spec.encoding}
    try:
        ex = hd.write_export(spec, folder)
        try:
            code, run_dir, msg = hd.run_inprocess(ex.path, [ex.odata], folder / "out")
        except Exception:  # noqa: BLE001 - a traceback is what the fuzz looks for
            code, run_dir, msg = 1, folder / "out" / "run", traceback.format_exc(limit=-3)
        problems = [] if code == 1 else hd.problems(ex, run_dir, msg)
        out.update(code=code, message=msg[-600:], problems=problems[:20], n_problems=len(problems),
                   records=ex.records)
    except Exception:  # noqa: BLE001 - the generator itself failed: report, do not stop the fuzz
        out.update(code=-1, message=traceback.format_exc(limit=-3), problems=[], n_problems=0)
    out["seconds"] = round(time.perf_counter() - t, 2)
    out["cpu"] = round(time.process_time() - cpu, 2)
    if not keep and not out["n_problems"] and out["code"] in (0, 2):
        shutil.rmtree(folder, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", help="work folder (default: a new temporary one); failing files are kept in it")
    ap.add_argument("--keep", action="store_true", help="keep every file and run, not only the failing ones")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="cemkit-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "fuzz_hostile.jsonl"
    t0 = time.perf_counter()
    seeds = range(args.start, args.start + args.files)
    results = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool, open(log, "w", encoding="utf-8") as fh:
        for r in pool.map(one, seeds, [str(work)] * len(seeds), [bool(args.keep)] * len(seeds), chunksize=4):
            results.append(r)
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            fh.flush()
            if r["code"] not in (0, 2) or r["n_problems"]:
                print(f"seed {r['seed']} ({r['fmt']}, {r['encoding']}): exit {r['code']}, "
                      f"{r['n_problems']} problem(s): {(r['problems'] or [r['message']])[0][:300]}", flush=True)
            if len(results) % 100 == 0:
                print(f"… {len(results)} files, {time.perf_counter() - t0:.0f} s", flush=True)
    wall = time.perf_counter() - t0
    codes: dict[int, int] = {}
    for r in results:
        codes[r["code"]] = codes.get(r["code"], 0) + 1
    bad = [r for r in results if r["code"] not in (0, 2) or r["n_problems"]]
    kinds: dict[str, int] = {}
    for r in results:
        kinds[f"{r['fmt']}/{r['encoding']}"] = kinds.get(f"{r['fmt']}/{r['encoding']}", 0) + 1
    print(f"files {len(results)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"exit codes {dict(sorted(codes.items()))}; files with a problem: {len(bad)} "
          f"(tracebacks {codes.get(1, 0)}, leaks/formulas/accounting {sum(1 for r in bad if r['n_problems'])})")
    print(f"wall {wall:.0f} s, CPU of the workers {sum(r['cpu'] for r in results):.0f} s "
          f"({sum(r['seconds'] for r in results) / max(1, len(results)):.1f} s per file); log {log}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
