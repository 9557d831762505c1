"""Issue 17, the door: `cemkit map` output that loads as it is, and the draft's understanding of a client file
(headers, scale hints, value evidence, stage labels by meaning, no response id, unattended runs)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cemkit.cli import main
from cemkit.ingest import load_mapping

FIX = Path(__file__).parent / "data" / "ingest"


def test_map_summary_on_stderr_yaml_on_stdout(capsys, auto_pack):
    """`cemkit map FILE > mapping.yaml`: stdout is the YAML alone (it loads as a mapping), the summary is on
    stderr."""
    assert main(["map", "--pack", "auto", "--data", str(FIX / "survey_title.xlsx")]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("cemkit map: ") and "matched" in err and "header on row 4" in err
    assert "cemkit map:" not in out and "matched" not in out
    data = yaml.safe_load(out)
    assert data["columns"]["推荐意愿"] == "nps"
    m = load_mapping(data, auto_pack)
    assert m.columns["调研环节"] == "stage"


def test_map_with_out_writes_the_file_and_prints_no_yaml(capsys, tmp_path):
    out_path = tmp_path / "m.yaml"
    assert main(["map", "--pack", "auto", "--data", str(FIX / "survey_title.xlsx"), "--out", str(out_path)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and f"draft written to {out_path}" in err
    assert yaml.safe_load(out_path.read_text(encoding="utf-8"))["columns"]["推荐意愿"] == "nps"
