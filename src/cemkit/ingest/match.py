"""Matching a client's columns and labels to the pack: :func:`value_fit` (what a column's values can be),
:func:`propose_mapping` (headers scored against every field's names and synonyms, confirmed by values) and
:func:`propose_stage_values` / ``_StageMatcher`` (stage labels by name and containment)."""

from __future__ import annotations

import difflib
import re
import unicodedata
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
from .understand import (
    Answers,
    _date_count,
    concept_against,
    concept_score,
    concepts,
    read_question,
    similarity,
)
from .values import _stars, label_scales, parse_duration, parse_score

AUTO_MATCH_MIN = 0.85  # score a header needs to be used without being named in the mapping
PROPOSE_MIN = 0.6  # score a header needs to be proposed in a draft mapping


# --------------------------------------------------------------------------------- proposing a mapping
FIT_SAMPLE_ROWS = 5000  # rows whose values decide whether a header can be a field (value_fit)
FIT_SHARE = 0.8


def _known_label(t: str) -> bool:
    k = _key(t)
    return _stars(t) is not None or any(k in pt for sc in label_scales() for pt in sc.points)


_VALUE_KINDS_OF = {"response_id": "id", "comment": "text", "phone": "phone", "name": "short_text", "stage": "stage",
                   "weight": "number"}


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
        self._matcher: _StageMatcher | None = None

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
                    self._matcher = _StageMatcher(self.pack)
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
        return self.answers(h).fits(kind or "any")


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
        s = max(max(_score(k, key) for k in keys), max(similarity(q, raw_name, question_like) for q in qs))
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
    "scales": {id: (min, max)},
    "platform": [headers], "missing_required": [ids]}``; ``scales`` holds the scales the headers state where
    they differ from the pack's."""
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
    for order, h in enumerate(headers):
        if h in platform:
            continue
        keys = _header_keys(h) + (_header_keys(labels[h]) if labels.get(h) else [])
        qs = [read_question(h)] + ([read_question(labels[h])] if labels.get(h) else [])
        for fid, ns in names.items():
            best, via, exact = _pair_score(h, qs, keys, fid, ns, fits, exact_names.get(fid, set()), scored)
            if best <= 0:
                continue
            rank = next((i for i, (n, _) in enumerate(ns) if n == via), len(ns))
            if fits is not None and not exact and not fits(h, fid):
                continue  # a header named exactly is trusted: its bad values are then quarantined with their
            candidates.setdefault(h, []).append((fid, round(best, 3)))  # reason, not hidden by leaving it out
            if best > best_for.get(fid, ("", 0.0))[1]:
                best_for[fid] = (h, best)
            if best >= min_score:
                pairs.append((best, -rank, -order, h, fid, via, exact))
    columns: dict[str, str] = {}
    matches: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for s, h, fid, via in _assign(pairs):
        columns[h], matches[h] = fid, {"field": fid, "score": round(s, 3), "via": via}
        used.add(fid)
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
        "closest": {f: h for f, (h, _) in best_for.items()},
        "scales": scales,
        "platform": platform,
        "missing_required": [f for f, spec in pack.fields.items() if spec.required and f not in used],
    }


_STAGE_SUFFIX = re.compile(r"(环节|阶段|问卷|调研|调查|满意度|体验|场景|触点|回访|评价|后|期|survey|stage|feedback)+$")
_STAGE_PREFIX = re.compile(r"^(新车|销售|售后|业主|客户|会员|线上|线下|门店|sales|service|customer)+")
_LABEL_SPLIT = re.compile(r"\s*[-–—/|｜·:：]\s*|\s+(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s+")
_CONJUNCTION = re.compile(r"\s*(?:与|及|和|、|&|\band\b)\s*", re.IGNORECASE)
STAGE_AUTO_MIN = 0.8  # a label matched by similarity alone is used in a run without a mapping from this score


