"""Journey views: curve, NPS composition, wave trend and changes, league table, full journey table."""

from __future__ import annotations

import pandas as pd

from .. import claims
from .. import metrics as m
from ..i18n import interval, number
from ..packs import Pack
from .common import Views, _label, base_meta
from .waves import reporting_waves

_FLAG_TEXT = {"zh": {"ok": "", "caution": "谨慎解读", "low_base": "低基数"},
              "en": {"ok": "", "caution": "caution", "low_base": "low base"}}


def _ci_text(lo: pd.Series, hi: pd.Series, decimals: int = 0) -> list[str]:
    return [interval(a, b, decimals) for a, b in zip(lo, hi)]


def _no_changes(table: pd.DataFrame, pack: Pack) -> pd.DataFrame:
    """An empty change table with :func:`cemkit.metrics.wave_change`'s columns (nothing to compare)."""
    return m.wave_change(table.iloc[:0], pack)


def journey_columns(pack: Pack) -> list[str]:
    """The columns the journey views read — the wave, the stage, the pack's KPIs, its segments and the weight:
    what the journey notebook reads (:func:`cemkit.views.read_responses` with ``columns``; at a million
    responses a fifth of the CPU time and memory of every column)."""
    return list(dict.fromkeys(["wave", "stage", *pack.kpis, *pack.segment_ids, "weight"]))


_TREND_KEYS = ("has_change", "change_stage", "change_stage_id", "change", "change_significant")


def journey_views(df: pd.DataFrame, pack: Pack, lang: str, wave: str | None = None,
                  compare: str | None = None, *, nps_method: str = "wald",
                  table: pd.DataFrame | None = None) -> Views:
    """Journey curve, NPS composition, league table and the journey table of the reporting wave (the latest
    by default, see :func:`reporting_waves`), its changes against the comparison wave, and the trend over
    every wave. Every result carries the wave facts (:meth:`Waves.facts`) and says its wave in the footnote.

    Method options: ``nps_method`` — the NPS interval (``"wald"`` or ``"adjusted_wald"``, see
    :func:`cemkit.metrics.nps`); significance level, correction and minimum bases are the pack's rules
    (change them with :meth:`Pack.with_rules`). ``table``: the journey table when the notebook has built it
    already (:func:`cemkit.metrics.journey_table` by every pack segment in the data, ``waves=True``, the same
    ``nps_method``)."""
    w = reporting_waves(df, wave, compare)
    cur = w.rows(df)
    if table is None:
        table = m.journey_table(df, pack, by=[s for s in pack.segment_ids if s in df], waves=True,
                                nps_method=nps_method)
    changes = m.wave_change(table, pack, waves=(w.compare, w.report)) if w.compare else _no_changes(table, pack)
    curve = m.journey_curve(table, pack, metric="nps", wave=w.report, changes=changes, lang=lang)
    facts = {**m.journey_facts(curve, changes, pack, lang, table=table, wave=w.report), **w.facts()}
    sig = {"alpha": pack.rules.alpha, "correction": pack.rules.correction}
    test = {"zh": "波次变化：两独立样本z检验", "en": "wave change: two-sample z test"}[lang]
    out: Views = {}
    meta = base_meta(cur, pack, lang, facts=facts, significance=sig, test=test, **w.meta())
    out["journey_curve"] = (curve, meta)

    comp = m.nps_composition(df, pack, wave=w.report, lang=lang, nps_method=nps_method)
    comp["name"] = comp["name"].where(comp["unit"] != m.ALL, {"zh": "整体", "en": "Overall"}[lang])
    comp["label"] = [f"{n}（NPS {number(v)}）" if lang == "zh" and pd.notna(v) else (f"{n} (NPS {number(v)})" if pd.notna(v) else str(n))
                     for n, v in zip(comp["name"], comp["nps"])]
    out["nps_composition"] = (comp, base_meta(cur, pack, lang, facts={**m.composition_facts(comp), **w.facts()},
                                              **w.meta()))

    # the trend shows every wave; its change is the reporting wave's (for a pooled view: the last two waves')
    trend_changes = changes
    if w.pooled and len(w.labels) >= 2:
        trend_changes = m.wave_change(table, pack, waves=w.labels[-2:])
    tr = m.trend(table, pack, changes=trend_changes, lang=lang)
    tr = tr[tr["stage"] != m.ALL] if (tr["stage"] != m.ALL).any() else tr
    tfacts = {**facts, **{k: v for k, v in m.journey_facts(curve, trend_changes, pack, lang).items() if k in _TREND_KEYS}}
    if trend_changes is not changes:
        tfacts.update(compare_wave=w.labels[-2], change_wave=w.labels[-1])
    else:
        tfacts["change_wave"] = w.report
    tmeta = base_meta(df, pack, lang, facts=tfacts, significance=sig, test=test, **w.meta(trend=True))
    # the stage the title names (the largest significant change): the accent line, the others grey
    tr = tr.assign(highlight=(tr["stage"] == tfacts.get("change_stage_id")) & bool(tfacts.get("change_significant")))
    out["wave_trend"] = (tr.reset_index(drop=True), tmeta)

    ch = changes[(changes["segment"] == m.ALL) & (changes["stat"] == changes["metric"].map(lambda k: m.headline_stat(pack, k)))].copy()
    ch["stage_name"] = [pack.stage_name(s, lang) if s != m.ALL else {"zh": "整体", "en": "Overall"}[lang] for s in ch["stage"]]
    out["wave_changes"] = (ch.reset_index(drop=True), meta)

    league_seg = next((s.id for s in pack.segments if s.league and s.id in df), None)
    if league_seg:
        lg = m.league_table(df, pack, league_seg, wave=w.report, nps_method=nps_method)
        lg["ci"] = _ci_text(lg["ci_low"], lg["ci_high"])
        lg["tier"] = lg["tier"].map(lambda x: f"{int(x)}" if pd.notna(x) else "–")
        lfacts = {**m.league_facts(lg), "unit_name": _label(pack.segments[pack.segment_ids.index(league_seg)].name),
                  **w.facts()}
        lmeta = base_meta(cur, pack, lang, facts=lfacts, **w.meta(),
                          test={"zh": "梯队：95%置信区间与领先者重叠", "en": "tiers: 95% interval overlaps the leader's"}[lang])
        out["league"] = (lg, lmeta)

    jt = table[(table["stat"] == table["metric"].map(lambda k: m.headline_stat(pack, k)))].copy()
    jt["stage_name"] = [pack.stage_name(s, lang) if s != m.ALL else {"zh": "整体", "en": "Overall"}[lang] for s in jt["stage"].astype(str)]
    jt["metric_name"] = jt["metric"].map(lambda k: pack.kpis[k].name.get(lang))
    jt["ci"] = _ci_text(jt["ci_low"], jt["ci_high"])
    jt["flag_text"] = jt["flag"].map(_FLAG_TEXT[lang])
    jt["reporting"] = jt["wave"].astype(str) == w.report  # the appendix table shows the reporting wave
    out["journey_table"] = (jt.reset_index(drop=True), meta)
    return with_claims(out)


