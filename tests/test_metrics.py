"""Tests for cemkit.metrics: every statistic against published reference values or an independent computation
(statsmodels, scipy, a hand formula, or the scalar functions applied group by group in a loop)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats import proportion as smp
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from cemkit import metrics as M
from cemkit.metrics import ALL
from cemkit.packs import SCALE_KINDS, Rules

Z95 = 1.959964


# ------------------------------------------------------------------------------------------------
# Synthetic responses (vectorised) for the table and significance tests
# ------------------------------------------------------------------------------------------------
def nps_scores(rng: np.random.Generator, n: int, p_prom: float, p_det: float) -> np.ndarray:
    """Scores 0-10 with the given promoter and detractor probabilities (passives the rest)."""
    u = rng.random(n)
    prom = rng.choice([9, 10], n)
    det = rng.integers(0, 7, n)
    pas = rng.choice([7, 8], n)
    return np.where(u < p_prom, prom, np.where(u < p_prom + p_det, det, pas)).astype(float)


def responses(
    pack,
    rng: np.random.Generator,
    n: int,
    waves=("2024H1", "2024H2"),
    weighted: bool = True,
    shift: dict | None = None,
    dealers: int = 6,
) -> pd.DataFrame:
    """Random clean responses for ``pack``; ``shift`` maps (stage, wave) → added promoter probability."""
    stages = np.array(pack.stage_ids, dtype=object)
    stage = stages[rng.integers(0, stages.size, n)]
    wave = np.array(waves, dtype=object)[rng.integers(0, len(waves), n)]
    p_prom = np.full(n, 0.4)
    for (s, w), d in (shift or {}).items():
        p_prom[(stage == s) & (wave == w)] += d
    u = rng.random(n)
    score = np.where(
        u < p_prom,
        rng.choice([9, 10], n),
        np.where(u < p_prom + 0.25, rng.integers(0, 7, n), rng.choice([7, 8], n)),
    ).astype(float)
    frame = pd.DataFrame(
        {
            "response_id": np.arange(n).astype(str),
            "wave": wave,
            "stage": stage,
            "nps": score,
            "csat": rng.integers(1, 6, n).astype(float),
            "ces": rng.integers(1, 8, n).astype(float),
            "region": np.array(["华东", "华南", "华北"], dtype=object)[rng.integers(0, 3, n)],
            "dealer": np.array([f"D{i}" for i in range(dealers)], dtype=object)[rng.integers(0, dealers, n)],
            "weight": rng.choice([0.5, 1.0, 1.5, 2.5], n) if weighted else np.ones(n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "nps"] = np.nan
    frame.loc[rng.random(n) < 0.05, "region"] = None
    return frame


def asked(pack, metric: str) -> list[str]:
    return [s.id for s in pack.stages if metric in s.kpis]


# ================================================================================================
# Scalar statistics against the reference README
# ================================================================================================
def test_nps_reference_case_1():
    r = M.nps([0, 7, 7, 9, 9, 9])
    assert r.n == 6 and r.n_eff == 6
    assert (r.promoters, r.passives, r.detractors) == pytest.approx((50, 100 / 3, 100 / 6))
    assert r.value == pytest.approx(100 / 3)
    assert (r.se / 100) ** 2 * 6 == pytest.approx(5 / 9)  # var = 5/9
    assert r.se / 100 == pytest.approx(0.304290, abs=5e-7)
    # var is the population variance of scores coded +1/0/-1 (independent computation)
    coded = np.array([-1, 0, 0, 1, 1, 1])
    assert (r.se / 100) ** 2 * 6 == pytest.approx(np.var(coded))


def case_2_scores() -> np.ndarray:
    return np.r_[np.full(462, 10.0), np.full(176, 7.0), np.full(362, 3.0)]


def test_nps_reference_case_2_wald():
    r = M.nps(case_2_scores())
    assert r.value == pytest.approx(10.0)
    assert (r.se / 100) ** 2 * 1000 == pytest.approx(0.814)
    assert r.se / 100 == pytest.approx(0.028531, abs=5e-7)
    assert r.ci_low / 100 == pytest.approx(0.044081, abs=5e-7)
    assert r.ci_high / 100 == pytest.approx(0.155919, abs=5e-7)
    assert r.method == "wald" and r.center == pytest.approx(r.value)


def test_nps_reference_case_2_adjusted_wald():
    r = M.nps(case_2_scores(), method="adjusted_wald")
    assert r.value == pytest.approx(10.0)  # the reported NPS stays the observed one
    assert r.center / 100 == pytest.approx(0.099701, abs=5e-7)
    assert (r.se / 100) ** 2 * 1003 == pytest.approx(0.813091, abs=5e-7)
    assert r.se / 100 == pytest.approx(0.028472, abs=5e-7)
    assert r.ci_low / 100 == pytest.approx(0.043897, abs=5e-7)
    assert r.ci_high / 100 == pytest.approx(0.155505, abs=5e-7)


def test_nps_wald_interval_is_clipped_and_conf_changes_width():
    r = M.nps([10, 10, 10, 9, 8])  # NPS 80 with a wide interval that would pass 100
    assert r.ci_high == 100.0 and r.ci_low < r.value
    r90 = M.nps(case_2_scores(), conf=0.90)
    z90 = stats.norm.ppf(0.95)
    assert r90.ci_high - r90.value == pytest.approx(z90 * r90.se)
    with pytest.raises(ValueError):
        M.nps([9], conf=1.5)
    with pytest.raises(ValueError):
        M.nps([9], method="exact")


def test_weighted_nps_hand_numbers():
    r = M.nps([10, 9, 8, 3, 0], weights=[2, 1, 1, 0.5, 0.5])
    # Σw = 5; promoters 3/5, detractors 1/5; NPS = 40; n_eff = 25 / 6.5; var = 0.8 - 0.4² = 0.64
    n_eff = 25 / 6.5
    assert r.n == 5 and r.n_eff == pytest.approx(n_eff)
    assert (r.promoters, r.passives, r.detractors) == pytest.approx((60, 20, 20))
    assert r.value == pytest.approx(40)
    assert r.se == pytest.approx(100 * math.sqrt(0.64 / n_eff))
    assert r.ci_low == pytest.approx(40 - 100 * Z95 * math.sqrt(0.64 / n_eff), abs=1e-4)


def test_wilson_reference_and_statsmodels():
    r = M.top_box([5] * 81 + [2] * 182, good=[4, 5])
    assert r.value == pytest.approx(100 * 81 / 263)
    assert r.ci_low / 100 == pytest.approx(0.2552885, abs=5e-8)
    assert r.ci_high / 100 == pytest.approx(0.3662096, abs=5e-8)
    assert r.successes == 81 and r.n == 263
    for k, n, conf in [(81, 263, 0.95), (0, 20, 0.95), (20, 20, 0.9), (3, 7, 0.99), (512, 1000, 0.95)]:
        got = M.top_box(np.r_[np.ones(k), np.zeros(n - k)], good=[1], conf=conf)
        lo, hi = proportion_confint(k, n, alpha=1 - conf, method="wilson")
        assert (got.ci_low / 100, got.ci_high / 100) == pytest.approx((lo, hi), abs=1e-12)


def test_weighted_wilson_uses_n_eff():
    x = np.array([5, 5, 4, 3, 1, 2, 5, 4])
    w = np.array([1.0, 2.0, 0.5, 1.5, 1.0, 3.0, 0.5, 0.5])
    r = M.top_box(x, good=[4, 5], weights=w)
    p = w[x >= 4].sum() / w.sum()
    n_eff = w.sum() ** 2 / (w**2).sum()
    lo, hi = proportion_confint(p * n_eff, n_eff, method="wilson")  # statsmodels accepts fractional counts
    assert r.value == pytest.approx(100 * p)
    assert r.n_eff == pytest.approx(n_eff)
    assert (r.ci_low / 100, r.ci_high / 100) == pytest.approx((lo, hi), abs=1e-12)


def test_mean_t_interval_matches_descrstatsw():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 11, 57).astype(float)
    r = M.mean(x)
    d = DescrStatsW(x)
    assert r.value == pytest.approx(d.mean)
    assert r.se == pytest.approx(d.std_mean)
    assert r.sd == pytest.approx(np.std(x, ddof=1))
    assert (r.ci_low, r.ci_high) == pytest.approx(d.tconfint_mean(), rel=1e-12)
    r90 = M.mean(x, conf=0.90)
    assert (r90.ci_low, r90.ci_high) == pytest.approx(d.tconfint_mean(alpha=0.10), rel=1e-12)


def test_weighted_mean_matches_descrstatsw_and_kish_se():
    rng = np.random.default_rng(2)
    x = rng.integers(1, 11, 80).astype(float)
    w = rng.uniform(0.3, 3.0, 80)
    r = M.mean(x, weights=w)
    assert r.value == pytest.approx(DescrStatsW(x, weights=w).mean)
    n_eff = w.sum() ** 2 / (w**2).sum()
    v = DescrStatsW(x, weights=w, ddof=0).var  # Σw(x - x̄)² / Σw
    se = math.sqrt(v / (n_eff - 1))
    t = stats.t.ppf(0.975, n_eff - 1)
    assert r.n_eff == pytest.approx(n_eff) and r.df == pytest.approx(n_eff - 1)
    assert r.se == pytest.approx(se)
    assert (r.ci_low, r.ci_high) == pytest.approx((r.value - t * se, r.value + t * se))


# Counts of tips.csv (R reshape2 `tips`) by sex × smoker × day: 244 rows (reference README).
TIPS_CELLS = {
    ("Female", "No", "Fri"): 2,
    ("Female", "No", "Sat"): 13,
    ("Female", "No", "Sun"): 14,
    ("Female", "No", "Thur"): 25,
    ("Female", "Yes", "Fri"): 7,
    ("Female", "Yes", "Sat"): 15,
    ("Female", "Yes", "Sun"): 4,
    ("Female", "Yes", "Thur"): 7,
    ("Male", "No", "Fri"): 2,
    ("Male", "No", "Sat"): 32,
    ("Male", "No", "Sun"): 43,
    ("Male", "No", "Thur"): 20,
    ("Male", "Yes", "Fri"): 8,
    ("Male", "Yes", "Sat"): 27,
    ("Male", "Yes", "Sun"): 15,
    ("Male", "Yes", "Thur"): 10,
}
TIPS_TARGETS = [
    {"Female": 0.5, "Male": 0.5},
    {"No": 0.6, "Yes": 0.4},
    {"Thur": 0.25, "Fri": 0.10, "Sat": 0.35, "Sun": 0.30},
]


def test_kish_n_eff_reproduces_the_raking_reference():
    """Rake the 16 tips cells by hand (IPF), expand to 244 rows, and compare Kish's n_eff with the README."""
    keys = list(TIPS_CELLS)
    count = np.array([TIPS_CELLS[k] for k in keys], dtype=float)
    w = np.ones(len(keys))
    for _ in range(500):
        for dim, target in enumerate(TIPS_TARGETS):
            level = np.array([k[dim] for k in keys])
            for lev, share in target.items():
                m = level == lev
                w[m] *= share * count.sum() / (w[m] * count[m]).sum()
    w *= count.sum() / (w * count).sum()  # mean 1 over the 244 rows
    rows_w = np.repeat(w, count.astype(int))
    assert rows_w.size == 244
    assert rows_w.min() == pytest.approx(0.677370, abs=5e-7)
    assert rows_w.max() == pytest.approx(1.708218, abs=5e-7)
    n_eff = M.kish_n_eff(rows_w.sum(), (rows_w**2).sum())
    assert 244 / n_eff == pytest.approx(1.098367, abs=5e-7)
    assert n_eff == pytest.approx(222.148, abs=5e-4)
    # and every statistic reports that base for these weights
    scores = np.tile([10.0, 5.0], 122)
    assert M.nps(scores, weights=rows_w).n_eff == pytest.approx(n_eff)
    assert M.mean(scores, weights=rows_w).n_eff == pytest.approx(n_eff)


