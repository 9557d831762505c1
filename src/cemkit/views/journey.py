"""Journey views: curve, NPS composition, wave trend and changes, league table, full journey table."""

from __future__ import annotations

import pandas as pd

from .. import metrics as m
from ..packs import Pack
from .common import Views, _label, base_meta

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
