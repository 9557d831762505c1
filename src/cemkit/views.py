"""Views: turn analysis outputs into the result tables and *facts* that slides and HTML sections show.

Statistics live in :mod:`cemkit.metrics`, :mod:`cemkit.drivers`, :mod:`cemkit.text` and the action modules;
this module only selects, labels (in the report language) and summarises them into facts — the plain
values (names, numbers, flags) that the storyline's title templates are filled from. Each ``*_views``
function returns ``{result name: (table, meta)}``; :func:`save_all` writes them into the run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import drivers as kda
from . import metrics as m
from .errors import DataError
from .i18n import t
from .packs import Pack
from .results import save

__all__ = ["action_views", "base_meta", "data_quality_views", "driver_views", "journey_views", "period_of", "prediction_views", "read_responses", "save_all", "show", "text_views", "write_csv"]

Views = dict[str, tuple[pd.DataFrame, dict[str, Any]]]


def show(views: Views, name: str, rows: int = 20):
    """A result table for display in a notebook, or a sentence saying why there is none."""
    if name not in views:
        return f"no {name!r} result: not enough data or not configured in this pack"
    return views[name][0].head(rows)


def read_responses(run_dir: str | Path, comments: bool = True) -> pd.DataFrame:
    """The run's clean response table (``data/responses.parquet``, written by the data-check notebook).
    ``comments=False`` leaves out the verbatim column — the largest by far, needed only by the text and
    action notebooks — which saves memory and about a second of reading on a million responses."""
    path = Path(run_dir) / "data" / "responses.parquet"
    if comments:
        return pd.read_parquet(path)
    import pyarrow.parquet as pq

    return pd.read_parquet(path, columns=[c for c in pq.read_schema(path).names if c != "comment"])


def save_all(run_dir: str | Path, views: Views) -> list[str]:
    for name, (table, meta) in views.items():
        save(run_dir, name, table, meta)
    return list(views)


def _weights(df: pd.DataFrame) -> str | None:
    return "weight" if "weight" in df and df["weight"].notna().any() and (df["weight"] != 1).any() else None


def base_meta(df: pd.DataFrame, pack: Pack, lang: str, **extra: Any) -> dict[str, Any]:
    """The footnote inputs every data slide carries: base n (and weighted effective n), weighting, rules."""
    n = len(df)
    meta: dict[str, Any] = {"base": {"n": n}}
    w = _weights(df)
    if w:
        ww = df[w].to_numpy(dtype=float)
        meta["base"]["n_eff"] = float(ww.sum() ** 2 / (ww**2).sum())
        meta["weighting"] = {"zh": "已加权", "en": "weighted"}[lang]
    meta["base_rule"] = {"suppress_below": pack.rules.suppress_below, "caution_below": pack.rules.caution_below}
    meta.update(extra)
    return meta


def period_of(df: pd.DataFrame) -> str:
    waves = sorted(str(w) for w in df["wave"].dropna().unique()) if "wave" in df else []
    if not waves:
        return ""
    return waves[0] if len(waves) == 1 else f"{waves[0]}–{waves[-1]}"


def _label(value: Any) -> dict[str, str]:
    """A fact that names something, in both languages (the title formatter picks one)."""
    if hasattr(value, "zh"):
        return {"zh": value.zh, "en": value.en}
    return {"zh": str(value), "en": str(value)}


# ----------------------------------------------------------------------------------------- data quality
def _total(value: Any) -> int:
    """A count, or the sum of a (nested) mapping of counts."""
    if isinstance(value, dict):
        return sum(_total(v) for v in value.values())
    return int(value) if isinstance(value, (int, float, np.integer)) and not isinstance(value, bool) else 0


def data_quality_views(prep, pack: Pack, lang: str, synthetic: bool = False) -> Views:
    """Accounting table (input = used + quarantined, reasons, masking, O-data join) and its facts."""
    acc = prep.accounting
    from .i18n import catalogue

    cat = catalogue(lang)
    rows = [(t("input_rows", lang), acc["input_rows"]), (t("used_rows", lang), acc["used"]),
            (t("quarantined_rows", lang), acc["quarantined"])]
    rows += [(f"  {cat.get('q_' + reason, reason)}", count) for reason, count in (acc.get("by_reason") or {}).items()]
    for key in ("cells_blanked", "dates_unparsed", "durations_unparsed", "customer_id_missing", "wave_derived",
                "wave_missing", "straightliners"):
        value = _total(acc.get(key))
        if value:
            rows.append((cat.get(f"dq_{key}", key), int(value)))
    masked = acc.get("masked") or {}
    rows += [(f"{cat['dq_masked']}：{cat.get('dq_' + kind, kind)}" if lang == "zh" else
              f"{cat['dq_masked']}: {cat.get('dq_' + kind, kind)}", count) for kind, count in masked.items() if count]
    for key, value in acc.items():
        if key.startswith("odata_") and isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((cat.get(f"dq_{key}", key), value))
    table = pd.DataFrame(rows, columns=["item", "count"])
    df = prep.responses
    facts = {"input_rows": acc["input_rows"], "n_used": acc["used"], "quarantined": acc["quarantined"],
             "period": period_of(df), "waves": sorted(df["wave"].dropna().astype(str).unique().tolist()),
             "synthetic": synthetic}
    meta = base_meta(df, pack, lang, facts=facts)
    meta.pop("base_rule", None)
    out: Views = {"data_quality": (table, meta)}
    reasons = pd.DataFrame(sorted((acc.get("by_reason") or {}).items()), columns=["reason", "count"])
    out["quarantine_reasons"] = (reasons, {"facts": {}})
    out["masking"] = (pd.DataFrame(sorted(masked.items()), columns=["kind", "count"]), {"facts": {}})
    return out


# ---------------------------------------------------------------------------------------------- journey
_FLAG_TEXT = {"zh": {"ok": "", "caution": "谨慎解读", "low_base": "低基数"},
              "en": {"ok": "", "caution": "caution", "low_base": "low base"}}


def _ci_text(lo: pd.Series, hi: pd.Series, decimals: int = 0) -> list[str]:
    return [f"{a:.{decimals}f}–{b:.{decimals}f}" if pd.notna(a) and pd.notna(b) else "–" for a, b in zip(lo, hi)]


def journey_views(df: pd.DataFrame, pack: Pack, lang: str) -> Views:
    """Journey curve, NPS composition, wave trend and changes, league table and the full journey table."""
    segs = [s for s in pack.segment_ids if s in df]
    table = m.journey_table(df, pack, by=segs, waves=True)
    changes = m.wave_change(table, pack)
    curve = m.journey_curve(table, pack, metric="nps", changes=changes, lang=lang)
    facts = m.journey_facts(curve, changes, pack, lang, table=table)
    sig = {"alpha": pack.rules.alpha, "correction": pack.rules.correction}
    test = {"zh": "波次变化：两独立样本z检验", "en": "wave change: two-sample z test"}[lang]
    out: Views = {}
    meta = base_meta(df, pack, lang, facts=facts, significance=sig, test=test)
    out["journey_curve"] = (curve, meta)

    comp = m.nps_composition(df, pack, lang=lang)
    comp["name"] = comp["name"].where(comp["unit"] != m.ALL, {"zh": "整体", "en": "Overall"}[lang])
    comp["label"] = [f"{n}（NPS {v:.0f}）" if lang == "zh" and pd.notna(v) else (f"{n} (NPS {v:.0f})" if pd.notna(v) else str(n))
                     for n, v in zip(comp["name"], comp["nps"])]
    out["nps_composition"] = (comp, base_meta(df, pack, lang, facts=m.composition_facts(comp)))

    tr = m.trend(table, pack, changes=changes, lang=lang)
    tr = tr[tr["stage"] != m.ALL] if (tr["stage"] != m.ALL).any() else tr
    out["wave_trend"] = (tr.reset_index(drop=True), meta)

    ch = changes[(changes["segment"] == m.ALL) & (changes["stat"] == changes["metric"].map(lambda k: m.headline_stat(pack, k)))].copy()
    ch["stage_name"] = [pack.stage_name(s, lang) if s != m.ALL else {"zh": "整体", "en": "Overall"}[lang] for s in ch["stage"]]
    out["wave_changes"] = (ch.reset_index(drop=True), meta)

    league_seg = next((s.id for s in pack.segments if s.league and s.id in df), None)
    if league_seg:
        lg = m.league_table(df, pack, league_seg)
        lg["ci"] = _ci_text(lg["ci_low"], lg["ci_high"])
        lg["tier"] = lg["tier"].map(lambda x: f"{int(x)}" if pd.notna(x) else "–")
        lmeta = base_meta(df, pack, lang, facts={**m.league_facts(lg), "unit_name": _label(pack.segments[pack.segment_ids.index(league_seg)].name)},
                          test={"zh": "梯队：95%置信区间与领先者重叠", "en": "tiers: 95% interval overlaps the leader's"}[lang])
        out["league"] = (lg, lmeta)

    jt = table[(table["stat"] == table["metric"].map(lambda k: m.headline_stat(pack, k)))].copy()
    jt["stage_name"] = [pack.stage_name(s, lang) if s != m.ALL else {"zh": "整体", "en": "Overall"}[lang] for s in jt["stage"].astype(str)]
    jt["metric_name"] = jt["metric"].map(lambda k: pack.kpis[k].name.get(lang))
    jt["ci"] = _ci_text(jt["ci_low"], jt["ci_high"])
    jt["flag_text"] = jt["flag"].map(_FLAG_TEXT[lang])
    out["journey_table"] = (jt.reset_index(drop=True), meta)
    return out


# ---------------------------------------------------------------------------------------------- drivers
def _enough(n: int, p: int, pack: Pack) -> bool:
    return n >= pack.rules.driver_min_n and n >= pack.rules.driver_min_per_driver * p


def driver_views(df: pd.DataFrame, pack: Pack, lang: str, bootstrap: int = 200, seed: int = 0) -> Views:
    """Per-stage key drivers (with bootstrap intervals), the priority matrix of the weakest stage, and
    which stage's satisfaction matters most for customers' overall NPS."""
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
    }
    method_note = {"zh": "Shapley值（LMG）分解R²，自助法95%区间", "en": "Shapley (LMG) decomposition of R², bootstrap 95% intervals"}[lang]
    meta = base_meta(df[df["stage"].isin(modelled)], pack, lang, facts=facts, test=method_note)
    meta["base"]["n"] = int(table.groupby("stage")["n"].first().sum())
    out["stage_drivers"] = (table, meta)
    pm_meta = base_meta(df[df["stage"] == focus], pack, lang, facts=facts, test=method_note)
    pm_meta["base"]["n"] = int(pm["n"].iloc[0])
    pm_meta.update(x_split=float(pm["share"].median()), y_split=float(pm["performance"].median()),
                   quadrant_labels={k: v.get(lang) for k, v in pack.rules.quadrant_names.items()},
                   x_name={"zh": "重要性", "en": "Importance"}[lang], y_name={"zh": "表现", "en": "Performance"}[lang])
    out["priority_matrix"] = (pm.reset_index(drop=True), pm_meta)
    imp = stage_importance(df, pack, lang)
    if imp is not None:
        out["stage_importance"] = imp
    return out


def stage_importance(df: pd.DataFrame, pack: Pack, lang: str):
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
    facts = {"top_stage": _label(pack.stage(top["driver"]).name), "top_share": float(top["share"] * 100)}
    meta = base_meta(df, pack, lang, facts=facts,
                     test={"zh": "Shapley值分解R²（成对完整相关）", "en": "Shapley decomposition of R² (pairwise-complete)"}[lang])
    meta["base"]["n"] = int(wide["__nps"].notna().sum())
    return res, meta


# ------------------------------------------------------------------------------------------------- text
def text_views(df: pd.DataFrame, pack: Pack, lang: str, run_dir: str | Path | None = None, n_quotes: int = 6) -> Views:
    """Theme mention and negative rates, impact on NPS, theme × stage heat map, quotes, word cloud and
    discovery candidates (written to ``discovery_candidates.yaml``). Theme tags are saved to
    ``data/theme_tags.parquet`` for the alert rules."""
    from . import text

    df = df.reset_index(drop=True)
    tags = text.tag_themes(df["comment"], pack)
    if run_dir is not None:
        (Path(run_dir) / "data").mkdir(parents=True, exist_ok=True)
        tags.to_parquet(Path(run_dir) / "data" / "theme_tags.parquet", index=False)
    imp = text.theme_impact(df, pack, tags)
    names = {t.id: t.name.get(lang) for t in pack.themes}
    ov = imp.overall()
    ov = ov[(ov["n_comments"] > 0) & (ov["mentions"] > 0)].copy()  # themes nobody mentioned are no finding
    out: Views = {}
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
    gap = float(top_neg["gap"]) if pd.notna(top_neg["gap"]) else 0.0
    facts = {"top_neg_theme": top_neg["theme_name"], "top_neg_rate": float(top_neg["negative_rate"]),
             "top_neg_gap": -gap, "top_neg_lower": gap < 0 and bool(top_neg["significant"]), "n_comments": n_comments}
    meta = base_meta(df[df["comment"].notna()], pack, lang, facts=facts, test=method)
    meta["base"]["n"] = n_comments
    out["themes"] = (ov.sort_values("mention_rate", ascending=False).reset_index(drop=True), meta)

    if len(shown):  # an NPS gap between mentioners and the rest needs a readable base of mentioners
        imp_tab = shown.assign(nps_gap=shown["gap"], impact_abs=-shown["contribution"]).sort_values("contribution")
        worst = imp_tab.iloc[0]
        ifacts = {"most_damaging": worst["theme_name"], "most_damaging_gap": float(-worst["gap"]),
                  "most_damaging_contribution": float(worst["contribution"])}
        out["theme_impact"] = (imp_tab.reset_index(drop=True), {**meta, "facts": ifacts})

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
            out["theme_stage"] = (wide, {**meta, "facts": hfacts})

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
        out["quotes"] = (quotes[["theme", "theme_name", "quote", "polarity"]], {**meta, "facts": {}})

    kw = imp.keywords
    if len(kw):
        words = (kw[kw["scope"] == "all"].groupby("word", as_index=False)["count"].sum()
                 .sort_values("count", ascending=False).head(60).rename(columns={"count": "weight"}))
        sep = "、" if lang == "zh" else ", "
        out["wordcloud"] = (words.reset_index(drop=True), {**meta, "facts": {"top_words": sep.join(words["word"].head(5))}})
        out["keywords"] = (kw, {**meta, "facts": {}})

    dw = text.distinctive_words(df["comment"], df["nps"], pack)
    if len(dw):
        sep = "、" if lang == "zh" else ", "
        dw = dw.assign(lean=-dw["z"]).sort_values("lean", kind="stable").reset_index(drop=True)
        det, pro = dw[dw["group"] == "detractor"], dw[dw["group"] == "promoter"]
        dfacts = {"detractor_words": sep.join(det["word"].head(4)) if len(det) else None,
                  "promoter_words": sep.join(pro.sort_values("z")["word"].head(4)) if len(pro) else None}
        said = df["comment"].notna() & ((df["nps"] >= 9) | (df["nps"] <= 6))  # detractor and promoter comments
        dmeta = base_meta(df[said], pack, lang, facts=dfacts,
                          test={"zh": "对数优势比（信息性狄利克雷先验）z值，|z|≥1.96",
                                "en": "log-odds ratio with informative Dirichlet prior, |z| ≥ 1.96"}[lang])
        out["distinctive_words"] = (dw, dmeta)

    cand = text.discover(df["comment"], pack, tags)
    if len(cand):
        if run_dir is not None:
            text.write_candidates_yaml(cand, Path(run_dir) / "discovery_candidates.yaml")
        tab = cand.assign(top_words=cand["top_words"].map(" ".join), keywords=cand["keywords"].map(" ".join),
                          quotes=cand["quotes"].map(" | ".join))
        out["discovery"] = (tab, {**meta, "facts": {"n_candidates": len(cand)}})
    return out


# ---------------------------------------------------------------------------------------------- actions
def action_views(df: pd.DataFrame, pack: Pack, lang: str, run_dir: str | Path,
                 tags: pd.DataFrame | None = None, max_xlsx_rows: int = 5_000) -> Views:
    """Alerts (alerts.csv, alerts.xlsx), segment playbooks (playbooks.xlsx) and the detractor-risk model for
    customers who did not answer (top_risk.xlsx), each with its facts.

    Every alert is in alerts.csv and every customer's play in playbooks.csv (UTF-8 with BOM, open in Excel).
    The workbooks hold the summaries and, above ``max_xlsx_rows`` rows, the highest priorities / detractors
    first (openpyxl writes ~2k formatted rows/s: a 300k-row workbook would take minutes and is no way to
    work a list)."""
    from . import alerts as al
    from . import playbooks as pb

    run_dir = Path(run_dir)
    out: Views = {}
    if pack.section("alerts"):
        alerts = al.evaluate_alerts(df, pack, themes=tags, lang=lang)
        write_csv(alerts, run_dir / "alerts.csv")
        book = alerts
        if len(alerts) > max_xlsx_rows:
            book = alerts.sort_values(["priority", "created"], kind="stable").head(max_xlsx_rows)
        al.write_alerts_xlsx(book, run_dir / "alerts.xlsx", lang)
        table, facts = al.alerts_summary(alerts, lang)
        facts["in_xlsx"] = len(book)
        out["alerts_summary"] = (table, base_meta(df, pack, lang, facts=facts))
    if pack.section("playbooks"):
        assigned = pb.assign(df, pack, lang)
        write_csv(assigned, run_dir / "playbooks.csv")
        book = assigned
        if len(assigned) > max_xlsx_rows:  # the full list is in playbooks.csv; the workbook keeps detractors first
            order = {"detractor": 0, "passive": 1, "promoter": 2}
            key = assigned["group"].map(order) if "group" in assigned else pd.Series(0, index=assigned.index)
            book = assigned.loc[key.sort_values(kind="stable").index].head(max_xlsx_rows)
        pb.write_playbooks_xlsx(book, pack, run_dir / "playbooks.xlsx", lang)
        table, facts = pb.summary(assigned, pack, lang)
        out["playbooks"] = (table, base_meta(df, pack, lang, facts=facts))
    return out


def prediction_views(df: pd.DataFrame, pack: Pack, lang: str, run_dir: str | Path,
                     odata: pd.DataFrame | None = None, seed: int = 0) -> Views:
    """The detractor-risk model from O-data (refused with its reason when it cannot be trusted) and the
    ranked list of silent customers (top_risk.xlsx)."""
    from . import predict as pr

    run_dir = Path(run_dir)
    out: Views = {}
    if odata is not None and len(odata) and (pack.odata or {}).get("features"):
        pred = pr.fit_predict(df, odata, pack, seed=seed, lang=lang)
        facts = {**pred.facts, "refused": bool(pred.refused)}
        meta = base_meta(df, pack, lang, facts=facts,
                         test={"zh": "5折交叉验证AUC", "en": "5-fold cross-validated AUC"}[lang])
        meta["base"]["n"] = int(pred.n_labelled)
        if pred.refused:
            reason = facts.get("reason") or {}
            lines = [reason.get(lang, str(reason)) if isinstance(reason, dict) else str(reason),
                     {"zh": f"有评分的客户：{pred.n_labelled:,}", "en": f"labelled customers: {pred.n_labelled:,}"}[lang]]
            out["prediction"] = (pd.DataFrame({"finding": lines}), meta)
        else:
            pr.write_top_risk_xlsx(pred, run_dir / "top_risk.xlsx", lang)
            out["prediction"] = (pred.importance, meta)
    return out


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """A CSV that Excel opens with Chinese intact (UTF-8 with BOM), written by pyarrow (fast at 1M rows)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    frame = table.copy()
    for col in frame.columns:  # lists / mixed objects → text
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    with open(path, "wb") as fh:
        fh.write("\ufeff".encode("utf-8"))
        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), fh)
    return Path(path)
