"""Comment sentiment learned from a client's own labelled comments, kept only when it beats the rules.

``learn_sentiment(texts, labels, pack)`` fits a hybrid of the rule engine and character n-grams:
a logistic regression (scikit-learn) on

* the TF-IDF of the comment's character 1–2-grams (:mod:`.ngrams`; the vocabulary of the labelled comments,
  n-grams found in at least two of them),
* the rules' outputs, scaled by ``RULE_SCALE``: the comment score in [−1, 1] and a flag for "the rules found
  nothing" (score 0).

Labels are ``positive`` / ``negative`` / ``neutral`` (also ``pos`` / ``neg``, 正面 / 负面 / 中性; see
:func:`parse_labels`). With neutral labels the model has three classes (multinomial), else two.

**Decision rule.** The model does not simply replace the rules; it corrects them:

* where the rules found a polarity, the model's answer replaces it only when the model gives its own answer
  a probability of at least ``FLIP_CONF`` (0.8) — a near coin-flip never overrules the lexicon;
* where the rules found nothing, the model answers. A two-class model (no neutral label in its training
  data) does so only for comments of at least ``FILL_MIN_CHARS`` (12) word characters: it has never seen a
  neutral comment, and short comments the rules find nothing in are mostly "no opinion" answers (无,
  还行吧, 暂时没有意见).

Why: a model learned on one kind of text and used on another (long product reviews → short survey
comments) otherwise loses the rules' accuracy on the short, clear comments; these two limits keep it
(measured in docs/text.md, "Learning from labels").

**The guard.** The labels are split into ``folds`` stratified folds (identical texts in one fold); each
comment is predicted by a model fitted without its fold, with the decision rule above. That out-of-fold
accuracy is compared with the rules' accuracy on the same labels (a neutral answer on a positive or
negative label is wrong for both). The model is *kept* only when it is more accurate and the difference is
significant: an exact one-sided McNemar test on the comments exactly one of the two gets right
(p ≤ ``ALPHA``). Otherwise ``kept`` is False, :meth:`SentimentModel.predict` returns the rules' answers and
``report()`` says why. A kept model is then fitted on all labels.

**The file.** :meth:`SentimentModel.save` writes JSON — the n-grams as text, their idf, the coefficients,
the guard's figures — with a format name, a version and the SHA-256 of its content. A model file is client
input: :func:`load_sentiment_model` never unpickles, caps the size, and checks format, version, hash, types,
shapes and finiteness before using anything in it.

The constants were chosen by cross-validation on a training part of a real review corpus and on the auto
pack's labelled set (docs/text.md); the corpus's held-back part and the other packs' sets were only measured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, UserError
from .engine import join_texts
from .ngrams import NgramSpace

__all__ = ["FORMAT", "MODEL_FILE", "SentimentModel", "learn_sentiment", "load_sentiment_model", "parse_labels",
           "resolve_model"]

FORMAT = "cemkit-sentiment-model"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
MODEL_FILE = "sentiment_model.json"  # in a pack folder: the runs of that pack use it

NGRAMS = (1, 2)
MIN_DF = 2
MAX_FEATURES = 200_000
C = 16.0
RULE_SCALE = 1.0
FLIP_CONF = 0.8  # the model overrules a polarity the rules found only with at least this probability
FILL_MIN_CHARS = 12  # a two-class model decides a comment the rules find nothing in from this length on
ALPHA = 0.05
MIN_LABELS = 30  # fewer labelled comments: no model (the rules stay)
MIN_PER_CLASS = 5

#: accepted spellings of each label (compared after stripping and lower-casing)
LABELS: dict[str, tuple[str, ...]] = {
    "pos": ("pos", "positive", "正面", "正", "积极", "+", "1"),
    "neg": ("neg", "negative", "负面", "负", "消极", "-", "-1"),
    "neutral": ("neutral", "neu", "中性", "中", "中立", "0"),
}
_SPELLING = {s: code for code, spellings in LABELS.items() for s in spellings}
NAMES = {"pos": "positive", "neg": "negative", "neutral": "neutral"}
POLARITY = {"neg": -1, "neutral": 0, "pos": 1}
RULE_FEATURES = ("rule_score", "rule_neutral")


# ----------------------------------------------------------------------------------------------- labels
def parse_labels(values: Sequence[Any], where: str = "labels", first_line: int = 1) -> np.ndarray:
    """Label codes ``pos`` / ``neg`` / ``neutral`` for ``values`` (None where blank). Spellings: positive /
    negative / neutral, pos / neg / neu, 正面 / 负面 / 中性 (and 积极 / 消极 / 中立, + / − / 0), any case,
    full-width or half-width. Raises InputError naming ``where`` and the line (``first_line`` is the line of
    the first value) of every value it cannot read."""
    out = np.empty(len(values), dtype=object)
    bad: list[str] = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out[i] = None
            continue
        s = _halfwidth(str(v)).strip().lower().replace("−", "-")
        if not s:
            out[i] = None
        elif s in _SPELLING:
            out[i] = _SPELLING[s]
        else:
            bad.append(f"line {first_line + i}: {str(v)[:20]!r}")
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise InputError(f"{where}: label(s) not understood — {'; '.join(bad[:5])}{more}; use positive / "
                         f"negative / neutral (or pos / neg, 正面 / 负面 / 中性)")
    return out


def _halfwidth(s: str) -> str:
    return "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in s)


# ---------------------------------------------------------------------------------------------- model
def rule_features(score: np.ndarray) -> np.ndarray:
    """The rules' outputs as model features (columns ``RULE_FEATURES``), before scaling."""
    s = np.asarray(score, np.float64)
    return np.column_stack([s, (s == 0).astype(np.float64)])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@dataclass
