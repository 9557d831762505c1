"""Text views: themes, their impact on NPS, theme × stage, quotes, words, discovery and emerging topics.

Every title fact that ranks (``*_clear``) is checked with :func:`cemkit.claims.lead` on the quantity the
slide plots: the themes slide plots negative mention rates (the title names the theme with the most
negative mentions only when it is clearly ahead of the next), the impact slide the NPS gap of mentioners
with its interval, the heat map the negative share among a cell's mentions (with the base).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import claims
from ..i18n import number, t
from ..packs import Pack
from .common import TEXT_COLUMNS, Views, base_meta
from .waves import reporting_waves

_SEP = {"zh": "、", "en": ", "}
HEAT_THEMES = 12  # rows of the theme × stage slide (the storylines' ``top: 12``); the data pack has them all

def text_views(df: pd.DataFrame, pack: Pack, lang: str, run_dir: str | Path | None = None, n_quotes: int = 3,
               wave: str | None = None, compare: str | None = None, sentiment_model: Any = None, *,
               tags: pd.DataFrame | None = None, rows: pd.DataFrame | None = None) -> Views:
    """Theme negative / positive mention rates, NPS gap of mentioners, theme × stage negative shares,
    2–3 representative quotes per theme (with stage, score and unit), detractor-vs-promoter words,
    discovery candidates (written to ``discovery_candidates.yaml``) and the emerging topics among them — on
    the reporting wave's comments (:func:`reporting_waves`). The comments of the reporting and the comparison
    wave are tagged; the tags (``row`` = position in ``df``) are saved to ``data/theme_tags.parquet`` for the
    alert rules. Every result carries the wave facts. ``sentiment_model``: a learned model (``cemkit learn``)
    whose polarity the theme mentions follow where it was kept (docs/text.md, "Learning from labels"); the
    ``sentiment_model`` view says which was used. ``tags``: those tags when the notebook has made them
    already (:func:`cemkit.text.tag_themes` of ``df["comment"][waves.mask(df, with_compare=True)]`` with the
    same model, ``df`` numbered from 0). ``rows``: those comments' rows (:func:`~cemkit.views.wave_rows`,
    index: position in ``df``) when the notebook has read them — for a :class:`~cemkit.engine.Dataset`, the
    only rows read."""
    from .. import text

    waves = reporting_waves(df, wave, compare)
    if rows is None:
        df = df.reset_index(drop=True)
        rows = df[waves.mask(df, with_compare=True)]
    tagged = rows  # index labels are positions in df: the tags' rows are too
    all_tags = text.tag_themes(tagged["comment"], pack, model=sentiment_model) if tags is None else tags
    learned = sentiment_model is not None and sentiment_model.applies_to(tagged["comment"])  # as tag_themes judged
    if run_dir is not None:
        (Path(run_dir) / "data").mkdir(parents=True, exist_ok=True)
        all_tags.to_parquet(Path(run_dir) / "data" / "theme_tags.parquet", index=False)
    prev = None
    if waves.compare is not None:  # first, so its rows and working arrays are gone before the reporting wave's
        before = tagged[(tagged["wave"].astype("string") == waves.compare).fillna(False).to_numpy(dtype=bool)]
        prev = text.theme_impact(before, pack, all_tags[all_tags["row"].isin(before.index)], keywords=False,
                                 quotes=False).overall()
        del before
    df = waves.rows(tagged)
    tags = all_tags if waves.compare is None else all_tags[all_tags["row"].isin(df.index)]
    imp = text.theme_impact(df, pack, tags, n_quotes=max(8, n_quotes))
    names = {th.id: th.name.get(lang) for th in pack.themes}
    ov = imp.overall()
    ov = ov[(ov["n_comments"] > 0) & (ov["mentions"] > 0)].copy()  # themes nobody mentioned are no finding
    out: Views = {}
    if sentiment_model is not None:
        out["sentiment_model"] = _sentiment_model_view(df, pack, lang, sentiment_model, learned)
    if ov.empty:
        return out
    ov["theme_name"] = ov["theme"].map(names)
    ov["negative_rate"] = ov["mention_rate"] * ov["neg_share"].fillna(0) / 100
    ov["positive_rate"] = ov["mention_rate"] * ov["pos_share"].fillna(0) / 100
    n_comments = int(ov["n_comments"].iloc[0])
    method = {"zh": "主题：行业词典分句标注；NPS差值：提及者与未提及者（有评论者）之差",
              "en": "themes: clause tagging from the pack taxonomy; gap: mentioners vs other commenters"}[lang]
    if learned:
        method += {"zh": "；情感：规则与客户标注学习模型", "en": "; sentiment: rules + model learned from client labels"}[lang]
    meta = base_meta(df[df["comment"].notna()], pack, lang, test=method, **waves.meta())
    meta["base"]["n"] = n_comments
    shown = ov[ov["flag"] != "low_base"]
    out["themes"] = _themes(ov, shown, n_comments, meta)
    if prev is not None:
        ch = theme_changes(ov, prev, pack)
        ch.insert(1, "theme_name", ch["theme"].map(names))
        rises = ch[ch["significant"] & (ch["diff"] > 0)].sort_values("diff", ascending=False)
        cfacts = {"n_theme_rises": len(rises), "top_rise_theme": rises["theme_name"].iloc[0] if len(rises) else None,
                  "top_rise": float(rises["diff"].iloc[0]) if len(rises) else None, **waves.facts()}
        ctest = {"zh": "提及率变化：两比例z检验（各波次有评论者为基数），Holm校正",
                 "en": "change in mention rate: two-proportion z test (each wave's commenters), Holm-corrected"}[lang]
        out["theme_changes"] = (ch, {**meta, "facts": cfacts, "test": ctest})

    if len(shown):  # an NPS gap between mentioners and the rest needs a readable base of mentioners
        out["theme_impact"] = _impact(shown, meta, lang)
    heat = _heat(imp.table, ov, pack, lang, meta)
    if heat is not None:
        out["theme_stage"] = heat
    quotes = _quotes(df, imp.quotes, shown if len(shown) else ov, pack, lang, n_quotes)
    if len(quotes):
        out["quotes"] = (quotes, {**meta, "facts": {"n_quoted_themes": int(quotes["theme"].nunique())}})

    kw = imp.keywords
    if len(kw):
        words = (kw[kw["scope"] == "all"].groupby("word", as_index=False)["count"].sum()
                 .sort_values("count", ascending=False).head(60).rename(columns={"count": "weight"}))
        out["wordcloud"] = (words.reset_index(drop=True),
                            {**meta, "facts": {"top_words": _SEP[lang].join(words["word"].head(5))}})
        out["keywords"] = (kw, {**meta, "facts": {}})

    dw = text.distinctive_words(df["comment"], df["nps"], pack)
    if len(dw):
        dw = dw.assign(lean=-dw["z"]).sort_values("lean", kind="stable").reset_index(drop=True)
        dw["colour"] = np.where(dw["group"] == "detractor", "red", "")  # every listed word has |z| ≥ 1.96
        det, pro = dw[dw["group"] == "detractor"], dw[dw["group"] == "promoter"]
        dfacts = {"detractor_words": _SEP[lang].join(det["word"].head(4)) if len(det) else None,
                  "promoter_words": _SEP[lang].join(pro.sort_values("z")["word"].head(4)) if len(pro) else None}
        said = df["comment"].notna() & ((df["nps"] >= 9) | (df["nps"] <= 6))  # detractor and promoter comments
        dmeta = base_meta(df[said], pack, lang, facts=dfacts, **waves.meta(),
                          test={"zh": "对数优势比（信息性狄利克雷先验）z值，|z|≥1.96",
                                "en": "log-odds ratio with informative Dirichlet prior, |z| ≥ 1.96"}[lang])
        out["distinctive_words"] = (dw, dmeta)

    cand = text.discover(df["comment"], pack, tags)
    if len(cand):
        if run_dir is not None:
            text.write_candidates_yaml(cand, Path(run_dir) / "discovery_candidates.yaml")
        tab = cand.assign(top_words=cand["top_words"].map(" ".join), keywords=cand["keywords"].map(" ".join),
                          quotes=cand["quotes"].map(" | ".join), head_quotes=cand["head_quotes"].map(" | ".join))
        out["discovery"] = (tab, {**meta, "facts": {"n_candidates": len(cand)}})
        new = emerging_topics(df, cand, pack)
        if len(new):
            out["emerging"] = (emerging_cards(new, lang, df=df, pack=pack), {**meta, "facts": _emerging_facts(new, lang)})
    wave_facts = waves.facts()
    for _, m in out.values():  # every result names its wave (each has its own facts dict)
        m["facts"] = {**(m.get("facts") or {}), **wave_facts}
    return out


def _sentiment_model_view(df: pd.DataFrame, pack: Pack, lang: str, model: Any,
                          applied: bool) -> tuple[pd.DataFrame, dict]:
    """Which comment sentiment the run used (``applied``: the learned model, kept and in its domain) and the
    guard's figures behind it (datapack and notebook)."""
    i = model.info

    def pct(x: Any) -> str:
        return "" if x is None else f"{100 * float(x):.1f}"

    rows = {"zh": ["采用", "标注评论数", "交叉验证准确率（%）", "规则准确率（%）", "说明"],
            "en": ["used", "labelled comments", "cross-validated accuracy (%)", "rules accuracy (%)", "note"]}[lang]
    used = {"zh": "学习模型" if applied else "规则", "en": "learned model" if applied else "rules"}[lang]
    note = model.report(lang) + ("" if applied or not model.kept else " " + model.domain_note(lang))
    table = pd.DataFrame({"item": rows, "value": [used, str(i.get("n", "")), pct(i.get("cv_accuracy")),
                                                  pct(i.get("rules_accuracy")), note]})
    facts = {"sentiment_learned": applied, "sentiment_labels": i.get("n"),
             "sentiment_out_of_domain": bool(model.kept and not applied)}
    return table, base_meta(df[df["comment"].notna()], pack, lang, facts=facts)


