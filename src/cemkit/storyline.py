"""The slide manifest: a pack's ``storyline.yaml`` → frozen slide specs, validated with file and line.

A storyline lists slides in order. Each slide names a layout of the PPTX master, the result it is drawn
from, a chart spec, and a title template filled from the result's facts (see :mod:`cemkit.i18n`). A title
may be a list of alternatives, each with a ``when`` condition on the facts; the first that holds is used.
Analysts add, drop or reorder slides by editing the YAML; no Python is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import PackError, Problem
from .i18n import LANGS, fmt

__all__ = [
    "CHART_TYPES",
    "KNOWN_RESULTS",
    "LAYOUTS",
    "ChartSpec",
    "FactUnavailable",
    "SlideSpec",
    "condition_holds",
    "load_storyline",
    "optional_text",
    "pick_text",
    "validate",
]

# Layout names every PPTX master must provide (docs/templates.md lists their placeholders).
LAYOUTS = ("title", "section", "chart", "two_charts", "table", "quotes", "summary", "appendix")
CHART_TYPES = ("bar", "stacked100", "line", "scatter", "table", "quotes", "bullets", "heatmap", "wordcloud")

# Results the standard notebooks write, with the notebook that writes them. A pack may declare more under
# `extra_results:` when it ships a notebook of its own.
KNOWN_RESULTS = {
    "data_quality": "01_data_check", "quarantine_reasons": "01_data_check", "masking": "01_data_check",
    "journey_curve": "02_journey", "journey_table": "02_journey", "nps_composition": "02_journey",
    "wave_trend": "02_journey", "wave_changes": "02_journey", "league": "02_journey", "segment_diffs": "02_journey",
    "stage_drivers": "03_drivers", "priority_matrix": "03_drivers", "stage_importance": "03_drivers",
    "themes": "04_text", "theme_stage": "04_text", "theme_impact": "04_text", "quotes": "04_text",
    "keywords": "04_text", "discovery": "04_text", "wordcloud": "04_text", "distinctive_words": "04_text",
    "alerts_summary": "05_actions", "playbooks": "05_actions", "prediction": "06_predict",
    "exec_summary": "render",
}


@dataclass(frozen=True)
class ChartSpec:
    type: str
    category: str | None = None
    series: tuple[str, ...] = ()
    series_names: tuple[str, ...] = ()      # message-catalogue keys or literal names, one per series
    labels: bool = True
    number_format: str = "0"
    highlight: str | None = None            # boolean column: bars drawn in the accent colour
    marker: str | None = None               # column whose text (↑/↓) is appended to the category label
    x: str | None = None
    y: str | None = None
    label: str | None = None
    columns: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    colour_by: str | None = None
    horizontal: bool = False
    sort: str | None = None                 # column to sort by (descending) before drawing
    top: int | None = None                  # keep the first N rows
    filter: dict[str, Any] = field(default_factory=dict)  # keep rows whose column equals value


@dataclass(frozen=True)
class SlideSpec:
    id: str
    layout: str
    result: str | None
    chart: ChartSpec | None
    title: tuple[dict, ...]
    chart2: ChartSpec | None = None          # second chart of a two_charts slide
    subtitle: tuple[dict, ...] = ()
    notes: tuple[dict, ...] = ()
    takeaway: tuple[dict, ...] = ()
    summary: bool = False
    section: str | None = None
    require: dict[str, Any] = field(default_factory=dict)   # facts that must hold for the slide to appear
    line: int | None = None


def _alternatives(value: Any) -> tuple[dict, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, dict)):
        value = [value]
    out = []
    for v in value:
        out.append({"zh": v, "en": v} if isinstance(v, str) else dict(v))
    return tuple(out)


def condition_holds(cond: dict | None, facts: dict) -> bool:
    """True when every key of ``cond`` equals the fact (a list means 'one of')."""
    for k, want in (cond or {}).items():
        have = facts.get(k)
        if isinstance(want, list) and have in want:
            continue
        if have != want:
            return False
    return True


class FactUnavailable(Exception):
    """A title's facts exist but have no value (too little data for that finding): the slide is left out."""


def pick_text(alternatives: tuple[dict, ...], facts: dict, lang: str) -> str:
    """The first alternative whose ``when`` holds and whose facts all have values, formatted in ``lang``
    ('' if there are no alternatives). Raises FactUnavailable when facts needed are empty (None)."""
    unavailable = False
    for alt in alternatives:
        if condition_holds(alt.get("when"), facts):
            try:
                return fmt(alt.get(lang) or alt.get("zh") or "", facts, lang)
            except TypeError:  # a fact is None, e.g. no wave change on a single wave
                unavailable = True
    if unavailable:
        raise FactUnavailable("a fact the text needs has no value")
    return ""


