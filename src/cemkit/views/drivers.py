"""Driver views: per-stage key drivers, the priority matrix, stage importance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import drivers as kda
from ..errors import DataError
from ..packs import Pack
from .common import Views, _label, _weights, base_meta
from .waves import Waves, reporting_waves


def _enough(n: int, p: int, pack: Pack) -> bool:
    return n >= pack.rules.driver_min_n and n >= pack.rules.driver_min_per_driver * p


def driver_views(df: pd.DataFrame, pack: Pack, lang: str, bootstrap: int = 200, seed: int = 0,
                 wave: str | None = None, compare: str | None = None) -> Views:
    """Per-stage key drivers (with bootstrap intervals), the priority matrix of the weakest stage, and
    which stage's satisfaction matters most for customers' overall NPS — on the reporting wave's responses
    (:func:`reporting_waves`)."""
    waves = reporting_waves(df, wave, compare)
    df = waves.rows(df)
    target, method = pack.rules.driver_target, pack.rules.driver_method
    w = _weights(df)
    rows, skipped = [], []
    for stage in pack.stages:
        cols = [a for a in stage.drivers if a in df]
        sub = df.loc[df["stage"] == stage.id, [target, *cols] + ([w] if w else [])]
        complete = sub.dropna(subset=[target, *cols])
        if not cols or not _enough(len(complete), len(cols), pack):
            skipped.append(stage.id)
            continue
        try:
            res = kda.key_drivers(complete, target, cols, method=method, weights=w, bootstrap=bootstrap,
                                  seed=seed, bootstrap_rows=20_000)
        except DataError:  # e.g. every customer of the stage gave the same score: nothing to explain
            skipped.append(stage.id)
            continue
        perf = kda.performance(complete, cols, weights=w)
        names = {k: v.get(lang) for k, v in pack.rules.quadrant_names.items()}
        pm = kda.priority_matrix(res, perf, pack.rules.quadrant_split, quadrant_names=names)
        res = res.merge(pm[["driver", "performance", "quadrant", "quadrant_label"]], on="driver", how="left")
        res.insert(0, "stage", stage.id)
        res.insert(1, "stage_name", stage.name.get(lang))
        res["driver_name"] = res["driver"].map(lambda a: pack.attributes[a].short.get(lang))
        res["r2"] = res.attrs.get("r2", np.nan)
        res["n"] = len(complete)
        rows.append(res)
    out: Views = {}
    if not rows:
        return out
    table = pd.concat(rows, ignore_index=True)
    table["share_pct"] = table["share"] * 100
    if "ci_low" in table:
        table["ci"] = [f"{lo * 100:.0f}–{hi * 100:.0f}" if pd.notna(lo) else "–"
                       for lo, hi in zip(table["ci_low"], table["ci_high"])]
    else:
        table["ci"] = "–"
    fix = table[table["quadrant"] == "high_importance_low_performance"]
    # the priority matrix shown: the stage with the lowest NPS among stages with a driver model
    nps_by_stage = df.groupby("stage")["nps"].apply(lambda s: ((s >= 9).mean() - (s <= 6).mean()) * 100)
    modelled = table["stage"].unique().tolist()
    focus = min(modelled, key=lambda s: nps_by_stage.get(s, np.inf))
    pm = table[table["stage"] == focus].copy()
    pm_fix = pm[pm["quadrant"] == "high_importance_low_performance"].sort_values("share", ascending=False)
    top = (pm_fix if len(pm_fix) else pm.sort_values("share", ascending=False)).iloc[0]
    perf_rank_from_bottom = int(pm["performance"].rank(method="min").loc[top.name])
    stage_obj = pack.stage(focus)
    facts = {
        "top_fix": _label(pack.attributes[top["driver"]].short), "top_fix_stage": _label(stage_obj.name),
        "top_fix_share": float(top["share"] * 100), "top_fix_perf_rank_from_bottom": perf_rank_from_bottom,
        "top_fix_in_quadrant": bool(len(pm_fix)), "focus_stage": focus,
        "n_fix": len(fix), "n_stages": len(modelled), "skipped_stages": skipped,
        "skipped_stage_names": ({lg: ("、" if lg == "zh" else ", ").join(pack.stage_name(s, lg) for s in skipped)
                                 for lg in ("zh", "en")} if skipped else None),
        **waves.facts(),
    }
    method_note = {"zh": "Shapley值（LMG）分解R²，自助法95%区间", "en": "Shapley (LMG) decomposition of R², bootstrap 95% intervals"}[lang]
    meta = base_meta(df[df["stage"].isin(modelled)], pack, lang, facts=facts, test=method_note, **waves.meta())
    meta["base"]["n"] = int(table.groupby("stage")["n"].first().sum())
    out["stage_drivers"] = (table, meta)
    pm_meta = base_meta(df[df["stage"] == focus], pack, lang, facts=facts, test=method_note, **waves.meta())
    pm_meta["base"]["n"] = int(pm["n"].iloc[0])
    pm_meta.update(x_split=float(pm["share"].median()), y_split=float(pm["performance"].median()),
                   quadrant_labels={k: v.get(lang) for k, v in pack.rules.quadrant_names.items()},
                   x_name={"zh": "重要性", "en": "Importance"}[lang], y_name={"zh": "表现", "en": "Performance"}[lang])
    out["priority_matrix"] = (pm.reset_index(drop=True), pm_meta)
    imp = stage_importance(df, pack, lang, waves)
    if imp is not None:
        out["stage_importance"] = imp
    return out


def stage_importance(df: pd.DataFrame, pack: Pack, lang: str, waves: Waves | None = None):
    """Which stage's satisfaction explains most of customers' NPS: one row per customer, stage CSAT as
    drivers (missing by design: pairwise-complete correlations), customer mean NPS as the target."""
    score = "csat" if "csat" in pack.kpis and "csat" in df else None
    if score is None or "customer_id" not in df:
        return None
    wide = df.pivot_table(index="customer_id", columns="stage", values=score, aggfunc="mean")
    wide["__nps"] = df.groupby("customer_id")["nps"].mean()
    stages = [s for s in pack.stage_ids if s in wide and wide[s].notna().sum() >= pack.rules.driver_min_n]
    if len(stages) < 2:
        return None
    try:
        res = kda.key_drivers(wide.reset_index(drop=True), "__nps", stages, method="shapley", missing="pairwise")
    except ValueError:
        return None
    res["stage_name"] = res["driver"].map(lambda s: pack.stage_name(s, lang))
    res["share_pct"] = res["share"] * 100
    res["is_top"] = res["rank"] == 1
    top = res.sort_values("share", ascending=False).iloc[0]
    facts = {"top_stage": _label(pack.stage(top["driver"]).name), "top_share": float(top["share"] * 100),
             **(waves.facts() if waves else {})}
    meta = base_meta(df, pack, lang, facts=facts, **(waves.meta() if waves else {}),
                     test={"zh": "Shapley值分解R²（成对完整相关）", "en": "Shapley decomposition of R² (pairwise-complete)"}[lang])
    meta["base"]["n"] = int(wide["__nps"].notna().sum())
    return res, meta
