"""Learning sentiment from labelled comments (cemkit.text.learn, .ngrams, .labels) and the labelling loop
(cemkit label / learn / eval-text --labels, a run with --sentiment-model).

The labelled comments here are synthetic, written for these tests: a client's jargon the lexicon does not
know (返厂 = the car went back to the factory, 秒批 / 一条龙 / 零加价 = praise; the rules even read 零加价 as a
complaint about 加价) mixed with ordinary comments the rules read right."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cemkit import text
from cemkit.cli import main
from cemkit.errors import InputError
from cemkit.text.learn import (
    NEVER_FLIP,
    NO_FILL,
    OUT_OF_DOMAIN,
    POLICIES,
    RULE_FEATURES,
    RULE_FEATURES_V2,
    SentimentModel,
    choose_policy,
    learn_sentiment,
    mcnemar_p,
    parse_labels,
    rule_features,
)
from cemkit.text.matching import join_texts
from cemkit.text.model_file import FORMAT, load_sentiment_model
from cemkit.text.ngrams import NgramSpace, code_points, decode_key, encode_key

PREFIX = ["上个月在城东店提的车", "这次去做两万公里保养", "朋友推荐来这家店买车", "周末带家里人一起来看车",
          "第二次来这家店办手续", "销售顾问小王全程陪同", "售后那边的师傅说的是"]
NEG = ["又返厂了", "第三次返厂", "交车当天就返厂", "返厂两回了"]
POS = ["秒批下来", "手续一条龙", "一条龙办好了", "现车零加价", "零加价提的车"]
CLEAR_POS = ["服务很好，非常满意", "态度很热情，很专业", "环境干净，体验不错"]
CLEAR_NEG = ["等了太久，很不满意", "态度很差，不专业", "收费太贵了，乱收费"]


MIDDLE = ["", "说实话", "总的来说", "这回", "讲真"]
SUFFIX = ["", "。", "！", "，就这样", "，记录一下"]


def jargon_set(n: int = 240, seed: int = 0, neutral: bool = False) -> pd.DataFrame:
    """Synthetic labelled comments: jargon the rules misread (mostly) plus clear comments (≈ 2,600
    distinct)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        k = rng.random()
        pre = PREFIX[rng.integers(len(PREFIX))] + "，" + MIDDLE[rng.integers(len(MIDDLE))]
        pre = pre.rstrip("，")
        if k < 0.3:
            rows.append((f"{pre}，{NEG[rng.integers(len(NEG))]}", "negative"))
        elif k < 0.6:
            rows.append((f"{pre}，{POS[rng.integers(len(POS))]}", "positive"))
        elif k < 0.8:
            rows.append((f"{pre}，{CLEAR_POS[rng.integers(len(CLEAR_POS))]}", "正面"))
        elif k < 0.95 or not neutral:
            rows.append((f"{pre}，{CLEAR_NEG[rng.integers(len(CLEAR_NEG))]}", "neg"))
        else:
            rows.append((pre, "中性"))
            continue
        rows[-1] = (rows[-1][0] + SUFFIX[rng.integers(len(SUFFIX))], rows[-1][1])
    return pd.DataFrame(rows, columns=["text", "label"])


@pytest.fixture(scope="module")
def jargon_model(auto_pack):
    d = jargon_set()
    return learn_sentiment(d["text"], d["label"], auto_pack)


