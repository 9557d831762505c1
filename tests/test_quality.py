"""Survey data-quality checks in cemkit.ingest: durations (parsing, the mapper proposing the platform's
time-taken column), speeders (absolute and median rules, pack and mapping settings, validation) and
straightliners (flagged or quarantined). Every file here is written by the test; expected numbers are worked
out by hand in the comments."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cemkit import ingest
from cemkit.errors import InputError, PackError
from cemkit.ingest import load_mapping, map_command, parse_duration, prepare, propose_mapping, read_table
from cemkit.ingest.clean import _Work
from cemkit.ingest.headers import _duration_unit, is_platform_column
from cemkit.ingest.match import value_fit
from cemkit.ingest.quality import _straightliners
from cemkit.ingest.values import _clean_durations
from cemkit.packs import load_pack

EXPORTS = Path(__file__).parent / "data" / "exports"
#: the five drivers of the auto pack's maintenance stage: one grid of 5 attributes
GRID = ["service_advisor", "repair_quality", "service_wait", "price_fairness", "fixed_first_time"]


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def _adds_up(out) -> dict:
    a = out.accounting
    assert a["input_rows"] == a["used"] + a["quarantined"] == len(out.responses) + len(out.quarantine)
    assert out.quarantine["reason"].value_counts().to_dict() == a["by_reason"]
    return a


def _with_quality(pack, **quality):
    """The pack with other ``rules.quality`` values (as if pack.yaml said so)."""
    return dataclasses.replace(pack, rules=dataclasses.replace(pack.rules, quality={**pack.rules.quality, **quality}))


# ---------------------------------------------------------------------------------------- durations
@pytest.mark.parametrize(
    "raw, seconds",
    [("125秒", 125), ("125 秒", 125), ("2分5秒", 125), ("2分钟", 120), ("1小时2分", 3720), ("1时2分3秒", 3723),
     ("00:02:05", 125), ("2:05", 125), ("1:02:05", 3725), ("125", 125), ("125.5", 125.5), ("125s", 125),
     ("125 sec", 125), ("2 min 5 s", 125), ("1h2m5s", 3725), ("１２５秒", 125), ("0", 0)],
)
def test_parse_duration(raw, seconds):
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["abc", "-5", "2分3分", "1:75", "1:60:00", "秒", "", None, "2024-03-05"])
def test_parse_duration_rejects(raw):
    assert parse_duration(raw) is None


def test_plain_numbers_in_a_minutes_column_are_minutes():
    assert _duration_unit("用时（分钟）") == 60 and _duration_unit("Duration (in seconds)") == 1
    assert parse_duration("2", unit=60) == 120 and parse_duration("2分5秒", unit=60) == 125  # units win


def test_clean_durations_both_paths_count_unreadable_cells():
    fast = pd.Series(["125", "98", None, "-3"], dtype="str")  # plain numbers: one Arrow cast
    x, bad = _clean_durations(fast)
    assert np.array_equal(x, [125, 98, np.nan, np.nan], equal_nan=True) and bad.tolist() == [0, 0, 0, 1]
    mixed = pd.Series(["2分5秒", "(跳过)", "很快", "2分5秒", "00:01:00"], dtype="str")
    x, bad = _clean_durations(mixed)
    assert np.array_equal(x, [125, np.nan, np.nan, 125, 60], equal_nan=True)
    assert bad.tolist() == [False, False, True, False, False]  # a skip marker is missing, not unreadable


@pytest.mark.parametrize("name, header, first", [("wjx_text.xlsx", "所用时间", 125), ("wjx_code_gbk.csv", "所用时间", 125),
                                                 ("tencent.xlsx", "答题时长", 125),  # 2分5秒
                                                 ("qualtrics.csv", "Duration (in seconds)", 125)])
def test_platform_time_taken_is_proposed_for_duration(name, header, first, auto_pack):
    t = read_table(EXPORTS / name)
    d = propose_mapping(list(t.columns), auto_pack, labels=t.attrs["column_labels"],
                        fits=value_fit(t, auto_pack, value_codes=t.attrs["value_codes"]))
    assert d["columns"].get(header) == "duration" and d["matches"][header]["score"] == 1.0
    assert header not in d["platform"] and list(d["columns"].values()).count("duration") == 1
    assert not [h for h, f in d["columns"].items() if f != "duration" and is_platform_column(h)]
    coded = {"recode": {"nps": {str(i + 1): i for i in range(11)}},  # 按选项序号: see test_ingest
             "stage_values": {"1": "showroom", "2": "test_drive", "3": "delivery", "4": "first_service"}}
    out = prepare(EXPORTS / name, auto_pack, mapping={"columns": d["columns"], **(coded if "code" in name else {})})
    a = _adds_up(out)
    assert out.responses["duration"].iloc[0] == first and a["quality"]["duration_column"] == header
    # these imitations hold nobody under a third of the median (e.g. 问卷星: median 96.5 s, fastest 33 s)
    assert a["quality"]["speeders"]["check"] == "on" and "speeder" not in a["by_reason"]


@pytest.mark.parametrize("name", ["jinshuju.xlsx", "maike.csv", "surveymonkey.csv", "spss.sav"])
def test_exports_without_time_taken_get_no_duration(name, auto_pack):
    t = read_table(EXPORTS / name)
    d = propose_mapping(list(t.columns), auto_pack, labels=t.attrs["column_labels"])
    assert "duration" not in d["columns"].values()


def test_duration_only_by_name_and_only_when_the_values_are_durations(auto_pack):
    t = pd.DataFrame({"试驾时长是否合适": ["很合适"], "Route and duration": ["9"], "用时": ["很快"],
                      "所用时间（秒）": ["125"]}, dtype="str")
    d = propose_mapping(list(t.columns), auto_pack, fits=value_fit(t, auto_pack))
    assert [h for h, f in d["columns"].items() if f == "duration"] == ["所用时间（秒）"]  # 用时 holds no durations
    assert "用时" in d["platform"] and d["columns"].get("Route and duration") == "test_drive_route"


def test_map_command_draft_names_the_duration(auto_pack):
    text = map_command(auto_pack, EXPORTS / "wjx_code_gbk.csv")
    assert "所用时间 → duration  (1.00, 所用时间)" in text
    assert '"所用时间": duration' in text and "# quality:" in text


# ----------------------------------------------------------------------------------------- speeders
SPEED_HEADER = ["response_id", "stage", "nps", "所用时间"]
#: R7 is quarantined first (no NPS) and so is not in the median. Median of R1-R6 = (90 + 100) / 2 = 95;
#: a third of it is 31.67 s: R1 (20 s) and R2 (31 s) are speeders. Were R7 (1 s) counted, the median would
#: be 90 and the threshold 30 s, which R2 passes. R8's time is unreadable (missing, counted), R9 has none.
SPEED_ROWS = [["R1", "维修保养", "9", "20秒"], ["R2", "维修保养", "9", "31秒"], ["R3", "维修保养", "9", "1分30秒"],
              ["R4", "维修保养", "9", "00:01:40"], ["R5", "维修保养", "9", "120"], ["R6", "维修保养", "9", "10分钟"],
              ["R7", "维修保养", "", "1秒"], ["R8", "维修保养", "9", "很久"], ["R9", "维修保养", "9", ""]]


@pytest.fixture
def speed_csv(tmp_path):
    return _csv(tmp_path / "speed.csv", SPEED_HEADER, SPEED_ROWS)


def test_speeders_under_a_third_of_the_median_of_the_valid_rows(speed_csv, auto_pack):
    out = prepare(speed_csv, auto_pack)
    a = _adds_up(out)
    assert a["by_reason"] == {"speeder": 2, "nps_missing": 1}
    q = out.quarantine.set_index("response_id")
    assert q.loc["R2", "reason"] == "speeder" and q.loc["R7", "reason"] == "nps_missing"
    assert "31 s" in q.loc["R2", "detail"] and "31.67 s" in q.loc["R2", "detail"] and "median 95 s" in q.loc["R2", "detail"]
    sp = a["quality"]["speeders"]
    assert sp["median_seconds"] == 95 and sp["threshold_seconds"] == pytest.approx(95 / 3, abs=1e-3)
    assert sp["durations"] == 6 and sp["quarantined"] == 2 and a["durations_unparsed"] == 1  # R8
    r = out.responses.set_index("response_id")
    assert r.loc["R6", "duration"] == 600 and np.isnan(r.loc["R8", "duration"]) and np.isnan(r.loc["R9", "duration"])


def test_absolute_threshold_from_the_pack_and_the_larger_rule_wins(speed_csv, auto_pack):
    pk = _with_quality(auto_pack, speeder_seconds=100.0, speeder_median_share=None)
    a = _adds_up(prepare(speed_csv, pk))
    assert a["by_reason"]["speeder"] == 3  # 20, 31 and 90 s are under 100 s; 100 s itself is not
    assert a["quality"]["speeders"]["threshold_seconds"] == 100
    both = _with_quality(auto_pack, speeder_seconds=25.0, speeder_median_share=1 / 3)  # 25 < 31.67
    a = _adds_up(prepare(speed_csv, both))
    assert a["by_reason"]["speeder"] == 2 and a["quality"]["speeders"]["threshold_seconds"] == pytest.approx(31.667, abs=1e-3)
    half = _with_quality(auto_pack, speeder_seconds=25.0, speeder_median_share=None)
    assert _adds_up(prepare(speed_csv, half))["by_reason"]["speeder"] == 1  # only 20 s


def test_the_mapping_overrides_the_pack_and_zero_disables(speed_csv, auto_pack):
    pk = _with_quality(auto_pack, speeder_seconds=100.0)
    out = prepare(speed_csv, pk, mapping={"quality": {"speeder_seconds": 0, "speeder_median_share": None}})
    a = _adds_up(out)
    assert "speeder" not in a["by_reason"] and a["quality"]["speeders"] == {"check": "disabled", "quarantined": 0}
    a = _adds_up(prepare(speed_csv, auto_pack, mapping={"quality": {"speeder_median_share": 0.95}}))
    assert a["by_reason"]["speeder"] == 3  # 0.95 × 95 = 90.25 s: R3's 1分30秒 (90 s) too
    assert a["quality"]["rules"]["speeder_median_share"] == 0.95


def test_no_duration_column_no_speeder_check(tmp_path, auto_pack):
    p = _csv(tmp_path / "x.csv", ["response_id", "stage", "nps"], [["R1", "维修保养", "9"], ["R2", "维修保养", "3"]])
    out = prepare(p, _with_quality(auto_pack, speeder_seconds=1000.0))
    a = _adds_up(out)
    assert a["used"] == 2 and a["quality"]["speeders"] == {"check": "no duration column", "quarantined": 0}
    assert a["quality"]["duration_column"] is None and "duration" not in out.responses
    assert "durations_unparsed" not in a


def test_a_mapped_null_duration_column_is_not_used(speed_csv, auto_pack):
    out = prepare(speed_csv, auto_pack, mapping={"columns": {"所用时间": None}})
    a = _adds_up(out)
    assert "speeder" not in a["by_reason"] and a["quality"]["speeders"]["check"] == "no duration column"


# ----------------------------------------------------------------------------------- straightliners
#: maintenance grid (5 attributes): R1 all 10 and R4 all 7 are straightliners; R2 has one 9; R3 rated only
#: 4 (one blank); R5 rated none; R6 all 10 but no NPS (quarantined first); R7 all 3 with 3 attributes.
LINE_ROWS = [["R1", "维修保养", "10", *["10"] * 5], ["R2", "维修保养", "9", "10", "10", "9", "10", "10"],
             ["R3", "维修保养", "8", "8", "8", "", "8", "8"], ["R4", "维修保养", "7", *["7"] * 5],
             ["R5", "维修保养", "6", *[""] * 5], ["R6", "维修保养", "", *["10"] * 5],
             ["R7", "维修保养", "2", "3", "3", "3", "", ""]]


@pytest.fixture
def line_csv(tmp_path):
    return _csv(tmp_path / "lines.csv", ["response_id", "stage", "nps", *GRID], LINE_ROWS)


def test_straightliners_flagged_and_kept_by_default(line_csv, auto_pack):
    out = prepare(line_csv, auto_pack)
    a = _adds_up(out)
    assert a["used"] == 6 and a["by_reason"] == {"nps_missing": 1}
    r = out.responses.set_index("response_id")
    assert r["straightliner"].dtype == bool
    assert r.index[r["straightliner"]].tolist() == ["R1", "R4"]
    assert a["straightliners"] == 2 and a["straightliners_by_stage"] == {"maintenance": 2}
    assert a["quality"]["straightliners"] == {"action": "flag", "min_items": 5, "found": 2}


def test_straightliners_quarantined_when_asked(line_csv, auto_pack):
    out = prepare(line_csv, auto_pack, mapping={"quality": {"straightliners": "quarantine"}})
    a = _adds_up(out)
    assert a["by_reason"] == {"straightliner": 2, "nps_missing": 1} and a["used"] == 4
    q = out.quarantine.set_index("response_id")
    assert q.loc["R1", "detail"] == "the same score (10) on all 5 attributes rated"
    assert q.loc["R6", "reason"] == "nps_missing"  # the first reason wins
    assert a["straightliners"] == 0 and a["quality"]["straightliners"]["found"] == 2
    assert not out.responses["straightliner"].any()


def test_fewer_attributes_needed_when_the_pack_says_so(line_csv, auto_pack):
    out = prepare(line_csv, _with_quality(auto_pack, straightliner_min_items=3))
    r = out.responses.set_index("response_id")
    assert r.index[r["straightliner"]].tolist() == ["R1", "R3", "R4", "R7"]  # 4 and 3 rated now count


@pytest.mark.parametrize("blank", [0.3, 0.0])  # few rows rate all 5 (gathered) / every row does (whole columns)
def test_straightliners_vectorised_helper_matches_a_row_loop(auto_pack, blank):
    rng = np.random.default_rng(7)
    n = 2000
    clean = {a: np.where(rng.random(n) < blank, np.nan, rng.integers(8, 11, n).astype(float)) for a in GRID}
    w = _Work(auto_pack, ingest.ColumnMapping(), n, {a: a for a in GRID}, None, clean=clean)
    got = _straightliners(w, 5)
    m = np.column_stack([clean[a] for a in GRID])
    want = [(np.isfinite(row).sum() >= 5) and len(set(row[np.isfinite(row)])) == 1 for row in m]
    assert got.tolist() == want and 0 < got.sum() < n


def test_speeder_before_straightliner(tmp_path, auto_pack):
    p = _csv(tmp_path / "x.csv", ["response_id", "stage", "nps", "所用时间", *GRID],
             [["R1", "维修保养", "10", "5秒", *["10"] * 5], *[[f"R{i}", "维修保养", "9", "100秒", "9", "8", "9", "9", "9"]
                                                         for i in range(2, 6)]])
    out = prepare(p, auto_pack, mapping={"quality": {"straightliners": "quarantine"}})
    assert _adds_up(out)["by_reason"] == {"speeder": 1}


# --------------------------------------------------------------------------------------- validation
def test_pack_quality_rules_load_and_are_checked(pack_copy):
    folder = pack_copy()
    path = folder / "pack.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["rules"]["quality"] = {"speeder_seconds": 45, "straightliners": "quarantine"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    q = load_pack(folder).rules.quality
    assert q == {"speeder_seconds": 45.0, "speeder_median_share": 1 / 3, "straightliners": "quarantine",
                 "straightliner_min_items": 5}
    data["rules"]["quality"] = {"speeder_seconds": -1, "speeder_median_share": 1.5, "straightliners": "drop",
                                "straightliner_min_items": 1, "speeders": True}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_pack(folder)
    msg = str(err.value)
    for key in ("speeder_seconds", "speeder_median_share", "straightliners", "straightliner_min_items", "speeders"):
        assert "pack.yaml:" in msg and f"[rules.quality.{key}]" in msg, key
    assert "5 problem(s)" in msg


def test_mapping_quality_problems_name_file_key_and_line(tmp_path, auto_pack):
    m = tmp_path / "m.yaml"
    m.write_text("columns: {}\nquality:\n  speeder_median_share: half\n  straightliners: remove\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_mapping(m, auto_pack)
    msg = str(err.value)
    assert "m.yaml:3 [quality.speeder_median_share]" in msg and "m.yaml:4 [quality.straightliners]" in msg
    ok = load_mapping({"quality": {"speeder_seconds": 30, "straightliners": "flag"}}, auto_pack)
    assert ok.quality == {"speeder_seconds": 30.0, "straightliners": "flag"}


def test_the_data_quality_slide_counts_straightliners_and_speeders(line_csv, speed_csv, auto_pack):
    """The client sees the checks: flagged straightliners as a row of the data-quality table, speeders as a
    quarantine reason."""
    from cemkit import views

    table = views.data_quality_views(prepare(line_csv, auto_pack), auto_pack, "zh")["data_quality"][0]
    rows = table.set_index("item")["count"]
    assert rows["直线作答（各属性同分，已标记保留）"] == 2
    table = views.data_quality_views(prepare(speed_csv, auto_pack), auto_pack, "en")["data_quality"][0]
    assert any("speeder" in item and count > 0 for item, count in zip(table["item"], table["count"]))
