"""Comment sentiment learned from a client's own labelled comments, kept only when it beats the rules.

``learn_sentiment(texts, labels, pack)`` fits a hybrid of the rule engine and character n-grams:
a logistic regression (scikit-learn) on

* the TF-IDF of the comment's character 1–3-grams (:mod:`.ngrams`; the vocabulary of the labelled comments,
  n-grams found in at least two of them),
* the rules' outputs (``RULE_FEATURES``), scaled by ``RULE_SCALE``: the comment score in [−1, 1], a flag for
  "the rules found nothing" (score 0), and the praise and the blame they found (tanh of the sums of the
  positive and of the negative weighted clause scores, ``EngineResult.evidence``): a mixed review whose
  praise and blame cancel scores like one with neither, and which side the rules let win is where they
  err most on long reviews.

Labels are ``positive`` / ``negative`` / ``neutral`` (also ``pos`` / ``neg``, 正面 / 负面 / 中性; see
:func:`parse_labels`). With neutral labels the model has three classes (multinomial), else two; a two-class
model is fitted on n-gram columns scaled by their naive Bayes log-count ratios (:func:`nb_ratios`, NB-LR),
its weights scaled back afterwards.

**Decision policy** (:mod:`.policy`). The model corrects the rules rather than replacing them, within two
limits: where the rules found a polarity, the model's answer replaces it only at a probability of at least
``flip_conf``; where the rules found nothing, the model answers only comments of at least
``fill_min_chars`` word characters (``NO_FILL``: never). The client's labels choose the limits among
``POLICIES`` by cross-validation (:func:`.policy.choose_policy`: a stricter flip limit must be better by more
than one standard error; fill ties go to the cautious). On star-rated product reviews that is a liberal
policy (every comment is positive or negative there, so a silent rule is always wrong); on survey comments,
where 无 / 还行吧 are neutral answers, a cautious one.

**Domain check.** A model learned from one kind of text and used on another (long product reviews → short
survey comments) misreads the short, clear comments the rules read right. So the policy learned from the
labels applies only to comments like the labelled ones: when the median length (word characters) of the
comments a model is asked about is below ``DOMAIN_RATIO`` (½) of the median length of its training comments,
it falls back to ``OUT_OF_DOMAIN``: the rules' answers (session 5's fallback, overrule at probability ≥ 0.9,
lost up to 0.8 points on the auto pack's labelled set with one of ten review-trained models and gained
nothing anywhere). :meth:`SentimentModel.in_domain` tells.

**The guard.** The labels are split into ``folds`` stratified folds (identical texts in one fold); each
comment is predicted by a model fitted without its fold, with the decision policy chosen without its fold
(``INNER_FOLDS``-fold cross-validation inside the other folds: nested, so the policy choice does not flatter
the estimate). That out-of-fold
accuracy is compared with the rules' accuracy on the same labels (a neutral answer on a positive or
negative label is wrong for both). The model is *kept* only when it is more accurate and the difference is
significant: an exact one-sided McNemar test on the comments exactly one of the two gets right
(p ≤ ``ALPHA``, :func:`.policy.mcnemar_p`). Otherwise ``kept`` is False, :meth:`SentimentModel.predict` returns the rules' answers and
``report()`` says why. A kept model is then fitted on all labels. Folds keep identical comments together
and never outnumber the distinct comments of the rarest class; a class with fewer than ``MIN_PER_CLASS``
distinct comments is left out; a fold's training part that still lacks a class gives a model of every
class (:func:`_fit`).

**The file** (:mod:`.model_file`): versioned, hashed JSON, read as hostile client input.

The constants and candidates were chosen by cross-validation on a training part of a real review corpus, on
the auto pack's labelled set and on ``general_reviews_dev.csv`` (docs/text.md, benchmarks/learn_protocol.md);
the corpus's held-back part and the other packs' sets were only measured.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, UserError
from .matching import join_texts
from .ngrams import NgramSpace
from .policy import (
    FILL_MIN_CHARS,
    FLIP_CONF,
    NEVER_FLIP,
    NO_FILL,
    OUT_OF_DOMAIN,
    POLICIES,
    apply_policy,
    choose_policy,
    guard_sentence,
    mcnemar_p,
)

__all__ = ["NEVER_FLIP", "NO_FILL", "OUT_OF_DOMAIN", "POLICIES", "RULE_FEATURES", "SentimentModel", "apply_policy",
           "choose_policy", "learn_sentiment", "mcnemar_p", "parse_labels", "rule_features"]

NGRAMS = (1, 2, 3)
MIN_DF = 2
MAX_FEATURES = 200_000
C = 16.0
NB = True  # two classes: n-gram features scaled by naive Bayes log-count ratios while fitting (NB-LR)
RULE_SCALE = 1.0
INNER_FOLDS = 3
DOMAIN_RATIO = 0.5  # in domain: median length of the comments asked about ≥ this × that of the training ones
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
#: the rules' outputs as features: the comment score, "found nothing", and (version 3) the praise and the
#: blame found, tanh of the sums of the positive and of the negative weighted clause scores
RULE_FEATURES = ("rule_score", "rule_neutral", "rule_praise", "rule_blame")
RULE_FEATURES_V2 = RULE_FEATURES[:2]
EVIDENCE = True  # new models use RULE_FEATURES (False: RULE_FEATURES_V2, as version 1–2 files)


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
def rule_features(score: np.ndarray, evidence: np.ndarray | None = None,
                  names: Sequence[str] = RULE_FEATURES) -> np.ndarray:
    """The rules' outputs as model features (columns ``names``, a prefix of ``RULE_FEATURES``), before
    scaling. ``evidence``: the engine's (praise, blame) sums per comment (``EngineResult.evidence``)."""
    s = np.asarray(score, np.float64)
    cols = [s, (s == 0).astype(np.float64)]
    if len(names) > 2:
        if evidence is None:
            raise ValueError("this model needs the rules' evidence (praise and blame) per comment")
        e = np.asarray(evidence, np.float64).reshape(len(s), 2)
        cols += [np.tanh(e[:, 0]), np.tanh(-e[:, 1])]
    return np.column_stack(cols)


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
    train_chars: float = 0.0  # median word characters of the training comments (0: no domain check)
    rule_features: tuple[str, ...] = RULE_FEATURES

    # prediction ---------------------------------------------------------------------------------------
    @property
    def ngram_weights(self) -> np.ndarray:
        """(k, space.size): the coefficients of the n-gram features."""
        return self.coef[:, : self.space.size]

    def ngram_scores(self, big: str, starts: np.ndarray) -> np.ndarray:
        """The n-gram part of the decision function of the comments joined in ``big``, then their word
        characters and clause breaks: (n, k + 2) (see :meth:`NgramSpace.scores`)."""
        return self.space.scores(big, len(starts), self.ngram_weights)

    def answers(self, rule_score: np.ndarray, ngram_part: np.ndarray,
                evidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The model's own answer (−1/0/+1) and its probability, before any decision policy (``evidence``:
        the engine's praise and blame per comment, for a model with those features)."""
        R = rule_features(np.asarray(rule_score, np.float64), evidence, self.rule_features) * self.rule_scale
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
        return pols[pick], conf

    def in_domain(self, word_chars: np.ndarray) -> bool:
        """Whether comments of these lengths (word characters) are like the training comments: their median
        is at least ``DOMAIN_RATIO`` × the training comments' (always, for a model without ``train_chars``)."""
        wc = np.asarray(word_chars, np.float64)
        return self.train_chars <= 0 or wc.size == 0 or float(np.median(wc)) >= DOMAIN_RATIO * self.train_chars

    def applies_to(self, texts: Any) -> bool:
        """Whether :func:`.themes.analyze` would use the learned model on these comments: it was kept and
        the comments are in its domain, judged as ``analyze`` judges them (:meth:`in_domain` on the word
        characters of the comments it prepares: the distinct ones when it dedupes)."""
        if not self.kept:
            return False
        from .ngrams import code_points, word_chars
        from .themes import as_series, prepare

        prep = prepare(as_series(texts))
        return self.in_domain(word_chars(code_points(prep.big), len(prep.starts)))

    def domain_note(self, lang: str = "en") -> str:
        """The sentence a run prints when its comments are outside the model's domain."""
        m = DOMAIN_RATIO * self.train_chars
        return {"zh": f"本次评论明显短于标注评论（中位字数低于{m:.0f}字，即标注评论中位数的{DOMAIN_RATIO:.0%}）："
                      "学习模型未采用，情感沿用规则。",
                "en": f"This run's comments are much shorter than the labelled ones (median below {m:.0f} word "
                      f"characters, {DOMAIN_RATIO:.0%} of the labelled comments' median): the learned model was "
                      "not used; sentiment follows the rules."}[lang]

    def decide(self, rule_score: np.ndarray, ngram_part: np.ndarray,
               evidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(polarity −1/0/+1, the model's probability of its own answer) from the rules' scores (and
        evidence) and :meth:`ngram_scores` — the decision policy (module docstring): ``flip_conf`` and
        ``fill_min_chars`` for comments like the training ones (:meth:`in_domain`, judged on the whole
        batch), else ``OUT_OF_DOMAIN``."""
        model, conf = self.answers(rule_score, ngram_part, evidence)
        wc = ngram_part[:, -2]
        flip, fill = (self.flip_conf, self.fill_min_chars) if self.in_domain(wc) else OUT_OF_DOMAIN
        return apply_policy(np.sign(np.asarray(rule_score, np.float64)).astype(np.int8), model, conf, wc,
                            flip, fill), conf

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
            "rule_features": list(self.rule_features),
            "rule_scale": float(self.rule_scale),
            "flip_conf": float(self.flip_conf),
            "fill_min_chars": int(self.fill_min_chars),
            "train_chars": float(self.train_chars),
            "pack": self.pack_id,
            "kept": bool(self.kept),
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as versioned, hashed JSON (:func:`.model_file.save_model`)."""
        from .model_file import save_model

        return save_model(self, path)


# -------------------------------------------------------------------------------------------- training
def nb_ratios(X, y: np.ndarray, positive: str, alpha: float = 1.0) -> np.ndarray:
    """Naive Bayes log-count ratios of the columns of ``X`` for class ``positive`` against the rest (Wang &
    Manning 2012, "Baselines and bigrams", NBSVM): ``r = log((p / |p|₁) / (q / |q|₁))`` with ``p = α + Σ``
    over the rows of the class of the columns' presence (0/1), ``q`` the same over the other rows."""
    B = (X != 0).astype(np.float64)
    pos = np.asarray(y) == positive
    p = alpha + np.asarray(B[pos].sum(0)).ravel()
    q = alpha + np.asarray(B[~pos].sum(0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def _fit(texts: list[str], R: np.ndarray, y: np.ndarray, classes: Sequence[str], *, c: float, scale: float,
         ngrams: Sequence[int], min_df: int, max_features: int | None, seed: int, nb: bool = True):
    """(space, coef, intercept) of a model of ``classes`` (sorted label codes) fitted on these comments.
    A training part of a cross-validation fold can lack a class (its labels all one comment, or too few to
    go round the folds): the model is fitted on the classes present and gives an absent class no weights
    and the intercept of a class seen with one pseudo-count against ``n + 1``, so it is never the answer
    when another class holds any evidence; a part with one class gives a constant model (the
    Laplace-smoothed class frequencies)."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    big, starts = join_texts(texts)
    space = NgramSpace.fit(big, starts, ngrams, min_df=min_df, max_features=max_features)
    classes = list(classes)
    k = 1 if len(classes) == 2 else len(classes)
    d = space.size + R.shape[1]
    present = sorted(set(y.tolist()))
    if len(present) < 2:
        # one class: the smoothed frequencies (n + 1 for it, 1 for every other class)
        prior = np.log(np.asarray([len(y) + 1.0 if cl in present else 1.0 for cl in classes]))
        icpt = prior[1:2] - prior[0:1] if len(classes) == 2 else prior
        return space, np.zeros((k, d)), np.asarray(icpt, np.float64)
    Xn = space.transform(big, len(texts))
    two = len(present) == 2
    # two classes: the n-gram columns scaled by their naive Bayes log-count ratios (NB-LR): the regression
    # then starts from what naive Bayes believes and spends its penalty on corrections; the weights are
    # scaled back below, so prediction is the same dot product (+0.5 points on held-out reviews of the pool)
    r = nb_ratios(Xn, y, present[1]) if nb and two else np.ones(space.size)
    X = sp.hstack([Xn @ sp.diags(r), sp.csr_matrix(R * scale)]).tocsr()
    # liblinear is several times faster than lbfgs on two classes and many sparse features, and its dual
    # solver (coordinate descent) 30 times faster than the primal one when n-grams outnumber the comments
    # (2,000 reviews, 25,000 n-grams: 0.04 vs 1.2 CPU s per fit; the same optimum within the tolerance);
    # three classes need the multinomial loss (lbfgs)
    clf = LogisticRegression(C=c, solver="liblinear" if two else "lbfgs", dual=two and X.shape[1] > X.shape[0],
                             max_iter=2000, random_state=seed)
    clf.fit(X, y)
    w = np.asarray(clf.coef_, np.float64)
    w[:, : space.size] *= r
    b = np.asarray(clf.intercept_, np.float64)
    if len(present) == len(classes):
        return space, w, b
    # three classes, two present: the binary log-odds of present[1] against present[0] as multinomial rows
    coef, icpt = np.zeros((k, d)), np.full(k, -math.log(len(y) + 1.0))
    i0, i1 = classes.index(present[0]), classes.index(present[1])
    icpt[i0] = 0.0
    coef[i1], icpt[i1] = w[0], b[0]
    return space, coef, icpt


def _clean_texts(texts: Any) -> list[str]:
    from .themes import _clean, as_series

    return _clean(as_series(texts).tolist())


def _policies(flip_conf: float | None, fill_min_chars: int | None) -> list[tuple[float, int]]:
    """The candidate policies: ``POLICIES``, or those with the given limit(s)."""
    flips = dict.fromkeys(f for f, _ in POLICIES) if flip_conf is None else {float(flip_conf): None}
    fills = dict.fromkeys(m for _, m in POLICIES) if fill_min_chars is None else {int(fill_min_chars): None}
    return [(f, m) for f in flips for m in fills]


def _splits(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep identical comments (``groups``) together: at most ``folds``, and no more
    than the distinct comments of the rarest class (so that every class can reach most training parts), at
    least 2 when there are two distinct comments; [] when there are not (no cross-validation possible). A
    training part may still lack a class (:func:`_fit` allows it)."""
    from sklearn.model_selection import StratifiedGroupKFold

    per_class = pd.Series(groups).groupby(np.asarray(y)).nunique()
    n_groups = int(pd.Series(groups).nunique())
    if n_groups < 2:
        return []
    n = max(2, min(folds, int(per_class.min()), n_groups))
    cv = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y, groups))


def learn_sentiment(texts: Any, labels: Any, pack: Any = None, *, folds: int = 5, seed: int = 0,
                    c: float = C, rule_scale: float = RULE_SCALE, flip_conf: float | None = None,
                    fill_min_chars: int | None = None,
                    ngrams: Sequence[int] = NGRAMS, min_df: int = MIN_DF, max_features: int | None = MAX_FEATURES,
                    alpha: float = ALPHA, nb: bool = NB) -> SentimentModel:
    """Learn comment sentiment from labelled comments; kept only if it beats the rules on them.

    ``texts``: the comments; ``labels``: one per comment (see :func:`parse_labels`; blank = unlabelled,
    skipped). ``pack``: the pack whose lexicon gives the rule features (None: the shared lexicon).
    ``flip_conf`` / ``fill_min_chars``: fix the decision policy's limits (None: chosen by cross-validation
    among ``POLICIES``; see the module docstring).
    Returns a :class:`SentimentModel`; ``model.kept`` says whether it beat the rules (see the module
    docstring), ``model.info`` holds the figures (``n``, ``counts``, ``cv_accuracy``, ``rules_accuracy``,
    ``better``, ``worse``, ``p_value``, ``confusion``, ``policy``, ``reason``) and ``model.report()`` says
    it in words."""
    from .ngrams import code_points, word_chars
    from .themes import analyze

    t_all = _clean_texts(texts)
    lab = parse_labels(list(labels))
    if len(lab) != len(t_all):
        raise UserError(f"{len(t_all)} comments but {len(lab)} labels")
    keep = np.asarray([lb is not None and t.strip() != "" for lb, t in zip(lab, t_all)], bool)
    # a class with fewer than MIN_PER_CLASS labels cannot be learned: its comments are left out (3 neutral
    # labels among 200 do not make a three-class model, nor should they stop a two-class one)
    # (counted in distinct comments: five labels of 无 are one example)
    distinct = pd.Series([x for x, k in zip(t_all, keep) if k]).groupby(lab[keep].astype(str)).nunique()
    rare = {cl: int((lab[keep] == cl).sum()) for cl, n in distinct.items() if n < MIN_PER_CLASS}
    rare_distinct = {NAMES[cl]: int(distinct[cl]) for cl in rare}
    keep &= np.asarray([lb not in rare for lb in lab], bool)
    t = [x for x, k in zip(t_all, keep) if k]
    y = lab[keep].astype(str)
    classes = tuple(sorted(set(y.tolist())))
    counts = {NAMES[cl]: int((y == cl).sum()) for cl in ("pos", "neg", "neutral") if (y == cl).any()}
    pack_id = getattr(pack, "id", None)
    a = analyze(t, pack, dedupe=False) if t else None
    rule_score = a.sentiment.to_numpy(np.float64) if t else np.zeros(0)
    evidence = a.engine_result.evidence if t else np.zeros((0, 2))
    names = RULE_FEATURES if EVIDENCE else RULE_FEATURES_V2
    rule_pol = np.sign(rule_score).astype(np.int8)
    truth = np.asarray([POLARITY[v] for v in y], np.int8)
    candidates = _policies(flip_conf, fill_min_chars)
    info: dict[str, Any] = {
        "n": len(t), "counts": counts, "folds": folds, "seed": seed, "pack": pack_id,
        "params": {"c": c, "rule_scale": rule_scale, "flip_conf": flip_conf, "fill_min_chars": fill_min_chars,
                   "ngrams": list(ngrams),
                   "min_df": min_df, "max_features": max_features, "alpha": alpha, "nb": nb},
        "rules_accuracy": float((rule_pol == truth).mean()) if len(t) else float("nan"),
        "left_out": {NAMES[cl]: n for cl, n in rare.items()}, "left_out_distinct": rare_distinct,
        "trained": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    from .. import __version__

    info["cemkit"] = __version__
    f0, m0 = candidates[0] if len(candidates) == 1 else (FLIP_CONF, FILL_MIN_CHARS)
    empty = SentimentModel(classes if len(classes) >= 2 else ("neg", "pos"), NgramSpace((1,), (np.zeros(0, np.int64),),
                           np.zeros(0)), np.zeros((1 if len(classes) < 3 else 3, len(names))),
                           np.zeros(1 if len(classes) < 3 else 3), rule_scale, f0, m0, pack_id, False, info,
                           rule_features=names)
    if len(t) < MIN_LABELS or len(classes) < 2:
        info["reason"] = "too_few"
        info["need"] = {"labels": MIN_LABELS, "per_class": MIN_PER_CLASS}
        return empty
    R = rule_features(rule_score, evidence, names)
    groups = pd.factorize(pd.Series(t))[0]
    wc = word_chars(code_points(join_texts(t)[0]), len(t)).astype(np.float64)
    fit_kw = {"c": c, "scale": rule_scale, "ngrams": ngrams, "min_df": min_df, "max_features": max_features,
              "seed": seed, "nb": nb}

    def answers(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The answers (and probabilities) for comments ``te`` of a model fitted on comments ``tr``."""
        space, coef, icpt = _fit([t[i] for i in tr], R[tr], y[tr], classes, **fit_kw)
        m = SentimentModel(classes, space, coef, icpt, rule_scale, pack_id=pack_id, rule_features=names)
        big, starts = join_texts([t[i] for i in te])
        return m.answers(rule_score[te], m.ngram_scores(big, starts), evidence[te])

    def oof_answers(idx: np.ndarray, k: int, s: int) -> tuple[np.ndarray, np.ndarray, int]:
        model, conf = np.zeros(len(idx), np.int8), np.zeros(len(idx))
        splits = _splits(y[idx], groups[idx], k, s)
        for tr, te in splits:
            model[te], conf[te] = answers(idx[tr], idx[te])
        return model, conf, len(splits)

    # outer folds: the guard's estimate; in each, the policy is chosen by inner folds of its training part
    oof = np.zeros(len(t), np.int8)
    model_all, conf_all = np.zeros(len(t), np.int8), np.zeros(len(t))
    fold_policies = []
    outer = _splits(y, groups, folds, seed)
    for tr, te in outer:
        m_in, c_in, n_in = oof_answers(tr, INNER_FOLDS, seed + 1) if len(candidates) > 1 else (None, None, 0)
        if n_in:
            pol, _ = choose_policy(rule_pol[tr], m_in, c_in, wc[tr], truth[tr], candidates)
        else:
            pol = candidates[0]
        fold_policies.append(list(pol))
        model_all[te], conf_all[te] = answers(tr, te)
        oof[te] = apply_policy(rule_pol[te], model_all[te], conf_all[te], wc[te], *pol)
    # the final model's policy: chosen on every label's out-of-fold answers
    policy, accs = choose_policy(rule_pol, model_all, conf_all, wc, truth, candidates)
    model_ok, rules_ok = oof == truth, rule_pol == truth
    better, worse = int((model_ok & ~rules_ok).sum()), int((~model_ok & rules_ok).sum())
    p = mcnemar_p(better, worse)
    info.update({
        "folds": len(outer), "cv_accuracy": float(model_ok.mean()), "better": better, "worse": worse,
        "p_value": p,
        "confusion": pd.crosstab(pd.Categorical(truth, [-1, 0, 1]), pd.Categorical(oof, [-1, 0, 1]),
                                 dropna=False).to_numpy().tolist(),
        "policy": {"flip_conf": policy[0], "fill_min_chars": policy[1], "chosen_by": "cv" if len(candidates) > 1
                   else "given", "fold_policies": fold_policies,
                   "cv_accuracy": [[f, m, a] for (f, m), a in zip(candidates, accs)]},
        "train_chars": float(np.median(wc)),
    })
    kept = info["cv_accuracy"] > info["rules_accuracy"] and p <= alpha
    info["reason"] = "better" if kept else ("not_better" if better <= worse else "not_significant")
    if not kept:
        return empty
    space, coef, icpt = _fit(t, R, y, classes, **fit_kw)
    return SentimentModel(classes, space, coef, icpt, rule_scale, policy[0], policy[1], pack_id, True, info,
                          float(np.median(wc)), names)
