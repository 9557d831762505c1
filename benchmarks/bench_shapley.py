"""Time exact Shapley (LMG) key driver analysis at 10, 15 and 20 drivers on 100,000 rows.

Run: PYTHONPATH=src python benchmarks/bench_shapley.py [--rows N] [--repeat K]

Prints, per driver count, the best of K runs of: the weighted correlation matrix (all rows), the
exact decomposition over all 2^p subsets, and the whole public ``key_drivers`` call.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from cemkit import drivers as kd


def correlated_frame(rows: int, p: int, seed: int = 0) -> pd.DataFrame:
    """Drivers sharing a common factor (pairwise r about 0.3-0.5) and a target built from them."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(rows, 1))
    X = 0.7 * factor + rng.normal(size=(rows, p))
    y = X @ rng.uniform(0.1, 1.0, size=p) + 2.0 * rng.normal(size=rows)
    frame = pd.DataFrame(X, columns=[f"d{j:02d}" for j in range(p)])
    frame["overall"] = y
    return frame


def best_of(repeat: int, func, *args) -> tuple[float, object]:
    """Shortest wall time of ``repeat`` calls of ``func(*args)``, and its result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def decompose(R: np.ndarray) -> np.ndarray:
    """The exact Shapley step alone: R² of all 2^p subsets, then the Shapley weights."""
    return kd.decompose._shapley_values(kd.decompose._subset_r2(R))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"exact Shapley (LMG), {args.rows:,} rows, best of {args.repeat}")
    print(
        f"{'drivers':>7} {'subsets':>10} {'correlation s':>14} {'decomposition s':>16} {'key_drivers s':>14}"
    )
    for p in (10, 15, 20):
        frame = correlated_frame(args.rows, p)
        names = [c for c in frame.columns if c != "overall"]
        Z = frame[[*names, "overall"]].to_numpy()
        W = np.ones((1, args.rows))
        t_corr, R = best_of(args.repeat, kd.correlation._weighted_corr, Z, W)
        t_dec, phi = best_of(args.repeat, decompose, R)
        t_all, result = best_of(args.repeat, kd.key_drivers, frame, "overall", names)
        assert abs(phi.sum() - result.attrs["r2"]) < 1e-9
        print(f"{p:>7} {2**p:>10,} {t_corr:>14.3f} {t_dec:>16.3f} {t_all:>14.3f}")


if __name__ == "__main__":
    main()
