"""The reporting wave: every headline figure is the reporting wave's (the latest by default), checked against
plain pandas (NPS = % of 9–10 minus % of 0–6 on the wave's rows); the pooled figure only with ``wave="all"``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cemkit import views
from cemkit.errors import DataError
from cemkit.render.plan import summary_findings, wave_note

ALL = "__all__"


def nps(s: pd.Series) -> float:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return float(((s >= 9).mean() - (s <= 6).mean()) * 100)


@pytest.fixture(scope="module")
def demo(auto_pack):
    from cemkit.demo import generate

    return generate(auto_pack, n=6000, seed=11).responses


@pytest.fixture(scope="module")
def journey(demo, auto_pack):
    return views.journey_views(demo, auto_pack, "zh")


# --------------------------------------------------------------------------------------- which wave
def test_reporting_waves_resolution(demo):
    w = views.reporting_waves(demo)
    assert w.labels == ("2024Q1", "2024Q2", "2024Q3", "2024Q4")
    assert (w.report, w.compare, w.pooled) == ("2024Q4", "2024Q3", False)
    assert views.reporting_waves(demo, "latest").report == "2024Q4"
    pooled = views.reporting_waves(demo, "all")
    assert (pooled.report, pooled.compare, pooled.pooled) == (ALL, None, True)
    assert (views.reporting_waves(demo, "2024q2").report, views.reporting_waves(demo, "2024q2").compare) == \
        ("2024Q2", "2024Q1")
    assert views.reporting_waves(demo, "2024Q1").compare is None  # the first wave has nothing before it
    assert views.reporting_waves(demo, compare="none").compare is None
    assert views.reporting_waves(demo, compare="2024Q1").compare == "2024Q1"
    assert views.reporting_waves(demo, "all", compare="2024Q1").compare == "2024Q1"
    with pytest.raises(DataError, match=r"--wave '2025Q1'.*waves: 2024Q1, 2024Q2, 2024Q3, 2024Q4"):
        views.reporting_waves(demo, "2025Q1")
    with pytest.raises(DataError, match="--compare"):
        views.reporting_waves(demo, compare="2023Q4")
    with pytest.raises(DataError, match="reporting wave itself"):
        views.reporting_waves(demo, "2024Q3", compare="2024Q3")
    none = views.reporting_waves(demo.drop(columns="wave"))
    assert (none.labels, none.report, none.compare) == ((), ALL, None)
    one = views.reporting_waves(demo[demo["wave"] == "2024Q2"])
    assert (one.report, one.compare, one.facts()["one_wave"]) == ("2024Q2", None, True)


def test_wave_mask_ignores_rows_without_a_wave(demo):
    d = demo.copy()
    d.loc[d.index[:10], "wave"] = None
    w = views.reporting_waves(d)
    assert w.mask(d).sum() == (d["wave"] == "2024Q4").sum()
    assert views.reporting_waves(d, "all").mask(d).all()


# ------------------------------------------------------------------------------------- journey views
def test_journey_figures_are_the_latest_wave(demo, journey, auto_pack):
    last = demo[demo["wave"] == "2024Q4"]
    curve, meta = journey["journey_curve"]
    want = last.groupby("stage")["nps"].apply(nps)
    got = curve.set_index("stage")["value"]
    np.testing.assert_allclose(got.to_numpy(), want.reindex(got.index).to_numpy(), atol=1e-9)
    facts = meta["facts"]
    assert facts["overall"] == pytest.approx(nps(last["nps"]))
    assert facts["overall_n"] == len(last)
    assert facts["worst_value"] == pytest.approx(want.min()) and facts["worst_stage_id"] == want.idxmin()
    assert meta["base"]["n"] == len(last)
    assert (facts["wave"], facts["compare_wave"], facts["pooled"]) == ("2024Q4", "2024Q3", False)
    assert meta["wave"] == {"report": "2024Q4", "compare": "2024Q3", "labels": ["2024Q1", "2024Q2", "2024Q3", "2024Q4"],
                            "pooled": False, "trend": False}

    comp = journey["nps_composition"][0].set_index("unit")
    for stage, rows in last.groupby("stage"):
        assert comp.loc[stage, "detractors"] == pytest.approx((rows["nps"] <= 6).mean() * 100)
        assert comp.loc[stage, "promoters"] == pytest.approx((rows["nps"] >= 9).mean() * 100)
    assert comp.loc[ALL, "nps"] == pytest.approx(nps(last["nps"]))

    league = journey["league"][0]
    ranked = league[league["rank"].notna()].set_index("unit")["value"]
    by_dealer = last.groupby("dealer")["nps"].apply(nps)
    np.testing.assert_allclose(ranked.to_numpy(), by_dealer.reindex(ranked.index).to_numpy(), atol=1e-9)
    assert journey["league"][1]["facts"]["best_value"] == pytest.approx(ranked.max())

    prev = demo[demo["wave"] == "2024Q3"]
    ch = journey["wave_changes"][0]
    ch = ch[ch["metric"] == "nps"].set_index("stage")
    for stage in auto_pack.stage_ids:
        diff = nps(last.loc[last["stage"] == stage, "nps"]) - nps(prev.loc[prev["stage"] == stage, "nps"])
        assert ch.loc[stage, "diff"] == pytest.approx(diff)
    assert facts["overall_change"] == pytest.approx(nps(last["nps"]) - nps(prev["nps"]))

    jt = journey["journey_table"][0]
    shown = jt[jt["reporting"] & (jt["segment"] == ALL) & (jt["metric"] == "nps")].set_index("stage")
    assert set(shown["wave"]) == {"2024Q4"}
    assert shown.loc[ALL, "value"] == pytest.approx(nps(last["nps"]))


def test_trend_shows_every_wave_with_the_reporting_change(journey):
    tr, meta = journey["wave_trend"]
    assert sorted(tr["wave"].unique()) == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert meta["wave"]["trend"] is True and meta["base"]["n"] == 6000
    assert set(tr.loc[tr["marker"] != "", "wave"]) <= {"2024Q4"}  # significance marks the reporting change only
    assert meta["facts"]["change_wave"] == "2024Q4" and meta["facts"]["compare_wave"] == "2024Q3"
    # the stage the title names (only a significant change is named) is the one the chart highlights
    named = {meta["facts"]["change_stage_id"]} if meta["facts"]["change_significant"] else set()
    assert set(tr.loc[tr["highlight"], "stage"]) == named
    assert tr["highlight"].sum() == 4 * len(named)


def test_the_pooled_value_only_with_wave_all(demo, journey, auto_pack):
    pooled = demo.groupby("stage")["nps"].apply(nps)
    curve = journey["journey_curve"][0].set_index("stage")["value"]
    assert not np.allclose(curve.to_numpy(), pooled.reindex(curve.index).to_numpy())
    out = views.journey_views(demo, auto_pack, "zh", wave="all")
    curve, meta = out["journey_curve"]
    np.testing.assert_allclose(curve.set_index("stage")["value"].to_numpy(),
                               pooled.reindex(curve["stage"]).to_numpy(), atol=1e-9)
    facts = meta["facts"]
    assert facts["pooled"] and facts["overall"] == pytest.approx(nps(demo["nps"]))
    assert facts["worst_change"] is None  # no wave change is pinned on a pooled value
    assert facts["wave"]["zh"] == "全部4个波次合并（2024Q1–2024Q4）"
    assert meta["wave"]["pooled"] and meta["base"]["n"] == len(demo)
    assert curve["marker"].eq("").all()
    # the trend still shows the last two waves' change
    assert out["wave_trend"][1]["facts"]["compare_wave"] == "2024Q3"


def test_chosen_wave_and_comparison(demo, auto_pack):
    out = views.journey_views(demo, auto_pack, "en", wave="2024Q2", compare="none")
    facts = out["journey_curve"][1]["facts"]
    q2 = demo[demo["wave"] == "2024Q2"]
    assert facts["overall"] == pytest.approx(nps(q2["nps"])) and facts["compare_wave"] is None
    assert out["wave_changes"][0].empty and facts["worst_change"] is None
    out = views.journey_views(demo, auto_pack, "en", compare="2024Q1")
    ch = out["wave_changes"][0]
    q1, q4 = (demo[demo["wave"] == w] for w in ("2024Q1", "2024Q4"))
    row = ch[(ch["metric"] == "nps") & (ch["stage"] == ALL)].iloc[0]
    assert (row["wave_prev"], row["wave_last"]) == ("2024Q1", "2024Q4")
    assert row["diff"] == pytest.approx(nps(q4["nps"]) - nps(q1["nps"]))


def test_one_wave_has_no_change(demo, auto_pack):
    one = demo[demo["wave"] == "2024Q3"]
    out = views.journey_views(one, auto_pack, "zh")
    facts = out["journey_curve"][1]["facts"]
    assert facts["one_wave"] and not facts["has_compare"] and facts["worst_change"] is None
    assert out["wave_changes"][0].empty
    assert out["wave_trend"][1]["facts"]["has_change"] is False  # the trend slide's `require` drops it


# ---------------------------------------------------------------------------- drivers, text, actions
def test_drivers_text_and_alerts_use_the_reporting_wave(demo, auto_pack, tmp_path):
    last = demo[demo["wave"] == "2024Q4"]
    drv = views.driver_views(demo, auto_pack, "zh", bootstrap=0)
    sd, meta = drv["stage_drivers"]
    target = auto_pack.rules.driver_target
    for stage, n in sd.groupby("stage")["n"].first().items():
        cols = list(auto_pack.stage(stage).drivers)
        assert n == len(last[last["stage"] == stage].dropna(subset=[target, *cols]))
    assert meta["facts"]["wave"] == "2024Q4"

    txt = views.text_views(demo, auto_pack, "zh", run_dir=tmp_path)
    themes_meta = txt["themes"][1]
    commenters = last["comment"].notna() & last["comment"].astype(str).str.strip().ne("")
    assert themes_meta["base"]["n"] == int(commenters.sum())
    assert themes_meta["facts"]["wave"] == "2024Q4"
    tags = pd.read_parquet(tmp_path / "data" / "theme_tags.parquet")
    tagged_waves = set(demo.reset_index(drop=True).loc[tags["row"], "wave"])
    assert tagged_waves == {"2024Q3", "2024Q4"}  # the reporting wave and the one it is compared with

    act = views.action_views(demo, auto_pack, "zh", run_dir=tmp_path, tags=tags)
    alerts = pd.read_csv(tmp_path / "alerts.csv", dtype=str)
    assert set(alerts["wave"]) == {"2024Q4"}
    assert set(alerts["response_id"]) <= set(last["response_id"])
    assert act["alerts_summary"][1]["facts"]["n_alerts"] == len(alerts)
    # the critical-theme rule still finds its tags after the rows are narrowed to the wave
    assert alerts["rules"].str.contains("critical_theme_negative").any()
    plays = pd.read_csv(tmp_path / "playbooks.csv", dtype=str)
    assert len(plays) <= len(last)


# --------------------------------------------------------------------------------- footnotes, summary
def test_wave_note_says_the_wave():
    labels = ["2024Q1", "2024Q2", "2024Q3"]
    meta = {"wave": {"report": "2024Q3", "compare": "2024Q2", "labels": labels, "pooled": False, "trend": False}}
    assert wave_note(meta, "zh") == "波次：2024Q3（对比2024Q2）"
    assert wave_note(meta, "en") == "Wave: 2024Q3 (vs 2024Q2)"
    pooled = {"wave": {"report": ALL, "compare": None, "labels": labels, "pooled": True, "trend": False}}
    assert wave_note(pooled, "zh") == "波次：全部3个波次合并（2024Q1–2024Q3）"
    trend = {"wave": {**meta["wave"], "trend": True}}
    assert wave_note(trend, "zh") == "波次：2024Q1–2024Q3；变化：2024Q3对比2024Q2"
    only = {"wave": {"report": "2024Q3", "compare": None, "labels": ["2024Q3"], "pooled": False, "trend": False}}
    assert wave_note(only, "en") == "Wave: 2024Q3 (the only wave in the data)"
    assert wave_note({}, "zh") == ""


def test_summary_says_one_wave_or_pooled():
    assert summary_findings([], {"one_wave": True, "n_waves": 1, "wave_id": "2024Q3"}, "zh") == \
        ["数据仅含一个波次（2024Q3）：没有可比较的上一波，波次变化页未生成。"]
    assert "pool all 4 waves" in summary_findings([], {"pooled": True, "n_waves": 4, "period": "2024Q1–2024Q4"},
                                                  "en")[0]
    assert summary_findings([], {"one_wave": False, "n_waves": 4}, "zh") == []


@pytest.mark.slow
def test_unknown_wave_exits_2_naming_the_waves(tmp_path, capsys):
    from cemkit.cli import main

    rc = main(["run", "--pack", "auto", "--out", str(tmp_path), "--wave", "2030Q1", "--quiet", "--demo-n", "800"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "2030Q1" in err and "2024Q1, 2024Q2, 2024Q3, 2024Q4" in err
    assert "Traceback" not in err


def test_summary_warns_when_the_reporting_wave_is_tiny():
    facts = {"wave_low_base": True, "wave_id": "2024H2", "n_wave": 1, "n_waves": 2}
    assert summary_findings([], facts, "zh")[0].startswith("本期（2024H2）仅1份答卷")
    assert summary_findings([], {**facts, "pooled": True, "n_waves": 1}, "zh") == []


def test_journey_facts_overall_is_the_curves_wave(demo, auto_pack):
    from cemkit import metrics as M

    table = M.journey_table(demo, auto_pack, waves=True)
    curve = M.journey_curve(table, auto_pack, wave="2024Q2")
    facts = M.journey_facts(curve, None, auto_pack, table=table, wave="2024Q2")
    q2 = demo.loc[demo["wave"] == "2024Q2", "nps"]
    est = M.nps(q2)
    assert facts["overall"] == pytest.approx(nps(q2)) == pytest.approx(est.value)
    assert (facts["overall_ci_low"], facts["overall_ci_high"]) == (pytest.approx(est.ci_low), pytest.approx(est.ci_high))
    assert facts["overall_n"] == est.n
    pooled = M.journey_facts(curve, None, auto_pack, table=table)  # the default: every wave pooled
    assert pooled["overall"] == pytest.approx(nps(demo["nps"]))