# ------------------------------------------------------------------------------------------- the slides
def _themes(ov: pd.DataFrame, shown: pd.DataFrame, n_comments: int, meta: dict) -> tuple[pd.DataFrame, dict]:
    """Negative and positive mention rates (% of commenters), sorted by the negative rate the title ranks."""
    table = ov.sort_values(["negative_rate", "mention_rate"], ascending=False, kind="stable").reset_index(drop=True)
    pick = shown if len(shown) else ov
    pick = pick.sort_values(["negative_rate", "mention_rate"], ascending=False, kind="stable").reset_index(drop=True)
    rates = pick["negative_rate"].to_numpy(float)
    ld = claims.lead(rates, highest=True, se=claims.proportion_se(rates, np.full(len(rates), n_comments)))
    top = pick.iloc[0]
    gap = float(top["gap"]) if pd.notna(top["gap"]) else 0.0
    second = pick.iloc[1] if len(pick) > 1 else None
    facts = {"top_neg_theme": top["theme_name"], "top_neg_rate": float(top["negative_rate"]),
             "top_neg_clear": bool(ld.clear), "top_neg_gap": -gap,
             "top_neg_lower": gap < 0 and bool(top["significant"]), "n_comments": n_comments,
             "second_neg_theme": second["theme_name"] if second is not None else None,
             "second_neg_rate": float(second["negative_rate"]) if second is not None else None}
    return table, {**meta, "facts": facts}


