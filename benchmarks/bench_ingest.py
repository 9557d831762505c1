"""Time ``cemkit.ingest.prepare`` on a 1,000,000-row client CSV, stage by stage.

Run: PYTHONPATH=src python benchmarks/bench_ingest.py [--rows N] [--dir DIR] [--repeat K] [--out-dir]

Data: the auto pack's synthetic demo responses (50,000 generated, then tiled with new response and customer
ids up to ``--rows``): 38 demo columns (ids, wave, date, stage, touchpoint, NPS/CSAT/CES, 25 attributes, 4
segments) with comments made more varied (two phrases plus a short random tail, so most comments are
distinct, as in real exports), about 1% carrying a phone number, and a little mess: 0.5% of NPS cells written
``10分``/full-width digits, 0.1% out of range, 0.1% blank rows. Written once as UTF-8 CSV with pyarrow.

Prints the best of K runs of each stage that ``prepare`` reports (read = parse to text columns; clean =
column matching, score/date/stage parsing by distinct value; mask = PII masking of comments; checks =
quarantine rules and duplicates; quarantine = masked raw rows; responses = the used rows copied out and
weighted), rows per second overall and for the
parse alone, the share of time spent parsing, and the peak RSS (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from cemkit import ingest
from cemkit.demo import generate
from cemkit.packs import load_pack

_TAIL = list("好差快慢贵便宜热情冷淡干净整洁专业耐心细致周到满意失望一般还行不错推荐")


def client_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` demo-like responses as a client CSV (see the module docstring)."""
    pack = load_pack("auto")
    base = generate(pack, n=min(rows, 50_000), seed=seed).responses
    rng = np.random.default_rng(seed)
    reps = -(-rows // len(base))
    df = pd.concat([base] * reps, ignore_index=True).iloc[:rows].reset_index(drop=True)
    df["response_id"] = pd.Series(np.arange(1, rows + 1)).map("R{:08d}".format)
    df["customer_id"] = pd.Series(rng.integers(1, rows // 2 + 2, rows)).map("C{:08d}".format)
    df["date"] = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d")
    # varied comments: the demo phrase + another demo phrase + 2-4 random characters
    comments = df["comment"].astype(object).to_numpy()
    other = comments[rng.integers(0, rows, rows)]
    tail = np.array(["".join(rng.choice(_TAIL, k)) for k in rng.integers(2, 5, 4096)], dtype=object)
    has = pd.notna(comments)
    mixed = np.where(
        has,
        comments.astype(str)
        + np.where(pd.notna(other), other.astype(str), "")
        + tail[rng.integers(0, tail.size, rows)],
        None,
    )
    df["comment"] = mixed
    nps = df["nps"].map(lambda v: "" if pd.isna(v) else str(int(v))).to_numpy(dtype=object)
    messy = rng.random(rows)
    nps[messy < 0.0025] = "10分"
    nps[(messy >= 0.0025) & (messy < 0.005)] = "８"
    nps[(messy >= 0.005) & (messy < 0.006)] = "11"
    df["nps"] = nps
    for col in df.columns:
        if df[col].dtype == float:
            df[col] = df[col].map(lambda v: "" if pd.isna(v) else str(int(v)))
    df = df.astype(object).where(pd.notna(df), None)
    blank = rng.random(rows) < 0.001
    df.loc[blank, :] = None
    pacsv.write_csv(pa.Table.from_pandas(df.astype("str"), preserve_index=False), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dir", help="folder for the CSV (default: a temporary folder)")
    ap.add_argument("--out-dir", action="store_true", help="also write the parquet outputs (time 'write')")
    args = ap.parse_args()
    pack = load_pack("auto")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"client_{args.rows}.csv"
        if not path.exists():
            t = time.perf_counter()
            client_csv(path, args.rows)
            print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            p = ingest.prepare(path, pack, out_dir=(folder / "out") if args.out_dir else None)
            for k, v in p.timings.items():
                best[k] = min(best.get(k, float("inf")), v)
        acc = p.accounting
        print(
            f"rows: {acc['input_rows']:,} in = {acc['used']:,} used + {acc['quarantined']:,} quarantined "
            f"({', '.join(f'{k} {v:,}' for k, v in acc['by_reason'].items())})"
        )
        print(f"masked: {', '.join(f'{k} {v:,}' for k, v in acc['masked'].items() if v)}")
        print(f"best of {args.repeat} (seconds):")
        for k, v in best.items():
            print(f"  {k:<11} {v:7.2f}")
        total = best["total"]
        rows = acc["input_rows"]
        print(
            f"throughput: {rows / total:,.0f} rows/s overall, {rows / best['read']:,.0f} rows/s parse; "
            f"parse = {best['read'] / total:.0%} of the time"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:,.0f} MB; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