# ------------------------------------------------------------------------------------------ n-grams
def test_ngrams_match_scikit_learn_char_analyzer():
    """Same n-grams, counts and idf as scikit-learn's char analyzer, on comments without punctuation or
    spaces (which break n-grams here) and after the normalisation written out by hand."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    texts = ["服务很好但是等待太久", "价格贵了点", "ＡＰＰ很好用", "满意", "满意满意", "不满意太差了", "5元保养"]
    normalised = ["服务很好但是等待太久", "价格贵了点", "app很好用", "满意", "满意满意", "不满意太差了", "0元保养"]
    big, starts = join_texts(texts)
    space = NgramSpace.fit(big, starts, (1, 2, 3))
    cv = CountVectorizer(analyzer="char", ngram_range=(1, 3), lowercase=False)
    ref = cv.fit_transform(normalised)
    grams = space.grams()
    assert sorted(grams) == sorted(cv.get_feature_names_out())
    r, j = space.occurrences(big)
    ours = pd.crosstab(r, np.asarray(grams)[j])
    theirs = pd.DataFrame(ref.toarray(), columns=cv.get_feature_names_out()).reindex(columns=ours.columns)
    assert (ours.to_numpy() == theirs.to_numpy()).all()
    tf = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), lowercase=False).fit(normalised)
    idf = dict(zip(tf.get_feature_names_out(), tf.idf_))
    assert np.allclose(space.idf, [idf[g] for g in grams])


def test_punctuation_and_spaces_break_ngrams():
    big, starts = join_texts(["服务，很好！", "a b", "👍👍"])
    grams = NgramSpace.fit(big, starts, (1, 2)).grams()
    assert sorted(grams) == sorted(["服", "务", "服务", "很", "好", "很好", "a", "b", "👍", "👍👍"])


def test_ngram_rows_are_unit_length_and_scores_equal_the_dot_product():
    texts = ["服务很好", "太差了太差了", "", "一般"]
    big, starts = join_texts(texts)
    space = NgramSpace.fit(big, starts, (1, 2))
    X = space.transform(big, len(texts))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(1)).ravel())
    assert norms[0] == pytest.approx(1.0) and norms[3] == pytest.approx(1.0) and norms[2] == 0
    assert norms[1] > 1  # repeated n-grams: the divisor is a sum over occurrences (module docstring)
    w = np.random.default_rng(0).normal(size=(2, space.size))
    s = space.scores(big, len(texts), w)
    assert np.allclose(s[:, :2], (X @ w.T))
    assert s[:, 2].tolist() == [4, 6, 0, 2]  # word characters
    assert s[:, 3].tolist() == [0, 0, 0, 0]  # clause breaks


def test_clause_breaks():
    from cemkit.text.ngrams import clause_breaks

    t = ["服务很好", "服务很好。", "，服务很好！！", "服务很好，等待太久", "a, b. c", "", "。。。", "服务很好但是等待太久",
         "服务 很好"]
    big, _ = join_texts(t)
    assert clause_breaks(code_points(big), len(t)).tolist() == [0, 0, 0, 1, 2, 0, 0, 0, 1]


def test_normalisation_and_key_round_trip():
    cp = code_points("ＡＢ１２ａ　x")
    assert "".join(map(chr, cp)) == "ab00a x"
    for g in ("满", "满意", "不满意", "a😀b"):
        assert decode_key(*encode_key(g)) == g


def test_hash_lookup_with_shared_slots_agrees_with_binary_search():
    from cemkit.text.ngrams import _KeyIndex

    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**62, 5000))
    small = _KeyIndex(keys, bits=10)  # 5,000 keys in 1,024 slots: most slots shared
    assert (small.slot_idx == -2).sum() > 500
    q = np.concatenate([keys[::7], rng.integers(0, 2**62, 3000)])
    expect = np.searchsorted(keys, q)
    expect = np.where(keys[np.minimum(expect, keys.size - 1)] == q, expect, -1)
    assert (small.lookup(q) == expect).all()
    assert (_KeyIndex(keys).lookup(q) == expect).all()


# ------------------------------------------------------------------------------------------- labels
def test_rule_evidence_praise_and_blame(auto_pack):
    """The engine's evidence: per comment the sums of positive and of negative weighted clause scores; their
    sum is the score before tanh. 服务很好，但是等待太久 holds both (the praise weighs ½ before 但是, the blame
    2 after it)."""
    texts = ["服务很好，但是等待太久", "非常满意", "太差了", "无", "", "这是正品吗？"] + jargon_set(60)["text"].tolist()
    r = text.analyze(texts, auto_pack, dedupe=False).engine_result
    ev = r.evidence.astype(np.float64)
    assert ev.shape == (len(texts), 2) and (ev[:, 0] >= 0).all() and (ev[:, 1] <= 0).all()
    assert np.allclose(np.tanh(ev.sum(1)), r.sentiment, atol=1e-5)
    assert ev[0, 0] > 0 and ev[0, 1] < 0 and -ev[0, 1] > ev[0, 0]
    assert ev[1, 1] == 0 < ev[1, 0] and ev[2, 0] == 0 > ev[2, 1] and not ev[3:5].any()
    f = rule_features(r.sentiment, ev)
    assert f.shape == (len(texts), 4) and np.allclose(f[:, 2], np.tanh(ev[:, 0])) and np.allclose(f[:, 3], np.tanh(-ev[:, 1]))
    assert rule_features(r.sentiment, None, RULE_FEATURES_V2).shape == (len(texts), 2)
    with pytest.raises(ValueError):
        rule_features(r.sentiment, None)


def test_label_spellings():
    got = parse_labels(["positive", "NEG", " 中性 ", "正面", "负面", "pos", "neutral", "", None, float("nan"),
                        "ｐｏｓ", "Negative"])
    assert got.tolist() == ["pos", "neg", "neutral", "pos", "neg", "pos", "neutral", None, None, None, "pos", "neg"]


def test_unreadable_labels_name_their_lines():
    with pytest.raises(InputError) as e:
        parse_labels(["pos", "good", "neg", "很好"], where="sheet.xlsx", first_line=2)
    msg = str(e.value)
    assert "sheet.xlsx" in msg and "line 3: 'good'" in msg and "line 5: '很好'" in msg


# --------------------------------------------------------------------------------------------- model
def test_learned_model_beats_the_rules_on_jargon_and_predicts_names(jargon_model, auto_pack):
    m = jargon_model
    assert m.kept and m.classes == ("neg", "pos")
    assert m.info["cv_accuracy"] > m.info["rules_accuracy"] + 0.2
    test = ["周末去店里提的新车，结果又返厂了", "这次来店里办贷款，秒批下来", "提车的时候现车零加价", "服务很好，非常满意"]
    assert m.predict(test, auto_pack).tolist() == ["negative", "positive", "positive", "positive"]
    # every label is a long comment: cross-validation cannot tell how short a comment the model should
    # answer where the rules find nothing, so the cautious limit wins the tie
    assert m.fill_min_chars == 12 and m.info["policy"]["chosen_by"] == "cv"
    assert m.predict(test + ["这次来店里，又返厂了", "又返厂了"], auto_pack).tolist()[-1] == "neutral"
    assert m.predict(pd.Series(test, index=range(10, 14))).index.tolist() == list(range(10, 14))


def test_the_labels_choose_the_decision_policy(auto_pack):
    """Short jargon labelled positive / negative teaches the model to answer short comments the rules find
    nothing in; the policy is chosen inside each outer fold (nested) and once more on all labels."""
    d = jargon_set(240)
    short = pd.DataFrame({"text": ["又返厂了", "返厂两回了", "秒批下来", "一条龙办好", "零加价提车"] * 8,
                          "label": ["negative", "negative", "positive", "positive", "positive"] * 8})
    m = learn_sentiment(pd.concat([d["text"], short["text"]]), pd.concat([d["label"], short["label"]]), auto_pack)
    assert m.kept and m.fill_min_chars <= 4 and len(m.info["policy"]["fold_policies"]) == m.info["folds"]
    assert len(m.info["policy"]["cv_accuracy"]) == len(POLICIES)
    batch = ["又返厂了", "秒批下来", "返厂两回了"] + jargon_set(20, seed=7)["text"].tolist()  # like the labels
    assert m.predict(batch, auto_pack).tolist()[:3] == ["negative", "positive", "negative"]
    assert m.predict(batch[:3], auto_pack).tolist() == ["neutral"] * 3  # far shorter than the labels: cautious
    assert "answers from" in m.report() or "the model answers" in m.report()
    fixed = learn_sentiment(pd.concat([d["text"], short["text"]]), pd.concat([d["label"], short["label"]]),
                            auto_pack, flip_conf=0.8, fill_min_chars=12)
    assert (fixed.flip_conf, fixed.fill_min_chars) == (0.8, 12) and fixed.info["policy"]["chosen_by"] == "given"
    assert fixed.info["policy"]["fold_policies"] == [[0.8, 12]] * fixed.info["folds"]


def test_choose_policy_by_accuracy_ties_to_the_cautious():
    rules = np.asarray([1, -1, 0, 0, 0], np.int8)
    model = np.asarray([-1, -1, 1, -1, 1], np.int8)
    conf = np.asarray([0.7, 0.9, 0.6, 0.6, 0.6])
    wc = np.asarray([20, 20, 3, 20, 20])
    truth = np.asarray([-1, -1, 1, -1, 1], np.int8)  # the model is right everywhere
    cands = [(0.9, NO_FILL), (0.8, 12), (0.6, 0), (0.5, 0)]
    pol, accs = choose_policy(rules, model, conf, wc, truth, cands, rule="best")
    assert pol == (0.6, 0) and accs == [0.2, 0.6, 1.0, 1.0]  # (0.5, 0) ties with (0.6, 0): the cautious wins
    truth2 = np.asarray([1, -1, 0, 0, 0], np.int8)  # the rules are right everywhere
    assert choose_policy(rules, model, conf, wc, truth2, cands, rule="best")[0] == (0.9, NO_FILL)
    assert choose_policy(rules, model, conf, wc, truth2, cands, rule="1se")[0] == (0.9, NO_FILL)


def test_choose_policy_one_standard_error_rule():
    """A stricter flip limit must beat the model's own answer by more than one standard error of the paired
    difference, sqrt(d − (b − c)²/n)/n; the fill limit keeps ties cautious."""
    n = 100
    rules = np.asarray([1] * 90 + [0] * 10, np.int8)
    model = rules.copy()
    model[:6] = -1  # the model overrules the rules on 6 comments, at probability .6
    conf = np.where(np.arange(n) < 6, 0.6, 0.95)
    wc = np.full(n, 20)
    cands = [(0.9, NO_FILL), (0.9, 0), (0.5, NO_FILL), (0.5, 0)]

    def truth_with(right: int) -> np.ndarray:  # the model's flips right on the first `right` of the 6
        t = rules.copy()
        t[:right] = -1
        return t

    pol, accs = choose_policy(rules, model, conf, wc, truth_with(3), cands)
    assert accs[0] == accs[2] == 0.97 and pol == (0.5, NO_FILL)  # a tie in flips: the model; in fill: cautious
    pol, accs = choose_policy(rules, model, conf, wc, truth_with(0), cands)  # 0.9 better by 6: se 0.024
    assert accs[0] - accs[2] == pytest.approx(0.06) and pol == (0.9, NO_FILL)
    assert choose_policy(rules, model, conf, wc, truth_with(5), cands)[0] == (0.5, NO_FILL)
    t = truth_with(2)  # 0.9 right on 4 the model gets wrong, the model on 2: better by 0.02 < se
    pol, accs = choose_policy(rules, model, conf, wc, t, cands)
    assert accs[0] - accs[2] == pytest.approx(0.02) and 0.02 < math.sqrt(6 - 4 / 100) / 100
    assert pol == (0.5, NO_FILL)
    assert choose_policy(rules, model, conf, wc, t, cands, rule="best")[0] == (0.9, NO_FILL)
    with pytest.raises(ValueError):
        choose_policy(rules, model, conf, wc, t, cands, rule="other")


def test_domain_check_falls_back_to_the_cautious_policy():
    """A batch whose median length is under half the training comments' median gets OUT_OF_DOMAIN."""
    space = NgramSpace((1,), (np.asarray([ord("好")], np.int64),), np.asarray([1.0]))
    m = SentimentModel(("neg", "pos"), space, np.asarray([[3.0, 0.0, 0.0]]), np.asarray([0.0]),
                       flip_conf=0.5, fill_min_chars=0, train_chars=40.0, rule_features=RULE_FEATURES_V2)
    part = np.asarray([[1.0, 30, 0], [1.0, 30, 0], [3.0, 30, 0]])  # p(pos) .73, .73, .95
    rules = np.asarray([-0.5, 0.0, -0.5])
    assert m.in_domain(part[:, -2]) and m.decide(rules, part)[0].tolist() == [1, 1, 1]
    short = part.copy()
    short[:, -2] = 19  # median 19 < 0.5 × 40
    assert not m.in_domain(short[:, -2]) and OUT_OF_DOMAIN == (NEVER_FLIP, NO_FILL)
    assert m.decide(rules, short)[0].tolist() == [-1, 0, -1]  # the rules' answers: no flip (even at .95), no fill
    short[:, -2] = 20
    assert m.in_domain(short[:, -2])  # the boundary is in
    m.train_chars = 0.0  # a version-1 model: no check
    assert m.in_domain(np.asarray([1, 1]))


