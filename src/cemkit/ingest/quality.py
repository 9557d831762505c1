"""Row checks and the quarantine table: the ordered rules (:data:`REASONS`), survey data quality
(speeders, straightliners), duplicate ids, and the masked raw rows of what was not used.

Each row is quarantined for the *first* reason that applies, in this order (:data:`REASONS`): ``empty_row``,
``summary_row`` (合计 / 平均值 / Total … in the first two cells or the id: platforms.yaml), ``malformed_row``, ``response_id_missing``, ``stage_missing``, ``unknown_stage``, ``<kpi>_missing``,
``<kpi>_not_numeric``, ``score_out_of_range`` (required KPIs), ``date_invalid`` (when required),
``weight_invalid`` (declared weight column not a positive number, or a raking variable missing),
``speeder``, ``straightliner`` (only with ``straightliners: quarantine``), ``duplicate_id``. Among rows that pass everything else, a repeated ``response_id`` keeps the latest row (by
date, then the later in the file) and quarantines the others. ``input_rows == used + quarantined`` always.
When no row is usable, :func:`prepare` writes its outputs and then raises InputError.

Survey data quality (pack ``rules.quality``, overridden key by key by the mapping's ``quality``)
-----------------------------------------------------------------------------------------------
The optional field ``duration`` is the seconds a respondent took: the platform's time-taken column
(platforms.yaml ``duration_columns``: 所用时间, 答题时长, ``Duration (in seconds)`` …), matched by name only and
read by :func:`parse_duration` (``125秒``, ``2分5秒``, ``00:02:05``, plain seconds …; unreadable → NaN,
counted in ``durations_unparsed``). A row answered in less than the threshold is a ``speeder``: the threshold
is the larger of ``speeder_seconds`` and ``speeder_median_share`` (default 1/3) × the median duration of the
rows no earlier rule quarantined; 0/null switches a rule off; without a duration column there is no check.
A row that gives one score to every attribute it rated (at least ``straightliner_min_items``, default 5;
attributes not asked at its stage are empty) is a straightliner: flagged in the boolean column
``straightliner`` and counted (``straightliners``, ``straightliners_by_stage``), or quarantined as
``straightliner`` with ``straightliners: quarantine``. ``accounting["quality"]`` holds the rules in force,
the duration column, the median and threshold used and what each check found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .. import privacy
from ..packs import QUALITY_DEFAULTS, Pack
from .cells import _distinct
from .clean import _summary_columns, _values_detail, _Work
from .headers import DURATION, _platforms
from .mapping import ColumnMapping
from .values import _MISSING, _NOT_NUMERIC, _OK, _OUT_OF_RANGE

REASONS: tuple[str, ...] = (
    "empty_row",
    "summary_row",
    "malformed_row",
    "response_id_missing",
    "stage_missing",
    "unknown_stage",
    "<kpi>_missing",
    "<kpi>_not_numeric",
    "score_out_of_range",
    "date_invalid",
    "weight_invalid",
    "speeder",
    "straightliner",
    "duplicate_id",
)


class _Check(NamedTuple):
    """A row rule: ``test(work)`` → (rows that fail, detail), or None when it does not apply to this
    pack/mapping. The detail is one text, or a function of the failing row positions (so per-row texts are
    only built for the few rows that fail)."""

    reason: str
    test: Callable[[_Work], tuple[np.ndarray, Any] | None]


def _raw_detail(w: _Work, fid: str, label: str) -> Callable[[np.ndarray], list[str]]:
    return _values_detail(w.raw[w.cols[fid]], label)


def _label_detail(w: _Work, fid: str) -> Callable[[np.ndarray], list[str]]:
    """``nps = '很愿意'``, and when the column's answers are words no known scale holds, what to do."""
    base = _raw_detail(w, fid, fid)
    note = w.labels.get(fid)
    if not note or note.get("scale"):
        return base
    hint = f" ({note['why']}; add recode: {{{fid}: {{label: point, …}}}} to the mapping)"
    return lambda idx: [d + hint for d in base(idx)]


