"""Pack scaffolding (cemkit new-pack), the validator's remaining problem kinds, and the text rules every pack's
taxonomy and demo phrase banks must keep (one theme per keyword, no keyword inside another theme's keyword,
phrases that name their own theme only)."""

from __future__ import annotations

import csv
import re
import shutil
from types import SimpleNamespace

import pytest
import yaml

from cemkit import demo as demo_mod
from cemkit.cli import main as cli_main
from cemkit.errors import PackError, UserError
from cemkit.packs import list_packs, load_pack, validate_pack
from cemkit.paths import REPO_DIR as REPO
from cemkit.paths import packs_dir
from cemkit.scaffold import new_pack, new_pack_command

PACKS = list_packs()
NEW_PACKS = ("real_estate", "retail", "finance")
PII_SUFFIX = "有事请打我电话"   # what cemkit.demo appends to comments that carry a phone number
# Overlaps in the auto pack's taxonomy that predate this rule (reported to its owner); no new ones allowed.
KNOWN_OVERLAPS = {
    "auto": {("顾问", "服务顾问"), ("价格", "配件价格"), ("手续", "手续费"), ("交车", "交车仪式"), ("收费", "隐形收费")},
}


def _edit(folder, fname, fn):
    path = folder / fname
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _problems(folder) -> str:
    return "\n".join(map(str, validate_pack(folder)))


# ------------------------------------------------------------------------------------------- scaffolding
@pytest.mark.parametrize("source", PACKS)
def test_scaffolded_pack_validates(tmp_path, source):
    folder = new_pack("bakery", source=source, dest=tmp_path / "bakery")
    assert folder == tmp_path / "bakery" and (folder / "pack.yaml").exists()
    assert validate_pack(folder) == []
    pack = load_pack(folder)
    assert pack.id == "bakery" and "bakery" in pack.name.zh and "bakery" in pack.name.en
    assert source in (folder / "README.md").read_text(encoding="utf-8")
    text = (folder / "pack.yaml").read_text(encoding="utf-8")
    assert text.count("\npack: bakery\n") == 1 and text.startswith("# Scaffolded from")
    # the rest of the pack is an exact copy
    for f in ("themes.yaml", "demo.yaml", "storyline.yaml"):
        assert (folder / f).read_bytes() == (packs_dir() / source / f).read_bytes()


def test_default_destination_is_the_packs_folder(tmp_path, monkeypatch):
    root = tmp_path / "packs"
    shutil.copytree(packs_dir() / "retail", root / "retail")
    monkeypatch.setenv("CEMKIT_PACKS", str(root))
    folder = new_pack("pharmacy")
    assert folder == root / "pharmacy"
    assert list_packs() == ["pharmacy", "retail"]
    assert validate_pack("pharmacy") == []
    # a packs folder of one's own needs no copy of _shared/: the repository's lexicons are used
    from cemkit.text.lexicon import load_lexicon, shared_dir

    assert shared_dir(load_pack("pharmacy")) == REPO / "industry_packs" / "_shared"
    assert len(load_lexicon(load_pack("pharmacy")).words) > 1000