def test_missing_and_empty_inputs():
    for r in (M.nps([]), M.nps([np.nan, np.nan]), M.top_box([], good=[5]), M.mean([])):
        assert r.n == 0 and r.n_eff == 0 and math.isnan(r.value) and math.isnan(r.ci_low) and math.isnan(r.se)
    assert M.nps([9, np.nan, 0]) == M.nps([9, 0])
    assert M.nps(pd.Series([9, None, 0], dtype="Float64")) == M.nps([9, 0])
    one = M.mean([4.0])
    assert one.value == 4 and one.n == 1 and math.isnan(one.ci_low)
    # zero weights drop a response; negative or missing weights on a present score are errors
    assert M.nps([10, 0, 5], weights=[1, 1, 0]) == M.nps([10, 0])
    with pytest.raises(ValueError):
        M.nps([10, 0], weights=[1, -1])
    with pytest.raises(ValueError):
        M.nps([10, 0], weights=[1, np.nan])
    assert M.nps([10, np.nan], weights=[1, np.nan]).n == 1  # missing weight on a missing score is fine
    with pytest.raises(ValueError):
        M.nps([11, 3])
    with pytest.raises(ValueError):
        M.nps([1, 2], weights=[1])


def test_kpi_dispatch_by_scale_kind(auto_pack):
    assert set(M.KPI_STATS) == set(SCALE_KINDS) and isinstance(M.KPI_STATS, dict)
    x = np.array([1, 2, 3, 4, 5, 5, 4, 4, 2, 5], dtype=float)
    csat = auto_pack.kpis["csat"].scale
    got = M.kpi_stat(x, csat)
    assert isinstance(got, M.TopBoxResult) and got.value == pytest.approx(60.0)
    assert got == M.top_box(x, csat.good)
    ces = auto_pack.kpis["ces"].scale
    y = np.array([1, 5, 6, 7, 7, 2], dtype=float)
    assert M.kpi_stat(y, ces).value == pytest.approx(100 * 4 / 6)
    nps_scale = auto_pack.kpis["nps"].scale
    assert M.kpi_stat([10, 0, 8], nps_scale) == M.nps([10, 0, 8])
    rating = auto_pack.attributes["service_wait"].scale
    assert rating.kind == "rating" and M.kpi_stat([9, 10, 3, 8], rating).value == pytest.approx(50)
    assert M.kpi_mean(x, csat) == M.mean(x)
    with pytest.raises(ValueError):
        M.kpi_mean([6.0], csat)  # outside the 1-5 scale
    with pytest.raises(ValueError):
        M.kpi_stat(x, dataclasses.replace(csat, kind="likert"))
    assert M.headline_stat(auto_pack, "nps") == "nps" and M.headline_stat(auto_pack, "ces") == "top_box"


