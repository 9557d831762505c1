"""Working-day calendars for SLA clocks: China's official schedule, or plain Monday–Friday.

``china`` follows the State Council's yearly holiday notice (国务院办公厅关于节假日安排的通知): public
holidays are days off even on a weekday, and the weekend days worked in exchange (调休 make-up workdays) are
working days. The dates come from the maintained package ``chinesecalendar`` (updated when each year's
notice is published, usually in November); a date outside the years it covers is an error that says so,
never a silent guess. ``weekdays`` is Monday–Friday, for clients outside mainland China.

A pack adds its own days on top (alerts.yaml ``sla.holidays`` / ``sla.workdays``): a company day off, a
client that works a national holiday, or the official days of a year the package does not cover yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache

import numpy as np

from .errors import InputError

__all__ = ["CALENDARS", "calendar_years", "check_covered", "working_days"]

CALENDARS = ("china", "weekdays")


@cache
def _china() -> tuple[np.ndarray, np.ndarray, int, int]:
    """Official holidays and make-up workdays as sorted day arrays, and the first and last year covered."""
    from chinese_calendar import constants

    hol = np.array(sorted(constants.holidays), dtype="datetime64[D]")
    work = np.array(sorted(constants.workdays), dtype="datetime64[D]")
    years = [d.year for d in constants.holidays]
    return hol, work, min(years), max(years)


def calendar_years(calendar: str) -> tuple[int, int] | None:
    """First and last year a calendar covers (None: every year, e.g. ``weekdays``)."""
    if calendar == "china":
        return _china()[2], _china()[3]
    return None


def working_days(days: np.ndarray, calendar: str = "weekdays", holidays: Iterable = (),
                 workdays: Iterable = ()) -> np.ndarray:
    """True for each day (``datetime64[D]``) that is worked under ``calendar``, then the pack's own
    ``holidays`` taken off and ``workdays`` added. Days outside the china calendar's years count as
    Monday–Friday here; :func:`check_covered` refuses results that depend on them."""
    if calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r} (use {', '.join(CALENDARS)})")
    days = np.asarray(days, dtype="datetime64[D]")
    work = np.is_busday(days)
    if calendar == "china":
        hol, extra, _, _ = _china()
        work = (work & ~np.isin(days, hol)) | np.isin(days, extra)
    own_off = np.array(sorted({str(d) for d in holidays}), dtype="datetime64[D]")
    own_on = np.array(sorted({str(d) for d in workdays}), dtype="datetime64[D]")
    return (work & ~np.isin(days, own_off)) | np.isin(days, own_on)


def check_covered(days: np.ndarray, calendar: str, what: str = "alert SLAs") -> None:
    """InputError (exit 2, one sentence) when a day the result depends on lies outside the years the
    calendar covers."""
    years = calendar_years(calendar)
    days = np.asarray(days, dtype="datetime64[D]")
    days = days[~np.isnat(days)]
    if years is None or not len(days):
        return
    first, last = days.min().astype(dt.date), days.max().astype(dt.date)
    lo, hi = years
    if lo <= first.year and last.year <= hi:
        return
    outside = first if first.year < lo else last
    from importlib.metadata import version

    raise InputError(
        f"{what} count China's official working days, and the installed chinesecalendar "
        f"{version('chinesecalendar')} covers {lo}–{hi} only, but they need {outside.isoformat()} (a response "
        f"date or a deadline): correct that date if it is a typo in the data, install a newer chinesecalendar "
        f"(pip install -U chinesecalendar), or set sla.calendar: weekdays in the pack's alerts.yaml and list that "
        f"year's holidays and make-up workdays under sla.holidays and sla.workdays")