def test_three_classes_when_labels_hold_neutral(auto_pack):
    d = jargon_set(300, neutral=True)
    m = learn_sentiment(d["text"], d["label"], auto_pack)
    assert m.classes == ("neg", "neutral", "pos") and m.coef.shape[0] == 3
    assert m.info["counts"]["neutral"] == (d["label"] == "中性").sum()


def test_guard_keeps_the_rules_when_the_model_is_not_better(auto_pack):
    """Labels that are the rules' own answers on comments they read right: nothing to learn."""
    rng = np.random.default_rng(1)
    texts = [f"{PREFIX[rng.integers(len(PREFIX))]}，{c}" for c in rng.choice(CLEAR_POS + CLEAR_NEG, 200)]
    labels = np.where(text.sentiment(texts, auto_pack) > 0, "pos", "neg")
    m = learn_sentiment(texts, labels, auto_pack)
    assert not m.kept and m.info["reason"] in ("not_better", "not_significant")
    assert m.info["better"] == 0 and m.info["rules_accuracy"] == 1.0
    assert "rules stay" in m.report() and "继续使用规则" in m.report("zh")
    probe = ["上个月提车，又返厂了", "服务很好", "无"]
    assert m.predict(probe, auto_pack).tolist() == ["neutral", "positive", "neutral"]  # the rules' answers