def _impact(shown: pd.DataFrame, meta: dict, lang: str) -> tuple[pd.DataFrame, dict]:
    """NPS gap of each readable theme's mentioners (vs other commenters) with its interval, most negative
    first; ▼/▲ marks the significant gaps (coloured by the ``sig_colour`` column)."""
    tab = shown.assign(nps_gap=shown["gap"])
    if "contribution" in tab:  # gap × share mentioning: the drag on overall NPS (datapack)
        tab["impact_abs"] = -tab["contribution"]
    tab = tab.sort_values("nps_gap", kind="stable").reset_index(drop=True)
    sig = tab["significant"].astype(bool)
    tab["marker"] = np.where(sig & (tab["nps_gap"] < 0), "▼", np.where(sig & (tab["nps_gap"] > 0), "▲", ""))
    tab["sig_colour"] = np.where(sig & (tab["nps_gap"] < 0), "red", np.where(sig & (tab["nps_gap"] > 0), "green", ""))
    neg = tab[sig & (tab["nps_gap"] < 0)]
    se = claims.se_from_ci(tab["gap_low"], tab["gap_high"])
    ld = claims.lead(tab["nps_gap"].to_numpy(float), highest=False, se=se)
    worst = tab.iloc[0]
    facts = {"most_damaging": worst["theme_name"], "most_damaging_gap": float(-worst["nps_gap"]),
             "most_damaging_significant": bool(worst["significant"]) and float(worst["nps_gap"]) < 0,
             "most_damaging_clear": bool(ld.clear) and bool(worst["significant"]) and float(worst["nps_gap"]) < 0,
             "n_sig_lower": len(neg), "n_sig_higher": int((sig & (tab["nps_gap"] > 0)).sum()),
             "n_themes_tested": len(tab)}
    return tab, {**meta, "facts": facts}