class _StageMatcher:
    """Client stage labels → stage ids by meaning: the stage's id, names, trigger, touchpoint names and
    ``synonyms`` (pack.yaml) in both languages, compared whole, by containment (提车 ⊂ 交车提车) and by
    :func:`similarity`, on the label and on its parts (``售后-首保``, ``Purchase 购买``) with survey words
    (回访, 满意度, survey …) and line-of-business prefixes (销售, 售后, Sales, Service …) taken off."""

    def __init__(self, pack: Pack):
        self.names: dict[str, set[str]] = {}
        self.raw: dict[str, list[str]] = {}
        for st in pack.stages:
            for n in (
                st.id,
                st.id.replace("_", " "),
                st.name.zh,
                st.name.en,
                *(st.trigger and (st.trigger.zh, st.trigger.en) or ()),
                *(x for tp in st.touchpoints for x in (tp.name.zh, tp.name.en)),
                *getattr(st, "synonyms", ()),
            ):
                k = _key(n)
                if k:
                    self.names.setdefault(k, set()).add(st.id)
                    self.raw.setdefault(st.id, []).append(n)

    def _cores(self, label: str) -> list[str]:
        k = _key(label)
        out = [k, _STAGE_SUFFIX.sub("", k)]
        out.append(_STAGE_PREFIX.sub("", out[-1]))
        parts = [p for p in _LABEL_SPLIT.split(unicodedata.normalize("NFKC", str(label)).strip()) if _key(p)]
        if any(not any(ch.isalpha() for ch in p) for p in parts):
            parts = []  # a part that is only digits (交车 139****6666): the label holds something else, not read by parts
        if len(parts) > 1:
            for p in reversed(parts):
                pk = _key(p)
                if not _STAGE_PREFIX.sub("", pk):
                    continue  # a line of business beside a stage (售后-首保, Service - Warranty)
                out += [pk, _STAGE_SUFFIX.sub("", pk), _STAGE_PREFIX.sub("", _STAGE_SUFFIX.sub("", pk))]
        return list(dict.fromkeys(c for c in out if c))

    def scores(self, label: str) -> dict[str, float]:
        """Stage id → how well the label names it (0-1)."""
        out: dict[str, float] = {}
        cores = self._cores(label)
        for core in cores:
            for n, ids in self.names.items():
                if core == n:
                    s = 1.0
                elif len(core) >= 2 and len(n) >= 2 and (core in n or n in core):
                    share = min(len(core), len(n)) / max(len(core), len(n))
                    # a short name inside a long label is a match where it is the label's head (the end of
                    # a Chinese compound: 热线 in 信用卡热线) or an English word; elsewhere (展厅 in 展厅外活动,
                    # an event outside the showroom) only a hint
                    head = core.endswith(n) or (n.isascii() and len(n) >= 4)
                    s = 0.85 + 0.1 * share if share >= 0.5 or core in n or head else 0.7 + 0.1 * share
                else:
                    continue
                for i in ids:
                    out[i] = max(out.get(i, 0.0), s)
        q = read_question(label)
        shortest = min(len(c) for c in cores)
        for sid, names in self.raw.items():
            # names much shorter than the label were weighed by containment above (展厅 in 展厅外活动)
            sims = [similarity(q, n) for n in names if 2 * len(_key(n)) >= shortest]
            sim = max(sims, default=0.0)
            if sim > out.get(sid, 0.0):
                out[sid] = sim
        return out

    def match(self, label: str) -> tuple[str | None, str]:
        """(stage id, how) with how ∈ exact | contains | similar; (None, "") when nothing fits or two stages
        fit as well."""
        k = _key(label)
        if not k:
            return None, ""
        parts = [p for p in _CONJUNCTION.split(unicodedata.normalize("NFKC", str(label))) if _key(p)]
        if len(parts) > 1 and len({self.match(p)[0] for p in parts} - {None}) > 1:
            return None, ""  # two stages joined (交车与首保): the client must say which
        for key in self._cores(label)[:3]:
            ids = self.names.get(key)
            if ids and len(ids) == 1:
                return next(iter(ids)), "exact"
        ranked = sorted(self.scores(label).items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] < 0.7:
            return None, ""
        if len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - 0.02:
            return None, ""
        top, s = ranked[0]
        return top, ("contains" if s >= 0.85 else "similar" if s >= STAGE_AUTO_MIN else "weak")

    def suggest(self, label: str) -> str | None:
        """The closest stage for a label left unmatched (for the draft's comment)."""
        ranked = sorted(self.scores(label).items(), key=lambda kv: -kv[1])
        return ranked[0][0] if ranked and ranked[0][1] >= 0.5 else None


def propose_stage_values(labels: Iterable[str], pack: Pack) -> dict[str, str | None]:
    """A draft ``stage_values``: each distinct client label → the stage id it names (None when unsure)."""
    m = _StageMatcher(pack)
    out = {}
    for lab in labels:
        if lab is None or not str(lab).strip():
            continue
        sid, how = m.match(str(lab))
        out[str(lab)] = sid if how in ("exact", "contains", "similar") else None
    return out
