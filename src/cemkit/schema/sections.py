"""Schema of the pack files other modules own: ``storyline.yaml``, ``alerts.yaml``, ``playbooks.yaml`` and
``demo.yaml``.

Keys, types and ranges only; what refers to pack.yaml (stage ids, KPI thresholds, segment ids, the facts a
result provides) is checked by the owning module's ``validate(pack)`` once the file has the right shape.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from .types import LANGS, Date, Id, Label, Model, Number, Text, did_you_mean, problem

__all__ = [
    "CHART_TYPES", "CONDITIONS", "DISTS", "GROUPS", "LAYOUTS", "PRIORITIES",
    "AlertsFile", "DemoFile", "PlaybooksFile", "StorylineFile", "template_fields",
]

# Layout names every PPTX master must provide (docs/templates.md lists their placeholders).
LAYOUTS = ("title", "section", "chart", "two_charts", "table", "quotes", "summary", "appendix")
CHART_TYPES = ("bar", "stacked100", "line", "scatter", "table", "quotes", "bullets", "heatmap", "wordcloud")
PRIORITIES = ("P1", "P2", "P3")
GROUPS = ("detractor", "passive", "promoter")  # display order: act on detractors first
#: alert conditions with a fixed name; ``<kpi>_max`` is the fourth kind (one per pack KPI)
CONDITIONS = ("key_stage", "comment_contains", "negative_critical_theme")
#: distributions of demo O-data features and the parameters each needs
DISTS = {"integers": ("low", "high"), "poisson": ("lam",), "gamma": ("shape", "scale"),
         "normal": ("mean", "sd"), "uniform": ("low", "high")}

Share = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BIG_NUMBER = re.compile(r"\d{4,}")


# ------------------------------------------------------------------------------------------ storyline
def template_fields(template: str) -> list[tuple[str, str]]:
    """The ``(field, format spec)`` pairs of a title template, nested specs included. Raises ValueError
    for a malformed template and :func:`~cemkit.schema.types.problem` for a field that is not a plain fact
    name (``{client.__class__}``, ``{x[0]}``, ``{}``) or a spec with a number of four digits or more."""
    out: list[tuple[str, str]] = []
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is None:
            continue
        if not _FIELD_NAME.match(name):
            raise problem(f"format field {{{name}}} is not a plain fact name: attribute access ('.'), "
                          "indexing ('[ ]') and positional fields are not allowed")
        if spec and _BIG_NUMBER.search(spec):
            raise problem(f"format spec {spec!r} of {{{name}}} asks for a width or precision over 999")
        out.append((name, spec or ""))
        if spec and "{" in spec:
            out.extend(template_fields(spec))
    return out


def _alternatives(v: Any) -> tuple[dict, ...]:
    items = v if isinstance(v, list) else [v]
    out = []
    for i, alt in enumerate(items):
        sub = (i,) if isinstance(v, list) else ()
        if isinstance(alt, str):
            alt = {"zh": alt, "en": alt}
        elif not isinstance(alt, dict):
            raise problem(f"must be a text, {{zh: ..., en: ...}} or a list of those, found {alt!r}", sub)
        for k in alt:
            if k not in (*LANGS, "when"):
                hint = did_you_mean(k, (*LANGS, "when"))
                raise problem(f"unexpected key {str(k)[:40]!r} ({hint}); quote texts that contain a comma",
                              (*sub, k))
        missing = [lang for lang in LANGS if lang not in alt]
        if missing:
            raise problem(f"needs both zh and en (missing {', '.join(missing)})", sub)
        for lang in LANGS:
            if not isinstance(alt[lang], str):
                raise problem(f"must be text, found {alt[lang]!r}", (*sub, lang))
            try:
                template_fields(alt[lang])
            except PydanticCustomError as exc:  # located at the language's line
                raise problem(str(exc.context["message"]), (*sub, lang)) from None
            except ValueError as exc:
                raise problem(f"not a valid text template: {exc}", (*sub, lang)) from None
        when = alt.get("when")
        if when is not None and not isinstance(when, dict):
            raise problem(f"must be a mapping of fact: value, found {when!r}", (*sub, "when"))
        out.append(alt)
    return tuple(out)


_ALT_SCHEMA = {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"},
                                                 "when": {"type": "object"}},
               "required": ["zh", "en"], "additionalProperties": False}
#: a slide text: one string, ``{zh, en}``, or a list of alternatives ``{when, zh, en}``
Texts = Annotated[tuple, PlainValidator(_alternatives), WithJsonSchema(
    {"anyOf": [{"type": "string"}, _ALT_SCHEMA, {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                                                       _ALT_SCHEMA]}}]})]


class Chart(Model):
    type: Literal[CHART_TYPES]  # type: ignore[valid-type]
    category: str | None = None
    series: list[str] = []
    series_names: list[Label] = Field([], description="message-catalogue keys or names, one per series")
    labels: bool = True
    number_format: str = "0"
    highlight: str | None = Field(None, description="boolean column: bars drawn in the accent colour")
    marker: str | None = Field(None, description="column whose text (↑/↓) is appended to the category")
    x: str | None = None
    y: str | None = None
    label: str | None = None
    columns: list[str] = []
    headers: list[Label] = []
    colour_by: str | None = None
    horizontal: bool = False
    sort: str | None = Field(None, description="column to sort by (descending) before drawing")
    top: int | None = Field(None, ge=1, description="keep the first N rows")
    filter: dict[str, Any] = Field({}, description="keep rows whose column equals the value")
    interval: list[str] = Field([], description="(low, high) columns: error bars / the interval of each value")
    ascending: bool = Field(False, description="sort ascending (e.g. the most negative gap first)")


class Slide(Model):
    id: Id
    layout: Literal[LAYOUTS] = "chart"  # type: ignore[valid-type]
    result: Id | None = Field(None, description="the result the slide is drawn from (docs/packs.md)")
    summary: bool = Field(False, description="also list the title on the executive summary")
    section: str | None = None
    require: dict[str, Any] = Field({}, description="facts that must hold for the slide to appear")
    stages: list[Id] = Field([], description="stages the slide is about")
    chart: Chart | None = None
    chart2: Chart | None = None
    title: Texts = ()
    subtitle: Texts = ()
    notes: Texts = Field((), description="speaker notes")
    takeaway: Texts = ()


class StorylineFile(Model):
    """``storyline.yaml``: the deck's slides in order."""

    slides: list[Slide]
    extra_results: list[Id] = Field([], description="results written by a notebook the pack ships")


