"""Working-day calendars for alert SLAs, checked against the State Council's published holiday schedules.

The expected days are typed by hand from the official notices, not taken from the package:
国务院办公厅关于2024年部分节假日安排的通知（国办发明电〔2023〕7号） and
国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cemkit import alerts as A
from cemkit.alerts import alerts_summary, sla_due
from cemkit.workdays import calendar_years, coverage_note, working_days

# days off (holidays, weekend days inside them included) and 调休 make-up workdays, from the notices
OFF_2024 = ["2024-01-01", *[f"2024-02-{d}" for d in range(10, 18)], "2024-04-04", "2024-04-05", "2024-04-06",
            *[f"2024-05-0{d}" for d in range(1, 6)], "2024-06-10", "2024-09-15", "2024-09-16", "2024-09-17",
            *[f"2024-10-0{d}" for d in range(1, 8)]]
MAKE_UP_2024 = ["2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14", "2024-09-29",
                "2024-10-12"]
OFF_2025 = ["2025-01-01", *[f"2025-01-{d}" for d in range(28, 32)], *[f"2025-02-0{d}" for d in range(1, 5)],
            "2025-04-04", "2025-04-05", "2025-04-06", *[f"2025-05-0{d}" for d in range(1, 6)], "2025-05-31",
            "2025-06-01", "2025-06-02", *[f"2025-10-0{d}" for d in range(1, 9)]]
MAKE_UP_2025 = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]


def _days(year: int) -> np.ndarray:
    return np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))


@pytest.mark.parametrize(("year", "off", "make_up", "total"), [
    (2024, OFF_2024, MAKE_UP_2024, 251), (2025, OFF_2025, MAKE_UP_2025, 248)])
def test_china_calendar_matches_the_official_notice(year, off, make_up, total):
    days = _days(year)
    work = working_days(days, "china")
    expected = np.is_busday(days) & ~np.isin(days, np.array(off, dtype="datetime64[D]"))
    expected |= np.isin(days, np.array(make_up, dtype="datetime64[D]"))
    assert all(dt.date.fromisoformat(d).weekday() >= 5 for d in make_up)  # make-up days are weekend days
    assert (work == expected).all()
    # the year's count of working days, worked out by hand: weekdays − holidays on weekdays + make-up days
    assert int(work.sum()) == total


def test_weekdays_calendar_ignores_national_holidays():
    days = np.array(["2024-09-29", "2024-10-01", "2024-10-08"], dtype="datetime64[D]")
    assert working_days(days, "weekdays").tolist() == [False, True, True]
    assert working_days(days, "china").tolist() == [True, False, True]


def test_pack_days_override_the_calendar():
    days = np.array(["2024-09-30", "2024-10-02"], dtype="datetime64[D]")
    assert working_days(days, "china", holidays=["2024-09-30"], workdays=["2024-10-02"]).tolist() == [False, True]


# ------------------------------------------------------------------------------------------------ SLA
def _due(created: list[str], hours: list[float], calendar: str, **kw) -> list[pd.Timestamp]:
    return A.sla_due(pd.Series(pd.to_datetime(created)), hours, business_days=True, calendar=calendar, **kw).tolist()


def test_a_make_up_sunday_is_a_working_day():
    # Saturday 2024-09-28 is off; Sunday 09-29 is worked (调休): the clock starts then, not on Monday
    assert _due(["2024-09-28 10:00"], [24], "china") == [pd.Timestamp("2024-09-30 00:00")]
    assert _due(["2024-09-28 10:00"], [24], "weekdays") == [pd.Timestamp("2024-10-01 00:00")]
    # an alert raised on the make-up Sunday itself runs at once
    assert _due(["2024-09-29 09:00"], [8], "china") == [pd.Timestamp("2024-09-29 17:00")]


def test_a_deadline_inside_national_day_moves_past_it():
    # Monday 2024-09-30 10:00 + 24 h: Tuesday 10-01 would be inside the 10-01..10-07 holiday
    assert _due(["2024-09-30 10:00"], [24], "weekdays") == [pd.Timestamp("2024-10-01 10:00")]
    assert _due(["2024-09-30 10:00", "2024-09-30 10:00"], [24, 48], "china") == [
        pd.Timestamp("2024-10-08 10:00"), pd.Timestamp("2024-10-09 10:00")]
    # Friday 2024-09-27 10:00 + 72 h: 14 h Friday, Sunday 09-29 (worked), Monday 09-30, then 10 h on 10-08
    assert _due(["2024-09-27 10:00"], [72], "china") == [pd.Timestamp("2024-10-08 10:00")]


def test_2025_spring_festival_and_a_make_up_saturday():
    # Monday 2025-01-27 is worked, 01-28..02-04 off: 48 h from 01-27 10:00 end on Thursday 02-06 10:00
    assert _due(["2025-01-27 10:00"], [48], "china") == [pd.Timestamp("2025-02-06 10:00")]
    # Friday 2025-10-10 + 24 h lands on the make-up Saturday 10-11
    assert _due(["2025-10-10 10:00"], [24], "china") == [pd.Timestamp("2025-10-11 10:00")]


def test_dates_outside_the_packages_years_count_weekdays_and_say_so():
    # a tracker's next deadlines often lie in a year whose holiday notice the installed package lacks: the run
    # goes on (Monday–Friday for those days) and the result says which years were counted that way
    lo, hi = calendar_years("china")
    assert lo <= 2024 and hi >= 2025
    created = pd.Series(pd.to_datetime([f"{hi}-12-31 10:00"]))
    with pytest.warns(UserWarning, match=f"deadlines in {hi + 1} count Monday–Friday"):
        due = sla_due(created, [72], business_days=True, calendar="china")
    # 72 working hours from the last day covered: the next three Monday–Friday days of the year after
    expected = pd.Timestamp(f"{hi}-12-31 10:00")
    n = 0
    while n < 3:
        expected += pd.Timedelta(days=1)
        n += expected.dayofweek < 5
    assert due.iloc[0] == expected
    assert str(hi + 1) in due.attrs["calendar_note"]["zh"] and "周一至周五" in due.attrs["calendar_note"]["zh"]
    assert f"{lo}–{hi}" in due.attrs["calendar_note"]["en"]
    with pytest.warns(UserWarning):
        before = sla_due(pd.Series(pd.to_datetime([f"{lo - 1}-06-01 10:00"])), [8], business_days=True,
                         calendar="china")
    assert str(lo - 1) in before.attrs["calendar_note"]["en"]
    # inside the covered years, and a plain Monday–Friday calendar: nothing to say
    assert coverage_note(np.array([f"{hi}-12-31"], dtype="datetime64[D]"), "china") is None
    assert "calendar_note" not in sla_due(pd.Series(pd.to_datetime(["2024-06-03 10:00"])), [8], business_days=True,
                                          calendar="china").attrs
    assert _due([f"{hi + 1}-06-01 10:00"], [8], "weekdays") == [pd.Timestamp(f"{hi + 1}-06-01 18:00")]
    # the alerts summary (and so the alerts workbook) carries the sentence
    alerts = pd.DataFrame({"owner": ["售后"], "priority": ["P1"]})
    alerts.attrs["calendar_note"] = due.attrs["calendar_note"]
    assert str(hi + 1) in alerts_summary(alerts, "zh")[1]["calendar_note"]



def test_evaluate_alerts_uses_the_packs_calendar(auto_pack):
    import dataclasses

    def pack_with(sla: dict):
        spec = {"rules": [{"id": "r", "name": "R", "priority": "P1", "when": {"nps_max": 2}}], "sla": sla}
        return dataclasses.replace(auto_pack, raw={**auto_pack.raw, "alerts": spec, "alerts.__lines__": {}})

    df = pd.DataFrame({"response_id": ["R1"], "customer_id": ["C1"], "stage": ["delivery"], "wave": ["W1"],
                       "date": [pd.Timestamp("2024-09-30 10:00")], "nps": [0.0]})
    china = pack_with({"business_days": True, "hours": {"P1": 24}})                     # the default calendar
    plain = pack_with({"business_days": True, "calendar": "weekdays", "hours": {"P1": 24}})
    assert A.evaluate_alerts(df, china)["due"].iloc[0] == pd.Timestamp("2024-10-08 10:00")
    assert A.evaluate_alerts(df, plain)["due"].iloc[0] == pd.Timestamp("2024-10-01 10:00")