class SentimentModel:
    """A learned comment sentiment model (see the module docstring). ``classes`` are label codes in the
    order of the coefficients' rows (one row for two classes: the log-odds of ``classes[1]``)."""

    classes: tuple[str, ...]
    space: NgramSpace
    coef: np.ndarray  # (k, space.size + len(RULE_FEATURES))
    intercept: np.ndarray  # (k,)
    rule_scale: float = RULE_SCALE
    flip_conf: float = FLIP_CONF
    fill_min_chars: int = FILL_MIN_CHARS
    pack_id: str | None = None
    kept: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    # prediction ---------------------------------------------------------------------------------------
    @property
    def ngram_weights(self) -> np.ndarray:
        """(k, space.size): the coefficients of the n-gram features."""
        return self.coef[:, : self.space.size]

    def ngram_scores(self, big: str, starts: np.ndarray) -> np.ndarray:
        """The n-gram part of the decision function of the comments joined in ``big``, then their word
        characters and clause breaks: (n, k + 2) (see :meth:`NgramSpace.scores`)."""
        return self.space.scores(big, len(starts), self.ngram_weights)

    def decide(self, rule_score: np.ndarray, ngram_part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(polarity −1/0/+1, the model's probability of its own answer) from the rules' scores and
        :meth:`ngram_scores` — the hybrid's decision rule (module docstring): where the rules found a
        polarity, the model's answer replaces it only with probability ≥ ``flip_conf``; where they found
        nothing, the model answers (a two-class model only for comments of ≥ ``fill_min_chars`` word
        characters: it never saw a neutral label)."""
        rule_score = np.asarray(rule_score, np.float64)
        R = rule_features(rule_score) * self.rule_scale
        z = ngram_part[:, :-2] + R @ self.coef[:, self.space.size:].T + self.intercept
        pols = np.asarray([POLARITY[c] for c in self.classes], np.int8)
        if len(self.classes) == 2:
            p1 = _sigmoid(z[:, 0])
            pick = (p1 > 0.5).astype(np.int64)
            conf = np.where(pick == 1, p1, 1 - p1)
        else:
            p = _softmax(z)
            pick = p.argmax(1)
            conf = p[np.arange(len(p)), pick]
        model = pols[pick]
        rules = np.sign(rule_score).astype(np.int8)
        flip = (rules != 0) & (model != rules) & (conf >= self.flip_conf)
        fill = rules == 0
        if len(self.classes) == 2:
            fill &= ngram_part[:, -2] >= self.fill_min_chars
        return np.where(flip | fill, model, rules).astype(np.int8), conf

    def polarity(self, texts: Any, pack: Any = None, *, n_jobs: int | None = None) -> pd.Series:
        """−1 / 0 / +1 per comment (aligned with a Series' index): the model's when it was kept, else the
        rules'."""
        from .themes import analyze

        a = analyze(texts, self._pack(pack), n_jobs=n_jobs, model=self)
        return a.polarity()

    def predict(self, texts: Any, pack: Any = None, *, n_jobs: int | None = None) -> pd.Series:
        """``positive`` / ``negative`` / ``neutral`` per comment (the rules' answer when the model was not
        kept). ``pack``: the pack whose lexicon gives the rule features (default: the one it was trained
        with)."""
        pol = self.polarity(texts, pack, n_jobs=n_jobs)
        names = np.asarray(["negative", "neutral", "positive"], dtype=object)
        return pd.Series(names[pol.to_numpy(np.int64) + 1], index=pol.index, dtype=object, name="sentiment")

    def _pack(self, pack: Any) -> Any:
        if pack is not None or self.pack_id is None:
            return pack
        from ..packs import load_pack

        return load_pack(self.pack_id)

    # report -------------------------------------------------------------------------------------------
    def report(self, lang: str = "en") -> str:
        """What the guard found, in one paragraph."""
        return guard_sentence(self.info, self.kept, lang)

    def top_ngrams(self, k: int = 15) -> pd.DataFrame:
        """The n-grams that push hardest towards each class (two-class: negative and positive weights)."""
        grams = np.asarray(self.space.grams(), dtype=object)
        W = self.ngram_weights
        rows = []
        if len(self.classes) == 2:
            w = W[0]
            for cls, order in ((self.classes[1], np.argsort(-w)), (self.classes[0], np.argsort(w))):
                rows += [{"class": cls, "ngram": grams[i], "weight": float(abs(w[i]))} for i in order[:k]]
        else:
            for c, cls in enumerate(self.classes):
                rows += [{"class": cls, "ngram": grams[i], "weight": float(W[c, i])} for i in np.argsort(-W[c])[:k]]
        return pd.DataFrame(rows)

    # file ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "ngrams": {"grams": self.space.grams(), "idf": self.space.idf.tolist()},
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "rule_features": list(RULE_FEATURES),
            "rule_scale": float(self.rule_scale),
            "flip_conf": float(self.flip_conf),
            "fill_min_chars": int(self.fill_min_chars),
            "pack": self.pack_id,
            "kept": bool(self.kept),
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as versioned, hashed JSON (written beside ``path`` and moved into place)."""
        body = self.to_dict()
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
    if doc.get("version") != VERSION:
        raise bad(f"version {doc.get('version')!r}; this cemkit reads version {VERSION}")
    body = doc.get("model")
    if not isinstance(body, dict):
        raise bad("no model object")
    if doc.get("sha256") != _digest(body):
        raise bad("its content does not match its SHA-256: the file was changed or damaged")
    try:
        return _from_body(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(str(exc)[:120]) from None


def _reject(c: str) -> None:
    raise ValueError(f"{c} is not a number")


def _from_body(b: dict) -> SentimentModel:
    classes = b["classes"]
    if not (isinstance(classes, list) and set(classes) <= set(POLARITY) and len(set(classes)) == len(classes)
            and len(classes) in (2, 3)):
        raise ValueError("classes must be two or three of pos / neg / neutral")
    if list(b["rule_features"]) != list(RULE_FEATURES):
        raise ValueError(f"rule features {b['rule_features']!r}, expected {list(RULE_FEATURES)!r}")
    grams, idf = b["ngrams"]["grams"], b["ngrams"]["idf"]
    if not (isinstance(grams, list) and all(isinstance(g, str) and 1 <= len(g) <= 3 for g in grams)):
        raise ValueError("n-grams must be strings of 1 to 3 characters")
    idf = np.asarray(idf, dtype=np.float64)
    coef = np.asarray(b["coef"], dtype=np.float64)
    intercept = np.asarray(b["intercept"], dtype=np.float64)
    k = 1 if len(classes) == 2 else len(classes)
    if idf.shape != (len(grams),):
        raise ValueError("idf does not match the n-grams")
    if coef.shape != (k, len(grams) + len(RULE_FEATURES)) or intercept.shape != (k,):
        raise ValueError("coefficients do not match the n-grams and classes")
    for name, arr in (("idf", idf), ("coef", coef), ("intercept", intercept)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} holds non-finite numbers")
    space = NgramSpace.from_grams(grams, idf)
    if space.grams() != grams:
        raise ValueError("n-grams are not grouped by length and sorted")
    scale, flip, fill = float(b["rule_scale"]), float(b["flip_conf"]), b["fill_min_chars"]
    if not (math.isfinite(scale) and 0 <= flip <= 1 and isinstance(fill, int) and 0 <= fill < 10_000):
        raise ValueError("rule_scale / flip_conf / fill_min_chars out of range")
    pack = b.get("pack")
    if pack is not None and not isinstance(pack, str):
        raise ValueError("pack must be a name")
    info = b.get("info") or {}
    if not isinstance(info, dict):
        raise TypeError("info must be an object")
    return SentimentModel(tuple(classes), space, coef, intercept, scale, flip, fill, pack, bool(b["kept"]), info)


# -------------------------------------------------------------------------------------------- training
def _fit(texts: list[str], R: np.ndarray, y: np.ndarray, k_classes: int, *, c: float, scale: float,
         ngrams: Sequence[int], min_df: int, max_features: int | None, seed: int):
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    big, starts = join_texts(texts)
    space = NgramSpace.fit(big, starts, ngrams, min_df=min_df, max_features=max_features)
    X = sp.hstack([space.transform(big, len(texts)), sp.csr_matrix(R * scale)]).tocsr()
    # liblinear (coordinate descent) is several times faster than lbfgs on two classes and many sparse
    # features; three classes need the multinomial loss (lbfgs)
    clf = LogisticRegression(C=c, solver="liblinear" if k_classes == 2 else "lbfgs", max_iter=2000,
                             random_state=seed)
    clf.fit(X, y)
    coef = np.asarray(clf.coef_, np.float64)
    intercept = np.asarray(clf.intercept_, np.float64)
    if k_classes == 2 and coef.shape[0] != 1:  # pragma: no cover - sklearn always gives one row for 2 classes
        raise RuntimeError("unexpected coefficient shape")
    return space, coef, intercept


def _clean_texts(texts: Any) -> list[str]:
    from .themes import _clean, as_series

    return _clean(as_series(texts).tolist())


def mcnemar_p(better: int, worse: int) -> float:
    """One-sided exact McNemar p-value that the model is more accurate: P(X ≥ better) for X ~ Binomial(better
    + worse, 1/2) (McNemar 1947; the exact form of Edwards 1948)."""
    from scipy.stats import binom

    n = better + worse
    return 1.0 if n == 0 else float(binom.sf(better - 1, n, 0.5))


def learn_sentiment(texts: Any, labels: Any, pack: Any = None, *, folds: int = 5, seed: int = 0,
                    c: float = C, rule_scale: float = RULE_SCALE, flip_conf: float = FLIP_CONF,
                    fill_min_chars: int = FILL_MIN_CHARS,
                    ngrams: Sequence[int] = NGRAMS, min_df: int = MIN_DF, max_features: int | None = MAX_FEATURES,
                    alpha: float = ALPHA) -> SentimentModel:
    """Learn comment sentiment from labelled comments; kept only if it beats the rules on them.

    ``texts``: the comments; ``labels``: one per comment (see :func:`parse_labels`; blank = unlabelled,
    skipped). ``pack``: the pack whose lexicon gives the rule features (None: the shared lexicon).
    Returns a :class:`SentimentModel`; ``model.kept`` says whether it beat the rules (see the module
    docstring), ``model.info`` holds the figures (``n``, ``counts``, ``cv_accuracy``, ``rules_accuracy``,
    ``better``, ``worse``, ``p_value``, ``confusion``, ``reason``) and ``model.report()`` says it in words."""
    from sklearn.model_selection import StratifiedGroupKFold

    from .themes import analyze

    t_all = _clean_texts(texts)
    lab = parse_labels(list(labels))
    if len(lab) != len(t_all):
        raise UserError(f"{len(t_all)} comments but {len(lab)} labels")
    keep = np.asarray([lb is not None and t.strip() != "" for lb, t in zip(lab, t_all)], bool)
    # a class with fewer than MIN_PER_CLASS labels cannot be learned: its comments are left out (3 neutral
    # labels among 200 do not make a three-class model, nor should they stop a two-class one)
    rare = {cl: int(n) for cl, n in zip(*np.unique(lab[keep].astype(str), return_counts=True)) if n < MIN_PER_CLASS}
    keep &= np.asarray([lb not in rare for lb in lab], bool)
    t = [x for x, k in zip(t_all, keep) if k]
    y = lab[keep].astype(str)
    classes = tuple(sorted(set(y.tolist())))
    counts = {NAMES[cl]: int((y == cl).sum()) for cl in ("pos", "neg", "neutral") if (y == cl).any()}
    pack_id = getattr(pack, "id", None)
    rule_score = analyze(t, pack).sentiment.to_numpy(np.float64) if t else np.zeros(0)
    rule_pol = np.sign(rule_score).astype(np.int8)
    truth = np.asarray([POLARITY[v] for v in y], np.int8)
    info: dict[str, Any] = {
        "n": len(t), "counts": counts, "folds": folds, "seed": seed, "pack": pack_id,
        "params": {"c": c, "rule_scale": rule_scale, "flip_conf": flip_conf, "fill_min_chars": fill_min_chars,
                   "ngrams": list(ngrams),
                   "min_df": min_df, "max_features": max_features, "alpha": alpha},
        "rules_accuracy": float((rule_pol == truth).mean()) if len(t) else float("nan"),
        "left_out": {NAMES[cl]: n for cl, n in rare.items()},
        "trained": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    from .. import __version__

    info["cemkit"] = __version__
    empty = SentimentModel(classes if len(classes) >= 2 else ("neg", "pos"), NgramSpace((1,), (np.zeros(0, np.int64),),
                           np.zeros(0)), np.zeros((1 if len(classes) < 3 else 3, len(RULE_FEATURES))),
                           np.zeros(1 if len(classes) < 3 else 3), rule_scale, flip_conf, fill_min_chars, pack_id, False, info)
    if len(t) < MIN_LABELS or len(classes) < 2:
        info["reason"] = "too_few"
        info["need"] = {"labels": MIN_LABELS, "per_class": MIN_PER_CLASS}
        return empty
    R = rule_features(rule_score)
    k_classes = len(classes)
    n_splits = max(2, min(folds, min(counts.values())))
    groups = pd.factorize(pd.Series(t))[0]
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    oof = np.zeros(len(t), np.int8)
    for tr, te in cv.split(np.zeros(len(t)), y, groups):
        space, coef, icpt = _fit([t[i] for i in tr], R[tr], y[tr], k_classes, c=c, scale=rule_scale,
                                 ngrams=ngrams, min_df=min_df, max_features=max_features, seed=seed)
        m = SentimentModel(classes, space, coef, icpt, rule_scale, flip_conf, fill_min_chars, pack_id)
        big, starts = join_texts([t[i] for i in te])
        oof[te] = m.decide(rule_score[te], m.ngram_scores(big, starts))[0]
    model_ok, rules_ok = oof == truth, rule_pol == truth
    better, worse = int((model_ok & ~rules_ok).sum()), int((~model_ok & rules_ok).sum())
    p = mcnemar_p(better, worse)
    info.update({
        "folds": n_splits, "cv_accuracy": float(model_ok.mean()), "better": better, "worse": worse,
        "p_value": p,
        "confusion": pd.crosstab(pd.Categorical(truth, [-1, 0, 1]), pd.Categorical(oof, [-1, 0, 1]),
                                 dropna=False).to_numpy().tolist(),
    })
    kept = info["cv_accuracy"] > info["rules_accuracy"] and p <= alpha
    info["reason"] = "better" if kept else ("not_better" if better <= worse else "not_significant")
    if not kept:
        return empty
    space, coef, icpt = _fit(t, R, y, k_classes, c=c, scale=rule_scale, ngrams=ngrams, min_df=min_df,
                             max_features=max_features, seed=seed)
    return SentimentModel(classes, space, coef, icpt, rule_scale, flip_conf, fill_min_chars, pack_id, True, info)


def guard_sentence(info: dict, kept: bool, lang: str = "en") -> str:
    """One paragraph on the guard's decision (the figures of ``info``)."""
    n = info.get("n", 0)
    if info.get("reason") == "too_few":
        need = info.get("need", {})
        return {"zh": f"标注评论{n}条，少于所需（至少{need.get('labels')}条、每类至少{need.get('per_class')}条）："
                      f"未训练模型，继续使用规则。",
                "en": f"{n} labelled comments are too few (at least {need.get('labels')}, and "
                      f"{need.get('per_class')} per class, are needed): no model was trained; the rules stay."}[lang]
    cv, ru = 100 * info["cv_accuracy"], 100 * info["rules_accuracy"]
    b, w, p = info["better"], info["worse"], info["p_value"]
    left = info.get("left_out") or {}
    if lang == "zh":
        names = {"positive": "正面", "negative": "负面", "neutral": "中性"}
        note = "".join(f"（{names[k]}标注仅{v}条，未用于学习）" for k, v in left.items())
        head = f"基于{n}条标注评论的{info['folds']}折交叉验证：学习模型准确率{cv:.1f}%，规则{ru:.1f}%" \
               f"（模型对而规则错{b}条，反之{w}条，McNemar单侧p={p:.3g}）{note}。"
        return head + ("采用学习模型。" if kept else "模型未显著优于规则：继续使用规则。")
    note = "".join(f" Only {v} {k} labels: left out." for k, v in left.items())
    head = (f"{info['folds']}-fold cross-validation on {n} labelled comments: learned model {cv:.1f}% accurate, "
            f"rules {ru:.1f}% (model right where the rules are wrong: {b}; the reverse: {w}; one-sided exact "
            f"McNemar p = {p:.3g}).{note}")
    return head + (" The learned model is kept." if kept else
                   " The model does not beat the rules significantly: the rules stay.")


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