# --------------------------------------------------------------------------------------------- alerts
def _when(v: Any) -> dict:
    if not isinstance(v, dict) or not v:
        raise problem(f"must be a non-empty mapping of conditions, found {v!r}")
    for key, value in v.items():
        if key in ("key_stage", "negative_critical_theme"):
            if not isinstance(value, bool):
                raise problem(f"must be true or false, found {value!r}", (key,))
        elif key == "comment_contains":
            ok = isinstance(value, list) and value and all(
                isinstance(w, (str, int)) and not isinstance(w, bool) and str(w).strip() for w in value)
            if not ok:
                raise problem("must be a non-empty list of words", (key,))
        elif isinstance(key, str) and key.endswith("_max") and len(key) > 4:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise problem(f"must be a number, found {value!r}", (key,))
        else:
            raise problem(f"unknown condition {key!r} ({did_you_mean(key, (*CONDITIONS, '<kpi>_max'))})",
                          (key,))
    return v


When = Annotated[dict, PlainValidator(_when), WithJsonSchema({
    "type": "object", "minProperties": 1, "additionalProperties": False,
    "properties": {"key_stage": {"type": "boolean"}, "negative_critical_theme": {"type": "boolean"},
                   "comment_contains": {"type": "array", "minItems": 1,
                                        "items": {"type": ["string", "integer"]}}},
    "patternProperties": {"^.+_max$": {"type": "number"}},
    "description": "conditions that must all hold: <kpi>_max, key_stage, comment_contains, "
                   "negative_critical_theme"})]


class Hours(Model):
    P1: Positive | None = None
    P2: Positive | None = None
    P3: Positive | None = None


class SLA(Model):
    business_days: bool = Field(False, description="the SLA clock runs on working days only")
    calendar: Literal["china", "weekdays"] = Field(
        "china", description="china: official holidays and 调休 make-up workdays (chinesecalendar); "
                             "weekdays: Monday–Friday")
    hours: Hours = Hours()
    holidays: list[Date] = Field([], description="extra non-working days (on top of the calendar)")
    workdays: list[Date] = Field([], description="extra working days (on top of the calendar)")

    @model_validator(mode="after")
    def _disjoint(self) -> SLA:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise problem(f"{both[0]} is listed both as a holiday and as a workday", ("workdays",))
        return self


