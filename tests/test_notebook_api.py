"""The analysis options and helpers the notebooks call (issue 18): each against an independent value."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from cemkit import metrics, results
from cemkit.drivers import key_drivers, key_drivers_by
from cemkit.errors import UserError
from cemkit.predict import lift_table


# ------------------------------------------------------------------------------------------- drivers
def _stages(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    df = pd.DataFrame({"stage": rng.choice(["a", "b", "c", "d"], n, p=[0.45, 0.4, 0.1, 0.05]),
                       "x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n)})
    df["y"] = df["x1"] * 0.8 + df["x2"] * 0.3 + rng.normal(size=n)
    df.loc[rng.choice(n, 40, replace=False), "x2"] = np.nan
    df.loc[df["stage"] == "d", "y"] = 5.0  # every customer of d gave the same score
    return df


def test_key_drivers_by_equals_one_model_per_group_on_its_complete_rows():
    df = _stages()
    models, skipped = key_drivers_by(df, "y", {"a": ["x1", "x2", "x3"], "b": ["x1", "x2", "nope"], "c": ["x1"],
                                               "d": ["x1", "x2"], "e": ["nope"]}, "stage", min_n=100)
    for g, cols in (("a", ["x1", "x2", "x3"]), ("b", ["x1", "x2"])):
        rows = df[df["stage"] == g].dropna(subset=["y", *cols])
        alone = key_drivers(rows, "y", cols)
        pd.testing.assert_frame_equal(models[g], alone)
        assert models[g].attrs["n"] == len(rows)
    n_c = int((df["stage"] == "c").sum())
    assert skipped["c"] == f"n={n_c} below 100"  # too few complete answers
    assert skipped["e"] == "no drivers"          # no driver column in the data
    assert "d" in skipped and "d" not in models  # the DataError (constant target) is the reason, not a crash
    assert list(models) + [g for g in ("c", "d", "e")] == ["a", "b", "c", "d", "e"]


def test_key_drivers_by_per_driver_minimum():
    df = _stages()
    n_b = int(df[df["stage"] == "b"].dropna(subset=["y", "x1", "x2"]).shape[0])
    _, skipped = key_drivers_by(df, "y", {"b": ["x1", "x2"]}, "stage", min_n=10, min_per_driver=n_b // 2 + 1)
    assert skipped == {"b": f"n={n_b} below {2 * (n_b // 2 + 1)}"}


# ------------------------------------------------------------------------------------------------ lift
def test_lift_table_by_hand():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1])
    t = lift_table(y, p, groups=5)  # pairs in risk order: (1,0) (1,0) (0,1) (0,0) (0,0)
    assert t["n"].tolist() == [2, 2, 2, 2, 2]
    assert t["observed_rate"].tolist() == [0.5, 0.5, 0.5, 0.0, 0.0]
    assert t.attrs["base_rate"] == pytest.approx(0.3)
    assert t["lift"].tolist() == pytest.approx([0.5 / 0.3] * 3 + [0, 0])
    assert t["gains"].tolist() == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])
    assert t["mean_predicted"].tolist() == pytest.approx([0.85, 0.65, 0.45, 0.25, 0.125])


def test_lift_table_unequal_groups_and_order_of_input():
    rng = np.random.default_rng(0)
    p = rng.random(23)
    y = (rng.random(23) < p).astype(int)
    t = lift_table(y, p, groups=10)
    assert t["n"].sum() == 23 and set(t["n"]) <= {2, 3}
    perm = rng.permutation(23)
    pd.testing.assert_frame_equal(lift_table(y[perm], p[perm], groups=10), t)
    order = np.argsort(-p)
    first = order[: t["n"].iloc[0]]
    assert t["observed_rate"].iloc[0] == pytest.approx(y[first].mean())


# ------------------------------------------------------------------------------------ rules and NPS method
def test_with_rules_changes_only_what_is_given_and_checks_it(auto_pack):
    P = auto_pack.with_rules(alpha=0.1, correction="fdr_bh", suppress_below=50, driver_method="relative_weights")
    assert (P.rules.alpha, P.rules.correction, P.rules.suppress_below, P.rules.driver_method) == \
        (0.1, "fdr_bh", 50, "relative_weights")
    assert P.rules.caution_below == auto_pack.rules.caution_below and auto_pack.rules.alpha != 0.1
    assert auto_pack.with_rules(alpha=None) is auto_pack
    for bad, word in (({"alpha": "5%"}, "alpha"), ({"correction": "bonferoni"}, "correction"),
                      ({"driver_method": "lmgg"}, "driver_method"), ({"min_base": 30}, "min_base")):
        with pytest.raises(UserError, match=word):
            auto_pack.with_rules(**bad)


def test_composition_adjusted_wald_by_hand(auto_pack, demo_auto):
    df = demo_auto.responses
    df = df[df["nps"].notna()]
    comp = metrics.nps_composition(df, auto_pack, wave=None, weights=None, nps_method="adjusted_wald")
    row = comp[comp["unit"] == "delivery"].iloc[0]
    s = df.loc[df["stage"] == "delivery", "nps"]
    n, pro, det = len(s), int((s >= 9).sum()), int((s <= 6).sum())
    na = n + 3
    pp, pd_ = (pro + 0.75) / na, (det + 0.75) / na
    centre = pp - pd_
    se = np.sqrt((pp + pd_ - centre**2) / na)
    z = norm.ppf(0.975)
    assert row["nps"] == pytest.approx(100 * (pro - det) / n)
    assert row["ci_low"] == pytest.approx(100 * (centre - z * se))
    assert row["ci_high"] == pytest.approx(100 * (centre + z * se))
    wald = metrics.nps_composition(df, auto_pack, wave=None, weights=None)
    w = wald[wald["unit"] == "delivery"].iloc[0]
    assert w["promoters"] == row["promoters"] and w["ci_low"] != row["ci_low"]


# -------------------------------------------------------------------------------------------- run folders
def test_scratch_run_and_find_run(tmp_path, monkeypatch):
    monkeypatch.setenv("CEMKIT_SCRATCH", str(tmp_path / "scratch"))
    with pytest.raises(UserError, match="run 01_data_check first"):
        results.find_run("", "auto")
    a, b = results.scratch_run("auto"), results.scratch_run("auto")
    assert a != b and a.parent == b.parent == tmp_path / "scratch" and not any(a.iterdir())
    other = results.scratch_run("retail")
    for i, folder in enumerate((b, a, other)):  # a is written last: the newest
        (folder / "data").mkdir()
        (folder / "data" / "responses.parquet").write_bytes(b"")
        os.utime(folder / "data" / "responses.parquet", (time.time() + i, time.time() + i))
    assert results.find_run("", "auto") == a
    assert results.find_run(str(b), "auto") == b  # a given folder wins
    with pytest.raises(UserError, match="no data/responses.parquet"):
        results.find_run(str(tmp_path), "auto")


def test_figures_use_a_font_with_chinese_glyphs():
    import matplotlib
    from matplotlib.font_manager import findfont
    from matplotlib.ft2font import FT2Font

    from cemkit import figures

    family = figures.setup()
    assert family is not None and "CJK" in family
    path = findfont(matplotlib.font_manager.FontProperties(family=matplotlib.rcParams["font.sans-serif"][0]))
    font = FT2Font(path)
    assert all(font.get_char_index(ord(c)) for c in "旅程各环节贬损者推荐者")
    assert matplotlib.rcParams["axes.unicode_minus"] is False


def test_scratch_runs_keep_only_the_newest_of_a_pack(tmp_path, monkeypatch):
    monkeypatch.setenv("CEMKIT_SCRATCH", str(tmp_path))
    mine = tmp_path / "auto-my-analysis"  # not a stamped scratch run: never removed
    mine.mkdir()
    made = []
    for i in range(results.KEEP_SCRATCH + 3):
        made.append(results.scratch_run("auto"))
        os.utime(made[-1], (time.time() + i, time.time() + i))
    other = results.scratch_run("retail")
    left = {p for p in tmp_path.iterdir()}
    assert left == set(made[-results.KEEP_SCRATCH:]) | {mine, other}