def test_a_rare_class_is_left_out_not_fatal(auto_pack):
    d = jargon_set(240)
    d = pd.concat([d, pd.DataFrame({"text": ["这次来做首保", "车是给我老婆买的", "第二次来这家店了"],
                                    "label": "中性"})], ignore_index=True)
    m = learn_sentiment(d["text"], d["label"], auto_pack)
    assert m.kept and m.classes == ("neg", "pos") and m.info["left_out"] == {"neutral": 3}
    assert "Only 3 neutral labels" in m.report() and "中性标注仅3条" in m.report("zh")


def test_guard_needs_enough_labels(auto_pack):
    d = jargon_set(20)
    m = learn_sentiment(d["text"], d["label"], auto_pack)
    assert not m.kept and m.info["reason"] == "too_few" and "too few" in m.report()


def test_a_class_of_few_distinct_comments_is_left_out(auto_pack):
    """Six neutral labels on two distinct comments (无 ×4, 没有 ×2) are two examples, not six: left out."""
    d = jargon_set(240)
    d = pd.concat([d, pd.DataFrame({"text": ["无"] * 4 + ["没有"] * 2, "label": "中性"})], ignore_index=True)
    m = learn_sentiment(d["text"], d["label"], auto_pack)
    assert m.classes == ("neg", "pos") and m.info["left_out"] == {"neutral": 6}
    assert m.info["left_out_distinct"] == {"neutral": 2}
    assert "6 neutral labels on only 2 distinct comments" in m.report()
    assert "中性标注6条仅涉及2条不同评论" in m.report("zh")


def test_one_class_left_after_a_repeated_comment_is_too_few():
    """30 positive comments and one negative comment labelled six times: one class with one distinct comment
    is no class; the guard says so instead of failing in a cross-validation fold."""
    d = pd.DataFrame([(f"第{i}次来店里，服务很好", "pos") for i in range(30)] + [("返厂", "neg")] * 6,
                     columns=["text", "label"])
    m = learn_sentiment(d["text"], d["label"])
    assert not m.kept and m.info["reason"] == "too_few"
    assert "6 negative labels on only 1 distinct comments: left out" in m.report() and "too few" in m.report()
    assert "负面标注6条仅涉及1条不同评论" in m.report("zh")


def _fit_kw() -> dict:
    return {"c": 16.0, "scale": 1.0, "ngrams": (1, 2), "min_df": 1, "max_features": None, "seed": 0}


def test_a_training_part_without_a_class_gives_a_model_of_every_class():
    """A cross-validation fold whose training part lacks a class (or holds one class only) must still give
    coefficients for every class: the absent class is never the answer, one class gives a constant model."""
    from cemkit.text.learn import _fit

    texts = ["服务很好", "非常满意", "很不错", "太差了", "很失望", "不满意"]
    R = np.zeros((6, 4))
    y = np.asarray(["pos"] * 3 + ["neg"] * 3)
    classes = ("neg", "neutral", "pos")
    space, coef, icpt = _fit(texts, R, y, classes, **_fit_kw())
    assert coef.shape == (3, space.size + 4) and icpt.shape == (3,)
    m = SentimentModel(classes, space, coef, icpt)
    big, starts = join_texts(texts + ["还行吧"])
    pol, _ = m.answers(np.zeros(7), m.ngram_scores(big, starts), np.zeros((7, 2)))
    assert pol[:6].tolist() == [1, 1, 1, -1, -1, -1] and 0 not in pol.tolist()  # neutral: absent, never chosen
    # one class only: a constant model, the Laplace-smoothed frequencies (n + 1 = 4 against 1)
    space1, coef1, icpt1 = _fit(texts[:3], R[:3], y[:3], ("neg", "pos"), **_fit_kw())
    assert coef1.shape == (1, space1.size + 4) and not coef1.any() and icpt1[0] == pytest.approx(math.log(4))
    space3, coef3, icpt3 = _fit(texts[:3], R[:3], y[:3], classes, **_fit_kw())
    assert coef3.shape == (3, space3.size + 4) and np.allclose(icpt3, np.log([1, 1, 4]))


