"""Pack loader: good packs load into typed objects; broken ones fail naming the file, key and line."""

from __future__ import annotations

import pytest
import yaml

from cemkit.errors import PackError
from cemkit.packs import Label, check_dictionary, list_packs, load_pack, validate_pack


def test_auto_pack_loads_typed(auto_pack):
    assert auto_pack.id == "auto"
    assert auto_pack.stage_ids[0] == "showroom" and "maintenance" in auto_pack.stage_ids
    assert isinstance(auto_pack.stages[0].name, Label)
    assert auto_pack.kpis["nps"].scale.kind == "nps"
    assert auto_pack.kpis["csat"].scale.good == (4.0, 5.0)
    for stage in auto_pack.stages:
        assert stage.drivers, stage.id
        assert all(a in auto_pack.attributes for a in stage.drivers)
    assert auto_pack.rules.quadrant_names["high_importance_low_performance"].zh == "重点改进"
    assert len(auto_pack.themes) >= 15


def test_every_bundled_pack_validates():
    assert "auto" in list_packs()
    for name in list_packs():
        assert validate_pack(name) == [], name


def _edit(folder, fname, fn):
    path = folder / fname
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_unknown_kpi_in_stage_names_file_key_and_line(pack_copy):
    folder = pack_copy()
    _edit(folder, "pack.yaml", lambda d: d["stages"][1].__setitem__("kpis", ["nps", "loyalty_index"]))
    with pytest.raises(PackError) as err:
        load_pack(folder)
    msg = str(err.value)
    assert "pack.yaml:" in msg and "stages[1].kpis" in msg and "loyalty_index" in msg


def test_every_problem_reported_at_once(pack_copy):
    folder = pack_copy()

    def breakit(d):
        d["kpis"]["csat"].pop("scale")            # KPI without scale
        d["stages"][0]["drivers"].append("nope")  # unknown attribute
        d["scales"]["ces7"]["kind"] = "likert"    # unknown scale kind
    _edit(folder, "pack.yaml", breakit)
    problems = validate_pack(folder)
    text = "\n".join(map(str, problems))
    assert "kpis.csat.scale" in text and "required key 'scale' is missing" in text
    assert "stages[0].drivers" in text and "'nope'" in text
    assert "scales.ces7.kind" in text
    assert len(problems) >= 3


def test_yaml_syntax_error_gives_line(pack_copy):
    folder = pack_copy()
    path = folder / "pack.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[20] = lines[20] + " : : ["
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_pack(folder)
    assert "pack.yaml:" in str(err.value) and "YAML syntax error" in str(err.value)
    line = err.value.problems[0].line
    assert line is not None and 19 <= line <= 23


def test_theme_without_keywords_and_duplicate_keyword(pack_copy):
    folder = pack_copy()

    def breakit(d):
        d["themes"][0]["keywords"] = []
        d["themes"][2]["keywords"].append(d["themes"][1]["keywords"][0])
    _edit(folder, "themes.yaml", breakit)
    text = "\n".join(map(str, validate_pack(folder)))
    assert "themes.yaml" in text
    assert "has no keywords" in text
    assert "is also a keyword of theme" in text


def test_missing_file_named_in_pack(pack_copy):
    folder = pack_copy()
    (folder / "themes.yaml").unlink()
    with pytest.raises(PackError) as err:
        load_pack(folder)
    assert "files.themes" in str(err.value) and "does not exist" in str(err.value)


def test_dictionary_bad_frequency(tmp_path):
    path = tmp_path / "userdict.txt"
    path.write_text("4S店 2000 n\n试驾车 lots n\n保养费\n", encoding="utf-8")
    problems = check_dictionary(path)
    assert len(problems) == 1 and problems[0].line == 2 and "frequency" in problems[0].message


def test_unknown_pack_lists_known():
    with pytest.raises(PackError) as err:
        load_pack("no_such_pack")
    assert "auto" in str(err.value)
