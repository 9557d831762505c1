"""What-if uplift (cemkit.whatif) against a hand calculation on a table small enough to check on paper."""

import numpy as np
import pandas as pd
import pytest

from cemkit import whatif

# ten customers of one stage: the attribute's top box is 9-10; units A (4 rows), B (4), C (2)
RATING = [10, 9, 9, 5, 10, 4, 3, 6, 9, 2]
UNIT = list("AAAABBBBCC")
# top-box rows 0, 1, 2, 4, 8 score 10, 10, 9, 7, 3 (NPS coded 100, 100, 100, 0, -100: NPS 40);
# the other rows 3, 5, 6, 7, 9 score 9, 7, 6, 5, 2 (100, 0, -100, -100, -100: NPS -40)
NPS = [10, 10, 9, 9, 7, 7, 6, 5, 3, 2]


def table(weight: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"nps": NPS, "attr": RATING, "unit": UNIT, "w": weight})


def test_uplift_equals_the_hand_calculation():
    up = whatif.topbox_uplift(table(), "nps", {"attr": [9, 10]}, unit="unit", min_unit_n=2, shrink=False).iloc[0]
    # with one attribute the slope is NPS(top box) − NPS(others) = 40 − (−40) = 80 points per 100 %
    assert up["beta"] == pytest.approx(80.0)
    assert up["share"] == pytest.approx(50.0)  # 5 of 10 top-box
    # unit shares: A 3/4 = 75 %, B 1/4 = 25 %, C 1/2 = 50 % → 75th percentile 62.5 %
    assert up["target"] == pytest.approx(62.5)
    # uplift = 80 × (62.5 − 50) / 100 = 10 NPS points
    assert up["uplift"] == pytest.approx(10.0)
    assert up["uplift_low"] < 10.0 < up["uplift_high"]
    assert up["worst_units"] == ["B", "C", "A"] and up["best_unit"] == "A"
    assert up["units_bottom"] == 1  # B, at the 25th percentile (37.5 %) or below


def test_equal_weights_change_nothing_and_small_units_do_not_set_the_target():
    a = whatif.topbox_uplift(table(), "nps", {"attr": [9, 10]}, unit="unit", min_unit_n=2, shrink=False).iloc[0]
    b = whatif.topbox_uplift(table(2.0), "nps", {"attr": [9, 10]}, unit="unit", weights="w", min_unit_n=2,
                             shrink=False).iloc[0]
    assert b["uplift"] == pytest.approx(a["uplift"])
    # with C (2 rows) too small, the target is the 75th percentile of A and B: 62.5 % again by symmetry
    c = whatif.topbox_uplift(table(), "nps", {"attr": [9, 10]}, unit="unit", min_unit_n=3, shrink=False).iloc[0]
    assert c["n_units"] == 2 and c["target"] == pytest.approx(25 + 0.75 * 50)


def test_no_uplift_when_the_share_already_reaches_the_best_quartile():
    up = whatif.topbox_uplift(table(), "nps", {"attr": [9, 10]}, unit=None).iloc[0]
    assert up["target"] == up["share"] and up["uplift"] == 0.0


def test_nps_coding_means_the_nps():
    # 4 promoters (10, 10, 9, 9) and 4 detractors (6, 5, 3, 2) of 10: NPS 0
    assert np.nanmean(whatif.nps_coded(pd.Series(NPS))) == pytest.approx(0.0)
    assert np.nanmean(whatif.nps_coded(pd.Series([10, 8, 0, np.nan]))) == pytest.approx(0.0)
    assert np.nanmean(whatif.nps_coded(pd.Series([10, 9, 7]))) == pytest.approx(200 / 3)


def test_shrinkage_by_hand():
    # A 9/10, B 1/10: pooled 0.5, noise 0.25/10 = 0.025, var(p) = 0.32 (ddof 1), tau² = 0.295,
    # w = 0.295 / 0.32 = 0.921875: A → 0.921875·0.9 + 0.078125·0.5 = 0.86875, B → 0.13125
    assert list(whatif.shrunk_shares([9, 1], [10, 10])) == pytest.approx([0.86875, 0.13125])
    # units no more different than chance: every share shrinks to the pool (no benchmark above it)
    assert list(whatif.shrunk_shares([5, 6, 4], [10, 10, 10])) == pytest.approx([0.5, 0.5, 0.5])


def test_shrunk_benchmark_gives_no_uplift_when_units_do_not_differ():
    rows = []
    for u in "ABCD":  # every unit: 5 of 10 top-box
        rows += [{"nps": 10, "attr": 10, "unit": u}] * 5 + [{"nps": 3, "attr": 2, "unit": u}] * 5
    up = whatif.topbox_uplift(pd.DataFrame(rows), "nps", {"attr": [9, 10]}, unit="unit", min_unit_n=5).iloc[0]
    assert up["target"] == pytest.approx(50.0) and up["uplift"] == pytest.approx(0.0)