def test_folds_never_outnumber_a_class_s_distinct_comments():
    from cemkit.text.learn import _splits

    y = np.asarray(["pos"] * 20 + ["neg"] * 20 + ["neutral"] * 6)
    groups = np.concatenate([np.arange(40), [40, 40, 40, 41, 41, 42]])  # 6 neutral labels, 3 distinct comments
    sp = _splits(y, groups, 5, 0)
    assert len(sp) == 3
    for tr, te in sp:
        assert not set(groups[tr]) & set(groups[te])  # identical comments stay in one fold
    assert _splits(np.asarray(["pos", "neg"]), np.asarray([0, 0]), 5, 0) == []  # one distinct comment: no CV


def test_tiny_label_sets_with_repeats_learn_without_error(auto_pack):
    """30–40 labels, many of them repeats, three classes: the guard runs (no exception, every fold's
    training part usable) and says what it found."""
    rng = np.random.default_rng(3)
    pos = ["服务很好", "非常满意", "很专业", "态度热情", "环境不错", "秒批下来"]
    neg = ["等太久了", "很不满意", "态度很差", "又返厂了", "乱收费", "第三次返厂"]
    neu = ["这次来做首保", "车是给我老婆买的", "第二次来这家店了", "周末来的", "朋友推荐的"]
    rows = [(t, "pos") for t in rng.choice(pos, 14)] + [(t, "neg") for t in rng.choice(neg, 14)] + \
        [(t, "neutral") for t in neu] + [(neu[0], "neutral")] * 3
    d = pd.DataFrame(rows, columns=["text", "label"])
    m = learn_sentiment(d["text"], d["label"], auto_pack)
    assert m.info["n"] == len(d) and 2 <= m.info["folds"] <= 5
    assert len(m.info["policy"]["fold_policies"]) == m.info["folds"]
    assert sum(sum(r) for r in m.info["confusion"]) == len(d)
    assert m.report() and m.report("zh")


def test_mcnemar_one_sided_exact_p_by_hand():
    # 10 comments only the model gets right, 2 only the rules: P(X >= 10 | n = 12, 1/2) = (66 + 12 + 1) / 4096
    assert mcnemar_p(10, 2) == pytest.approx(79 / 4096, rel=1e-12)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(0, 5) == 1.0
    from statsmodels.stats.contingency_tables import mcnemar

    two_sided = mcnemar([[50, 2], [10, 50]], exact=True).pvalue  # symmetric binomial: twice the one-sided
    assert two_sided == pytest.approx(2 * mcnemar_p(10, 2), rel=1e-12)


def test_cv_accuracy_and_confusion_agree(jargon_model):
    info = jargon_model.info
    conf = np.asarray(info["confusion"])
    assert conf.sum() == info["n"]
    assert np.trace(conf) / info["n"] == pytest.approx(info["cv_accuracy"])


def test_decision_rule_flip_and_fill():
    """Flip only with probability >= flip_conf; a two-class model fills only long enough comments."""
    space = NgramSpace((1,), (np.asarray([ord("好")], np.int64),), np.asarray([1.0]))
    m = SentimentModel(("neg", "pos"), space, np.asarray([[3.0, 0.0, 0.0]]), np.asarray([0.0]),
                       flip_conf=0.9, fill_min_chars=3, rule_features=RULE_FEATURES_V2)
    # ngram part: (score, word chars, clause breaks); z = 3 * x_好 + intercept 0
    part = np.asarray([[3.0, 1, 0], [1.0, 1, 0], [3.0, 1, 0], [3.0, 5, 0], [-3.0, 5, 0], [0.0, 5, 0]])
    rules = np.asarray([-0.5, -0.5, 0.0, 0.0, 0.0, 0.0])
    pol, conf = m.decide(rules, part)
    assert conf[0] == pytest.approx(1 / (1 + math.exp(-3)))
    assert pol.tolist() == [1, -1, 0, 1, -1, -1]  # p(pos)=.95 flips; .73 does not; 1 char stays neutral


# -------------------------------------------------------------------------------------------- file
def test_save_load_round_trip(jargon_model, tmp_path, auto_pack):
    p = jargon_model.save(tmp_path / "m.json")
    doc = json.loads(p.read_text(encoding="utf-8"))
    assert doc["format"] == FORMAT and doc["version"] == 3 and len(doc["sha256"]) == 64
    assert doc["model"]["rule_features"] == list(RULE_FEATURES)
    assert doc["model"]["train_chars"] == jargon_model.train_chars > 0
    m2 = load_sentiment_model(p)
    d = jargon_set(80, seed=5)
    assert (m2.predict(d["text"], auto_pack) == jargon_model.predict(d["text"], auto_pack)).all()
    assert m2.info == jargon_model.info and m2.kept


@pytest.mark.parametrize("damage", ["coef", "hash", "format", "version", "nan", "shape", "grams", "notjson",
                                    "pickle", "deep", "empty", "train_chars", "train_chars_text"])
