"""Ranking claims (cemkit.claims): a title may rank only when the chart's ranking is significant."""

import numpy as np
import pytest
from scipy import stats

from cemkit import claims


def test_clear_leader_by_z_test_matches_a_hand_calculation():
    # lowest value -9 (se 3) vs runner-up 8 (se 4): z = 17 / 5 = 3.4
    ld = claims.lead([24, 8, -9, 41], highest=False, se=[3, 4, 3, 3])
    assert (ld.index, ld.runner_up) == (2, 1)
    assert ld.diff == pytest.approx(17.0)
    assert ld.p == pytest.approx(2 * stats.norm.sf(3.4))
    assert ld.clear


@pytest.mark.parametrize("values, se", [
    ([10, 10, 3], [1, 1, 1]),            # a tie at the top
    ([12, 11, 3], [2, 2, 2]),            # top two within their intervals
    ([12, np.nan, np.nan], [1, 1, 1]),   # structural zeros / suppressed: one value left
    ([np.nan, np.nan], [1, 1]),          # nothing at all
])
def test_no_claim_on_ties_overlaps_or_a_single_value(values, se):
    assert not claims.lead(values, highest=True, se=se).clear


def test_no_claim_without_the_uncertainty_the_method_needs():
    assert not claims.lead([50, 10, 5]).clear                       # z test without SEs
    assert not claims.lead([50, 10, 5], method="overlap").clear     # overlap without intervals


def test_overlap_rule_for_shares_of_one_model():
    share, lo, hi = [0.46, 0.23, 0.16], [0.38, 0.18, 0.12], [0.52, 0.30, 0.21]
    assert claims.lead(share, lo=lo, hi=hi, method="overlap").clear
    assert not claims.lead([0.15, 0.13], lo=[0.12, 0.11], hi=[0.18, 0.17], method="overlap").clear


def test_standard_errors_from_intervals_and_proportions():
    assert claims.se_from_ci(-5.0, 5.0)[()] == pytest.approx(10 / (2 * 1.959964), rel=1e-5)
    assert claims.proportion_se(50.0, 100)[()] == pytest.approx(5.0)  # 100 × sqrt(.25 / 100)