# ================================================================================================
# Properties (hypothesis)
# ================================================================================================
nps_lists = st.lists(st.integers(0, 10), min_size=1, max_size=60)
weight_lists = st.lists(st.floats(0.05, 20.0), min_size=60, max_size=60)


@given(nps_lists, weight_lists, st.booleans())
@settings(max_examples=150, deadline=None)
def test_property_bounds(scores, weights, use_w):
    x = np.array(scores, float)
    w = np.array(weights[: x.size]) if use_w else None
    r = M.nps(x, w)
    assert -100 <= r.ci_low <= r.value <= r.ci_high <= 100
    assert r.promoters + r.passives + r.detractors == pytest.approx(100)
    a = M.nps(x, w, method="adjusted_wald")
    assert -100 <= a.ci_low <= a.center <= a.ci_high <= 100
    t = M.top_box(x, good=[9, 10], weights=w)
    assert 0 <= t.ci_low <= t.value <= t.ci_high <= 100
    m = M.mean(x, w)
    assert 0 <= m.value <= 10
    if m.n_eff >= 2:
        assert m.ci_low <= m.value <= m.ci_high
    else:  # fewer than two effective responses: no interval (docstring)
        assert math.isnan(m.ci_low) and math.isnan(m.ci_high)


def _same(a, b, rel=1e-9):
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, float):
            assert (math.isnan(va) and math.isnan(vb)) or va == pytest.approx(vb, rel=rel, abs=1e-9), f.name
        else:
            assert va == vb, f.name


@given(nps_lists, weight_lists, st.integers(0, 2**32 - 1))
@settings(max_examples=100, deadline=None)
def test_property_row_order_invariance(scores, weights, seed):
    x = np.array(scores, float)
    w = np.array(weights[: x.size])
    perm = np.random.default_rng(seed).permutation(x.size)
    _same(M.nps(x, w), M.nps(x[perm], w[perm]))
    _same(M.top_box(x, [9, 10], w), M.top_box(x[perm], [9, 10], w[perm]))
    _same(M.mean(x, w), M.mean(x[perm], w[perm]))


@given(nps_lists, weight_lists, st.floats(0.001, 1000.0))
@settings(max_examples=100, deadline=None)
def test_property_unit_weights_and_weight_scaling(scores, weights, c):
    x = np.array(scores, float)
    ones = np.ones(x.size)
    _same(M.nps(x, ones), M.nps(x))
    _same(M.top_box(x, [9, 10], ones), M.top_box(x, [9, 10]))
    _same(M.mean(x, ones), M.mean(x))
    w = np.array(weights[: x.size])
    _same(M.nps(x, w), M.nps(x, c * w), rel=1e-7)
    scaled = M.top_box(x, [9, 10], c * w)
    base = M.top_box(x, [9, 10], w)
    assert scaled.value == pytest.approx(base.value) and scaled.n_eff == pytest.approx(base.n_eff)
    _same(M.mean(x, w), M.mean(x, c * w), rel=1e-7)


# ================================================================================================
# Journey table
# ================================================================================================
@pytest.fixture(scope="module")
def table_data(auto_pack):
    rng = np.random.default_rng(7)
    d = responses(auto_pack, rng, 6000, waves=("2023Q4", "2024Q1", "2024Q2"), dealers=8)
    return d


@pytest.fixture(scope="module")
def table(table_data, auto_pack):
    return M.journey_table(table_data, auto_pack, by=["region", "dealer"])


def test_journey_table_matches_scalar_functions_per_group(table, table_data, auto_pack):
    """Independent check: select each cell's rows by mask and apply the scalar statistic."""
    d = table_data
    cols = {c: d[c].to_numpy(dtype=object) for c in ("stage", "wave", "region", "dealer")}
    values = {c: d[c].to_numpy(dtype=float) for c in ("nps", "csat", "ces", "weight")}
    scalar = {"nps": lambda x, w: M.nps(x, w), "mean": lambda x, w: M.mean(x, w)}
    checked = 0
    for row in table.itertuples(index=False):
        stage = str(row.stage)
        m = np.isin(cols["stage"], asked(auto_pack, row.metric)) if stage == ALL else cols["stage"] == stage
        if row.segment != ALL:
            m &= cols[row.segment] == row.segment_value
        if row.wave != ALL:
            m &= cols["wave"] == row.wave
        x, w = values[row.metric][m], values["weight"][m]
        scale = auto_pack.kpis[row.metric].scale
        ref = M.top_box(x, scale.good, w) if row.stat == "top_box" else scalar[row.stat](x, w)
        assert row.n == ref.n and row.n_eff == pytest.approx(ref.n_eff)
        if row.flag == "low_base":
            assert math.isnan(row.value) and math.isnan(row.ci_low) and math.isnan(row.ci_high)
        else:
            assert (row.value, row.ci_low, row.ci_high, row.se) == pytest.approx(
                (ref.value, ref.ci_low, ref.ci_high, ref.se), rel=1e-9, abs=1e-9
            )
        checked += 1
    assert checked == len(table) > 1500


