"""The learned sentiment model's file: versioned, hashed JSON that is read as hostile client input.

:func:`save_model` writes the model (:meth:`~.learn.SentimentModel.to_dict`: the n-grams as text, their idf,
the coefficients, the decision policy, the training comments' median length, the guard's figures) under a
format name, a version and the SHA-256 of its content, beside the target and then moved into place.
:func:`load_sentiment_model` never unpickles, caps the size, and checks format, version, hash, types,
shapes and finiteness before using anything in it. :func:`resolve_model` finds the model a run uses.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .learn import POLARITY, RULE_FEATURES, RULE_FEATURES_V2, SentimentModel
from .ngrams import NgramSpace
from .policy import NO_FILL

__all__ = ["FORMAT", "MODEL_FILE", "VERSION", "load_sentiment_model", "resolve_model", "save_model"]

FORMAT = "cemkit-sentiment-model"
VERSION = 3  # 2: train_chars (the domain check; version 1 files are read without it); 3: the rules' praise and
#                blame as features (RULE_FEATURES; versions 1–2 have the score and the neutral flag only)
READ_VERSIONS = (1, 2, 3)
MAX_FILE_BYTES = 64 * 1024 * 1024
MODEL_FILE = "sentiment_model.json"  # in a pack folder: the runs of that pack use it


def save_model(model: SentimentModel, path: str | Path) -> Path:
    """Write ``model`` as versioned, hashed JSON (written beside ``path`` and moved into place)."""
    body = model.to_dict()
    doc = {"format": FORMAT, "version": VERSION, "sha256": _digest(body), "model": body}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    part.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    part.replace(path)
    return path


def _digest(body: dict) -> str:
    canon = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def load_sentiment_model(path: str | Path) -> SentimentModel:
    """Read a model written by :meth:`SentimentModel.save`. Anything else — too large, not JSON, another
    format or version, a changed hash, wrong types, inconsistent shapes, non-finite numbers — raises
    InputError naming the file; nothing in the file is executed."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: sentiment model file not found")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{p}: {size:,} bytes is too large for a sentiment model (limit {MAX_FILE_BYTES:,})")

    def bad(why: str) -> InputError:
        return InputError(f"{p}: not a usable cemkit sentiment model ({why})")

    try:
        doc = json.loads(p.read_bytes().decode("utf-8"), parse_constant=lambda c: _reject(c))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"not valid UTF-8 JSON: {str(exc)[:80]}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"format is not {FORMAT!r}")
    if doc.get("version") not in READ_VERSIONS:
        raise bad(f"version {doc.get('version')!r}; this cemkit reads versions {', '.join(map(str, READ_VERSIONS))}")
    body = doc.get("model")
    if not isinstance(body, dict):
        raise bad("no model object")
    if doc.get("sha256") != _digest(body):
        raise bad("its content does not match its SHA-256: the file was changed or damaged")
    try:
        if doc["version"] >= 2 and not isinstance(body.get("train_chars"), (int, float)):
            raise ValueError("train_chars must be a number")
        return _from_body(body, RULE_FEATURES if doc["version"] >= 3 else RULE_FEATURES_V2)
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(str(exc)[:120]) from None


def _reject(c: str) -> None:
    raise ValueError(f"{c} is not a number")


def _from_body(b: dict, rule_features: tuple[str, ...] = RULE_FEATURES) -> SentimentModel:
    classes = b["classes"]
    if not (isinstance(classes, list) and set(classes) <= set(POLARITY) and len(set(classes)) == len(classes)
            and len(classes) in (2, 3)):
        raise ValueError("classes must be two or three of pos / neg / neutral")
    if list(b["rule_features"]) != list(rule_features):
        raise ValueError(f"rule features {b['rule_features']!r}, expected {list(rule_features)!r}")
    grams, idf = b["ngrams"]["grams"], b["ngrams"]["idf"]
    if not (isinstance(grams, list) and all(isinstance(g, str) and 1 <= len(g) <= 3 for g in grams)):
        raise ValueError("n-grams must be strings of 1 to 3 characters")
    idf = np.asarray(idf, dtype=np.float64)
    coef = np.asarray(b["coef"], dtype=np.float64)
    intercept = np.asarray(b["intercept"], dtype=np.float64)
    k = 1 if len(classes) == 2 else len(classes)
    if idf.shape != (len(grams),):
        raise ValueError("idf does not match the n-grams")
    if coef.shape != (k, len(grams) + len(rule_features)) or intercept.shape != (k,):
        raise ValueError("coefficients do not match the n-grams and classes")
    for name, arr in (("idf", idf), ("coef", coef), ("intercept", intercept)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} holds non-finite numbers")
    space = NgramSpace.from_grams(grams, idf)
    if space.grams() != grams:
        raise ValueError("n-grams are not grouped by length and sorted")
    scale, flip, fill = float(b["rule_scale"]), float(b["flip_conf"]), b["fill_min_chars"]
    train_chars = float(b.get("train_chars", 0.0))
    if not (math.isfinite(scale) and 0 <= flip <= 1 and isinstance(fill, int) and 0 <= fill <= NO_FILL
            and math.isfinite(train_chars) and 0 <= train_chars < 1e6):
        raise ValueError("rule_scale / flip_conf / fill_min_chars / train_chars out of range")
    pack = b.get("pack")
    if pack is not None and not isinstance(pack, str):
        raise ValueError("pack must be a name")
    info = b.get("info") or {}
    if not isinstance(info, dict):
        raise TypeError("info must be an object")
    return SentimentModel(tuple(classes), space, coef, intercept, scale, flip, fill, pack, bool(b["kept"]), info,
                          train_chars, tuple(rule_features))


def resolve_model(option: str | None, pack: Any) -> Path | None:
    """The sentiment model a run uses: ``option`` (a file; ``none`` for the rules), else the pack folder's
    ``sentiment_model.json`` when there is one, else None (the rules)."""
    if option is not None and str(option).strip().lower() in ("none", "rules", ""):
        return None
    if option:
        p = Path(option)
        if not p.is_file():
            raise InputError(f"{p}: sentiment model file not found")
        return p.resolve()
    p = Path(pack.root) / MODEL_FILE
    return p.resolve() if p.is_file() else None
