"""Text views: themes, their impact on NPS, theme × stage, quotes, words, discovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..packs import Pack
from .common import Views, base_meta
from .waves import reporting_waves


def text_views(df: pd.DataFrame, pack: Pack, lang: str, run_dir: str | Path | None = None, n_quotes: int = 6,
               wave: str | None = None, compare: str | None = None, sentiment_model: Any = None, *,
               tags: pd.DataFrame | None = None) -> Views:
    """Theme mention and negative rates, impact on NPS, theme × stage heat map, quotes, word cloud and
    discovery candidates (written to ``discovery_candidates.yaml``), on the reporting wave's comments
    (:func:`reporting_waves`). The comments of the reporting and the comparison wave are tagged; the tags
    (``row`` = position in ``df``) are saved to ``data/theme_tags.parquet`` for the alert rules.
    ``sentiment_model``: a learned model (``cemkit learn``) whose polarity the theme mentions follow where it
    was kept (docs/text.md, "Learning from labels"); the ``sentiment_model`` view says which was used.
    ``tags``: those tags when the notebook has made them already (:func:`cemkit.text.tag_themes` of
    ``df["comment"][waves.mask(df, with_compare=True)]`` with the same model, ``df`` numbered from 0)."""
    from .. import text

    df = df.reset_index(drop=True)
    waves = reporting_waves(df, wave, compare)
    tagged = df[waves.mask(df, with_compare=True)]  # index labels are positions in df: the tags' rows are too
    all_tags = text.tag_themes(tagged["comment"], pack, model=sentiment_model) if tags is None else tags
    if run_dir is not None:
        (Path(run_dir) / "data").mkdir(parents=True, exist_ok=True)
        all_tags.to_parquet(Path(run_dir) / "data" / "theme_tags.parquet", index=False)
    df = waves.rows(tagged)
    tags = all_tags if waves.compare is None else all_tags[all_tags["row"].isin(df.index)]
    imp = text.theme_impact(df, pack, tags)
    names = {t.id: t.name.get(lang) for t in pack.themes}
    ov = imp.overall()
    ov = ov[(ov["n_comments"] > 0) & (ov["mentions"] > 0)].copy()  # themes nobody mentioned are no finding
    out: Views = {}
    if sentiment_model is not None:
        out["sentiment_model"] = _sentiment_model_view(df, pack, lang, sentiment_model)
    if ov.empty:
        return out
    ov["theme_name"] = ov["theme"].map(names)
    ov["negative_rate"] = ov["mention_rate"] * ov["neg_share"].fillna(0) / 100
    n_comments = int(ov["n_comments"].iloc[0])
    shown = ov[ov["flag"] != "low_base"]
    pick = shown if len(shown) else ov
    top_neg = pick.sort_values("negative_rate", ascending=False).iloc[0]
    method = {"zh": "主题：行业词典分句标注；NPS差值：提及者与未提及者（有评论者）之差",
              "en": "themes: clause tagging from the pack taxonomy; gap: mentioners vs other commenters"}[lang]
    if sentiment_model is not None and sentiment_model.kept:
        method += {"zh": "；情感：规则与客户标注学习模型", "en": "; sentiment: rules + model learned from client labels"}[lang]
    gap = float(top_neg["gap"]) if pd.notna(top_neg["gap"]) else 0.0
    facts = {"top_neg_theme": top_neg["theme_name"], "top_neg_rate": float(top_neg["negative_rate"]),
             "top_neg_gap": -gap, "top_neg_lower": gap < 0 and bool(top_neg["significant"]), "n_comments": n_comments,
             **waves.facts()}
    meta = base_meta(df[df["comment"].notna()], pack, lang, facts=facts, test=method, **waves.meta())
    meta["base"]["n"] = n_comments
    out["themes"] = (ov.sort_values("mention_rate", ascending=False).reset_index(drop=True), meta)
    if waves.compare is not None:
        before = tagged[(tagged["wave"].astype("string") == waves.compare).fillna(False).to_numpy(dtype=bool)]
        prev = text.theme_impact(before, pack, all_tags[all_tags["row"].isin(before.index)], keywords=False,
                                 quotes=False).overall()
        ch = theme_changes(ov, prev, pack)
        ch.insert(1, "theme_name", ch["theme"].map(names))
        rises = ch[ch["significant"] & (ch["diff"] > 0)].sort_values("diff", ascending=False)
        cfacts = {"n_theme_rises": len(rises), "top_rise_theme": rises["theme_name"].iloc[0] if len(rises) else None,
                  "top_rise": float(rises["diff"].iloc[0]) if len(rises) else None, **waves.facts()}
        ctest = {"zh": "提及率变化：两比例z检验（各波次有评论者为基数），Holm校正",
                 "en": "change in mention rate: two-proportion z test (each wave's commenters), Holm-corrected"}[lang]
        out["theme_changes"] = (ch, {**meta, "facts": cfacts, "test": ctest})

    if len(shown):  # an NPS gap between mentioners and the rest needs a readable base of mentioners
        imp_tab = shown.assign(nps_gap=shown["gap"], impact_abs=-shown["contribution"]).sort_values("contribution")
        worst = imp_tab.iloc[0]
        ifacts = {"most_damaging": worst["theme_name"], "most_damaging_gap": float(-worst["gap"]),
                  "most_damaging_contribution": float(worst["contribution"])}
        out["theme_impact"] = (imp_tab.reset_index(drop=True), {**meta, "facts": {**ifacts, **waves.facts()}})

    by_stage = imp.table[(imp.table["stage"] != "__all__") & (imp.table["wave"] == "__all__")].copy()
    if len(by_stage):
        by_stage["neg_rate"] = by_stage["mention_rate"] * by_stage["neg_share"].fillna(0) / 100
        stage_names = {s.id: s.name.get(lang) for s in pack.stages}
        heat = by_stage.pivot_table(index="theme", columns="stage", values="mention_rate", aggfunc="first")
        heat = heat.reindex(index=[t for t in names if t in heat.index and t in set(ov["theme"])],
                            columns=[s for s in pack.stage_ids if s in heat.columns])
        readable = by_stage[by_stage["flag"] != "low_base"]  # the title names a cell with a readable base
        wide = heat.rename(columns=stage_names).reset_index()
        wide.insert(0, "theme_name", wide.pop("theme").map(names))
        if len(readable):
            hot = readable.sort_values("neg_rate", ascending=False).iloc[0]
            hfacts = {"hot_stage": stage_names[hot["stage"]], "hot_theme": names[hot["theme"]],
                      "hot_rate": float(hot["neg_rate"])}
            out["theme_stage"] = (wide, {**meta, "facts": {**hfacts, **waves.facts()}})

    q = imp.quotes
    if len(q):
        neg_order = list(pick.sort_values("negative_rate", ascending=False)["theme"])
        pos_order = list(pick.assign(pr=pick["mention_rate"] * pick["pos_share"].fillna(0)).sort_values(
            "pr", ascending=False)["theme"])
        chosen = []
        for order, pol in ((neg_order, -1), (pos_order, 1)):
            cand = q[q["polarity"] == pol].drop_duplicates("theme")
            cand = cand.set_index("theme").reindex([t for t in order if t in set(cand["theme"])]).reset_index()
            chosen.append(cand.head(n_quotes // 2 if pol == 1 else n_quotes - n_quotes // 2))
        quotes = pd.concat(chosen, ignore_index=True)
        quotes["theme_name"] = quotes["theme"].map(names)
        quotes = quotes.rename(columns={"text": "quote"})
        out["quotes"] = (quotes[["theme", "theme_name", "quote", "polarity"]], {**meta, "facts": waves.facts()})

    kw = imp.keywords
    if len(kw):
        words = (kw[kw["scope"] == "all"].groupby("word", as_index=False)["count"].sum()
                 .sort_values("count", ascending=False).head(60).rename(columns={"count": "weight"}))
        sep = "、" if lang == "zh" else ", "
        out["wordcloud"] = (words.reset_index(drop=True), {**meta, "facts": {"top_words": sep.join(words["word"].head(5)), **waves.facts()}})
        out["keywords"] = (kw, {**meta, "facts": waves.facts()})

    dw = text.distinctive_words(df["comment"], df["nps"], pack)
    if len(dw):
        sep = "、" if lang == "zh" else ", "
        dw = dw.assign(lean=-dw["z"]).sort_values("lean", kind="stable").reset_index(drop=True)
        det, pro = dw[dw["group"] == "detractor"], dw[dw["group"] == "promoter"]
        dfacts = {"detractor_words": sep.join(det["word"].head(4)) if len(det) else None,
                  "promoter_words": sep.join(pro.sort_values("z")["word"].head(4)) if len(pro) else None}
        said = df["comment"].notna() & ((df["nps"] >= 9) | (df["nps"] <= 6))  # detractor and promoter comments
        dmeta = base_meta(df[said], pack, lang, facts={**dfacts, **waves.facts()}, **waves.meta(),
                          test={"zh": "对数优势比（信息性狄利克雷先验）z值，|z|≥1.96",
                                "en": "log-odds ratio with informative Dirichlet prior, |z| ≥ 1.96"}[lang])
        out["distinctive_words"] = (dw, dmeta)

    cand = text.discover(df["comment"], pack, tags)
    if len(cand):
        if run_dir is not None:
            text.write_candidates_yaml(cand, Path(run_dir) / "discovery_candidates.yaml")
        tab = cand.assign(top_words=cand["top_words"].map(" ".join), keywords=cand["keywords"].map(" ".join),
                          quotes=cand["quotes"].map(" | ".join))
        out["discovery"] = (tab, {**meta, "facts": {"n_candidates": len(cand), **waves.facts()}})
    return out


def _sentiment_model_view(df: pd.DataFrame, pack: Pack, lang: str, model: Any) -> tuple[pd.DataFrame, dict]:
    """Which comment sentiment the run used and the guard's figures behind it (datapack and notebook)."""
    i = model.info

    def pct(x: Any) -> str:
        return "" if x is None else f"{100 * float(x):.1f}"

    rows = {"zh": ["采用", "标注评论数", "交叉验证准确率（%）", "规则准确率（%）", "说明"],
            "en": ["used", "labelled comments", "cross-validated accuracy (%)", "rules accuracy (%)", "note"]}[lang]
    used = {"zh": "学习模型" if model.kept else "规则", "en": "learned model" if model.kept else "rules"}[lang]
    table = pd.DataFrame({"item": rows, "value": [used, str(i.get("n", "")), pct(i.get("cv_accuracy")),
                                                  pct(i.get("rules_accuracy")), model.report(lang)]})
    facts = {"sentiment_learned": bool(model.kept), "sentiment_labels": i.get("n")}
    return table, base_meta(df[df["comment"].notna()], pack, lang, facts=facts)