def with_claims(out: Views) -> Views:
    """Add the ranking checks to the journey results' facts (:mod:`cemkit.claims`): ``worst_clear`` — the
    lowest stage NPS is significantly below the next lowest (z test on their intervals); ``most_detractors_clear``
    — the largest detractor share is significantly above the next; ``leader_clear`` — no unit is tied with the
    league's leader. The league's colours are against the overall NPS (``meta["reference"]``)."""
    if "journey_curve" in out:
        curve, meta = out["journey_curve"]
        shown = curve["value"].where(curve["flag"] != "low_base")
        ld = claims.lead(shown.to_numpy(float), highest=False, lo=curve["ci_low"], hi=curve["ci_high"])
        second = curve.iloc[ld.runner_up] if ld.runner_up is not None else None
        curve["highlight"] = curve["is_worst"].astype(bool) & ld.clear  # the accent bar is a claim too
        meta["facts"].update(worst_clear=bool(ld.clear),
                             second_worst_stage=str(second["stage_name"]) if second is not None else None,
                             second_worst_value=float(second["value"]) if second is not None else None)
    if "nps_composition" in out:
        comp, cmeta = out["nps_composition"]
        body = comp[comp["unit"] != m.ALL]
        ld = claims.lead(body["detractors"].to_numpy(float), highest=True,
                         se=claims.proportion_se(body["detractors"], body["n_eff"]))
        cmeta["facts"]["most_detractors_clear"] = bool(ld.clear)
    if "league" in out:
        lg, lmeta = out["league"]
        facts = lmeta["facts"]
        facts["leader_clear"] = facts.get("ties") == 0 and facts.get("n_ranked", 0) > 1
        facts["n_units"] = len(lg)
        overall = out.get("journey_curve", (None, {"facts": {}}))[1]["facts"].get("overall")
        if overall is not None:
            lmeta["reference"] = float(overall)
        lg["colour"] = charts_colour(lg, lmeta.get("reference"))
        facts["n_above"] = int((lg["colour"] == "green").sum())
        facts["n_below"] = int((lg["colour"] == "red").sum())
    return out


def charts_colour(table: pd.DataFrame, reference: float | None) -> list[str]:
    """"red" / "green" for rows whose interval lies wholly below / above ``reference``, else "" (grey)."""
    if reference is None:
        return [""] * len(table)
    lo, hi = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    return ["red" if h < reference else "green" if low > reference else "" for low, h in zip(lo, hi)]
