"""Matching a client's columns and labels to the pack: :func:`value_fit` (what a column's values can be),
:func:`propose_mapping` (headers scored against every field's names and synonyms, confirmed by values); stage
labels are matched in :mod:`cemkit.ingest.stages`."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

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
from .stages import StageMatcher
from .understand import (
    Answers,
    TermWeights,
    _date_count,
    concept_against,
    concept_score,
    concepts,
    read_question,
    similarity,
)
from .values import _stars, label_scales, parse_duration, parse_score

AUTO_MATCH_MIN = 0.85  # score a header needs to be used without being named in the mapping
OFF_JOURNEY_MIN = 0.95  # ... when it is an attribute of no stage the file's stage column names
PROPOSE_MIN = 0.6  # score a header needs to be proposed in a draft mapping
JOURNEY_PENALTY = 0.03  # taken off an attribute whose stage the file's stage labels never name
DISTINCT_WEIGHT = 0.5  # × how much less of a question's distinctive words an attribute explains than the best one
# a column headed as the touchpoint or stage whose labels are journey events, at least this share of them the
# pack's stages (报修完成 among 缴费成功, 访客登记), is the stage column: the other labels stay null (quarantined)
STAGE_EVENTS_SHARE = 0.25
STAGE_EVENTS_SCORE = 0.86
ATTRIBUTE_MARGIN = 0.03  # an attribute placed less than this above the header's next attribute is left to a person


# --------------------------------------------------------------------------------- proposing a mapping
FIT_SAMPLE_ROWS = 5000  # rows whose values decide whether a header can be a field (value_fit)
FIT_SHARE = 0.8


def _known_label(t: str) -> bool:
    k = _key(t)
    return _stars(t) is not None or any(k in pt for sc in label_scales() for pt in sc.points)


_VALUE_KINDS_OF = {"response_id": "id", "comment": "text", "phone": "phone", "name": "short_text", "stage": "stage",
                   "weight": "number", "touchpoint": "label"}


class ValueFit:
    """``fits(header, id)`` for :func:`propose_mapping`: can the header's values be that field? Judged on the
    distinct values of the first :data:`FIT_SAMPLE_ROWS` rows: a KPI or attribute needs ``FIT_SHARE`` of them
    to be points of its scale (the mapping's ``scales`` when declared, else the scale the header states,
    else the pack's) or labels of a known label scale of any size; a date needs that share of readable dates,
    a duration that share of readable durations. Other fields need answers of their kind
    (:meth:`Answers.fits`: an id is unique per row, a comment is free text, a phone a phone number, a segment
    or the stage a few labels …). So a duration (``125秒``), a 0/1 multiple-choice column or an IP address is
    not proposed as a score or a date. Empty columns fit. :meth:`stage_share` is the share of a column's
    distinct labels that name a stage of the pack (value evidence for the stage column)."""

    def __init__(self, raw: pd.DataFrame, pack: Pack, scales: dict[str, tuple[float, float]] | None = None,
                 value_codes: dict[str, dict[str, str]] | None = None,
                 labels: dict[str, str] | None = None):
        self.raw, self.pack, self.scales, self.codes = raw, pack, scales or {}, value_codes or {}
        self.labels = labels or {}
        self.sc = {k: v.scale for k, v in pack.kpis.items()} | {a: v.scale for a, v in pack.attributes.items()}
        self._values: dict[str, list[str]] = {}
        self._answers: dict[str, Answers] = {}
        self._stage: dict[str, float] = {}
        self._matcher: StageMatcher | None = None

    def values(self, h: str) -> list[str]:
        if h not in self._values:
            codes = self.codes.get(h) or {}
            col = self.raw[h].iloc[:FIT_SAMPLE_ROWS].dropna().unique()[:500]
            self._values[h] = [codes.get(t, t) for t in (_normalise_text(v) for v in col) if t is not None]
        return self._values[h]

    def answers(self, h: str) -> Answers:
        if h not in self._answers:
            self._answers[h] = Answers.of(self.raw[h])
        return self._answers[h]

    def stated_scale(self, h: str) -> tuple[float, float] | None:
        """The answer scale the header (or its label) states."""
        return read_question(h).scale or (read_question(self.labels[h]).scale if self.labels.get(h) else None)

    def stage_share(self, h: str) -> float:
        if h not in self.raw.columns:
            return 0.0
        if h not in self._stage:
            a = self.answers(h)
            share = 0.0
            if a.distinct and a.fits("stage") and len(a.distinct) <= 60 and a.numeric < 0.5:
                if self._matcher is None:
                    self._matcher = StageMatcher(self.pack)
                weight = {"exact": 1.0, "contains": 1.0, "similar": 0.5}
                share = sum(weight.get(self._matcher.match(t)[1], 0.0) for t in a.distinct) / len(a.distinct)
            self._stage[h] = share
        return self._stage[h]

    def __call__(self, h: str, fid: str) -> bool:
        if h not in self.raw.columns:
            return True
        vals = self.values(h)
        if not vals:
            return True
        if fid == DURATION:
            unit = _duration_unit(h)
            return sum(parse_duration(t, unit) is not None for t in vals) >= FIT_SHARE * len(vals)
        if fid == "date":
            return _date_count(vals) >= FIT_SHARE * len(vals)
        if fid in self.sc:
            if read_question(h).binary or (self.labels.get(h) and read_question(self.labels[h]).binary):
                return False  # answered yes / no: no score of any scale
            stated = self.stated_scale(h)
            if stated is not None and self.sc[fid].kind == "nps" and stated != (0.0, 10.0):
                stated = None
            lo, hi = self.scales.get(fid) or stated or (self.sc[fid].min, self.sc[fid].max)
            good = 0
            for t in vals:
                x = parse_score(t)
                good += (lo <= x <= hi and float(x).is_integer()) if x is not None else _known_label(t)
            return good >= FIT_SHARE * len(vals)
        kind = _VALUE_KINDS_OF.get(fid) or (concepts().get(fid) or {}).get("values")
        if kind is None and fid in self.pack.segment_ids:
            kind = "label"
        if fid == "channel" and self.answers(h).invitation_media:
            return False  # 短信 / 二维码 / email: how the survey was sent, not the pack's channel segment
        return self.answers(h).fits(kind or "any")

    def journey_drivers(self, headers: list[str]) -> set[str] | None:
        """The attributes (drivers) of the stages the file's stage column names: the header whose labels name
        the pack's stages best (at least half of them); None when no header does or no label names a stage."""
        best = max(((self.stage_share(h), h) for h in headers if h in self.raw.columns), default=(0.0, ""))
        if best[0] < 0.5:
            return None
        if self._matcher is None:
            self._matcher = StageMatcher(self.pack)
        present = {sid for t in self.answers(best[1]).distinct
                   if (sid := self._matcher.match(t)[0]) is not None and self._matcher.match(t)[1] != "weak"}
        if not present:
            return None
        return {a for st in self.pack.stages if st.id in present for a in st.drivers}


def value_fit(
    raw: pd.DataFrame,
    pack: Pack,
    scales: dict[str, tuple[float, float]] | None = None,
    value_codes: dict[str, dict[str, str]] | None = None,
    labels: dict[str, str] | None = None,
) -> ValueFit:
    """See :class:`ValueFit`."""
    return ValueFit(raw, pack, scales, value_codes, labels)


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


def _pair_score(h: str, qs: list, keys: list[str], fid: str, ns: list[tuple[str, str]], fits: Any,
                exact_names: set[str], pack_scored: set[str]) -> tuple[float, str, bool]:
    """(score, the name or cue that gave it, whether the header is exactly one of the field's own names)."""
    best, via, exact = 0.0, "", False
    question_like = fid in pack_scored
    for raw_name, key in ns:
        s = max(max((_score(k, key) for k in keys), default=0.0),  # a header of no words ('#') has no keys
                max(similarity(q, raw_name, question_like) for q in qs))
        if s > best:
            best, via = s, raw_name
        if s >= 1.0 and raw_name in exact_names:
            exact = True
    if best < 1.0 and any(concept_against(q, fid) for q in qs):
        best = 0.0
    con = max(concept_score(q, fid) for q in qs)
    if con > best:
        best, via = con, f"{fid} (question words)"
    if fid in ("nps", "csat", "ces") and best > 0:
        stated = next((q.scale for q in qs if q.scale), None)
        if stated == (0.0, 10.0) and fid == "nps":
            best = min(1.0, best + 0.05)
        elif stated and stated[0] == 1.0 and stated[1] <= 7 and fid != "nps":
            best = min(1.0, best + 0.03)
    share = fits.stage_share(h) if isinstance(fits, ValueFit) else None
    if fid == "stage" and share is not None and fits.answers(h).distinct:
        if share >= 0.5:
            best, via = max(best, 0.8 + 0.15 * share + (0.03 if con else 0.0)), "stage labels in the values"
        elif best < 1.0 and share < 0.3 and fits.answers(h).numeric < 0.8:
            best = min(best, 0.55)  # labels, none of them a stage (option numbers: the draft warns instead)
    if fid == "touchpoint" and share is not None and share >= 0.5:
        best = 0.0  # its values are the journey's stages: the stage column, whatever its header says
    kind = (concepts().get(fid) or {}).get("values")
    if best >= PROPOSE_MIN and kind in ("id", "date", "text", "phone") and isinstance(fits, ValueFit) \
            and fits.answers(h).distinct and fits(h, fid):
        best = min(1.0, best + 0.04)  # the answers confirm what the words say
    return best, via, exact


def _assign(pairs: list[tuple[float, int, int, str, str, str, bool]]) -> list[tuple[float, str, str, str]]:
    """Each header to one id and each id to one header, the total score as high as it can be (scipy's
    linear_sum_assignment): a header that could be the stage or the unit goes to the unit when another
    header can only be the stage. Ties: the name the pack lists first, then the earlier header."""
    if not pairs:
        return []
    hs = list(dict.fromkeys(p[3] for p in pairs))
    fs = list(dict.fromkeys(p[4] for p in pairs))
    hi, fi = {h: i for i, h in enumerate(hs)}, {f: i for i, f in enumerate(fs)}
    weight = np.zeros((len(hs), len(fs)))
    info: dict[tuple[int, int], tuple[float, str]] = {}
    for s, neg_rank, neg_order, h, fid, via, _ in pairs:
        w = s + 1e-4 * neg_rank / 100 + 1e-7 * neg_order
        if w > weight[hi[h], fi[fid]]:
            weight[hi[h], fi[fid]], info[(hi[h], fi[fid])] = w, (s, via)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return [(info[(r, c)][0], hs[r], fs[c], info[(r, c)][1]) for r, c in zip(rows, cols) if (r, c) in info]


def _too_close(assigned: list[tuple[float, str, str, str]], candidates: dict[str, list[tuple[str, float]]],
               attributes: set[str]) -> dict[str, list[tuple[str, float]]]:
    """Headers placed on an attribute that another attribute, not placed elsewhere, fits within
    :data:`ATTRIBUTE_MARGIN` (``Teller Courtesy``: a teller attribute or a courtesy one): header → the two
    candidates, for a person to choose. A line left out is a field missed; a wrong one misleads the analysis."""
    taken = {fid: h for _, h, fid, _ in assigned}
    out = {}
    for s, h, fid, _ in assigned:
        if fid not in attributes or s >= 1.0:
            continue
        rivals = [(f, x) for f, x in candidates.get(h, ()) if f in attributes and f != fid and taken.get(f, h) == h]
        if rivals:
            f2, x2 = max(rivals, key=lambda r: r[1])
            if s - x2 < ATTRIBUTE_MARGIN:
                out[h] = [(fid, round(s, 3)), (f2, round(x2, 3))]
    return out


def propose_mapping(
    table_headers: Iterable[str],
    pack: Pack,
    labels: dict[str, str] | None = None,
    min_score: float = PROPOSE_MIN,
    fits: Callable[[str, str], bool] | None = None,
) -> dict[str, Any]:
    """Match client headers to the pack's ids: by the field's names (synonyms, KPI/attribute/segment names in
    zh/en, attribute and stage synonyms) and by the question's own words (:mod:`cemkit.ingest.understand`).

    Each header is read as a question (:func:`read_question`: numbering, tags and scale hints removed); a pair
    scores 1 when equal, 0.75-0.95 when one contains the other, 0.72-0.92 when a name of ≥ 3 characters
    appears in order with a few characters between (:func:`_score`), 0.45-0.85 by the share of the name's
    characters or word stems the question holds (:func:`similarity`), or the concept's score when the question
    asks for the field in everyday words (data/concepts.yaml: 推荐 → nps, 麻烦 / easy → ces …). Values
    confirm or veto (``fits``, see :class:`ValueFit`): a column whose labels are the pack's stages is the stage
    column; ids unique per row, dates, free text and phone numbers raise the score a little; answers that
    cannot be the field's veto the pair unless the header is exactly one of the field's own names.
    ``labels`` (SPSS variable labels, Qualtrics question texts by header) are read too. Platform columns
    (:func:`is_platform_column`: time taken, IP, …) are never proposed for a pack field; the first one that
    holds the time taken (:func:`duration_column`) is proposed for ``duration`` (score 1) when its values read
    as durations. Pairs are taken best first (ties: the name the pack lists first, then the earlier header),
    each header and id once. Returns ``{"columns": {header: id}, "matches": {header: {"field", "score",
    "via"}}, "unplaced": [headers], "candidates": {header: [(id, score), …]}, "closest": {id: header},
    "scales": {id: (min, max)}, "close": [headers],
    "platform": [headers], "missing_required": [ids]}``; ``scales`` holds the scales the headers state where
    they differ from the pack's. When the file's stage column names stages of the pack, an attribute that is
    no driver of those stages scores :data:`JOURNEY_PENALTY` less (context breaks near ties) and its match
    is marked ``off_journey``. An attribute scores :data:`DISTINCT_WEIGHT` × (the best share − its share) less
    where another attribute's names hold more of the header's distinctive words (:class:`TermWeights`); a
    header placed on an attribute within :data:`ATTRIBUTE_MARGIN` of another is left unplaced (``close``,
    with both as its candidates). A column headed as the touchpoint or stage whose labels are events, at
    least :data:`STAGE_EVENTS_SHARE` of them stages, is the stage column (score :data:`STAGE_EVENTS_SCORE`)."""
    headers = [str(h) for h in table_headers]
    labels = labels or {}
    targets = _targets(pack)
    names = {fid: [(n, normalise_header(n)) for n in ns] for fid, ns in targets.items() if fid != DURATION}
    exact_names = {fid: {fid, *spec.synonyms} for fid, spec in pack.fields.items()}
    scored = {*pack.kpis, *pack.attributes}  # targets named like questions: matched by coverage too
    pairs: list[tuple[float, int, int, str, str, str, bool]] = []
    candidates: dict[str, list[tuple[str, float]]] = {}
    best_for: dict[str, tuple[str, float]] = {}
    platform = [h for h in headers if is_platform_column(h) or is_platform_column(labels.get(h) or h)]
    drivers = fits.journey_drivers([h for h in headers if h not in platform]) if isinstance(fits, ValueFit) else None
    weights = TermWeights({a: targets[a] for a in pack.attributes})
    for order, h in enumerate(headers):
        if h in platform:
            continue
        keys = _header_keys(h) + (_header_keys(labels[h]) if labels.get(h) else [])
        qs = [read_question(h)] + ([read_question(labels[h])] if labels.get(h) else [])
        explained = weights.explained(qs)
        most = max(explained.values(), default=0.0)
        events = isinstance(fits, ValueFit) and STAGE_EVENTS_SHARE <= fits.stage_share(h) < 0.5 and any(
            _pair_score(h, qs, keys, f, names[f], None, set(), scored)[0] >= PROPOSE_MIN
            for f in ("stage", "touchpoint") if f in names)
        for fid, ns in names.items():
            best, via, exact = _pair_score(h, qs, keys, fid, ns, fits, exact_names.get(fid, set()), scored)
            if events and fid in ("stage", "touchpoint"):  # journey events, some of them the pack's stages
                best, via = (STAGE_EVENTS_SCORE, "stage labels among events") if fid == "stage" else (0.0, via)
            if drivers is not None and fid in pack.attributes and fid not in drivers and best < 1.0:
                best -= JOURNEY_PENALTY  # an attribute of a stage the file's stage column never names
            if fid in explained and 0 < best < 1.0:  # another attribute accounts for more of the distinctive words
                best -= DISTINCT_WEIGHT * (most - explained[fid])
            if best <= 0:
                continue
            rank = next((i for i, (n, _) in enumerate(ns) if n == via), len(ns))
            if fits is not None and not exact and not fits(h, fid):
                continue
            if fid == "channel" and isinstance(fits, ValueFit) and fits.answers(h).invitation_media:
                continue  # even when named 渠道: answers 短信 / 二维码 are how the survey was sent  # a header named exactly is trusted: its bad values are then quarantined with their
            candidates.setdefault(h, []).append((fid, round(best, 3)))  # reason, not hidden by leaving it out
            if best > best_for.get(fid, ("", 0.0))[1]:
                best_for[fid] = (h, best)
            if best >= min_score:
                pairs.append((best, -rank, -order, h, fid, via, exact))
    columns: dict[str, str] = {}
    matches: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    assigned = _assign(pairs)
    close = _too_close(assigned, candidates, set(pack.attributes))
    for s, h, fid, via in assigned:
        if h in close:
            candidates[h] = close[h]
            continue
        columns[h], matches[h] = fid, {"field": fid, "score": round(s, 3), "via": via}
        if drivers is not None and fid in pack.attributes and fid not in drivers:
            matches[h]["off_journey"] = True  # no stage of the file's stage column asks it (clean.py: not
        used.add(fid)  # used unattended unless the header names it outright)
    for h in headers:  # the time taken: by its platform name only, never by similarity
        via = duration_column(h, pack) or (duration_column(labels[h], pack) if labels.get(h) else None)
        if via and DURATION not in used and h not in columns and (fits is None or fits(h, DURATION)):
            columns[h], matches[h] = DURATION, {"field": DURATION, "score": 1.0, "via": via}
            used.add(DURATION)
    platform = [h for h in platform if h not in columns]
    columns = {h: columns[h] for h in headers if h in columns}
    scales: dict[str, tuple[float, float]] = {}
    sc = {k: v.scale for k, v in pack.kpis.items()} | {a: v.scale for a, v in pack.attributes.items()}
    for h, fid in columns.items():
        stated = read_question(h).scale or (read_question(labels[h]).scale if labels.get(h) else None)
        if fid in sc and stated and stated != (sc[fid].min, sc[fid].max):
            scales[fid] = stated
    return {
        "columns": columns,
        "matches": {h: matches[h] for h in columns},
        "unplaced": [h for h in headers if h not in columns and h not in platform],
        "candidates": {h: sorted(c, key=lambda x: -x[1])[:2] for h, c in candidates.items() if h not in columns},
        "close": list(close),
        "closest": {f: h for f, (h, _) in best_for.items()},
        "scales": scales,
        "platform": platform,
        "missing_required": [f for f, spec in pack.fields.items() if spec.required and f not in used],
    }