def _kpi_checks(pack: Pack) -> list[_Check]:
    out = []
    for k in pack.kpis:
        if not (pack.fields.get(k) and pack.fields[k].required):
            continue
        out.append(_Check(f"{k}_missing", lambda w, k=k: (w.status[k] == _MISSING, f"no {k} score")))
        out.append(
            _Check(f"{k}_not_numeric", lambda w, k=k: (w.status[k] == _NOT_NUMERIC, _label_detail(w, k)))
        )
    for k in pack.kpis:
        if pack.fields.get(k) and pack.fields[k].required:
            out.append(
                _Check(
                    "score_out_of_range", lambda w, k=k: (w.status[k] == _OUT_OF_RANGE, _raw_detail(w, k, k))
                )
            )
    return out


def _checks(pack: Pack) -> list[_Check]:
    """The row rules in order; a row is quarantined for the first that fails (duplicate_id comes last and
    is applied separately, among the rows that pass all of these)."""
    date_required = bool(pack.fields.get("date") and pack.fields["date"].required)
    return [
        _Check("empty_row", lambda w: (w.empty, "every cell is empty")),
        _Check("summary_row", lambda w: None if w.summary is None else (w.summary, _summary_detail(w))),
        _Check(
            "response_id_missing", lambda w: (pd.isna(w.clean["response_id"]).to_numpy(), "no response id")
        ),
        _Check("stage_missing", lambda w: (pd.isna(w.clean["stage_label"]).to_numpy(), "no stage")),
        _Check("unknown_stage", lambda w: (w.unknown_stage, _values_detail(w.clean["stage_label"], "stage"))),
        *_kpi_checks(pack),
        _Check(
            "date_invalid",
            lambda w: (pd.isna(w.clean["date"]).to_numpy(), "no readable date") if date_required else None,
        ),
        _Check("weight_invalid", lambda w: None if w.weight_bad is None else (w.weight_bad, w.weight_detail)),
        _Check("speeder", _speeders),
        _Check(
            "straightliner",
            lambda w: (w.straight, _straight_detail(w)) if w.quality["straightliners"] == "quarantine" else None,
        ),
    ]


def _quality(pack: Pack, mp: ColumnMapping) -> dict[str, Any]:
    """The quality rules in force: the pack's ``rules.quality``, then the keys the mapping gives."""
    return {**QUALITY_DEFAULTS, **pack.rules.quality, **mp.quality}


def _speeders(w: _Work) -> tuple[np.ndarray, Any] | None:
    """Rows answered in less time than the threshold: ``speeder_seconds``, or ``speeder_median_share`` × the
    median duration of the rows no earlier rule quarantined (the larger when both are set). Records how the
    threshold was set in ``w.speeder``; None (no check) without a duration column or with both rules off."""
    q = w.quality
    if DURATION not in w.clean:
        w.speeder = {"check": "no duration column"}
        return None
    d = w.clean[DURATION]
    absolute = float(q["speeder_seconds"] or 0.0)
    share = float(q["speeder_median_share"] or 0.0)
    if absolute <= 0 and share <= 0:
        w.speeder = {"check": "disabled"}
        return None
    pool = d[w.open_rows & ~np.isnan(d)] if w.open_rows is not None else d[~np.isnan(d)]
    threshold, w.speeder, detail = speeder_rule(q, float(np.median(pool)) if pool.size else None, int(pool.size))
    if threshold <= 0:
        return None
    return d < threshold, lambda idx: detail(d[idx])


def speeder_rule(q: dict[str, Any], median: float | None, n: int) -> tuple[float, dict[str, Any],
                                                                         Callable[[np.ndarray], list[str]]]:
    """The speeder threshold from the rules ``q`` and the median of ``n`` durations (the rows no earlier rule
    quarantined); its report (``w.speeder``); and the details of durations under it."""
    absolute = float(q["speeder_seconds"] or 0.0)
    share = float(q["speeder_median_share"] or 0.0)
    relative = share * median if share > 0 and median is not None else 0.0
    threshold = max(absolute, relative)
    report = {"check": "on" if threshold > 0 else "no durations", "threshold_seconds": round(threshold, 3),
              "median_seconds": median, "durations": n}
    rule = (f"{share:.3g} × the median {median:g} s" if relative >= absolute and median is not None else
            f"speeder_seconds {absolute:g}")

    def detail(durations: np.ndarray) -> list[str]:
        return [f"answered in {x:g} s, under the threshold of {threshold:.4g} s ({rule})" for x in durations]

    return threshold, report, detail