def test_damaged_or_hostile_model_files_are_refused(jargon_model, tmp_path, damage):
    import hashlib
    import pickle

    good = jargon_model.save(tmp_path / "m.json")
    doc = json.loads(good.read_text(encoding="utf-8"))
    body = doc["model"]

    def rehash() -> None:
        canon = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        doc["sha256"] = hashlib.sha256(canon.encode()).hexdigest()

    bad = tmp_path / "bad.json"
    if damage == "coef":
        body["coef"][0][0] += 1.0  # content changed, hash not updated
    elif damage == "hash":
        doc["sha256"] = "0" * 64
    elif damage == "format":
        doc["format"] = "something-else"
    elif damage == "version":
        doc["version"] = 99
    elif damage == "nan":
        body["intercept"] = ["NaN"]
        rehash()
    elif damage == "shape":
        body["coef"][0] = body["coef"][0][:-1]
        rehash()
    elif damage == "grams":
        body["ngrams"]["grams"][0] = "四个字符"
        rehash()
    elif damage == "train_chars":
        body["train_chars"] = -5
        rehash()
    elif damage == "train_chars_text":
        body["train_chars"] = "40"
        rehash()
    if damage == "notjson":
        bad.write_bytes(b"\x80\x81 not json")
    elif damage == "pickle":
        bad.write_bytes(pickle.dumps({"format": FORMAT}))
    elif damage == "deep":
        bad.write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "empty":
        bad.write_text("")
    else:
        bad.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InputError, match="bad.json"):
        load_sentiment_model(bad)


def _older_file(model: SentimentModel, tmp_path: Path, version: int) -> Path:
    """``model`` written as a file of an earlier version: two rule features (score, neutral flag), and no
    train_chars in version 1."""
    import hashlib

    doc = json.loads(model.save(tmp_path / "m.json").read_text(encoding="utf-8"))
    doc["version"] = version
    body = doc["model"]
    body["rule_features"] = list(RULE_FEATURES_V2)
    body["coef"] = [row[: len(row) - len(RULE_FEATURES) + len(RULE_FEATURES_V2)] for row in body["coef"]]
    if version == 1:
        del body["train_chars"]
    canon = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    doc["sha256"] = hashlib.sha256(canon.encode()).hexdigest()
    p = tmp_path / f"v{version}.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return p


def test_version_1_files_read_without_the_domain_check(jargon_model, tmp_path):
    m = load_sentiment_model(_older_file(jargon_model, tmp_path, 1))
    assert m.train_chars == 0 and m.in_domain(np.asarray([1])) and m.fill_min_chars == jargon_model.fill_min_chars
    assert m.rule_features == RULE_FEATURES_V2


def test_version_2_files_predict_with_two_rule_features(jargon_model, tmp_path, auto_pack):
    """A version-2 file (rule score and neutral flag only) still loads and predicts: its answers use no
    praise / blame columns, and equal the dot product of its own coefficients."""
    m = load_sentiment_model(_older_file(jargon_model, tmp_path, 2))
    assert m.rule_features == RULE_FEATURES_V2 and m.coef.shape[1] == m.space.size + 2
    d = jargon_set(40, seed=3)
    a = text.analyze(d["text"], auto_pack, model=m, dedupe=False)
    big, starts = join_texts(d["text"].tolist())
    part = m.ngram_scores(big, starts)
    s = a.sentiment.to_numpy()
    z = part[:, 0] + m.coef[0, -2] * s + m.coef[0, -1] * (s == 0) + m.intercept[0]
    assert np.allclose(m.answers(s, part)[1], 1 / (1 + np.exp(-np.abs(z))))
    wrong = tmp_path / "wrong.json"
    doc = json.loads((tmp_path / "v2.json").read_text(encoding="utf-8"))
    doc["version"] = 3  # two rule features under version 3: refused
    wrong.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InputError, match="rule features"):
        load_sentiment_model(wrong)


def test_model_file_size_is_capped(tmp_path, monkeypatch):
    from cemkit.text import model_file

    p = tmp_path / "big.json"
    p.write_text("{}" + " " * 2000)
    monkeypatch.setattr(model_file, "MAX_FILE_BYTES", 1000)
    with pytest.raises(InputError, match="too large"):
        load_sentiment_model(p)


# ----------------------------------------------------------------------------------- theme mentions
def test_mentions_follow_the_model_in_one_clause_comments(jargon_model, auto_pack):
    comments = ["提车的时候现车零加价", "销售很热情，价格也合适，就是交车当天就返厂", "销售顾问很专业，现车零加价"]
    rules = text.analyze(comments, auto_pack).tags()
    learned = text.analyze(comments, auto_pack, model=jargon_model)
    tags = learned.tags()
    # comment 0: the rules read 零加价 (price) as a complaint; the model reads praise; price follows it
    r0 = rules[(rules["row"] == 0) & (rules["theme"] == "price")]["polarity"].tolist()
    l0 = tags[(tags["row"] == 0) & (tags["theme"] == "price")]["polarity"].tolist()
    assert r0 == [-1] and l0 == [1]
    assert learned.polarity().tolist()[0] == 1 and learned.sentiment.iloc[0] < 0  # .sentiment stays the rules'
    # comments of several clauses keep the rules' clause reading, whatever the model says of the comment
    for row in (1, 2):
        r1 = rules[rules["row"] == row].set_index("theme")["polarity"]
        l1 = tags[tags["row"] == row].set_index("theme")["polarity"]
        assert len(r1) and (r1 == l1).all()


def test_not_kept_model_changes_nothing(auto_pack):
    d = jargon_set(20)
    m = learn_sentiment(d["text"], d["label"], auto_pack)
    c = ["提车的时候现车零加价", "服务很好"]
    a, b = text.analyze(c, auto_pack).tags(), text.analyze(c, auto_pack, model=m).tags()
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------------- labelling loop
def fake_run(root: Path, comments: list[str], pack: str = "auto") -> Path:
    run = root / "auto-run"
    (run / "data").mkdir(parents=True)
    n = len(comments)
    pd.DataFrame({"response_id": [f"r{i}" for i in range(n)], "customer_id": [f"c{i}" for i in range(n)],
                  "wave": "2026Q4", "stage": np.resize(["showroom", "delivery", "maintenance"], n),
                  "nps": np.resize([10, 3, 8, 9, 0], n).astype(float), "comment": comments}).to_parquet(
        run / "data" / "responses.parquet")
    (run / "run.json").write_text(json.dumps({"pack": pack, "lang": "zh"}), encoding="utf-8")
    return run


