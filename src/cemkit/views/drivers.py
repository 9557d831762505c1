"""Driver views: per-stage key drivers, the priority matrix, stage importance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import drivers as kda
from ..packs import Pack
from .common import Views, _label, base_meta, frame, weight_column
from .waves import Waves, reporting_waves

#: rows a stage's bootstrap resamples at most (m-out-of-n bootstrap, :func:`cemkit.drivers.key_drivers`)
BOOTSTRAP_ROWS = 20_000

_METHOD_NOTE = {
    "shapley": {"zh": "Shapley值（LMG）分解R²", "en": "Shapley (LMG) decomposition of R²"},
    "relative_weights": {"zh": "相对权重法（Johnson）分解R²", "en": "relative weights (Johnson) decomposition of R²"},
    "beta": {"zh": "标准化回归系数平方的占比", "en": "shares of squared standardised betas"},
    "logistic": {"zh": "逻辑回归McFadden伪R²的Shapley分解", "en": "Shapley decomposition of logistic McFadden pseudo-R²"},
}


def method_note(method: str, bootstrap: int, lang: str) -> str:
    """The footnote's words for a driver method (and its bootstrap intervals)."""
    note = _METHOD_NOTE.get(method, {"zh": method, "en": method})[lang]
    if bootstrap:
        note += {"zh": "，自助法95%区间", "en": ", bootstrap 95% intervals"}[lang]
    return note


def driver_columns(pack: Pack) -> list[str]:
    """The columns the driver models and their footnotes read: what :func:`cemkit.views.frame` takes from a
    :class:`cemkit.engine.Dataset` for the drivers notebook."""
    return list(dict.fromkeys(["stage", "customer_id", "weight", "nps", "csat", pack.rules.driver_target,
                               *(a for s in pack.stages for a in s.drivers)]))


def driver_views(df: pd.DataFrame, pack: Pack, lang: str, bootstrap: int = 200, seed: int = 0,
                 wave: str | None = None, compare: str | None = None, *, models=None) -> Views:
    """Per-stage key drivers (with bootstrap intervals), the priority matrix of the weakest stage, and
    which stage's satisfaction matters most for customers' overall NPS — on the reporting wave's responses
    (:func:`reporting_waves`), by the pack's rules (``rules.drivers``: method, target, minimum bases; change
    them with :meth:`Pack.with_rules`). ``models``: the ``(models, skipped)`` of
    :func:`cemkit.drivers.key_drivers_by` over the pack's stages on those responses, when the notebook has
    fitted them already; else they are fitted here with ``bootstrap`` and ``seed``."""
    waves = reporting_waves(df, wave, compare)
    df = frame(waves.rows(df), driver_columns(pack))  # DuckDB: only the reporting wave's model columns
    w = weight_column(df)
    if models is None:
        models = kda.key_drivers_by(df, pack.rules.driver_target, {s.id: s.drivers for s in pack.stages}, "stage",
                                    min_n=pack.rules.driver_min_n, min_per_driver=pack.rules.driver_min_per_driver,
                                    method=pack.rules.driver_method, weights=w, bootstrap=bootstrap, seed=seed,
                                    bootstrap_rows=BOOTSTRAP_ROWS)
    fitted, skip = models
    rows = []
    skipped = [s.id for s in pack.stages if s.id in skip]
    for stage in pack.stages:
        if stage.id not in fitted:
            continue
        res = fitted[stage.id].copy()
        cols = list(res["driver"])
        complete = df.loc[df["stage"] == stage.id, [pack.rules.driver_target, *cols] + ([w] if w else [])]
        complete = complete.dropna(subset=[pack.rules.driver_target, *cols])
        perf = kda.performance(complete, cols, weights=w)
        names = {k: v.get(lang) for k, v in pack.rules.quadrant_names.items()}
        pm = kda.priority_matrix(res, perf, pack.rules.quadrant_split, quadrant_names=names)
        r2 = res.attrs.get("r2", np.nan)
        res = res.merge(pm[["driver", "performance", "quadrant", "quadrant_label"]], on="driver", how="left")
        res.insert(0, "stage", stage.id)
        res.insert(1, "stage_name", stage.name.get(lang))
        res["driver_name"] = res["driver"].map(lambda a: pack.attributes[a].short.get(lang))
        res["r2"] = r2
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
    note = method_note(pack.rules.driver_method, int(fitted[modelled[0]].attrs.get("bootstrap") or 0), lang)
    meta = base_meta(df[df["stage"].isin(modelled)], pack, lang, facts=facts, test=note, **waves.meta())
    meta["base"]["n"] = int(table.groupby("stage")["n"].first().sum())
    out["stage_drivers"] = (table, meta)
    pm_meta = base_meta(df[df["stage"] == focus], pack, lang, facts=facts, test=note, **waves.meta())
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