def _straightliners(w: _Work, min_items: int) -> np.ndarray:
    """Per row: the same score on every attribute it rated, with at least ``min_items`` rated (attributes
    not asked at the row's stage are NaN, so the rated ones are its stage's grid). Column by column over the
    attribute matrix, no row loop and no stacked copy: first the count of rated attributes (from the int8
    cell status), then a running min and max over the rows rated often enough (all rows when most are)."""
    attrs = [a for a in w.pack.attributes if a in w.cols]
    out = np.zeros(w.n, dtype=bool)
    if len(attrs) < min_items or not w.n:
        return out
    count = np.zeros(w.n, dtype=np.int16)
    for a in attrs:
        st = w.status.get(a)
        count += (st == _OK) if st is not None else ~np.isnan(w.clean[a])
    enough = count >= min_items
    rows = np.flatnonzero(enough)
    if not rows.size:
        return out
    part = rows.size < w.n // 2  # few rows rated enough: gather them; else run over whole columns

    def col(a: str) -> np.ndarray:
        x = np.asarray(w.clean[a], dtype=float)
        return x[rows] if part else x

    lo = np.array(col(attrs[0]), copy=True)
    hi = lo.copy()
    for a in attrs[1:]:
        x = col(a)
        np.fmin(lo, x, out=lo)
        np.fmax(hi, x, out=hi)
    if part:
        out[rows] = lo == hi
    else:
        out = enough & (lo == hi)
    return out


def _straight_detail(w: _Work) -> Callable[[np.ndarray], list[str]]:
    attrs = [a for a in w.pack.attributes if a in w.cols]

    def detail(idx: np.ndarray) -> list[str]:
        vals = np.column_stack([np.asarray(w.clean[a])[idx] for a in attrs])
        rated = (~np.isnan(vals)).sum(axis=1)
        return [f"the same score ({np.nanmax(v):g}) on all {k} attributes rated" for v, k in zip(vals, rated)]

    return detail


def _summary_detail(w: _Work) -> Callable[[np.ndarray], list[str]]:
    heads = _summary_columns(w.raw, w.cols)
    tokens = set(_platforms()["summary_cells"])

    def detail(idx: np.ndarray) -> list[str]:
        out = []
        for i in idx:
            v = next((x for h in heads if (x := w.raw[h].iloc[i]) in tokens), "")
            out.append(f"a summary row ({v}) under the data, not a response")
        return out

    return detail


def _quality_report(w: _Work, used: np.ndarray, by_reason: dict[str, int]) -> dict[str, Any]:
    """``straightliners`` (flagged responses kept in the data), ``straightliners_by_stage`` and ``quality``:
    the rules in force, the duration column, how the speeder threshold was set and what each check found."""
    q = w.quality
    flagged = w.straight & used
    by_stage = w.clean["stage"].iloc[np.flatnonzero(flagged)].value_counts().to_dict() if flagged.any() else {}
    found = int(flagged.sum()) + int(by_reason.get("straightliner", 0))
    speeders = int(by_reason.get("speeder", 0))
    return {
        "straightliners": int(flagged.sum()),
        "straightliners_by_stage": {str(k): int(v) for k, v in sorted(by_stage.items())},
        "quality": {
            "rules": dict(q),
            "duration_column": w.cols.get(DURATION),
            "speeders": {**w.speeder, "quarantined": speeders},
            "straightliners": {"action": q["straightliners"], "min_items": int(q["straightliner_min_items"]),
                               "found": found},
        },
    }


def _apply_checks(w: _Work) -> tuple[np.ndarray, np.ndarray]:
    """Reason and detail per row (object arrays, None = no problem) from the ordered rules; the first failing
    rule wins."""
    reason = np.full(w.n, None, dtype=object)
    detail = np.full(w.n, None, dtype=object)
    open_ = np.ones(w.n, dtype=bool)
    for check in _checks(w.pack):
        w.open_rows = open_
        res = check.test(w)
        if res is None:
            continue
        mask, why = res
        hit = np.asarray(mask, dtype=bool) & open_
        if not hit.any():
            continue
        reason[hit] = check.reason
        idx = np.flatnonzero(hit)
        detail[idx] = why if isinstance(why, str) else np.asarray(why(idx), dtype=object)
        open_ &= ~hit
    return reason, detail


