"""Playbooks: NPS groups per customer (latest response), segment extras, summary shares, the workbook and
playbooks.yaml validation."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
import yaml

from cemkit import playbooks as P
from cemkit.alerts import joiner
from cemkit.packs import load_pack, validate_pack


def hand_responses() -> pd.DataFrame:
    """Six customers. A answered twice (latest: a detractor); F gave no NPS and is not a respondent."""
    rows = [
        ("R1", "A", "2024H1", "2024-02-01", 10, "首购"),
        ("R2", "A", "2024H2", "2024-08-01", 3, "首购"),     # A's latest: detractor
        ("R3", "B", "2024H1", "2024-03-01", 9, "首购"),
        ("R4", "C", "2024H1", "2024-03-05", 7, "首购"),
        ("R5", "D", "2024H1", "2024-03-09", 6, "增购"),     # detractor with a segment extra
        ("R6", "E", "2024H2", "2024-09-01", 10, "换购"),    # promoter with a segment extra
        ("R7", "F", "2024H2", "2024-09-02", None, "首购"),
    ]
    df = pd.DataFrame(rows, columns=["response_id", "customer_id", "wave", "date", "nps", "customer_type"])
    df["date"] = pd.to_datetime(df["date"])
    df["nps"] = df["nps"].astype(float)
    df["stage"] = "delivery"
    return df


def play(pack, group):
    return pack.section("playbooks")["groups"][group]


def extra(pack, value, group):
    return pack.section("playbooks")["segments"]["customer_type"][value][group]


def test_assign_classifies_each_customer_by_the_latest_response(auto_pack):
    out = P.assign(hand_responses(), auto_pack, "zh").set_index("customer_id")
    assert sorted(out.index) == ["A", "B", "C", "D", "E"]
    assert out["group"].to_dict() == {"A": "detractor", "B": "promoter", "C": "passive", "D": "detractor",
                                      "E": "promoter"}
    assert out.loc["A", "response_id"] == "R2" and out.loc["A", "n_responses"] == 2
    for cust in out.index:
        g = out.loc[cust, "group"]
        assert out.loc[cust, "group_name"] == play(auto_pack, g)["name"]["zh"]
        assert out.loc[cust, "goal"] == play(auto_pack, g)["goal"]["zh"]
        assert out.loc[cust, "actions"].startswith(joiner("zh").join(a["zh"] for a in play(auto_pack, g)["actions"]))


def test_segment_extras_are_added_for_matching_group_only(auto_pack):
    out = P.assign(hand_responses(), auto_pack, "en").set_index("customer_id")
    d_extra = extra(auto_pack, "增购", "detractor")[0]["en"]
    e_extra = extra(auto_pack, "换购", "promoter")[0]["en"]
    assert out.loc["D", "extra_actions"] == d_extra and out.loc["D", "actions"].endswith("; " + d_extra)
    assert out.loc["E", "extra_actions"] == e_extra
    assert out.loc["A", "extra_actions"] == "" and out.loc["B", "extra_actions"] == ""
    n_group = len(play(auto_pack, "detractor")["actions"])
    assert len(out.loc["D", "actions"].split("; ")) == n_group + 1


def test_latest_response_orders_by_wave_then_date():
    df = pd.DataFrame({"customer_id": ["X", "X", "X"], "response_id": ["a", "b", "c"], "nps": [1.0, 2.0, 3.0],
                       "wave": ["2024H2", "2024H1", "2024H2"],
                       "date": pd.to_datetime(["2024-07-01", "2024-12-31", "2024-08-01"])})
    assert P.latest_responses(df)["response_id"].tolist() == ["c"]


def test_responses_without_customer_id_each_get_a_play():
    df = pd.DataFrame({"customer_id": [None, None, "X", "X"], "response_id": ["a", "b", "c", "d"],
                       "nps": [1.0, 9.0, 2.0, 3.0], "wave": ["2024H1"] * 4,
                       "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"])})
    last = P.latest_responses(df)
    assert last["response_id"].tolist() == ["a", "b", "d"] and last["n_responses"].tolist() == [1, 1, 2]


def test_nps_group_boundaries():
    assert list(P.nps_group(pd.Series([0, 6, 7, 8, 9, 10, None]))) == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter", ""]


def test_summary_shares_and_facts(auto_pack):
    assigned = P.assign(hand_responses(), auto_pack, "zh")
    table, facts = P.summary(assigned, auto_pack, "zh")
    assert list(table.columns[:5]) == ["segment", "size", "share", "goal", "actions"]
    groups = table[table["level"] == "group"].set_index("group")
    assert list(groups.index) == ["detractor", "passive", "promoter"]
    assert groups["size"].to_dict() == {"detractor": 2, "passive": 1, "promoter": 2}
    assert groups["share"].to_dict() == pytest.approx({"detractor": 40.0, "passive": 20.0, "promoter": 40.0})
    assert groups["share"].sum() == pytest.approx(100)
    assert facts["detractor_share"] == pytest.approx(40) and facts["passive_share"] == pytest.approx(20)
    assert facts["promoter_share"] == pytest.approx(40) and facts["n_customers"] == 5
    assert groups.loc["detractor", "segment"] == play(auto_pack, "detractor")["name"]["zh"]
    assert groups.loc["detractor", "actions"] == "；".join(a["zh"] for a in play(auto_pack, "detractor")["actions"])
    seg = table[table["level"] == "segment"].set_index(["group", "segment_value"])
    assert seg.loc[("detractor", "增购"), "size"] == 1
    assert seg.loc[("detractor", "增购"), "share"] == pytest.approx(20)
    assert "增购" in seg.loc[("detractor", "增购"), "segment"]
    assert ("passive", "增购") not in seg.index  # no extras defined for it


def test_summary_in_english_joins_with_semicolons(auto_pack):
    table, _ = P.summary(P.assign(hand_responses(), auto_pack, "en"), auto_pack, "en")
    row = table[(table["level"] == "group") & (table["group"] == "passive")].iloc[0]
    assert row["actions"] == "; ".join(a["en"] for a in play(auto_pack, "passive")["actions"])


def test_workbook_sheets_per_group(auto_pack, tmp_path):
    assigned = P.assign(hand_responses(), auto_pack, "zh")
    path = P.write_playbooks_xlsx(assigned, auto_pack, tmp_path / "pb.xlsx", "zh")
    wb = openpyxl.load_workbook(path)
    names = [play(auto_pack, g)["name"]["zh"] for g in P.GROUPS]
    assert wb.sheetnames == ["汇总", *names]
    for g, name in zip(P.GROUPS, names):
        ws = wb[name]
        assert ws.max_row - 1 == int((assigned["group"] == g).sum())
        assert ws.auto_filter.ref and ws.freeze_panes == "A2"


def _edit(folder, fname, fn):
    path = folder / fname
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_bundled_playbooks_are_valid():
    for name in ("auto", "real_estate", "retail"):
        assert P.validate(load_pack(name)) == [], name


def test_broken_playbooks_yaml_is_reported(pack_copy):
    folder = pack_copy()

    def breakit(d):
        d["groups"]["passive"].pop("goal")
        d["groups"]["fans"] = d["groups"].pop("promoter")
        d["segments"]["vip_level"] = {"gold": {"detractor": [{"zh": "致电", "en": "Call"}]}}
        d["segments"]["customer_type"]["增购"]["loyal"] = [{"zh": "x", "en": "x"}]
    _edit(folder, "playbooks.yaml", breakit)
    problems = [p for p in validate_pack(folder) if p.file == "playbooks.yaml"]
    text = "\n".join(map(str, problems))
    assert "groups.passive.goal" in text and "required key 'goal' is missing" in text
    assert "'promoter' is missing" in text and "unknown key 'fans' (known keys: detractor, passive, promoter)" in text
    assert "segments.vip_level" in text and "unknown segment" in text
    assert "unknown key 'loyal'" in text
    assert all(p.line for p in problems)
