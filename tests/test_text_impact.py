"""cemkit.text impact analysis and discovery, on the auto pack's synthetic demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from cemkit import text
from cemkit.packs import validate_pack
from cemkit.text.impact import ALL

try:  # the metrics module is another engineer's; fall back to the reference formula when absent
    from cemkit.metrics import nps as _nps

    def nps_ref(scores, weights=None):
        r = _nps(scores, weights)
        return r.value, r.ci_low, r.ci_high
except ImportError:  # pragma: no cover
    def nps_ref(scores, weights=None):
        x = np.asarray(scores, float)
        w = np.ones_like(x) if weights is None else np.asarray(weights, float)
        p, d = w[x >= 9].sum() / w.sum(), w[x <= 6].sum() / w.sum()
        se = np.sqrt((p + d - (p - d) ** 2) / (w.sum() ** 2 / (w * w).sum()))
        return 100 * (p - d), 100 * (p - d - 1.959964 * se), 100 * (p - d + 1.959964 * se)


@pytest.fixture(scope="module")
def demo(demo_auto):
    return demo_auto.responses


@pytest.fixture(scope="module")
def demo_tags(demo, auto_pack):
    return text.tag_themes(demo["comment"], auto_pack)


@pytest.fixture(scope="module")
def impact(demo, auto_pack, demo_tags):
    return text.theme_impact(demo, auto_pack, demo_tags)


def _subset(df, tags, theme, stage=ALL, wave=ALL):
    cell = np.ones(len(df), bool)
    if stage != ALL:
        cell &= (df["stage"] == stage).to_numpy()
    if wave != ALL:
        cell &= (df["wave"] == wave).to_numpy()
    commenter = df["comment"].fillna("").str.strip().str.len().to_numpy() > 0
    mention = df.index.isin(tags.loc[tags["theme"] == theme, "row"])
    neg = df.index.isin(tags.loc[(tags["theme"] == theme) & (tags["polarity"] < 0), "row"])
    valid = df["nps"].notna().to_numpy()
    return cell, commenter, mention, neg, valid


def test_impact_table_shape(impact, auto_pack, demo):
    t = impact.table
    for col in ("stage", "wave", "theme", "level1", "mention_rate", "neg_share", "nps_m", "ci_low_m", "ci_high_m",
                "nps_o", "ci_low_o", "ci_high_o", "gap", "contribution", "neg_contribution", "flag"):
        assert col in t.columns, col
    ov = impact.overall()
    assert len(ov) == len(auto_pack.themes)
    assert set(t["stage"]) == {ALL} | set(demo["stage"].unique())
    assert set(t["wave"]) == {ALL} | set(demo["wave"].unique())
    assert t["stage"].iloc[0] == ALL and t["wave"].iloc[0] == ALL


@pytest.mark.parametrize("theme, stage, wave", [("waiting", ALL, ALL), ("sales_consultant", ALL, ALL),
                                                ("waiting", "maintenance", ALL), ("price", ALL, "2024Q4"),
                                                ("repair_quality", "first_service", "2024Q1")])
def test_impact_numbers_match_metrics_nps(impact, demo, demo_tags, theme, stage, wave):
    row = impact.table.query("theme == @theme and stage == @stage and wave == @wave").iloc[0]
    cell, commenter, mention, neg, valid = _subset(demo, demo_tags, theme, stage, wave)
    x = demo["nps"].to_numpy(float)
    m = cell & mention & valid
    o = cell & commenter & ~mention & valid
    v, lo, hi = nps_ref(x[m])
    assert row["nps_m"] == pytest.approx(v) and row["ci_low_m"] == pytest.approx(lo)
    assert row["ci_high_m"] == pytest.approx(hi)
    v_o, _, _ = nps_ref(x[o])
    assert row["nps_o"] == pytest.approx(v_o)
    assert row["mention_rate"] == pytest.approx(100 * (cell & mention).sum() / (cell & commenter).sum())
    assert row["neg_share"] == pytest.approx(100 * (cell & neg).sum() / (cell & mention).sum())
    share = m.sum() / (cell & valid).sum()
    assert row["contribution"] == pytest.approx(share * (v - v_o))
    # decomposition: commenters' NPS = s·NPS_m + (1-s)·NPS_o
    s = m.sum() / (m.sum() + o.sum())
    assert nps_ref(x[cell & commenter & valid])[0] == pytest.approx(s * v + (1 - s) * v_o)
    n_ = cell & neg & valid
    rest = cell & commenter & ~neg & valid
    assert row["neg_contribution"] == pytest.approx(n_.sum() / (cell & valid).sum()
                                                    * (nps_ref(x[n_])[0] - nps_ref(x[rest])[0]))


def test_impact_with_weights(demo, auto_pack, demo_tags):
    rng = np.random.default_rng(1)
    df = demo.assign(weight=rng.uniform(0.3, 3.0, len(demo)))
    t = text.theme_impact(df, auto_pack, demo_tags, keywords=False, quotes=False).overall()
    row = t.set_index("theme").loc["waiting"]
    _, commenter, mention, _, valid = _subset(df, demo_tags, "waiting")
    m = mention & valid
    v, lo, _ = nps_ref(df["nps"].to_numpy(float)[m], df["weight"].to_numpy()[m])
    assert row["nps_m"] == pytest.approx(v) and row["ci_low_m"] == pytest.approx(lo)
    w = df["weight"].to_numpy()
    assert row["mention_rate"] == pytest.approx(100 * w[mention].sum() / w[commenter].sum())


def test_tagger_recovers_planted_mention_rates(impact, auto_pack):
    """demo.yaml plants each theme's mention rate among commenters at its stages."""
    spec = auto_pack.section("demo")["themes"]
    t = impact.table
    for theme, s in spec.items():
        for stage in s["stages"]:
            row = t.query("theme == @theme and stage == @stage and wave == @ALL")
            assert len(row) == 1
            assert row["mention_rate"].iloc[0] == pytest.approx(100 * s["rate"], abs=7), (theme, stage)