def test_journey_table_shape_flags_and_order(table, table_data, auto_pack):
    cols = [
        "metric",
        "stat",
        "stage",
        "segment",
        "segment_value",
        "wave",
        "value",
        "ci_low",
        "ci_high",
        "se",
        "n",
        "n_eff",
        "flag",
    ]
    assert list(table.columns) == cols
    assert list(table["stage"].cat.categories) == [ALL, *auto_pack.stage_ids]
    assert set(table["stat"]) == {"nps", "top_box", "mean"}
    assert set(table["wave"]) == {ALL, "2023Q4", "2024Q1", "2024Q2"}
    assert set(table["segment"]) == {ALL, "region", "dealer"}
    # a KPI only where the pack asks it: ces is not asked in the showroom, test drive or loyalty stage
    ces_stages = set(table.loc[table["metric"] == "ces", "stage"].astype(str))
    assert ces_stages == {ALL, *asked(auto_pack, "ces")} and "showroom" not in ces_stages
    # the ces answers in the data at other stages are ignored, also in the overall cell
    overall = table[
        (table.metric == "ces")
        & (table.stage == ALL)
        & (table.segment == ALL)
        & (table.wave == ALL)
        & (table.stat == "mean")
    ]
    expected_n = table_data.loc[table_data["stage"].isin(asked(auto_pack, "ces")), "ces"].notna().sum()
    assert overall["n"].item() == expected_n
    # base rules
    rules = auto_pack.rules
    low = table["n_eff"] < rules.suppress_below
    caution = ~low & (table["n_eff"] < rules.caution_below)
    assert (table["flag"] == np.where(low, "low_base", np.where(caution, "caution", "ok"))).all()
    assert low.any() and caution.any() and (table["flag"] == "ok").any()
    assert table.loc[low, ["value", "ci_low", "ci_high", "se"]].isna().all().all()
    assert table.loc[~low, "value"].notna().all() and (table.loc[low, "n"] > 0).all()
    # within one metric/stat/segment value/wave the stages are in journey order
    one = table[
        (table.metric == "nps") & (table.stat == "nps") & (table.segment == ALL) & (table.wave == ALL)
    ]
    assert list(one["stage"].astype(str)) == [ALL, *auto_pack.stage_ids]
    assert list(table["metric"].drop_duplicates()) == ["nps", "csat", "ces"]


def test_journey_table_weights_options_and_missing_values(auto_pack):
    rng = np.random.default_rng(3)
    d = responses(auto_pack, rng, 800, weighted=False).drop(columns="weight")
    unweighted = M.journey_table(d, auto_pack, waves=False)  # no weight column: unweighted
    assert (unweighted["n_eff"] == unweighted["n"]).all()
    assert set(unweighted["wave"]) == {ALL}
    explicit = M.journey_table(d, auto_pack, waves=False, weights=np.ones(len(d)) * 3.0)
    pd.testing.assert_frame_equal(unweighted, explicit)
    d2 = d.assign(w2=1.0)
    d2.loc[0, "w2"] = np.nan
    d2.loc[0, "nps"] = 9.0
    with pytest.raises(ValueError, match="weight"):
        M.journey_table(d2, auto_pack, weights="w2")
    with pytest.raises(KeyError):
        M.journey_table(d, auto_pack, weights="nope")
    with pytest.warns(UserWarning, match="stage"):
        M.journey_table(pd.concat([d, d.head(3).assign(stage="moon")]), auto_pack)
    bad = d.copy()
    bad.loc[bad.index[0], "csat"] = 9.0
    bad.loc[bad.index[0], "stage"] = "showroom"
    with pytest.raises(ValueError, match="csat"):
        M.journey_table(bad, auto_pack)


# ================================================================================================
# Significance
# ================================================================================================
def test_p_adjust_equals_multipletests_per_family():
    rng = np.random.default_rng(11)
    p = np.r_[rng.uniform(0, 0.2, 300), np.full(20, 0.01), np.full(10, 1.0), [0.0]]
    groups = rng.integers(0, 17, p.size)
    for method in ("holm", "fdr_bh"):
        got = M.p_adjust(p, method, groups)
        for g in np.unique(groups):
            m = groups == g
            np.testing.assert_allclose(got[m], multipletests(p[m], alpha=0.05, method=method)[1], rtol=1e-12)
        np.testing.assert_allclose(M.p_adjust(p, method), multipletests(p, method=method)[1], rtol=1e-12)
    with pytest.raises(ValueError):
        M.p_adjust(p, "bonferroni")


@pytest.fixture(scope="module")
def planted(auto_pack):
    """Delivery loses 0.2 promoter probability (about -20 NPS points) in the last wave; nothing else moves."""
    rng = np.random.default_rng(2024)
    return responses(auto_pack, rng, 16000, shift={("delivery", "2024H2"): -0.2})


