"""Charts that show what their titles say, found by looking at the rendered decks: stage importance from a
model the data can support, error bars inside the plot, heat-map columns in journey order, the trend line the
title names in the accent, percentages labelled as such, emerging-topic quotes with their source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pptx import Presentation
from pptx.util import Emu
from scipy import stats

from cemkit.render import charts, style, tables
from cemkit.storyline import ChartSpec
from cemkit.views import drivers as vd
from cemkit.views import text as vt


# ----------------------------------------------------------------------------------- stage importance
def _stage_survey(rng, n_per_stage: int, stages: list[str], slopes: list[float], overlap: float = 0.0):
    """Customers who each rate one stage (``overlap``: share who also rate the next one), NPS driven by it."""
    rows = []
    cid = 0
    for j, (s, b) in enumerate(zip(stages, slopes)):
        for _ in range(n_per_stage):
            cid += 1
            csat = rng.integers(1, 11)
            nps = float(np.clip(round(b * csat + rng.normal(0, 2.5)), 0, 10))
            rows.append({"customer_id": cid, "stage": s, "csat": float(csat), "nps": nps})
            if rng.random() < overlap and j + 1 < len(stages):
                rows.append({"customer_id": cid, "stage": stages[j + 1], "csat": float(rng.integers(1, 11)),
                             "nps": nps})
    return pd.DataFrame(rows)


def test_separate_importance_is_each_stages_squared_correlation_share_by_scipy(auto_pack):
    rng = np.random.default_rng(3)
    stages = auto_pack.stage_ids[:4]
    df = _stage_survey(rng, 150, stages, [0.9, 0.6, 0.3, 0.0])
    res, meta = vd.stage_importance(df, auto_pack, "zh", bootstrap=50)
    assert meta["facts"]["joint_model"] is False  # nobody rated two stages: no joint regression
    wide = df.pivot_table(index="customer_id", columns="stage", values="csat")
    target = df.groupby("customer_id")["nps"].mean()
    r2 = {}
    for s in stages:  # independent: scipy's Pearson r over each stage's raters
        ok = wide[s].notna()
        r = stats.pearsonr(wide.loc[ok, s], target[ok]).statistic
        r2[s] = max(r, 0.0) ** 2
    total = sum(r2.values())
    got = res.set_index("driver")["share"]
    for s in stages:
        assert got[s] == pytest.approx(r2[s] / total, abs=1e-12)
    assert list(res["driver"][:3]) == stages[:3]  # sorted by the plotted share
    assert (res["ci_low_pct"] >= 0).all() and (res["ci_high_pct"] <= 100).all()
    assert (res["ci_low_pct"] <= res["share_pct"] + 1e-9).all() and (res["share_pct"] <= res["ci_high_pct"] + 1e-9).all()
    assert "无法联合建模" in meta["test"]


def _separate_by_copies(wide, target, stages, bootstrap, seed, ci=0.95):
    """The former implementation: every resample a copy of the table (rng.integers per resample), numpy's
    corrcoef per stage. Independent of the count-weighted sums it is compared with."""
    X, y, n = wide[stages].to_numpy(float), wide[target].to_numpy(float), len(wide)

    def shares(idx):
        xs, ys = X[idx], y[idx]
        r2 = np.zeros(len(stages))
        for j in range(len(stages)):
            ok = ~np.isnan(xs[:, j]) & ~np.isnan(ys)
            if ok.sum() >= 3 and xs[ok, j].std() > 0 and ys[ok].std() > 0:
                r2[j] = max(np.corrcoef(xs[ok, j], ys[ok])[0, 1], 0.0) ** 2
        return r2, (r2 / r2.sum() if r2.sum() > 0 else np.full(len(stages), np.nan))

    rng = np.random.default_rng(seed)
    if not bootstrap:
        return shares(np.arange(n)), None, None
    boot = np.array([shares(rng.integers(0, n, n))[1] for _ in range(bootstrap)])
    a = (1 - ci) / 2
    return shares(np.arange(n)), np.nanquantile(boot, a, axis=0), np.nanquantile(boot, 1 - a, axis=0)


@pytest.mark.parametrize("case", ["demo", "edges"])
def test_separate_importance_equals_the_resample_by_copies_it_replaced(auto_pack, demo_auto, case):
    """The count-weighted sums give the same estimate and the same bootstrap interval (same resamples, same
    seed) as copying the table per resample, to 1e-9 — on the demo's customers, and on a table with a stage
    rated by 4 customers (resamples with fewer than 3 raters or one repeated value) and a constant stage."""
    if case == "demo":
        df = demo_auto.responses
        wide = df.pivot_table(index="customer_id", columns="stage", values="csat", aggfunc="mean")
        wide["__nps"] = df.groupby("customer_id")["nps"].mean()
        stages = [s for s in auto_pack.stage_ids if s in wide]
    else:
        rng = np.random.default_rng(11)
        n = 60
        wide = pd.DataFrame({"a": rng.integers(1, 11, n).astype(float), "b": np.nan, "c": 7.0,
                             "__nps": rng.integers(0, 11, n).astype(float)})
        wide.loc[:3, "b"] = [3.0, 9.0, 9.0, 4.0]
        wide.loc[::7, "__nps"] = np.nan
        stages = ["a", "b", "c"]
    wide = wide.reset_index(drop=True)
    got = vd.separate_importance(wide, "__nps", stages, bootstrap=120, seed=4)
    (imp, share), low, high = _separate_by_copies(wide, "__nps", stages, 120, 4)
    np.testing.assert_allclose(got["importance"], imp, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["share"], share, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["ci_low"], low, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["ci_high"], high, rtol=0, atol=1e-9)
    assert (got["ci_high"] > got["ci_low"]).any()
    # every resample's squared correlations, not only the quantiles: a resample with fewer than 3 raters of a
    # stage or with one value repeated has none (0), as in the copy
    rng, X, y, n = np.random.default_rng(2), wide[stages].to_numpy(float), wide["__nps"].to_numpy(float), len(wide)
    draws = [rng.integers(0, n, n) for _ in range(60)]
    counts = np.vstack([np.bincount(d, minlength=n) for d in draws]).astype(float)
    copies = np.array([_separate_by_copies(wide.iloc[d], "__nps", stages, 0, 0)[0][0] for d in draws])
    np.testing.assert_allclose(vd._stage_r2(X, y, counts), copies, rtol=0, atol=1e-9)
    if case == "edges":
        b = counts[:, :4] @ (~np.isnan(y[:4])).astype(float)  # stage b's raters drawn in each resample
        assert (b < 3).any() and (b >= 3).any() and (copies[:, 2] == 0).all()


def test_stage_importance_keeps_the_joint_shapley_model_when_customers_rate_stages_together(auto_pack):
    rng = np.random.default_rng(5)
    stages = auto_pack.stage_ids[:3]
    n = 600
    base = rng.normal(0, 1, n)
    rows = []
    for i in range(n):  # every customer rates all three stages
        nps = float(np.clip(round(5 + 2 * base[i] + rng.normal(0, 1)), 0, 10))
        for k, s in enumerate(stages):
            rows.append({"customer_id": i, "stage": s, "csat": float(np.clip(round(6 + (1.5 - k * 0.5) * base[i]
                                                                                   + rng.normal(0, 1)), 1, 10)),
                         "nps": nps})
    res, meta = vd.stage_importance(pd.DataFrame(rows), auto_pack, "zh", bootstrap=30)
    assert meta["facts"]["joint_model"] is True
    assert res["share"].sum() == pytest.approx(1.0)
    assert "Shapley" in meta["test"]


def test_an_implausible_pairwise_fit_is_not_shown():
    res = pd.DataFrame({"driver": ["a", "b"], "share": [1.2, -0.2]})
    res.attrs.update(r2=1.7, notes=[])
    assert vd._implausible(res)
    ok = pd.DataFrame({"driver": ["a", "b"], "share": [0.6, 0.4]})
    ok.attrs.update(r2=0.4, notes=[])
    assert not vd._implausible(ok)


# ---------------------------------------------------------------------------------------- deck drawing
def _slide():
    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(12192000), Emu(6858000)
    return prs.slides.add_slide(prs.slide_layouts[6])


BOX = (Emu(457200), Emu(1200000), Emu(10000000), Emu(4500000))


def test_bar_axis_holds_the_intervals():
    df = pd.DataFrame({"name": ["a", "b", "c"], "v": [-30.0, -9.0, 10.0], "lo": [-45.0, -40.0, -5.0],
                       "hi": [-15.0, 27.0, 31.0]})
    spec = ChartSpec(type="bar", category="name", series=("v",), horizontal=True, interval=("lo", "hi"))
    chart = charts.draw_bar(_slide(), BOX, df, spec, "zh").chart
    ax = chart.value_axis
    assert ax.minimum_scale <= -45 and ax.maximum_scale >= 31


def test_trend_line_the_title_names_is_the_accent_and_the_others_grey():
    waves = ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    df = pd.DataFrame([{"wave": w, "stage_name": s, "value": v, "is_change": s == "交车"}
                       for s, vals in (("交车", [20, 21, 19, 3]), ("试驾", [30, 31, 29, 30]))
                       for w, v in zip(waves, vals)])
    spec = ChartSpec(type="line", category="wave", label="stage_name", y="value", highlight="is_change")
    chart = charts.draw_line(_slide(), BOX, df, spec, "zh").chart
    lines = {s.name: s.format.line for s in chart.plots[0].series}
    assert lines["交车"].color.theme_color is not None and lines["交车"].width > lines["试驾"].width
    assert str(lines["试驾"].color.rgb) == style.PALETTE["light"]


def test_heat_map_columns_follow_the_journey_not_first_appearance():
    df = pd.DataFrame({"theme_name": ["t1", "t1", "t2"], "stage_name": ["s3", "s4", "s1"], "x_order": [2, 3, 0],
                       "neg_share": [40.0, 50.0, 30.0], "mentions": [100, 100, 100]})
    spec = ChartSpec(type="heatmap", category="theme_name", x="stage_name", y="neg_share", label="mentions")
    rows, cols, _ = tables.heat_grid(df, spec)
    assert cols == ["s1", "s3", "s4"] and rows == ["t1", "t2"]


@pytest.mark.parametrize("pack_name", ["auto", "real_estate", "retail", "finance"])
def test_prediction_bars_label_both_rates_in_per_cent(pack_name):
    from cemkit import load_pack
    from cemkit.storyline import load_storyline

    for spec in load_storyline(load_pack(pack_name)):
        if spec.result == "prediction_lift":
            assert all(style.number_format(spec.chart, c).endswith('"%"') for c in spec.chart.series), spec.id


# ------------------------------------------------------------------------------------------ emerging
def test_emerging_quotes_carry_stage_score_and_unit(auto_pack):
    df = pd.DataFrame({"comment": ["充电桩一直装不上，太慢了", "服务很好", "充电桩安装流程复杂。", "还行"] * 20,
                       "nps": [3, 9, 5, 8] * 20, "stage": ["delivery", "showroom", "maintenance", "contract"] * 20,
                       "dealer": ["甲店", "乙店", "丙店", "丁店"] * 20})
    df.index = df.index + 100  # index labels are not positions (a reporting wave's rows)
    cand = pd.DataFrame({"head": ["充电桩"], "keywords": [["充电桩", "安装"]],
                         "head_quotes": [["充电桩安装流程复杂。", "充电桩一直装不上"]]})
    new = vt.emerging_topics(df, cand, auto_pack)
    cards = vt.emerging_cards(new, "zh", df=df, pack=auto_pack)
    src = dict(zip(cards["quote"], cards["source"]))
    assert src["充电桩安装流程复杂。"] == "维修保养｜推荐意愿5分｜丙店"
    assert src["充电桩一直装不上"] == "交车提车｜推荐意愿3分｜甲店"  # a clause of a longer comment


def test_a_bar_with_an_interval_shows_its_value_beside_the_name_not_under_the_line():
    df = pd.DataFrame({"name": ["甲店", "乙店"], "v": [-8.2, 30.6], "lo": [-24.0, 17.0], "hi": [7.0, 44.0],
                       "m": ["▼", ""]})
    spec = ChartSpec(type="bar", category="name", series=("v",), horizontal=True, interval=("lo", "hi"), marker="m")
    assert charts.categories(df, spec, "zh") == ["甲店  -8▼", "乙店  31"]
    chart = charts.draw_bar(_slide(), BOX, df, spec, "zh").chart
    dlbls = chart.plots[0].series[0]._element.find("{http://schemas.openxmlformats.org/drawingml/2006/chart}dLbls")
    assert dlbls is None  # no data label on the bar
