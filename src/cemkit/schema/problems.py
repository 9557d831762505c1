"""pydantic's validation errors → cemkit :class:`~cemkit.errors.Problem` lines: file, line, dotted key and
one sentence a pack author can act on.

* an unknown key names the closest valid key at that place (``driverz`` → did you mean ``drivers``);
* a misspelt required key gives one message, not "unknown key" *and* "required key is missing";
* a wrong type says what was expected and what was found (``must be a number, found '5%'``);
* the line is the line of the key, or of the nearest enclosing key the YAML has.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Problem
from .types import closest, did_you_mean

__all__ = ["dotted", "line_of", "schema_problems", "validate_model"]

_QUOTED = re.compile(r"'([^']*)'")


def dotted(keypath: Iterable) -> str:
    """``("stages", 1, "kpis")`` → ``"stages[1].kpis"``."""
    out = ""
    for k in keypath:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def line_of(lines: Mapping[tuple, int], keypath: Iterable) -> int | None:
    """Line of ``keypath`` in a file indexed by ``read_yaml``, else of its nearest parent that has one."""
    keypath = tuple(keypath)
    for cut in range(len(keypath), -1, -1):
        head = keypath[:cut]
        line = lines.get(head) or lines.get(tuple(str(k) if not isinstance(k, int) else k for k in head))
        if line is None and any(isinstance(k, int) for k in head):  # an integer mapping key (YAML `2024:`)
            line = lines.get(tuple(str(k) for k in head))
        if line:
            return line
    return None


def validate_model(model: type[BaseModel], data: Any, lines: Mapping[tuple, int], fname: str,
                   prefix: tuple = ()) -> tuple[BaseModel | None, list[Problem]]:
    """``model`` validated from ``data`` (None and the problems when it does not fit)."""
    try:
        return model.model_validate({} if data is None else data), []
    except ValidationError as exc:
        return None, schema_problems(exc, model, lines, fname, prefix)


def schema_problems(exc: ValidationError, model: type[BaseModel], lines: Mapping[tuple, int], fname: str,
                    prefix: tuple = ()) -> list[Problem]:
    """One Problem per mistake in ``exc`` (file ``fname``; keys located below ``prefix``)."""
    errors = exc.errors()
    unknown: dict[tuple, set[str]] = {}  # parent → the valid keys that misspelt keys resolve to
    for e in errors:
        if e["type"] == "extra_forbidden":
            loc = _loc(e)
            best = closest(loc[-1], _allowed_keys(model, loc[:-1]))
            if best:
                unknown.setdefault(loc[:-1], set()).add(best)
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for e in errors:
        loc = _loc(e)
        if e["type"] == "missing" and loc[-1] in unknown.get(loc[:-1], ()):
            continue  # reported once, as the misspelt key
        msg = _message(e, loc, model)
        loc = loc + tuple(e.get("ctx", {}).get("subloc", ())) if e["type"] == "cemkit" else loc
        full = prefix + loc
        if (dotted(full), msg) in seen:
            continue
        seen.add((dotted(full), msg))
        out.append(Problem(fname, dotted(full), msg, line_of(lines, full)))
    return out


def _loc(e: Mapping) -> tuple:
    return tuple(p for p in e["loc"] if p != "[key]")


def _found(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "…"


def _message(e: Mapping, loc: tuple, model: type[BaseModel]) -> str:
    kind, ctx, value = e["type"], e.get("ctx") or {}, e.get("input")
    if kind == "cemkit":
        return str(ctx["message"])
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r} ({did_you_mean(loc[-1], _allowed_keys(model, loc[:-1]))})"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing" if loc else "required key is missing"
    if "[key]" in e["loc"]:
        return f"a key here must be text, found {_found(value)}"
    if kind == "literal_error":
        options = _QUOTED.findall(str(ctx.get("expected", ""))) or [str(ctx.get("expected"))]
        best = closest(value, options) if isinstance(value, str) else None
        hint = f" — did you mean {best!r}?" if best else ""
        return f"must be one of {', '.join(options)}, found {_found(value)}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, found {_found(value)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"must be a number, found {_found(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, found {_found(value)}"
    if kind in ("string_type", "str_type"):
        return f"must be text, found {_found(value)}"
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return f"must be a list, found {_found(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping (key: value), found {_found(value)}"
    bounds = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<", "less_than_equal": "≤"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        limit = f"{limit:g}" if isinstance(limit, (int, float)) else limit
        return f"must be {bounds[kind]} {limit}, found {_found(value)}"
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"needs at least {ctx.get('min_length')} items"
    if kind == "string_too_short":
        return "must not be empty"
    return str(e.get("msg", kind))


# --------------------------------------------------------------------------- the keys valid at a place
def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the model accepts at ``loc`` (names as written in YAML, i.e. aliases)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if _is_model(tp):
            field = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    return [f.alias or n for n, f in tp.model_fields.items()] if _is_model(tp) else []