def _heat(table: pd.DataFrame, ov: pd.DataFrame, pack: Pack, lang: str, meta: dict):
    """Negative share (%) among each theme's mentions at each stage, with the base (mentions). A theme never
    mentioned at a stage is a structural zero: no row (a blank cell). A cell under the pack's suppression
    base keeps its base but no value."""
    cells = table[(table["stage"] != "__all__") & (table["wave"] == "__all__") & (table["mentions"] > 0)
                  & table["theme"].isin(set(ov["theme"]))].copy()
    if cells.empty:
        return None
    low = cells["mentions"] < pack.rules.suppress_below
    cells["neg_share"] = cells["neg_share"].where(~low)
    cells["flag"] = np.where(low, "low_base", "ok")
    readable = cells[~low]
    if readable.empty:
        return None
    # rows: the themes with the most readable mentions first (a slide shows the first twelve)
    volume = readable.groupby("theme")["mentions"].sum().sort_values(ascending=False, kind="stable")
    themes = list(volume.index)
    stages = [s for s in pack.stage_ids if s in set(readable["stage"])]
    cells = cells[cells["theme"].isin(themes) & cells["stage"].isin(stages)]
    cells = cells.assign(_t=cells["theme"].map({k: i for i, k in enumerate(themes)}),
                         _s=cells["stage"].map({k: i for i, k in enumerate(stages)})).sort_values(["_t", "_s"])
    long = pd.DataFrame({"theme": cells["theme"].to_numpy(), "stage": cells["stage"].to_numpy(),
                         "theme_name": [pack.themes[[th.id for th in pack.themes].index(x)].name.get(lang)
                                        for x in cells["theme"]],
                         "stage_name": [pack.stage_name(s, lang) for s in cells["stage"]],
                         "x_order": cells["_s"].to_numpy(np.int64),  # columns in journey order
                         "neg_share": cells["neg_share"].to_numpy(float),
                         "mentions": cells["mentions"].to_numpy(np.int64), "flag": cells["flag"].to_numpy()})
    long["above"] = _above_average(long, pack)
    # the title speaks of the cells the slide shows: the HEAT_THEMES themes with the most mentions
    ok = long[(long["flag"] == "ok") & long["theme"].isin(themes[:HEAT_THEMES])]
    ok = ok.sort_values("neg_share", ascending=False, kind="stable")
    ld = claims.lead(ok["neg_share"].to_numpy(float), highest=True,
                     se=claims.proportion_se(ok["neg_share"], ok["mentions"]))
    hot = ok.iloc[0]
    facts = {"hot_stage": hot["stage_name"], "hot_theme": hot["theme_name"], "hot_rate": float(hot["neg_share"]),
             "hot_n": int(hot["mentions"]), "hot_clear": bool(ld.clear),
             "heat_low": float(ok["neg_share"].min()), "heat_high": float(ok["neg_share"].max()),
             "n_cells": len(ok), "n_structural_zero": int(len(themes) * len(stages) - len(long))}
    return long.reset_index(drop=True), {**meta, "facts": facts}


