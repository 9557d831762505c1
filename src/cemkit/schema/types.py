"""Building blocks of the pack schema: the strict base model and the value types packs use everywhere.

Every model forbids unknown keys and is *strict*: ``min_n: "100"`` is an error, never coerced to 100. The
types below each accept exactly one kind of YAML value and fail with **one** message (a plain union would
report one error per branch: ``name: 3`` must not give "not a string" *and* "not a mapping").

A validator that finds a problem inside its value (a key of a ``{zh, en}`` name, a condition of an alert
rule) raises :func:`problem` with ``subloc``: the converter in :mod:`cemkit.schema.problems` appends it to
the location, so the message points at the line of that key.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "LANGS", "Date", "Id", "Label", "LabelValue", "Model", "Number", "Text", "closest", "did_you_mean",
    "problem",
]

LANGS = ("zh", "en")


class Model(BaseModel):
    """Base of every pack-file model: unknown keys are errors, values are never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def problem(message: str, subloc: Iterable = ()) -> PydanticCustomError:
    """A validation error with a message of our own, located ``subloc`` below the value being checked."""
    return PydanticCustomError("cemkit", "{message}", {"message": message, "subloc": tuple(subloc)})


def closest(word: Any, options: Iterable[Any]) -> str | None:
    """The option spelt most like ``word`` (difflib ratio ≥ 0.6), or None."""
    opts = [str(o) for o in options]
    hit = difflib.get_close_matches(str(word), opts, n=1, cutoff=0.6)
    return hit[0] if hit else None


def did_you_mean(word: Any, options: Iterable[Any], what: str = "") -> str:
    """``"did you mean 'drivers'?"`` when a close option exists, else the list of options (short)."""
    opts = [str(o) for o in options]
    best = closest(word, opts)
    if best is not None:
        return f"did you mean {best!r}?"
    shown = ", ".join(opts[:12]) + (", …" if len(opts) > 12 else "")
    return f"known {what or 'keys'}: {shown}" if opts else f"no {what or 'keys'} are defined"


def _found(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "…"


# ------------------------------------------------------------------------------------------ labels
@dataclass(frozen=True)
class LabelValue:
    """A bilingual display name (``cemkit.packs.Label``)."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __str__(self) -> str:  # Chinese first: the packs are Chinese-market packs
        return self.zh


def _label(v: Any) -> LabelValue:
    if isinstance(v, LabelValue):
        return v
    if isinstance(v, str):
        if v.strip():
            return LabelValue(v, v)
        raise problem("needs a name: the text is empty")
    if isinstance(v, dict):
        for k in v:
            if k not in LANGS:
                hint = did_you_mean(k, LANGS)
                raise problem(f"unknown key {k!r} in a name ({hint}); a name is a string or {{zh: ..., en: ...}}",
                              (k,))
        for lang in LANGS:
            if lang not in v:
                raise problem(f"a name needs both zh and en (missing {lang})")
            if not isinstance(v[lang], str) or not v[lang].strip():
                raise problem(f"must be non-empty text, found {_found(v[lang])}", (lang,))
        return LabelValue(v["zh"], v["en"])
    raise problem(f"needs a name: a string or {{zh: ..., en: ...}}, found {_found(v)}")


_LABEL_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
         "required": ["zh", "en"], "additionalProperties": False},
    ],
    "description": "a display name: one string for both languages, or {zh: ..., en: ...}",
}
#: a bilingual name: ``text`` or ``{zh: ..., en: ...}``; validated into a :class:`LabelValue`
Label = Annotated[LabelValue, PlainValidator(_label), WithJsonSchema(_LABEL_SCHEMA)]


# ----------------------------------------------------------------------------------- small scalars
def _text(v: Any) -> str:
    """Text, or a whole number written without quotes (a keyword 12315, a segment value 2024)."""
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    raise problem(f"must be text, found {_found(v)}")


#: text; a whole number is read as its digits (``12315`` → ``"12315"``)
Text = Annotated[str, PlainValidator(_text), WithJsonSchema({"type": ["string", "integer"]})]
#: an identifier used as a key or reference (stage, KPI, theme, slide ids …)
Id = Annotated[str, Field(min_length=1)]
#: a number; ``true``/``false`` and quoted numbers are refused
Number = float


def _date(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v.strip()).isoformat()
        except ValueError:
            pass
    raise problem(f"must be a date written YYYY-MM-DD, found {_found(v)}")


#: a calendar day, ``2024-10-01`` (quoted or not); validated to its ISO text
Date = Annotated[str, PlainValidator(_date), WithJsonSchema({"type": "string", "format": "date"})]
