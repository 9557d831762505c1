"""The pack schema (cemkit.schema): every pack file checked by one model, one clear line per mistake.

Each test breaks a copy of a shipped pack the way an analyst would (a misspelt key, a quoted number, a typo
in a title's fact) and checks the report: exactly one problem, in the right file, at the line of the
mistake, naming the closest valid key or fact. The JSON Schemas published in docs/schema/ are checked to be
up to date and to accept the shipped packs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from cemkit.cli import main as cli_main
from cemkit.errors import PackError
from cemkit.packs import list_packs, load_pack, validate_pack
from cemkit.paths import packs_dir
from cemkit.schema import FILES, json_schema

REPO = Path(__file__).resolve().parents[1]


def _replace(folder: Path, fname: str, old: str, new: str) -> int:
    """Replace the first ``old`` in a pack file; return the 1-based line where ``new`` now stands."""
    path = folder / fname
    text = path.read_text(encoding="utf-8")
    assert old in text, (fname, old)
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return text[: text.index(new)].count("\n") + 1 + new[: len(new) - len(new.lstrip("\n"))].count("\n")


def _one_problem(folder: Path):
    problems = validate_pack(folder)
    assert len(problems) == 1, "\n".join(map(str, problems))
    p = problems[0]
    assert "\n" not in str(p) and p.file and p.key and p.line
    return p


# ------------------------------------------------------------------------------------- misspelt keys
MISSPELT = [
    ("pack.yaml", "    drivers: [reception_greeting", "    driverz: [reception_greeting", "drivers"),
    ("pack.yaml", "    trigger: {zh: 试驾, en: Test drive}", "    trigers: {zh: 试驾, en: Test drive}", "trigger"),
    ("pack.yaml", "\nstages:\n", "\nstgaes:\n", "stages"),               # a required section
    ("pack.yaml", "  significance: {alpha", "  signficance: {alpha", "significance"),
    ("themes.yaml", "    critical: true", "    critcal: true", "critical"),  # today: critical alerts silently off
    ("alerts.yaml", "  business_days: true", "  busines_days: true", "business_days"),
    ("storyline.yaml", "    summary: true\n    chart: {type: bar, category: stage_name",
     "    sumary: true\n    chart: {type: bar, category: stage_name", "summary"),
    ("playbooks.yaml", "    actions:\n      - {zh: 24小时内", "    acitons:\n      - {zh: 24小时内", "actions"),
    ("demo.yaml", "noise_sd: 1.5", "noise_sdd: 1.5", "noise_sd"),
]


@pytest.mark.parametrize(("fname", "old", "new", "closest"), MISSPELT, ids=[m[3] for m in MISSPELT])
def test_a_misspelt_key_gives_one_line_with_the_closest_key(pack_copy, fname, old, new, closest):
    folder = pack_copy("auto")
    line = _replace(folder, fname, old, new)
    p = _one_problem(folder)
    assert p.file == fname and p.line == line
    assert "unknown key" in p.message and f"did you mean {closest!r}?" in p.message


def test_critcal_is_one_message_not_also_a_rule_that_never_fires(pack_copy):
    """With every `critical` misspelt, no theme is critical: the alert rule on critical themes can never
    fire. That is a consequence of the same mistake and is not reported a second time."""
    folder = pack_copy("auto")
    path = folder / "themes.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("critical: true", "critcal: true"), encoding="utf-8")
    problems = validate_pack(folder)
    assert problems and all(p.file == "themes.yaml" and "critcal" in p.message for p in problems)
    assert not any("never fire" in p.message for p in problems)


# ---------------------------------------------------------------------------------------- wrong types
WRONG_TYPES = [
    ("alpha: 0.05", 'alpha: "5%"', "rules.significance.alpha", "must be a number, found '5%'"),
    ("suppress_below: 30", "suppress_below: thirty", "rules.base.suppress_below",
     "must be a whole number, found 'thirty'"),
    ("min_n: 100", 'min_n: "100"', "rules.drivers.min_n", "must be a whole number, found '100'"),
    ("min_per_driver: 10", "min_per_driver: 10.5", "rules.drivers.min_per_driver", "must be a whole number"),
    ("    key: true\n    kpis: [nps, csat, ces]\n    drivers: [delivery_on_time",
     '    key: "yes"\n    kpis: [nps, csat, ces]\n    drivers: [delivery_on_time', "stages[4].key",
     "must be true or false, found 'yes'"),
    ("alpha: 0.05", "alpha: 0.7", "rules.significance.alpha", "must be < 0.5, found 0.7"),
    ("scales:\n  nps11: {kind: nps, min: 0, max: 10}", "scales:\n  nps11: {kind: nps, min: 0, max: ten}",
     "scales.nps11.max", "must be a number, found 'ten'"),
]


@pytest.mark.parametrize(("old", "new", "key", "message"), WRONG_TYPES, ids=[w[2] for w in WRONG_TYPES])
def test_a_wrong_type_is_one_line_never_a_crash_nor_coerced(pack_copy, old, new, key, message):
    folder = pack_copy("auto")
    _replace(folder, "pack.yaml", old, new)
    p = _one_problem(folder)
    assert p.file == "pack.yaml" and p.key == key and message in p.message
    with pytest.raises(PackError):
        load_pack(folder)


def test_wrong_types_in_section_files(pack_copy):
    folder = pack_copy("auto")
    line = _replace(folder, "alerts.yaml", "hours: {P1: 24", 'hours: {P1: "24h"')
    _replace(folder, "demo.yaml", "comment_rate: 0.7", "comment_rate: 70%")
    _replace(folder, "playbooks.yaml", "    goal: {zh: 预警+留存, en: Alert and retain}", "    goal: 3")
    text = "\n".join(map(str, validate_pack(folder)))
    assert f"alerts.yaml:{line} [sla.hours.P1]: must be a number, found '24h'" in text
    assert "[comment_rate]: must be a number, found '70%'" in text
    assert "[groups.detractor.goal]: needs a name: a string or {zh: ..., en: ...}, found 3" in text
    assert len(text.splitlines()) == 3


# ------------------------------------------------------------------------------------- facts in texts
def test_a_typo_in_a_title_fact_is_caught_before_render(pack_copy):
    folder = pack_copy("auto")
    line = _replace(folder, "storyline.yaml", "{worst_stage}NPS最低", "{worst_stge}NPS最低")
    p = _one_problem(folder)
    assert p.file == "storyline.yaml" and p.line == line and p.key == "slides[4].title[0].zh"  # 5th slide
    assert "'worst_stge'" in p.message and "result 'journey_curve'" in p.message
    assert "did you mean 'worst_stage'?" in p.message


@pytest.mark.parametrize(("old", "new", "bad"), [
    ("- when: {worst_clear: true, worst_change_significant: true}",
     "- when: {worst_clear: true, worst_change_signficant: true}", "worst_change_signficant"),
    ("require: {has_change: true}", "require: {has_changes: true}", "has_changes"),
    # a fact that exists, but not in this slide's result: the priority matrix's fact on the journey slide
    ("比峰值{peak_stage}低", "比峰值{top_fix}低", "top_fix"),
    # a section slide has no result: only the facts every slide has
    ('title: {zh: 附录, en: Appendix}', 'title: {zh: "附录{n_alerts}", en: Appendix}', "n_alerts"),
])
def test_when_require_and_facts_of_another_result(pack_copy, old, new, bad):
    folder = pack_copy("auto")
    _replace(folder, "storyline.yaml", old, new)
    p = _one_problem(folder)
    assert f"fact {bad!r}" in p.message


def test_the_shipped_storylines_use_only_facts_their_results_provide():
    for name in list_packs():
        assert validate_pack(name) == [], name


# ---------------------------------------------------------------------------- one mistake, one message
def test_a_renamed_stage_is_one_line_per_file(pack_copy):
    """A stage id changed in pack.yaml leaves demo.yaml naming the old id in six places: one line, with
    the other lines listed."""
    folder = pack_copy("auto")
    _replace(folder, "pack.yaml", "  - id: delivery\n", "  - id: delivry\n")
    p = _one_problem(folder)
    assert p.file == "demo.yaml" and "unknown stage 'delivery' (did you mean 'delivry'?)" in p.message
    assert "also at lines" in p.message


def test_missing_file_is_one_line(pack_copy):
    folder = pack_copy("auto")
    (folder / "demo.yaml").unlink()
    p = _one_problem(folder)
    assert p.file == "pack.yaml" and p.key == "files.demo" and "does not exist" in p.message


def test_validate_pack_cli_exits_2_with_one_line_per_problem(pack_copy, capsys):
    folder = pack_copy("auto")
    _replace(folder, "pack.yaml", "    drivers: [reception_greeting", "    driverz: [reception_greeting")
    _replace(folder, "pack.yaml", "alpha: 0.05", 'alpha: "5%"')
    _replace(folder, "storyline.yaml", "{worst_stage}NPS最低", "{worst_stge}NPS最低")
    (folder / "playbooks.yaml").unlink()
    assert cli_main(["validate-pack", str(folder)]) == 2
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[0].endswith("4 problem(s)") and len(out) == 5 and "Traceback" not in captured.err
    assert all(line.startswith("  ") and ".yaml:" in line for line in out[1:])


# --------------------------------------------------------------------------------------- JSON Schema
def test_published_json_schemas_are_up_to_date():
    for key in FILES:
        path = REPO / "docs" / "schema" / f"{key}.schema.json"
        assert path.exists(), f"run: python -m cemkit.schema docs/schema ({path.name} is missing)"
        assert json.loads(path.read_text(encoding="utf-8")) == json_schema(key), \
            f"{path.name} is out of date: run python -m cemkit.schema docs/schema"


class _EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server sees it: dates stay text."""


_EditorLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def test_json_schemas_accept_the_shipped_packs_and_flag_a_misspelt_key():
    jsonschema = pytest.importorskip("jsonschema")
    for name in list_packs():
        for key in FILES:
            path = packs_dir() / name / f"{key}.yaml"
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_EditorLoader)
            jsonschema.validate(data, json_schema(key))
    data = yaml.load((packs_dir() / "auto" / "themes.yaml").read_text(encoding="utf-8"), Loader=_EditorLoader)
    data["themes"][0]["critcal"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema("themes"))


# --------------------------------------------------------------------- the lists the schema repeats
def test_schema_lists_match_the_code_that_uses_them():
    from cemkit import demo, drivers, ingest
    from cemkit.schema.pack import AGGREGATES, DRIVER_METHODS
    from cemkit.schema.sections import DISTS, Chart
    from cemkit.storyline import ChartSpec

    assert set(DRIVER_METHODS) == set(drivers.METHODS)
    assert set(AGGREGATES) == set(ingest.AGGREGATES)
    assert set(DISTS) == set(demo._DISTS)
    assert set(Chart.model_fields) == set(ChartSpec.__dataclass_fields__)


# --------------------------------------------------------------------------------------- pack safety
SECRET = "root-secret-line-0123 9 x y z"


