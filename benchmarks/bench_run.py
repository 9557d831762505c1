"""Time a whole `cemkit run` on N synthetic responses (default 1,000,000) with short Chinese comments, and
measure its memory over the whole process tree (the CLI and every notebook kernel).

    python benchmarks/bench_run.py [-n 1000000] [--pack auto] [--input DIR] [--keep] [--json OUT] [-- RUN-ARGS]

Data: the pack's demo generator (not timed), written as CSV like a client export. Up to ``--chunk`` rows
(1,000,000) it is one ``write_demo`` call, as before; above, the rows are generated and appended chunk by
chunk (each chunk its own seed, response and customer ids offset so they stay unique, its own planted bad
rows), so 10M rows never sit in memory at once. ``--input DIR`` reuses the files a previous ``--keep`` left
(generate once, run several times). Arguments after ``--`` go to ``cemkit run`` (e.g. ``-- --engine duckdb``).

Prints wall time, rows/s, CPU time of all processes (user + system, from ``getrusage`` of the waited-for
children: less sensitive to other users' load than wall time), the per-step timings from run.json, and the
peak resident memory summed over the process tree (RSS, and PSS which counts shared library pages once) and
of the largest process (:mod:`proctree`, sampled every 50 ms), with one line per process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proctree import TreeSampler

from cemkit.demo import generate, messy_rows, write_demo
from cemkit.packs import load_pack


def _offset_ids(series: pd.Series, prefix: str, offset: int) -> pd.Series:
    """'C0000012' → prefix + (12 + offset), 8 digits (room for 99,999,999)."""
    num = series.str.slice(1).astype(np.int64) + offset
    return prefix + num.astype(str).str.zfill(8)


def write_chunked(pack_id: str, out: Path, n: int, chunk: int) -> tuple[Path, Path]:
    """The demo data of ``n`` responses generated and appended ``chunk`` rows at a time (see the docstring)."""
    pack = load_pack(pack_id)
    if n <= chunk:
        rpath, opath = write_demo(pack, out, n=n)
        return Path(rpath), opath
    out.mkdir(parents=True, exist_ok=True)
    rpath, opath = out / f"{pack.id}_demo_responses.csv", out / f"{pack.id}_demo_odata.csv"
    done, cust_off = 0, 0
    for i, start in enumerate(range(0, n, chunk)):
        k = min(chunk, n - start)
        demo = generate(pack, n=k, seed=i)
        resp = demo.responses
        resp["response_id"] = _offset_ids(resp["response_id"], "R", done)
        resp["customer_id"] = _offset_ids(resp["customer_id"], "C", cust_off)
        od = demo.odata
        od["customer_id"] = _offset_ids(od["customer_id"], "C", cust_off)
        messy = messy_rows(resp, seed=i)
        messy["date"] = pd.to_datetime(messy["date"]).dt.strftime("%Y-%m-%d")
        _append_csv(messy, rpath, first=i == 0)
        _append_csv(od, opath, first=i == 0)
        done += k
        cust_off += len(od)
        del demo, resp, od, messy
        print(f"  generated {done:,} / {n:,}", flush=True)
    return rpath, opath


def _append_csv(frame: pd.DataFrame, path: Path, first: bool) -> None:
    """Append rows as UTF-8 CSV (pyarrow: several times faster than pandas at a million rows)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(frame, preserve_index=False)
    with open(path, "wb" if first else "ab") as fh:
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=first))


def _chars(path: Path) -> int:
    total = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            total += len(line) - 1
    return total


def name_kernels(tree: TreeSampler, kernels: dict) -> None:
    """Label each notebook kernel by the notebook it ran (run.json's ``kernels``: notebook → process id); a
    kernel started ahead and never used keeps the label ``notebook kernel``."""
    by_pid = {k.get("pid"): name for name, k in kernels.items()}
    for rec in tree.procs.values():
        if rec.pid in by_pid:
            rec.label = f"kernel {by_pid[rec.pid]}"