def test_complaint_themes_drag_nps(impact):
    ov = impact.overall().set_index("theme")
    assert ov.loc["waiting", "contribution"] < 0 and ov.loc["waiting", "neg_contribution"] < 0
    assert ov.loc["test_drive", "contribution"] > 0  # mostly praised: mentioners score higher
    assert (ov["neg_contribution"] <= 1e-9).all()
    assert impact.facts["worst_theme"] in ov.index


def test_keywords_and_quotes(impact, auto_pack):
    kw = impact.keywords
    assert list(kw.columns) == ["theme", "scope", "rank", "word", "score", "count"]
    assert set(kw["scope"]) == {"all", "neg"}
    assert kw.groupby(["theme", "scope"])["rank"].max().max() <= 10
    waiting = kw[(kw["theme"] == "waiting") & (kw["scope"] == "all")]["word"].tolist()
    assert waiting and all(len(w) > 1 for w in waiting)
    q = impact.quotes
    assert list(q.columns) == ["theme", "polarity", "text", "score", "row"]
    assert q.groupby(["theme", "polarity"]).size().max() <= 3
    assert not q.duplicated(["theme", "text"]).any()
    assert (q["text"].str.len() <= 60).all()
    neg = q[(q["theme"] == "waiting") & (q["polarity"] == -1)]
    assert len(neg) == 3 and (neg["score"] < 0).all()


def test_impact_input_errors(demo, auto_pack):
    with pytest.raises(ValueError, match="comment"):
        text.theme_impact(demo.drop(columns="comment"), auto_pack)
    dup = demo.iloc[:10].copy()
    dup.index = [0] * 10
    with pytest.raises(ValueError, match="unique"):
        text.theme_impact(dup, auto_pack)


def test_impact_tags_computed_when_missing(demo, auto_pack, impact):
    small = demo.iloc[:2000]
    a = text.theme_impact(small, auto_pack, keywords=False, quotes=False).table
    b = text.theme_impact(small, auto_pack, text.tag_themes(small["comment"], auto_pack), keywords=False,
                          quotes=False).table
    pd.testing.assert_frame_equal(a, b)


def test_discovery_surfaces_planted_topic(demo, auto_pack, demo_tags, pack_copy):
    cand = text.discover(demo["comment"], auto_pack, demo_tags)
    assert len(cand) >= 1
    assert list(cand.columns) == ["candidate", "size", "share", "top_words", "keywords", "quotes", "head", "head_quotes"]
    assert any("充电桩" in kws for kws in cand["keywords"])  # demo.yaml's untagged EV-charging topic
    assert all(len(q) <= 3 for q in cand["quotes"])
    snippet = text.write_candidates_yaml(cand)
    data = yaml.safe_load(snippet)
    assert data["themes"][0]["id"].startswith("candidate_")
    # the snippet pastes into the pack and passes the pack validator (no duplicate keywords)
    folder = pack_copy("auto")
    themes = yaml.safe_load((folder / "themes.yaml").read_text(encoding="utf-8"))
    themes["themes"].extend(data["themes"])
    (folder / "themes.yaml").write_text(yaml.safe_dump(themes, allow_unicode=True), encoding="utf-8")
    assert validate_pack(folder) == []


