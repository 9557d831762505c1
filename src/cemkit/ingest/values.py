"""Reading one value, and one column of values: scores (:func:`parse_score`, with answers in words
recognised through the label scales of ``data/label_scales.yaml``), dates (:func:`parse_date`; a column
decides day/month order once) and durations (:func:`parse_duration`). What cleaning makes of them is
described in :mod:`cemkit.ingest.clean`."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from .cells import DATA_DIR, _distinct, _key, _nfkc, _normalise_text, _take

_SCORE = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(\D*)$")
_DATE = re.compile(
    r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?"
    r"(?:[ T]*(\d{1,2})[:：时](\d{1,2})分?(?:[:：]?(\d{1,2})(?:\.\d+)?秒?)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?$"
)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def parse_score(value: Any) -> float | None:
    """A score cell as a number, or None: ``"８"`` → 8, ``"10分"`` → 10, ``"10（非常愿意）"`` → 10. A leading
    number followed by non-digit text is that number; anything else is not a score."""
    if value is None:
        return None
    m = _SCORE.match(_nfkc(str(value)))
    return float(m.group(1)) if m else None


def parse_date(value: Any) -> pd.Timestamp:
    """A date cell as a Timestamp (NaT when not a date): ISO, ``2024年3月5日``, ``2024/3/5``, ``2024.03.05``,
    ``20240305``, with an optional time, or an Excel serial day number (20000-80000, 1900 date system)."""
    if value is None:
        return pd.NaT
    s = _nfkc(str(value))
    m = _DATE.match(s)
    try:
        if m:
            y, mo, d, hh, mi, ss = (int(g) if g else 0 for g in m.groups())
            return pd.Timestamp(dt.datetime(y, mo, d, hh, mi, ss))
        if re.fullmatch(r"\d{8}", s):
            return pd.Timestamp(dt.datetime(int(s[:4]), int(s[4:6]), int(s[6:])))
        if re.fullmatch(r"\d{5}(?:\.\d+)?", s) and 20000 <= float(s) <= 80000:
            return pd.Timestamp(_EXCEL_EPOCH + dt.timedelta(days=float(s))).round("s")
    except (ValueError, OverflowError):
        return pd.NaT
    return pd.NaT


_DUR_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)$")
_DUR_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)$")
_DUR_UNIT = (r"小时|钟头|时|hours?|hrs?|h|分钟|分|minutes?|mins?|m|秒钟|秒|seconds?|secs?|s")
_DUR_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_DUR_UNIT})")
_DUR_PARTS = re.compile(rf"^(?:\d+(?:\.\d+)?\s*(?:{_DUR_UNIT})\s*)+$")
_DUR_SECONDS = {"小时": 3600, "钟头": 3600, "时": 3600, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600,
                "hours": 3600, "分钟": 60, "分": 60, "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60}


def parse_duration(value: Any, unit: float = 1.0) -> float | None:
    """A time-taken cell as seconds, or None when it is not one: ``125`` (a plain number is ``unit``
    seconds, 60 for a column in minutes), ``125秒``, ``125s``, ``2分5秒``, ``2分钟``, ``1小时2分``, ``1h 2m 5s``,
    ``00:02:05`` (h:m:s), ``2:05`` (m:s). Negative numbers are not durations."""
    if value is None:
        return None
    s = _nfkc(str(value)).casefold()
    if _DUR_NUMBER.match(s):
        return float(s) * unit
    m = _DUR_CLOCK.match(s)
    if m:
        h, mi, sec = (float(g) if g else 0.0 for g in m.groups())
        if sec >= 60 or (m.group(1) is not None and mi >= 60):
            return None
        return h * 3600 + mi * 60 + sec
    if _DUR_PARTS.match(s):
        parts = _DUR_PART.findall(s)
        units = [_DUR_SECONDS.get(u, 1) for _, u in parts]
        if len(set(units)) < len(units):  # 2分3分: not a duration
            return None
        return float(sum(float(x) * k for (x, _), k in zip(parts, units)))
    return None


def _clean_durations(s: pd.Series, unit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per cell (NaN when missing or unreadable) and the cells that held something that is not a
    duration. Plain numbers take one Arrow cast; else :func:`parse_duration` runs once per distinct value."""
    if isinstance(s.array, pd.arrays.ArrowStringArray):
        try:
            x = pc.cast(pa.array(s.array), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # some cell is not a plain number: the general path below
            x = None
        if x is not None:
            bad = ~np.isnan(x) & ~(np.isfinite(x) & (x >= 0))
            return np.where(bad, np.nan, x * unit), bad
    codes, uniq = _distinct(s)
    vals = np.full(len(uniq), np.nan)
    bad = np.zeros(len(uniq), dtype=bool)
    for i, u in enumerate(uniq):
        t = _normalise_text(u)
        if t is None:
            continue
        x = parse_duration(t, unit)
        if x is None or not math.isfinite(x):
            bad[i] = True
        else:
            vals[i] = x
    return _take(vals, codes, np.nan, float), _take(bad, codes, False, bool)


class LabelScale(NamedTuple):
    name: str
    points: tuple[frozenset[str], ...]  # point 1 first: the comparison keys of its labels


@functools.cache
def label_scales() -> tuple[LabelScale, ...]:
    """The known answer-label scales (label_scales.yaml), worst point first."""
    data = yaml.safe_load((DATA_DIR / "label_scales.yaml").read_text(encoding="utf-8")) or {}
    out = []
    for name, points in (data.get("scales") or {}).items():
        pts = tuple(
            frozenset(_key(str(x)) for x in ([p] if isinstance(p, str) else (p or ()))) for p in points
        )
        out.append(LabelScale(str(name), pts))
    return tuple(out)


_STAR_FULL, _STAR_EMPTY = "★✭✮⭐", "☆✩"


def _stars(label: str) -> tuple[int, int] | None:
    """``★★★★☆`` → (4, 5): filled stars and scale length; None when the text is not a row of stars."""
    s = label.replace(" ", "")
    if not s or any(ch not in _STAR_FULL + _STAR_EMPTY for ch in s):
        return None
    return sum(ch in _STAR_FULL for ch in s), len(s)


def recognise_labels(labels: Iterable[str], points: int) -> tuple[dict[str, int] | None, str]:
    """Points (1 = worst) for the non-numeric answers of one score column on a ``points``-point scale, and
    what was found. All or nothing: the labels are recoded only when every one of them belongs to one known
    scale (label_scales.yaml, or rows of stars) with that many points, and the scales holding them all agree
    on each label's point; else ``(None, why)``. ``why`` names the scale used, or says what is missing."""
    labels = [str(v) for v in dict.fromkeys(labels)]
    if not labels:
        return {}, ""
    stars = [_stars(v) for v in labels]
    if all(stars):
        size = max(n for _, n in stars)  # type: ignore[misc]
        if size != points:
            return None, f"{size}-star ratings on a {points}-point scale: declare scales: {{min: 1, max: {size}}}"
        if any(k == 0 for k, _ in stars):  # type: ignore[misc]
            return None, "a rating of no stars is not a point of the scale"
        return {v: k for v, (k, _) in zip(labels, stars)}, f"stars (1-{size})"  # type: ignore[misc]
    keys = {v: _key(v) for v in labels}
    fits: list[tuple[LabelScale, dict[str, int]]] = []
    other_sizes: set[str] = set()
    for sc in label_scales():
        pos = {}
        for v, k in keys.items():
            hit = next((i + 1 for i, pt in enumerate(sc.points) if k in pt), None)
            if hit is None:
                break
            pos[v] = hit
        else:
            if len(sc.points) == points:
                fits.append((sc, pos))
            else:
                other_sizes.add(f"{sc.name} ({len(sc.points)} points)")
    if fits and all(f[1] == fits[0][1] for f in fits):
        return fits[0][1], "/".join(f[0].name for f in fits)
    if fits:
        return None, "the labels fit several scales that give them different points: " + ", ".join(
            f[0].name for f in fits
        )
    if other_sizes:
        return None, (
            f"labels of {', '.join(sorted(other_sizes))} on a {points}-point field: declare the client's scale "
            "(scales: {min: 1, max: N}) or recode"
        )
    unknown = [v for v, k in keys.items() if not any(k in pt for sc in label_scales() for pt in sc.points)]
    shown = unknown or labels
    listed = ", ".join(repr(v) for v in shown[:6]) + (" …" if len(shown) > 6 else "")
    return None, (f"no known label scale holds {listed}" if unknown else
                  f"no one known label scale holds all of {listed}")


_OK, _MISSING, _NOT_NUMERIC, _OUT_OF_RANGE = 0, 1, 2, 3


def _score_values(
    uniq: list[Any], recode: dict[str, str] | None, codes_map: dict[str, str] | None
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Distinct score cells → (numbers, status _OK / _MISSING / _NOT_NUMERIC, {index: text} of the
    answers that are words rather than numbers)."""
    xs = np.full(len(uniq), np.nan)
    st = np.full(len(uniq), _OK, dtype=np.int8)
    words: dict[int, str] = {}
    for i, u in enumerate(uniq):
        t = _normalise_text(u)
        if t is not None and recode:
            t = recode.get(t, t)
        if t is not None and codes_map:
            t = codes_map.get(t, t)
        if t is None:
            st[i] = _MISSING
            continue
        x = parse_score(t)
        if x is None:
            st[i] = _NOT_NUMERIC
            words[i] = t
        else:
            xs[i] = x
    return xs, st, words


_DMY = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?)?$"
)


def _day_month_order(uniq: list[Any]) -> str | None:
    """How a column writes ``3/5/2024``: "dmy" when some first number is over 12, "mdy" when some second
    one is, or when times carry AM/PM (SurveyMonkey, US Excel); None (not read) when nothing tells."""
    ms = [m for u in uniq if u is not None and (m := _DMY.match(_nfkc(str(u))))]
    if any(int(m.group(1)) > 12 for m in ms):
        return "dmy"
    if any(int(m.group(2)) > 12 or m.group(7) for m in ms):
        return "mdy"
    return None


def _parse_dmy(value: Any, order: str) -> pd.Timestamp:
    m = _DMY.match(_nfkc(str(value))) if value is not None else None
    if not m:
        return parse_date(value)
    a, b, y, hh, mi, ss = (int(g) if g else 0 for g in m.groups()[:6])
    d, mo = (a, b) if order == "dmy" else (b, a)
    ampm = (m.group(7) or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hh <= 12:
            return pd.NaT
        hh = hh % 12 + (12 if ampm == "pm" else 0)
    try:
        return pd.Timestamp(dt.datetime(y, mo, d, hh, mi, ss))
    except ValueError:
        return pd.NaT


def _clean_dates(s: pd.Series) -> pd.Series:
    """Dates on distinct values; day/month order of ``3/5/2024`` decided once for the column."""
    codes, uniq = _distinct(s)
    order = _day_month_order(uniq)
    one = parse_date if order is None else functools.partial(_parse_dmy, order=order)
    vals = (
        pd.DatetimeIndex([one(u) for u in uniq], dtype="datetime64[ns]")
        if uniq
        else pd.DatetimeIndex([], dtype="datetime64[ns]")
    )
    arr = np.append(vals.to_numpy(), np.datetime64("NaT", "ns"))
    return pd.Series(arr[codes], index=s.index, dtype="datetime64[ns]")