def timeline(run_dir: Path, kernels: dict) -> list[str]:
    """When each notebook ran (papermill's start and end times in the executed notebooks, seconds from the
    first one's start) and its kernel's CPU seconds: which notebooks ran side by side, which core sat idle."""
    import nbformat

    spans = {}
    for path in sorted((run_dir / "notebooks").glob("*.ipynb")):
        meta = nbformat.read(str(path), as_version=4).metadata.get("papermill") or {}
        if meta.get("start_time") and meta.get("end_time"):
            spans[path.stem] = (pd.Timestamp(meta["start_time"]), pd.Timestamp(meta["end_time"]))
    if not spans:
        return []
    t0 = min(s for s, _ in spans.values())
    lines = ["notebooks (seconds from the first notebook's start; CPU of its kernel):"]
    for name, (s, e) in sorted(spans.items(), key=lambda x: x[1][0]):
        cpu = (kernels.get(name) or {}).get("cpu_s")
        lines.append(f"  {name:<16} {(s - t0).total_seconds():6.1f} → {(e - t0).total_seconds():6.1f} s"
                     + (f"  cpu {cpu:5.1f} s" if cpu is not None else ""))
    return lines


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--pack", default="auto")
    ap.add_argument("--chunk", type=int, default=1_000_000, help="rows generated at a time")
    ap.add_argument("--input", type=Path, help="reuse the input files of an earlier --keep run (folder)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--max-mb", type=int, default=0,
                    help="stop the run (kill its process tree) when its summed RSS passes this many MB, and "
                    "report where it was: a run too large for a shared machine is measured without crowding it")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cemkit-bench-"))
    if args.input:
        rpath = next(args.input.glob(f"{args.pack}_demo_responses.csv"))
        opath = next(args.input.glob(f"{args.pack}_demo_odata.csv"))
    else:
        t = time.perf_counter()
        rpath, opath = write_chunked(args.pack, tmp / "input", args.n, args.chunk)
        print(f"generated {args.n:,} responses in {time.perf_counter() - t:.1f} s "
              f"({rpath.stat().st_size / 1e6:,.0f} MB CSV)")
    cmd = [sys.executable, "-m", "cemkit.cli", "run", "--pack", args.pack, "--data", str(rpath), "--odata",
           str(opath), "--out", str(tmp / "reports"), "--quiet", "--client", "Benchmark", *extra]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeSampler(proc.pid, limit=args.max_mb * 1024 * 1024) as tree:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    if tree.stopped is not None:
        at, total = tree.stopped
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"STOPPED at {at:.0f} s: the tree's RSS sum reached {total / 2**20:,.0f} MB (limit {args.max_mb:,} "
              f"MB); CPU time so far {usage.ru_utime + usage.ru_stime:.1f} s")
        for line in tree.report():
            print(line)
        staging = sorted((tmp / "reports").glob(".*"))
        for folder in staging:  # which notebooks had finished, from the staging folder
            done = sorted(p.name for p in (folder / "notebooks").glob("*.ipynb"))
            print(f"{folder.name}: executed notebooks so far {done}")
        if args.keep:
            print(f"kept {tmp}")
        raise SystemExit(3)
    if proc.returncode != 0:
        print(stdout, stderr, sep="\n")
        raise SystemExit(proc.returncode)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run and its notebook kernels (waited for)
    cpu = usage.ru_utime + usage.ru_stime
    run_dir = next((tmp / "reports").glob(f"{args.pack}-2*/run.json")).parent
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    acc = run.get("accounting", {})
    name_kernels(tree, run.get("kernels") or {})
    print(f"cemkit run {' '.join(extra)}: {wall:.1f} s wall, {args.n / wall:,.0f} rows/s")
    print(f"CPU time of all its processes: {cpu:.1f} s (wall time on a loaded machine varies; CPU time much "
          f"less); load average now {os.getloadavg()[0]:.2f}")
    for line in tree.report():
        print(line)
    print(f"(largest process by the kernel's own high-water mark: {usage.ru_maxrss / 1024:,.0f} MB)")
    print("steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in run["timings"].items()))
    for line in timeline(run_dir, run.get("kernels") or {}):
        print(line)
    if acc:
        print(f"accounting: {json.dumps(acc, ensure_ascii=False)[:400]}")
    if args.n <= 1_000_000:  # a second pass over a 10M-row file just to count characters is not worth it
        print(f"(file has {_chars(rpath) / 1e6:.1f} M characters; plain jieba.lcut segments ≈ 0.5 M chars/s here)")
    if args.json:
        mb = 1024 * 1024
        args.json.write_text(json.dumps({
            "n": args.n, "args": extra, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "peak_sum_mb": round(tree.peak_sum / mb), "peak_pss_mb": round(tree.peak_pss / mb),
            "peak_max_mb": round(tree.peak_max / mb),
            "ru_maxrss_mb": round(usage.ru_maxrss / 1024), "load": os.getloadavg()[0],
            "timings": run["timings"],
            "processes": [{"label": r.label, "peak_mb": round(r.peak_rss / mb), "cpu_s": round(r.cpu, 1)}
                          for r in tree.procs.values()],
        }, indent=1), encoding="utf-8")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