def test_discovery_on_synthetic_topics(auto_pack):
    rng = np.random.default_rng(3)
    a = ["充电桩安装一直拖", "家里充电桩报装很慢", "充电桩上门安装", "公共充电桩不够", "充电桩电费太高",
         "小区充电桩装不了", "充电桩报装材料复杂", "免费充电桩额度少"]
    b = ["停车场车位太少", "停车位不好找", "停车场入口太窄", "门口停车很难", "停车场太挤了", "停车场没有指示牌",
         "停车位被占了", "地下停车场太暗"]
    c = ["app兑换不了", "app经常闪退", "app登录不上", "app界面很乱", "app消息推送太多", "app更新太频繁",
         "app绑定车辆失败", "app远程控制没反应"]
    comments = [rng.choice(g) + rng.choice(["", "！", "，真的", "啊"]) + str(i) for i in range(300)
                for g in (a, b, c)]
    cand = text.discover(comments, auto_pack, k=3, seed=0)
    tops = [set(w[:3]) for w in cand["top_words"]]
    assert any("充电桩" in t for t in tops) and any("停车场" in t or "停车位" in t for t in tops)
    assert any("app" in t for t in tops)


def test_discovery_with_too_few_comments(auto_pack):
    assert text.discover(["服务很好"], auto_pack).empty


def test_text_views_leave_out_themes_nobody_mentioned(auto_pack):
    """A client deck lists what customers said: a theme with no mention is neither a bar nor a heat-map row."""
    from cemkit import views

    df = pd.DataFrame({"response_id": [f"R{i}" for i in range(300)], "customer_id": None,
                       "stage": ["delivery", "showroom"] * 150, "wave": "2024H1",
                       "nps": [3.0, 9.0, 10.0] * 100, "comment": ["等待时间太长了", "服务很好", None] * 100})
    out = views.text_views(df, auto_pack, "zh")
    themes = out["themes"][0]
    assert (themes["mentions"] > 0).all() and "waiting" in set(themes["theme"])
    assert len(themes) < len(auto_pack.themes)
    heat = out["theme_stage"][0]
    assert set(heat["theme_name"]) == set(themes["theme_name"])


@pytest.mark.parametrize("comment", [None, "", "   "])
def test_text_views_when_nobody_wrote_a_comment(auto_pack, comment):
    """An export whose comment column is empty (or a large one, where distinct comments are analysed once)
    gives no text results rather than a crash: the deck's text slides are then left out."""
    from cemkit import views

    n = 30_000  # above the size where comments are deduplicated first
    df = pd.DataFrame({"response_id": [f"R{i}" for i in range(n)], "customer_id": None,
                       "stage": "delivery", "wave": "2024H1", "nps": 8.0, "comment": comment})
    assert text.tag_themes(df["comment"], auto_pack).empty
    out = views.text_views(df, auto_pack, "zh")
    assert "themes" not in out and "quotes" not in out


def test_distinctive_words_against_a_hand_calculation(auto_pack):
    """Monroe, Colaresi & Quinn (2008) eq. 22 worked by hand: detractors write 停车场 in 8 of 10 comments and
    座椅 in 2, promoters the reverse, both write 空调 in 8 (no difference: not listed)."""
    import math

    texts = ["停车场，空调"] * 8 + ["座椅"] * 2 + ["停车场"] * 2 + ["座椅，空调"] * 8
    nps = [3] * 10 + [10] * 10
    got = text.distinctive_words(texts, nps, auto_pack, prior=10, min_count=1).set_index("word")
    # counts: D 停车场 8, 座椅 2, 空调 8 (n_D = 18); P 停车场 2, 座椅 8, 空调 8 (n_P = 18); α_0 = 10
    a = 10 * (8 + 2) / 36  # the word's share of both groups times α_0
    delta = math.log((8 + a) / (18 + 10 - 8 - a)) - math.log((2 + a) / (18 + 10 - 2 - a))
    z = delta / math.sqrt(1 / (8 + a) + 1 / (2 + a))
    assert got.loc["停车场", "z"] == pytest.approx(z, rel=1e-12) and z > 1.96
    assert got.loc["停车场", "group"] == "detractor" and got.loc["座椅", "group"] == "promoter"
    assert got.loc["座椅", "z"] == pytest.approx(-z, rel=1e-12)
    assert "空调" not in got.index
    assert got.loc["停车场", ["n_detractor", "n_promoter", "share_detractor"]].tolist() == [8, 2, 80.0]


def test_distinctive_words_count_every_copy_and_need_both_groups(auto_pack):
    """1,000 promoters writing the same words are 1,000 mentions, not one; without detractors (or promoters)
    there is nothing to compare."""
    few = text.distinctive_words(["停车场"] * 5 + ["座椅"] * 5, [3] * 5 + [10] * 5, auto_pack, prior=10, min_count=1)
    many = text.distinctive_words(["停车场"] * 50 + ["座椅"] * 50, [3] * 50 + [10] * 50, auto_pack, prior=10,
                                  min_count=1)
    assert many.set_index("word").loc["停车场", "z"] > few.set_index("word").loc["停车场", "z"]
    assert text.distinctive_words(["停车场"] * 5, [10] * 5, auto_pack).empty