def _above_average(long: pd.DataFrame, pack: Pack) -> np.ndarray:
    """Cells whose negative share is significantly above the pooled share of all readable cells (one-sided
    z test of a proportion against the pooled share, Holm-corrected over the cells)."""
    from scipy import stats as st

    from ..metrics import p_adjust

    ok = (long["flag"] == "ok").to_numpy()
    n = long["mentions"].to_numpy(float)
    p = long["neg_share"].to_numpy(float) / 100
    out = np.zeros(len(long), dtype=bool)
    if ok.sum() < 2:
        return out
    p0 = float((p[ok] * n[ok]).sum() / n[ok].sum())
    if not 0 < p0 < 1:
        return out
    z = (p[ok] - p0) / np.sqrt(p0 * (1 - p0) / n[ok])
    adj = p_adjust(st.norm.sf(z), pack.rules.correction)
    out[np.flatnonzero(ok)] = adj < pack.rules.alpha
    return out


def text_columns(pack: Pack) -> list[str]:
    """The response columns the text views read: :data:`~cemkit.views.common.TEXT_COLUMNS` and the league
    segment that names a quote's unit (dealer, store) — what the text notebook reads from a large run."""
    return [*TEXT_COLUMNS, *(s.id for s in pack.segments if s.league)]


def _unit_column(pack: Pack, df: pd.DataFrame) -> str | None:
    """The segment that names the unit a customer dealt with (the league segment, e.g. dealer, store)."""
    return next((s.id for s in pack.segments if s.league and s.id in df), None)


def _quotes(df: pd.DataFrame, q: pd.DataFrame, pick: pd.DataFrame, pack: Pack, lang: str,
            n_quotes: int) -> pd.DataFrame:
    """Up to ``n_quotes`` quotes for each of the three themes with the most negative mentions and the two with
    the most positive ones, each with the stage, the customer's score and unit. A quote is typical of its
    polarity only when the customer's score agrees: a complaint from a promoter (9–10) or praise from a
    detractor (0–6) is left out (mixed comments, or a clause the sentiment rules read wrongly), and a
    detractor's complaint or a promoter's praise comes before a passive's."""
    cols = ["theme", "theme_name", "polarity", "quote", "stage_name", "score", "unit", "header", "source"]
    if q is None or not len(q):
        return pd.DataFrame(columns=cols)
    q = q.copy()
    rows = q["row"].to_numpy()
    score = pd.to_numeric(df["nps"], errors="coerce").reindex(rows).to_numpy(float)
    q["score"] = score
    agree = np.where(q["polarity"] < 0, score <= 8, score >= 7)
    # a detractor's complaint (a promoter's praise) is the typical voice: before a passive's, keeping the
    # clarity order of :func:`cemkit.text.theme_quotes` within each
    q["_typical"] = np.where(q["polarity"] < 0, score <= 6, score >= 9)
    q = q[agree & np.isfinite(score)].sort_values("_typical", ascending=False, kind="stable")
    stats = pick.set_index("theme")
    chosen = []
    orders = ((pick.sort_values("negative_rate", ascending=False, kind="stable")["theme"], -1, 3),
              (pick.sort_values("positive_rate", ascending=False, kind="stable")["theme"], 1, 2))
    for order, pol, n_themes in orders:
        taken = 0
        for theme in order:
            sel = q[(q["theme"] == theme) & (q["polarity"] == pol)].head(n_quotes)
            if len(sel) < min(2, n_quotes) or taken >= n_themes:
                continue
            s = stats.loc[theme]
            share = s["neg_share"] if pol < 0 else s["pos_share"]
            key = "quote_header_neg" if pol < 0 else "quote_header_pos"
            header = t(key, lang, share=f"{float(share):.0f}", gap=_signed(s["gap"]),
                       sig=t("significant", lang) if bool(s["significant"]) else t("not_significant", lang))
            chosen.append(sel.assign(header=header))
            taken += 1
    if not chosen:
        return pd.DataFrame(columns=cols)
    out = pd.concat(chosen, ignore_index=True)
    out["theme_name"] = out["theme"].map({th.id: th.name.get(lang) for th in pack.themes})
    out["quote"] = out["text"]
    out["stage_name"], out["unit"], out["source"] = _sources(df, out["row"].to_numpy(), pack, lang)
    return out[cols].reset_index(drop=True)


