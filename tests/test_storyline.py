"""Storyline manifest and the title formatter."""

from __future__ import annotations

import yaml

from cemkit.i18n import fmt, t
from cemkit.packs import validate_pack
from cemkit.storyline import load_storyline, pick_text


def test_auto_storyline_loads(auto_pack):
    slides = load_storyline(auto_pack)
    ids = [s.id for s in slides]
    assert ids[0] == "title" and "journey_curve" in ids and "priority_matrix" in ids
    assert all(s.title for s in slides)


def test_unknown_result_fails_with_manifest_line(pack_copy):
    folder = pack_copy()
    path = folder / "storyline.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["slides"][3]["result"] = "journey_curv"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = validate_pack(folder)
    assert len(problems) == 1
    p = problems[0]
    assert p.file == "storyline.yaml" and p.key == "slides[3].result" and "journey_curv" in p.message
    assert p.line is not None and path.read_text(encoding="utf-8").splitlines()[p.line - 1].strip().startswith("result")


def test_title_alternatives_and_specs():
    alts = ({"when": {"sig": True}, "zh": "{stage}下降{d:abs}分（显著）", "en": "{stage} {d:dir} {d:abs}"},
            {"zh": "{stage}无显著变化", "en": "{stage} unchanged"})
    facts = {"stage": {"zh": "交车", "en": "Delivery"}, "d": -8.4, "sig": True}
    assert pick_text(alts, facts, "zh") == "交车下降8分（显著）"
    assert pick_text(alts, facts, "en") == "Delivery down 8"
    assert pick_text(alts, {**facts, "sig": False}, "zh") == "交车无显著变化"
    assert fmt("{n:n}", {"n": 12345.0}, "zh") == "12,345"
    assert fmt("{x:dir}", {"x": 3}, "zh") == "上升"


def test_catalogues_have_the_same_keys():
    from cemkit.i18n import catalogue

    assert set(catalogue("zh")) == set(catalogue("en"))
    assert t("confidential", "zh", client="某车企").startswith("保密文件")


def test_a_value_that_rounds_to_zero_has_no_minus_sign():
    """「低-0分」 reads as a typo in a client title: a negative value that rounds to zero prints as 0."""
    from cemkit.i18n import fmt

    assert fmt("低{g:.0f}分", {"g": -0.3}, "zh") == "低0分"
    assert fmt("{g:+.0f}|{g:.1f}", {"g": -0.04}, "zh") == "0|0.0"
    assert fmt("{g:.0f}|{g:.1f}|{p:.0%}", {"g": -1.2, "p": -0.04}, "zh") == "-1|-1.2|-4%"


def test_a_fact_without_value_never_prints_none():
    """A subtitle naming the stages left out must vanish when none was left out, not read 「未建模：None」."""
    from cemkit.storyline import optional_text

    alts = ({"zh": "未建模的环节：{skipped}", "en": "Not modelled: {skipped}"},)
    assert optional_text(alts, {"skipped": None}, "zh") == ""
    assert optional_text(alts, {"skipped": {"zh": "交车", "en": "Delivery"}}, "en") == "Not modelled: Delivery"