def test_default_destination_is_the_current_folder_not_the_installed_packs(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CEMKIT_PACKS", raising=False)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in packs_dir().iterdir())
    assert cli_main(["new-pack", "telecom"]) == 0
    assert (tmp_path / "telecom" / "pack.yaml").exists()
    assert sorted(p.name for p in packs_dir().iterdir()) == before    # nothing written into the repo
    out = capsys.readouterr().out
    assert f"in {tmp_path / 'telecom'}" in out and f"cemkit validate-pack {tmp_path / 'telecom'}" in out
    assert validate_pack(tmp_path / "telecom") == []


def test_refuses_an_existing_folder(tmp_path, monkeypatch):
    new_pack("bakery", dest=tmp_path / "bakery")
    (tmp_path / "bakery" / "marker").write_text("keep", encoding="utf-8")
    with pytest.raises(UserError, match="already exists"):
        new_pack("bakery", dest=tmp_path / "bakery")
    assert (tmp_path / "bakery" / "marker").read_text(encoding="utf-8") == "keep"
    monkeypatch.delenv("CEMKIT_PACKS", raising=False)
    monkeypatch.chdir(packs_dir())
    with pytest.raises(UserError, match="already exists"):
        new_pack("retail")                      # the bundled pack itself, from inside industry_packs/


@pytest.mark.parametrize("name", ["2bad", "has-dash", "with space", "class", "_hidden", "汽车", "", "a.b"])
def test_refuses_a_name_that_is_not_an_identifier(tmp_path, name):
    with pytest.raises(UserError):
        new_pack(name, dest=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_unknown_source_names_the_known_packs(tmp_path):
    with pytest.raises(PackError) as err:
        new_pack("bakery", source="no_such_pack", dest=tmp_path / "bakery")
    assert "retail" in str(err.value)
    assert not (tmp_path / "bakery").exists()


def test_new_pack_command_prints_next_steps(tmp_path, capsys):
    args = SimpleNamespace(name="bakery", source="finance", dest=str(tmp_path / "bakery"))
    assert new_pack_command(args) == 0
    out = capsys.readouterr().out
    assert "bakery" in out and "finance" in out
    for step in ("pack.yaml", "cemkit validate-pack", "cemkit eval-text --pack", "cemkit run --pack"):
        assert step in out
    assert load_pack(tmp_path / "bakery").id == "bakery"


def test_cli_new_pack(tmp_path, capsys):
    assert cli_main(["new-pack", "bakery", "--from", "real_estate", "--dest", str(tmp_path / "bakery")]) == 0
    assert validate_pack(tmp_path / "bakery") == []
    assert cli_main(["new-pack", "bakery", "--dest", str(tmp_path / "bakery")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli_main(["new-pack", "9lives", "--dest", str(tmp_path / "x")]) == 2


# ------------------------------------------------------------------ validate_pack: problems per kind
# (tests/test_packs.py covers: unknown KPI in a stage, KPI without scale, unknown attribute, unknown scale kind,
# YAML syntax errors, theme without keywords, duplicate keyword, missing file, dictionary frequency, unknown
# pack; tests/test_storyline.py covers an unknown result.)
@pytest.fixture
def broken(pack_copy):
    """A copy of the retail pack to break on purpose."""
    return pack_copy("retail")


def test_demo_unknown_stage(broken):
    _edit(broken, "demo.yaml", lambda d: d["stage_shift"].__setitem__("checkout_queue", -1.0))
    text = _problems(broken)
    assert "demo.yaml" in text and "stage_shift.checkout_queue" in text and "unknown stage 'checkout_queue'" in text


def test_demo_unknown_stage_in_a_phrase_bank(broken):
    _edit(broken, "demo.yaml", lambda d: d["themes"]["delivery"].__setitem__("stages", ["delivery", "shipping"]))
    text = _problems(broken)
    assert "themes.delivery.stages" in text and "'shipping'" in text


def test_demo_unknown_theme_and_empty_bank(broken):
    def breakit(d):
        d["themes"]["parking"] = {"rate": 0.1, "pos": ["停车很方便"]}
        d["themes"]["delivery"] = {"rate": 0.3}
    _edit(broken, "demo.yaml", breakit)
    text = _problems(broken)
    assert "unknown theme 'parking'" in text
    assert "themes.delivery" in text and "needs pos or neg phrases" in text


def test_demo_driver_not_rated_at_the_stage(broken):
    _edit(broken, "demo.yaml", lambda d: d["drivers"]["browse"].__setitem__("refund_speed", 0.5))
    assert "'refund_speed' is not a driver of stage 'browse'" in _problems(broken)


def test_demo_missing_required_key_and_region_without_units(broken):
    def breakit(d):
        d.pop("nps_base")
        d["region_share"]["东北"] = 0.1
    _edit(broken, "demo.yaml", breakit)
    text = _problems(broken)
    assert "nps_base" in text and "required key 'nps_base' is missing" in text
    assert "region '东北' has no dealers" in text


def test_demo_odata_signal_and_undeclared_feature(broken):
    def breakit(d):
        d["odata_signal"]["basket_size"] = -0.5
        d["odata_features"]["coupons_used"] = {"dist": "poisson", "lam": 1.0}
        d["odata_features"]["visits"] = {"dist": "zipf"}
        d["odata_features"]["store_copy"] = {"from": "dealer"}
    _edit(broken, "demo.yaml", breakit)
    text = _problems(broken)
    assert "'basket_size' is not a generated O-data feature" in text
    assert "'coupons_used' is not declared under odata.features" in text
    assert "odata_features.visits.dist" in text
    assert "odata_features.store_copy.from" in text


def test_storyline_unknown_layout_chart_type_and_chart_key(broken):
    def breakit(d):
        d["slides"][3]["layout"] = "fullbleed"
        d["slides"][4]["chart"]["type"] = "pie"
        d["slides"][5]["chart"]["colour"] = "red"
    _edit(broken, "storyline.yaml", breakit)
    text = _problems(broken)
    assert "storyline.yaml" in text
    assert "slides[3].layout" in text and "must be one of title, section" in text and "found 'fullbleed'" in text
    assert "slides[4].chart.type" in text and "found 'pie'" in text
    assert "slides[5].chart.colour" in text and "unknown key 'colour' (did you mean 'colour_by'?)" in text


def test_storyline_unknown_stage_untranslated_title_and_duplicate_id(broken):
    def breakit(d):
        d["slides"][3]["stages"] = ["browse", "checkout_queue"]
        d["slides"][4]["title"] = {"zh": "只有中文标题"}
        d["slides"][5]["id"] = d["slides"][4]["id"]
    _edit(broken, "storyline.yaml", breakit)
    text = _problems(broken)
    assert "slides[3].stages[1]" in text and "unknown stage 'checkout_queue'" in text
    assert "slides[4].title" in text and "needs both zh and en" in text
    assert "duplicate slide id" in text


def test_pack_scale_and_stage_problems(broken):
    def breakit(d):
        d["scales"]["nps11"]["max"] = 5            # an NPS scale must run 0-10
        d["scales"]["csat5"].pop("good")            # csat needs its top-box answers
        d["attributes"]["points_value"]["scale"] = "rating7"
        d["stages"][1]["id"] = d["stages"][0]["id"]
        d["language"] = "fr"
    _edit(broken, "pack.yaml", breakit)
    text = _problems(broken)
    assert "scales.nps11" in text and "0 to 10" in text
    assert "scales.csat5.good" in text
    assert "attributes.points_value.scale" in text
    assert "duplicate stage id 'browse'" in text
    assert "language" in text


def test_pack_rules_problems(broken):
    def breakit(d):
        d["rules"]["priority_matrix"]["quadrants"]["fix_now"] = {"zh": "马上改", "en": "Fix now"}
        d["rules"]["significance"]["correction"] = "bonferroni"
        d["rules"]["base"] = {"suppress_below": 200, "caution_below": 100}
    _edit(broken, "pack.yaml", breakit)
    text = _problems(broken)
    assert "quadrants.fix_now" in text and "unknown key 'fix_now'" in text
    assert "correction" in text and "suppress_below must not exceed caution_below" in text


def test_theme_bad_regex_and_duplicate_theme_id(broken):
    def breakit(d):
        d["themes"][1]["regex"] = ["满(\\d+减"]
        d["themes"][2]["id"] = d["themes"][0]["id"]
    _edit(broken, "themes.yaml", breakit)
    text = _problems(broken)
    assert "bad regular expression" in text and "duplicate theme id" in text


def _needs_validator(module: str) -> None:
    mod = pytest.importorskip(f"cemkit.{module}")
    if not hasattr(mod, "validate"):
        pytest.skip(f"cemkit.{module} has no validate()")


# (tests/test_alerts.py and tests/test_playbooks.py cover unknown conditions, bad priorities, missing names,
# bad SLA hours, missing/unknown groups and unknown segments; these are the remaining kinds.)
def test_alerts_threshold_outside_scale_and_duplicate_rule_id(broken):
    _needs_validator("alerts")

    def breakit(d):
        d["rules"][1]["when"] = {"nps_max": 12}                     # outside the 0-10 scale
        d["rules"][3]["id"] = d["rules"][4]["id"]
        d["rules"][5]["when"] = {"comment_contains": []}
    _edit(broken, "alerts.yaml", breakit)
    text = _problems(broken)
    assert "alerts.yaml" in text
    assert "rules[1].when.nps_max" in text and "outside" in text
    assert "duplicate rule id" in text
    assert "rules[5].when.comment_contains" in text


def test_alerts_rule_that_can_never_fire(broken):
    _needs_validator("alerts")
    _edit(broken, "pack.yaml", lambda d: [s.pop("key", None) for s in d["stages"]])
    assert "can never fire" in _problems(broken)


def test_playbooks_empty_actions(broken):
    _needs_validator("playbooks")

    def breakit(d):
        d["groups"]["promoter"]["actions"] = []
        d["segments"]["customer_type"]["金卡会员"]["detractor"] = None
    _edit(broken, "playbooks.yaml", breakit)
    text = _problems(broken)
    assert "playbooks.yaml" in text
    assert "groups.promoter.actions" in text
    assert "segments.customer_type.金卡会员.detractor" in text


# ---------------------------------------------------------------- taxonomy and phrase-bank rules
def _keywords(pack) -> dict[str, tuple[str, ...]]:
    return {t.id: t.keywords for t in pack.themes}


def _hits(text: str, pack, skip: str | None = None) -> list[tuple[str, str]]:
    """(theme, keyword or regex) pairs of every theme other than ``skip`` that ``text`` mentions."""
    out = []
    for t in pack.themes:
        if t.id == skip:
            continue
        out += [(t.id, k) for k in t.keywords if k in text]
        out += [(t.id, r) for r in t.regex if re.search(r, text)]
    return out


@pytest.mark.parametrize("name", PACKS)
def test_no_keyword_inside_another_themes_keyword(name):
    pack = load_pack(name)
    allowed = KNOWN_OVERLAPS.get(name, set())
    bad = sorted({(k, k2, t, t2) for t, ks in _keywords(pack).items() for t2, ks2 in _keywords(pack).items()
                  if t != t2 for k in ks for k2 in ks2 if k != k2 and k in k2 and (k, k2) not in allowed})
    assert bad == [], "keyword of one theme inside another theme's keyword: " + "; ".join(
        f"{k!r} ({t}) in {k2!r} ({t2})" for k, k2, t, t2 in bad)


@pytest.mark.parametrize("name", PACKS)
def test_demo_phrases_name_their_own_theme_only(name):
    pack = load_pack(name)
    spec = pack.section("demo") or {}
    problems = []
    for tid, bank in (spec.get("themes") or {}).items():
        theme = next(t for t in pack.themes if t.id == tid)
        for polarity in ("pos", "neg"):
            for phrase in bank.get(polarity) or []:
                own = [k for k in theme.keywords if k in phrase] + [r for r in theme.regex if re.search(r, phrase)]
                if not own:
                    problems.append(f"{tid}.{polarity} {phrase!r}: no keyword of its own theme")
                other = _hits(phrase, pack, skip=tid)
                if other:
                    problems.append(f"{tid}.{polarity} {phrase!r}: mentions {other}")
    assert problems == []


@pytest.mark.parametrize("name", PACKS)
def test_untagged_topic_fillers_and_pii_suffix_mention_no_theme(name):
    pack = load_pack(name)
    topic = (pack.section("demo") or {}).get("untagged_topic") or {}
    for text in [*topic.get("phrases", []), *demo_mod._FILLERS, PII_SUFFIX]:
        assert _hits(text, pack) == [], text


def _stray_keys(node, path, out):
    """{zh, en} mappings with extra keys: an unquoted English text with a comma inside a flow mapping
    (``{zh: 退换货, en: Returns, refunds}``) silently splits into a stray key."""
    if isinstance(node, dict):
        if "zh" in node and "en" in node:
            extra = [k for k in node if k not in ("zh", "en", "when")]
            if extra:
                out.append(f"{path}: {extra}")
        for k, v in node.items():
            _stray_keys(v, f"{path}.{k}", out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _stray_keys(v, f"{path}[{i}]", out)


@pytest.mark.parametrize("name", PACKS)
def test_bilingual_texts_are_not_split_by_commas(name):
    out = []
    for path in sorted((packs_dir() / name).glob("*.yaml")):
        _stray_keys(yaml.safe_load(path.read_text(encoding="utf-8")), path.name, out)
    assert out == [], "quote texts that contain a comma: " + "; ".join(out)


@pytest.mark.parametrize("name", NEW_PACKS)
def test_new_packs_meet_the_size_brief(name):
    pack = load_pack(name)
    assert len(pack.themes) >= 15
    assert sum(len(t.keywords) for t in pack.themes) >= 150
    assert any(t.critical for t in pack.themes)
    for stage in pack.stages:
        assert 3 <= len(stage.drivers) <= 5, stage.id
        assert stage.touchpoints and all(tp.owner.zh and tp.owner.en for tp in stage.touchpoints)
    lines = [ln for ln in (pack.root / "userdict.txt").read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(lines) >= 40
    assert (pack.root / "README.md").exists()
    # segment ids are the columns the demo generator writes; the league unit is `dealer`
    assert set(pack.segment_ids) <= {"region", "dealer", "customer_type", "channel"}
    assert [s.id for s in pack.segments if s.league] == ["dealer"]


@pytest.mark.parametrize("name", [p for p in PACKS if (packs_dir() / p / "eval_text.csv").exists()])
def test_eval_text_format(name):
    pack = load_pack(name)
    ids = {t.id for t in pack.themes}
    with open(pack.root / "eval_text.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["text", "themes", "sentiment"]
        rows = list(reader)
    texts = [r["text"] for r in rows]
    assert all(t.strip() for t in texts) and len(set(texts)) == len(texts)
    for r in rows:
        assert r["sentiment"] in ("pos", "neg", "neutral"), r
        assert set(filter(None, r["themes"].split("|"))) <= ids, r
    if name in NEW_PACKS:
        assert len(rows) >= 220
        assert {r["sentiment"] for r in rows} == {"pos", "neg", "neutral"}
        assert sum(1 for r in rows if not r["themes"]) >= 10          # comments with no theme
        assert sum(1 for r in rows if "|" in r["themes"]) >= 30       # multi-theme comments


@pytest.mark.parametrize("name", NEW_PACKS)
def test_new_pack_demo_plants_its_truths(name):
    pack = load_pack(name)
    d = demo_mod.generate(pack, n=4000)
    r = d.responses
    assert set(r["stage"]) == set(pack.stage_ids)
    for seg in pack.segment_ids:
        assert r[seg].notna().all(), seg
    assert set(pack.odata["features"]) <= set(d.odata.columns)
    nps = r.groupby("stage")["nps"].apply(lambda s: ((s >= 9).mean() - (s <= 6).mean()) * 100)
    assert nps.idxmin() == d.truths["worst_stage"]
    by_unit = r.groupby("dealer")["nps"].apply(lambda s: ((s >= 9).mean() - (s <= 6).mean()) * 100)
    assert by_unit.idxmin() == d.truths["worst_dealer"]
    (stage, _), = d.truths["wave_change"].items()
    sub = r[r["stage"] == stage]
    waves = sorted(sub["wave"].unique())
    first, last = (sub.loc[sub["wave"] == w, "nps"] for w in (waves[0], waves[-1]))
    assert ((last >= 9).mean() - (last <= 6).mean()) < ((first >= 9).mean() - (first <= 6).mean()) - 0.1
