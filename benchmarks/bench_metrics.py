"""Time the journey table and the significance tests on 1,000,000 synthetic responses.

Run: PYTHONPATH=src python benchmarks/bench_metrics.py [--rows N] [--repeat K] [--dealers D]

Data: ``--rows`` responses over 10 journey stages (the auto pack's 8 stages plus two copies, so every
stage asks NPS and CSAT and six ask CES), 2 waves, 3 segment columns (region: 5 values, dealer: ``--dealers``
values, customer_type: 3 values) and unequal weights. Prints the best of K runs of ``journey_table``
overall and by each segment column, by all three at once, ``wave_change`` on the full table,
``segment_vs_rest`` by dealer and ``league_table`` by dealer, with table sizes and the peak RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np
import pandas as pd

from cemkit import metrics as M
from cemkit.packs import Pack, load_pack

SEGMENTS = ("region", "dealer", "customer_type")


def ten_stage_pack() -> Pack:
    """The auto pack with two extra stages (copies of the last two under new ids): 10 stages."""
    pack = load_pack("auto")
    extra = tuple(dataclasses.replace(s, id=f"{s.id}_b") for s in pack.stages[-2:])
    return dataclasses.replace(pack, stages=pack.stages + extra)


def synthetic(pack: Pack, rows: int, dealers: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stages = np.array(pack.stage_ids, dtype=object)
    stage = stages[rng.integers(0, stages.size, rows)]
    wave = np.array(["2024H1", "2024H2"], dtype=object)[rng.integers(0, 2, rows)]
    dealer_id = rng.integers(0, dealers, rows)
    latent = 8 + rng.normal(0, 0.4, dealers)[dealer_id] + rng.normal(0, 1.6, rows)
    frame = pd.DataFrame(
        {
            "wave": wave,
            "stage": stage,
            "nps": np.clip(np.round(latent), 0, 10),
            "csat": np.clip(np.round(1 + 4 * latent / 10 + rng.normal(0, 0.5, rows)), 1, 5),
            "ces": np.clip(np.round(1 + 6 * latent / 10 + rng.normal(0, 0.8, rows)), 1, 7),
            "region": np.array(["华东", "华南", "华北", "华中", "西南"], dtype=object)[dealer_id % 5],
            "dealer": pd.Series(dealer_id).map("D{:04d}".format).to_numpy(dtype=object),
            "customer_type": np.array(["首购", "换购", "增购"], dtype=object)[rng.integers(0, 3, rows)],
            "weight": rng.choice([0.7, 0.9, 1.0, 1.3, 1.7], rows),
        }
    )
    ces_stages = {s.id for s in pack.stages if "ces" in s.kpis}
    frame.loc[~frame["stage"].isin(ces_stages), "ces"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "nps"] = np.nan  # a few skipped answers
    return frame


def best_of(repeat: int, func, *args, **kw) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args, **kw)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dealers", type=int, default=300)
    args = parser.parse_args()
    pack = ten_stage_pack()
    t0 = time.perf_counter()
    df = synthetic(pack, args.rows, args.dealers)
    print(
        f"{args.rows:,} responses, {len(pack.stages)} stages, 2 waves, segments {', '.join(SEGMENTS)} "
        f"(dealers: {args.dealers}); data built in {time.perf_counter() - t0:.2f} s; best of {args.repeat}"
    )
    print(f"{'step':<44} {'seconds':>8} {'rows out':>10}")

    def report(label: str, seconds: float, table: pd.DataFrame) -> None:
        print(f"{label:<44} {seconds:>8.3f} {len(table):>10,}")

    sec, overall = best_of(args.repeat, M.journey_table, df, pack)
    report("journey_table (overall × stage × wave)", sec, overall)
    for seg in SEGMENTS:
        sec, tab = best_of(args.repeat, M.journey_table, df, pack, by=seg)
        report(f"journey_table by {seg}", sec, tab)
    sec, full = best_of(args.repeat, M.journey_table, df, pack, by=list(SEGMENTS))
    report("journey_table by all 3 segments", sec, full)
    sec, changes = best_of(args.repeat, M.wave_change, full, pack)
    report(f"wave_change on that table ({int(changes['tested'].sum()):,} tests)", sec, changes)
    sec, svr = best_of(args.repeat, M.segment_vs_rest, df, pack, "dealer")
    report("segment_vs_rest by dealer (all waves)", sec, svr)
    sec, league = best_of(args.repeat, M.league_table, df, pack, "dealer")
    report("league_table by dealer", sec, league)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:,.0f} MB")


if __name__ == "__main__":
    main()
