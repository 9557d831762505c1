"""Matching a client's columns and labels to the pack: :func:`value_fit` (what a column's values can be),
:func:`propose_mapping` (headers scored against every field's names and synonyms, confirmed by values) and
:func:`propose_stage_values` / ``_StageMatcher`` (stage labels by name and containment)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from ..packs import Pack
from .cells import _key, _normalise_text
from .headers import (
    DURATION,
    _duration_unit,
    _header_keys,
    duration_column,
    is_platform_column,
    normalise_header,
)
from .mapping import _targets
from .values import _clean_dates, _stars, label_scales, parse_duration, parse_score

AUTO_MATCH_MIN = 0.85  # score a header needs to be used without being named in the mapping
PROPOSE_MIN = 0.6  # score a header needs to be proposed in a draft mapping


# --------------------------------------------------------------------------------- proposing a mapping
FIT_SAMPLE_ROWS = 5000  # rows whose values decide whether a header can be a field (value_fit)
FIT_SHARE = 0.8


def _known_label(t: str) -> bool:
    k = _key(t)
    return _stars(t) is not None or any(k in pt for sc in label_scales() for pt in sc.points)


def value_fit(
    raw: pd.DataFrame,
    pack: Pack,
    scales: dict[str, tuple[float, float]] | None = None,
    value_codes: dict[str, dict[str, str]] | None = None,
) -> Callable[[str, str], bool]:
    """``fits(header, id)`` for :func:`propose_mapping`: can the header's values be that field? Judged on the
    distinct values of the first :data:`FIT_SAMPLE_ROWS` rows: a KPI or attribute needs ``FIT_SHARE`` of them
    to be points of its scale (the mapping's ``scales`` when declared) or labels of a known label scale of
    any size; a date needs that share of readable dates, a duration that share of readable durations. So a duration (``125秒``), a 0/1 multiple-choice
    column or an IP address is not proposed as a score or a date. Other fields and empty columns fit."""
    sc = {k: v.scale for k, v in pack.kpis.items()} | {a: v.scale for a, v in pack.attributes.items()}
    cache: dict[str, list[str]] = {}

    def values(h: str) -> list[str]:
        if h not in cache:
            codes = (value_codes or {}).get(h) or {}
            col = raw[h].iloc[:FIT_SAMPLE_ROWS].dropna().unique()[:500]
            cache[h] = [codes.get(t, t) for t in (_normalise_text(v) for v in col) if t is not None]
        return cache[h]

    def fits(h: str, fid: str) -> bool:
        if h not in raw.columns or (fid not in sc and fid not in ("date", DURATION)):
            return True
        vals = values(h)
        if not vals:
            return True
        if fid == DURATION:
            unit = _duration_unit(h)
            return sum(parse_duration(t, unit) is not None for t in vals) >= FIT_SHARE * len(vals)
        if fid == "date":
            return int(_clean_dates(pd.Series(vals, dtype="str")).notna().sum()) >= FIT_SHARE * len(vals)
        lo, hi = (scales or {}).get(fid) or (sc[fid].min, sc[fid].max)
        good = 0
        for t in vals:
            x = parse_score(t)
            good += (lo <= x <= hi and float(x).is_integer()) if x is not None else _known_label(t)
        return good >= FIT_SHARE * len(vals)

    return fits


def _spread_in(t: str, h: str) -> int | None:
    """Length of the shortest stretch of ``h`` holding the characters of ``t`` in order (None: none does)."""
    best = None
    for i, ch in enumerate(h):
        if ch != t[0]:
            continue
        j, k = i, 0
        while j < len(h) and k < len(t):
            if h[j] == t[k]:
                k += 1
            j += 1
        if k < len(t):
            break  # no later start can finish either
        if best is None or j - i < best:
            best = j - i
    return best


def _score(h: str, t: str) -> float:
    """Similarity of two normalised names: 1 equal; containment scored by coverage; a name of ≥ 3
    characters found in order with a few particles between (销售顾问专业 in 销售顾问的专业程度, 意见建议 in
    其他意见或建议) a little less; else 0.9 × the difflib ratio when that is ≥ 0.6."""
    if not h or not t:
        return 0.0
    if h == t:
        return 1.0
    if len(t) >= 2 and t in h:
        return 0.75 + 0.2 * len(t) / len(h)
    if len(h) >= 2 and h in t and 2 * len(h) >= len(t):  # a header inside a name: at least half of it
        return 0.65 + 0.2 * len(h) / len(t)
    if len(t) >= 3 and len(t) < len(h):
        spread = _spread_in(t, h)
        if spread is not None and spread <= len(t) + max(1, len(t) // 3):
            return 0.72 + 0.2 * len(t) / len(h)
    r = difflib.SequenceMatcher(None, h, t).ratio()
    return 0.9 * r if r >= 0.6 else 0.0


def propose_mapping(
    table_headers: Iterable[str],
    pack: Pack,
    labels: dict[str, str] | None = None,
    min_score: float = PROPOSE_MIN,
    fits: Callable[[str, str], bool] | None = None,
) -> dict[str, Any]:
    """Match client headers to the pack's ids by field synonyms and KPI/attribute/segment names (zh/en).

    Headers and names are normalised (:func:`normalise_header`); a pair scores 1 when equal, 0.75-0.95 when
    one contains the other (more for more coverage), 0.72-0.92 when a name of ≥ 3 characters appears in order
    with a few characters between (see :func:`_score`), else 0.9 × the difflib ratio when that is ≥ 0.6.
    ``labels`` (SPSS variable labels, Qualtrics question texts by header) are scored too, and so is the row of
    a matrix question (:func:`_header_keys`); the best score counts. Platform columns
    (:func:`is_platform_column`: time taken, IP, …) are never proposed for a pack field; the first one that
    holds the time taken (:func:`duration_column`) is proposed for ``duration`` (score 1) when its values read
    as durations, and is then no longer listed under ``platform``. ``fits(header, id)``, when given,
    vetoes a pair whose values cannot be that field (see :func:`value_fit`) unless the header is exactly
    one of the field's names. Pairs are taken best first
    (ties: the name the pack lists first, then the earlier header), each header and id once. Returns
    ``{"columns": {header: id}, "matches": {header: {"field", "score", "via"}}, "unplaced": [headers],
    "platform": [headers], "missing_required": [ids]}``."""
    headers = [str(h) for h in table_headers]
    labels = labels or {}
    names = {fid: [(n, normalise_header(n)) for n in ns] for fid, ns in _targets(pack).items() if fid != DURATION}
    pairs: list[tuple[float, int, int, str, str, str]] = []
    platform = [h for h in headers if is_platform_column(h) or is_platform_column(labels.get(h) or h)]
    for order, h in enumerate(headers):
        if h in platform:
            continue
        keys = _header_keys(h) + (_header_keys(labels[h]) if labels.get(h) else [])
        for fid, ns in names.items():
            best, rank, via = 0.0, 0, ""
            for i, (raw_name, key) in enumerate(ns):
                s = max(_score(k, key) for k in keys)
                if s > best:
                    best, rank, via = s, i, raw_name
            if best >= min_score:
                pairs.append((best, -rank, -order, h, fid, via))
    pairs.sort(reverse=True)  # best score; then the name listed first (问卷编号 before 序号); then file order
    columns: dict[str, str] = {}
    matches: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for s, _, _, h, fid, via in pairs:
        if h in columns or fid in used:
            continue
        if fits is not None and s < 1.0 and not fits(h, fid):  # a header named exactly is trusted: its
            continue  # bad values are then quarantined with their reason, not hidden by leaving it out
        columns[h], matches[h] = fid, {"field": fid, "score": round(s, 3), "via": via}
        used.add(fid)
    for h in headers:  # the time taken: by its platform name only, never by similarity
        via = duration_column(h, pack) or (duration_column(labels[h], pack) if labels.get(h) else None)
        if via and DURATION not in used and h not in columns and (fits is None or fits(h, DURATION)):
            columns[h], matches[h] = DURATION, {"field": DURATION, "score": 1.0, "via": via}
            used.add(DURATION)
    platform = [h for h in platform if h not in columns]
    columns = {h: columns[h] for h in headers if h in columns}
    return {
        "columns": columns,
        "matches": {h: matches[h] for h in columns},
        "unplaced": [h for h in headers if h not in columns and h not in platform],
        "platform": platform,
        "missing_required": [f for f, spec in pack.fields.items() if spec.required and f not in used],
    }


_STAGE_SUFFIX = re.compile(r"(环节|阶段|问卷|调研|调查|满意度|体验|场景|触点|survey|stage)+$")


class _StageMatcher:
    """Client stage labels → stage ids by the stage's id, name, trigger and touchpoint names."""

    def __init__(self, pack: Pack):
        self.names: dict[str, set[str]] = {}
        for st in pack.stages:
            for n in (
                st.id,
                st.name.zh,
                st.name.en,
                *(st.trigger and (st.trigger.zh, st.trigger.en) or ()),
                *(x for tp in st.touchpoints for x in (tp.name.zh, tp.name.en)),
            ):
                k = _key(n)
                if k:
                    self.names.setdefault(k, set()).add(st.id)

    def match(self, label: str) -> tuple[str | None, str]:
        """(stage id, how) with how ∈ exact | contains | similar; (None, "") when nothing fits."""
        k = _key(label)
        if not k:
            return None, ""
        for key in (k, _STAGE_SUFFIX.sub("", k)):
            ids = self.names.get(key)
            if ids and len(ids) == 1:
                return next(iter(ids)), "exact"
        core = _STAGE_SUFFIX.sub("", k) or k
        hits = {
            i
            for n, ids in self.names.items()
            if len(core) >= 2 and len(n) >= 2 and (core in n or n in core)
            for i in ids
        }
        if len(hits) == 1:
            return hits.pop(), "contains"
        ratios: dict[str, float] = {}
        for n, ids in self.names.items():
            r = difflib.SequenceMatcher(None, core, n).ratio()
            for i in ids:
                ratios[i] = max(ratios.get(i, 0.0), r)
        top = sorted(ratios.items(), key=lambda kv: -kv[1])
        if top and top[0][1] >= 0.75 and (len(top) == 1 or top[1][1] < top[0][1]):
            return top[0][0], "similar"
        return None, ""


def propose_stage_values(labels: Iterable[str], pack: Pack) -> dict[str, str | None]:
    """A draft ``stage_values``: each distinct client label → the stage id it names (None when unsure)."""
    m = _StageMatcher(pack)
    return {str(lab): m.match(str(lab))[0] for lab in labels if lab is not None and str(lab).strip()}
