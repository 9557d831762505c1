"""Decision views: what to fix, where, why, the expected uplift, owner and horizon — the executive summary's
decisions and the roadmap slide.

Candidates are the driver attributes of every stage with a driver model. For each, the what-if model
(:func:`cemkit.whatif.topbox_uplift`) gives the stage NPS gained if the attribute's top-box share rose to the
best-quartile unit's; the overall NPS gain is that times the stage's share of NPS answers. A candidate is kept
when the uplift is positive with an interval above zero; the largest overall gains become the decisions (one per
attribute). "Why" quotes the attribute's importance (Shapley share with its interval, from the drivers
notebook's ``stage_drivers`` result when the run has it), its top-box gap to the best quartile and the theme
evidence (the pack links attributes to comment themes: ``attributes.<id>.themes``). Owner: the attribute's
``owner`` in the pack, else the owner of its stage's first touchpoint; horizon: the attribute's ``horizon``,
else the catalogue's default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import whatif
from ..engine import Dataset, q
from ..i18n import number, t
from ..packs import Pack
from .common import Views, base_meta, frame, weight_column
from .waves import reporting_waves

MAX_DECISIONS = 5


MIN_UPLIFT = 0.05  # stage NPS points: the smallest gain that shows as +0.1 at one decimal


def _unit(pack: Pack, df: pd.DataFrame) -> tuple[str | None, Any]:
    seg = next((s for s in pack.segments if s.league and s.id in df), None)
    return (seg.id, seg.name) if seg else (None, None)


def _load(run_dir: str | Path | None, name: str) -> pd.DataFrame | None:
    if run_dir is None:
        return None
    from ..results import load

    try:
        return load(run_dir, name).table
    except (FileNotFoundError, OSError):
        return None


def candidates(df: pd.DataFrame | Dataset, pack: Pack) -> pd.DataFrame:
    """What-if uplift of every (stage, driver attribute): one row each, with ``stage``, ``weight_share`` (the
    stage's share of NPS answers, 0–1) and ``overall_uplift`` (NPS points of the overall NPS). A
    :class:`~cemkit.engine.Dataset` is read one stage at a time (that stage's rows, its model columns; a wave
    within :data:`cemkit.engine.PARTS_CELLS` read once and split): the same rows in the same order as in
    memory, so the same regressions; the total of NPS answers from SQL."""
    unit, _ = _unit(pack, df)
    w = weight_column(df)
    total = _answered_weight(df, w)
    columns = set(df.columns)
    rows = []
    wanted = {s.id: [a for a in s.drivers if a in columns and pack.attributes[a].scale.good] for s in pack.stages}
    read = df.parts("stage", {s: ["nps", *cols, *([unit] if unit else []), *([w] if w else [])]
                              for s, cols in wanted.items()}) if isinstance(df, Dataset) else None
    for stage in pack.stages:
        cols = wanted[stage.id]
        if read is not None:
            sub = next(read)[1]
        else:
            sub = df[df["stage"] == stage.id]
        if not cols or len(sub) < pack.rules.driver_min_n:
            continue
        good = {a: pack.attributes[a].scale.good for a in cols}
        up = whatif.topbox_uplift(sub, "nps", good, unit=unit, weights=w)
        if up.empty:
            continue
        n_stage = float(sub.loc[sub["nps"].notna(), w].sum()) if w else float(sub["nps"].notna().sum())
        up.insert(0, "stage", stage.id)
        up["weight_share"] = n_stage / total if total else np.nan
        rows.append(up)
    if not rows:
        return pd.DataFrame()
    out = pd.concat(rows, ignore_index=True)
    for c in ("uplift", "uplift_low", "uplift_high"):
        out[f"overall_{c}"] = out[c] * out["weight_share"]
    return out


def _answered_weight(df: pd.DataFrame | Dataset, w: str | None) -> float:
    """The weight (or the number) of the responses with an NPS answer."""
    if not isinstance(df, Dataset):
        answered = df["nps"].notna()
        return float(df.loc[answered, w].sum()) if w else float(answered.sum())
    x = f"CAST({q('nps')} AS DOUBLE)"
    total = f"sum(CAST({q(w)} AS DOUBLE))" if w else "count(*)"
    v = df.sql(f"{total} AS t", df.cond(f"{x} IS NOT NULL AND NOT isnan({x})"))["t"].iloc[0]
    return float(v) if pd.notna(v) else 0.0


def decision_views(df: pd.DataFrame, pack: Pack, lang: str, run_dir: str | Path | None = None,
                   max_decisions: int = MAX_DECISIONS, wave: str | None = None, compare: str | None = None) -> Views:
    """The ``decisions`` result, on the reporting wave's responses (:func:`reporting_waves`; of a
    :class:`~cemkit.engine.Dataset`, one stage's model columns at a time: :func:`candidates`): up to
    ``max_decisions`` rows, largest overall uplift first, with the texts the summary and roadmap slides show
    and the numbers behind them."""
    waves = reporting_waves(df, wave, compare)
    unit, _ = _unit(pack, df)
    attrs = [a for st in pack.stages for a in st.drivers]
    df = waves.rows(df) if isinstance(df, Dataset) else \
        frame(waves.rows(df), ["stage", "nps", "weight", *([unit] if unit else []), *dict.fromkeys(attrs)])
    cand = candidates(df, pack)
    if cand.empty:
        return {}
    # a decision has an uplift a slide can show: its interval above zero and at least +0.1 stage NPS points
    # (an attribute already at the best quartile's top-box share has nothing to gain: "+0.0" is no decision)
    sure = cand[(cand["uplift"] >= MIN_UPLIFT) & (cand["uplift_low"] > 0)]
    sure = sure.sort_values("overall_uplift", ascending=False, kind="stable").drop_duplicates("attribute")
    top = sure.head(max_decisions).reset_index(drop=True)
    if top.empty:
        return {}
    drivers = _load(run_dir, "stage_drivers")
    themes = _load(run_dir, "themes")
    _, unit_name = _unit(pack, df)
    rows = [_row(r, pack, lang, drivers, themes, unit_name) for r in top.itertuples()]
    table = pd.DataFrame(rows)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    facts = {"n_decisions": len(table), "total_uplift": float(top["overall_uplift"].sum()),
             "summary_uplift": float(top["overall_uplift"].head(3).sum()), "n_summary": min(3, len(table)),
             "first_decision": table["what"].iloc[0], "first_uplift": float(top["overall_uplift"].iloc[0]),
             "first_owner": table["owner"].iloc[0], "n_candidates": len(cand), **waves.facts()}
    meta = base_meta(df, pack, lang, facts=facts, **waves.meta(),
                     test={"zh": "预期提升：顶框比例升至最佳四分位单位水平时的NPS变化（加权最小二乘，HC1稳健区间）",
                           "en": "expected uplift: NPS change if the top-box share rose to the best-quartile "
                                 "unit's (weighted least squares, HC1 robust interval)"}[lang])
    return {"decisions": (table, meta)}


def _small_gain(value: float) -> str:
    """A gain at one decimal; a positive gain under 0.05 reads "<+0.1", not "+0.0"."""
    return number(value, 1, sign=True) if value >= 0.05 or value <= 0 else "<+0.1"


def _row(r, pack: Pack, lang: str, drivers: pd.DataFrame | None, themes: pd.DataFrame | None,
         unit_name) -> dict[str, Any]:
    attr = pack.attributes[r.attribute]
    stage = pack.stage(r.stage)
    owner = attr.owner or next((tp.owner for tp in stage.touchpoints), None)
    horizon = attr.horizon.get(lang) if attr.horizon else t("decision_horizon_default", lang)
    why = [t("decision_gap", lang, share=number(r.share), target=number(r.target))]
    if drivers is not None and {"stage", "driver", "share_pct"} <= set(drivers.columns):
        hit = drivers[(drivers["stage"] == r.stage) & (drivers["driver"] == r.attribute)]
        if len(hit):
            h = hit.iloc[0]
            lo, hi = h.get("ci_low_pct", np.nan), h.get("ci_high_pct", np.nan)
            why.insert(0, t("decision_importance", lang, share=number(h["share_pct"]),
                            ci=f"[{number(lo)}, {number(hi)}]" if pd.notna(lo) and pd.notna(hi) else "–"))
    if themes is not None and attr.themes and "theme" in themes:
        ev = themes[themes["theme"].isin(attr.themes) & (themes.get("flag", "ok") != "low_base")]
        if len(ev):
            e = ev.sort_values("negative_rate", ascending=False).iloc[0]
            # "提及者NPS低7分", not "差-7" (a minus sign a table cell wraps away from its number)
            gap = float(e["gap"]) if pd.notna(e["gap"]) else 0.0
            side = "level" if number(abs(gap)) == "0" else "lower" if gap < 0 else "higher"
            why.append(t(f"decision_theme_{side}", lang, theme=e["theme_name"], share=number(e["neg_share"]),
                         gap=number(abs(gap))))
    where = t("decision_where", lang, stage=stage.name.get(lang))
    if r.units_bottom and unit_name is not None:
        where = t("decision_where_units", lang, stage=stage.name.get(lang), n=int(r.units_bottom),
                  unit=unit_name.get(lang), worst="、".join(r.worst_units[:2]) if lang == "zh" else ", ".join(r.worst_units[:2]))
    sep = "；" if lang == "zh" else "; "
    return {
        "stage": r.stage, "stage_name": stage.name.get(lang), "attribute": r.attribute,
        "what": t("decision_what", lang, attribute=attr.name.get(lang)), "where": where, "why": sep.join(why),
        "uplift": float(r.overall_uplift), "uplift_low": float(r.overall_uplift_low),
        "uplift_high": float(r.overall_uplift_high), "stage_uplift": float(r.uplift),
        "uplift_text": t("decision_uplift", lang, overall=_small_gain(r.overall_uplift),
                         stage=stage.name.get(lang), stage_uplift=number(r.uplift, 1, sign=True)),
        "assumption": t("decision_assumption", lang, attribute=attr.short.get(lang), share=number(r.share),
                        target=number(r.target)),
        "share": float(r.share), "target": float(r.target), "beta": float(r.beta),
        "owner": owner.get(lang) if owner else "–", "horizon": horizon,
        "units_bottom": int(r.units_bottom), "n": int(r.n),
    }