PII = ["联系我13812345678，又返厂了", "邮箱zhang.san@example.com，服务很好", "=HYPERLINK(\"http://x\")，太慢了",
       "身份证110101199003074258办的贷款，秒批下来"]


def test_label_sheet_masks_pii_and_writes_text_as_text(tmp_path, capsys, monkeypatch):
    from openpyxl import load_workbook

    d = jargon_set(300, seed=3)
    run = fake_run(tmp_path, PII + d["text"].tolist())
    monkeypatch.chdir(tmp_path)
    code = main(["label", "--run", str(run), "--n", "60"])
    assert code == 0
    out = tmp_path / "labelling-auto-run.xlsx"
    assert out.exists() and "60 comments to label" in capsys.readouterr().out
    wb = load_workbook(out)
    ws = wb["标注"]
    head = [c.value for c in ws[1]]
    assert {"编号", "评论", "情感标注", "主题标注", "环节", "NPS评分", "当前判断", "抽样方式"} <= set(head)
    cells = [c for row in ws.iter_rows(min_row=2) for c in row]
    values = " ".join(str(c.value) for c in cells if c.value is not None)
    for raw in ("13812345678", "zhang.san@example.com", "110101199003074258"):
        assert raw not in values
    comment_col = head.index("评论")
    comments = [row[comment_col] for row in ws.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in comments)  # every client-text cell is a string, never a formula
    assert len(comments) == 60 and len({c.value for c in comments}) == 60
    # a second sheet never overwrites the first (it may be half filled)
    assert main(["label", "--run", str(run), "--n", "10"]) == 0
    assert (tmp_path / "labelling-auto-run-2.xlsx").exists()


def test_labelling_picks_uncertain_and_diverse_comments(auto_pack):
    from cemkit.text.labels import select_for_labelling

    d = jargon_set(400, seed=4)
    comments = d["text"].tolist() + ["满意"] * 50 + ["还行吧"] * 30
    sel = select_for_labelling(comments, auto_pack, n=20, random_share=0.25, seed=0)
    assert len(sel) == 20 and sel["text"].is_unique
    assert (sel["picked_by"] == "random").sum() == 5
    unc = sel[sel["picked_by"] == "uncertain"]
    rules_unc = (1 - text.sentiment(pd.Series(comments).unique(), auto_pack).abs()) ** 2
    assert unc["uncertainty"].min() >= np.quantile(rules_unc, 0.5)  # the uncertain half only
    assert "满意" not in set(unc["text"])  # the rules are sure about it
    assert sel.loc[sel["text"] == "还行吧", "count"].tolist() in ([], [30])


def fill(sheet: Path, labeller) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(sheet)
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    ci, li, ti = head.index("评论") + 1, head.index("情感标注") + 1, head.index("主题标注") + 1
    for r in range(2, ws.max_row + 1):
        lab, theme = labeller(ws.cell(r, ci).value)
        ws.cell(r, li).value = lab
        ws.cell(r, ti).value = theme
    wb.save(sheet)


def truth(comment: str) -> tuple[str | None, str | None]:
    if any(w in comment for w in NEG):
        return "负面", "维修质量" if "返厂" in comment else None
    if any(w in comment for w in POS):
        return "正面", None
    if any(w in comment for w in CLEAR_POS):
        return "正面", None
    if any(w in comment for w in CLEAR_NEG):
        return "负面", None
    return None, None


def test_learn_from_a_filled_sheet_saves_a_model_and_proposes_keywords(tmp_path, capsys):
    import yaml

    d = jargon_set(400, seed=6)
    run = fake_run(tmp_path, d["text"].tolist())
    assert main(["label", "--run", str(run), "--n", "150", "--out", str(tmp_path / "round1.xlsx")]) == 0
    fill(tmp_path / "round1.xlsx", truth)
    capsys.readouterr()
    assert main(["learn", "--run", str(run), "--labels", str(tmp_path / "round1.xlsx")]) == 0
    out = capsys.readouterr().out
    model_path = tmp_path / "sentiment_model.json"
    assert "model saved" in out and model_path.exists()
    m = load_sentiment_model(model_path)
    assert m.kept and m.info["n"] >= 100 and len(m.info["trained_on"]) == m.info["n"]
    patch = yaml.safe_load((tmp_path / "theme_keywords.yaml").read_text(encoding="utf-8"))
    assert "返厂" in "".join(patch["add_keywords"]["repair_quality"])
    # round 2: ranked by the model's uncertainty, the first round's comments left out
    assert main(["label", "--run", str(run), "--n", "40", "--out", str(tmp_path / "round2.xlsx"),
                 "--labels", str(tmp_path / "round1.xlsx"), "--sentiment-model", str(model_path)]) == 0
    from cemkit.labelling import load_labels

    r1, r2 = load_labels([str(tmp_path / "round1.xlsx")]), pd.read_excel(tmp_path / "round2.xlsx")
    assert not set(r1["text"]) & set(r2["评论"])
    # eval-text on the labels: the model measured on labels it did not learn from
    fill(tmp_path / "round2.xlsx", truth)
    capsys.readouterr()
    assert main(["eval-text", "--pack", "auto", "--labels", str(tmp_path / "round2.xlsx"),
                 "--sentiment-model", str(model_path)]) == 0
    rep = capsys.readouterr().out
    assert "held-out labels" in rep and "learned model accuracy" in rep


