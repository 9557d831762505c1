"""Message catalogue (messages/zh.yaml, messages/en.yaml) and the formatter for titles from result facts.

Deck and report texts never live in code: fixed words come from the catalogue, finding sentences from the
pack's storyline templates, filled with the facts a notebook saved next to its result.

Template placeholders use Python format syntax plus three cemkit specs:
``{x:dir}`` → "上升"/"下降" ("up"/"down") by the sign of x; ``{x:abs}`` → |x| rounded to an integer;
``{x:n}`` → integer with thousands separators. A fact that is a ``{zh: ..., en: ...}`` mapping is
shown in the report language.

Templates come from pack files, which are data: the formatter accepts plain fact names only. Attribute
access and indexing (``{client.__class__}``, ``{x[0]}``), positional fields and widths or precisions over
999 raise :class:`~cemkit.errors.PackError` (``validate-pack`` reports them before any render).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .errors import PackError

__all__ = ["LANGS", "catalogue", "fmt", "interval", "label", "number", "t"]

LANGS = ("zh", "en")
_DIR = Path(__file__).parent / "messages"
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BIG_NUMBER = re.compile(r"\d{4,}")


@cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {LANGS}")
    return yaml.safe_load((_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))


def t(key: str, lang: str, **kw: Any) -> str:
    """The catalogue text for ``key`` in ``lang``, formatted with ``kw``."""
    text = catalogue(lang)[key]
    return fmt(text, kw, lang) if kw else text


class _Formatter(string.Formatter):
    def __init__(self, lang: str):
        self.lang = lang

    def get_field(self, field_name, args, kwargs):
        """Plain names only: no ``.attr``, no ``[index]``, no positional ``{}``/``{0}``."""
        if not _PLAIN_NAME.match(field_name):
            raise PackError(f"text field {{{field_name}}} is not a plain fact name: attribute access ('.'), "
                            "indexing ('[ ]') and positional fields are not allowed")
        return self.get_value(field_name, args, kwargs), field_name

    def get_value(self, key, args, kwargs):
        value = kwargs[key] if not isinstance(key, int) else args[key]
        if value is None:  # a fact without a value never prints as "None": the text is unavailable
            raise TypeError(f"fact {key!r} has no value")
        return _localise(value, self.lang)

    def format_field(self, value: Any, spec: str) -> str:
        if _BIG_NUMBER.search(spec):
            raise PackError(f"format spec {spec!r} asks for a width or precision over 999")
        if spec == "dir":
            return catalogue(self.lang)["up" if float(value) > 0 else "down"]
        if spec == "abs":
            return f"{abs(float(value)):.0f}"
        if spec == "n":
            return f"{round(float(value)):,}"
        out = super().format_field(value, spec)
        # a value that rounds to zero prints as 0, not -0 ("低-0分"): strip the sign of an all-zero number
        if out.startswith("-") and isinstance(value, (int, float)) and not out.strip("-0.,%"):
            out = out[1:]
        return out


def _localise(value: Any, lang: str) -> Any:
    if isinstance(value, Mapping) and set(value) >= set(LANGS):
        return value[lang]
    return value


def fmt(template: str, facts: Mapping[str, Any], lang: str, record: list | None = None) -> str:
    """Fill a title/sentence template from facts (KeyError names the missing fact). ``record``, when given,
    receives ``[fact, spec, text]`` for every field filled, in order — what ``cemkit refresh`` needs to find
    a number again in a sentence the consultant rewrote."""
    f = _Formatter(lang)
    if record is None:
        return f.vformat(template, (), dict(facts))
    out, fields = [], []
    for literal, name, spec, conv in f.parse(template):
        out.append(literal)
        if name is None:
            continue
        text = f.vformat("{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}", (),
                         dict(facts))
        fields.append([name, spec or "", text])
        out.append(text)
    record.extend(fields)  # only once every field is filled: a failed template records nothing
    return "".join(out)


def label(value: Any, lang: str) -> str:
    """A display label: a ``{zh, en}`` mapping in ``lang``, else a catalogue key, else the text itself."""
    if isinstance(value, Mapping):
        return str(value.get(lang) or value.get("zh") or "")
    return catalogue(lang).get(str(value), str(value))


def number(value: Any, decimals: int = 0, sign: bool = False, sep: bool = True) -> str:
    """A number as a slide shows it: rounded to ``decimals``, thousands separators, never "-0" (a value that
    rounds to zero has no sign), "+" before positives with ``sign``; "–" for a missing value."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(v):
        return "–"
    v = round(v, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = f"{v:{'+' if sign and v else ''}{',' if sep else ''}.{decimals}f}"
    return text


def interval(lo: Any, hi: Any, decimals: int = 0) -> str:
    """A confidence interval "[-28, -9]": brackets keep negative bounds readable ("-28–-9" is not)."""
    a, b = number(lo, decimals), number(hi, decimals)
    return "–" if "–" in (a, b) else f"[{a}, {b}]"
