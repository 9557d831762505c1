"""The mapping-evaluation corpus (tests/data/mapping_eval) is well formed, and its scorer
(benchmarks/eval_mapping.py) counts what it says. Not a test of the matcher's accuracy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cemkit.ingest import evaluate as ev
from cemkit.ingest import read_table
from cemkit.packs import load_pack

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "mapping_eval"
SPLITS = ("dev", "holdout")
FRESH = ("fresh", "fresh2", "fresh3", "fresh4", "fresh5")  # more sets written by another hand, scored only (README.md)
PACKS = ("auto", "finance", "real_estate", "retail")
KINDS = {
    "platform-zh", "platform-intl", "spss", "agency", "dms-crm", "english", "mixed-language", "question-style",
    "numbered", "scale-hint", "effort-everyday", "attribute-paraphrase", "no-response-id", "customer-number-only",
    "org-unit-names", "start-end-timestamps", "platform-metadata", "pii", "stage-synonyms", "stage-abbrev",
    "stage-english", "stage-suffix", "stage-unknown",
}


TRUTHS = sorted(p for s in (*SPLITS, *FRESH) for p in (CORPUS / s).glob("*.truth.yaml"))


@pytest.fixture(scope="module")
def packs():
    return {p: load_pack(p) for p in PACKS}


def test_corpus_size_and_split():
    cases = {s: ev.load_cases(CORPUS / s) for s in SPLITS}
    total = sum(len(c) for c in cases.values())
    assert total >= 36
    assert len(cases["holdout"]) >= 12 and len(cases["holdout"]) >= total / 3 - 1
    for s, cs in cases.items():
        per_pack = {p: sum(c.pack == p for c in cs) for p in PACKS}
        assert min(per_pack.values()) == max(per_pack.values()), (s, per_pack)  # balanced across packs
    names = [c.name for cs in cases.values() for c in cs]
    assert len(names) == len(set(names))
    # both parts hold every kind of export (balanced across kinds)
    kinds = {s: {k for c in cs for k in c.kinds} for s, cs in cases.items()}
    assert kinds["dev"] == kinds["holdout"] == KINDS


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_truth_is_well_formed(truth_path, packs):
    raw = yaml.safe_load(truth_path.read_text(encoding="utf-8"))
    assert set(raw) == {"file", "pack", "imitates", "kinds", "columns", "scales", "stage_values"}
    case = ev.load_case(truth_path)
    assert case.path.is_file()
    pack = packs[case.pack]
    table = read_table(case.path)
    headers = list(table.columns)
    # every truth key is a header of its file, and every header has a truth (null: not a pack field)
    assert list(case.columns) == headers
    targets = ev.pack_targets(pack)
    unknown = {h: f for h, f in case.columns.items() if f is not None and f not in targets}
    assert not unknown, f"field ids not in pack {case.pack}: {unknown}"
    # a field on two headers means either is right (EndDate / RecordedDate); never on three
    per_field = {}
    for f in case.columns.values():
        if f is not None:
            per_field[f] = per_field.get(f, 0) + 1
    assert max(per_field.values()) <= 2
    for f in ("nps", "stage"):  # the stage and NPS columns are in every file (required fields of every pack)
        assert per_field.get(f) == 1, f
    # scale hints: only score fields placed in the file, min < max
    scored = {*pack.kpis, *pack.attributes}
    for f, (lo, hi) in case.scales.items():
        assert f in scored and f in per_field and lo < hi, f
    # stage labels: exactly the labels in the file's stage column, each a stage id of the pack or null
    stage_header = next(h for h, f in case.columns.items() if f == "stage")
    in_file = set(table[stage_header].dropna().map(ev._label))
    assert set(case.stage_values) == in_file
    bad = {k: v for k, v in case.stage_values.items() if v is not None and v not in pack.stage_ids}
    assert not bad, f"not stages of {case.pack}: {bad}"
    assert set(case.kinds) <= KINDS


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_personal_data_is_invented(truth_path):
    case = ev.load_case(truth_path)
    table = read_table(case.path)
    for h, f in case.columns.items():
        vals = table[h].dropna().astype(str)
        if f == "phone":
            assert vals.str.fullmatch(r"1380000\d{4}|138\*{4}\d{4}").all(), h
        else:  # no mobile number hides in another column
            assert not vals.str.contains(r"(?<!\d)1[3-9]\d{9}(?!\d)", regex=True).any(), h


def test_score_case_counts_by_hand(packs):
    """A four-field truth and a draft with one right field, one missed, one field on the wrong header and a
    platform column mapped: every count checked by hand."""
    pack = packs["auto"]
    case = ev.Case(
        name="t", path=Path("t.csv"), pack="auto", kinds=(),
        columns={"编号": "response_id", "提交时间": "date", "IP": None, "Q1 推荐": "nps", "Q2 满意（1-10分）": "csat",
                 "环节": "stage", "EndDate": "date"},
        scales={"csat": (1.0, 10.0), "nps": (0.0, 10.0)},
        stage_values={"交车": "delivery", "首保": "first_service", "救援": None, "maintenance": "maintenance"},
    )
    draft = {
        "columns": {"编号": "response_id", "EndDate": "date", "IP": "region", "Q2 满意（1-10分）": "nps",
                    "环节": "stage"},
        "stage_values": {"交车": "delivery", "首保": None, "救援": None},  # "maintenance" left out: it is an id
        "scales": {},
    }
    r = ev.score_case(case, pack, draft, None)
    # fields: response_id, date (either header), nps, csat, stage = 5; right: response_id, date, stage
    assert (r["fields"], r["fields_right"]) == (5, 3)
    assert sorted(r["missed"]) == ["csat", "nps"]
    assert r["headers"] == 7 and r["wrong"] == 2  # IP → region, the csat header → nps
    assert (r["stage_labels"], r["stage_right"], r["stage_misplaced"]) == (4, 3, 0)  # 首保 left null
    # a label no stage fits sent to a stage is right 2 of 4 and one wrong assignment; a null miss is not one
    sent = ev.score_case(case, pack, dict(draft, stage_values={**draft["stage_values"], "救援": "maintenance"}), None)
    assert (sent["stage_right"], sent["stage_misplaced"]) == (2, 1)
    assert ev.aggregate([r, sent])["stage_misplaced"] == 1
    # scales: nps (0, 10) is the pack's; csat (1, 10) is not and the draft did not read it
    assert (r["scales"], r["scales_right"], r["scales_nondefault"], r["scales_nondefault_right"]) == (2, 1, 1, 0)
    agg = ev.aggregate([r])
    assert agg["field_accuracy"] == pytest.approx(3 / 5)
    assert agg["wrong_per_50"] == pytest.approx(50 * 2 / 7)

    # no stage column in the draft: every label of the file counts wrong, null ones included
    no_stage = dict(draft, columns={k: v for k, v in draft["columns"].items() if v != "stage"})
    assert ev.score_case(case, pack, no_stage, None)["stage_right"] == 0

    # an unattended run that used every right header but lost a labelled stage's rows
    run = {"ok": True, "columns": {"编号": "response_id", "提交时间": "date", "Q1 推荐": "nps", "环节": "stage"},
           "stage_labels": {"交车": "delivery", "首保": "first_service"}, "input_rows": 10, "used": 7,
           "quarantined": 3, "by_reason": {"unknown_stage": 3}}
    rows = {"交车": 4, "首保": 3, "救援": 1, "maintenance": 2}
    ok = ev.score_case(case, pack, draft, dict(run, used=9, quarantined=1, by_reason={"unknown_stage": 1}), rows)
    assert ok["required_ok"] and ok["runs"] and ok["runs_right"], ok["run_problems"]
    lost = ev.score_case(case, pack, draft, run, rows)
    assert lost["runs"] and not lost["runs_right"]
    assert any("expected 9" in p for p in lost["run_problems"])
    wrong_col = ev.score_case(case, pack, draft, dict(run, columns={**run["columns"], "IP": "region"}, used=9,
                                                     quarantined=1), rows)
    assert wrong_col["runs"] and not wrong_col["runs_right"]
    # a file with no response id that the run copes with (an id made from file and line) is right
    no_id = ev.Case(**{**case.__dict__, "columns": {**case.columns, "编号": None}})
    made = dict(run, columns={k: v for k, v in run["columns"].items() if k != "编号"}, used=9, quarantined=1)
    assert ev.score_case(no_id, pack, draft, made, rows)["runs_right"]
    failed = ev.score_case(case, pack, draft, {"ok": False, "error": "required column 'nps' is missing"}, rows)
    assert not (failed["required_ok"] or failed["runs"] or failed["runs_right"])


def test_readme_states_baseline():
    text = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert re.search(r"holdout", text) and "never" in text
    assert re.search(r"commit [0-9a-f]{7}", text)
