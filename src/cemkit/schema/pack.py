"""Schema of ``pack.yaml`` (the manifest) and ``themes.yaml`` (the comment-theme taxonomy).

These models check each file on its own: keys, types and ranges. References between entries (a stage's
KPIs exist, a KPI's scale exists, keywords belong to one theme) are checked afterwards by
:mod:`cemkit.packs`, once the file has the right shape.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, WithJsonSchema, field_validator, model_validator

from .types import Date, Id, Label, Model, Number, Text, problem

__all__ = [
    "AGGREGATES", "DRIVER_METHODS", "QUADRANTS", "SCALE_KINDS", "STRAIGHTLINER_MODES",
    "PackFile", "Quality", "ThemesFile",
]

SCALE_KINDS = ("nps", "csat", "ces", "rating")
QUADRANTS = (
    "high_importance_low_performance",
    "high_importance_high_performance",
    "low_importance_low_performance",
    "low_importance_high_performance",
)
STRAIGHTLINER_MODES = ("flag", "quarantine")
#: ``cemkit.drivers.METHODS`` (a test keeps the two lists equal)
DRIVER_METHODS = ("shapley", "relative_weights", "beta", "logistic")
#: ``cemkit.ingest.AGGREGATES`` (a test keeps the two lists equal)
AGGREGATES = ("count", "sum", "mean", "min", "max", "nunique", "first", "last", "days_since")

ScaleKind = Literal["nps", "csat", "ces", "rating"]


class Scale(Model):
    kind: ScaleKind = Field(description="nps (0-10), csat (top-box share), ces (effort), rating (attributes)")
    min: Number
    max: Number
    good: list[Number] = Field([], description="top-box / low-effort answers (required for csat and ces)")
    labels: Label | None = Field(None, description="what the ends of the scale say, for people reading the pack")

    @model_validator(mode="after")
    def _range(self) -> Scale:
        if self.min >= self.max:
            raise problem(f"min ({self.min:g}) must be below max ({self.max:g})", ("max",))
        if self.kind == "nps" and (self.min, self.max) != (0, 10):
            raise problem("an nps scale runs from 0 to 10", ("min",))
        if self.kind in ("csat", "ces") and not self.good:
            raise problem(f"a {self.kind} scale must list its good (top-box / low-effort) answers", ("good",))
        for i, g in enumerate(self.good):
            if not self.min <= g <= self.max:
                raise problem(f"{g:g} lies outside the scale {self.min:g}..{self.max:g}", ("good", i))
        return self


class KPI(Model):
    name: Label | None = None
    scale: Id = Field(description="a scale id under scales")


class Attribute(Model):
    name: Label
    short: Label | None = Field(None, description="label on crowded charts")
    scale: Id
    synonyms: list[Text] = Field([], description="other everyday wordings of the attribute (general industry "
                                 "language, zh or en), for matching client questions in `cemkit map`")
    owner: Label | None = Field(None, description="who acts on it in a decision (default: its stage's first touchpoint owner)")
    horizon: Label | None = Field(None, description="by when a fix should show, e.g. {zh: 90天, en: 90 days}")
    themes: list[Id] = Field([], description="comment themes that speak about it (a decision's evidence)")


class Touchpoint(Model):
    id: Id
    name: Label | None = None
    owner: Label = Field(description="the department that receives this touchpoint's alerts")


class Stage(Model):
    id: Id
    name: Label
    trigger: Label | None = Field(None, description="the event that sends the survey")
    key: bool = Field(False, description="a key moment: its detractors raise an alert")
    kpis: list[Id] = Field(["nps"], description="KPI ids asked at this stage")
    drivers: list[Id] = Field([], description="attribute ids rated at this stage")
    touchpoints: list[Touchpoint] = []
    synonyms: list[Text] = Field([], description="other names of the stage in clients' labels (synonyms, "
                                 "abbreviations, English; general industry language), for `cemkit map`")


class Segment(Model):
    id: Id
    name: Label | None = None
    league: bool = Field(False, description="rank the units of this segment in a league table")


class FieldSpec(Model):
    required: bool = False
    pii: bool = Field(False, description="personal data: never kept in the clean responses")
    synonyms: list[Text] = Field([], description="client headers that map to this field")


class Feature(Model):
    name: Label | None = None
    kind: Literal["number", "category"] = Field("number", description="category: one-hot encoded text")


class Aggregate(Model):
    source: Id | None = Field(None, alias="from", description="source column (default: the output name)")
    agg: Literal[AGGREGATES] = Field(description="how a customer's rows are combined")  # type: ignore[valid-type]
    as_of: Date | None = Field(None, description="days_since: the reference date (default: the latest date)")


class OData(Model):
    key: Id = "customer_id"
    features: dict[Id, Feature | None] = {}
    aggregate: dict[Id, Aggregate] = {}


class Files(Model):
    """File names inside the pack folder (a path may not leave the folder)."""

    themes: str | None = None
    dictionary: str | None = None
    demo: str | None = None
    storyline: str | None = None
    alerts: str | None = None
    playbooks: str | None = None


class Privacy(Model):
    plates: bool = Field(False, description="mask licence plates in comments")


class Base(Model):
    suppress_below: int = Field(30, ge=0, description="effective base below which a value is not shown")
    caution_below: int = Field(100, ge=0, description="effective base below which a value is flagged")

    @model_validator(mode="after")
    def _order(self) -> Base:
        if self.suppress_below > self.caution_below:
            raise problem("suppress_below must not exceed caution_below", ("suppress_below",))
        return self


class Significance(Model):
    alpha: Number = Field(0.05, gt=0, lt=0.5, description="significance level, e.g. 0.05")
    correction: Literal["holm", "fdr_bh"] = "holm"


class Drivers(Model):
    method: Literal[DRIVER_METHODS] = "shapley"  # type: ignore[valid-type]
    target: Id = Field("nps", description="the KPI the drivers explain")
    min_n: int = Field(100, ge=1, description="responses a stage needs for a driver model")
    min_per_driver: int = Field(10, ge=1, description="responses per driver a stage needs")


def _split(v: Any) -> Any:
    if v in ("median", "mean"):
        return v
    if isinstance(v, dict):
        for k, x in v.items():
            if k not in ("x", "y"):
                raise problem(f"unknown key {k!r} (a fixed split has x and y)", (k,))
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise problem(f"must be a number, found {x!r}", (k,))
        return {k: float(x) for k, x in v.items()}
    raise problem(f"must be median, mean or {{x: ..., y: ...}}, found {v!r}")


Split = Annotated[Any, PlainValidator(_split), WithJsonSchema({"anyOf": [
    {"enum": ["median", "mean"]},
    {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
     "additionalProperties": False}]})]


class Quadrants(Model):
    high_importance_low_performance: Label | None = None
    high_importance_high_performance: Label | None = None
    low_importance_low_performance: Label | None = None
    low_importance_high_performance: Label | None = None


class PriorityMatrix(Model):
    split: Split = "median"
    quadrants: Quadrants = Quadrants()


class Quality(Model):
    """Survey data-quality checks (pack ``rules.quality``; a mapping's ``quality`` overrides key by key)."""

    speeder_seconds: Number | None = Field(None, ge=0, description="quarantine answers faster than this (0/null: off)")
    speeder_median_share: Number | None = Field(1 / 3, ge=0, lt=1,
                                                description="… or than this share of the median duration")
    straightliners: Literal["flag", "quarantine"] = "flag"
    straightliner_min_items: int = Field(5, ge=2, description="attributes rated to count as a straightliner")


class Rules(Model):
    base: Base = Base()
    significance: Significance = Significance()
    drivers: Drivers = Drivers()
    priority_matrix: PriorityMatrix = PriorityMatrix()
    quality: Quality = Quality()


class PackFile(Model):
    """``pack.yaml``: the manifest of an industry pack (docs/packs.md)."""

    pack: Id = Field(description="the pack id (= folder name)")
    version: int | None = None
    name: Label
    language: Literal["zh", "en"] = "zh"
    privacy: Privacy = Privacy()
    files: Files = Files()
    scales: dict[Id, Scale]
    kpis: dict[Id, KPI]
    attributes: dict[Id, Attribute] = {}
    stages: list[Stage] = Field(min_length=1)
    segments: list[Segment] = []
    fields: dict[Id, FieldSpec | None] = {}
    odata: OData = OData()
    rules: Rules = Rules()


# ------------------------------------------------------------------------------------------- themes
class Theme(Model):
    id: Id
    level1: Label = Field(description="the area the theme belongs to (level 1 of the taxonomy)")
    name: Label
    critical: bool = Field(False, description="negative mentions raise an alert")
    keywords: list[Text] = Field([], description="words naming the aspect (not the feeling)")
    regex: list[str] = []

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for i, r in enumerate(value):
            try:
                re.compile(r)
            except re.error as exc:
                raise problem(f"bad regular expression {r!r}: {exc}", (i,)) from None
        return value

    @model_validator(mode="after")
    def _words(self) -> Theme:
        if not [k for k in self.keywords if k.strip()] and not self.regex:
            raise problem(f"theme {self.id!r} has no keywords", ("keywords",))
        return self


class ThemesFile(Model):
    """``themes.yaml``: the comment-theme taxonomy."""

    themes: list[Theme]
