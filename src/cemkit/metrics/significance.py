"""Significance: wave-on-wave changes and segment-vs-rest tests per cell (z tests, Welch's t for means),
multiple-comparison correction (Holm, Benjamini-Hochberg) within families, and wave filtering."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..packs import Pack
from .estimates import ArrayLike
from .tables import _KEYS, _SUMS, ALL, _apply_flags, _estimates, _stage_cat, _sums_frame, _wave_labels


# ==================================================================================================
# Significance
# ==================================================================================================
def _diff_test(
    m: pd.DataFrame, se: tuple[str, str], n_eff: tuple[str, str], tested: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided test of ``diff / sqrt(se₁² + se₂²)`` for the rows of ``m``; NaN where not tested.

    Shares (NPS, top-box) use the normal distribution (z test). Means use Welch's t test: the same statistic
    on Welch-Satterthwaite df ``(se₁² + se₂²)² / (se₁⁴/(n_eff₁ - 1) + se₂⁴/(n_eff₂ - 1))`` (unweighted this is
    ``scipy.stats.ttest_ind(equal_var=False)``). A zero SE gives p = 0 (diff ≠ 0) or 1."""
    diff = m["diff"].to_numpy(float)
    s1, s2 = (m[c].to_numpy(float) for c in se)
    n1, n2 = (m[c].to_numpy(float) for c in n_eff)
    se_diff = np.hypot(s1, s2)
    is_mean = (m["stat"] == "mean").to_numpy(dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(
            se_diff > 0,
            diff / np.where(se_diff > 0, se_diff, 1),
            np.where(diff == 0, 0.0, np.sign(diff) * np.inf),
        )
        v1, v2 = s1 * s1, s2 * s2
        df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
        welch = is_mean & (se_diff > 0) & (df > 0)
        p = np.where(welch, 2 * _st.t.sf(np.abs(z), np.where(welch, df, 1.0)), 2 * _st.norm.sf(np.abs(z)))
    return np.where(tested, z, np.nan), np.where(tested, p, np.nan)


def p_adjust(p_values: ArrayLike, method: str = "holm", groups: ArrayLike | None = None) -> np.ndarray:
    """Multiple-comparison adjusted p-values, computed within each family of ``groups`` at once.

    ``method="holm"``: Holm (1979) step-down, ``p̃_(i) = min(1, max_{j≤i} (m - j + 1) p_(j))``;
    ``method="fdr_bh"``: Benjamini & Hochberg (1995), ``p̃_(i) = min(1, min_{j≥i} m p_(j) / j)``, where
    ``p_(1) ≤ … ≤ p_(m)`` are the family's sorted p-values. The numbers are those of
    ``statsmodels.stats.multitest.multipletests(p, method=...)[1]`` applied family by family (the tests check
    this); the grouped computation avoids one ``multipletests`` call per family, which is slow because its
    Holm branch runs a full ``gc.collect()`` on every call (60 ms each with a large heap, statsmodels 0.15).
    NaN p-values must be removed by the caller.
    """
    p = np.asarray(p_values, dtype=float).ravel()
    if np.isnan(p).any():
        raise ValueError("p_adjust got NaN p-values")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p_adjust got p-values outside [0, 1]")
    g = (
        np.zeros(p.size, np.int64)
        if groups is None
        else pd.factorize(pd.Series(np.asarray(groups, dtype=object)))[0]
    )
    if not p.size:
        return p.copy()
    order = np.lexsort((p, g))
    ps, gs = p[order], g[order]
    starts = np.r_[0, np.flatnonzero(np.diff(gs)) + 1]
    sizes = np.diff(np.r_[starts, p.size])
    m = np.repeat(sizes, sizes).astype(float)
    rank = np.arange(p.size) - np.repeat(starts, sizes) + 1.0  # 1-based position within the family
    if method == "holm":
        raw = pd.Series(ps * (m - rank + 1))
        adj = raw.groupby(gs).cummax().to_numpy()
    elif method == "fdr_bh":
        raw = pd.Series((ps * m / rank)[::-1])
        adj = raw.groupby(gs[::-1]).cummin().to_numpy()[::-1]
    else:
        raise ValueError(f"correction must be 'holm' or 'fdr_bh', got {method!r}")
    out = np.empty(p.size)
    out[order] = np.minimum(adj, 1.0)
    return out


def _adjust(frame: pd.DataFrame, family_by: Sequence[str], alpha: float, correction: str) -> pd.DataFrame:
    """Adjusted p (:func:`p_adjust`), significance and marker within each family of tested cells."""
    frame["p_adj"] = np.nan
    tested = frame["tested"].to_numpy(dtype=bool)
    if tested.any():
        sub = frame.loc[tested]
        groups = (
            sub.groupby(list(family_by), sort=False, observed=True).ngroup().to_numpy() if family_by else None
        )
        frame.loc[tested, "p_adj"] = p_adjust(sub["p_value"].to_numpy(dtype=float), correction, groups)
    sig = tested & (frame["p_adj"].to_numpy(dtype=float) < alpha)
    frame["significant"] = sig
    diff = frame["diff"].to_numpy(dtype=float)
    frame["marker"] = np.where(sig & (diff > 0), "↑", np.where(sig & (diff < 0), "↓", ""))
    return frame


def _rules(pack: Pack, alpha: float | None, correction: str | None) -> tuple[float, str]:
    alpha = pack.rules.alpha if alpha is None else float(alpha)
    correction = pack.rules.correction if correction is None else correction
    if correction not in ("holm", "fdr_bh"):
        raise ValueError(f"correction must be 'holm' or 'fdr_bh', got {correction!r}")
    return alpha, correction


def wave_change(
    table: pd.DataFrame,
    pack: Pack,
    waves: tuple[str, str] | None = None,
    family_by: Sequence[str] = ("metric", "stat", "segment"),
    alpha: float | None = None,
    correction: str | None = None,
) -> pd.DataFrame:
    """Last wave vs the previous one for every cell (metric, stat, stage, segment, segment_value) of a
    :func:`journey_table` built with ``waves=True``.

    Test: two-sided test on the difference of two independent estimates, ``z = diff / sqrt(se₁² + se₂²)``
    using each cell's own SE — for NPS a z test on the NPS variance above, for top-box shares the standard
    two-proportion z test with *unpooled* SEs ``sqrt(p(1-p)/n_eff)``, for means Welch's t test (``z`` holds
    the t statistic; p on the Welch-Satterthwaite df from each cell's ``n_eff - 1``, so unweighted it is
    ``scipy.stats.ttest_ind(equal_var=False)``). Cells where either wave has a low base are listed but not
    tested (``tested`` False, p NaN, no marker).

    ``p_adj`` applies the pack's correction (``rules.correction``: Holm or Benjamini-Hochberg; the values of
    ``statsmodels.stats.multitest.multipletests``, see :func:`p_adjust`) across each family of tested cells.
    A family is the cells sharing ``family_by`` (default: one family per metric, statistic and segment
    column, e.g. the stages plus the total of the overall NPS, or all dealer × stage cells; pass ``()`` for one
    family across everything). ``significant = p_adj < alpha``; ``marker`` is "↑"/"↓" for significant
    rises/falls, else "". ``waves=(previous, last)`` overrides the default (the last two wave labels in
    sorted order).
    """
    alpha, correction = _rules(pack, alpha, correction)
    cols = [
        "metric",
        "stat",
        "stage",
        "segment",
        "segment_value",
        "wave_prev",
        "wave_last",
        "value_prev",
        "value_last",
        "diff",
        "se_diff",
        "z",
        "p_value",
        "p_adj",
        "significant",
        "marker",
        "n_prev",
        "n_last",
        "n_eff_prev",
        "n_eff_last",
        "flag_prev",
        "flag_last",
        "tested",
    ]
    t = table.assign(stage=table["stage"].astype(str), wave=table["wave"].astype(str))
    labels = sorted(w for w in t["wave"].unique() if w != ALL)
    if waves is None:
        if len(labels) < 2:
            return pd.DataFrame(columns=cols)
        waves = (labels[-2], labels[-1])
    prev_w, last_w = waves
    keep = ["metric", "stat", "stage", "segment", "segment_value", "value", "se", "n", "n_eff", "flag"]
    a = t.loc[t["wave"] == prev_w, keep]
    b = t.loc[t["wave"] == last_w, keep]
    m = b.merge(a, on=_KEYS, how="inner", suffixes=("_last", "_prev"))
    m["wave_prev"], m["wave_last"] = prev_w, last_w
    m["diff"] = m["value_last"] - m["value_prev"]
    m["se_diff"] = np.hypot(m["se_last"], m["se_prev"])
    tested = (
        (m["flag_last"] != "low_base")
        & (m["flag_prev"] != "low_base")
        & m["diff"].notna()
        & m["se_diff"].notna()
    ).to_numpy(dtype=bool)
    m["tested"] = tested
    m["z"], m["p_value"] = _diff_test(m, ("se_last", "se_prev"), ("n_eff_last", "n_eff_prev"), tested)
    m = _adjust(m, family_by, alpha, correction)
    m["stage"] = _stage_cat(m["stage"], pack)
    order = {k: i for i, k in enumerate(pack.kpis)}
    seg_first = (m["segment"] != ALL).astype(int)
    stat_order = {"nps": 0, "top_box": 0, "mean": 1}
    m = m.assign(_m=m["metric"].map(order), _s=m["stat"].map(stat_order), _g=seg_first)
    m = m.sort_values(["_m", "_s", "_g", "segment", "segment_value", "stage"], kind="stable")
    return m[cols].reset_index(drop=True)


def segment_vs_rest(
    df: pd.DataFrame,
    pack: Pack,
    segment: str,
    metrics: Sequence[str] | None = None,
    wave: str | None = None,
    weights: str | ArrayLike | None = "weight",
    conf: float = 0.95,
    family_by: Sequence[str] = ("metric", "stat", "stage"),
    alpha: float | None = None,
    correction: str | None = None,
) -> pd.DataFrame:
    """Each value of ``segment`` vs all other rows, for every KPI statistic at every stage and ``"__all__"``.

    "Rest" is computed from the totals minus the cell's sufficient statistics (vectorised), so it includes
    rows whose segment value is missing. The cell and its rest are disjoint, hence independent samples: the
    same two-sided tests as :func:`wave_change` (z tests with unpooled SEs for NPS and top-box, Welch's t
    test for means), corrected with the pack's method within
    each family (default: per metric, statistic and stage, i.e. across the segment's values). Cells where
    the unit or its rest has a low base are not tested. ``wave``: None = all waves pooled, ``"last"`` = the
    latest wave, or a wave label.
    """
    alpha, correction = _rules(pack, alpha, correction)
    d, weights = _filter_wave(df, wave, weights)
    sums = _sums_frame(d, pack, by=segment, waves=False, weights=weights, metrics=metrics)
    cells = sums[sums["segment"] == segment].reset_index(drop=True)
    tot = sums[sums["segment"] == ALL].set_index(["metric", "stage"])
    totals = tot.loc[pd.MultiIndex.from_frame(cells[["metric", "stage"]]), list(_SUMS)].to_numpy()
    rest = cells.copy()
    rest[list(_SUMS)] = totals - cells[list(_SUMS)].to_numpy()
    rest["n"] = rest["n"].round().astype(np.int64)  # counts are exact in float64
    for c in ("sw", "sw2", "w_prom", "w_det", "w_good"):  # non-negative sums: clip rounding residue
        rest[c] = rest[c].clip(lower=0.0)
    rest = rest[rest["n"] > 0]
    e_cell = _apply_flags(_estimates(cells, pack, conf), pack)
    e_rest = _apply_flags(_estimates(rest, pack, conf), pack)
    m = e_cell.merge(
        e_rest[[*_KEYS, "value", "se", "n", "n_eff", "flag"]], on=_KEYS, how="left", suffixes=("", "_rest")
    )
    m["n_rest"] = m["n_rest"].fillna(0).astype(np.int64)
    m["flag_rest"] = m["flag_rest"].fillna("low_base")
    m["diff"] = m["value"] - m["value_rest"]
    m["se_diff"] = np.hypot(m["se"], m["se_rest"])
    tested = (
        (m["flag"] != "low_base") & (m["flag_rest"] != "low_base") & m["diff"].notna() & m["se_diff"].notna()
    ).to_numpy(dtype=bool)
    m["tested"] = tested
    m["z"], m["p_value"] = _diff_test(m, ("se", "se_rest"), ("n_eff", "n_eff_rest"), tested)
    m = _adjust(m, family_by, alpha, correction)
    m["wave"] = ALL if wave is None else _resolve_wave(df, wave)
    cols = [
        "metric",
        "stat",
        "stage",
        "segment",
        "segment_value",
        "wave",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "n_eff",
        "flag",
        "value_rest",
        "n_rest",
        "n_eff_rest",
        "flag_rest",
        "diff",
        "se_diff",
        "z",
        "p_value",
        "p_adj",
        "significant",
        "marker",
        "tested",
    ]
    m["stage"] = _stage_cat(m["stage"], pack)
    metric_order = {k: i for i, k in enumerate(pack.kpis)}
    stat_order = {"nps": 0, "top_box": 0, "mean": 1}
    m = m.assign(_m=m["metric"].map(metric_order), _s=m["stat"].map(stat_order))
    m = m.sort_values(["_m", "_s", "stage", "segment_value"], kind="stable")
    return m[cols].reset_index(drop=True)


def _resolve_wave(df: pd.DataFrame, wave: str) -> str:
    if wave == "last":
        labels = _wave_labels(df)
        if not labels:
            raise ValueError("wave='last' but the data have no wave labels")
        return labels[-1]
    return str(wave)


def _filter_wave(
    df: pd.DataFrame, wave: str | None, weights: str | ArrayLike | None
) -> tuple[pd.DataFrame, str | ArrayLike | None]:
    """Rows of one wave (None or ``"__all__"``: all rows) and the matching weights argument."""
    if wave is None or wave == ALL:
        return df, weights
    if not isinstance(df, pd.DataFrame):  # a cemkit.engine.Dataset: a SQL filter, nothing read yet
        if weights is not None and not isinstance(weights, str):
            raise TypeError("a Dataset takes weights as a column name")
        return df.where("wave", _resolve_wave(df, wave)), weights
    keep = (df["wave"].astype("string") == _resolve_wave(df, wave)).fillna(False).to_numpy(dtype=bool)
    if weights is not None and not isinstance(weights, str):
        weights = np.asarray(weights, dtype=float).ravel()[keep]
    return df[keep], weights
