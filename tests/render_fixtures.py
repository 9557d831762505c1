"""A small but complete fake run folder for renderer tests: every result the auto storyline draws.

The tables have the columns the lead's ``cemkit.views`` writes (see the renderers' docs) and meta with the
facts the storyline titles need, a base for the footnote, the test, significance level and base rule.
Numbers are made up but plausible (a demo-like auto journey with a weak delivery stage); nothing here is
computed, so tests can compare the deck with these tables directly.

``write_run(run_dir, pack, lang)`` writes ``<run_dir>/results/*`` and returns ``(run_dir, base_facts)``.
``quote_extra`` adds verbatims (e.g. markup that must be escaped in the HTML).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cemkit.results import save

ALL = "__all__"
WAVES = ("2024Q1", "2024Q2")
RULE = {"suppress_below": 30, "caution_below": 100}
SIG = {"alpha": 0.05, "correction": "holm"}

# stage id → (NPS, n, detractors %, promoters %, change vs last wave, marker)
JOURNEY = {
    "showroom": (41.8, 1480, 14.1, 55.9, 1.2, ""),
    "test_drive": (47.6, 1210, 11.3, 58.9, 2.0, ""),
    "quote_finance": (17.9, 1105, 27.8, 45.7, -3.1, ""),
    "contract": (24.6, 1012, 22.4, 47.0, 0.4, ""),
    "delivery": (-12.3, 986, 43.5, 31.2, -8.4, "↓"),
    "first_service": (21.8, 842, 24.0, 45.8, 5.1, "↑"),
    "maintenance": (15.2, 763, 28.1, 43.3, -1.9, ""),
    "loyalty": (29.4, 412, 19.6, 49.0, 0.8, ""),
}
N_USED = sum(v[1] for v in JOURNEY.values())


# the reporting wave (the last) and the wave it is compared with, as cemkit.views.Waves gives them
WAVE_FACTS = {"wave": WAVES[1], "wave_id": WAVES[1], "compare_wave": WAVES[0], "pooled": False, "n_waves": 2,
              "one_wave": False, "has_compare": True, "waves": list(WAVES), "period": f"{WAVES[0]}–{WAVES[1]}"}
WAVE_META = {"report": WAVES[1], "compare": WAVES[0], "labels": list(WAVES), "pooled": False, "trend": False}


def _meta(n: int, facts: dict, lang: str, n_eff: float | None = None, test: str | None = None,
          sig: bool = True, **extra: Any) -> dict:
    base: dict[str, Any] = {"n": n}
    if n_eff is not None:
        base["n_eff"] = n_eff
    meta: dict[str, Any] = {"facts": {**WAVE_FACTS, **facts}, "base": base, "base_rule": RULE,
                            "wave": WAVE_META, **extra}
    if test:
        meta["test"] = test
    if sig:
        meta["significance"] = SIG
    return meta


def _z(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _label(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


def journey_results(pack, lang: str) -> dict:
    ids = list(JOURNEY)
    names = [pack.stage_name(s, lang) for s in ids]
    v = np.array([JOURNEY[s][0] for s in ids])
    n = np.array([JOURNEY[s][1] for s in ids])
    half = 196 / np.sqrt(n)  # ≈ 95% half-width of an NPS in points
    curve = pd.DataFrame({
        "stage": ids, "stage_name": names, "value": v, "ci_low": v - half, "ci_high": v + half, "n": n,
        "n_eff": n * 0.92, "flag": ["ok"] * 7 + ["caution"], "is_peak": v == v.max(),
        "is_end": [False] * 7 + [True], "is_worst": v == v.min(),
        "change": [JOURNEY[s][4] for s in ids], "significant": [bool(JOURNEY[s][5]) for s in ids],
        "marker": [JOURNEY[s][5] for s in ids],
    })
    curve["highlight"] = curve["is_worst"]
    overall = 22.6
    facts = {
        "worst_stage": names[4], "worst_value": -12.3, "worst_change": -8.4, "worst_change_significant": True,
        "peak_stage": names[1], "peak_value": 47.6, "end_stage": names[-1], "end_value": 29.4,
        "gap": 59.9, "overall": overall, "has_change": True, "change_stage": names[4], "change": -8.4,
        "change_significant": True, "n_stages": 8, "worst_clear": True, "second_worst_stage": names[6],
        "second_worst_value": 15.2, "overall_change": -2.1, "overall_change_significant": False,
    }
    test = _z(lang, "波次变化：双样本z检验", "Wave change: two-sample z test")
    out = {"journey_curve": (curve, _meta(N_USED, facts, lang, n_eff=N_USED * 0.92, test=test))}

    det = np.array([JOURNEY[s][2] for s in ids])
    pro = np.array([JOURNEY[s][3] for s in ids])
    comp_names = [*names, _z(lang, "整体", "Overall")]
    det = np.append(det, 26.0)
    pro = np.append(pro, 48.6)
    nps = pro - det
    comp = pd.DataFrame({
        "unit": [*ids, ALL], "name": comp_names,
        "label": [f"{a}（{b:.0f}）" if lang == "zh" else f"{a} ({b:.0f})" for a, b in zip(comp_names, nps)],
        "detractors": det, "passives": 100 - det - pro, "promoters": pro, "nps": nps,
        "n": [*n, N_USED], "flag": ["ok"] * 9,
    })
    cfacts = {"most_detractors_stage": names[4], "most_detractors_share": 43.5, "most_detractors_clear": True,
              "overall_detractors": 26.0, "overall_promoters": 48.6}
    out["nps_composition"] = (comp, _meta(N_USED, cfacts, lang, sig=False))

    rows = []
    for stage, name in [(ALL, _z(lang, "整体", "Overall")), *zip(ids, names)]:
        last = overall if stage == ALL else JOURNEY[stage][0]
        change = -2.1 if stage == ALL else JOURNEY[stage][4]
        marker = "" if stage == ALL else JOURNEY[stage][5]
        rows.append({"stage": stage, "stage_name": name, "wave": WAVES[0], "value": last - change, "marker": ""})
        rows.append({"stage": stage, "stage_name": name, "wave": WAVES[1], "value": last, "marker": marker})
    trend = pd.DataFrame(rows)
    out["wave_trend"] = (trend, _meta(N_USED, facts, lang, test=test, wave={**WAVE_META, "trend": True}))

    jt = []
    for sid, name, val, nn in zip(ids, names, v, n):
        for metric, value, ci in ((_z(lang, "净推荐值", "NPS"), val, 196 / np.sqrt(nn)),
                                  (_z(lang, "环节满意度", "Stage CSAT"), 70 + val / 5, 2.5)):
            jt.append({"stage_name": name, "metric_name": metric, "value": round(float(value), 1),
                       "ci": f"[{value - ci:.1f}, {value + ci:.1f}]", "n": int(nn),
                       "flag_text": _z(lang, "谨慎解读", "caution") if nn < 500 else "",
                       "segment": ALL, "wave": WAVES[1], "reporting": True})
    jt.append({"stage_name": names[0], "metric_name": "NPS", "value": 40.0, "ci": "–", "n": 700,
               "flag_text": "", "segment": "region", "wave": WAVES[1], "reporting": True})  # filtered out by the spec
    jt.append({"stage_name": names[0], "metric_name": "NPS", "value": 41.0, "ci": "–", "n": 690,
               "flag_text": "", "segment": ALL, "wave": WAVES[0], "reporting": False})  # not the reporting wave
    out["journey_table"] = (pd.DataFrame(jt), _meta(N_USED, {}, lang))
    return out


def league_result(lang: str) -> dict:
    units = ["华东一店", "华东二店", "华南一店", "华北一店", "华南二店", "西南一店", "华北二店", "西北一店",
             "东北一店", "华中一店"]
    if lang == "en":
        units = [f"Dealer {c}" for c in "ABCDEFGHIJ"]
    value = [38.2, 35.9, 33.1, 29.4, 24.8, 18.6, 12.0, 6.5, np.nan, np.nan]
    n = [212, 198, 240, 176, 205, 150, 188, 161, 24, 17]
    half = [196 / np.sqrt(k) for k in n]
    flag = ["ok"] * 8 + ["low_base"] * 2
    lo = [a - h for a, h in zip(value, half)]
    hi = [a + h for a, h in zip(value, half)]
    df = pd.DataFrame({
        "rank": [1, 2, 3, 4, 5, 6, 7, 8, np.nan, np.nan], "unit": units, "value": value, "ci_low": lo, "ci_high": hi,
        "ci": [f"[{a - h:.0f}, {a + h:.0f}]" if not np.isnan(a) else "–" for a, h in zip(value, half)], "n": n,
        "tier": [1, 1, 1, 1, 2, 2, 3, 3, np.nan, np.nan], "flag": flag,
    })
    ref = 22.6  # the overall NPS: units whose interval lies wholly above / below are green / red
    df["colour"] = ["green" if a > ref else "red" if b < ref else "" for a, b in zip(lo, hi)]
    facts = {"best_unit": units[0], "best_value": 38.2, "worst_unit": units[7], "worst_value": 6.5, "ties": 3,
             "n_ranked": 8, "n_unranked": 2, "leader_clear": False, "n_units": 10,
             "n_above": int((df["colour"] == "green").sum()), "n_below": int((df["colour"] == "red").sum()),
             "unit_name": {"zh": "经销商", "en": "Dealer"}}
    return {"league": (df, _meta(int(sum(n)), facts, lang, reference=ref))}


def driver_results(pack, lang: str) -> dict:
    ids = list(JOURNEY)
    stage_names = [pack.stage_name(s, lang) for s in ids]
    share = np.array([8.1, 6.4, 11.2, 7.0, 27.5, 14.3, 16.8, 8.7])
    imp = pd.DataFrame({"driver": ids, "stage_name": stage_names, "share": share / 100, "share_pct": share,
                        "ci_low_pct": share - 3, "ci_high_pct": share + 3,
                        "rank": pd.Series(-share).rank().astype(int), "is_top": share == share.max()})
    ifacts = {"top_stage": stage_names[4], "top_share": 27.5, "top_clear": True, "low_share": 6.4,
              "high_share": 27.5}
    test = _z(lang, "Shapley值（LMG）分解R²，自助法95%区间", "Shapley (LMG) decomposition of R², bootstrap 95% intervals")
    out = {"stage_importance": (imp, _meta(2870, ifacts, lang, test=test, sig=False))}

    q = {k: v.get(lang) for k, v in pack.rules.quadrant_names.items()}
    focus = pack.stage("delivery")
    drivers = list(focus.drivers) + ["no_forced_bundle", "contract_clarity"]
    shares = [0.31, 0.18, 0.17, 0.22, 0.06, 0.06]
    perf = [6.9, 8.4, 8.3, 7.0, 7.8, 7.9]
    xs, ys = float(np.median(shares)), float(np.median(perf))

    def quad(s, p):
        return ("high_importance_" if s > xs else "low_importance_") + ("high_performance" if p > ys else "low_performance")

    quads = [quad(s, p) for s, p in zip(shares, perf)]
    pm = pd.DataFrame({
        "stage": "delivery", "stage_name": pack.stage_name("delivery", lang), "driver": drivers,
        "driver_name": [pack.attributes[a].short.get(lang) for a in drivers], "share": shares,
        "performance": perf, "quadrant": quads, "quadrant_label": [q[k] for k in quads], "n": 986,
    })
    pm["share_pct"] = pm["share"] * 100
    pm["ci_low_pct"], pm["ci_high_pct"] = pm["share_pct"] - 4, pm["share_pct"] + 4
    pm["perf_colour"] = np.where(pm["performance"] < ys, "red", "")
    pfacts = {"top_fix": pm["driver_name"][0], "top_fix_stage": pack.stage_name("delivery", lang),
              "top_fix_share": 31.0, "top_fix_perf_rank_from_bottom": 1, "n_fix": 5, "n_stages": 8,
              "top_fix_clear": True, "n_below": 3, "matrix": True, "skipped_stage_names": None}
    out["priority_matrix"] = (pm, _meta(986, pfacts, lang, test=test, sig=False, x_split=xs, y_split=ys,
                                        quadrant_labels=q, x_name=_z(lang, "重要性", "Importance"),
                                        y_name=_z(lang, "表现", "Performance")))
    rows = []
    for sid, sname in zip(ids[:4], stage_names[:4]):
        st = pack.stage(sid)
        for k, a in enumerate(st.drivers):
            s = [34.0, 26.5, 22.1, 17.4][k]
            p = [7.4, 8.1, 8.6, 7.9][k]
            rows.append({"stage_name": sname, "driver_name": pack.attributes[a].short.get(lang), "share_pct": s,
                         "ci": f"[{s - 6:.0f}, {s + 6:.0f}]", "performance": p,
                         "quadrant_label": q["high_importance_low_performance" if k == 0 else "low_importance_high_performance"]})
    out["stage_drivers"] = (pd.DataFrame(rows), _meta(4807, pfacts, lang, test=test, sig=False))
    return out


THEMES_ZH = ["交车时效", "等待时间", "捆绑与隐形收费", "销售顾问专业度", "报价与优惠", "维修质量", "展厅接待",
             "保养收费", "金融贷款方案", "交车讲解与仪式", "回访与关怀", "洗车与车辆清洁", "试驾体验"]
THEMES_EN = ["Delivery timing", "Waiting time", "Bundling and hidden fees", "Sales consultant expertise",
             "Price and discounts", "Repair quality", "Showroom reception", "Service pricing", "Finance and loans",
             "Handover and explanation", "Follow-up and care", "Car wash and cleanliness", "Test drive"]


def text_results(pack, lang: str, quote_extra: list[dict] | None = None) -> dict:
    names = THEMES_ZH if lang == "zh" else THEMES_EN
    mention = [18.4, 16.2, 9.8, 14.1, 12.7, 8.3, 7.9, 7.1, 5.6, 4.9, 4.2, 3.1, 2.8]
    neg = [12.1, 10.4, 8.7, 3.2, 6.9, 4.8, 2.1, 5.0, 2.9, 1.7, 0.9, 1.2, 0.6]
    themes = pd.DataFrame({"theme_name": names, "mention_rate": mention, "negative_rate": neg,
                           "positive_rate": [round(m - x, 1) for m, x in zip(mention, neg)]})
    n_comments = 5124
    tfacts = {"top_neg_theme": names[0], "top_neg_rate": 12.1, "top_neg_gap": 31.0, "top_neg_clear": True,
              "top_neg_lower": True, "second_neg_theme": names[1], "second_neg_rate": 10.4}
    out = {"themes": (themes, _meta(n_comments, tfacts, lang, sig=False))}
    gap = [-31.0, -24.5, -28.2, 9.8, -12.4, -15.1, 6.2, -10.9, -5.3, 4.1, 7.7, -2.2, 3.0]
    impact = pd.DataFrame({"theme_name": names, "nps_gap": gap, "gap_low": [g - 8 for g in gap],
                           "gap_high": [g + 8 for g in gap]})
    sig = (impact["gap_high"] < 0) | (impact["gap_low"] > 0)
    impact["marker"] = np.where(sig & (impact["nps_gap"] < 0), "▼", np.where(sig, "▲", ""))
    impact["sig_colour"] = np.where(sig & (impact["nps_gap"] < 0), "red", np.where(sig, "green", ""))
    ifacts = {"most_damaging": names[0], "most_damaging_gap": 31.0, "most_damaging_clear": False,
              "most_damaging_significant": True, "n_sig_lower": int((sig & (impact["nps_gap"] < 0)).sum())}
    out["theme_impact"] = (impact, _meta(n_comments, ifacts, lang, sig=False))
    stage_names = [pack.stage_name(s, lang) for s in JOURNEY]
    rng = np.random.default_rng(7)
    cells = [(t, s) for t in names[:8] for s in stage_names if rng.uniform() < 0.4]  # the rest: structural zeros
    heat = pd.DataFrame({"theme_name": [c[0] for c in cells], "stage_name": [c[1] for c in cells],
                         "neg_share": np.round(rng.uniform(20, 50, len(cells)), 1),
                         "mentions": rng.integers(10, 300, len(cells))})
    heat["flag"] = np.where(heat["mentions"] < 30, "low_base", "ok")
    heat.loc[heat["flag"] == "low_base", "neg_share"] = np.nan
    heat["above"] = False
    heat.loc[heat["neg_share"].idxmax(), "above"] = True
    hot = heat.loc[heat["neg_share"].idxmax()]
    hfacts = {"hot_stage": hot["stage_name"], "hot_theme": hot["theme_name"], "hot_rate": float(hot["neg_share"]),
              "hot_clear": False, "heat_low": float(heat["neg_share"].min()), "heat_high": float(hot["neg_share"])}
    out["theme_stage"] = (heat, _meta(n_comments, hfacts, lang, sig=False))
    quotes = [
        {"theme_name": names[0], "polarity": -1,
         "quote": _z(lang, "说好月底交车，拖了三周才通知到车，问了好几次都说在路上。",
                     "They promised the car by month end, it came three weeks late.")},
        {"theme_name": names[2], "polarity": -1,
         "quote": _z(lang, "必须买两万的装饰包才给现车，出库费也没提前说。",
                     "I had to buy a 20k accessory pack to get a car in stock.")},
        {"theme_name": names[1], "polarity": -1,
         "quote": _z(lang, "首保等了快三个小时，休息区连个座位都没有。", "Waited nearly three hours at first service.")},
        {"theme_name": names[3], "polarity": 1,
         "quote": _z(lang, "销售顾问小王很专业，讲解车型很耐心，没有一直推销。",
                     "The consultant was knowledgeable and patient.")},
        {"theme_name": names[5], "polarity": 1,
         "quote": _z(lang, "异响一次就修好了，师傅还把检查结果拍照发给我。",
                     "The noise was fixed first time, with photos of the check.")},
        {"theme_name": names[10], "polarity": 1,
         "quote": _z(lang, "保养后第二天就有回访电话，感觉被重视。", "They called the day after the service.")},
    ]
    quotes = (quote_extra or []) + quotes
    q = pd.DataFrame(quotes)
    q["theme"] = q["theme_name"]
    q["header"] = _z(lang, "负面占比40%｜提及者NPS差-12（显著）", "40% of mentions negative | NPS gap -12 (significant)")
    q["source"] = _z(lang, "交车提车｜推荐意愿3分｜华东一店", "Vehicle delivery | score 3/10 | Dealer A")
    out["quotes"] = (q, _meta(n_comments, {}, lang, sig=False))
    emerging = pd.DataFrame({"theme": "charging", "theme_name": _z(lang, "“充电桩”", "“充电桩”"), "polarity": -1,
                             "quote": [_z(lang, "充电桩一直装不上。", "充电桩一直装不上。")] * 2,
                             "header": _z(lang, "159条评论（2.8%）｜提及者NPS差-13（显著）", "159 comments (2.8%) | NPS gap -13 (significant)"),
                             "source": ""})
    efacts = {"new_topic": "充电桩", "new_n": 159, "new_share": 2.8, "new_gap": -12.8, "new_lower": True,
              "new_gap_significant": True, "n_new": 1}
    out["emerging"] = (emerging, _meta(n_comments, efacts, lang, sig=False))
    words = pd.DataFrame({"word": [*names, _z(lang, "提车", "pick-up"), _z(lang, "态度", "attitude"),
                                   _z(lang, "价格", "price"), _z(lang, "等待", "wait")] * 1,
                          "weight": [180, 162, 98, 141, 127, 83, 79, 71, 56, 49, 42, 31, 28, 150, 120, 90, 60]})
    out["wordcloud"] = (words, _meta(n_comments, {"top_words": "、".join(words["word"].head(5))}, lang, sig=False))
    return out


def action_results(pack, lang: str) -> dict:
    owners = ["销售部", "交付中心", "售后服务部", "金融保险部", "客户关系部"] if lang == "zh" else \
        ["Sales", "Delivery centre", "After-sales", "F&I", "CRM"]
    p1, p2, p3 = [52, 118, 96, 21, 8], [140, 210, 188, 45, 30], [96, 75, 120, 33, 41]
    alerts = pd.DataFrame({"owner": owners, "P1": p1, "P2": p2, "P3": p3})
    alerts["total"] = alerts[["P1", "P2", "P3"]].sum(axis=1)
    alerts = alerts.sort_values("total", ascending=False, kind="stable").reset_index(drop=True)
    total = int(alerts["total"].sum())
    afacts = {"n_alerts": total, "p1_share": 100 * sum(p1) / total, "top_owner": alerts["owner"][0],
              "top_owner_n": int(alerts["total"][0])}
    out = {"alerts_summary": (alerts, _meta(N_USED, afacts, lang, sig=False))}
    groups = [(_z(lang, "贬损者", "Detractors"), 1814), (_z(lang, "被动者", "Passives"), 2245),
              (_z(lang, "推荐者", "Promoters"), 3751)]
    acts = [_z(lang, "24小时内回电致歉；免费返修并专人跟进", "Call back within 24 h; free rework with an owner"),
            _z(lang, "推送保养预约提醒；邀请车主活动", "Service reminders; owner events"),
            _z(lang, "邀请加入老带新计划；置换专属补贴", "Referral programme; trade-in incentives")]
    total_n = sum(g[1] for g in groups)
    pb = pd.DataFrame({"segment": [g[0] for g in groups], "size": [g[1] for g in groups],
                       "share": [100 * g[1] / total_n for g in groups], "actions": acts})
    out["playbooks"] = (pb, _meta(total_n, {"detractor_share": 100 * 1814 / total_n}, lang, sig=False))
    feats = ["tenure_months", "visits_12m", "spend_12m", "repeat_repairs", "days_since_visit", "complaint_calls",
             "purchase_channel"]
    imp = [0.08, 0.11, 0.06, 0.27, 0.14, 0.31, 0.03]
    pred = pd.DataFrame({"feature_name": [pack.odata["features"][f]["name"][lang] for f in feats],
                         "importance": imp}).sort_values("importance", ascending=False).reset_index(drop=True)
    pfacts = {"refused": False, "auc": 0.74, "top_feature": pred["feature_name"][0], "claim": True,
              "hit_rate": 61.0, "lift": 2.3, "detractor_rate": 26.5, "n_scored": 15307,
              "discrimination": {"zh": "可接受", "en": "acceptable"}}
    out["prediction"] = (pred, _meta(N_USED, pfacts, lang, sig=False))
    rates = [61.0, 45.0, 36.0, 30.0, 25.0, 21.0, 17.0, 13.0, 9.0, 8.0]
    lift = pd.DataFrame({"decile": range(1, 11), "band": [_z(lang, "前10%", "Top 10%")] + [f"{10 * i}–{10 * i + 10}%" for i in range(1, 10)],
                         "observed_rate": rates, "mean_predicted": [r + 1.5 for r in rates], "n": 389})
    out["prediction_lift"] = (lift, _meta(3893, pfacts, lang, sig=False))
    dec = pd.DataFrame({
        "rank": [1, 2, 3, 4], "stage": ["maintenance", "delivery", "showroom", "first_service"],
        "what": [_z(lang, "提升“一次修好”", "Improve “Fixed first time”"), _z(lang, "提升“新车状况完好”", "Improve “Vehicle condition”"),
                 _z(lang, "提升“销售顾问专业度”", "Improve “Consultant expertise”"), _z(lang, "提升“维修保养质量”", "Improve “Repair quality”")],
        "where": [_z(lang, "维修保养，从后25%的6家经销商做起", "Repair, starting with the bottom-quartile 6 dealers")] * 4,
        "why": [_z(lang, "重要性46% [38, 52]；顶框比例16%，最佳四分位19%", "importance 46% [38, 52]; top-box 16% vs 19%")] * 4,
        "uplift": [0.27, 0.26, 0.22, 0.21], "uplift_text": [_z(lang, "整体NPS +0.3（维修保养 +1.7）", "overall NPS +0.3 (repair +1.7)")] * 4,
        "owner": [_z(lang, "售后服务部", "After-sales")] * 4, "horizon": [_z(lang, "90天", "90 days")] * 4,
    })
    dfacts = {"n_decisions": 4, "total_uplift": 0.96, "summary_uplift": 0.75, "n_summary": 3}
    out["decisions"] = (dec, _meta(N_USED, dfacts, lang, sig=False))
    return out


def quality_result(lang: str) -> dict:
    quarantined = 212
    rows = [(_z(lang, "输入行数", "Input rows"), N_USED + quarantined), (_z(lang, "使用行数", "Rows used"), N_USED),
            (_z(lang, "隔离行数", "Rows quarantined"), quarantined),
            (_z(lang, "  重复问卷", "  duplicate response"), 120), (_z(lang, "  NPS超出范围", "  NPS out of range"), 92),
            (_z(lang, "脱敏: 手机号", "masked: phone"), 311)]
    table = pd.DataFrame(rows, columns=["item", "count"])
    facts = {"input_rows": N_USED + quarantined, "n_used": N_USED, "quarantined": quarantined,
             "synthetic": True, **WAVE_FACTS, "n_wave": N_USED}
    sample = pd.DataFrame({"item": [_z(lang, "波次 2024Q1", "Wave 2024Q1"), _z(lang, "加权", "Weighting")],
                           "detail": ["n=3,900", _z(lang, "未加权", "unweighted")]})
    sfacts = {"n_used": N_USED, "n_waves": 2, "quarantined": quarantined}
    return {"data_quality": (table, {"facts": facts, "base": {"n": N_USED}}),
            "sample": (sample, {"facts": sfacts, "base": {"n": N_USED}})}


def write_run(run_dir: str | Path, pack, lang: str = "zh", quote_extra: list[dict] | None = None) -> tuple[Path, dict]:
    """Write every result into ``run_dir/results`` and return ``(run_dir, base_facts)`` for the renderers."""
    run_dir = Path(run_dir)
    views: dict = {}
    for part in (journey_results(pack, lang), league_result(lang), driver_results(pack, lang),
                 text_results(pack, lang, quote_extra), action_results(pack, lang), quality_result(lang)):
        views.update(part)
    for name, (table, meta) in views.items():
        save(run_dir, name, table, meta)
    base_facts = {**WAVE_FACTS, "n_used": N_USED, "n_wave": N_USED, "synthetic": True, "date": "2024-07-15"}
    return run_dir, base_facts
