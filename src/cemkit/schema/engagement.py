"""``engagement.yaml``, the file ``cemkit init`` writes and ``cemkit run`` reads with no arguments
(:mod:`cemkit.engagement`), described as a model like the pack files: unknown keys and wrong types are
errors naming the file, line and key."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, WithJsonSchema

from .types import Model, Number, Text, _found, problem

__all__ = ["Alerts", "EngagementFile", "Waves"]


def _paths(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise problem(f"must be a path or a list of paths, found {_found(v)}")


#: one path (file, folder or glob pattern) or a list of them
Paths = Annotated[tuple[str, ...], PlainValidator(_paths),
                  WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})]


class Waves(Model):
    report: Text = Field("latest", description="latest | all | a wave label")
    compare: Text = Field("previous", description="previous | none | a wave label")
    from_date: Literal["half", "quarter", "month", "year"] | None = Field(
        None, description="files without a wave column: the wave is the half, quarter, month or year of the date")


class Alerts(Model):
    window_days: Number = Field(30, ge=0, description="a customer with an open alert gets no second one within "
                                                      "these days")
    closed: str | None = Field(None, description="the client's closed-alerts file, once they return one")


class EngagementFile(Model):
    """``engagement.yaml``: what ``cemkit run`` runs with no arguments (relative paths: from the file)."""

    pack: Text = Field(description="an industry pack name (see `cemkit packs`) or a pack folder")
    client: Text | None = ""
    lang: Literal["zh", "en"] | None = None
    template: str | None = Field(None, description="the client's PowerPoint master")
    data: Paths | None = Field((), description="files, folders or glob patterns: every wave's export")
    odata: Paths | None = Field((), description="operational data files joined by customer id")
    mapping: Paths | None = Field((), description="one mapping, or a list, one per data file")
    out: Text | None = Field("reports", description="where runs go; the last good run there is the next run's "
                                                    "previous run")
    waves: Waves | None = Waves()
    alerts: Alerts | None = Alerts()
    sentiment_model: str | None = Field(None, description="the sentiment model `cemkit learn` wrote (default: "
                                                          "the pack folder's, if any)")
    previous: Text | None = Field("auto", description="auto: the last good run in out; none; or a run folder")