def test_wave_change_detects_planted_drop_and_matches_hand_z(planted, auto_pack):
    t = M.journey_table(planted, auto_pack, by="region")
    ch = M.wave_change(t, auto_pack)
    top = ch[(ch.metric == "nps") & (ch.stat == "nps") & (ch.segment == ALL)].set_index(
        ch.loc[(ch.metric == "nps") & (ch.stat == "nps") & (ch.segment == ALL), "stage"].astype(str)
    )
    d = top.loc["delivery"]
    assert d["significant"] and d["marker"] == "↓" and d["diff"] < -10
    assert not top.drop(index=["delivery", ALL])["significant"].any()
    # hand z test from the scalar NPS of each wave
    rows = planted[planted.stage == "delivery"]
    a = M.nps(rows.loc[rows.wave == "2024H1", "nps"], rows.loc[rows.wave == "2024H1", "weight"])
    b = M.nps(rows.loc[rows.wave == "2024H2", "nps"], rows.loc[rows.wave == "2024H2", "weight"])
    z = (b.value - a.value) / math.hypot(a.se, b.se)
    assert d["diff"] == pytest.approx(b.value - a.value)
    assert d["z"] == pytest.approx(z)
    assert d["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    # Holm across the family (nps, nps, overall segment) equals multipletests by hand
    fam = top[top["tested"]]
    np.testing.assert_allclose(fam["p_adj"], multipletests(fam["p_value"], method="holm")[1], rtol=1e-12)
    assert (fam["significant"] == (fam["p_adj"] < auto_pack.rules.alpha)).all()
    # a whole-table family gives the same as multipletests over every tested cell
    one = M.wave_change(t, auto_pack, family_by=())
    tested = one[one["tested"]]
    np.testing.assert_allclose(
        tested["p_adj"], multipletests(tested["p_value"], method="holm")[1], rtol=1e-12
    )
    bh = M.wave_change(t, auto_pack, correction="fdr_bh")
    fam_bh = bh[(bh.metric == "nps") & (bh.stat == "nps") & (bh.segment == ALL) & bh.tested]
    np.testing.assert_allclose(
        fam_bh["p_adj"], multipletests(fam_bh["p_value"], method="fdr_bh")[1], rtol=1e-12
    )


def test_wave_change_top_box_is_unpooled_two_proportion_z(planted, auto_pack):
    t = M.journey_table(planted, auto_pack, weights=None)
    ch = M.wave_change(t, auto_pack)
    row = ch[(ch.metric == "csat") & (ch.stat == "top_box") & (ch.stage == "contract")].iloc[0]
    rows = planted[planted.stage == "contract"]
    good = rows["csat"].isin([4, 5])
    c1, n1 = good[rows.wave == "2024H2"].sum(), (rows.wave == "2024H2").sum()
    c2, n2 = good[rows.wave == "2024H1"].sum(), (rows.wave == "2024H1").sum()
    ref = smp.test_proportions_2indep(c1, n1, c2, n2, method="wald", compare="diff", correction=False)
    assert row["z"] == pytest.approx(ref.statistic, rel=1e-9)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_wave_change_skips_low_bases(auto_pack):
    rng = np.random.default_rng(5)
    d = responses(auto_pack, rng, 3000)
    d = d[~((d.stage == "loyalty") & (d.wave == "2024H2") & (d.index % 20 != 0))]  # loyalty H2: ~10 responses
    ch = M.wave_change(M.journey_table(d, auto_pack), auto_pack)
    loy = ch[(ch.stage == "loyalty") & (ch.segment == ALL)]
    assert len(loy) and (loy["flag_last"] == "low_base").all()
    assert not loy["tested"].any() and loy["p_value"].isna().all() and (loy["marker"] == "").all()
    assert not loy["significant"].any()


def _null_run(pack, seed: int, reps: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(seed)
    any_sig = raw_rej = tests = 0
    for _ in range(reps):
        d = responses(pack, rng, 4000)[["wave", "stage", "nps", "weight"]]
        ch = M.wave_change(M.journey_table(d, pack), pack)
        fam = ch[(ch.stat == "nps") & ch.tested]
        any_sig += bool(fam["significant"].any())
        raw_rej += int((fam["p_value"] < pack.rules.alpha).sum())
        tests += len(fam)
    return any_sig, raw_rej, tests


@pytest.mark.slow
def test_false_positive_rate_under_the_null(auto_pack):
    """Null data (no change between waves), 4 seeds × 60 datasets, 9 tests each (8 stages + overall)."""
    totals = np.zeros(3)
    for seed in (1, 2, 3, 4):
        totals += _null_run(auto_pack, seed, 60)
    any_sig, raw_rej, tests = totals
    fwer = any_sig / 240
    raw = raw_rej / tests
    assert fwer <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 240)  # Holm keeps the family-wise rate at alpha
    assert 0.03 <= raw <= 0.07  # and the uncorrected z test is calibrated (so the check above can fail)


def test_segment_vs_rest_matches_complement_and_finds_planted_dealer(auto_pack):
    rng = np.random.default_rng(9)
    d = responses(auto_pack, rng, 12000, dealers=8)
    bad = d["dealer"] == "D3"
    d.loc[bad & (rng.random(len(d)) < 0.3), "nps"] = 0.0  # D3: many extra detractors
    d = d[~((d.dealer == "D7") & (d.index % 15 != 0))]  # D7: low base (~ 50 → few per stage)
    out = M.segment_vs_rest(d, auto_pack, "dealer")
    overall = out[(out.metric == "nps") & (out.stat == "nps") & (out.stage == ALL)].set_index("segment_value")
    assert overall.loc["D3", "significant"] and overall.loc["D3", "marker"] == "↓"
    # rest = all other rows (including those with a missing dealer): an independent scalar computation
    for unit in ("D0", "D3"):
        rest = d[d.dealer != unit]
        ref = M.nps(rest["nps"], rest["weight"])
        assert overall.loc[unit, "value_rest"] == pytest.approx(ref.value, rel=1e-9)
        assert overall.loc[unit, "n_rest"] == ref.n and overall.loc[unit, "n_eff_rest"] == pytest.approx(
            ref.n_eff
        )
        cell = d[d.dealer == unit]
        refm = M.mean(cell["csat"].where(cell.stage.isin(asked(auto_pack, "csat"))), cell["weight"])
        got = out[
            (out.metric == "csat") & (out.stat == "mean") & (out.stage == ALL) & (out.segment_value == unit)
        ]
        assert got["value"].item() == pytest.approx(refm.value)
    # low-base cells are never tested
    low = out[(out.flag == "low_base") | (out.flag_rest == "low_base")]
    assert len(low) and not low["tested"].any() and low["p_value"].isna().all()
    # Holm per (metric, stat, stage) family equals multipletests by hand
    fam = overall[overall.tested]
    np.testing.assert_allclose(fam["p_adj"], multipletests(fam["p_value"], method="holm")[1], rtol=1e-12)


# ================================================================================================
# Views
# ================================================================================================
def hand_league_data() -> pd.DataFrame:
    """Six dealers with known NPS: A 50 and B 40 (intervals overlap), F -10 (clear of A), C and D -30 (equal;
    their intervals overlap F's but not A's), E with 10 responses (low base)."""

    def unit(name: str, prom: int, pas: int, det: int) -> pd.DataFrame:
        scores = np.r_[np.full(prom, 10.0), np.full(pas, 8.0), np.full(det, 2.0)]
        return pd.DataFrame({"dealer": name, "stage": "delivery", "wave": "2024H1", "nps": scores})

    return pd.concat(
        [
            unit("A", 60, 30, 10),
            unit("B", 55, 30, 15),
            unit("C", 20, 30, 50),
            unit("D", 20, 30, 50),
            unit("E", 9, 1, 0),
            unit("F", 25, 40, 35),
        ],
        ignore_index=True,
    )


def test_league_table_ranks_ties_and_unranked_low_bases(auto_pack):
    d = hand_league_data()
    lg = M.league_table(d, auto_pack, "dealer").set_index("unit")
    # independent intervals from the scalar function
    ci = {u: M.nps(d.loc[d.dealer == u, "nps"]) for u in "ABCDF"}
    assert ci["B"].ci_high >= ci["A"].ci_low  # B overlaps A
    assert ci["F"].ci_high < ci["A"].ci_low and ci["C"].ci_high >= ci["F"].ci_low  # F leads tier 2, C/D join
    assert list(lg.index) == ["A", "B", "F", "C", "D", "E"]
    assert lg.loc["A", "value"] == pytest.approx(50) and lg.loc["A", "ci_low"] == pytest.approx(
        ci["A"].ci_low
    )
    assert lg["rank"].tolist()[:5] == [1, 2, 3, 4, 4]  # equal values share the better rank
    assert lg.loc[["A", "B"], "tier"].tolist() == [1, 1] and lg.loc[["F", "C", "D"], "tier"].tolist() == [
        2,
        2,
        2,
    ]
    assert lg.loc["B", "tied_with_leader"] and not lg.loc["A", "tied_with_leader"] and lg.loc["A", "tied"]
    # E: low base → greyed, unranked, no value, last
    e = lg.loc["E"]
    assert e["greyed"] and e["flag"] == "low_base" and math.isnan(e["rank"]) and math.isnan(e["tier"])
    assert math.isnan(e["value"]) and e["n"] == 10
    facts = M.league_facts(lg.reset_index())
    assert facts == {
        "n_ranked": 5,
        "n_unranked": 1,
        "best_unit": "A",
        "best_value": pytest.approx(50),
        "worst_unit": "D",
        "worst_value": pytest.approx(-30),
        "ties": 1,
    }


def curve_data(auto_pack) -> pd.DataFrame:
    """Stage NPS planted by hand: test_drive best, maintenance worst, loyalty (the end) a low base of 10."""
    rng = np.random.default_rng(4)
    spec = {
        "showroom": (0.5, 0.2),
        "test_drive": (0.7, 0.1),
        "quote_finance": (0.4, 0.3),
        "contract": (0.5, 0.2),
        "delivery": (0.45, 0.25),
        "first_service": (0.4, 0.3),
        "maintenance": (0.2, 0.5),
        "loyalty": (0.0, 1.0),
    }
    parts = []
    for s, (p, q) in spec.items():
        n = 10 if s == "loyalty" else 600
        parts.append(
            pd.DataFrame(
                {"stage": s, "wave": rng.choice(["2024H1", "2024H2"], n), "nps": nps_scores(rng, n, p, q)}
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_journey_curve_peak_end_worst_and_facts(auto_pack):
    d = curve_data(auto_pack)
    t = M.journey_table(d, auto_pack)
    ch = M.wave_change(t, auto_pack)
    cv = M.journey_curve(t, auto_pack, changes=ch, lang="en")
    assert list(cv.columns) == [
        "stage",
        "stage_name",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "n_eff",
        "flag",
        "is_peak",
        "is_end",
        "is_worst",
        "change",
        "significant",
        "marker",
    ]
    assert cv["stage"].tolist() == auto_pack.stage_ids
    by = cv.set_index("stage")
    ref = {s: M.nps(d.loc[d.stage == s, "nps"]).value for s in auto_pack.stage_ids[:-1]}
    assert by["value"].drop("loyalty").to_dict() == pytest.approx(ref)
    assert by["is_peak"].sum() == 1 and by.loc["test_drive", "is_peak"]
    assert by["is_worst"].sum() == 1 and by.loc["maintenance", "is_worst"]
    # loyalty (NPS -100 on 10 answers) is suppressed: not worst, not the end; the end is the last shown stage
    assert by.loc["loyalty", "flag"] == "low_base" and math.isnan(by.loc["loyalty", "value"])
    assert not by.loc["loyalty", ["is_peak", "is_worst", "is_end"]].any()
    assert by["is_end"].sum() == 1 and by.loc["maintenance", "is_end"]
    mrow = ch[(ch.metric == "nps") & (ch.stat == "nps") & (ch.segment == ALL) & (ch.stage == "maintenance")]
    assert by.loc["maintenance", "change"] == pytest.approx(mrow["diff"].item())

    f = M.journey_facts(cv, ch, auto_pack, "en", table=t)
    assert f["worst_stage"] == "Repair and maintenance" and f["worst_stage_id"] == "maintenance"
    assert f["worst_value"] == pytest.approx(ref["maintenance"])
    assert f["peak_stage"] == "Test drive" and f["peak_value"] == pytest.approx(ref["test_drive"])
    assert f["end_stage_id"] == "maintenance"
    assert f["gap"] == pytest.approx(ref["test_drive"] - ref["maintenance"])
    assert f["worst_change"] == pytest.approx(mrow["diff"].item())
    assert f["worst_change_significant"] == bool(mrow["significant"].item())
    overall = M.nps(
        d.loc[d.stage != "loyalty", "nps"].to_numpy().tolist() + d.loc[d.stage == "loyalty", "nps"].tolist()
    )
    assert f["overall"] == pytest.approx(overall.value)
    assert f["has_change"] and f["change_stage_id"] in auto_pack.stage_ids
    assert M.journey_facts(cv, None, auto_pack, "zh")["worst_stage"] == "维修保养"
    for v in f.values():
        assert v is None or isinstance(v, (str, bool, int, float))


def test_nps_composition_by_stage_and_segment(auto_pack, table_data):
    comp = M.nps_composition(table_data, auto_pack, lang="en")
    body = comp[comp.unit != ALL]
    assert body["unit"].tolist() == auto_pack.stage_ids and comp["unit"].iloc[-1] == ALL
    assert (body["promoters"] + body["passives"] + body["detractors"]).to_numpy() == pytest.approx(100)
    assert (body["promoters"] - body["detractors"]).to_numpy() == pytest.approx(body["nps"].to_numpy())
    for row in body.itertuples():
        sub = table_data[table_data.stage == row.unit]
        ref = M.nps(sub["nps"], sub["weight"])
        assert (row.nps, row.promoters, row.detractors, row.n) == pytest.approx(
            (ref.value, ref.promoters, ref.detractors, ref.n)
        )
    seg = M.nps_composition(table_data, auto_pack, by="region", wave="last")
    last = table_data[table_data.wave == "2024Q2"]
    ref = M.nps(last.loc[last.region == "华南", "nps"], last.loc[last.region == "华南", "weight"])
    assert seg.set_index("unit").loc["华南", "nps"] == pytest.approx(ref.value)
    assert seg["nps"].iloc[:-1].is_monotonic_decreasing
    facts = M.composition_facts(comp)
    worst = body.loc[body["detractors"].idxmax()]
    assert facts["most_detractors_stage"] == worst["name"]
    assert facts["most_detractors_share"] == pytest.approx(worst["detractors"])


def test_trend_by_wave_with_markers(planted, auto_pack):
    t = M.journey_table(planted, auto_pack)
    ch = M.wave_change(t, auto_pack)
    tr = M.trend(t, auto_pack, changes=ch, lang="en")
    assert tr["stage"].drop_duplicates().tolist() == [ALL, *auto_pack.stage_ids]
    assert tr.groupby("stage", sort=False)["wave"].apply(list).map(lambda w: w == ["2024H1", "2024H2"]).all()
    dl = tr[tr.stage == "delivery"].set_index("wave")
    assert dl.loc["2024H2", "marker"] == "↓" and dl.loc["2024H1", "marker"] == ""
    assert (tr.loc[tr.stage != "delivery", "marker"].isin(["", "↑", "↓"])).all()


def test_custom_base_rules_are_used(auto_pack):
    pack = dataclasses.replace(auto_pack, rules=Rules(suppress_below=5, caution_below=8))
    d = hand_league_data()
    lg = M.league_table(d, pack, "dealer")
    assert lg["rank"].notna().all() and set(lg["flag"]) == {"ok"}


def test_wave_filter_keeps_array_weights_aligned(auto_pack, table_data):
    w = np.linspace(0.5, 2.0, len(table_data))
    got = M.league_table(table_data, auto_pack, "dealer", wave="last", weights=w)
    last = (table_data["wave"] == "2024Q2").to_numpy()
    ref = M.league_table(table_data[last], auto_pack, "dealer", weights=w[last])
    pd.testing.assert_frame_equal(got, ref)
    unit = table_data[last & (table_data["dealer"] == "D2").to_numpy()]
    one = M.nps(unit["nps"], w[last & (table_data["dealer"] == "D2").to_numpy()])
    assert got.set_index("unit").loc["D2", "value"] == pytest.approx(one.value)
    svr = M.segment_vs_rest(table_data, auto_pack, "region", wave="2024Q1", weights=w)
    assert set(svr["wave"]) == {"2024Q1"}


# ================================================================================================
# Independent checks on real data the fixtures above never touch (statsmodels' bundled datasets)
# ================================================================================================
def survey_scores() -> dict[str, np.ndarray]:
    """0-10 and 1-5 survey-like scores built from real answers: ANES 1996 (944 voters) and Fair's affairs
    survey (6,366 women), as integers and as floats."""
    import statsmodels.api as sm

    anes = sm.datasets.anes96.load_pandas().data
    fair = sm.datasets.fair.load_pandas().data
    return {
        "anes_income_0_10": np.round(anes["income"].to_numpy() / 2.4).clip(0, 10),
        "anes_selfLR_0_10": ((anes["selfLR"] - 1) * 10 / 6).round().to_numpy(),
        "fair_educ_0_10": (fair["educ"] - 9).clip(0, 10).to_numpy(),
        "fair_rate_0_10_int": ((fair["rate_marriage"] - 1) * 2.5).round().astype(int).to_numpy(),
    }


@pytest.mark.parametrize("name", list(survey_scores()))
@pytest.mark.parametrize("weighted", [False, True])
def test_scalar_statistics_on_real_survey_scores(name, weighted):
    x = survey_scores()[name]
    rng = np.random.default_rng(len(name))
    w = rng.uniform(0.2, 4.0, x.size) if weighted else None
    ww = np.ones(x.size) if w is None else w
    n_eff = ww.sum() ** 2 / (ww**2).sum()
    # NPS: the +1/0/-1 coding, its weighted mean and population variance from DescrStatsW
    code = DescrStatsW(np.where(x >= 9, 1.0, np.where(x <= 6, -1.0, 0.0)), weights=ww)
    se = math.sqrt(code.var / n_eff)
    r = M.nps(x, w)
    assert r.value == pytest.approx(100 * code.mean, abs=1e-9)
    assert r.se == pytest.approx(100 * se, abs=1e-9)
    assert r.ci_low == pytest.approx(100 * max(-1, code.mean - Z95 * se), abs=1e-4)
    assert r.ci_high == pytest.approx(100 * min(1, code.mean + Z95 * se), abs=1e-4)
    # adjusted Wald by hand: 0.75 / 1.5 / 0.75 pseudo-responses on a base of n_eff
    p = (ww * (x >= 9)).sum() / ww.sum()
    d = (ww * (x <= 6)).sum() / ww.sum()
    nt = n_eff + 3
    c = (p * n_eff + 0.75 - d * n_eff - 0.75) / nt
    s = math.sqrt(((p * n_eff + 0.75 + d * n_eff + 0.75) / nt - c * c) / nt)
    a = M.nps(x, w, method="adjusted_wald")
    assert (a.center, a.ci_low, a.ci_high) == pytest.approx((100 * c, 100 * (c - Z95 * s), 100 * (c + Z95 * s)))
    # top-box 9-10: Wilson on (successes, n_eff) from statsmodels
    good = (ww * np.isin(x, [9, 10])).sum() / ww.sum()
    lo, hi = proportion_confint(good * n_eff, n_eff, method="wilson")
    t = M.top_box(x, [9, 10], w)
    assert (t.value, t.ci_low, t.ci_high) == pytest.approx((100 * good, 100 * lo, 100 * hi), abs=1e-9)
    # mean: DescrStatsW mean and population variance, t on n_eff - 1 df; unweighted = scipy
    dm = DescrStatsW(x.astype(float), weights=ww)
    se_m = math.sqrt(dm.var / (n_eff - 1))
    q = stats.t.ppf(0.975, n_eff - 1)
    m = M.mean(x, w)
    assert (m.value, m.se) == pytest.approx((dm.mean, se_m), abs=1e-12)
    assert (m.ci_low, m.ci_high) == pytest.approx((dm.mean - q * se_m, dm.mean + q * se_m), abs=1e-9)
    if w is None:
        ref = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
        assert (m.ci_low, m.ci_high) == pytest.approx(ref, abs=1e-9)
        assert m.sd == pytest.approx(x.std(ddof=1), abs=1e-12)


def test_nullable_and_integer_inputs_equal_float_inputs():
    x = survey_scores()["fair_rate_0_10_int"][:500]
    w = np.random.default_rng(1).uniform(0.5, 2, x.size)
    ref = M.nps(x.astype(float), w)
    xs = pd.Series(x, dtype="Int64")
    xs.iloc[::7] = pd.NA
    ref_na = M.nps(np.where(np.arange(x.size) % 7 == 0, np.nan, x), w)
    assert M.nps(x, w) == ref
    assert M.nps(xs, pd.Series(w, dtype="Float64")) == ref_na
    assert M.nps(xs.array, w) == ref_na  # a bare nullable array, not only a Series
    assert M.mean(xs, w) == M.mean(np.where(np.arange(x.size) % 7 == 0, np.nan, x), w)


def _cells(pack, rng, n):
    """Responses with a real score column (ANES 1996 self-placement, 1-7) as the CES answer."""
    import statsmodels.api as sm

    anes = sm.datasets.anes96.load_pandas().data
    d = responses(pack, rng, n)
    d["ces"] = anes["selfLR"].to_numpy(float)[rng.integers(0, len(anes), n)]
    late = d["wave"] == "2024H2"
    d.loc[late & (rng.random(n) < 0.3), "ces"] = 7.0  # a real shift for some tests to find
    return d


def test_wave_change_means_are_welch_t_tests(auto_pack):
    rng = np.random.default_rng(12)
    d = _cells(auto_pack, rng, 900).assign(weight=1.0)  # ~40-70 answers per stage and wave
    ch = M.wave_change(M.journey_table(d, auto_pack), auto_pack)
    rows = ch[(ch.metric == "ces") & (ch.stat == "mean") & (ch.segment == ALL) & ch.tested]
    assert len(rows) >= 4
    for _, r in rows.iterrows():
        sub = d if r["stage"] == ALL else d[d.stage == r["stage"]]
        sub = sub[sub.stage.isin(asked(auto_pack, "ces"))]
        ref = stats.ttest_ind(
            sub.loc[sub.wave == "2024H2", "ces"], sub.loc[sub.wave == "2024H1", "ces"], equal_var=False
        )
        assert r["z"] == pytest.approx(ref.statistic, rel=1e-9)
        assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_segment_vs_rest_means_are_welch_and_nps_is_hand_z(auto_pack):
    rng = np.random.default_rng(13)
    d = _cells(auto_pack, rng, 1500).assign(weight=1.0)
    out = M.segment_vs_rest(d, auto_pack, "region")
    body = d[d.stage.isin(asked(auto_pack, "ces"))]
    got = out[(out.metric == "ces") & (out.stat == "mean") & (out.stage == ALL) & out.tested]
    assert len(got) == 3
    for _, r in got.iterrows():
        cell = body["region"] == r["segment_value"]
        ref = stats.ttest_ind(body.loc[cell, "ces"], body.loc[~cell, "ces"], equal_var=False)
        assert (r["z"], r["p_value"]) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-9)
    nps_rows = out[(out.metric == "nps") & (out.stat == "nps") & (out.stage == ALL) & out.tested]
    for _, r in nps_rows.iterrows():
        cell = d["region"] == r["segment_value"]
        a, b = M.nps(d.loc[cell, "nps"]), M.nps(d.loc[~cell, "nps"])
        z = (a.value - b.value) / math.hypot(a.se, b.se)
        assert (r["z"], r["p_value"]) == pytest.approx((z, 2 * stats.norm.sf(abs(z))), rel=1e-9)


def test_p_adjust_ties_and_bounds_against_multipletests():
    p = np.array([0.01, 0.01, 0.04, 0.04, 0.04, 0.2, 0.5, 0.5, 1.0, 0.0])
    for method in ("holm", "fdr_bh"):
        np.testing.assert_allclose(M.p_adjust(p, method), multipletests(p, method=method)[1], rtol=1e-12)
    for bad in ([0.2, 1.5], [-0.1, 0.2]):
        with pytest.raises(ValueError, match="outside"):
            M.p_adjust(bad)


def test_edge_cases_give_documented_results():
    # all promoters / n = 1: the Wald interval is the point itself (documented); adjusted Wald by hand
    r = M.nps([9, 10, 10, 9])
    assert (r.value, r.ci_low, r.ci_high, r.se) == (100.0, 100.0, 100.0, 0.0)
    a = M.nps([9, 10, 10, 9], method="adjusted_wald")
    c = (4.75 - 0.75) / 7
    s = math.sqrt(((4.75 + 0.75) / 7 - c * c) / 7)
    assert (a.ci_low, a.ci_high) == pytest.approx((100 * (c - Z95 * s), 100.0))
    assert M.nps([3]).ci_low == M.nps([3]).ci_high == -100.0
    # fewer than two effective responses: no mean interval (was a ±1e152 interval at n_eff = 1.00004)
    m = M.mean([1.0, 5.0, 9.0], [100, 0.001, 0.001])
    assert 1 < m.n_eff < 2 and math.isnan(m.ci_low) and math.isnan(m.se)
    assert math.isfinite(M.mean([1.0, 5.0], [3.0, 3.0]).ci_low)  # n_eff = 2 exactly still has one
    # all weights zero: empty
    e = M.nps([3, 9], [0, 0])
    assert e.n == 0 and math.isnan(e.value)


def test_bad_input_raises_cemkit_data_error():
    from cemkit.errors import DataError, InputError

    for call in (
        lambda: M.nps([3, 9], [1, -1]),
        lambda: M.nps([3, 9], [1, np.inf]),
        lambda: M.nps([3, 11]),
        lambda: M.nps(["9", "x"]),
        lambda: M.mean([np.inf, 2]),
        lambda: M.top_box([1, 2], [2], [1, 2, 3]),
    ):
        with pytest.raises(DataError) as err:
            call()
        assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)
