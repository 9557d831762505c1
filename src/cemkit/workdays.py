"""Working-day calendars for SLA clocks: China's official schedule, or plain Monday–Friday.

``china`` follows the State Council's yearly holiday notice (国务院办公厅关于节假日安排的通知): public
holidays are days off even on a weekday, and the weekend days worked in exchange (调休 make-up workdays) are
working days. The dates come from the maintained package ``chinesecalendar`` (updated when each year's
notice is published, usually in November). A day outside the years it covers counts Monday–Friday (plus
the pack's own days) and the result says so (:func:`coverage_note`): a tracker's next deadlines often lie in
a year whose notice the installed package does not have yet, and a run must not stop for that.
``weekdays`` is Monday–Friday, for clients outside mainland China.

A pack adds its own days on top (alerts.yaml ``sla.holidays`` / ``sla.workdays``): a company day off, a
client that works a national holiday, or the official days of a year the package does not cover yet.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CALENDARS", "calendar_years", "coverage_note", "sla_due", "working_days"]

CALENDARS = ("china", "weekdays")
_NS_PER_HOUR = 3_600_000_000_000
_NS_PER_DAY = 24 * _NS_PER_HOUR


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
    Monday–Friday here; :func:`coverage_note` says when a result depends on them."""
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


def coverage_note(days: np.ndarray, calendar: str, lang: str = "zh") -> str | None:
    """A sentence for the reader when a day a result depends on lies outside the years the calendar covers
    (those days were counted Monday–Friday plus the pack's own days), else None."""
    years = calendar_years(calendar)
    days = np.asarray(days, dtype="datetime64[D]")
    days = days[~np.isnat(days)]
    if years is None or not len(days):
        return None
    lo, hi = years
    outside = sorted({int(y) for y in days.astype("datetime64[Y]").astype(int) + 1970 if not lo <= y <= hi})
    if not outside:
        return None
    from importlib.metadata import version

    span = "、".join(map(str, outside)) if lang == "zh" else ", ".join(map(str, outside))
    if lang == "zh":
        return (f"{span}年的截止时间按周一至周五计算：已安装的chinesecalendar {version('chinesecalendar')}只含"
                f"{lo}–{hi}年的法定节假日与调休；可在alerts.yaml的sla.holidays/sla.workdays中补充，或升级该软件包")
    return (f"deadlines in {span} count Monday–Friday: the installed chinesecalendar {version('chinesecalendar')} "
            f"has official holidays and make-up workdays for {lo}–{hi} only; list them under sla.holidays / "
            f"sla.workdays in alerts.yaml, or upgrade the package")


def sla_due(created: pd.Series, hours: Any, business_days: bool = False,
            holidays: Iterable[str] = (), workdays: Iterable[str] = (), calendar: str = "weekdays") -> pd.Series:
    """Due time of each alert: ``created`` plus ``hours`` (a number or one per row).

    With ``business_days`` only working days count — those of ``calendar`` (:mod:`cemkit.workdays`:
    ``"china"``, the official holidays and 调休 make-up workdays; ``"weekdays"``, Monday-Friday), minus
    ``holidays``, plus ``workdays`` — and a working day has 24 clock hours, any other day none. A china
    clock that needs a day outside the years the calendar covers counts that year Monday–Friday and says so in
    ``attrs["calendar_note"]`` of the result (``{"zh": …, "en": …}``).
    Friday 10:00 + 24 h → Monday 10:00; + 48 h → Tuesday 10:00; an alert created on a Saturday starts on
    the next working day at 00:00. Vectorised: the working days of the span are listed once and the due day
    is found by position (``searchsorted``), no loop over alerts. Time zones are kept (the arithmetic runs
    on local wall-clock time).
    """
    created = pd.Series(created)
    if not pd.api.types.is_datetime64_any_dtype(created):
        created = pd.to_datetime(created)
    tz = getattr(created.dt, "tz", None)
    local = created.dt.tz_localize(None) if tz is not None else created
    t = local.to_numpy(dtype="datetime64[ns]")
    h = np.broadcast_to(np.asarray(hours, dtype=float), t.shape)
    add = np.round(h * _NS_PER_HOUR).astype("int64")
    out = np.full(t.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnat(t)
    note: dict[str, str | None] = {}
    if not business_days:
        out[ok] = t[ok] + add[ok].astype("timedelta64[ns]")
    elif ok.any():
        hol = np.array(sorted(set(holidays)), dtype="datetime64[D]")
        extra = np.array(sorted(set(workdays)), dtype="datetime64[D]")
        tv = t[ok]
        day = tv.astype("datetime64[D]")
        # business time already used on the creation day (none when it is not a working day)
        total0 = add[ok]
        whole_max = int(max(0, total0.max()) // _NS_PER_DAY) + 2
        first = day.min()
        # enough calendar days for the furthest due day: 7/5 of the working days, plus every holiday
        span = int((day.max() - first).astype(int)) + whole_max * 7 // 5 + len(hol) + 14
        cal = first + np.arange(span + 1)
        work = working_days(cal, calendar, hol, extra)
        bdays = cal[work]
        working = work[(day - first).astype(np.int64)]
        used = np.where(working, (tv - day.astype("datetime64[ns]")).astype("int64"), 0)
        whole, rest = np.divmod(used + total0, _NS_PER_DAY)
        start = np.searchsorted(bdays, day)  # the creation day if working, else the next working day
        out[ok] = bdays[start + whole].astype("datetime64[ns]") + rest.astype("timedelta64[ns]")
        used_days = np.concatenate([day, bdays[start + whole]])
        note = {lg: coverage_note(used_days, calendar, lg) for lg in ("zh", "en")}
    res = pd.Series(out, index=created.index, name="due")
    if note.get("en"):
        res.attrs["calendar_note"] = note
        warnings.warn(note["en"], stacklevel=2)  # shown in the actions notebook
    return res.dt.tz_localize(tz) if tz is not None else res