def test_distinctive_words_leave_out_counts_and_quantities(auto_pack):
    """"修了三次", "跑了几次", "等了2次", "半年": how often is not what about — never a listed word, while the
    topic words of the same comments are."""
    texts = ["修了三次停车场", "跑了几次停车场", "等了2次停车场", "半年停车场", "每天停车场"] * 20 + ["座椅舒服"] * 100
    got = text.distinctive_words(texts, [2] * 100 + [10] * 100, auto_pack, prior=10, min_count=1)
    assert "停车场" in set(got["word"]) and "座椅" in set(got["word"])
    assert not set(got["word"]) & {"三次", "几次", "2次", "半年", "每天"}


def test_distinctive_words_on_the_demo_name_what_detractors_complain_about(auto_pack, demo_auto):
    """On the demo data (synthetic), words of the planted complaint phrases lean to detractors, words of the
    praise phrases to promoters; every listed word is more common in its own group."""
    r = text.distinctive_words(demo_auto.responses["comment"], demo_auto.responses["nps"], auto_pack)
    det, pro = r[r["group"] == "detractor"], r[r["group"] == "promoter"]
    assert len(det) >= 3 and len(pro) >= 3
    assert (det["share_detractor"] > det["share_promoter"]).all()
    assert (pro["share_promoter"] > pro["share_detractor"]).all()
    assert (det["z"] >= 1.96).all() and (pro["z"] <= -1.96).all()


def test_no_impact_headline_from_a_low_base(auto_pack):
    """Twenty comments cannot say that mentioners of a theme score 150 points lower: when no theme has a
    readable base of mentioners the impact slide (and the stage heat map's headline) is left out, while the
    mention rates, whose base is every commenter, stay."""
    from cemkit import views

    df = pd.DataFrame({"response_id": [f"R{i}" for i in range(20)], "customer_id": None,
                       "stage": "delivery", "wave": "2024H1", "nps": [2.0, 10.0] * 10,
                       "comment": ["交车等了两个小时，太慢了", "服务很好"] * 10})
    out = views.text_views(df, auto_pack, "zh")
    assert "themes" in out
    assert "theme_impact" not in out and "theme_stage" not in out
    big = pd.concat([df] * 20, ignore_index=True).assign(response_id=[f"R{i}" for i in range(400)])
    assert "theme_impact" in views.text_views(big, auto_pack, "zh")


def test_theme_impact_bars_run_from_the_largest_drag_to_the_largest_lift(auto_pack):
    """What the slide's subtitle says, by hand: bars are the NPS gap (mentioners − other commenters), ordered
    by gap × share of respondents mentioning, most harmful first. 等待 comments come from detractors (NPS of
    mentioners −100 vs +50 for the rest), 服务很好 from promoters."""
    from cemkit import views

    df = pd.DataFrame({"response_id": [f"R{i}" for i in range(400)], "customer_id": None,
                       "stage": "delivery", "wave": "2024H1",
                       "nps": [2.0] * 100 + [10.0] * 100 + [10.0] * 100 + [7.0] * 100,
                       "comment": ["等待时间太长了"] * 100 + ["服务很好"] * 100 + ["还行"] * 200})
    table, meta = views.text_views(df, auto_pack, "zh")["theme_impact"]
    assert list(table["impact_abs"]) == sorted(table["impact_abs"], reverse=True)  # the chart's sort, top first
    first, last = table.iloc[0], table.iloc[-1]
    assert first["theme"] == "waiting" and meta["facts"]["most_damaging"] == first["theme_name"]
    # waiting: mentioners NPS −100; the other 300 commenters: 200 promoters, 100 passives → +66.7; share 1/4
    assert first["nps_gap"] == pytest.approx(-100 - 200 / 3)
    assert first["contribution"] == pytest.approx(0.25 * (-100 - 200 / 3))
    assert last["contribution"] > 0 and (table["impact_abs"] == -table["contribution"]).all()


def test_distinctive_words_of_comments_without_a_word(auto_pack):
    """Comments of punctuation or spaces only give no token at all: no word to list, not a crash (the fuzz
    run, seed 5059: ".str accessor with string values, not floating" on the empty word column)."""
    got = text.distinctive_words(["。。。", " ", "！！"] * 4, [2] * 6 + [10] * 6, auto_pack, min_count=1)
    assert got.empty and list(got.columns)[:2] == ["word", "group"]
