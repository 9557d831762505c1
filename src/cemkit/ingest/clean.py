"""Cleaning: which client column is which field (``_resolve_columns``), then every mapped column cleaned
into the work state (``_Work``) on a thread pool.

Cleaning and quarantine
-----------------------
Ids and comments are trimmed (empty → missing). Scores and category text (stage, wave, touchpoint,
segments, other fields) are NFKC-normalised and trimmed (full-width ``８`` → ``8``), and
``"" NA N/A nan null none - -- — / #N/A`` and the platforms' skip markers ``(跳过) (空)`` count as missing
(a comment that is only a skip marker is no comment). Scores: a leading number followed by non-digit
text reads as that number (``10分``, ``9 分``, ``10（非常愿意）``); a score must be a point of its scale
(integers in [min, max]). Answers in words are recoded when every word in the column is a label of one
known scale with the field's number of points (``data/label_scales.yaml``: 非常满意…非常不满意, agreement,
effort, quality, ``0-完全不可能``/``极有可能`` ends; rows of stars ``★★★★☆``); which scale, or why none, is in
``accounting["label_scales"]``, and an unrecognised word is never guessed. A *required* KPI (pack
``fields[kpi].required``, e.g. NPS) that is missing, not a number or off its scale quarantines the row; an
optional KPI or an attribute that is not a number or off its scale becomes NaN and is counted in
``cells_blanked[column][not_numeric|out_of_range]``. Dates: ISO, ``2024年3月5日``, ``2024/3/5``,
``2024.03.05``, ``20240305``, Excel serial numbers (20000-80000) and ``3/5/2024`` where the column tells the
order (a day over 12, or AM/PM times: month first); others become NaT and are counted in
``dates_unparsed`` (the row is quarantined only when the pack makes ``date`` required). Stage labels: the
mapping's ``stage_values``, then the stage's id, name, trigger or touchpoint name (normalised), then a name
that the label contains once suffixes such as 环节/阶段/问卷 are removed (e.g. 交车环节 → delivery);
matched labels are listed in ``accounting["stage_labels"]``. Wave: the wave column; where it is absent or
empty, derived from the date as a half-year ``2024H1`` (mapping ``wave.from_date``: ``quarter`` → 2024Q1,
``month`` → 2024-03, ``year`` → 2024), counted in ``wave_derived``. These cell-level counts
(``cells_blanked``, ``dates_unparsed``, ``wave_derived``, ``wave_missing``, ``customer_id_missing``) are over
the used rows.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowtext import arrow
from ..errors import InputError
from ..packs import QUALITY_DEFAULTS, Pack
from .cells import _THREADS, _blank, _distinct, _key, _map_text, _normalise_text, _strip_text, _take
from .headers import DURATION, _closest, _duration_unit, _platforms, normalise_header
from .mapping import _WAVE_RULES, ColumnMapping, _targets
from .match import AUTO_MATCH_MIN, OFF_JOURNEY_MIN, propose_mapping, value_fit
from .stages import StageMatcher
from .values import (
    _MISSING,
    _NOT_NUMERIC,
    _OK,
    _OUT_OF_RANGE,
    _clean_dates,
    _clean_durations,
    _score_values,
    parse_score,
    recognise_labels,
)

#: what survey platforms write in a skipped open question (问卷星 "(跳过)" / "(空)", full- or half-width
#: brackets; 腾讯问卷 "—"; a dash, slash or N/A typed in a spreadsheet): no comment, not a comment that says nothing
COMMENT_SKIP_MARKERS = ("(跳过)", "（跳过）", "(空)", "（空）", "(skipped)", "—", "——", "-", "--", "/", "N/A", "n/a",
                        "#N/A")


@dataclass
class _Work:
    """State shared by the row checks: the cleaned columns and per-cell problems."""

    pack: Pack
    mapping: ColumnMapping
    n: int
    cols: dict[str, str]  # field id → client header
    raw: pd.DataFrame | None  # the input, released once the quarantine is built
    clean: dict[str, Any] = field(default_factory=dict)
    status: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # score columns: 0 ok, 1 missing, 2 NaN, 3 range
    empty: np.ndarray | None = None
    unknown_stage: np.ndarray | None = None
    weight_bad: np.ndarray | None = None
    weight_detail: Callable[[np.ndarray], Any] | None = None
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # cell notes, counted over the used rows
    plates: bool = False
    id_codes: np.ndarray | None = None
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # score columns answered in words
    summary: np.ndarray | None = None
    quality: dict[str, Any] = field(default_factory=lambda: dict(QUALITY_DEFAULTS))  # pack + mapping
    open_rows: np.ndarray | None = None  # rows no earlier rule has quarantined (set by _apply_checks)
    straight: np.ndarray | None = None  # one score on every rated attribute (≥ straightliner_min_items)
    speeder: dict[str, Any] = field(default_factory=dict)  # how the speeder threshold was set


def _values_detail(values: pd.Series, label: str) -> Callable[[np.ndarray], list[str]]:
    """Detail texts ``label = 'value'`` for the failing rows only."""

    def detail(idx: np.ndarray) -> list[str]:
        # quoted, not repr(): repr would spell a no-break space or a control character as an escape, and
        # personal data written with one would slip past the masking of the detail
        return [f"{label} = '{'' if pd.isna(v) else v}'" for v in values.to_numpy(dtype=object)[idx]]

    return detail


def constant_header(fid: str) -> str:
    """The column a mapping ``constants`` entry becomes (no client header looks like it)."""
    return f"=constant:{fid}"


def _resolve_columns(
    raw: pd.DataFrame, attrs: dict, pack: Pack, mp: ColumnMapping
) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[float, float]]]:
    """Field id → client header, how each was found, and the scales the auto-matched headers state (where
    they differ from the pack's and the mapping declares none). Raises InputError listing every absent
    mapped column and every missing required field, each with the closest header. A missing response id is
    no error: :func:`cemkit.ingest.flow` makes one from file and line (:data:`ROW_ID`)."""
    fname = attrs.get("source") or "data"
    headers = list(raw.columns)
    labels = attrs.get("column_labels") or {}
    by_label = {str(v): k for k, v in labels.items()}
    targets = _targets(pack)
    cols: dict[str, str] = {}
    how: dict[str, str] = {}
    problems: list[str] = []
    for header, fid in mp.columns.items():
        h = header if header in headers else by_label.get(header)
        if h is None:
            close = _closest(header, headers)
            problems.append(
                f"{fname}: the mapping {mp.name} names column {header!r}, which is not in the file"
                + (f" (closest header: {close!r})" if close else "")
                + "."
            )
            continue
        cols[fid], how[fid] = h, "mapping"
    for fid in mp.constants:
        cols[fid], how[fid] = constant_header(fid), "constant (mapping)"
    taken = set(cols.values()) | set(mp.ignore)
    for fid in targets:
        if fid not in cols and fid in headers and fid not in taken:
            cols[fid], how[fid] = fid, "id"
            taken.add(fid)
    rest = [h for h in headers if h not in taken]
    scales: dict[str, tuple[float, float]] = {}
    closest: dict[str, str] = {}
    if rest:
        rest_labels = {h: labels[h] for h in rest if h in labels}
        draft = propose_mapping(
            rest, pack, labels=rest_labels,
            fits=value_fit(raw, pack, mp.scales, attrs.get("value_codes"), rest_labels),
        )
        closest = {**draft["closest"], **{f: h for h, f in draft["columns"].items()}}
        for h, fid in draft["columns"].items():
            m = draft["matches"][h]
            if m.get("off_journey") and m["score"] < OFF_JOURNEY_MIN:
                continue  # an optional attribute of a stage the file never names, on weak words: left unplaced
            if fid not in cols and m["score"] >= AUTO_MATCH_MIN:
                cols[fid], how[fid] = h, f"auto ({draft['matches'][h]['via']})"
                nps = fid in pack.kpis and pack.kpis[fid].scale.kind == "nps"
                if fid in draft["scales"] and fid not in mp.scales and not nps:
                    scales[fid] = draft["scales"][fid]
    for fid, spec in pack.fields.items():
        if fid == "response_id" and fid not in cols:
            continue  # made from file and line (flow)
        if spec.required and fid not in cols:
            names = targets.get(fid, [fid])
            best = closest.get(fid)
            if best is None and headers:
                best = max(
                    headers,
                    key=lambda h: max(
                        difflib.SequenceMatcher(None, normalise_header(h), normalise_header(n)).ratio()
                        for n in names
                    ),
                )
            looked = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            problems.append(
                f"{fname}: required column {fid!r} is missing (looked for {looked})"
                + (f"; the closest header is {best!r}" if best is not None else "")
                + ("" if fid in ("response_id", "customer_id") else
                   f" — map a header to it, or give every row one value with `constants: {{{fid}: …}}` "
                   "in the mapping")
                + "."
            )
    if problems:
        if not mp.columns and mp.path is None and not mp.constants:
            problems.append(f"{fname}: no --mapping was given and cemkit could not place every required field "
                            "with confidence: draft one with `cemkit map --pack PACK --data FILE > mapping.yaml`, "
                            "check it, and run with --mapping mapping.yaml.")
        raise InputError("\n".join(problems))
    return cols, how, scales


def _clean_text_col(s: pd.Series, recode: dict[str, str] | None = None) -> pd.Series:
    """NFKC + strip + missing tokens + recode, on distinct values; returns str dtype."""

    def fn(v: str) -> str | None:
        t = _normalise_text(v)
        return recode.get(t, t) if recode and t is not None else t

    return _map_text(s, fn)


def _clean_scores(
    s: pd.Series,
    lo: float,
    hi: float,
    recode: dict[str, str] | None,
    codes_map: dict[str, str] | None,
    client: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any] | None]:
    """Scores: (values on the pack scale, status per cell, label note). Plain numbers take one Arrow cast;
    anything else (``10分``, labels, recodes, another scale) is parsed once per distinct value. Answers that
    are words are recoded when :func:`recognise_labels` finds their scale; the note says which scale (or
    why none), None when the column has no such answers."""
    if not recode and not codes_map and client is None and isinstance(s.array, pd.arrays.ArrowStringArray):
        try:
            x = pc.cast(pa.array(s.array), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # some cell is not a plain number: the general path below
            x = None
        if x is not None:
            ok = (x >= lo) & (x <= hi) & (np.floor(x) == x)
            st = np.where(np.isnan(x), _MISSING, np.where(ok, _OK, _OUT_OF_RANGE)).astype(np.int8)
            return np.where(ok, x, np.nan), st, None
    codes, uniq = _distinct(s)
    clo, chi = client or (lo, hi)
    xs, st, words = _score_values(uniq, recode, codes_map)
    note = None
    if words:
        points, why = recognise_labels(words.values(), int(chi - clo) + 1)
        note = {"labels": sorted(set(words.values())), "why": why, "scale": None}
        if points is not None:
            note.update(scale=why, recoded={t: clo + points[t] - 1 for t in note["labels"]})
            for i, t in words.items():
                xs[i], st[i] = clo + points[t] - 1, _OK
    ok = (st == _OK) & (xs >= clo) & (xs <= chi) & (np.floor(xs) == xs)
    st = np.where((st == _OK) & ~ok, _OUT_OF_RANGE, st).astype(np.int8)
    val = np.where(ok, xs if client is None else np.floor(lo + (xs - clo) * (hi - lo) / (chi - clo) + 0.5), np.nan)
    return _take(val, codes, np.nan, float), _take(st, codes, _MISSING, np.int8), note


def _empty_rows(raw: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank, checking one column at a time on the rows still in doubt."""
    n = len(raw)
    cand = np.ones(n, dtype=bool)
    for c in raw.columns:
        idx = np.flatnonzero(cand)
        if not idx.size:
            break
        s = raw[c]
        if idx.size == n:
            cand[idx] = _blank(s)
        elif isinstance(s.array, pd.arrays.ArrowStringArray):  # Arrow's take: pandas' .iloc costs more here
            cand[idx] = _blank(pa.array(s.array).take(pa.array(idx)))
        else:
            cand[idx] = _blank(s.iloc[idx])
    return cand


def _summary_columns(raw: pd.DataFrame, cols: dict[str, str]) -> list[str]:
    """Where a summary row says what it is: the first two columns and the response id column."""
    heads = [h for h in list(raw.columns[:2]) + [cols.get("response_id")] if h and not h.startswith("=constant:")]
    return list(dict.fromkeys(h for h in heads if h in raw.columns))


def _summary_rows(raw: pd.DataFrame, heads: list[str]) -> np.ndarray:
    """Rows under (or among) the data that total or average them (合计, 平均值, Total …; platforms.yaml
    ``summary_tokens``) in one of ``heads``: one Arrow set lookup per column."""
    cells = pa.array(_platforms()["summary_cells"], pa.string())
    out = np.zeros(len(raw), dtype=bool)
    for h in heads:
        a = arrow(raw[h])
        out |= np.asarray(pc.fill_null(pc.is_in(a, value_set=cells.cast(a.type)), False), dtype=bool)
    return out


def _clean(w: _Work, attrs: dict) -> dict[str, str]:
    """Clean every mapped column into ``w.clean`` / ``w.status`` / ``w.flags``; return the stage labels that
    were matched to a stage id by name. Columns are independent, so they are cleaned on a thread pool
    (the work is in Arrow and numpy kernels, which release the GIL)."""
    pk, mp, raw, cols, n = w.pack, w.mapping, w.raw, w.cols, w.n
    recode = mp.recode
    value_codes = attrs.get("value_codes") or {}
    scored = [*((k, v.scale) for k, v in pk.kpis.items()), *((a, v.scale) for a, v in pk.attributes.items())]
    special = {
        "response_id",
        "customer_id",
        "wave",
        "date",
        "stage",
        "touchpoint",
        "comment",
        "weight",
        DURATION,
        *pk.kpis,
        *pk.attributes,
    }
    texts = [f for f in cols if f not in special and not (pk.fields.get(f) and pk.fields[f].pii)]
    tp_ids = {
        _key(x): tp.id for st in pk.stages for tp in st.touchpoints for x in (tp.id, tp.name.zh, tp.name.en)
    }

    def touchpoint(v: str) -> str | None:
        t = _normalise_text(v)
        t = (recode.get("touchpoint") or {}).get(t, t) if t is not None else None
        return tp_ids.get(_key(t), t) if t is not None else None

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        jobs: dict[str, Future] = {
            "__empty": pool.submit(_empty_rows, raw),
            "__summary": pool.submit(_summary_rows, raw, _summary_columns(raw, cols)),
        }
        for fid in ("response_id", "customer_id", "comment"):
            if fid in cols:
                jobs[fid] = pool.submit(_strip_text, raw[cols[fid]],
                                        COMMENT_SKIP_MARKERS if fid == "comment" else ())
        for fid, spec in scored:
            if fid in cols:
                jobs[fid] = pool.submit(
                    _clean_scores,
                    raw[cols[fid]],
                    spec.min,
                    spec.max,
                    recode.get(fid),
                    value_codes.get(cols[fid]),
                    mp.scales.get(fid),
                )
        for fid in [*texts, "stage", "wave"]:
            if fid in cols:
                jobs[fid] = pool.submit(_clean_text_col, raw[cols[fid]], recode.get(fid))
        if "touchpoint" in cols:
            jobs["touchpoint"] = pool.submit(_map_text, raw[cols["touchpoint"]], touchpoint)
        if DURATION in cols:
            jobs[DURATION] = pool.submit(_clean_durations, raw[cols[DURATION]], _duration_unit(cols[DURATION]))
        if "date" in cols:
            jobs["date"] = pool.submit(_clean_dates, raw[cols["date"]])
            jobs["__date_given"] = pool.submit(_blank, raw[cols["date"]])
        if "response_id" in cols:  # codes of the ids for the duplicate check (a hash pass, run alongside)
            jobs["__id_codes"] = pool.submit(lambda: _distinct(jobs["response_id"].result())[0])
        done = {k: f.result() for k, f in jobs.items()}
    w.id_codes = done.get("__id_codes")

    missing_text = pd.Series(pd.NA, index=raw.index, dtype="str")
    w.empty = done["__empty"] if n else np.zeros(0, dtype=bool)
    w.summary = done["__summary"] if n else np.zeros(0, dtype=bool)
    for fid in ("response_id", "customer_id"):
        w.clean[fid] = done.get(fid, missing_text)
    w.flags["customer_id_missing"] = w.clean["customer_id"].isna().to_numpy()
    if "comment" in done:
        w.clean["comment"] = done["comment"]
    if "touchpoint" in done:
        w.clean["touchpoint"] = done["touchpoint"]
    if DURATION in done:
        w.clean[DURATION], w.flags["durations_unparsed"] = done[DURATION]
    for fid in texts:
        w.clean[fid] = done[fid]

    # scores ---------------------------------------------------------------------------------------------
    for fid, _ in scored:
        if fid not in done:
            w.clean[fid] = np.full(n, np.nan)
            w.status[fid] = np.full(n, _MISSING, dtype=np.int8)
            continue
        w.clean[fid], w.status[fid], note = done[fid]
        if note:
            w.labels[fid] = note
        st = w.status[fid]
        if not (pk.fields.get(fid) and pk.fields[fid].required):
            w.flags[f"blanked:{fid}:not_numeric"] = st == _NOT_NUMERIC
            w.flags[f"blanked:{fid}:out_of_range"] = st == _OUT_OF_RANGE

    # date, wave -----------------------------------------------------------------------------------------
    if "date" in done:
        w.clean["date"] = done["date"]
        w.flags["dates_unparsed"] = ~done["__date_given"] & w.clean["date"].isna().to_numpy()
    else:
        w.clean["date"] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    wave = done.get("wave", missing_text)
    derive = wave.isna() & w.clean["date"].notna()
    if derive.any():
        wave = wave.mask(derive, _WAVE_RULES[mp.wave_from_date](w.clean["date"]))
    w.clean["wave"] = wave.astype("str")
    w.flags["wave_derived"] = derive.to_numpy()
    w.flags["wave_missing"] = w.clean["wave"].isna().to_numpy()

    # stage ----------------------------------------------------------------------------------------------
    label = done.get("stage", missing_text)
    w.clean["stage_label"] = label
    matcher = StageMatcher(pk)
    matched: dict[str, str] = {}

    def stage_id(u: str) -> str | None:
        sid = mp.stage_values.get(u)
        if sid is None and u in pk.stage_ids:
            return u
        if sid is None:
            cand, kind = matcher.match(u)
            if kind in ("exact", "contains", "similar"):
                sid = matched[u] = cand
        elif u != sid:
            matched[u] = sid
        return sid

    w.clean["stage"] = _map_text(label, stage_id)
    w.unknown_stage = w.clean["stage"].isna().to_numpy() & label.notna().to_numpy()

    # weights (declared column, or raking variables present) ---------------------------------------------
    wcol = mp.weights.get("column") if mp.weights else None
    if wcol is None and "weight" in cols and not (mp.weights or {}).get("rake"):
        wcol = cols["weight"]
    if wcol is not None:
        if wcol not in raw.columns:
            close = _closest(str(wcol), raw.columns)
            raise InputError(
                f"{attrs.get('source')}: the mapping {mp.name} names weight column {wcol!r}, which is not "
                f"in the file" + (f" (closest header: {close!r})" if close else "") + "."
            )
        codes, uniq = _distinct(raw[wcol])
        vals = (
            np.array(
                [parse_score(_normalise_text(u)) if _normalise_text(u) is not None else np.nan for u in uniq],
                dtype=float,
            )
            if uniq
            else np.zeros(0)
        )
        x = _take(vals, codes, np.nan, float)
        w.clean["weight"] = x
        w.weight_bad = ~(np.isfinite(x) & (x > 0))
        w.weight_detail = _values_detail(raw[wcol], "weight")
    elif (mp.weights or {}).get("rake"):
        bad = np.zeros(n, dtype=bool)
        detail = np.full(n, "", dtype=object)
        for var in mp.weights["rake"] or {}:
            col = w.clean.get(var)
            if col is None:
                raise InputError(
                    f"{attrs.get('source')}: raking variable {var!r} (weights.rake in {mp.name}) is not "
                    "a mapped column of the file."
                )
            miss = np.asarray(pd.isna(col), dtype=bool)
            detail[miss & ~bad] = f"no {var} to rake on"
            bad |= miss
        w.weight_bad, w.weight_detail = bad, (lambda idx, d=detail: d[idx])
    return matched
