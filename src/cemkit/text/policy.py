"""The decision policy of a learned sentiment model and the guard's verdict in words (:mod:`.learn`).

A learned model corrects the rules rather than replacing them: where the rules found a polarity, its answer
replaces theirs only at a probability of at least ``flip_conf``; where they found nothing, it answers only
comments of at least ``fill_min_chars`` word characters (``NO_FILL``: never). The candidates
``POLICIES`` run from the most cautious to the model's own answer; :func:`choose_policy` picks one from
cross-validated answers on the client's labels. Outside the model's domain (:meth:`.learn.SentimentModel.in_domain`)
the policy is ``OUT_OF_DOMAIN``: the rules' answers. :func:`mcnemar_p` is the guard's test,
:func:`guard_sentence` its verdict in one paragraph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["FILL_MIN_CHARS", "FLIP_CONF", "NEVER_FLIP", "NO_FILL", "OUT_OF_DOMAIN", "POLICIES", "POLICY_RULE",
           "apply_policy", "choose_policy", "guard_sentence", "mcnemar_p"]

NO_FILL = 1_000_000  # fill_min_chars: never answer where the rules find nothing
#: candidate decision policies (flip_conf, fill_min_chars), the most cautious first (it wins ties)
POLICIES: tuple[tuple[float, int], ...] = tuple((f, m) for f in (0.9, 0.8, 0.7, 0.6, 0.5)
                                               for m in (NO_FILL, 12, 6, 0))
FLIP_CONF, FILL_MIN_CHARS = 0.8, 12  # the policy of models that chose none (version 1 files)
POLICY_RULE = "1se"  # how the labels choose among POLICIES (choose_policy)
NEVER_FLIP = 2.0  # flip_conf: never overrule the rules (no probability reaches it)
OUT_OF_DOMAIN = (NEVER_FLIP, NO_FILL)  # the policy outside the model's domain: the rules' answers


def apply_policy(rules: np.ndarray, model: np.ndarray, conf: np.ndarray, word_chars: np.ndarray,
                 flip_conf: float, fill_min_chars: int) -> np.ndarray:
    """The rules' polarity, replaced by the model's where it overrules them with probability ≥ ``flip_conf``
    or where the rules found nothing in a comment of ≥ ``fill_min_chars`` word characters."""
    flip = (rules != 0) & (model != rules) & (conf >= flip_conf)
    fill = (rules == 0) & (np.asarray(word_chars) >= fill_min_chars)
    return np.where(flip | fill, model, rules).astype(np.int8)


def mcnemar_p(better: int, worse: int) -> float:
    """One-sided exact McNemar p-value that the model is more accurate: P(X ≥ better) for X ~ Binomial(better
    + worse, 1/2) (McNemar 1947; the exact form of Edwards 1948)."""
    from scipy.stats import binom

    n = better + worse
    return 1.0 if n == 0 else float(binom.sf(better - 1, n, 0.5))


def choose_policy(rules: np.ndarray, model: np.ndarray, conf: np.ndarray, word_chars: np.ndarray,
                  truth: np.ndarray, candidates: Sequence[tuple[float, int]],
                  rule: str | None = None) -> tuple[tuple[float, int], list[float]]:
    """The candidate decision policy (flip_conf, fill_min_chars) for these answers, and every candidate's
    accuracy. ``rule`` (default ``POLICY_RULE``):

    * ``"1se"``: of the candidates whose accuracy is within one standard error of the best one's — the
      standard error of the paired difference, ``sqrt(d − (b − c)²/n) / n``, ``b`` and ``c`` the labels only
      one of the two gets right, ``d = b + c`` (the "one-standard-error rule" of Breiman et al. 1984) — the
      lowest ``flip_conf``; with it, the ``fill_min_chars`` of the highest accuracy (ties: the higher,
      more cautious one). Overruling the
      rules needs no extra limit: the model saw the rules' outputs as features, its probability already
      weighs them; a stricter limit must be better by more than the noise of the labels (picking the best of
      20 by one or two comments made the choice a draw: on pool draws of 500 reviews, 0.9 chosen by one
      comment lost 4 points against 0.5 on the other 700). Answering where the rules find nothing keeps
      ties cautious: a two-class model cannot answer "neutral", and labels with no short comment cannot
      tell how short a comment it should answer;
    * ``"best"``: the most accurate (ties: the earlier candidate; ``POLICIES`` run from the most cautious)."""
    rule = POLICY_RULE if rule is None else rule
    answers = [apply_policy(rules, model, conf, word_chars, f, m) == truth for f, m in candidates]
    accs = [float(a.mean()) for a in answers]
    best = int(np.argmax(accs))
    if rule == "best" or not len(truth):
        return candidates[best], accs
    if rule != "1se":
        raise ValueError(f"unknown policy rule {rule!r}")
    n = len(truth)
    near = []
    for i, ok in enumerate(answers):
        b, c = int((answers[best] & ~ok).sum()), int((~answers[best] & ok).sum())
        if accs[i] >= accs[best] - math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n:
            near.append(i)
    flip = min(candidates[i][0] for i in near)
    pick = max((i for i, (f, _) in enumerate(candidates) if f == flip),
               key=lambda i: (accs[i], candidates[i][1], -i))
    return candidates[pick], accs


def guard_sentence(info: dict, kept: bool, lang: str = "en") -> str:
    """One paragraph on the guard's decision (the figures of ``info``)."""
    n = info.get("n", 0)
    left = info.get("left_out") or {}
    dis = info.get("left_out_distinct") or {}
    if lang == "zh":
        names = {"positive": "正面", "negative": "负面", "neutral": "中性"}
        note = "".join(f"（{names[k]}标注仅{v}条，未用于学习）" if dis.get(k, v) == v else
                       f"（{names[k]}标注{v}条仅涉及{dis[k]}条不同评论，未用于学习）" for k, v in left.items())
    else:
        note = "".join(f" Only {v} {k} labels: left out." if dis.get(k, v) == v else
                       f" {v} {k} labels on only {dis[k]} distinct comments: left out." for k, v in left.items())
    if info.get("reason") == "too_few":
        need = info.get("need", {})
        return {"zh": f"可用标注评论{n}条{note}，少于所需（至少{need.get('labels')}条、至少两类、每类至少"
                      f"{need.get('per_class')}条不同评论）：未训练模型，继续使用规则。",
                "en": f"{n} usable labelled comments.{note} These are too few (at least {need.get('labels')}, of two classes "
                      f"or more, each with {need.get('per_class')} distinct comments, are needed): no model was "
                      f"trained; the rules stay."}[lang]
    cv, ru = 100 * info["cv_accuracy"], 100 * info["rules_accuracy"]
    b, w, p = info["better"], info["worse"], info["p_value"]
    if lang == "zh":
        head = f"基于{n}条标注评论的{info['folds']}折交叉验证：学习模型准确率{cv:.1f}%，规则{ru:.1f}%" \
               f"（模型对而规则错{b}条，反之{w}条，McNemar单侧p={p:.3g}）{note}。"
        return head + ("采用学习模型。" + _policy_sentence(info, "zh") if kept else "模型未显著优于规则：继续使用规则。")
    head = (f"{info['folds']}-fold cross-validation on {n} labelled comments: learned model {cv:.1f}% accurate, "
            f"rules {ru:.1f}% (model right where the rules are wrong: {b}; the reverse: {w}; one-sided exact "
            f"McNemar p = {p:.3g}).{note}")
    return head + (" The learned model is kept. " + _policy_sentence(info, "en") if kept else
                   " The model does not beat the rules significantly: the rules stay.")


def _policy_sentence(info: dict, lang: str) -> str:
    """The decision policy of a kept model, in one sentence."""
    pol = info.get("policy") or {}
    if "flip_conf" not in pol:
        return ""
    f, m = pol["flip_conf"], pol["fill_min_chars"]
    how = {"zh": "交叉验证选定" if pol.get("chosen_by") == "cv" else "指定",
           "en": "chosen by cross-validation" if pol.get("chosen_by") == "cv" else "given"}[lang]
    if lang == "zh":
        fill = "规则无判断的评论不由模型判断" if m >= NO_FILL else (
            "规则无判断的评论由模型判断" if m <= 0 else f"规则无判断、至少{m}字的评论由模型判断")
        return f"判定规则（{how}）：模型把握≥{f:.0%}时改判规则；{fill}。"
    fill = ("where the rules find nothing, the rules' neutral stays" if m >= NO_FILL else
            "where the rules find nothing, the model answers" + ("" if m <= 0 else f" from {m} characters on"))
    return f"Decision policy ({how}): the model overrules the rules at probability ≥ {f:.0%}; {fill}."
