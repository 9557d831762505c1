"""Every title that ranks is a checked claim: each storyline template is filled from facts that the views compute
on adversarial tables — ties, every value within the others' intervals, structural zeros — and must then use
its neutral alternative; on a table with a clear leader it names the leader. Run for all four packs and both
languages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cemkit import load_pack
from cemkit.storyline import load_storyline, pick_text
from cemkit.views import journey as vj
from cemkit.views import text as vt
from cemkit.views.drivers import _fix_facts

PACKS = ("auto", "real_estate", "retail", "finance")
RANKING = {"zh": ("最低", "最高", "最大", "最多", "首要", "领先", "集中", "垫底"),
           "en": ("lowest", "highest", "largest", "the most", "first thing", "leads", "matters most")}
BASE = {"client": "某品牌", "has_client": True, "pack_name": "p", "date": "2026-01-01", "period": "2024H1–2024H2",
        "n_used": 1000, "waves": ["2024H1", "2024H2"], "synthetic": False}


def title(pack, slide_id: str, facts: dict, lang: str) -> str:
    spec = next(s for s in load_storyline(pack) if s.id == slide_id)
    return pick_text(spec.title, {**BASE, **facts}, lang)


def ranks(text: str, lang: str) -> bool:
    return any(w in text for w in RANKING[lang])


@pytest.fixture(scope="module", params=PACKS)
def pack(request):
    return load_pack(request.param)


# ------------------------------------------------------------------------------------- journey: lowest stage
def _curve(values, half, pack) -> pd.DataFrame:
    ids = pack.stage_ids[: len(values)]
    v = np.asarray(values, float)
    return pd.DataFrame({"stage": ids, "stage_name": [pack.stage_name(s, "zh") for s in ids], "value": v,
                         "ci_low": v - half, "ci_high": v + half, "n": 300, "n_eff": 300.0,
                         "flag": ["ok" if np.isfinite(x) else "low_base" for x in v],
                         "is_peak": v == np.nanmax(v), "is_end": False, "is_worst": v == np.nanmin(v)})


def _journey_facts(curve: pd.DataFrame) -> dict:
    names = curve["stage_name"]
    worst, peak = int(np.nanargmin(curve["value"])), int(np.nanargmax(curve["value"]))
    facts = {"worst_stage": names[worst], "worst_value": float(curve["value"][worst]), "worst_change": None,
             "worst_change_significant": False, "peak_stage": names[peak], "peak_value": float(curve["value"][peak]),
             "end_stage": names.iloc[-1], "end_value": float(curve["value"].iloc[-1]), "overall": 20.0,
             "gap": float(curve["value"][peak] - curve["value"][worst])}
    out = vj.with_claims({"journey_curve": (curve, {"facts": facts})})
    return out["journey_curve"][1]["facts"]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("values, half", [
    ([20, 10, 10, 30], 4.0),                 # a tie at the bottom
    ([20, 12, 10, 30], 6.0),                 # the two lowest within each other's interval
    ([20, np.nan, 10, 11], 3.0),             # a suppressed stage, and the lowest two close
])
def test_journey_title_does_not_name_a_lowest_stage_without_a_clear_gap(pack, lang, values, half):
    facts = _journey_facts(_curve(values, half, pack))
    assert facts["worst_clear"] is False
    assert not ranks(title(pack, "journey_curve", facts, lang), lang)


def test_journey_title_names_a_clearly_lowest_stage(pack):
    facts = _journey_facts(_curve([20, -9, 15, 30], 4.0, pack))
    assert facts["worst_clear"] is True
    assert "最低" in title(pack, "journey_curve", facts, "zh")


# ------------------------------------------------------------------------------- composition and league
@pytest.mark.parametrize("detractors, n", [([30, 30, 20], 400), ([31, 29, 20], 300)])
def test_composition_title_neutral_when_detractor_shares_tie(pack, detractors, n):
    comp = pd.DataFrame({"unit": ["a", "b", "c", "__all__"], "name": ["A", "B", "C", "整体"],
                         "detractors": [*detractors, 27.0], "n_eff": [n, n, n, 3 * n]})
    facts = {"most_detractors_stage": "A", "most_detractors_share": float(detractors[0]),
             "overall_detractors": 27.0, "overall_promoters": 45.0}
    out = vj.with_claims({"nps_composition": (comp, {"facts": facts})})
    f = out["nps_composition"][1]["facts"]
    assert f["most_detractors_clear"] is False
    for lang in ("zh", "en"):
        assert not ranks(title(pack, "nps_composition", f, lang), lang)


def test_league_title_neutral_when_units_tie_with_the_leader(pack):
    lg = pd.DataFrame({"unit": ["A", "B", "C"], "value": [40.0, 38.0, 10.0], "ci_low": [30.0, 28.0, 0.0],
                       "ci_high": [50.0, 48.0, 20.0], "rank": [1, 2, 3]})
    facts = {"best_unit": "A", "best_value": 40.0, "ties": 1, "n_ranked": 3, "unit_name": {"zh": "单位", "en": "unit"}}
    curve = (pd.DataFrame({"value": [], "flag": [], "ci_low": [], "ci_high": [], "stage_name": [], "is_worst": []}),
             {"facts": {"overall": 25.0}})
    out = vj.with_claims({"league": (lg, {"facts": facts}), "journey_curve": curve})
    f = out["league"][1]["facts"]
    assert f["leader_clear"] is False
    for lang in ("zh", "en"):
        assert not ranks(title(pack, "league_chart", f, lang), lang)
    # colours against the overall NPS (25): A [30, 50] and B [28, 48] lie wholly above it, C [0, 20] below
    assert list(lg["colour"]) == ["green", "green", "red"]
    assert (f["n_above"], f["n_below"]) == (2, 1)


# ------------------------------------------------------------------------------------------ drivers
def test_priority_title_neutral_when_importance_intervals_overlap(pack):
    stage = next(s for s in pack.stages if len(s.drivers) >= 2)
    d = list(stage.drivers)[:3]
    pm = pd.DataFrame({"stage": stage.id, "driver": d, "share": [0.36, 0.34, 0.30][: len(d)],
                       "ci_low": [0.28, 0.26, 0.22][: len(d)], "ci_high": [0.44, 0.42, 0.38][: len(d)],
                       "performance": [6.0, 6.5, 8.0][: len(d)], "below": [True, True, False][: len(d)]})
    f = {**_fix_facts(pm, pack), "n_below": 2}
    assert f["top_fix_clear"] is False
    for lang in ("zh", "en"):
        assert not ranks(title(pack, "priority_bar", f, lang), lang)
    pm.loc[0, ["ci_low", "ci_high"]] = [0.50, 0.60]
    pm.loc[0, "share"] = 0.55
    assert _fix_facts(pm, pack)["top_fix_clear"] is True


# --------------------------------------------------------------------------------------------- text
def _overall(neg_rate, gaps, half, pack, n_comments=2000) -> pd.DataFrame:
    themes = [t.id for t in pack.themes][: len(neg_rate)]
    names = [t.name.get("zh") for t in pack.themes][: len(neg_rate)]
    g = np.asarray(gaps, float)
    return pd.DataFrame({"theme": themes, "theme_name": names, "negative_rate": neg_rate, "mention_rate": 10.0,
                         "positive_rate": 5.0, "gap": g, "gap_low": g - half, "gap_high": g + half,
                         "significant": np.abs(g) > half, "n_comments": n_comments, "flag": "ok",
                         "neg_share": 40.0, "pos_share": 50.0})


@pytest.mark.parametrize("neg_rate", [[4.0, 4.0, 1.0], [4.5, 3.9, 1.0]])
def test_themes_title_neutral_when_the_top_two_are_close(pack, neg_rate):
    ov = _overall(neg_rate, [-5, -4, 2], 8.0, pack)
    table, meta = vt._themes(ov, ov, 2000, {})
    f = meta["facts"]
    assert f["top_neg_clear"] is False
    assert list(table["negative_rate"]) == sorted(neg_rate, reverse=True)  # sorted by what the title ranks
    for lang in ("zh", "en"):
        assert not ranks(title(pack, "themes", f, lang), lang)


def test_impact_title_neutral_when_every_gap_is_within_its_interval(pack):
    ov = _overall([3, 2, 1], [-9.0, -8.0, 5.0], 10.0, pack)
    tab, meta = vt._impact(ov, {}, "zh")
    f = meta["facts"]
    assert not f["most_damaging_significant"] and not f["most_damaging_clear"]
    assert list(tab["nps_gap"]) == sorted(tab["nps_gap"])      # sorted by the plotted gap
    assert set(tab["marker"]) == {""} and set(tab["sig_colour"]) == {""}  # nothing significant, nothing marked
    for lang in ("zh", "en"):
        t = title(pack, "theme_impact", f, lang)
        assert not ranks(t, lang) and ("无显著差异" in t or "no differently" in t)


def test_impact_title_names_a_clearly_largest_gap(pack):
    ov = _overall([3, 2, 1], [-30.0, -5.0, 4.0], 4.0, pack)
    f = vt._impact(ov, {}, "zh")[1]["facts"]
    assert f["most_damaging_clear"]
    assert "差距最大" in title(pack, "theme_impact", f, "zh")


def test_heat_map_blank_structural_zeros_and_neutral_title(pack):
    themes = [t.id for t in pack.themes][:3]
    stages = pack.stage_ids[:3]
    rows = []
    for i, th in enumerate(themes):  # each theme raised at one stage only: six structural zeros
        rows.append({"stage": stages[i], "wave": "__all__", "theme": th, "mentions": 200, "neg_share": 40.0 + i,
                     "mention_rate": 5.0})
    rows.append({"stage": stages[0], "wave": "__all__", "theme": themes[1], "mentions": 10, "neg_share": 90.0,
                 "mention_rate": 1.0})  # a low base: kept with its base, no value
    table = pd.DataFrame(rows)
    ov = pd.DataFrame({"theme": themes})
    long, meta = vt._heat(table, ov, pack, "zh", {})
    f = meta["facts"]
    assert f["n_structural_zero"] == 9 - 4 and len(long) == 4   # blank cells are absent rows, not 0
    assert long.loc[long["mentions"] == 10, "neg_share"].isna().all()
    assert f["hot_rate"] == 42.0 and f["hot_clear"] is False      # 40 / 41 / 42 % on 200 mentions each
    for lang in ("zh", "en"):
        assert not ranks(title(pack, "theme_stage", f, lang), lang)


# ------------------------------------------------------------------------------------------ prediction
def test_a_weak_model_makes_no_claim(pack):
    spec = {s.id: s for s in load_storyline(pack)}
    facts = {"refused": False, "claim": False, "auc": 0.63, "hit_rate": 40.0, "detractor_rate": 27.0,
             "lift": 1.5, "n_scored": 500, "discrimination": {"zh": "较弱", "en": "poor"}}
    from cemkit.storyline import condition_holds

    shown = [sid for sid in ("prediction", "prediction_weak", "prediction_refused")
             if condition_holds(spec[sid].require, facts)]
    assert shown == ["prediction_weak"]
    for lang in ("zh", "en"):
        t = title(pack, "prediction_weak", facts, lang)
        assert "0.63" in t and ("识别" not in t and "identif" not in t)