def test_learn_refuses_unreadable_labels_with_line(tmp_path, capsys):
    d = jargon_set(100, seed=7)
    run = fake_run(tmp_path, d["text"].tolist())
    assert main(["label", "--run", str(run), "--n", "20", "--out", str(tmp_path / "s.xlsx")]) == 0
    fill(tmp_path / "s.xlsx", lambda c: ("很好", None))
    assert main(["learn", "--run", str(run), "--labels", str(tmp_path / "s.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "s.xlsx" in err and "line 2" in err and "Traceback" not in err


def test_eval_labels_held_out_split(auto_pack):
    from cemkit.labelling import eval_labels

    d = jargon_set(300, seed=8)
    lab = pd.DataFrame({"text": d["text"], "label": parse_labels(d["label"].tolist())})
    r = eval_labels(lab, auto_pack, seed=0)
    assert r["n_test"] == 90 and r["model_accuracy"] > r["rules_accuracy"]
    conf = r["model_confusion"].to_numpy()
    assert conf.sum() == 90 and np.trace(conf) / 90 == pytest.approx(r["model_accuracy"])


def test_run_refuses_a_bad_model_before_any_work(tmp_path, capsys):
    bad = tmp_path / "m.json"
    bad.write_text('{"format": "cemkit-sentiment-model", "version": 1}')
    code = main(["run", "--pack", "auto", "--demo-n", "500", "--out", str(tmp_path / "r"), "--quiet",
                 "--sentiment-model", str(bad)])
    assert code == 2 and "m.json" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


@pytest.mark.slow
def test_a_run_uses_a_saved_model(tmp_path, capsys, auto_pack):
    """A demo run with --sentiment-model: run.json records it, the text notebook reports it, the datapack
    has its sheet, and the theme tags follow it."""
    d = jargon_set(300, seed=9)
    m = learn_sentiment(d["text"], d["label"], auto_pack)
    path = m.save(tmp_path / "m.json")
    code = main(["run", "--pack", "auto", "--demo-n", "2000", "--out", str(tmp_path / "r"), "--quiet",
                 "--sentiment-model", str(path)])
    said = capsys.readouterr()
    assert code == 0, said.err
    assert f"sentiment: the learned model ({path.resolve()})" in said.out
    run = next(p for p in (tmp_path / "r").iterdir() if p.name.startswith("auto-2"))
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))["sentiment_model"]
    assert info["path"] == str(path.resolve()) and info["kept"] is True
    assert info["used"] is True and info["out_of_domain"] is False
    nb = (run / "notebooks" / "04_text.ipynb").read_text(encoding="utf-8")
    assert "采用学习模型" in nb  # the guard's sentence, in the run's language
    table = pd.read_parquet(run / "results" / "sentiment_model.parquet")
    assert table["value"].iloc[0] == "学习模型"
    from cemkit.views import read_responses

    df = read_responses(run).reset_index(drop=True)
    tags = pd.read_parquet(run / "data" / "theme_tags.parquet")  # row = position in the responses
    expect = text.analyze(df["comment"], auto_pack, model=m).tags()
    both = tags.merge(expect, on=["row", "theme"], suffixes=("", "_expect"))
    assert len(both) == len(tags) > 0
    assert (both["polarity"] == both["polarity_expect"]).all()


def test_a_model_outside_its_domain_is_reported_as_not_used(jargon_model, auto_pack):
    """Comments far shorter than the labelled ones: analyze uses the rules (the domain check), and the view
    the datapack and the run summary read says so instead of claiming the learned model."""
    import copy

    from cemkit.views.text import _sentiment_model_view

    d = jargon_set(200, seed=12)
    df = pd.DataFrame({"comment": d["text"], "nps": 9})
    assert jargon_model.kept and jargon_model.applies_to(df["comment"])
    far = copy.copy(jargon_model)
    far.train_chars = 4 * jargon_model.train_chars  # as if trained on comments four times longer
    assert not far.applies_to(df["comment"])
    rules = text.analyze(df["comment"], auto_pack).tags()
    pd.testing.assert_frame_equal(text.analyze(df["comment"], auto_pack, model=far).tags(), rules)
    for model, used in ((jargon_model, True), (far, False)):
        table, meta = _sentiment_model_view(df, auto_pack, "en", model, model.applies_to(df["comment"]))
        assert table["value"].iloc[0] == ("learned model" if used else "rules")
        assert meta["facts"]["sentiment_learned"] is used and meta["facts"]["sentiment_out_of_domain"] is not used
        assert ("much shorter than the labelled ones" in table["value"].iloc[-1]) is not used


def test_model_scores_are_the_same_in_chunks_and_in_a_worker_pool(jargon_model, auto_pack, monkeypatch):
    from cemkit.text import themes

    d = jargon_set(3000, seed=11)
    one = text.analyze(d["text"], auto_pack, model=jargon_model, n_jobs=1, dedupe=False)
    monkeypatch.setattr(themes, "PARALLEL_MIN_CHARS", 1_000)
    monkeypatch.setattr(themes, "CHUNK_CHARS", 5_000)  # many chunks, spread over a fork pool of 2
    two = text.analyze(d["text"], auto_pack, model=jargon_model, n_jobs=2, dedupe=False)
    assert (one.polarity() == two.polarity()).all()
    assert np.allclose(one.learned_conf, two.learned_conf)
    pd.testing.assert_frame_equal(one.tags(), two.tags())
