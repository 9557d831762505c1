"""What-if uplift: the NPS a stage would gain if an attribute's top-box share rose to the best-quartile unit's.

Model (one per journey stage, on the responses that rated every driver of the stage):

* outcome ``y`` = +100 for a promoter (9–10), 0 for a passive (7–8), −100 for a detractor (0–6), so that the
  (weighted) mean of ``y`` is the stage's NPS;
* regressors: the top-box indicator of each driver attribute (1 when the rating is one of its scale's
  ``good`` answers), plus an intercept; weighted least squares with the survey weights, heteroscedasticity-
  robust (HC1) standard errors (statsmodels).

The coefficient ``beta`` of an attribute is the NPS points the stage gains per unit of top-box share (from 0 to
all customers top-box), holding the other attributes fixed. With ``share`` the attribute's current top-box
share and ``target`` the share of the best-quartile unit (the 75th percentile of the units' shares, each
shrunk toward the pooled share by its base — empirical Bayes, :func:`shrunk_shares` — so that a small unit's
lucky streak does not set the benchmark), the what-if uplift of the stage's NPS is ``beta × (target − share)`` (0 when the
attribute already reaches the target), with the interval ``± z × SE(beta) × (target − share)``. The uplift of
the overall NPS is the stage's uplift times the stage's share of the NPS answers (the overall NPS pools them).

Assumption, stated with every figure: the relation seen across customers is causal and linear in the
share, the other attributes stay where they are, and the best quartile of units shows what is reachable.
With one attribute the coefficient is the NPS of its top-box customers minus that of the others, so the uplift
can be checked by hand (tests/test_whatif.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = ["nps_coded", "shrunk_shares", "topbox_uplift"]

COLUMNS = ["attribute", "beta", "beta_se", "share", "target", "gap", "uplift", "uplift_low", "uplift_high",
           "n", "n_units", "units_bottom", "worst_units", "best_unit"]


def nps_coded(scores: pd.Series) -> np.ndarray:
    """+100 promoter, 0 passive, −100 detractor (NaN for a missing score): its mean is the NPS."""
    x = pd.to_numeric(scores, errors="coerce").to_numpy(float)
    return np.where(np.isnan(x), np.nan, np.where(x >= 9, 100.0, np.where(x <= 6, -100.0, 0.0)))


def _share(values: np.ndarray, w: np.ndarray) -> float:
    return float((values * w).sum() / w.sum()) if w.sum() > 0 else np.nan


def shrunk_shares(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Unit shares (0-1, ``x`` successes of ``n``) shrunk toward their pooled share by their base: the
    empirical-Bayes (method-of-moments beta-binomial) estimate ``w·p_u + (1 − w)·p̄`` with
    ``w = τ² / (τ² + p̄(1 − p̄)/n_u)`` and the between-unit variance ``τ² = max(0, var(p_u) − mean(p̄(1 − p̄)/n_u))``.
    A small unit's extreme share is mostly noise: shrinking keeps it from setting the benchmark."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    p = x / n
    pbar = x.sum() / n.sum()
    noise = pbar * (1 - pbar) / n
    tau2 = max(0.0, float(np.var(p, ddof=1)) - float(noise.mean())) if len(p) > 1 else 0.0
    w = np.where(noise > 0, tau2 / (tau2 + noise), 1.0) if tau2 > 0 else np.zeros_like(p)
    return w * p + (1 - w) * pbar


def topbox_uplift(df: pd.DataFrame, target: str, good: Mapping[str, Sequence[float]], *,
                  unit: str | None = None, weights: str | None = None, min_unit_n: int = 10,
                  quantile: float = 0.75, conf: float = 0.95, shrink: bool = True) -> pd.DataFrame:
    """What-if uplift of each attribute in ``good`` (attribute column → its top-box answers) on the NPS of the
    responses in ``df`` (one stage). ``target``: the 0–10 recommendation column; ``unit``: the column naming the
    unit (dealer, store) whose best quartile sets the reachable share; ``min_unit_n``: a unit needs this many
    complete responses to count; with ``shrink`` (default) the units' shares are shrunk toward the pooled share
    by their base (:func:`shrunk_shares`) before the quantile is taken, so small units' noise does not raise
    the benchmark (no real difference between units: every share shrinks to the pool, and there is no uplift). Returns one row per attribute (see the module docstring), shares in %,
    ``beta`` in NPS points per 100 % of top-box share, uplift in NPS points of the stage. ``best_unit``: the
    unit at the highest share. ``units_bottom``: units at or under the bottom-quartile share (the 25th percentile),
    where the fix starts; ``worst_units``: the (up to) three lowest, lowest first. Empty when fewer complete responses than attributes + 2."""
    import statsmodels.api as sm

    cols = list(good)
    keep = [target, *cols] + ([unit] if unit else []) + ([weights] if weights else [])
    d = df[keep].dropna(subset=[target, *cols])
    if len(d) < len(cols) + 2:
        return pd.DataFrame(columns=COLUMNS)
    y = nps_coded(d[target])
    X = np.column_stack([d[c].isin(list(good[c])).to_numpy(float) for c in cols])
    w = pd.to_numeric(d[weights], errors="coerce").fillna(0).to_numpy(float) if weights else np.ones(len(d))
    varies = X.std(axis=0) > 0
    beta = np.full(len(cols), np.nan)
    se = np.full(len(cols), np.nan)
    if varies.any():
        fit = sm.WLS(y, sm.add_constant(X[:, varies], has_constant="add"), weights=w).fit(cov_type="HC1")
        beta[varies] = np.asarray(fit.params)[1:]
        se[varies] = np.asarray(fit.bse)[1:]
    z = float(_st.norm.ppf(0.5 + conf / 2))
    rows = []
    for j, c in enumerate(cols):
        share = 100 * _share(X[:, j], w)
        tgt, n_units, bottom, worst, best = share, 0, 0, [], None
        if unit:
            g = pd.DataFrame({"u": d[unit].astype("string").to_numpy(), "x": X[:, j] * w, "w": w, "one": 1,
                              "hit": X[:, j]})
            g = g.dropna(subset=["u"]).groupby("u", sort=True)[["x", "w", "one", "hit"]].sum()
            g = g[(g["one"] >= min_unit_n) & (g["w"] > 0)]
            if len(g):
                raw = g["x"] / g["w"]
                if shrink:  # the weighted share, moved toward the pool as the unweighted counts say
                    pooled = shrunk_shares(g["hit"].to_numpy(), g["one"].to_numpy())
                    raw = pd.Series(pooled + (raw.to_numpy() - g["hit"].to_numpy() / g["one"].to_numpy()),
                                    index=g.index)
                unit_share = (100 * raw).sort_values(kind="stable")
                n_units = len(unit_share)
                tgt = float(np.quantile(unit_share.to_numpy(), quantile))
                low = unit_share[unit_share <= float(np.quantile(unit_share.to_numpy(), 1 - quantile))]
                bottom, worst, best = len(low), list(unit_share.index[:3]), str(unit_share.index[-1])
        gap = max(0.0, tgt - share)
        up = beta[j] * gap / 100 if np.isfinite(beta[j]) else np.nan
        half = z * se[j] * gap / 100 if np.isfinite(se[j]) else np.nan
        rows.append({"attribute": c, "beta": beta[j], "beta_se": se[j], "share": share, "target": tgt, "gap": gap,
                     "uplift": up, "uplift_low": up - half, "uplift_high": up + half, "n": len(d),
                     "n_units": n_units, "units_bottom": bottom, "worst_units": worst, "best_unit": best})
    return pd.DataFrame(rows, columns=COLUMNS)
