"""Decisions (views.decision_views): each has what, where, why, an expected uplift that follows from the what-if
model and the stage's weight, an owner and a horizon; the pack's attribute data are checked on load."""

from __future__ import annotations

import pytest

from cemkit import views, whatif
from cemkit.packs import validate_pack


@pytest.fixture(scope="module")
def decisions(demo_auto, auto_pack):
    df = views.reporting_waves(demo_auto.responses).rows(demo_auto.responses)  # decisions are the reporting wave's
    return df, views.decision_views(demo_auto.responses, auto_pack, "zh")["decisions"]


def test_decisions_are_owned_and_ranked_by_their_overall_uplift(decisions, auto_pack):
    _, (table, meta) = decisions
    assert 3 <= len(table) <= 5
    assert list(table["uplift"]) == sorted(table["uplift"], reverse=True)
    assert table["attribute"].is_unique
    assert (table["uplift_low"] > 0).all()  # only gains whose interval clears zero
    assert (table["stage_uplift"] >= 0.05).all()  # and that show at one decimal: no "+0.0" decision
    assert not table["uplift_text"].str.contains(r"\+0\.0(?!\d)").any()
    for r in table.itertuples():
        attr, stage = auto_pack.attributes[r.attribute], auto_pack.stage(r.stage)
        assert r.horizon == attr.horizon.get("zh")
        assert r.owner == (attr.owner or stage.touchpoints[0].owner).get("zh")
        assert r.what == f"提升“{attr.name.get('zh')}”" and stage.name.get("zh") in r.where
        assert "顶框比例" in r.why and "最佳四分位" in r.why
    assert meta["facts"]["summary_uplift"] == pytest.approx(table["uplift"].head(3).sum())


def test_overall_uplift_is_the_stage_uplift_times_the_stages_share_of_answers(decisions, auto_pack):
    df, (table, _) = decisions
    first = table.iloc[0]
    sub = df[df["stage"] == first["stage"]]
    stage = auto_pack.stage(first["stage"])
    good = {a: auto_pack.attributes[a].scale.good for a in stage.drivers if a in df}
    up = whatif.topbox_uplift(sub, "nps", good, unit="dealer")
    row = up.set_index("attribute").loc[first["attribute"]]
    share = sub["nps"].notna().sum() / df["nps"].notna().sum()  # unweighted demo data
    assert first["stage_uplift"] == pytest.approx(row["uplift"])
    assert first["uplift"] == pytest.approx(row["uplift"] * share)


def test_an_attribute_naming_an_unknown_theme_is_refused(pack_copy):
    folder = pack_copy("auto")
    path = folder / "pack.yaml"
    text = path.read_text(encoding="utf-8").replace("themes: [waiting]}", "themes: [waitng]}", 1)
    path.write_text(text, encoding="utf-8")
    problems = [str(p) for p in validate_pack(folder)]
    assert len(problems) == 1 and "unknown theme 'waitng'" in problems[0] and "did you mean 'waiting'" in problems[0]


@pytest.mark.parametrize("value, text", [(0.26, "+0.3"), (0.05, "+0.1"), (0.04, "<+0.1"), (0.0, "0.0")])
def test_a_small_overall_gain_never_reads_plus_zero(value, text):
    from cemkit.views.decisions import _small_gain

    assert _small_gain(value) == text
