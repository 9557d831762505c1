"""The slide manifest: a pack's ``storyline.yaml`` → frozen slide specs, validated with file and line.

A storyline lists slides in order. Each slide names a layout of the PPTX master, the result it is drawn
from, a chart spec, and a title template filled from the result's facts (see :mod:`cemkit.i18n`). A title
may be a list of alternatives, each with a ``when`` condition on the facts; the first that holds is used.
Analysts add, drop or reorder slides by editing the YAML; no Python is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PackError, Problem
from .i18n import LANGS, fmt
from .results import catalogue
from .schema.problems import dotted as _dotted
from .schema.problems import line_of
from .schema.sections import CHART_TYPES, LAYOUTS, template_fields
from .schema.types import did_you_mean

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

# Results the standard notebooks write, with the notebook that writes them (cemkit/data/results.yaml, which
# also lists each result's facts). A pack may declare more under `extra_results:` when it ships a notebook
# of its own; the facts of those are not checked.
KNOWN_RESULTS = catalogue().notebook
_TEXTS = ("title", "subtitle", "notes", "takeaway")


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
    interval: tuple[str, ...] = ()          # (low, high) columns: error bars / interval of each bar
    ascending: bool = False                 # sort ascending (e.g. the most negative gap first)


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


def pick_text(alternatives: tuple[dict, ...], facts: dict, lang: str, record: list | None = None) -> str:
    """The first alternative whose ``when`` holds and whose facts all have values, formatted in ``lang``
    ('' if there are no alternatives). Raises FactUnavailable when facts needed are empty (None).
    ``record`` receives the fields filled (see :func:`cemkit.i18n.fmt`)."""
    unavailable = False
    for alt in alternatives:
        if condition_holds(alt.get("when"), facts):
            try:
                return fmt(alt.get(lang) or alt.get("zh") or "", facts, lang, record)
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
    return _parse(pack)


def _parse(pack) -> list[SlideSpec]:
    """Slide specs from a storyline that passed :func:`validate`."""
    data = pack.section("storyline")
    lines = pack.raw.get("storyline.__lines__", {})
    slides = []
    for i, s in enumerate(data.get("slides") or []):
        charts = {k: _chart(s[k]) for k in ("chart", "chart2") if s.get(k)}
        slides.append(SlideSpec(
            id=s["id"], layout=s.get("layout", "chart"), result=s.get("result"), chart=charts.get("chart"),
            chart2=charts.get("chart2"), title=_alternatives(s.get("title")), subtitle=_alternatives(s.get("subtitle")),
            notes=_alternatives(s.get("notes")), takeaway=_alternatives(s.get("takeaway")),
            summary=bool(s.get("summary", False)), section=s.get("section"), require=dict(s.get("require") or {}),
            line=lines.get(("slides", i)),
        ))
    return slides


def _references(data: dict, stage_ids: list[str] | None, add) -> None:
    """Unknown results and stages, facts a slide's result does not provide, duplicate slide ids. Only what
    has the right shape is looked at (the schema reports the rest)."""
    cat = catalogue()
    extra = {r for r in (data.get("extra_results") or []) if isinstance(r, str)}
    known = set(cat.notebook) | extra
    seen: set = set()
    for i, s in enumerate(data.get("slides") if isinstance(data.get("slides"), list) else []):
        if not isinstance(s, dict):
            continue
        key = ("slides", i)
        if isinstance(s.get("id"), str) and s["id"] in seen:
            add(f"duplicate slide id {s['id']!r}", key + ("id",))
        seen.add(s.get("id"))
        result = s.get("result")
        if isinstance(result, str) and result not in known:
            add(f"unknown result {result!r} ({did_you_mean(result, sorted(known), 'results')})", key + ("result",))
        elif result is None or (isinstance(result, str) and result not in extra):
            _check_facts(s, cat.provides(result) if result else cat.every_slide, result,
                         lambda msg, sub, key=key: add(msg, key + sub))
        stages = s.get("stages") if isinstance(s.get("stages"), list) and stage_ids is not None else []
        for j, st in enumerate(stages):
            if isinstance(st, str) and st not in stage_ids:
                add(f"unknown stage {st!r} ({did_you_mean(st, stage_ids, 'stages')})", key + ("stages", j))


def _chart(spec: dict) -> ChartSpec:
    c = dict(spec)
    for k in ("series", "series_names", "columns", "headers", "interval"):
        if k in c:
            c[k] = tuple(c[k])
    return ChartSpec(**c)


def _check_facts(slide: dict, facts: frozenset[str], result: str | None, add) -> None:
    """Every fact a slide's texts, ``when`` alternatives and ``require`` name must be one its result provides."""
    def check(name: Any, sub: tuple, use: str) -> None:
        if name not in facts:
            what = f"result {result!r}" if result else "a slide without a result"
            add(f"{use} fact {name!r}, which {what} does not provide "
                f"({did_you_mean(name, sorted(facts), 'facts')})", sub)

    for name in slide.get("require") if isinstance(slide.get("require"), dict) else {}:
        check(name, ("require", name), "requires")
    for field_name in _TEXTS:
        value = slide.get(field_name)
        alts = value if isinstance(value, list) else [value] if value is not None else []
        for j, alt in enumerate(alts):
            sub = (field_name, j) if isinstance(value, list) else (field_name,)
            alt = {"zh": alt, "en": alt} if isinstance(alt, str) else alt
            if not isinstance(alt, dict):
                continue
            for name in alt.get("when") if isinstance(alt.get("when"), dict) else {}:
                check(name, (*sub, "when", name), f"{field_name} depends on")
            for lang in LANGS:
                try:
                    names = [n for n, _ in template_fields(alt[lang])] if isinstance(alt.get(lang), str) else []
                except ValueError:  # a malformed template or field: the schema reports it
                    continue
                for name in dict.fromkeys(names):
                    check(name, (*sub, lang), f"{field_name} uses")


def validate(pack) -> list[Problem]:
    """Problems in the pack's storyline: its schema (keys, layouts, chart types and keys, bilingual texts,
    plain fact names), then unknown results or stages, facts a slide's result does not provide (the
    catalogue ``cemkit/data/results.yaml``) and duplicate slide ids."""
    data = pack.section("storyline")
    if data is None:
        return [] if pack.file("storyline") is None else [
            Problem("pack.yaml", "files.storyline", "the storyline file is empty")]
    return validate_file(data, pack.raw.get("storyline.__lines__", {}), pack.file("storyline"), pack.stage_ids)


def validate_file(data: Any, lines: dict, path: Any, stage_ids: list[str] | None = None) -> list[Problem]:
    """:func:`validate` on the parsed file alone; stage ids are checked only when ``stage_ids`` is given
    (``validate-pack`` on a pack whose pack.yaml has problems still checks the storyline's facts)."""
    from .packs import section_problems

    fname = Path(path).name if path else "storyline.yaml"
    problems = section_problems("storyline", data, lines, path)
    if isinstance(data, dict):
        _references(data, stage_ids, lambda msg, key: problems.append(Problem(fname, _dotted(key), msg,
                                                                             line_of(lines, key))))
    return problems


def optional_text(alternatives: tuple[dict, ...], facts: dict, lang: str, record: list | None = None) -> str:
    """Like :func:`pick_text` for subtitles, notes and takeaways: '' when a fact has no value or is not among
    the facts at all (results written by an earlier cemkit version lack facts added since)."""
    try:
        return pick_text(alternatives, facts, lang, record)
    except (FactUnavailable, KeyError):
        return ""
