"""An engagement: `cemkit init` once, then one `cemkit run` per wave in that folder — the data folder grows by one
export per wave, each run reports the latest wave and builds on the last good run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cemkit.cli import main
from cemkit.demo import write_demo
from cemkit.engagement import last_good_run, load_engagement, write_engagement
from cemkit.errors import InputError


def test_init_writes_a_valid_engagement(tmp_path, capsys):
    assert main(["init", str(tmp_path / "acme"), "--pack", "auto", "--client", "某品牌"]) == 0
    eng = load_engagement(tmp_path / "acme" / "engagement.yaml")
    assert (eng.pack, eng.client, eng.previous, eng.wave, eng.compare) == ("auto", "某品牌", "auto", None, None)
    assert eng.data == (str(tmp_path / "acme" / "data/"),) and (tmp_path / "acme" / "data").is_dir()
    assert eng.out == str(tmp_path / "acme" / "reports")
    assert main(["init", str(tmp_path / "acme"), "--pack", "auto"]) == 2  # never overwritten silently
    assert "already there" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "x"), "--pack", "no_such_pack"]) == 2


def test_engagement_mistakes_name_file_line_and_key(tmp_path):
    path = tmp_path / "engagement.yaml"
    path.write_text("pack: auto\nlang: fr\nwaves: {report: latest, from_date: week}\nalerts: {window: 30}\n"
                    "colour: red\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_engagement(path)
    text = str(err.value)
    assert "engagement.yaml:2 [lang]" in text and "waves.from_date" in text and "[alerts.window]" in text
    assert "engagement.yaml:5 [colour]: unknown key" in text


def test_last_good_run_skips_failed_and_staging(tmp_path):
    for name in ("auto-20240101-000000", "auto-20240301-000000", ".failed-auto-20240401-000000",
                 ".staging-auto-20240501-000000-1", "retail-20240601-000000"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text("{}", encoding="utf-8")
    (tmp_path / "auto-20240501-000000").mkdir()  # no run.json: not finished
    assert last_good_run(tmp_path, "auto").name == "auto-20240301-000000"
    assert last_good_run(tmp_path / "none", "auto") is None


def test_run_without_pack_or_engagement_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--quiet"]) == 2
    assert "cemkit init" in capsys.readouterr().err


@pytest.mark.slow
def test_three_waves_one_command_each(auto_pack, tmp_path, monkeypatch):
    paths, odata = write_demo(auto_pack, tmp_path / "exports", n=3200, seed=12, per_wave=True)
    folder = tmp_path / "acme"
    write_engagement(folder, "auto", client="某品牌", odata=[str(odata)])
    monkeypatch.chdir(folder)
    runs = []
    for i, wave_file in enumerate(paths[1:], start=1):  # Q1 arrived with Q2; then Q3; then Q4
        if i == 1:
            shutil.copy(paths[0], folder / "data")
        shutil.copy(wave_file, folder / "data")
        assert main(["run", "--quiet"]) == 0
        runs.append(last_good_run(folder / "reports", "auto"))
    infos = [json.loads((r / "run.json").read_text(encoding="utf-8")) for r in runs]
    assert [i["wave"]["report"] for i in infos] == ["2024Q2", "2024Q3", "2024Q4"]
    assert infos[0]["previous"] is None
    assert [i["previous"]["run"] for i in infos[1:]] == [runs[0].name, runs[1].name]
    assert [len(i["accounting"]["files"]) for i in infos] == [2, 3, 4]
    seen = set(pd.read_parquet(runs[1] / "data" / "seen_responses.parquet")["response_id"])
    last = pd.read_csv(runs[2] / "alerts.csv", dtype=str, encoding="utf-8-sig")
    assert not set(last["response_id"]) & seen
    # a wave rule in the engagement: files without a wave column get it from the date
    eng = yaml.safe_load((folder / "engagement.yaml").read_text(encoding="utf-8"))
    assert eng["previous"] == "auto"


def test_engagement_wave_rule_fills_mappings_without_one(tmp_path):
    from cemkit.pipeline import _with_wave_rule

    own = tmp_path / "m.yaml"
    own.write_text("columns: {序号: response_id}\nwave: {from_date: month}\n", encoding="utf-8")
    none = tmp_path / "n.yaml"
    none.write_text("columns: {序号: response_id}\n", encoding="utf-8")
    out = [yaml.safe_load(Path(p).read_text(encoding="utf-8"))
           for p in _with_wave_rule([str(own), str(none)], "quarter", tmp_path)]
    assert out[0]["wave"] == {"from_date": "month"}        # the mapping's own rule wins
    assert out[1]["wave"] == {"from_date": "quarter"} and out[1]["columns"] == {"序号": "response_id"}
    (only,) = _with_wave_rule([], "half", tmp_path)        # no mapping at all: one with the rule
    assert yaml.safe_load(Path(only).read_text(encoding="utf-8")) == {"wave": {"from_date": "half"}}