def load_storyline(pack) -> list[SlideSpec]:
    """Slide specs of a pack; raises PackError with every problem."""
    problems = validate(pack)
    if problems:
        raise PackError(problems)
    return _parse(pack)[0]


def _parse(pack) -> tuple[list[SlideSpec], list[Problem]]:
    data = pack.section("storyline")
    lines = pack.raw.get("storyline.__lines__", {})
    fname = pack.file("storyline").name if pack.file("storyline") else "storyline.yaml"
    problems: list[Problem] = []
    if data is None:
        return [], [Problem("pack.yaml", "files.storyline", "the pack names no storyline file")]
    known = set(KNOWN_RESULTS) | set(data.get("extra_results") or [])
    slides = []
    chart_fields = set(ChartSpec.__dataclass_fields__)
    for i, s in enumerate(data.get("slides") or []):
        key = ("slides", i)
        line = lines.get(key)

        def add(msg: str, sub: tuple = (), key: tuple = key, line: int | None = line) -> None:
            problems.append(Problem(fname, ".".join(map(str, key + sub)), msg, lines.get(key + sub, line)))

        if not isinstance(s, dict) or not s.get("id"):
            add("slide needs an id")
            continue
        layout = s.get("layout", "chart")
        if layout not in LAYOUTS:
            add(f"unknown layout {layout!r} (layouts: {', '.join(LAYOUTS)})", ("layout",))
        result = s.get("result")
        if result is not None and result not in known:
            add(f"unknown result {result!r} (results: {', '.join(sorted(known))})", ("result",))
        charts = {}
        for ckey in ("chart", "chart2"):
            if not s.get(ckey):
                continue
            c = dict(s[ckey])
            bad = set(c) - chart_fields
            if bad:
                add(f"unknown chart keys {sorted(bad)}", (ckey,))
            if c.get("type") not in CHART_TYPES:
                add(f"unknown chart type {c.get('type')!r} (types: {', '.join(CHART_TYPES)})", (ckey, "type"))
            for k in ("series", "series_names", "columns", "headers"):
                if k in c:
                    c[k] = tuple(c[k])
            if not bad:
                charts[ckey] = ChartSpec(**c)
        title = _alternatives(s.get("title"))
        for field_name in ("title", "subtitle", "notes", "takeaway"):
            for alt in _alternatives(s.get(field_name)):
                missing = [lang for lang in LANGS if lang not in alt]
                extra = sorted(set(alt) - {*LANGS, "when"})
                if missing:
                    add(f"{field_name} needs both zh and en (missing {missing})", (field_name,))
                if extra:  # typically an unquoted comma inside {zh: ..., en: ...}
                    add(f"{field_name} has unexpected keys {extra}: quote texts that contain a comma", (field_name,))
        for st in s.get("stages") or []:
            if st not in pack.stage_ids:
                add(f"unknown stage {st!r}", ("stages",))
        slides.append(SlideSpec(
            id=s["id"], layout=layout, result=result, chart=charts.get("chart"), chart2=charts.get("chart2"), title=title,
            subtitle=_alternatives(s.get("subtitle")), notes=_alternatives(s.get("notes")),
            takeaway=_alternatives(s.get("takeaway")), summary=bool(s.get("summary", False)),
            section=s.get("section"), require=dict(s.get("require") or {}), line=line,
        ))
    ids = [s.id for s in slides]
    for sid in {x for x in ids if ids.count(x) > 1}:
        problems.append(Problem(fname, "slides", f"duplicate slide id {sid!r}"))
    return slides, problems


def validate(pack) -> list[Problem]:
    """Problems in the pack's storyline (unknown layout, result, chart type or stage; titles not bilingual)."""
    if pack.section("storyline") is None and pack.file("storyline") is None:
        return []
    return _parse(pack)[1]


def optional_text(alternatives: tuple[dict, ...], facts: dict, lang: str) -> str:
    """Like :func:`pick_text` for subtitles, notes and takeaways: '' when a fact has no value or is not among
    the facts at all (results written by an earlier cemkit version lack facts added since)."""
    try:
        return pick_text(alternatives, facts, lang)
    except (FactUnavailable, KeyError):
        return ""
