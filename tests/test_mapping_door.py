"""Issue 17, the door: `cemkit map` output that loads as it is, and the draft's understanding of a client file
(headers, scale hints, value evidence, stage labels by meaning, no response id, unattended runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cemkit.cli import main
from cemkit.errors import InputError
from cemkit.ingest import load_mapping, map_draft, prepare, propose_mapping, propose_stage_values
from cemkit.ingest.draft import used_mapping_yaml
from cemkit.ingest.match import value_fit
from cemkit.ingest.understand import concept_score, read_question, scale_hint

FIX = Path(__file__).parent / "data" / "ingest"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


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


# ----------------------------------------------------------------------------------- reading a header
@pytest.mark.parametrize(
    "header, text, scale",
    [
        ("Q3:您会把我们介绍给亲友吗？（0~10）", "您会把我们介绍给亲友吗", (0, 10)),
        ("5、整个过程顺不顺利？（1=很不顺利，7=非常顺利）", "整个过程顺不顺利", (1, 7)),
        ("Q07-交车时间是否守约", "交车时间是否守约", None),
        ("A3_1 展厅环境【1-7】", "展厅环境", (1, 7)),
        ("B1_2.优惠券使用方便", "优惠券使用方便", None),
        ("2. 您对本次服务满意吗(1-5分)", "您对本次服务满意吗", (1, 5)),
        ("How satisfied were you? (1 = poor, 10 = excellent)", "how satisfied were you", (1, 10)),
        ("On a scale of 0 to 10, how likely are you to recommend us?", None, (0, 10)),
        ("ＮＰＳ　推荐度（０－１０）", "nps 推荐度", (0, 10)),  # full-width forms
        ("4S店", "4s店", None),  # a digit that is no question number
        ("Q2", "q2", None),  # nothing but a number: kept
    ],
)
def test_read_question_strips_numbering_brackets_and_reads_the_scale(header, text, scale):
    q = read_question(header)
    if text is not None:
        assert q.text == text
    assert q.scale == (None if scale is None else (float(scale[0]), float(scale[1])))


def test_read_question_keeps_tags_and_matrix_rows_and_sees_yes_no():
    q = read_question("[NPS] 您向朋友推荐的可能性")
    assert q.tag == "nps" and "nps" in q.keys and q.text == "您向朋友推荐的可能性"
    assert "服务顾问的态度" in read_question("4、请评价(服务顾问的态度)").keys
    assert "服务态度" in read_question("Q5|服务态度").keys
    assert "friendlinessofstaff" in read_question("Please rate the following - Friendliness of staff").keys
    assert read_question("是否一次解决（1=是，2=否）").binary and read_question("是否一次解决").scale is None
    assert scale_hint("（1-2分）") is None  # a two-point "scale" is a yes/no question, not a rating


@pytest.mark.parametrize(
    "header, fid",
    [
        ("您会把我们介绍给亲友吗", "nps"), ("Would you tell a friend about us?", "nps"), ("向同事推荐的可能性", "nps"),
        ("总的来说，您对本次到店服务满意吗？", "csat"), ("整个过程麻烦不麻烦", "ces"), ("How easy was it?", "ces"),
        ("还有什么想告诉我们的？", "comment"), ("Anything else?", "comment"), ("回访日期", "date"),
    ],
)
def test_everyday_wordings_are_concepts(header, fid):
    assert concept_score(read_question(header), fid) >= 0.85


@pytest.mark.parametrize("header, fid", [("开始答题时间", "date"), ("交车日期", "date"), ("推荐的商品是否合适", "nps"),
                                         ("回访备注", "comment"), ("经销商代码", "dealer"), ("会员卡号", "response_id")])
def test_words_against_a_concept(header, fid):
    assert concept_score(read_question(header), fid) == 0


# ----------------------------------------------------------------------------------- value evidence
def _fit(columns: dict[str, list], pack):
    raw = pd.DataFrame({h: pd.Series(v, dtype="str") for h, v in columns.items()})
    return raw, value_fit(raw, pack)


def test_value_evidence_decides_and_confirms(auto_pack):
    n = 12
    raw, fits = _fit({
        "编号": [f"R{i}" for i in range(n)],
        "门店": ["A店", "B店", "C店"] * 4,
        "类型": ["交车", "首保", "维修保养", "道路救援"] * 3,
        "Q1 推荐": [str(i % 11) for i in range(n)],
        "Q2 费力程度": [str(1 + i % 7) for i in range(n)],
        "意见": ["等太久了", "很好", "顾问专业", "价格贵", "环境不错", "没有", "停车难", "洗车没洗", "满意", "服务热情",
                 "太慢", "一般"],
        "时间": [f"2024-05-{i + 1:02d} 10:00" for i in range(n)],
        "手机": [f"1380000{i:04d}" for i in range(n)],
    }, auto_pack)
    assert fits.answers("编号").unique and fits("编号", "response_id") and not fits("门店", "response_id")
    assert fits("Q1 推荐", "nps") and not fits("意见", "nps")
    assert fits("Q2 费力程度", "ces") and not fits("意见", "ces")
    assert fits("意见", "comment") and not fits("时间", "comment") and not fits("编号", "comment")
    assert fits("时间", "date") and not fits("意见", "date")
    assert fits("手机", "phone") and not fits("编号", "phone")
    assert fits.stage_share("类型") == pytest.approx(3 / 4) and fits.stage_share("门店") == 0
    d = propose_mapping(list(raw.columns), auto_pack, fits=fits)
    assert d["columns"] == {"编号": "response_id", "门店": "dealer", "类型": "stage", "Q1 推荐": "nps",
                            "Q2 费力程度": "ces", "意见": "comment", "时间": "date", "手机": "phone"}


def test_values_veto_a_staff_column_named_like_an_attribute(auto_pack):
    """服务顾问 holding names is the advisor, not the rating of the advisor; a yes/no question is no rating."""
    raw, fits = _fit({"服务顾问": ["王工", "刘工", "陈工"] * 4, "4、(服务顾问的态度)": [str(7 + i % 4) for i in range(12)],
                      "是否一次修好（1=是，2=否）": ["1", "2"] * 6}, auto_pack)
    d = propose_mapping(list(raw.columns), auto_pack, fits=fits)
    assert d["columns"] == {"4、(服务顾问的态度)": "service_advisor"}


def test_stated_scales_go_into_the_draft_and_the_unattended_run(tmp_path, auto_pack):
    rows = [[f"R{i}", "交车", str(i % 11), str(1 + i % 10)] for i in range(12)]
    p = _write(tmp_path / "x.csv", ["问卷编号", "环节", "推荐意愿（0-10分）", "总体满意度（1-10分）"], rows)
    _, text = map_draft(auto_pack, p)
    data = yaml.safe_load(text)
    assert data["scales"] == {"csat": {"min": 1, "max": 10}}
    assert load_mapping(data, auto_pack).scales == {"csat": (1.0, 10.0)}
    prep = prepare(p, auto_pack)  # no mapping: the stated scale is used and said
    assert prep.accounting["scales_stated"] == {"csat": [1.0, 10.0]}
    # 10 on 1-10 → 5 on the pack's 1-5; 1 → 1
    r = prep.responses.set_index("response_id")
    assert r.loc["R9", "csat"] == 5 and r.loc["R0", "csat"] == 1


# ----------------------------------------------------------------------------------- stage labels
@pytest.mark.parametrize(
    "pack_id, label, stage",
    [
        ("auto", "交付", "delivery"), ("auto", "提车", "delivery"), ("auto", "售后", "maintenance"),
        ("auto", "交车回访", "delivery"), ("auto", "售后-首保", "first_service"), ("auto", "Test drive", "test_drive"),
        ("auto", "Service - Repair & Maintenance", "maintenance"), ("auto", "F&I 金融", "quote_finance"),
        ("finance", "Onboarding", None), ("finance", "信用卡激活", "card_activation"), ("finance", "Claims", "claims"),
        ("retail", "Returns", "after_sales"), ("retail", "Delivery 配送", "delivery"),
        ("real_estate", "交房", "handover"), ("real_estate", "老业主", "mature"),
        ("auto", "道路救援", None), ("retail", "问卷测试", None),
    ],
)
def test_stage_labels_by_meaning(pack_id, label, stage):
    from cemkit.packs import load_pack

    assert propose_stage_values([label], load_pack(pack_id))[label] == stage


def test_unknown_label_stays_null_with_the_closest_suggestion(tmp_path, auto_pack):
    """A label two stages fit equally (交车与首保) stays null, with the closest stage as a comment; a label no
    stage fits (道路救援) stays null with no suggestion; both are quarantined by the run, never guessed."""
    rows = [[f"R{i}", lab, "9"] for i, lab in enumerate(["交车", "首保", "交车与首保", "道路救援"] * 3)]
    p = _write(tmp_path / "x.csv", ["问卷编号", "环节", "推荐意愿"], rows)
    _, text = map_draft(auto_pack, p)
    sv = yaml.safe_load(text)["stage_values"]
    assert sv == {"交车": "delivery", "首保": "first_service", "交车与首保": None, "道路救援": None}
    assert re.search(r'"交车与首保": null  # closest: (delivery|first_service)\n', text) and '"道路救援": null\n' in text
    acc = prepare(p, auto_pack).accounting
    assert acc["by_reason"] == {"unknown_stage": 6} and acc["used"] == 6


# ----------------------------------------------------------------------------------- no response id
def test_no_response_id_makes_one_from_file_and_line_and_dedupes_full_rows(tmp_path, auto_pack):
    rows = [["交车", "9", "C1"], ["首保", "7", "C2"], ["交车", "9", "C1"], ["维修", "10", "C3"]]
    p = _write(tmp_path / "noid.csv", ["环节", "推荐意愿", "客户编号"], rows)
    prep = prepare(p, auto_pack)
    acc = prep.accounting
    assert "no response id column" in acc["response_id_made"] and "noid.csv:<line>" in acc["response_id_made"]
    assert acc["column_sources"]["response_id"].startswith("made from file and line")
    assert acc["input_rows"] == 4 == acc["used"] + acc["quarantined"]
    assert acc["by_reason"] == {"duplicate_id": 1}  # line 4 repeats line 2 in every cell
    assert sorted(prep.responses["response_id"]) == ["noid.csv:2", "noid.csv:3", "noid.csv:5"]
    assert "=row:response_id" not in acc["columns"] and "=row:response_id" not in acc["unused_columns"]


# ----------------------------------------------------------------------------------- unattended
def test_used_mapping_reproduces_the_unattended_run(tmp_path, auto_pack):
    rows = [[f"R{i}", ["交车回访", "首保回访"][i % 2], str(i % 11), "很好"] for i in range(10)]
    p = _write(tmp_path / "x.csv", ["回访任务号", "回访类型", "您会把我们介绍给亲友吗？（0~10）", "客户反馈"], rows)
    first = prepare(p, auto_pack)
    text = used_mapping_yaml(first.accounting, [str(p)])
    m = yaml.safe_load(text)
    assert m["columns"]["回访任务号"] == "response_id" and m["stage_values"] == {"交车回访": "delivery",
                                                                            "首保回访": "first_service"}
    (tmp_path / "mapping.used.yaml").write_text(text, encoding="utf-8")
    again = prepare(None, auto_pack, mapping=tmp_path / "mapping.used.yaml")
    assert again.accounting["used"] == first.accounting["used"] == 10
    assert again.responses["nps"].tolist() == first.responses["nps"].tolist()


def test_unattended_run_that_cannot_place_a_required_field_says_what_to_check(tmp_path, auto_pack):
    p = _write(tmp_path / "x.csv", ["编号", "环节", "分数"], [["R1", "交车", "12"]])
    with pytest.raises(InputError) as exc:
        prepare(p, auto_pack)
    msg = str(exc.value)
    assert "required column 'nps' is missing" in msg and "cemkit map --pack PACK --data FILE > mapping.yaml" in msg


def test_eval_mapping_command_scores_a_folder_and_refuses_a_wrong_one(capsys, tmp_path):
    corpus = Path(__file__).parent / "data" / "mapping_eval" / "dev"
    one = tmp_path / "one"
    one.mkdir()
    for f in corpus.glob("auto_dms_callback*"):
        (one / f.name).write_bytes(f.read_bytes())
    assert main(["eval-mapping", str(one), "--run", "none"]) == 0
    out = capsys.readouterr().out
    assert "| **all** | 1 |" in out
    assert main(["eval-mapping", str(tmp_path / "nothing")]) == 2
    assert "no folder of exports" in capsys.readouterr().err


def test_made_ids_are_said_on_the_data_quality_page(tmp_path, auto_pack):
    from cemkit.views.quality import data_quality_views

    rows = [["交车", "9", "2024-05-01"], ["首保", "7", "2024-05-02"], ["交车", "9", "2024-05-01"]]
    prep = prepare(_write(tmp_path / "noid.csv", ["环节", "推荐意愿", "提交时间"], rows), auto_pack)
    table, _ = data_quality_views(prep, auto_pack, "zh")["data_quality"]
    row = table[table["item"].str.startswith("按文件名与行号编号的答卷")]
    assert row["count"].tolist() == [3]
    en, _ = data_quality_views(prep, auto_pack, "en")["data_quality"]
    assert en["item"].str.contains("an id from file and line").any()


@pytest.mark.slow
def test_full_unattended_run_writes_the_mapping_it_used_beside_the_run(tmp_path, capsys, auto_pack):
    """`cemkit run --pack auto --data FILE` with no mapping, on a client-worded export (the synthetic demo data
    with question headers, 回访 labels, no touchpoint and few attributes): the run succeeds, every row is
    accounted, and the mapping.used.yaml beside the run loads as a mapping and reproduces the run's rows."""
    from cemkit.demo import write_demo

    demo, _ = write_demo(auto_pack, tmp_path / "demo", n=400)
    raw = pd.read_csv(demo, dtype=str)
    labels = {"showroom": "到店看车回访", "test_drive": "试驾回访", "quote_finance": "金融方案回访",
              "contract": "签约回访", "delivery": "交车回访", "first_service": "首保回访",
              "maintenance": "维修保养回访", "loyalty": "置换增购回访"}
    headers = {"response_id": "答卷编号", "customer_id": "客户编号", "date": "提交时间", "stage": "回访类型",
               "nps": "您向亲友推荐本店的可能性有多大？（0-10分）", "csat": "总体满意度（1-5分）",
               "ces": "办理过程是否省心（1-7分）", "service_advisor": "服务顾问态度与沟通",
               "repair_quality": "维修保养质量", "comment": "您还有什么意见或建议？", "dealer": "经销商名称",
               "region": "大区"}
    client = raw[list(headers)].rename(columns=headers)
    client["回访类型"] = client["回访类型"].map(lambda s: labels.get(s, s))
    data = tmp_path / "client_export.csv"
    client.to_csv(data, index=False, encoding="utf-8-sig")

    out = tmp_path / "reports"
    assert main(["run", "--pack", "auto", "--data", str(data), "--out", str(out), "--quiet"]) == 0, \
        capsys.readouterr().err
    run_dir = next(p for p in out.iterdir() if p.name.startswith("auto-2"))
    used = run_dir / "mapping.used.yaml"
    assert used.is_file()
    mp = load_mapping(used, auto_pack)  # loads as a mapping (validated like any other)
    assert {mp.columns[h] for h in ("答卷编号", "回访类型", "您向亲友推荐本店的可能性有多大？（0-10分）")} == \
        {"response_id", "stage", "nps"}
    assert yaml.safe_load(used.read_text(encoding="utf-8"))["stage_values"] == {
        lab: sid for sid, lab in labels.items() if lab in set(client["回访类型"].dropna())}
    acc = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["accounting"]
    assert acc["input_rows"] == acc["used"] + acc["quarantined"] == len(client)
    again = prepare(data, auto_pack, mapping=used)  # the review loop: run again with the written mapping
    assert again.accounting["used"] == acc["used"] and again.accounting["quarantined"] == acc["quarantined"]
