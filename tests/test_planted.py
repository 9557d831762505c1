"""The analysis recovers what each pack's synthetic demo generator planted (every pack, its demo.yaml)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from cemkit import metrics, text, views
from cemkit.demo import generate
from cemkit.packs import list_packs, load_pack

PACKS = list_packs()


@pytest.fixture(scope="module", params=PACKS)
def planted(request):
    pack = load_pack(request.param)
    return pack, generate(pack)


def test_worst_stage_and_wave_change(planted):
    """The worst stage, and the step planted in the last wave, against the wave before it."""
    pack, demo = planted
    assert demo.truths["changed_wave"] == max(demo.responses["wave"].unique())
    table = metrics.journey_table(demo.responses, pack, waves=True)
    changes = metrics.wave_change(table, pack)
    curve = metrics.journey_curve(table, pack, changes=changes)
    assert curve.loc[curve["is_worst"], "stage"].item() == demo.truths["worst_stage"]
    stage_rows = changes[(changes["metric"] == "nps") & (changes["stat"] == "nps") & (changes["segment"] == "__all__")
                         & (changes["stage"] != "__all__")].set_index("stage")
    for stage, shift in demo.truths["wave_change"].items():
        assert bool(stage_rows.loc[stage, "significant"]), stage
        assert np.sign(stage_rows.loc[stage, "diff"]) == np.sign(shift)
    unplanted = stage_rows.drop(index=list(demo.truths["wave_change"]))
    assert unplanted["significant"].sum() <= 1  # Holm-corrected: unplanted changes are mostly not significant


def test_driver_order_recovered(planted):
    """Rank correlation between the planted and the estimated driver order, within stages, pooled over the
    journey: at least 0.9. The planted driver effects are the same in every wave, so the model is fitted on
    all waves pooled (``wave="all"``; 12,000 responses, about 1,500 per stage); a deck fits it on the
    reporting wave alone."""
    pack, demo = planted
    sd = views.driver_views(demo.responses, pack, "zh", bootstrap=0, wave="all")["stage_drivers"][0]
    truth, est = [], []
    for stage, order in demo.truths["driver_order"].items():
        got = sd[sd["stage"] == stage].set_index("driver")["share"].rank(ascending=False)
        truth += [order.index(d) + 1 for d in got.index]
        est += got.tolist()
    assert spearmanr(truth, est).statistic >= 0.9


def test_theme_rates_recovered_within_two_points(planted):
    pack, demo = planted
    r = demo.responses.reset_index(drop=True)
    tags = text.tag_themes(r["comment"], pack)
    has = r["comment"].notna()
    for theme, truth in demo.truths["theme_rates"].items():
        base = has & (r["stage"].isin(truth["stages"]) if truth["stages"] else has)
        rows = set(tags.loc[tags["theme"] == theme, "row"])
        rate = r.index[base].isin(list(rows)).mean()
        # the tagger recovers the rate planted in this sample within 2 points ...
        assert abs(rate - truth["realized"]) <= 0.02, (theme, rate, truth["realized"])
        # ... and the sample's rate is the configured rate up to sampling error (4 standard errors)
        se = np.sqrt(truth["rate"] * (1 - truth["rate"]) / base.sum())
        assert abs(truth["realized"] - truth["rate"]) <= 4 * se


@pytest.mark.slow
def test_false_positive_rate_of_wave_changes_over_seeds():
    """With no planted wave change, Holm-corrected tests flag few stages across seeds."""
    pack = load_pack("auto")
    flagged, tested = 0, 0
    for seed in range(6):
        demo = generate(pack, n=6000, seed=seed)
        r = demo.responses
        r = r[r["stage"] != "delivery"]  # the stage with the planted change
        ch = metrics.wave_change(metrics.journey_table(r, pack, waves=True), pack)
        rows = ch[(ch["metric"] == "nps") & (ch["stat"] == "nps") & (ch["segment"] == "__all__") & ch["tested"]]
        flagged += int(rows["significant"].sum())
        tested += len(rows)
    assert flagged / tested <= 0.05


def test_reporting_wave_reports_the_planted_change(planted):
    """The deck's journey facts: the latest wave, compared with the one before, names the planted step as the
    largest significant change, and the worst stage of the latest wave is the planted one."""
    pack, demo = planted
    out = views.journey_views(demo.responses, pack, "zh")
    facts = out["journey_curve"][1]["facts"]
    waves = sorted(demo.responses["wave"].unique())
    assert (facts["wave"], facts["compare_wave"]) == (waves[-1], waves[-2])
    assert facts["worst_stage_id"] == demo.truths["worst_stage"]
    trend = out["wave_trend"][1]["facts"]
    (stage, shift), = demo.truths["wave_change"].items()
    assert trend["change_significant"] and trend["change_stage_id"] == stage
    assert np.sign(trend["change"]) == np.sign(shift)