@pytest.fixture
def outside(tmp_path):
    """A file outside the pack folder whose lines must never be read or quoted."""
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_pack_file_outside_the_pack_folder_is_refused(pack_copy, outside, capsys, how):
    folder = pack_copy("auto")
    if how == "absolute":
        rel = str(outside)
    elif how == "dotdot":
        rel = os.path.relpath(outside, folder)
    else:
        (folder / "userdict.txt").unlink()
        (folder / "userdict.txt").symlink_to(outside)
        rel = "userdict.txt"
    _replace(folder, "pack.yaml", "dictionary: userdict.txt", f"dictionary: {rel}")
    p = _one_problem(folder)
    assert p.key == "files.dictionary" and "outside the pack folder" in p.message
    assert cli_main(["validate-pack", str(folder)]) == 2
    assert "root-secret" not in capsys.readouterr().out
    with pytest.raises(PackError):
        load_pack(folder)


def test_a_lexicon_folder_linked_outside_the_pack_is_refused(pack_copy, outside):
    folder = pack_copy("retail")
    shutil.rmtree(folder / "lexicon")
    (folder / "lexicon").symlink_to(outside.parent, target_is_directory=True)
    problems = validate_pack(folder)
    assert len(problems) == 1 and problems[0].file == "lexicon" and "outside the pack folder" in problems[0].message
    with pytest.raises(PackError):
        load_pack(folder)


@pytest.mark.parametrize("field", ["{client.__class__}", "{x[0]}", "{0}", "{}", "{client:>99999}"])
def test_storyline_format_fields_must_be_plain_names(pack_copy, field):
    folder = pack_copy("auto")
    _replace(folder, "storyline.yaml", '"{client}客户体验洞察报告"', f'"{field}客户体验洞察报告"')
    p = _one_problem(folder)
    assert p.key == "slides[0].title[0].zh"
    assert "not a plain fact name" in p.message or "over 999" in p.message


@pytest.mark.parametrize("template", ["{client.__class__}", "{client.__class__.__mro__}", "{x[0]}", "{0}",
                                      "{}", "{client:{x.__class__}}", "{client:>99999}"])
def test_render_time_formatting_refuses_attribute_and_index_access(template):
    """The second line of defence: a template that reached rendering without validation."""
    from cemkit.i18n import fmt
    from cemkit.storyline import pick_text

    with pytest.raises(PackError):
        fmt(template, {"client": "某车企", "x": [1]}, "zh")
    with pytest.raises(PackError):
        pick_text(({"zh": template, "en": template},), {"client": "某车企", "x": [1]}, "zh")
    assert fmt("{client}：{n:n}", {"client": "某车企", "n": 1234}, "zh") == "某车企：1,234"


# ------------------------------------------------------------------- commands check the pack first
def test_run_refuses_a_broken_pack_before_any_work(pack_copy, tmp_path, capsys):
    """A mistake in a section file (here alerts.yaml, used only by the fifth notebook) stops `cemkit run`
    at once with exit 2 and the file's line, not after minutes of analysis or with a traceback."""
    folder = pack_copy("auto")
    _replace(folder, "alerts.yaml", "priority: P1", "priority: P0")
    out = tmp_path / "runs"
    assert cli_main(["run", "--pack", str(folder), "--demo-n", "300", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "alerts.yaml:" in err and "found 'P0'" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_demo_refuses_a_broken_demo_yaml(pack_copy, tmp_path, capsys):
    folder = pack_copy("auto")
    _replace(folder, "demo.yaml", "comment_rate: 0.7", 'comment_rate: "70%"')
    assert cli_main(["demo", "--pack", str(folder), "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert "demo.yaml:" in err and "[comment_rate]: must be a number, found '70%'" in err
    assert "Traceback" not in err


def test_a_fixed_name_file_linked_outside_the_pack_is_refused(pack_copy, outside):
    """eval_text.csv is read by name (cemkit eval-text), not through files: a link out is refused too."""
    folder = pack_copy("auto")
    (folder / "eval_text.csv").unlink()
    (folder / "eval_text.csv").symlink_to(outside)
    problems = validate_pack(folder)
    assert [p.file for p in problems] == ["eval_text.csv"] and "outside the pack folder" in problems[0].message
