"""Alerts: each rule on hand-made rows, one alert per customer × stage × wave, SLA clocks, owners, the
workbook, and alerts.yaml validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

from cemkit import alerts as A
from cemkit.errors import PackError
from cemkit.packs import load_pack, validate_pack

FRI_10 = pd.Timestamp("2024-03-01 10:00")  # a Friday


def with_alerts(pack, rules, sla=None, default_owner=None):
    """The pack with its alerts.yaml replaced (rules given as dicts)."""
    spec = {"rules": rules}
    if sla is not None:
        spec["sla"] = sla
    if default_owner is not None:
        spec["default_owner"] = default_owner
    return dataclasses.replace(pack, raw={**pack.raw, "alerts": spec, "alerts.__lines__": {}})


def rule(when, priority="P2", rid="r", name=None):
    return {"id": rid, "name": name or {"zh": f"规则{rid}", "en": f"Rule {rid}"}, "priority": priority, "when": when}


def responses(rows):
    """Hand-made clean responses; every row defaults to a distinct customer at a non-key stage."""
    base = {"wave": "2024H1", "date": FRI_10, "stage": "showroom", "nps": 9.0, "csat": 5.0, "comment": None,
            "region": "华东", "dealer": "上海浦东店"}
    out = []
    for i, r in enumerate(rows):
        out.append({"response_id": f"R{i}", "customer_id": f"C{i}", **base, **r})
    df = pd.DataFrame(out)
    df["date"] = pd.to_datetime(df["date"])
    return df


def fired(alerts):
    return sorted(alerts["response_id"].astype(str))


# ------------------------------------------------------------------------------------------ single rules
def test_nps_max_alone(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 2})])
    df = responses([{"nps": 0}, {"nps": 2}, {"nps": 3}, {"nps": np.nan}, {"nps": 10}])
    assert fired(A.evaluate_alerts(df, pack)) == ["R0", "R1"]


def test_csat_max_alone(auto_pack):
    pack = with_alerts(auto_pack, [rule({"csat_max": 2})])
    df = responses([{"csat": 1}, {"csat": 2}, {"csat": 3}, {"csat": np.nan, "nps": 0}])
    assert fired(A.evaluate_alerts(df, pack)) == ["R0", "R1"]


def test_key_stage_alone_and_negated(auto_pack):
    key = [s.id for s in auto_pack.stages if s.key]
    other = [s.id for s in auto_pack.stages if not s.key]
    df = responses([{"stage": key[0]}, {"stage": other[0]}, {"stage": key[-1]}])
    assert fired(A.evaluate_alerts(df, with_alerts(auto_pack, [rule({"key_stage": True})]))) == ["R0", "R2"]
    assert fired(A.evaluate_alerts(df, with_alerts(auto_pack, [rule({"key_stage": False})]))) == ["R1"]


def test_comment_contains_alone_is_literal_and_case_insensitive(auto_pack):
    pack = with_alerts(auto_pack, [rule({"comment_contains": ["投诉", "a.b", "VIP"]})])
    df = responses([{"comment": "我要去投诉"}, {"comment": "axb"}, {"comment": "a.b"}, {"comment": None},
                    {"comment": "vip待遇没有"}, {"comment": "很好"}])
    assert fired(A.evaluate_alerts(df, pack)) == ["R0", "R2", "R4"]


def test_negative_critical_theme_alone(auto_pack):
    critical = next(t.id for t in auto_pack.themes if t.critical)
    plain = next(t.id for t in auto_pack.themes if not t.critical)
    pack = with_alerts(auto_pack, [rule({"negative_critical_theme": True})])
    df = responses([{"comment": "x"}] * 4)
    tags = pd.DataFrame({"row": [0, 1, 2, 3, 3], "theme": [critical, critical, plain, plain, critical],
                         "polarity": [-1, 1, -1, 0, -1]})
    assert fired(A.evaluate_alerts(df, pack, themes=tags)) == ["R0", "R3"]
    with pytest.warns(UserWarning, match="fires for nobody"):
        out = A.evaluate_alerts(df, pack)  # no tags: the rule cannot fire, and says so
    assert out.empty and "r" in out.attrs["skipped_rules"]


def test_all_conditions_of_a_rule_must_hold(auto_pack):
    key = next(s.id for s in auto_pack.stages if s.key)
    pack = with_alerts(auto_pack, [rule({"nps_max": 6, "key_stage": True, "comment_contains": ["慢"]})])
    df = responses([{"nps": 5, "stage": key, "comment": "太慢"}, {"nps": 5, "stage": key, "comment": "好"},
                    {"nps": 7, "stage": key, "comment": "太慢"}, {"nps": 5, "comment": "太慢"}])
    assert fired(A.evaluate_alerts(df, pack)) == ["R0"]


# ----------------------------------------------------------------------------------------------- dedupe
def test_two_rules_same_customer_stage_wave_make_one_alert(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 6}, "P3", "low", {"zh": "低分", "en": "Low"}),
                                   rule({"comment_contains": ["投诉"]}, "P1", "words", {"zh": "投诉词", "en": "Words"})])
    df = responses([
        {"customer_id": "C1", "nps": 5, "comment": "一般"},            # P3 only
        {"customer_id": "C1", "nps": 8, "comment": "我要投诉", "date": FRI_10 + pd.Timedelta(days=3)},  # P1
    ])
    out = A.evaluate_alerts(df, pack, lang="zh")
    assert len(out) == 1
    a = out.iloc[0]
    assert a["priority"] == "P1" and a["response_id"] == "R1"
    assert set(a["rules"].split(",")) == {"low", "words"}
    assert "低分" in a["reason"] and "投诉词" in a["reason"] and A.joiner("zh") in a["reason"]
    assert a["rules"].split(",")[0] == "words"  # reasons listed most urgent first


def test_one_alert_per_customer_stage_wave(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 6})])
    df = responses([
        {"customer_id": "C1", "nps": 3, "wave": "2024H1"},
        {"customer_id": "C1", "nps": 4, "wave": "2024H1"},                 # same wave: merged
        {"customer_id": "C1", "nps": 2, "wave": "2024H2"},                 # another wave: its own alert
        {"customer_id": "C1", "nps": 2, "wave": "2024H1", "stage": "delivery"},  # another stage: its own
        {"customer_id": "C2", "nps": 2, "wave": "2024H1"},                 # another customer
    ])
    out = A.evaluate_alerts(df, pack)
    assert len(out) == 4
    assert not out.duplicated(["customer_id", "stage", "wave"]).any()
    assert out["alert_id"].is_unique


def test_responses_without_customer_id_are_never_merged(auto_pack):
    """Anonymous surveys (or blank customer ids): each response is its own follow-up, keyed by its id."""
    pack = with_alerts(auto_pack, [rule({"nps_max": 6})])
    df = responses([{"customer_id": None, "nps": 3}, {"customer_id": None, "nps": 4},
                    {"customer_id": "C1", "nps": 2}, {"customer_id": "C1", "nps": 5}])
    out = A.evaluate_alerts(df, pack)
    assert fired(out) == ["R0", "R1", "R2"]
    assert out["alert_id"].is_unique and out["alert_id"].str.endswith("-R:R0").sum() == 1
    alone = A.evaluate_alerts(df.drop(columns="customer_id").iloc[:2], pack)  # no customer column at all
    assert fired(alone) == ["R0", "R1"] and alone["customer_id"].isna().all()


def test_same_priority_keeps_the_earliest_response(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 6})])
    df = responses([{"customer_id": "C1", "nps": 3, "date": FRI_10 + pd.Timedelta(days=2)},
                    {"customer_id": "C1", "nps": 4, "date": FRI_10}])
    out = A.evaluate_alerts(df, pack)
    assert out["response_id"].tolist() == ["R1"] and out["created"].iloc[0] == FRI_10


# -------------------------------------------------------------------------------------------------- SLA
def test_business_day_sla_skips_weekends():
    created = pd.Series([FRI_10, FRI_10, FRI_10 + pd.Timedelta(days=1, hours=5)])  # Fri, Fri, Sat 15:00
    due = A.sla_due(created, [24, 48, 24], business_days=True)
    assert due.tolist() == [pd.Timestamp("2024-03-04 10:00"),   # Monday 10:00
                            pd.Timestamp("2024-03-05 10:00"),   # Tuesday 10:00
                            pd.Timestamp("2024-03-05 00:00")]   # clock starts Monday 00:00
    assert [d.day_name() for d in due] == ["Monday", "Tuesday", "Tuesday"]


def test_calendar_sla_counts_every_hour():
    due = A.sla_due(pd.Series([FRI_10, FRI_10]), [24, 48], business_days=False)
    assert due.tolist() == [FRI_10 + pd.Timedelta(hours=24), FRI_10 + pd.Timedelta(hours=48)]


def test_business_sla_matches_hour_by_hour_count():
    """Against a brute-force clock that steps one hour at a time and counts only weekday hours."""
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2024-01-01")
    created = pd.Series(start + pd.to_timedelta(rng.integers(0, 60 * 24, 40), unit="h"))
    hours = rng.choice([1, 12, 24, 48, 72, 100], 40)
    holidays = ["2024-01-17", "2024-02-12"]
    due = A.sla_due(created, hours, business_days=True, holidays=holidays)
    hol = {pd.Timestamp(h).date() for h in holidays}
    for c, h, d in zip(created, hours, due):
        t, left = c, int(h)
        while left > 0:
            if t.weekday() < 5 and t.date() not in hol:
                left -= 1
            t += pd.Timedelta(hours=1)
        while t.weekday() >= 5 or t.date() in hol:  # a deadline at Friday 24:00 is Monday 00:00
            t += pd.Timedelta(hours=1)
        assert d == t, (c, h, d, t)


# China's 2024 National Day: 10-01..10-07 off, Sunday 09-29 and Saturday 10-12 worked instead (调休)
GOLDEN_WEEK = [f"2024-10-0{d}" for d in range(1, 8)]
MAKE_UP = ["2024-09-29", "2024-10-12"]


def test_make_up_workdays_count_and_holidays_do_not():
    created = pd.Series(pd.to_datetime(["2024-09-30 10:00", "2024-10-11 10:00", "2024-09-29 09:00",
                                        "2024-09-30 10:00", "2024-10-03 15:00"]))
    due = A.sla_due(created, [24, 24, 24, 72, 8], business_days=True, holidays=GOLDEN_WEEK, workdays=MAKE_UP)
    assert due.tolist() == [pd.Timestamp("2024-10-08 10:00"),   # Monday before the holiday → Tuesday after
                            pd.Timestamp("2024-10-12 10:00"),   # Friday → the make-up Saturday
                            pd.Timestamp("2024-09-30 09:00"),   # raised on the make-up Sunday: its hours count
                            pd.Timestamp("2024-10-10 10:00"),
                            pd.Timestamp("2024-10-08 08:00")]   # raised in the holiday: clock starts 10-08


@pytest.mark.parametrize("calendar", ["weekdays", "china"])
def test_business_sla_with_make_up_days_matches_hour_by_hour_count(calendar):
    """Mon-Fri with the 2024 National Day days listed by hand, and China's calendar with none listed: both
    must match a clock that steps hour by hour over the hand-listed days (20 Sep – early Nov 2024 holds no
    other official holiday or make-up day)."""
    rng = np.random.default_rng(11)
    start = pd.Timestamp("2024-09-20")
    created = pd.Series(start + pd.to_timedelta(rng.integers(0, 30 * 24, 60), unit="h"))
    hours = rng.choice([1, 12, 24, 48, 72, 150], 60)
    listed = {"holidays": GOLDEN_WEEK, "workdays": MAKE_UP} if calendar == "weekdays" else {}
    due = A.sla_due(created, hours, business_days=True, calendar=calendar, **listed)
    hol, work = {pd.Timestamp(h).date() for h in GOLDEN_WEEK}, {pd.Timestamp(h).date() for h in MAKE_UP}

    def working(t):
        return t.date() in work or (t.weekday() < 5 and t.date() not in hol)

    for c, h, d in zip(created, hours, due):
        t, left = c, int(h)
        while left > 0:
            left -= working(t)
            t += pd.Timedelta(hours=1)
        while not working(t):
            t += pd.Timedelta(hours=1)
        assert d == t, (c, h, d, t)


def test_sla_calendar_is_validated(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 2})],
                       sla={"business_days": True, "holidays": ["2024-10-01"], "workdays": ["2024-10-02", "x"]})
    problems = [str(p) for p in A.validate(pack)]
    assert len(problems) == 1 and "[sla.workdays[1]]: must be a date written YYYY-MM-DD, found 'x'" in problems[0]
    pack = with_alerts(auto_pack, [rule({"nps_max": 2})],
                       sla={"business_days": True, "holidays": ["2024-10-01"], "workdays": [dt.date(2024, 10, 1)]})
    problems = [str(p) for p in A.validate(pack)]
    assert len(problems) == 1 and "2024-10-01 is listed both as a holiday and as a workday" in problems[0]


def test_evaluate_alerts_applies_the_packs_sla(auto_pack):
    df = responses([{"nps": 0}])
    week = with_alerts(auto_pack, [rule({"nps_max": 2}, "P1")], sla={"business_days": True, "hours": {"P1": 24}})
    cal = with_alerts(auto_pack, [rule({"nps_max": 2}, "P1")], sla={"business_days": False, "hours": {"P1": 24}})
    assert A.evaluate_alerts(df, week)["due"].iloc[0] == pd.Timestamp("2024-03-04 10:00")
    assert A.evaluate_alerts(df, cal)["due"].iloc[0] == pd.Timestamp("2024-03-02 10:00")


def test_missing_date_uses_now(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 2}, "P1")], sla={"hours": {"P1": 10}})
    df = responses([{"nps": 0, "date": pd.NaT}])
    out = A.evaluate_alerts(df, pack, now="2024-05-06 08:00")
    assert out["created"].iloc[0] == pd.Timestamp("2024-05-06 08:00")
    assert out["due"].iloc[0] == pd.Timestamp("2024-05-06 18:00")


# ------------------------------------------------------------------------------------------------ owner
def test_owner_from_the_stage_touchpoints(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 6})], default_owner={"zh": "体验办", "en": "CX desk"})
    stages = [s for s in auto_pack.stages if s.touchpoints][:3]
    df = responses([{"nps": 1, "stage": s.id} for s in stages] + [{"nps": 1, "stage": "no_such_stage"}])
    for lang in ("zh", "en"):
        out = A.evaluate_alerts(df, pack, lang=lang).set_index("response_id")
        for i, s in enumerate(stages):
            assert out.loc[f"R{i}", "owner"] == s.touchpoints[0].owner.get(lang)
            assert out.loc[f"R{i}", "stage_name"] == s.name.get(lang)
        assert out.loc[f"R{len(stages)}", "owner"] == {"zh": "体验办", "en": "CX desk"}[lang]


def test_owner_follows_the_responses_touchpoint(auto_pack):
    stage = next(s for s in auto_pack.stages if len({tp.owner.zh for tp in s.touchpoints}) > 1)
    second = next(tp for tp in stage.touchpoints if tp.owner.zh != stage.touchpoints[0].owner.zh)
    pack = with_alerts(auto_pack, [rule({"nps_max": 6})])
    df = responses([{"nps": 1, "stage": stage.id, "touchpoint": second.id},
                    {"nps": 1, "stage": stage.id, "touchpoint": "unknown"}])
    out = A.evaluate_alerts(df, pack, lang="zh").set_index("response_id")
    assert out.loc["R0", "owner"] == second.owner.zh
    assert out.loc["R1", "owner"] == stage.touchpoints[0].owner.zh


# -------------------------------------------------------------------------------------- table + workbook
@pytest.fixture(scope="module")
def demo_alerts(auto_pack):
    from cemkit.demo import generate

    demo = generate(auto_pack, n=3000, seed=11)
    df = demo.responses.copy()
    df.loc[df.index[:40], "comment"] = "我要去12315投诉"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no theme tags here: the critical-theme rule is skipped
        return A.evaluate_alerts(df, auto_pack, lang="zh")


def test_alert_table_contract(demo_alerts, auto_pack):
    a = demo_alerts
    assert list(a.columns[: len(A.ALERT_COLUMNS)]) == A.ALERT_COLUMNS
    assert set(a["priority"]) <= set(A.PRIORITIES) and {"P1", "P2", "P3"} <= set(a["priority"])
    assert not a.duplicated(["customer_id", "stage", "wave"]).any()
    assert (a["due"] > a["created"]).all()
    assert set(auto_pack.segment_ids) <= set(a.columns)
    rank = a["priority"].str[1].astype(int)
    assert rank.is_monotonic_increasing


def test_summary_counts_equal_the_alerts(demo_alerts):
    table, facts = A.alerts_summary(demo_alerts, "zh")
    assert list(table.columns) == ["owner", "P1", "P2", "P3", "total"]
    ref = pd.crosstab(demo_alerts["owner"].astype(str), demo_alerts["priority"].astype(str))
    for _, row in table.iterrows():
        for p in ("P1", "P2", "P3"):
            assert row[p] == ref.loc[row["owner"]].get(p, 0)
    assert table["total"].is_monotonic_decreasing and table["total"].sum() == len(demo_alerts)
    assert facts["n_alerts"] == len(demo_alerts)
    assert facts["p1_share"] == pytest.approx((demo_alerts["priority"] == "P1").mean() * 100)
    assert facts["top_owner"] == demo_alerts["owner"].value_counts().index[0]
    assert facts["top_owner_n"] == demo_alerts["owner"].value_counts().iloc[0]


def test_workbook_has_a_sheet_per_owner_with_filters(demo_alerts, tmp_path):
    path = A.write_alerts_xlsx(demo_alerts, tmp_path / "alerts.xlsx", "zh")
    wb = openpyxl.load_workbook(path)
    owners = demo_alerts["owner"].value_counts()
    assert wb.sheetnames[0] == "汇总" and set(wb.sheetnames[1:]) == set(owners.index)
    for ws in wb.worksheets:
        assert ws.auto_filter.ref, ws.title
        assert ws.freeze_panes == "A2", ws.title
    for owner, n in owners.items():
        ws = wb[owner]
        assert ws.max_row - 1 == n
        header = [c.value for c in ws[1]]
        ids = {r[header.index("预警编号")] for r in ws.iter_rows(min_row=2, values_only=True)}
        assert ids == set(demo_alerts.loc[demo_alerts["owner"] == owner, "alert_id"])
        assert ws.column_dimensions["A"].width >= 10
    summary = wb["汇总"]
    rows = list(summary.iter_rows(values_only=True))
    header = list(rows[0])
    table, _ = A.alerts_summary(demo_alerts, "zh")
    for i, expect in table.iterrows():
        got = dict(zip(header, rows[1 + i]))
        assert got["责任部门"] == expect["owner"] and got["合计"] == expect["total"]
        assert (got["P1"], got["P2"], got["P3"]) == (expect["P1"], expect["P2"], expect["P3"])
    reasons = A.reason_counts(demo_alerts, "zh")
    flat = [v for r in rows for v in r if v is not None]
    for name, n in zip(reasons["reason"], reasons["alerts"]):
        assert name in flat and n in flat


def test_no_rules_or_no_hits_give_an_empty_table(auto_pack):
    pack = with_alerts(auto_pack, [rule({"nps_max": 0})])
    out = A.evaluate_alerts(responses([{"nps": 5}]), pack)
    assert out.empty and list(out.columns[: len(A.ALERT_COLUMNS)]) == A.ALERT_COLUMNS
    table, facts = A.alerts_summary(out)
    assert table.empty and facts["n_alerts"] == 0


# ----------------------------------------------------------------------------------------- validation
def _edit(folder, fname, fn):
    path = folder / fname
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_bundled_alerts_files_are_valid():
    for name in ("auto", "real_estate", "retail"):
        pack = load_pack(name)
        assert A.validate(pack) == [], name
        assert A.alert_config(pack).rules


def test_broken_alerts_yaml_names_file_key_and_line(pack_copy):
    folder = pack_copy()

    def breakit(d):
        d["rules"][0]["when"]["nps_below"] = 3          # unknown condition
        d["rules"][1]["priority"] = "P9"                 # bad priority
        d["rules"][2].pop("name")                        # missing name
        d["sla"]["hours"]["P2"] = -5                     # bad SLA
    _edit(folder, "alerts.yaml", breakit)
    problems = [p for p in validate_pack(folder) if p.file == "alerts.yaml"]
    text = "\n".join(map(str, problems))
    assert "rules[0].when.nps_below" in text and "unknown condition" in text
    assert "rules[1].priority" in text and "P9" in text
    assert "rules[2].name" in text and "required key 'name' is missing" in text
    assert "sla.hours.P2" in text
    assert all(p.line for p in problems)
    lines = (folder / "alerts.yaml").read_text(encoding="utf-8").splitlines()
    bad = next(p for p in problems if "P9" in p.message)
    assert "P9" in lines[bad.line - 1]
    with pytest.raises(PackError):  # load_pack checks pack.yaml; the alerts module checks its own file
        A.alert_config(load_pack(folder))