def _sources(df: pd.DataFrame, rows, pack: Pack, lang: str) -> tuple[list, list, list]:
    """For quotes in the rows labelled ``rows`` of ``df``: the stage name, the unit and the source line a quote
    card shows under the quote ("维修保养｜推荐意愿4分｜郑州金水店"); empty for a label of None."""
    rows = pd.Index(list(rows))
    unit = _unit_column(pack, df)
    stages = [pack.stage_name(s, lang) if isinstance(s, str) else "" for s in df["stage"].reindex(rows).astype(object)]
    units = df[unit].reindex(rows).astype("string").fillna("").tolist() if unit else [""] * len(rows)
    scores = pd.to_numeric(df["nps"], errors="coerce").reindex(rows).to_numpy(float)
    bar = "｜" if lang == "zh" else " | "
    source = [t("quote_source", lang, stage=st, score=f"{sc:.0f}") + (f"{bar}{u}" if u else "")
              if np.isfinite(sc) else "" for st, sc, u in zip(stages, scores, units)]
    return stages, units, source


def _signed(x: Any) -> str:
    """A point difference with its sign ('+3', '-12'); never '-0'."""
    v = round(float(x))
    return f"{v:+d}" if v else "0"


# ---------------------------------------------------------------------------------------- emerging topics
def emerging_topics(df: pd.DataFrame, candidates: pd.DataFrame, pack: Pack, min_share: float = 1.0) -> pd.DataFrame:
    """Discovery candidates large enough to report: each named by its head word (the new keyword in most
    of its comments, :func:`cemkit.text.discover`), counted over *every* comment containing that word (a
    comment about a pack theme may raise the new topic too), with the NPS of those commenters against the
    other commenters. Kept when at least ``max(suppress_below, min_share % of comments)`` comments raise
    it. Columns ``topic, words, n, share, nps_m, nps_gap, gap_low, gap_high, significant, quotes`` and
    ``quote_rows`` (each quote's row label in ``df``, for its stage, score and unit)."""
    from ..text.impact import DETRACTOR_MAX, PROMOTER_MIN, nps_from_sums

    cols = ["topic", "words", "n", "share", "nps_m", "nps_gap", "gap_low", "gap_high", "significant", "quotes",
            "quote_rows"]
    com = df["comment"].astype("string").str.strip()
    said = com.notna() & (com.str.len() > 0)
    n_com = int(said.sum())
    x = pd.to_numeric(df["nps"], errors="coerce").to_numpy(float)
    w = pd.to_numeric(df["weight"], errors="coerce").fillna(1.0).to_numpy(float) if "weight" in df else np.ones(len(df))
    valid = said.to_numpy() & np.isfinite(x) & (w > 0)
    need = max(pack.rules.suppress_below, min_share / 100 * n_com)
    rows, seen = [], set()
    for c in candidates.itertuples():
        head = str(getattr(c, "head", "") or "")
        if not head or head in seen:
            continue
        seen.add(head)
        hit = (com.str.contains(head, regex=False).fillna(False) & said).to_numpy()
        n = int(hit.sum())
        if n < need:
            continue

        def sums(mask):
            ww = w[mask & valid]
            xx = x[mask & valid]
            return nps_from_sums(np.array([ww.sum()]), np.array([(ww**2).sum()]),
                                 np.array([ww[xx >= PROMOTER_MIN].sum()]), np.array([ww[xx <= DETRACTOR_MAX].sum()]))

        a, b = sums(hit), sums(~hit)
        quotes, quote_rows = [], []
        for q in list(c.head_quotes[:3]):  # the comment it was said in gives its stage, score and unit
            q = str(q).strip()
            same = hit & (com == q).fillna(False).to_numpy()
            at = np.flatnonzero(same if same.any() else hit & com.str.contains(q, regex=False).fillna(False).to_numpy())
            quotes.append(q)
            quote_rows.append(df.index[at[0]] if len(at) else None)  # df's index label; None: no source line
        gap = float(a["value"][0] - b["value"][0])
        se = float(np.hypot(a["se"][0], b["se"][0]))
        rows.append({"topic": head, "words": " ".join([k for k in c.keywords if k != head][:4]), "n": n,
                     "share": 100 * n / max(n_com, 1), "nps_m": float(a["value"][0]), "nps_gap": gap,
                     "gap_low": gap - 1.96 * se, "gap_high": gap + 1.96 * se,
                     "significant": bool(abs(gap) > 1.96 * se), "quotes": quotes, "quote_rows": quote_rows})
    return pd.DataFrame(rows, columns=cols).sort_values("n", ascending=False, kind="stable").reset_index(drop=True)


