"""Several input files (a tracker's waves): every row of every file used or quarantined with its file and row,
per-file accounting, a response repeated across files kept once, one mapping per file or one listing them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from cemkit.demo import write_demo
from cemkit.errors import InputError
from cemkit.ingest import data_files, prepare


@pytest.fixture(scope="module")
def waves(auto_pack, tmp_path_factory):
    folder = tmp_path_factory.mktemp("waves")
    paths, odata = write_demo(auto_pack, folder, n=2400, seed=21, per_wave=True)
    return folder, paths, odata


def test_every_row_of_every_file_is_accounted(auto_pack, waves):
    _, paths, odata = waves
    prep = prepare(paths, auto_pack, odata_paths=[odata])
    acc = prep.accounting
    raw = {p.name: pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths}
    assert [f["source"] for f in acc["files"]] == [p.name for p in paths]
    for f in acc["files"]:
        assert f["input_rows"] == len(raw[f["source"]]) == f["used"] + f["quarantined"]
        used = prep.responses[prep.responses["source_file"] == f["source"]]
        assert len(used) == f["used"]
        assert (prep.quarantine["file"] == f["source"]).sum() == f["quarantined"]
    assert acc["input_rows"] == sum(len(r) for r in raw.values()) == acc["used"] + acc["quarantined"]
    assert acc["used"] == len(prep.responses) and acc["quarantined"] == len(prep.quarantine)
    # each used row's source_row is the spreadsheet row of its file (header = row 1)
    for name, frame in raw.items():
        used = prep.responses[prep.responses["source_file"] == name]
        at_row = frame.iloc[used["source_row"].to_numpy() - 2]["response_id"].to_numpy()
        assert (at_row == used["response_id"].to_numpy()).all()
    # and each quarantined row names its file and row too
    q = prep.quarantine[prep.quarantine["reason"] == "score_out_of_range"]
    for _, r in q.iterrows():
        assert raw[r["file"]].iloc[int(r["row"]) - 2]["nps"] == "11"


def test_a_response_in_two_files_is_kept_once(auto_pack, waves, tmp_path):
    _, paths, _ = waves
    last = pd.read_csv(paths[-1], dtype=str, keep_default_na=False)
    again = last.iloc[:5].copy()
    again["date"] = "2025-01-15"  # re-delivered later with a correction
    again["nps"] = "0"
    extra = tmp_path / "late_delivery.csv"
    again.to_csv(extra, index=False)
    prep = prepare([paths[-1], extra], auto_pack)
    ids = prep.responses["response_id"]
    assert ids.is_unique
    kept = prep.responses.set_index("response_id").loc[again["response_id"]]
    assert (kept["source_file"] == "late_delivery.csv").all() and (kept["nps"] == 0).all()
    dup = prep.quarantine[(prep.quarantine["reason"] == "duplicate_id")
                          & prep.quarantine["response_id"].isin(again["response_id"])]
    assert len(dup) == 5 and set(dup["file"]) == {paths[-1].name}
    assert dup["detail"].str.contains("late_delivery.csv row").all()
    first = dup.sort_values("row").iloc[0]
    assert last.iloc[int(first["row"]) - 2]["response_id"] == first["response_id"]
    assert json.loads(first["raw"])["response_id"] == first["response_id"]
    files = {f["source"]: f for f in prep.accounting["files"]}
    assert files[paths[-1].name]["used"] + files[paths[-1].name]["quarantined"] == len(last)
    assert files[paths[-1].name]["by_reason"]["duplicate_id"] >= 5
    acc = prep.accounting
    assert acc["input_rows"] == len(last) + 5 == acc["used"] + acc["quarantined"]


def _reworded(path, out, rename: dict[str, str]):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).rename(columns=rename)
    frame.to_csv(out, index=False)
    return out


def test_one_mapping_lists_files_with_their_own_wording(auto_pack, waves, tmp_path):
    _, paths, _ = waves
    a = _reworded(paths[0], tmp_path / "Q1_export.csv", {"nps": "推荐可能性打分", "wave": "期次"})
    b = _reworded(paths[1], tmp_path / "Q2_export.csv", {"nps": "NPS（0-10）"})
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump({
        "recode": {"region": {"华东": "华东区"}},  # shared by both files
        "sources": [{"file": "Q1_*.csv", "columns": {"推荐可能性打分": "nps", "期次": "wave"}},
                    {"file": "Q2_export.csv", "columns": {"NPS（0-10）": "nps"}, "constants": {"channel": "问卷"}}],
    }, allow_unicode=True), encoding="utf-8")
    prep = prepare(None, auto_pack, mapping=mapping)  # the mapping names the files
    assert sorted(prep.responses["source_file"].unique()) == ["Q1_export.csv", "Q2_export.csv"]
    assert prep.responses["nps"].notna().all()
    assert set(prep.responses.loc[prep.responses["source_file"] == "Q1_export.csv", "wave"]) == {"2024Q1"}
    assert set(prep.responses.loc[prep.responses["source_file"] == "Q2_export.csv", "channel"]) == {"问卷"}
    assert "华东区" in set(prep.responses["region"]) and "华东" not in set(prep.responses["region"])
    # the same with one mapping per file
    m1, m2 = tmp_path / "m1.yaml", tmp_path / "m2.yaml"
    m1.write_text(yaml.safe_dump({"columns": {"推荐可能性打分": "nps", "期次": "wave"}}, allow_unicode=True),
                  encoding="utf-8")
    m2.write_text(yaml.safe_dump({"columns": {"NPS（0-10）": "nps"}}, allow_unicode=True), encoding="utf-8")
    two = prepare([a, b], auto_pack, mapping=[m1, m2])
    assert two.accounting["used"] == prep.accounting["used"]
    with pytest.raises(InputError, match="2 mappings for 1 data files"):
        prepare([a], auto_pack, mapping=[m1, m2])


def test_bad_sources_name_the_entry(auto_pack, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump({"sources": [{"file": "a.csv", "columns": {"x": "not_a_field"}},
                                                   {"columns": {"y": "nps"}}, {"file": "b.csv", "odata_columns": {}}]}),
                       encoding="utf-8")
    with pytest.raises(InputError) as err:
        prepare(None, auto_pack, mapping=mapping)
    text = str(err.value)
    assert "sources.0" in text and "not_a_field" in text
    assert "sources.1" in text and "needs file" in text
    assert "sources.2.odata_columns" in text


def test_data_files_from_folders_patterns_and_files(waves, tmp_path):
    folder, paths, odata = waves
    (folder / "~$lock.xlsx").write_text("x")
    (folder / ".hidden.csv").write_text("x")
    found = data_files([folder])
    assert found == sorted([*paths, odata])
    assert data_files([str(folder / "*_2024Q[12].csv")]) == paths[:2]
    assert data_files([paths[1], str(folder / "*_2024Q*.csv")]) == [paths[1], paths[0], paths[2], paths[3]]
    with pytest.raises(InputError, match="no file matches"):
        data_files([str(folder / "*.xlsx")])
    with pytest.raises(InputError, match="file not found"):
        data_files([tmp_path / "nope.csv"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no file"):
        data_files([empty])


def test_a_file_named_after_a_customer_is_named_masked_everywhere(auto_pack, waves, tmp_path):
    """An export named after a customer (张三13800138000回访.csv): the clean table's source_file, the
    quarantine's file and the accounting show the name masked, and a response in two files is still found."""
    _, paths, _ = waves
    last = pd.read_csv(paths[-1], dtype=str, keep_default_na=False)
    again = last.iloc[:5].copy()
    again["date"] = "2025-01-15"
    named = tmp_path / "张三13800138000回访.csv"
    again.to_csv(named, index=False)
    for prep in (prepare(named, auto_pack), prepare([paths[-1], named], auto_pack)):
        texts = json.dumps(prep.accounting, ensure_ascii=False) + " ".join(
            prep.responses["source_file"].astype(str).unique()) + " ".join(prep.quarantine["file"].astype(str))
        assert "13800138000" not in texts and "张三138****8000回访.csv" in texts
    assert (prep.responses.set_index("response_id").loc[again["response_id"], "source_file"]
            == "张三138****8000回访.csv").all()
    assert prep.responses["source_file"].notna().all()
    dup = prep.quarantine[(prep.quarantine["reason"] == "duplicate_id")
                          & prep.quarantine["response_id"].isin(again["response_id"])]
    assert len(dup) == 5 and dup["detail"].str.contains("张三138****8000回访.csv row", regex=False).all()
    assert "13800138000" not in " ".join(dup["detail"])
