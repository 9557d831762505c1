"""Survey weights: raking to target margins (iterative proportional fitting) and Kish's effective base.

``rake(df, margins)`` adjusts weights until the weighted share of every category of every margin variable
equals its target (Deming & Stephan 1940, "On a least squares adjustment of a sampled frequency table when
the expected marginal totals are known", *Ann. Math. Stat.* 11(4); the RIM weighting of market research).
Each sweep multiplies the weights of each category by target / current weighted total, one variable after
the other; it stops when the largest gap between a weighted share and its target is below ``tol``. The
weights come back scaled to mean 1 (they sum to n).

``kish(w)`` gives Kish's (1965, *Survey Sampling*, §11.7) design effect of unequal weights
``deff = n·Σw² / (Σw)²``, the effective base ``n_eff = (Σw)² / Σw² = n / deff`` and the weighting
efficiency ``n_eff / n``.

Margins are ``{variable: {category: share}}``; shares may be given as fractions or percentages (they are
divided by their sum, which must be 1 or 100 within 0.5%). Categories are compared as text, so YAML keys
such as ``1`` match a column holding ``"1"``.

The library route was weighed: ``weightipy`` 0.4.2 gives the same weights on the reference case but stops
on a relative-improvement rule we cannot set (no ``tol``), prints instead of raising when it does not
converge and pulls in unused dependencies, so the IPF loop is here (a dozen lines on ``np.bincount``);
the tests check it against the published reference and, when installed, against weightipy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["kish", "normalise_margins", "rake"]


def normalise_margins(
    margins: Mapping[str, Mapping[Any, float]],
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Margins as ``{variable: {category (text): share}}`` with shares summing to 1, and the problems found
    (negative shares, sums that are neither 1 nor 100, empty margins)."""
    out: dict[str, dict[str, float]] = {}
    problems: list[str] = []
    if not isinstance(margins, Mapping) or not margins:
        return {}, ["margins must be a non-empty mapping {variable: {category: share}}"]
    for var, targets in margins.items():
        if not isinstance(targets, Mapping) or not targets:
            problems.append(f"margin {var!r} must map categories to shares")
            continue
        try:
            shares = {str(k).strip(): float(v) for k, v in targets.items()}
        except (TypeError, ValueError):
            problems.append(f"margin {var!r} has a share that is not a number")
            continue
        if any(v < 0 or not np.isfinite(v) for v in shares.values()):
            problems.append(f"margin {var!r} has a negative or infinite share")
            continue
        total = sum(shares.values())
        if not (abs(total - 1) <= 0.005 or abs(total - 100) <= 0.5):
            problems.append(f"shares of margin {var!r} add up to {total:g}, not 1 (or 100)")
            continue
        out[str(var)] = {k: v / total for k, v in shares.items()}
    return out, problems


def rake(
    df: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]],
    max_iter: int = 1000,
    tol: float = 1e-10,
    base_weights: pd.Series | np.ndarray | None = None,
) -> pd.Series:
    """Raking (IPF) weights that reproduce ``margins`` exactly, scaled to mean 1, indexed like ``df``.

    ``margins``: ``{column: {category: target share}}``, one entry per variable (e.g. region and channel as
    separate margins). ``base_weights``: starting (design) weights, default 1. Stops when the largest
    |weighted share − target| is below ``tol``; the Series' ``attrs`` hold ``iterations`` and ``max_gap``.

    Raises :class:`~cemkit.errors.InputError` listing every problem: a margin column missing from ``df``,
    missing values in it, categories in the data that have no target, targets for categories nobody in the
    data has (no weight can reach them), bad shares, or no convergence within ``max_iter`` sweeps.
    """
    targets, problems = normalise_margins(margins)
    codes: list[np.ndarray] = []
    goals: list[np.ndarray] = []
    for var, shares in targets.items():
        if var not in df.columns:
            problems.append(f"margin {var!r} is not a column of the data")
            continue
        values = df[var].astype("str").str.strip()
        if values.isna().any():
            problems.append(
                f"{int(values.isna().sum())} row(s) have no {var!r} value, so they cannot be raked"
            )
        seen = set(values.dropna().unique())
        extra = sorted(seen - set(shares))
        if extra:
            problems.append(
                f"margin {var!r} has no target for {', '.join(map(repr, extra))} found in the data"
            )
        absent = [k for k, v in shares.items() if v > 0 and k not in seen]
        if absent:
            problems.append(f"margin {var!r} targets {', '.join(map(repr, absent))}, which no row has")
        cats = list(shares)
        codes.append(pd.Index(cats).get_indexer(values).astype(np.int64))
        goals.append(np.array([shares[c] for c in cats], dtype=float))
    if problems:
        raise InputError("raking: " + "; ".join(problems) + ".")
    n = len(df)
    w = np.ones(n) if base_weights is None else np.asarray(base_weights, dtype=float).copy()
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InputError("raking: base weights must be positive numbers, one per row.")
    if n == 0:
        out = pd.Series(w, index=df.index, name="weight")
        out.attrs.update(iterations=0, max_gap=0.0)
        return out
    gap, it = np.inf, 0
    for it in range(1, max_iter + 1):
        for c, g in zip(codes, goals):
            totals = np.bincount(c, weights=w, minlength=len(g))
            factor = np.divide(g * w.sum(), totals, out=np.zeros_like(g), where=totals > 0)
            w = w * factor[c]
        total = w.sum()
        gap = max(
            float(np.abs(np.bincount(c, weights=w, minlength=len(g)) / total - g).max())
            for c, g in zip(codes, goals)
        )
        if gap < tol:
            break
    else:
        raise InputError(
            f"raking did not converge in {max_iter} sweeps (largest gap between a weighted share and "
            f"its target {gap:.2g}); the margins may leave some combination empty or contradict each other."
        )
    out = pd.Series(w / w.mean(), index=df.index, name="weight")
    out.attrs.update(iterations=it, max_gap=gap)
    return out


def kish(weights: pd.Series | np.ndarray) -> dict[str, float]:
    """Kish (1965) summary of unequal weights: ``n`` (positive finite weights), ``n_eff = (Σw)²/Σw²``,
    ``deff = n·Σw²/(Σw)²`` and ``efficiency = n_eff/n`` (1 for equal weights). Empty → zeros and NaN.

    Missing (NaN) and zero weights are left out; a negative or infinite weight raises
    :class:`~cemkit.errors.InputError` (dropping it would silently change the base)."""
    w = np.asarray(weights, dtype=float).ravel()
    bad = np.isinf(w) | (w < 0)
    if bad.any():
        raise InputError(f"Kish base: {int(bad.sum())} weight(s) are negative or infinite.")
    w = w[~np.isnan(w) & (w > 0)]
    n = int(w.size)
    if not n:
        return {"n": 0, "n_eff": 0.0, "deff": float("nan"), "efficiency": float("nan")}
    sw, sw2 = float(w.sum()), float((w * w).sum())
    n_eff = sw * sw / sw2
    return {"n": n, "n_eff": n_eff, "deff": n / n_eff, "efficiency": n_eff / n}