class AlertRule(Model):
    id: Id
    name: Label = Field(description="the alert's reason")
    priority: Literal[PRIORITIES]  # type: ignore[valid-type]
    when: When


class AlertsFile(Model):
    """``alerts.yaml``: closed-loop alert rules and their SLA."""

    default_owner: Label | None = None
    sla: SLA = SLA()
    rules: list[AlertRule]


# ------------------------------------------------------------------------------------------ playbooks
Actions = Annotated[list[Label], Field(min_length=1)]


class Play(Model):
    name: Label
    goal: Label
    actions: Actions


class Groups(Model):
    detractor: Play
    passive: Play
    promoter: Play


class Extras(Model):
    """Extra actions of one segment value, by group: absent is none, but an empty or null list is a mistake."""

    detractor: Actions = None  # type: ignore[assignment]
    passive: Actions = None  # type: ignore[assignment]
    promoter: Actions = None  # type: ignore[assignment]


class PlaybooksFile(Model):
    """``playbooks.yaml``: what to do with each NPS group, and extras per segment value."""

    groups: Groups
    segments: dict[Id, dict[Text, Extras]] = Field({}, description="segment id → value → group → actions")


# ----------------------------------------------------------------------------------------------- demo
class Wave(Model):
    id: Text
    start: Date
    end: Date
    shift: dict[Id, Number] = {}  # a step change of the latent NPS by stage, from this wave on

    @model_validator(mode="after")
    def _order(self) -> Wave:
        if self.start > self.end:
            raise problem(f"start {self.start} is after end {self.end}", ("end",))
        return self


class DemoFeature(Model):
    dist: Literal[tuple(DISTS)] | None = None  # type: ignore[valid-type]
    source: Literal["region", "customer_type", "channel"] | None = Field(None, alias="from")
    low: Number | None = None
    high: Number | None = None
    lam: Number | None = None
    shape: Number | None = None
    scale: Number | None = None
    mean: Number | None = None
    sd: Number | None = None
    plus: Id | None = Field(None, description="add this other feature")
    scale_by: Id | None = Field(None, description="multiply by 1 + other/3")

    @model_validator(mode="after")
    def _params(self) -> DemoFeature:
        if self.source is None and self.dist is None:
            raise problem(f"needs dist ({', '.join(DISTS)}) or from (a segment)")
        for p in DISTS.get(self.dist or "", ()):
            if getattr(self, p) is None:
                raise problem(f"dist {self.dist} needs {', '.join(DISTS[self.dist])}", (p,))
        return self


class DemoTheme(Model):
    rate: Share
    stages: list[Id] = []
    pos: list[str] = []
    neg: list[str] = []

    @model_validator(mode="after")
    def _phrases(self) -> DemoTheme:
        if not self.pos and not self.neg:
            raise problem("needs pos or neg phrases")
        return self


class NegativeProbability(Model):
    detractor: Share = 0.85
    passive: Share = 0.45
    promoter: Share = 0.1


class UntaggedTopic(Model):
    rate: Share
    phrases: Annotated[list[str], Field(min_length=1)]


class DemoFile(Model):
    """``demo.yaml``: settings of the synthetic demo data and its planted truths."""

    seed: int = 0
    n: int = Field(ge=1)
    customers_per_response: Positive = 0.6
    non_respondents_per_customer: NonNegative = 0
    waves: Annotated[list[Wave], Field(min_length=1)]
    stage_share: dict[Id, NonNegative]
    nps_base: Number
    noise_sd: NonNegative = 1.5
    stage_shift: dict[Id, Number]
    wave_shift: dict[Id, Number] = {}
    attribute_correlation: Annotated[float, Field(ge=0, lt=1)] = 0.3
    attribute_sd: Positive = 1.6
    drivers: dict[Id, dict[Id, Number]]
    attribute_mean: dict[Id, Number] = {}
    regions: dict[Text, Annotated[list[Text], Field(min_length=1)]]
    region_share: dict[Text, NonNegative]
    dealer_sd: NonNegative = 0.3
    dealer_shift: dict[Text, Number] = {}
    customer_types: dict[Text, NonNegative]
    channels: dict[Text, NonNegative]
    odata_features: dict[Id, DemoFeature] | None = None
    odata_signal: dict[Id, Number] = {}
    customer_sd: NonNegative = 0.5
    comment_rate: Share = 0.7
    pii_rate: Share = 0.0
    negative_probability: NegativeProbability = NegativeProbability()
    themes: dict[Id, DemoTheme] = {}
    untagged_topic: UntaggedTopic | None = None