def theme_changes(now: pd.DataFrame, before: pd.DataFrame, pack: Pack) -> pd.DataFrame:
    """Each theme's mention rate in the reporting wave against the comparison wave (rows of
    :meth:`ThemeImpact.overall`, rates in % of commenters): ``rate_prev, rate_last, diff`` (points), a
    two-sided two-proportion z test with unpooled standard errors on each wave's commenters, corrected with
    the pack's method across themes (:func:`cemkit.metrics.p_adjust`), ``significant`` and ``marker``."""
    from scipy import stats

    from .. import metrics as m

    prev = before.set_index("theme")
    out = pd.DataFrame({"theme": now["theme"].to_numpy(),
                        "rate_prev": prev["mention_rate"].reindex(now["theme"]).fillna(0.0).to_numpy(),
                        "rate_last": now["mention_rate"].to_numpy(),
                        "n_prev": int(before["n_comments"].max()) if len(before) else 0,
                        "n_last": now["n_comments"].to_numpy()})
    p0, p1 = out["rate_prev"] / 100, out["rate_last"] / 100
    n0, n1 = out["n_prev"].astype(float), out["n_last"].astype(float)
    out["diff"] = out["rate_last"] - out["rate_prev"]
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
        z = np.where(se > 0, (p1 - p0) / se, 0.0)
    tested = (n0 > 0) & (n1 > 0)
    out["p_value"] = np.where(tested, 2 * stats.norm.sf(np.abs(z)), np.nan)
    out["p_adj"] = np.nan
    if tested.any():
        out.loc[tested, "p_adj"] = m.p_adjust(out.loc[tested, "p_value"].to_numpy(), pack.rules.correction)
    out["significant"] = (out["p_adj"] < pack.rules.alpha).fillna(False)
    out["marker"] = np.where(out["significant"], np.where(out["diff"] > 0, "↑", "↓"), "")
    return out.sort_values("diff", ascending=False, kind="stable").reset_index(drop=True)
