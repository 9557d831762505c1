"""Time a tracker's monthly routine from an engagement file: one `cemkit run` per wave (N responses per wave,
default 100,000, with Chinese comments), each run reading every wave delivered so far and building on the last
good run, then `cemkit refresh` of the previous deck with the new run.

    python benchmarks/bench_tracker.py [-n 100000] [--waves 3] [--pack auto]

Prints wall time and CPU time (all processes: cemkit and its notebook kernels) per wave: on a shared machine
the wall time varies with the load; the CPU time much less.
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

from cemkit.demo import write_demo
from cemkit.engagement import last_good_run, write_engagement
from cemkit.packs import load_pack


def _timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        raise SystemExit(proc.returncode)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100_000, help="responses per wave")
    ap.add_argument("--waves", type=int, default=3)
    ap.add_argument("--pack", default="auto")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    pack = load_pack(args.pack)
    tmp = Path(tempfile.mkdtemp(prefix="cemkit-tracker-"))
    t = time.perf_counter()
    waves = len(pack.section("demo")["waves"])
    files, odata = write_demo(pack, tmp / "exports", n=args.n * waves, per_wave=True)
    print(f"generated {waves} waves of ~{args.n:,} responses in {time.perf_counter() - t:.0f} s")
    folder = tmp / "engagement"
    write_engagement(folder, args.pack, client="Benchmark", odata=[str(odata)])
    cli = [sys.executable, "-m", "cemkit.cli"]
    previous_deck = None
    for k, path in enumerate(files[: args.waves], start=1):
        shutil.copy(path, folder / "data")
        wall, cpu = _timed([*cli, "run", "--quiet"], folder)
        run = last_good_run(folder / "reports", pack.id)
        info = json.loads((run / "run.json").read_text(encoding="utf-8"))
        acc = info["accounting"]
        print(f"wave {k} ({info['wave']['report']}): cemkit run {wall:.1f} s wall, {cpu:.1f} s CPU; "
              f"{acc['input_rows']:,} rows in {len(acc.get('files') or [1])} file(s); load {os.getloadavg()[0]:.1f}")
        print("  steps: " + ", ".join(f"{k2} {v:.1f}s" for k2, v in info["timings"].items()))
        if previous_deck is not None:
            wall, cpu = _timed([*cli, "refresh", str(previous_deck), "--run", str(run), "--out",
                                str(tmp / f"refreshed_{k}.pptx")], folder)
            print(f"  cemkit refresh of the previous deck: {wall:.1f} s wall, {cpu:.1f} s CPU")
        previous_deck = run / "report.pptx"
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