def emerging_cards(new: pd.DataFrame, lang: str, max_topics: int = 3, df: pd.DataFrame | None = None,
                   pack: Pack | None = None) -> pd.DataFrame:
    """The emerging topics as quote cards (one line per quote, as the ``quotes`` result): the topic, a
    header with its size and NPS gap, and its sample comments (masked upstream), each with its stage, score
    and unit when ``df`` and ``pack`` are given."""
    rows = []
    for r in new.head(max_topics).itertuples():
        at = list(getattr(r, "quote_rows", None) or [])
        sources = _sources(df, at, pack, lang)[2] if df is not None and pack is not None and at else []
        sig = t("significant", lang) if r.significant else t("not_significant", lang)
        header = t("emerging_header", lang, n=f"{r.n:,}", share=number(r.share, 1), gap=number(r.nps_gap, sign=True),
                   sig=sig)
        for k, q in enumerate(r.quotes or [""]):
            # red / green only for a significant gap: an untested direction is no message
            pol = 0 if not r.significant else (-1 if r.nps_gap < 0 else 1)
            rows.append({"theme": r.topic, "theme_name": f"“{r.topic}”", "polarity": pol,
                         "quote": q, "header": header, "source": sources[k] if k < len(sources) else "",
                         "n": r.n, "share": r.share,
                         "nps_gap": r.nps_gap, "significant": r.significant})
    return pd.DataFrame(rows)


def _emerging_facts(new: pd.DataFrame, lang: str) -> dict[str, Any]:
    top = new.iloc[0]
    return {"new_topic": str(top["topic"]), "new_n": int(top["n"]), "new_share": float(top["share"]),
            "new_gap": float(top["nps_gap"]), "new_gap_significant": bool(top["significant"]),
            "new_lower": bool(top["significant"]) and float(top["nps_gap"]) < 0, "n_new": len(new),
            "new_topics": _SEP[lang].join(new["topic"].head(3))}
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