def _deduplicate(w: _Work, reason: np.ndarray, detail: np.ndarray, attrs: dict) -> None:
    """Among rows that pass every rule, keep the latest of each response_id (by date, then file order); mark
    the others ``duplicate_id`` in ``reason``/``detail`` (in place)."""
    ok = np.flatnonzero(pd.isna(reason))
    if not ok.size:
        return
    codes = (w.id_codes if w.id_codes is not None else _distinct(w.clean["response_id"])[0])[ok]
    dup_any = (
        np.bincount(codes[codes >= 0])[np.where(codes >= 0, codes, 0)] > 1
        if (codes >= 0).any()
        else np.zeros(ok.size, dtype=bool)
    )
    if not dup_any.any():
        return
    ids = w.clean["response_id"].iloc[ok]
    pos = ok[dup_any]
    frame = pd.DataFrame({"id": ids.to_numpy()[dup_any], "date": w.clean["date"].to_numpy()[pos], "pos": pos})
    frame = frame.sort_values(["id", "date", "pos"], na_position="first", kind="stable")
    last = frame.groupby("id", sort=False)["pos"].transform("last")
    drop = frame["pos"].to_numpy() != last.to_numpy()
    rows = attrs["rows"]
    for p, keep in zip(frame["pos"].to_numpy()[drop], last.to_numpy()[drop]):
        reason[p] = "duplicate_id"
        detail[p] = (
            f"response_id repeats; row {int(rows[keep])} is kept (latest date, then later in the file)"
        )


def _quarantine(
    w: _Work, attrs: dict, reason: np.ndarray, detail: np.ndarray, used: np.ndarray, comment: pd.Series | None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per unused input row (and per malformed CSV row), with the masked raw row as JSON."""
    pk, cols = w.pack, w.cols
    q = np.flatnonzero(~used)
    masked: dict[str, int] = {}
    sub = w.raw.iloc[q].reset_index(drop=True)
    pii_cols = {cols[f]: f for f, s in pk.fields.items() if s.pii and f in cols}
    plates = w.plates
    for h in sub.columns:
        if "comment" in cols and h == cols["comment"] and comment is not None:
            sub[h] = comment.iloc[q].reset_index(drop=True)
            continue
        if pii_cols.get(h) == "name":
            sub[h] = privacy.mask_name(sub[h])
            masked["name"] = masked.get("name", 0) + int(sub[h].notna().sum())
            continue
        before = sub[h]
        sub[h], c = privacy.mask_text(before, plates=plates, controls="text")
        for k, v in c.items():
            masked[k] = masked.get(k, 0) + v
        if h in pii_cols:  # a PII cell no pattern recognised (a malformed phone, an address): hide it all
            same = (sub[h] == before).to_numpy(dtype=bool, na_value=False)
            sub[h] = sub[h].mask(same, privacy.mask_name(before))
    # one JSON object per line: split on "\n" only (str.splitlines would also split inside a value at
    # U+2028, U+0085 … and misalign the rows)
    raws = sub.to_json(orient="records", force_ascii=False, lines=True).rstrip("\n").split("\n") if len(sub) else []
    details, c = privacy.mask_text(pd.Series(detail[q], dtype="str"), plates=plates, controls="text")
    for k, v in c.items():  # a detail quotes the cell it is about
        masked[k] = masked.get(k, 0) + v
    frame = pd.DataFrame(
        {
            "row": pd.array(attrs["rows"][q], dtype="Int64"),
            "line": pd.array(attrs["lines"][q], dtype="Int64"),
            "response_id": w.clean["response_id"].iloc[q].reset_index(drop=True).astype("str"),
            "reason": pd.Series(reason[q], dtype="str"),
            "detail": details.reset_index(drop=True),
            "raw": pd.Series(raws, dtype="str"),
        }
    )
    bad = attrs.get("bad_rows") or []
    if bad:
        texts, c = privacy.mask_text(pd.Series([b["text"] for b in bad], dtype="str"), plates=plates,
                                     controls="text")
        for k, v in c.items():
            masked[k] = masked.get(k, 0) + v
        extra = pd.DataFrame(
            {
                "row": pd.array([b.get("row") for b in bad], dtype="Int64"),
                "line": pd.array([b.get("line") for b in bad], dtype="Int64"),
                "response_id": pd.Series([None] * len(bad), dtype="str"),
                "reason": pd.Series(["malformed_row"] * len(bad), dtype="str"),
                "detail": pd.Series(
                    [f"{b['fields']} fields, expected {b['expected']}" for b in bad], dtype="str"
                ),
                "raw": texts.reset_index(drop=True),
            }
        )
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame, masked
