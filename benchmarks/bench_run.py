"""Time a whole `cemkit run` on N synthetic responses (default 1,000,000) with short Chinese comments.

    python benchmarks/bench_run.py [-n 1000000] [--pack auto]

Generates the data with the pack's demo generator (not timed), writes it as CSV like a client export, then
runs `cemkit run --data ... --odata ...` in a subprocess and prints wall time, rows/s, the per-step timings
from run.json, and the peak resident memory of the largest process (cemkit or a notebook kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cemkit.demo import write_demo
from cemkit.packs import load_pack


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--pack", default="auto")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cemkit-bench-"))
    t = time.perf_counter()
    rpath, opath = write_demo(load_pack(args.pack), tmp / "input", n=args.n)
    chars = sum(len(line) for line in rpath.read_text(encoding="utf-8").splitlines())
    print(f"generated {args.n:,} responses in {time.perf_counter() - t:.1f} s ({rpath.stat().st_size / 1e6:.0f} MB CSV)")
    cmd = [sys.executable, "-m", "cemkit.cli", "run", "--pack", args.pack, "--data", str(rpath), "--odata", str(opath),
           "--out", str(tmp / "reports"), "--quiet", "--client", "Benchmark"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        raise SystemExit(proc.returncode)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run and its notebook kernels (waited for)
    peak_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    run = json.loads(next((tmp / "reports").glob(f"{args.pack}-2*/run.json")).read_text(encoding="utf-8"))
    print(f"cemkit run: {wall:.1f} s wall, {args.n / wall:,.0f} rows/s, peak RSS of the largest process {peak_mb:,.0f} MB")
    print(f"CPU time of all its processes: {cpu:.1f} s (wall time on a loaded machine varies; CPU time much less); "
          f"load average now {os.getloadavg()[0]:.2f}")
    print("steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in run["timings"].items()))
    print(f"(file has {chars / 1e6:.1f} M characters; plain jieba.lcut segments ≈ 0.5 M chars/s here)")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp)
    else:
        print(f"kept {tmp}")


if __name__ == "__main__":
    main()
