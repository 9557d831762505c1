"""Understanding a client header: :func:`normalise_header` (question numbering and trailing hints
removed), the keys a header offers for matching (matrix rows, bracketed items), columns that survey platforms
add (platforms.yaml: IP, browser, time taken …), the time-taken column (:data:`DURATION`) and its unit, the
closest header for an error message, and which row of a file is the header (:func:`_header_index`)."""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import yaml

from ..packs import Pack
from .cells import DATA_DIR, _key

#: the optional field holding the seconds a respondent took (a platform column such as 所用时间 / 答题时长 /
#: ``Duration (in seconds)``), for the speeder check; every pack has it without declaring it
DURATION = "duration"


_QNUM = re.compile(r"^(?:q\s*\d+[a-z]?(?:[_.\-]\d+)*|\d+)(?:[._、:：)\]|\s-]+|(?=[(（]))", re.IGNORECASE)
_TAIL_HINT = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]\s*$")


def normalise_header(header: str) -> str:
    """A header reduced for matching: NFKC, case-folded, question numbers (``Q12.``, ``3、``) and a trailing
    hint in brackets (``（0-10分）``) removed, then whitespace, punctuation and symbols removed."""
    s = unicodedata.normalize("NFKC", str(header)).strip()
    unnumbered = _QNUM.sub("", s, count=1)
    s = unnumbered if unnumbered.strip() else s
    stripped = _TAIL_HINT.sub("", s)
    return _key(stripped if _key(stripped) else s)


_TAIL_ITEM = re.compile(r"[(\[【]([^()\[\]【】]+)[)\]】]\s*$")
_HINT = re.compile(r"\d|分|选填|必填|单选|多选|最多|至少|请|填写|注明|optional|required|select|choose|check",
                   re.IGNORECASE)
_ITEM_SPLIT = re.compile(r"\s+-\s+|\s*[|｜]\s*|\s*—+\s*")


def _header_keys(header: str) -> list[str]:
    """Keys a header is matched by: :func:`normalise_header`, then the row of a matrix question when the
    header names one: in brackets at the end (问卷星 ``4、请评价(服务态度)``; brackets holding a hint such as
    ``（1-10分）`` or ``（选填）`` are no row) or after ``|``, ``—`` or `` - `` (腾讯问卷 ``Q3|服务态度``,
    Qualtrics / SurveyMonkey ``请评价 - 服务态度``)."""
    keys = [normalise_header(header)]
    s = unicodedata.normalize("NFKC", str(header)).strip()
    s = _QNUM.sub("", s, count=1)
    m = _TAIL_ITEM.search(s)
    if m and not _HINT.search(m.group(1)):
        keys.append(_key(m.group(1)))
    parts = _ITEM_SPLIT.split(_TAIL_HINT.sub("", s) if m is None or _HINT.search(m.group(1)) else s)
    if len(parts) > 1:
        keys.append(_key(_TAIL_HINT.sub("", parts[-1]) or parts[-1]))
    return list(dict.fromkeys(k for k in keys if k))
_MINUTES_HINT = re.compile(r"分钟|minutes?|\bmins?\b", re.IGNORECASE)


def _duration_unit(header: str) -> float:
    """Seconds in a plain number of a duration column: 60 when its header says minutes (用时（分钟）)."""
    return 60.0 if _MINUTES_HINT.search(unicodedata.normalize("NFKC", str(header))) else 1.0


@functools.cache
def _platforms() -> dict[str, Any]:
    """platforms.yaml (see the comments there), with its names as comparison keys."""
    data = yaml.safe_load((DATA_DIR / "platforms.yaml").read_text(encoding="utf-8")) or {}
    cols = data.get("platform_columns") or {}
    durations = [str(h) for h in data.get("duration_columns") or ()]
    return {
        "synonyms": {str(f): [str(n) for n in ns or ()] for f, ns in (data.get("synonyms") or {}).items()},
        "exact": frozenset(_key(str(h)) for h in [*(cols.get("exact") or ()), *durations]),
        "duration": {k: h for h in durations for k in (_key(h), normalise_header(h))},
        "prefixes": tuple(_key(str(h)) for h in cols.get("prefixes") or ()),
        "summary": frozenset(_key(str(t)) for t in data.get("summary_tokens") or ()),
        "summary_cells": tuple(
            dict.fromkeys(
                v + end
                for t in data.get("summary_tokens") or ()
                for v in (str(t), str(t).upper(), str(t).capitalize(), str(t).title())
                for end in ("", ":", "：", "值")
            )
        ),
        "subheader": frozenset(_key(str(t)) for t in data.get("subheader_tokens") or ()),
    }


_BILINGUAL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 &/.'()\-]*?)\s+([^\x00-\x7f].*?)\s*$|"
                        r"^\s*([^\x00-\x7f][^A-Za-z]*?)\s+([A-Za-z][A-Za-z0-9 &/.'()\-]*?)\s*$")


def header_parts(header: str) -> list[str]:
    """The header, and its two halves when it says one thing in English (or a code) and Chinese: ``Channel
    来源渠道``, ``LOI 访问时长(分钟)``, ``开始时间 Start Time``."""
    s = re.sub(r"\.\d+$", "", unicodedata.normalize("NFKC", str(header)))  # a repeated header "来源.1"
    m = _BILINGUAL.match(s)
    return [s, *(g for g in m.groups() if g)] if m else [s]


def is_platform_column(header: str) -> bool:
    """Does the header (or one half of a bilingual header) name what a survey platform adds about a
    submission (time taken, IP, location, device, link source, start time …; platforms.yaml
    ``platform_columns``)? Such columns are never proposed for a pack field."""
    p = _platforms()
    for part in header_parts(header):
        k = _key(part)
        if k in p["exact"] or any(k.startswith(x) for x in p["prefixes"] if x):
            return True
    return False


def duration_column(header: str, pack: Pack | None = None) -> str | None:
    """The name by which a header is known to hold the time a respondent took (platforms.yaml
    ``duration_columns``, or the pack's ``fields.duration.synonyms``), or None: ``所用时间``, ``答题时长``,
    ``Duration (in seconds)``, ``用时（秒）``. Only exact names (after normalising) count: a question about how
    long the service took is not a duration column."""
    names = dict(_platforms()["duration"])
    spec = pack.fields.get(DURATION) if pack is not None else None
    for n in spec.synonyms if spec else ():
        names.setdefault(_key(n), n)
        names.setdefault(normalise_header(n), n)
    for h in header_parts(header):
        found = names.get(_key(h)) or names.get(normalise_header(h))
        if found:
            return found
    return None


def _closest(name: str, candidates: Iterable[str]) -> str | None:
    cands = list(candidates)
    if not cands:
        return None
    key = normalise_header(name)
    return max(cands, key=lambda c: difflib.SequenceMatcher(None, key, normalise_header(c)).ratio())


HEADER_PROBE_ROWS = 30


def _header_index(rows: list[list[Any]]) -> int:
    """Index of the header row: the first of the first rows whose filled-cell count reaches 60% of the
    widest of them (title rows above a header fill one or two cells)."""
    counts = [sum(1 for v in r if v is not None and str(v).strip()) for r in rows[:HEADER_PROBE_ROWS]]
    if not counts or max(counts) <= 1:
        return 0
    need = max(2, math.ceil(0.6 * max(counts)))
    return next(i for i, c in enumerate(counts) if c >= need)
