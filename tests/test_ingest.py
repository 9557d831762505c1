"""Tests for cemkit.ingest: readers on messy fixtures (tests/data/ingest, planted truth in expected.json),
row accounting, quarantine reasons, masking in the pipeline, mapping proposal and files, errors, O-data."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cemkit import ingest
from cemkit.errors import InputError
from cemkit.ingest import (
    load_mapping,
    map_command,
    normalise_header,
    parse_date,
    parse_score,
    prepare,
    propose_mapping,
    propose_stage_values,
    read_table,
    write_mapping_yaml,
)
from cemkit.ingest.headers import _header_keys, is_platform_column
from cemkit.ingest.match import _spread_in, value_fit
from cemkit.ingest.tables import clean_phone
from cemkit.ingest.values import _clean_dates, recognise_labels

FIX = Path(__file__).parent / "data" / "ingest"
EXPECTED = json.loads((FIX / "expected.json").read_text(encoding="utf-8"))
SURVEYS = ["survey_gbk.csv", "survey_bom.csv", "survey_title.xlsx", "survey.sav", "survey.parquet"]
CONTRACT = ["response_id", "customer_id", "wave", "date", "stage"]
PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(scope="module")
def prepared(auto_pack):
    return {name: prepare(FIX / name, auto_pack) for name in SURVEYS}


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding=encoding)
    return path


# ----------------------------------------------------------------------------------------- readers
def test_read_gbk_csv():
    t = read_table(FIX / "survey_gbk.csv")
    assert t.attrs["encoding"] == "gb18030" and t.attrs["delimiter"] == ","
    assert list(t.columns[:4]) == ["问卷编号", "客户编号", "提交时间", "调研环节"]
    assert all(isinstance(d, pd.StringDtype) for d in t.dtypes)
    assert len(t) == 24 and t.iloc[7].isna().all()  # the blank line is a row


def test_read_bom_semicolon_csv_with_line_break_and_malformed_row():
    t = read_table(FIX / "survey_bom.csv")
    assert t.attrs["encoding"] == "utf-8-sig" and t.attrs["delimiter"] == ";"
    assert t.columns[0] == "问卷编号"  # no BOM in the header
    assert t.loc[0, "意见建议"] == "顾问很专业\n第二行：展厅也干净"
    assert len(t) == 24 and len(t.attrs["bad_rows"]) == 1 and "R900" in t.attrs["bad_rows"][0]["text"]


def test_read_xlsx_skips_title_rows_and_picks_the_data_sheet():
    t = read_table(FIX / "survey_title.xlsx")
    assert t.attrs["sheet"] == "数据" and t.attrs["sheets"] == ["说明", "数据"]
    assert t.attrs["header_row"] == 4 and t.attrs["first_data_row"] == 5
    assert t.columns[0] == "问卷编号" and t.loc[0, "问卷编号"] == "R001"
    assert t.loc[0, "推荐意愿"] == "9"  # numbers without ".0"
    assert t.loc[1, "提交时间"] == "45357"  # the serial-number date cell
    assert read_table(FIX / "survey_title.xlsx", sheet="说明").shape == (0, 1)
    with pytest.raises(InputError, match=r"survey_title.xlsx: has no sheet '数 据' \(closest: '数据'"):
        read_table(FIX / "survey_title.xlsx", sheet="数 据")


def test_read_sav_applies_value_labels_and_offers_variable_labels():
    t = read_table(FIX / "survey.sav")
    assert t.attrs["column_labels"]["Q1"] == "您有多大可能向朋友推荐我们"
    assert t.loc[0, "STAGE"] == "到店看车" and t.loc[0, "REGION"] == "华东"
    assert t.attrs["value_codes"]["Q1"] == {"完全不可能": "0", "极有可能": "10"}
    assert t.loc[1, "Q1"] == "极有可能"  # R002's 10, shown as its label
    assert t.loc[0, "DATE"] == "2024-03-05"


def test_read_parquet_as_text():
    t = read_table(FIX / "survey.parquet")
    assert all(isinstance(d, pd.StringDtype) for d in t.dtypes)
    assert t.loc[0, "csat"] == "5" and t.loc[0, "date"] == "2024-03-05"


def test_utf16_tab_export_and_late_gbk_bytes(tmp_path):
    df = pd.DataFrame({"问卷编号": ["R1", "R2"], "推荐意愿": ["9", "10"]})
    p = tmp_path / "unicode.txt"  # Excel "Unicode text": UTF-16 with BOM, tab-separated
    p.write_bytes(df.to_csv(sep="\t", index=False).encode("utf-16"))
    t = read_table(p)
    assert (
        t.attrs["delimiter"] == "\t"
        and t.attrs["encoding"] == "utf-16"
        and t["推荐意愿"].tolist() == ["9", "10"]
    )
    # 1.2 MB of ASCII, then a GBK line: the UTF-8 guess from the sample fails on the full file → GB18030
    p = tmp_path / "late.csv"
    p.write_bytes(
        b"id,comment\n" + b"".join(b"R%07d,ok\n" % i for i in range(120_000)) + "R9,很好\n".encode("gbk")
    )
    t = read_table(p)
    assert t.attrs["encoding"] == "gb18030" and t["comment"].iloc[-1] == "很好" and len(t) == 120_001


def test_trailing_blank_rows_are_not_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b\n1,2\n\n3,4\n\n\n,\n", encoding="utf-8")
    t = read_table(p)
    assert len(t) == 3 and t.iloc[1].isna().all()


def test_trailing_delimiter_on_every_row(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b\n1,2,\n3,4,\n", encoding="utf-8")
    t = read_table(p)
    assert list(t.columns) == ["a", "b", "column_3"] and not t.attrs["bad_rows"]


@pytest.mark.parametrize(
    "name, content, kind",
    [
        ("broken.xlsx", b"this is not a zip file", "Excel"),
        ("broken.parquet", b"PAR1 nope", "Parquet"),
        ("broken.sav", b"$FL2 not really spss", "SPSS"),
    ],
)
def test_unreadable_file_is_one_sentence(tmp_path, name, content, kind):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_table(p)
    msg = str(exc.value)
    assert msg.startswith(f"{name}: cannot read the file as {kind}") and "\n" not in msg


def test_empty_file_and_no_usable_rows(tmp_path, auto_pack):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"^empty.csv: the file is empty \(no header row\)\.$"):
        read_table(p)
    p = _write_csv(
        tmp_path / "bad.csv",
        ["问卷编号", "客户编号", "调研环节", "推荐意愿"],
        [["R1", "C1", "试驾", "11"], ["R2", "C2", "试驾", ""]],
    )
    with pytest.raises(InputError) as exc:
        prepare(p, auto_pack, out_dir=tmp_path / "data")
    assert str(exc.value) == (
        "bad.csv: no usable rows (2 read, nps_missing 1, score_out_of_range 1); see "
        f"{tmp_path / 'data' / 'quarantine.parquet'}."
    )
    assert len(pd.read_parquet(tmp_path / "data" / "quarantine.parquet")) == 2


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="nope.csv: file not found"):
        read_table(tmp_path / "nope.csv")
    p = tmp_path / "notes.docx"
    p.write_bytes(b"x")
    with pytest.raises(InputError, match=r"notes.docx: cannot read .docx files; use one of .csv"):
        read_table(p)


# -------------------------------------------------------------------------------- values
@pytest.mark.parametrize(
    "raw, value",
    [
        ("9", 9),
        ("10分", 10),
        ("9 分", 9),
        ("８", 8),
        ("１０", 10),
        (" 7 ", 7),
        ("10（非常愿意）", 10),
        ("10 极有可能", 10),
        ("7.5", 7.5),
        ("-1", -1),
        ("不清楚", None),
        ("", None),
        ("9-10", None),
        ("≥9", None),
        (None, None),
    ],
)
def test_parse_score(raw, value):
    assert parse_score(raw) == value


@pytest.mark.parametrize(
    "raw, value",
    [
        ("2024-03-05", "2024-03-05"),
        ("2024年3月5日", "2024-03-05"),
        ("2024/3/5", "2024-03-05"),
        ("2024.03.05", "2024-03-05"),
        ("20240305", "2024-03-05"),
        ("45356", "2024-03-05"),
        ("2024-03-05 14:30:15", "2024-03-05 14:30:15"),
        ("2024-03-05T14:30:00Z", "2024-03-05 14:30:00"),
        ("２０２４年３月５日", "2024-03-05"),
        ("2024年3月5日 9时5分", "2024-03-05 09:05:00"),
    ],
)
def test_parse_date(raw, value):
    assert parse_date(raw) == pd.Timestamp(value)


@pytest.mark.parametrize("raw", ["上周", "2024-02-30", "3/5/2024", "12345", "", None, "20241399"])
def test_parse_date_rejects(raw):
    assert pd.isna(parse_date(raw))


@pytest.mark.parametrize(
    "header, key",
    [
        ("Q1. 您有多大可能向朋友推荐我们？（0-10分）", "您有多大可能向朋友推荐我们"),
        ("Q3_1 销售顾问专业度", "销售顾问专业度"),
        ("3、满意度", "满意度"),
        ("Customer ID", "customerid"),
        ("NPS", "nps"),
        ("（备注）", "备注"),
    ],
)
def test_normalise_header(header, key):
    assert normalise_header(header) == key


# ------------------------------------------------------------------------- accounting per fixture
@pytest.mark.parametrize("name", SURVEYS)
def test_accounting_adds_up_with_the_planted_reasons(prepared, name):
    acc, exp = prepared[name].accounting, EXPECTED[name]
    assert acc["input_rows"] == acc["used"] + acc["quarantined"]
    for key in ("input_rows", "used", "quarantined", "by_reason", "cells_blanked", "dates_unparsed"):
        assert acc[key] == exp[key], key
    assert {k: v for k, v in acc["masked"].items() if v} == exp["comment_masks"]
    q = prepared[name].quarantine
    assert len(q) == acc["quarantined"] and q["reason"].value_counts().to_dict() == acc["by_reason"]
    assert len(prepared[name].responses) == acc["used"]


@pytest.mark.parametrize("name", SURVEYS)
def test_responses_follow_the_contract(prepared, name, auto_pack):
    r = prepared[name].responses
    assert list(r.columns[:5]) == CONTRACT
    for k in [*auto_pack.kpis, *auto_pack.attributes, "weight"]:
        assert r[k].dtype == np.float64, k
    assert pd.api.types.is_datetime64_any_dtype(r["date"])
    assert r["response_id"].is_unique and r["response_id"].notna().all()
    assert set(r["stage"]) <= set(auto_pack.stage_ids)
    assert r["nps"].between(0, 10).all() and (r["nps"] % 1 == 0).all()
    assert "phone" not in r and "name" not in r and (r["weight"] == 1.0).all()
    assert not r["comment"].dropna().str.contains(PHONE_RE).any()
    by_id = r.set_index("response_id")
    assert by_id.loc["R002", "nps"] == 10 and by_id.loc["R003", "nps"] == 8 and by_id.loc["R004", "nps"] == 9
    assert by_id.loc["R010", "stage"] == "delivery"  # 交车环节
    assert by_id.loc["R011", "nps"] == 8  # the later date wins
    assert by_id.loc["R012", "nps"] == 6  # same date: the later row wins
    assert by_id.loc["R022", "wave"] == "2024H2" and by_id.loc["R001", "wave"] == "2024H1"
    assert np.isnan(by_id.loc["R017", "csat"])  # 7 on a 1-5 scale: blanked
    assert prepared[name].accounting["stage_labels"]["交车环节"] == "delivery"


def test_dates_in_every_spelling(prepared):
    r = prepared["survey_title.xlsx"].responses.set_index("response_id")["date"]
    assert r["R001"] == pd.Timestamp("2024-03-05") and r["R002"] == pd.Timestamp("2024-03-06")  # serial
    assert r["R003"] == pd.Timestamp("2024-03-07") and r["R004"] == pd.Timestamp("2024-03-08")
    assert pd.isna(r["R019"])
    assert prepared["survey_title.xlsx"].accounting["wave_missing"] == 1


def test_quarantine_rows_details_and_masking(prepared):
    q = prepared["survey_title.xlsx"].quarantine.set_index("response_id", drop=False)
    assert q.loc["R005", "row"] == 9  # Excel row: header on 4, R005 is the 5th data row
    assert q.loc["R005", "detail"] == "nps = '12'"
    assert q.loc["R006", "detail"] == (  # a word no label scale holds: the detail says what to do
        "nps = '不清楚' (no known label scale holds '不清楚'; add recode: {nps: {label: point, …}} to the mapping)"
    )
    assert q.loc["R009", "detail"] == "stage = '精品加装'"
    dup = q[q["reason"] == "duplicate_id"]
    assert sorted(dup["response_id"]) == ["R011", "R012"]
    raw = json.loads(q.loc["R005", "raw"])
    assert raw["手机号"] == "139****5678" and raw["姓名"] == "王*" and raw["推荐意愿"] == "12"
    assert not q["raw"].str.contains(PHONE_RE).any()
    assert prepared["survey_title.xlsx"].accounting["masked_quarantine"] == {"mobile": 1, "name": 1}
    assert prepared["survey_title.xlsx"].accounting["pii_dropped"] == ["phone", "name"]


def test_malformed_row_in_quarantine(prepared):
    q = prepared["survey_bom.csv"].quarantine
    m = q[q["reason"] == "malformed_row"].iloc[0]
    assert "R900" in m["raw"] and m["detail"] == "13 fields, expected 12"


def test_sav_matches_columns_by_variable_labels(prepared):
    acc = prepared["survey.sav"].accounting
    assert acc["columns"]["Q1"] == "nps" and acc["columns"]["Q3_1"] == "reception_greeting"


def test_writes_outputs(tmp_path, auto_pack):
    p = prepare(FIX / "survey_gbk.csv", auto_pack, out_dir=tmp_path / "data")
    for f in ("responses.parquet", "quarantine.parquet", "accounting.json"):
        assert (tmp_path / "data" / f).exists()
    acc = json.loads((tmp_path / "data" / "accounting.json").read_text(encoding="utf-8"))
    assert acc == p.accounting
    back = pd.read_parquet(tmp_path / "data" / "responses.parquet")
    pd.testing.assert_frame_equal(back, p.responses, check_dtype=False)
    assert not (tmp_path / "data" / "contacts.parquet").exists()


def test_data_quality_views_accept_prepared(prepared, auto_pack):
    from cemkit import views

    out = views.data_quality_views(prepared["survey_gbk.csv"], auto_pack, "zh")
    table = out["data_quality"][0]
    assert table["count"].iloc[0] == 24 and table["count"].iloc[1] + table["count"].iloc[2] == 24


def test_data_quality_names_masked_columns_as_a_client_reads_them(prepared, auto_pack):
    """Masking per column names the column (评论 / Comment, the dealer segment's name), never the field code."""
    from dataclasses import replace

    from cemkit import views

    prep = prepared["survey_gbk.csv"]
    acc = {**prep.accounting, "masked": {"mobile": 5}, "masked_by_column": {"comment": {"mobile": 3},
                                                                            "dealer": {"mobile": 2}}}
    prep = replace(prep, accounting=acc)
    for lang, comment, dealer in (("zh", "评论", "经销商"), ("en", "Comment", "Dealer")):
        items = views.data_quality_views(prep, auto_pack, lang)["data_quality"][0]["item"].str.strip().tolist()
        assert comment in items and dealer in items and "comment" not in items and "dealer" not in items


# ----------------------------------------------------------------------------------- errors
def test_missing_required_columns_are_all_named_with_the_closest_header(tmp_path, auto_pack):
    # the headers are close, but the values are not NPS answers (12) nor stage labels (X1): both missing
    p = _write_csv(
        tmp_path / "client.csv", ["问卷编号", "客户编号", "推荐分", "环节名称X"], [["R1", "C1", "12", "X1"]]
    )
    with pytest.raises(InputError) as exc:
        prepare(p, auto_pack)
    lines = str(exc.value).splitlines()
    assert len(lines) == 3 and "cemkit map --pack PACK --data FILE > mapping.yaml" in lines[2]  # no --mapping
    nps_line = next(x for x in lines if "'nps'" in x)
    assert (
        nps_line.startswith("client.csv: required column 'nps' is missing")
        and "closest header is '推荐分'" in nps_line
    )
    stage_line = next(x for x in lines if "'stage'" in x)
    assert "closest header is '环节名称X'" in stage_line


def test_constants_fill_a_one_stage_one_wave_file_and_customer_id_may_be_absent(tmp_path, auto_pack):
    """An anonymous single-touchpoint export (问卷星 style: no customer id, no stage column, one wave per
    file) runs with `constants`; every row is used and the missing customer ids are counted."""
    p = _write_csv(tmp_path / "wjx.csv", ["序号", "推荐分", "其他意见"],
                   [["1", "10分", "很好"], ["2", "3", "（跳过）"], ["3", "(跳过)", "无"]])
    m = tmp_path / "m.yaml"
    m.write_text("columns: {推荐分: nps, 其他意见: comment}\nconstants: {stage: 交车, wave: 2024Q1}\n",
                 encoding="utf-8")
    out = prepare(p, auto_pack, mapping=m)
    r, acc = out.responses, out.accounting
    assert acc["input_rows"] == 3 and acc["used"] == 2 and acc["by_reason"] == {"nps_missing": 1}
    assert r["stage"].tolist() == ["delivery", "delivery"] and r["wave"].tolist() == ["2024Q1", "2024Q1"]
    assert r["nps"].tolist() == [10.0, 3.0] and r["customer_id"].isna().all()
    assert r["comment"].tolist()[0] == "很好" and pd.isna(r["comment"].iloc[1])  # a skip marker is no comment
    assert acc["customer_id_missing"] == 2
    assert acc["column_sources"]["stage"] == "constant (mapping)"
    assert not any(c.startswith("=constant") for c in acc["unused_columns"])


def test_constants_problems_are_named(tmp_path, auto_pack):
    m = tmp_path / "m.yaml"
    m.write_text("columns: {问卷编号: response_id}\nconstants: {customer_id: C1, dealer: [a, b], stagex: 1, "
                 "response_id: 2}\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        prepare(FIX / "survey_gbk.csv", auto_pack, mapping=m)
    msg = str(exc.value)
    assert "4 problem(s)" in msg and "[constants.dealer]: must be one value" in msg
    assert "[constants.customer_id]" in msg and "[constants.stagex]" in msg and "[constants.response_id]" in msg


def test_mapping_naming_an_absent_column(tmp_path, auto_pack):
    m = tmp_path / "mapping.yaml"
    m.write_text("columns:\n  推荐度: nps\n  问卷编号: response_id\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        prepare(FIX / "survey_gbk.csv", auto_pack, mapping=m)
    msg = str(exc.value)
    assert "survey_gbk.csv: the mapping mapping.yaml names column '推荐度', which is not in the file" in msg
    assert "(closest header: '推荐意愿')" in msg


def test_mapping_problems_listed_with_lines(tmp_path, auto_pack):
    m = tmp_path / "m.yaml"
    m.write_text(
        "columns:\n  推荐意愿: npss\n  满意度: csat\nscales:\n  nps: {min: 1, max: 10}\n"
        "keep_pii: [address]\nstage_values:\n  交车环节: deliver\nextra: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as exc:
        load_mapping(m, auto_pack)
    msg = str(exc.value)
    assert msg.startswith("5 problem(s) in the mapping:")
    assert (
        "m.yaml:2 [columns.推荐意愿]: 'npss' is not a field, KPI, attribute or segment of pack auto (closest: 'nps')"
        in msg
    )
    assert "m.yaml:5 [scales.nps]: NPS must be asked on 0-10" in msg
    assert "'address' is not a PII field" in msg and "'deliver' is not a stage" in msg
    assert "[extra]: unknown section" in msg


def test_cli_map_exit_code_2_on_bad_file(tmp_path):
    p = tmp_path / "broken.xlsx"
    p.write_bytes(b"garbage")
    res = subprocess.run(
        [sys.executable, "-m", "cemkit.cli", "map", "--pack", "auto", "--data", str(p)],
        check=False,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(Path(ingest.__file__).parents[2])},
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]  # one line, no traceback
    assert "broken.xlsx: cannot read the file as Excel" in res.stderr


# ----------------------------------------------------------------------------------- mapping
def test_propose_mapping_on_chinese_headers(auto_pack):
    headers = [
        "序号",
        "问卷编号",
        "客户编号",
        "推荐意愿",
        "您有多大可能向朋友推荐",
        "满意度",
        "经销商",
        "所属大区",
        "Q5. 销售顾问专业度（1-10分）",
        "提交时间",
        "IP地址",
        "意见建议",
        "手机号",
    ]
    d = propose_mapping(headers, auto_pack)
    c = d["columns"]
    assert c["问卷编号"] == "response_id" and "序号" in d["unplaced"]  # the pack lists 问卷编号 first
    assert c["客户编号"] == "customer_id" and c["推荐意愿"] == "nps"
    assert "您有多大可能向朋友推荐" in d["unplaced"]  # nps is taken by the earlier header
    assert c["满意度"] == "csat" and c["经销商"] == "dealer" and c["所属大区"] == "region"
    assert c["Q5. 销售顾问专业度（1-10分）"] == "consultant_knowledge"
    assert c["提交时间"] == "date" and c["意见建议"] == "comment" and c["手机号"] == "phone"
    assert "IP地址" in d["platform"] and d["missing_required"] == ["stage"]  # a platform column
    assert d["matches"]["推荐意愿"] == {"field": "nps", "score": 1.0, "via": "推荐意愿"}


def test_propose_mapping_long_question_text(auto_pack):
    d = propose_mapping(["您有多大可能向朋友或家人推荐本店？"], auto_pack)
    assert d["columns"] == {"您有多大可能向朋友或家人推荐本店？": "nps"}


def test_names_found_in_order_with_particles_between(auto_pack):
    """Long question texts put particles inside a name (的, 或): the name still matches, and beats a
    two-character synonym (评价) that merely occurs in the question."""
    d = propose_mapping(["请评价：销售顾问的专业程度", "其他意见或建议（选填）"], auto_pack)
    assert d["columns"] == {"请评价：销售顾问的专业程度": "consultant_knowledge", "其他意见或建议（选填）": "comment"}
    assert _spread_in("意见建议", "其他意见或建议") == 5 and _spread_in("建议意见", "意见或建议") is None


def test_qualtrics_import_id_rows_are_header_not_data(tmp_path, auto_pack):
    """Qualtrics CSV: header, question texts, {"ImportId": …}; then data. The two rows under the header are
    dropped (not counted as input rows) and the question texts label the columns for the mapper."""
    p = tmp_path / "qualtrics.csv"
    p.write_text(
        "ResponseId,Q1,Q2,Q4\n"
        "Response ID,您有多大可能向朋友推荐我们？,您最近一次体验的环节,其他意见或建议\n"
        '"{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}","{""ImportId"":""QID2""}","{""ImportId"":""QID4_TEXT""}"\n'
        "R_1,9,交车,很好\nR_2,3,交车,太慢\n", encoding="utf-8-sig")
    t = read_table(p)
    assert len(t) == 2 and t.attrs["first_data_row"] == 4 and t.attrs["header_rows_below"] == 2
    assert t.attrs["column_labels"]["Q1"] == "您有多大可能向朋友推荐我们？"
    d = propose_mapping(list(t.columns), auto_pack, labels=t.attrs["column_labels"])
    assert d["columns"] == {"ResponseId": "response_id", "Q1": "nps", "Q2": "stage", "Q4": "comment"}
    out = prepare(p, auto_pack, mapping={"columns": d["columns"], "constants": {"wave": "2024Q2"}})
    assert out.accounting["input_rows"] == 2 and out.responses["nps"].tolist() == [9.0, 3.0]


def test_propose_stage_values(auto_pack):
    got = propose_stage_values(["交车环节", "试驾体验", "首保", "精品加装", "到店看车"], auto_pack)
    assert got == {
        "交车环节": "delivery",
        "试驾体验": "test_drive",
        "首保": "first_service",
        "精品加装": None,
        "到店看车": "showroom",
    }


def test_map_command_draft_round_trip(tmp_path, auto_pack, prepared):
    out = tmp_path / "mapping.yaml"
    text = map_command("auto", FIX / "survey_title.xlsx", out)
    assert "sheet '数据' of 说明, 数据" in text and "header on row 4" in text and str(out) in text
    doc = out.read_text(encoding="utf-8")
    assert '"推荐意愿": nps' in doc and '"调研环节": stage' in doc
    assert '"交车环节": delivery' in doc and '"精品加装": null' in doc
    data = yaml.safe_load(doc)
    assert data["source"] == {"file": str(FIX / "survey_title.xlsx"), "sheet": "数据"}
    p = prepare(None, auto_pack, mapping=out)  # the data file from source.file
    ref = prepared["survey_title.xlsx"].accounting
    assert {k: p.accounting[k] for k in ("input_rows", "used", "by_reason")} == {
        k: ref[k] for k in ("input_rows", "used", "by_reason")
    }


def test_map_command_source_relative_to_the_mapping(tmp_path, auto_pack):
    import shutil

    shutil.copy(FIX / "survey_gbk.csv", tmp_path / "export.csv")
    map_command(auto_pack, tmp_path / "export.csv", tmp_path / "m.yaml")
    assert yaml.safe_load((tmp_path / "m.yaml").read_text(encoding="utf-8"))["source"] == {
        "file": "export.csv"
    }
    assert prepare(None, auto_pack, mapping=tmp_path / "m.yaml").accounting["input_rows"] == 24


def test_map_command_lists_unplaced_headers(tmp_path):
    p = _write_csv(tmp_path / "x.csv", ["问卷编号", "IP地址", "设备类型"], [["R1", "1.2.3.4", "手机"]])
    text = map_command("auto", p)  # no --out: the YAML is printed
    assert "not placed 1: 设备类型" in text and "platform columns 1 (not analysed): IP地址" in text
    assert "not placed (1)" in text and '# "IP地址": ' in text and '# "设备类型": ' in text
    assert "required fields not found: stage, nps" in text  # customer_id is optional (anonymous surveys)


def test_write_mapping_yaml_is_loadable(auto_pack):
    draft = propose_mapping(["问卷编号", "推荐意愿", "其他"], auto_pack)
    draft["stage_values"] = {"交车环节": "delivery", "精品加装": None}
    m = load_mapping(yaml.safe_load(write_mapping_yaml(draft)), auto_pack)
    assert m.columns == {"问卷编号": "response_id", "推荐意愿": "nps"} and m.stage_values == {
        "交车环节": "delivery"
    }


def test_mapping_options(tmp_path, auto_pack):
    mapping = {
        "columns": {
            "问卷编号": "response_id",
            "客户编号": "customer_id",
            "提交时间": "date",
            "调研环节": "stage",
            "推荐意愿": "nps",
            "满意度": "csat",
            "意见建议": "comment",
            "大区": "region",
            "手机号": "phone",
            "姓名": "name",
            "接待热情主动": None,
        },
        "recode": {"region": {"华东": "East"}, "nps": {"不清楚": "5"}},
        "stage_values": {"精品加装": "showroom"},
        "scales": {"csat": {"min": 1, "max": 10}},
        "keep_pii": ["phone", "name"],
        "wave": {"from_date": "quarter"},
    }
    p = prepare(FIX / "survey_gbk.csv", auto_pack, mapping=mapping)
    r = p.responses.set_index("response_id")
    assert "R009" in r.index and r.loc["R009", "stage"] == "showroom"  # stage_values
    assert "R006" in r.index and r.loc["R006", "nps"] == 5  # recode before parsing
    assert r.loc["R001", "region"] == "East" and r.loc["R004", "region"] == "华南"
    assert r.loc["R001", "wave"] == "2024Q1" and r.loc["R022", "wave"] == "2024Q3"
    # csat declared 1-10: 5 → 1 + (5-1)·4/9 = 2.78 → 3; 7 (blanked before) is now valid → 3.67 → 4
    assert r.loc["R001", "csat"] == 3 and r.loc["R017", "csat"] == 4
    assert "reception_greeting" not in p.accounting["columns"].values()  # mapped to null: unused
    assert r["reception_greeting"].isna().all() and "接待热情主动" in p.accounting["unused_columns"]
    assert p.accounting["columns"]["经销商"] == "dealer"  # left out of the mapping: found by its name
    c = p.contacts.set_index("response_id")
    assert c.loc["R001", "phone"] == "13800138000" and c.loc["R001", "name"] == "张三"
    assert "phone" not in p.responses and p.accounting["pii_kept"] == ["phone", "name"]
    assert p.accounting["input_rows"] == p.accounting["used"] + p.accounting["quarantined"]


def test_weight_column_and_raking(tmp_path, auto_pack):
    rows = [
        [f"R{i}", f"C{i}", "试驾", str(i % 11), r, w]
        for i, (r, w) in enumerate(
            [("华东", "1.5"), ("华东", "0.5"), ("华南", "1"), ("华南", "x"), ("华北", "2")]
        )
    ]
    p = _write_csv(tmp_path / "w.csv", ["问卷编号", "客户编号", "环节", "推荐意愿", "大区", "权重"], rows)
    got = prepare(p, auto_pack)  # 权重 is the weight field's synonym
    assert got.accounting["by_reason"] == {"weight_invalid": 1}
    assert got.responses["weight"].mean() == pytest.approx(1.0)
    assert got.responses["weight"].tolist() == pytest.approx([1.2, 0.4, 0.8, 1.6])
    assert got.accounting["weighting"]["method"] == "column"
    raked = prepare(
        p,
        auto_pack,
        mapping={
            "columns": {
                "问卷编号": "response_id",
                "客户编号": "customer_id",
                "环节": "stage",
                "推荐意愿": "nps",
                "大区": "region",
            },
            "weights": {"rake": {"region": {"华东": 0.5, "华南": 0.3, "华北": 0.2}}},
        },
    )
    r = raked.responses
    shares = r.groupby("region")["weight"].sum() / r["weight"].sum()
    assert shares.to_dict() == pytest.approx({"华东": 0.5, "华南": 0.3, "华北": 0.2})
    w = raked.accounting["weighting"]
    assert w["method"] == "rake" and raked.accounting["weighting_efficiency"] == pytest.approx(w["n_eff"] / 5)
    with pytest.raises(InputError, match="no target for '华北'"):
        prepare(p, auto_pack, mapping={"weights": {"rake": {"region": {"华东": 0.5, "华南": 0.5}}}})


def test_date_required_by_pack_quarantines(tmp_path, auto_pack):
    fields = dict(auto_pack.fields)
    fields["date"] = dataclasses.replace(fields["date"], required=True)
    pack = dataclasses.replace(auto_pack, fields=fields)
    p = prepare(FIX / "survey_gbk.csv", pack)
    assert p.accounting["by_reason"]["date_invalid"] == 1


# ------------------------------------------------------------------------------------ O-data
def _odata_pack(auto_pack):
    od = dict(auto_pack.odata)
    od["aggregate"] = {
        "visits_12m": {"from": "visit_id", "agg": "count"},
        "spend_12m": {"from": "amount", "agg": "sum"},
        "days_since_visit": {"from": "service_date", "agg": "days_since", "as_of": "2024-12-31"},
        "last_visit": {"from": "service_date", "agg": "max"},
    }
    return dataclasses.replace(auto_pack, odata=od)


def test_odata_join_and_aggregate(auto_pack):
    pack = _odata_pack(auto_pack)
    exp = EXPECTED["odata"]
    p = prepare(
        FIX / "survey_gbk.csv", pack, odata_paths=[FIX / "odata_customers.csv", FIX / "odata_visits.csv"]
    )
    od = p.odata.set_index("customer_id")
    assert len(od) == exp["customers"] and od.index.is_unique
    for feat in ("visits_12m", "spend_12m", "days_since_visit", "tenure_months"):
        for cid, v in exp[feat].items():
            assert od.loc[cid, feat] == pytest.approx(v), (feat, cid)
    assert np.isnan(od.loc["C013", "tenure_months"]) and np.isnan(od.loc["C999", "visits_12m"])
    assert od.loc["C001", "last_visit"] == pd.Timestamp("2024-09-01")
    assert od.loc["C001", "purchase_channel"] == "汽车之家"
    acc = p.accounting
    assert acc["odata_rows_in"] == exp["rows_in"] and acc["odata_rows_without_key"] == exp["rows_without_key"]
    resp = set(p.responses["customer_id"])
    assert acc["odata_matched_responses"] == len(resp & set(od.index))
    assert acc["odata_unmatched_responses"] == len(p.responses) - acc["odata_matched_responses"]
    assert acc["odata_customers_without_response"] == len(set(od.index) - resp)
    assert od.loc["C001", "responded"] and not od.loc["C999", "responded"]
    assert "odata_customers.csv:备注" in acc["odata_unused_columns"]


def test_odata_one_to_many_without_rule_is_refused(tmp_path, auto_pack):
    p = tmp_path / "dms.csv"
    p.write_text("客户编号,车龄（月）\nC001,12\nC001,13\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"dms.csv: customer_id repeats and tenure_months varies within a customer"
    ):
        prepare(FIX / "survey_gbk.csv", auto_pack, odata_paths=[p])
    p.write_text("客户编号,车龄（月）\nC001,12\nC001,12\n", encoding="utf-8")  # constant: fine
    assert prepare(FIX / "survey_gbk.csv", auto_pack, odata_paths=[p]).odata["tenure_months"].tolist() == [
        12.0
    ]


def test_odata_without_key_column(tmp_path, auto_pack):
    p = tmp_path / "dms.csv"
    p.write_text("客户号码,车龄\nC001,12\n", encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"dms.csv: the O-data file has no key column 'customer_id'.*closest header is '客户号码'",
    ):
        prepare(FIX / "survey_gbk.csv", auto_pack, odata_paths=[p])


# --------------------------------------------------------------------------- demo data, invariant
def test_demo_data_round_trip(tmp_path, auto_pack):
    from cemkit.demo import generate

    demo = generate(auto_pack, n=1500, seed=7)
    rpath, opath = tmp_path / "responses.csv", tmp_path / "odata.csv"
    demo.responses.to_csv(rpath, index=False, date_format="%Y-%m-%d")
    demo.odata.to_csv(opath, index=False)
    p = prepare(rpath, auto_pack, odata_paths=[opath], out_dir=tmp_path / "data")
    acc = p.accounting
    assert acc["input_rows"] == acc["used"] == 1500 and acc["quarantined"] == 0
    assert acc["column_sources"] == {} and acc["masked"]["mobile"] > 0
    assert not p.responses["comment"].dropna().str.contains(PHONE_RE).any()
    assert acc["odata_unmatched_responses"] == 0 and acc["odata_customers_without_response"] > 0
    assert (tmp_path / "data" / "odata.parquet").exists()
    assert p.responses["nps"].tolist() == demo.responses["nps"].tolist()
    assert p.responses["wave"].tolist() == demo.responses["wave"].tolist()
    assert (p.responses["date"] == demo.responses["date"]).all()


def test_demo_messy_export_planted_reasons_recovered(tmp_path, auto_pack):
    """The demo's client-style export (demo.messy_rows) plants bad rows per reason; ingest finds them all."""
    from cemkit import demo as dm

    if not hasattr(dm, "messy_rows"):
        pytest.skip("cemkit.demo has no messy_rows")
    d = dm.generate(auto_pack, n=3000, seed=11)
    out = dm.messy_rows(d.responses, seed=11)
    path = tmp_path / "messy.csv"
    out.to_csv(path, index=False, date_format="%Y-%m-%d")
    acc = prepare(path, auto_pack).accounting
    assert acc["by_reason"] == {k: v for k, v in out.attrs["planted"].items() if v}
    assert acc["input_rows"] == len(out) and acc["used"] == 3000 - sum(
        v for k, v in out.attrs["planted"].items() if k != "duplicate_id"
    )


_POOL = {
    "id": ["R1", "R2", "R3", "R4", "", " R5 "],
    "stage": ["到店看车", "试驾", "交车环节", "精品加装", "", "showroom"],
    "nps": ["9", "10分", "８", "11", "不清楚", "", "0"],
    "csat": ["5", "6", "", "x"],
    "date": ["2024-03-05", "2024年7月1日", "45356", "上周", ""],
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(*(st.sampled_from(v) for v in _POOL.values())), min_size=0, max_size=25))
def test_accounting_invariant_on_random_messy_files(tmp_path_factory, auto_pack, rows):
    p = tmp_path_factory.mktemp("inv") / "r.csv"
    body = [[i, "C1", s, n, c, d] for i, s, n, c, d in rows]
    _write_csv(p, ["问卷编号", "客户编号", "调研环节", "推荐意愿", "满意度", "提交时间"], body)
    out = p.parent / "data"
    try:
        got = prepare(p, auto_pack, out_dir=out)
    except InputError as exc:  # nothing usable: raised after the outputs were written
        assert "no usable rows" in str(exc)
        acc = json.loads((out / "accounting.json").read_text(encoding="utf-8"))
        assert acc["used"] == 0
    else:
        acc = got.accounting
        assert got.responses["response_id"].is_unique and len(got.responses) == acc["used"]
    q = pd.read_parquet(out / "quarantine.parquet")
    assert acc["input_rows"] == acc["used"] + acc["quarantined"]
    assert sum(acc["by_reason"].values()) == acc["quarantined"] == len(q)
    assert acc["input_rows"] == len(read_table(p))


def test_data_quality_slide_counts_missing_ids_and_derived_waves(tmp_path, auto_pack):
    from cemkit import views

    p = _write_csv(tmp_path / "a.csv", ["序号", "提交时间", "推荐分", "环节"],
                   [["1", "2024-03-05", "9", "交车"], ["2", "2024-08-01", "3", "交车"]])
    prep = prepare(p, auto_pack, mapping={"columns": {"序号": "response_id", "推荐分": "nps", "提交时间": "date"}})
    table = views.data_quality_views(prep, auto_pack, "en")["data_quality"][0].set_index("item")["count"]
    assert table["responses without customer id (followed up one by one)"] == 2
    assert table["responses with the wave derived from the date"] == 2


# ------------------------------------------------------------------ platform exports (tests/data/exports)
EXPORTS = Path(__file__).parent / "data" / "exports"
# file → (header of the key fields as `cemkit map` proposes them, input rows, used, quarantined by reason)
PLATFORM_EXPORTS = {
    "wjx_text.xlsx": ({"response_id": "序号", "date": "提交答卷时间", "stage": "1、您本次体验的是哪个环节？",
                       "nps": "2、您向亲友推荐本品牌的可能性有多大？", "csat": "3、您对本次服务的总体满意度如何？",
                       "reception_greeting": "4、(接待热情主动)", "consultant_knowledge": "4、(销售顾问专业度)",
                       "comment": "6、您对我们还有哪些意见或建议？", "phone": "7、您的手机号码"}, 20, 20, {}),
    "tencent.xlsx": ({"response_id": "编号", "date": "结束答题时间", "stage": "Q1:您本次调研的环节",
                      "nps": "Q2:您向朋友或同事推荐我们的可能性有多大？", "csat": "Q3:请为本次服务的满意程度打星",
                      "consultant_knowledge": "Q4:销售顾问专业度", "showroom_env": "Q5|展厅环境舒适",
                      "comment": "Q6:您还有什么意见或建议？"}, 20, 20, {}),
    "jinshuju.xlsx": ({"response_id": "序号", "customer_id": "客户编号", "date": "提交时间", "stage": "购车环节",
                       "nps": "推荐指数（0-10分）", "csat": "满意度评价", "consultant_knowledge": "销售顾问专业度",
                       "comment": "备注", "phone": "手机"}, 20, 16, {"empty_row": 2, "summary_row": 2}),
    "maike.csv": ({"response_id": "序号", "date": "提交时间", "stage": "服务环节", "nps": "推荐可能性",
                   "csat": "总体满意度", "comment": "意见建议", "phone": "手机", "name": "姓名"},
                  14, 12, {"empty_row": 1, "summary_row": 1}),
    "surveymonkey.csv": ({"response_id": "Respondent ID", "customer_id": "Custom Data 1", "date": "End Date",
                          "stage": "您本次体验的环节", "nps": "您向朋友或同事推荐我们的可能性有多大？",
                          "reception_greeting": "请为以下方面打分（1-10分） - 接待热情主动",
                          "consultant_knowledge": "请为以下方面打分（1-10分） - 销售顾问专业度",
                          "comment": "您还有什么意见或建议？"}, 15, 15, {}),
    "qualtrics.csv": ({"response_id": "ResponseId", "customer_id": "ExternalReference", "date": "RecordedDate",
                       "stage": "Q1", "nps": "Q2", "consultant_knowledge": "Q3_1", "showroom_env": "Q3_2",
                       "comment": "Q4"}, 10, 10, {}),
    "spss.sav": ({"response_id": "ID", "stage": "Q1", "nps": "Q2", "csat": "Q3", "comment": "Q4"}, 12, 12, {}),
}


@pytest.mark.parametrize("name", sorted(PLATFORM_EXPORTS))
def test_platform_export_mapped_and_accounted(name, auto_pack):
    """`cemkit map` proposes the key fields of each platform's layout, and a run on that draft accounts for
    every row with the right reasons (summary rows and trailing blanks quarantined, never read)."""
    want, n_in, n_used, reasons = PLATFORM_EXPORTS[name]
    t = read_table(EXPORTS / name)
    d = propose_mapping(list(t.columns), auto_pack, labels=t.attrs["column_labels"],
                        fits=value_fit(t, auto_pack, value_codes=t.attrs["value_codes"]))
    got = {f: h for h, f in d["columns"].items()}
    assert {f: got.get(f) for f in want} == want
    out = prepare(EXPORTS / name, auto_pack, mapping={"columns": d["columns"]})
    a = out.accounting
    assert (a["input_rows"], a["used"], a["by_reason"]) == (n_in, n_used, reasons)
    assert a["input_rows"] == a["used"] + a["quarantined"] and a["dates_unparsed"] == 0
    r = out.responses
    assert r["nps"].between(0, 10).all() and r["stage"].notna().all()
    assert r["date"].notna().all() == ("date" in want)
    assert not r["comment"].isin(["(跳过)", "(空)", "—"]).any()
    assert not (set(d["platform"]) & set(d["columns"]))  # time taken, IP, … never proposed


def test_wjx_text_labels_and_skip_markers(tmp_path, auto_pack):
    draft = yaml.safe_load(map_command(auto_pack, EXPORTS / "wjx_text.xlsx", tmp_path / "m.yaml") and
                           (tmp_path / "m.yaml").read_text(encoding="utf-8"))
    out = prepare(EXPORTS / "wjx_text.xlsx", auto_pack, mapping={"columns": draft["columns"]})
    r, a = out.responses, out.accounting
    assert r["csat"].tolist()[:4] == [5, 4, 4, 2]  # 非常满意, 满意, 满意, 不满意
    assert r["nps"].tolist()[:2] == [10, 9] and r["nps"].iloc[8] == 0  # "10-极有可能", "9", "0-完全不可能"
    assert a["label_scales"]["csat"]["scale"] == "satisfaction5"
    assert r["comment"].notna().sum() == 12  # (跳过), (空) and empty are no comment
    assert "4、(接待热情主动)" in a["columns"] and "来自IP" in a["unused_columns"]
    assert a["columns"]["所用时间"] == "duration"  # the platform's time taken: the speeder check, not analysed


def test_wjx_coded_export_needs_the_recode_the_draft_suggests(tmp_path, auto_pack):
    """按选项序号: NPS 1-11 and stage 1-4 cannot be guessed; the draft says so, and with the suggested recode
    and stage_values the file runs. Phones written as floats come back as digits; a rounded one cannot."""
    p = EXPORTS / "wjx_code_gbk.csv"
    text = map_command(auto_pack, p)
    assert "!! nps: answers run 1-11 with no 0" in text and "!! stage: the answers are numbers (1, 2, 3, 4)" in text
    assert "4(接待热情主动) → reception_greeting" in text
    assert "platform columns 3 (not analysed): 来源, 来源详情, 来自IP" in text and "所用时间 → duration" in text
    map_command(auto_pack, p, tmp_path / "m.yaml")
    columns = yaml.safe_load((tmp_path / "m.yaml").read_text(encoding="utf-8"))["columns"]
    with pytest.raises(InputError, match=r"no usable rows \(20 read, unknown_stage 20\)"):
        prepare(p, auto_pack, mapping={"columns": columns})
    mapping = {
        "columns": columns,
        "recode": {"nps": {str(i + 1): i for i in range(11)}},
        "stage_values": {"1": "showroom", "2": "test_drive", "3": "delivery", "4": "first_service"},
        "keep_pii": ["phone"],
    }
    out = prepare(p, auto_pack, mapping=mapping)
    a = out.accounting
    assert a["used"] == 20 and out.responses["nps"].tolist()[:3] == [10, 9, 8]
    assert out.responses["stage"].tolist()[:3] == ["showroom", "test_drive", "delivery"]
    phones = out.contacts["phone"].tolist()
    assert phones[:2] == ["13800017919", "13800025838"] and pd.isna(phones[2]) and pd.isna(phones[3])
    assert a["phone_unreadable"] == 5  # "1.38E+10": the digits were rounded away


def test_summary_rows_ids_and_stars(auto_pack):
    out = prepare(EXPORTS / "jinshuju.xlsx", auto_pack)
    q = out.quarantine.set_index("row")
    assert q.loc[22, "reason"] == "summary_row" and "(合计)" in q.loc[22, "detail"]
    assert q.loc[23, "reason"] == "summary_row" and "(平均值)" in q.loc[23, "detail"]
    r = out.responses
    assert r["customer_id"].iloc[0] == "000001"  # leading zeros kept
    assert r["csat"].tolist()[:4] == [5, 4, 4, 2]  # ★★★★★, ★★★★☆ …
    assert r["date"].iloc[:3].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-05", "2024-03-05", "2024-03-05"]
    assert out.accounting["label_scales"]["csat"]["scale"] == "stars (1-5)"


def test_surveymonkey_second_header_row_and_us_dates():
    t = read_table(EXPORTS / "surveymonkey.csv")
    assert t.attrs["first_data_row"] == 3 and t.attrs["header_rows_below"] == 1
    assert "请为以下方面打分（1-10分） - 展厅环境舒适" in t.columns and "您还有什么意见或建议？" in t.columns
    assert t["Respondent ID"].iloc[0] == "114000000000"
    d = _clean_dates(t["End Date"])
    assert d.iloc[0] == pd.Timestamp("2024-03-05 09:14:10")  # 03/05/2024 09:14:10 AM, month first


@pytest.mark.parametrize(
    "labels, points, expect",
    [
        (["非常满意", "满意", "一般"], 5, {"非常满意": 5, "满意": 4, "一般": 3}),
        (["Very satisfied", "Dissatisfied"], 5, {"Very satisfied": 5, "Dissatisfied": 2}),
        (["非常满意", "满意"], 10, None),  # a 5-point scale on a 1-10 field: not guessed
        (["非常满意", "很愿意"], 5, None),  # one label no scale holds: nothing is recoded
        (["非常满意", "非常同意"], 5, None),  # two scales mixed in one column
        (["极有可能", "完全不可能"], 11, {"极有可能": 11, "完全不可能": 1}),
        (["★★★☆☆", "★★★★★"], 5, {"★★★☆☆": 3, "★★★★★": 5}),
        (["★★★☆☆"], 10, None),
    ],
)
def test_recognise_labels_all_or_nothing(labels, points, expect):
    got, why = recognise_labels(labels, points)
    assert got == expect and why


def test_unrecognised_labels_quarantine_required_and_blank_optional(tmp_path, auto_pack):
    p = _write_csv(tmp_path / "x.csv", ["问卷编号", "调研环节", "推荐意愿", "满意度"],
                   [["R1", "试驾", "很愿意", "非常满意"], ["R2", "试驾", "9", "还可以吧"], ["R3", "试驾", "8", "满意"]])
    out = prepare(p, auto_pack)
    q = out.quarantine.set_index("response_id")
    assert q.loc["R1", "reason"] == "nps_not_numeric" and "add recode: {nps:" in q.loc["R1", "detail"]
    a = out.accounting
    assert a["cells_blanked"] == {"csat": {"not_numeric": 2}}  # 还可以吧 is unknown: 满意 is not guessed either
    assert a["label_scales"]["csat"]["scale"] is None and "还可以吧" in a["label_scales"]["csat"]["why"]


@pytest.mark.parametrize(
    "raw, digits",
    [("+86 138 0013 8000", "13800138000"), ("13800138000.0", "13800138000"), ("1.3800138000e10", "13800138000"),
     ("1.38E+10", None), ("1.3800138e10", None), ("0086-13800138000", "13800138000")],
)
def test_clean_phone(raw, digits):
    assert clean_phone(raw) == digits


def test_matrix_and_platform_headers(auto_pack):
    assert _header_keys("5(服务态度)") == ["服务态度"]
    assert _header_keys("4、请评价以下方面(销售顾问专业度)")[-1] == "销售顾问专业度"
    assert _header_keys("Q3|服务态度") == ["服务态度"]
    assert _header_keys("其他意见或建议（选填）") == ["其他意见或建议"]  # a hint, not a matrix row
    assert is_platform_column("来自IP") and is_platform_column("地理位置（省）")
    assert not is_platform_column("线索来源")
