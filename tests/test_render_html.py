"""The HTML report: self-contained (nothing fetched), client text escaped, tables sortable, sections
navigable, chart options carry the results, and (when Chromium is installed) every chart draws with the
network off, word cloud included."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pandas as pd
import pytest
from render_fixtures import write_run

from cemkit.packs import load_pack
from cemkit.paths import ASSETS_DIR
from cemkit.render.html import build_html, chart_options
from cemkit.results import load
from cemkit.storyline import ChartSpec

EVIL = {"theme_name": "<b>主题</b>", "quote": "<script>alert(1)</script> 价格{{ 7*7 }}太贵", "polarity": -1}
WORDCLOUD_SLIDE = {"id": "wordcloud", "layout": "chart", "result": "wordcloud",
                   "chart": {"type": "wordcloud", "category": "word", "series": ["weight"]},
                   "title": {"zh": "评论高频词", "en": "Words customers use most"}}


class _Page(HTMLParser):
    """The tags the tests look at: every element's attributes, nav links, section ids, script bodies."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.nav, self.sections, self.scripts = [], [], []
        self._in_nav = self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "nav":
            self._in_nav = True
        elif tag == "a" and self._in_nav:
            self.nav.append(a.get("href"))
        elif tag == "section":
            self.sections.append(a.get("id"))
        elif tag == "script":
            self._in_script = True
            self.scripts.append({"attrs": a, "body": ""})

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1]["body"] += data


@pytest.fixture(scope="module")
def wordcloud_pack(tmp_path_factory):
    """The auto pack with a word-cloud slide after its themes slide (the shipped storylines have none: the
    detractor-vs-promoter words say more than a frequency cloud)."""
    import shutil

    import yaml

    from cemkit.paths import packs_dir

    root = tmp_path_factory.mktemp("packs") / "packs"
    shutil.copytree(packs_dir(), root)
    path = root / "auto" / "storyline.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    at = next(i for i, s in enumerate(data["slides"]) if s["id"] == "themes") + 1
    data["slides"].insert(at, WORDCLOUD_SLIDE)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root / "auto"


@pytest.fixture(scope="module")
def report(wordcloud_pack, tmp_path_factory):
    pack = load_pack(wordcloud_pack)
    run, facts = write_run(tmp_path_factory.mktemp("run"), pack, "zh", quote_extra=[EVIL])
    out = run / "report.html"
    summary = build_html(run, pack, out, lang="zh", client="某汽车品牌", base_facts=facts)
    html = out.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    return {"run": run, "out": out, "html": html, "page": page, "summary": summary}


def test_self_contained(report):
    page = report["page"]
    for tag, attrs in page.tags:
        for key in ("src", "href", "data", "action", "poster"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, key, value)
    assert all("src" not in s["attrs"] for s in page.scripts), "no external script"
    assert not [a for t, a in page.tags if t == "link" and a.get("rel") == "stylesheet"]
    assert "@import" not in report["html"] and "url(http" not in report["html"]


def test_echarts_and_wordcloud_are_inlined(report):
    bodies = [s["body"] for s in report["page"].scripts]
    echarts = (ASSETS_DIR / "echarts.min.js").read_text(encoding="utf-8")
    cloud = (ASSETS_DIR / "echarts-wordcloud.min.js").read_text(encoding="utf-8")
    assert echarts[:300] in bodies[0] and echarts[-300:] in bodies[0]
    assert any(cloud[:300] in b for b in bodies)
    assert (ASSETS_DIR / "ECHARTS_WORDCLOUD_LICENSE").exists() and (ASSETS_DIR / "ECHARTS_LICENSE").exists()


def test_no_wordcloud_script_without_a_wordcloud(auto_pack, tmp_path):
    run, facts = write_run(tmp_path / "run", auto_pack, "zh")
    for suffix in (".parquet", ".json"):  # a run whose text notebook found no words
        (run / "results" / f"wordcloud{suffix}").unlink()
    build_html(run, auto_pack, run / "r.html", lang="zh", client="c", base_facts=facts)
    cloud = (ASSETS_DIR / "echarts-wordcloud.min.js").read_text(encoding="utf-8")
    assert cloud[:300] not in (run / "r.html").read_text(encoding="utf-8")


def test_client_text_is_escaped_not_evaluated(report):
    html = report["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 价格{{ 7*7 }}太贵" in html
    assert "<script>alert(1)" not in html
    assert "价格49太贵" not in html
    assert "&lt;b&gt;主题&lt;/b&gt;" in html


def test_chart_json_cannot_close_its_script_tag(report):
    for s in report["page"].scripts:
        if s["attrs"].get("type") == "application/json":
            assert "<" not in s["body"] and ">" not in s["body"]
            json.loads(s["body"])


def test_tables_sortable(report):
    html = report["html"]
    tables = [a for t, a in report["page"].tags if t == "table"]
    assert tables and all("sortable" in a.get("class", "").split() for a in tables)
    assert "table.sortable th" in html and "addEventListener('click'" in html


def test_sections_navigable(report):
    page = report["page"]
    assert page.nav == [f"#{sid}" for sid in page.sections]
    assert len(set(page.sections)) == len(page.sections) == report["summary"]["sections"]
    ids = [a.get("id") for _, a in page.tags if a.get("id")]
    assert len(ids) == len(set(ids)), "element ids are unique"


def test_chart_blocks_match_summary(report):
    charts = [a for t, a in report["page"].tags if "data-chart" in a]
    assert len(charts) == report["summary"]["charts"] == 12
    assert "wordcloud" in [a["data-chart"] for a in charts]


def test_low_base_rows_greyed_and_numbers_right_aligned(report):
    html = report["html"]
    league = html[html.index('id="b-league_table"'):]
    league = league[:league.index("</table>")]
    assert league.count('<tr class="low">') == 2
    assert '<td class="num pos">38</td>' in league


def test_chart_options_carry_the_results(auto_pack, tmp_path):
    run, _ = write_run(tmp_path / "run", auto_pack, "zh")
    comp = load(run, "nps_composition")
    spec = ChartSpec(type="stacked100", category="label", series=("detractors", "passives", "promoters"),
                     series_names=("detractors", "passives", "promoters"))
    opt = chart_options(comp.table, spec, "zh", comp.meta)
    series = opt["series"]
    assert [s["name"] for s in series[:3]] == ["贬损者", "被动者", "推荐者"]
    assert series[0]["data"] == [round(v) for v in comp.table["detractors"]]
    assert [d["label"]["formatter"] for d in series[3]["data"]] == [f"NPS {v:.0f}" for v in comp.table["nps"]]
    assert opt["legend"][0]["data"] == ["贬损者", "被动者", "推荐者"]
    assert [s["itemStyle"]["color"] for s in series[:3]] == ["#C0392B", "#A6A6A6", "#2E8B57"]

    pm = load(run, "priority_matrix")
    opt = chart_options(pm.table, ChartSpec(type="scatter", x="share", y="performance", label="driver_name",
                                            number_format="0%"), "zh", pm.meta)
    pts = opt["series"][0]["data"]
    assert [p["value"] for p in pts] == [[round(x * 100, 1), y] for x, y in zip(pm.table["share"], pm.table["performance"])]
    red = [p["name"] for p in pts if p["itemStyle"]["color"] == "#C0392B"]
    assert red == pm.table.loc[pm.table["quadrant"] == "high_importance_low_performance", "driver_name"].tolist()

    words = load(run, "wordcloud")
    opt = chart_options(words.table, ChartSpec(type="wordcloud"), "zh")
    data = opt["series"][0]["data"]
    assert opt["series"][0]["type"] == "wordCloud"
    top = words.table.sort_values("weight", ascending=False)
    assert [d["name"] for d in data] == top["word"].tolist()


@pytest.mark.render
def test_chromium_draws_every_chart_offline(report, tmp_path):
    chromium = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None)
    if chromium is None:
        pytest.skip("Chromium is not installed: cannot open the report headless")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--virtual-time-budget=8000"]
    url = report["out"].resolve().as_uri()
    dom = subprocess.run([chromium, *flags, f"--user-data-dir={tmp_path / 'ud1'}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=180, check=False).stdout
    drawn = re.search(r'data-charts-drawn="(\d+)"', dom)
    assert drawn, "the page script did not finish (a JavaScript error stopped it)"
    assert int(drawn.group(1)) == report["summary"]["charts"]
    assert re.search(r'data-chart-errors=""', dom)
    assert dom.count("<canvas") >= report["summary"]["charts"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *flags, f"--user-data-dir={tmp_path / 'ud2'}", f"--screenshot={shot}",
                    "--window-size=1400,4000", url], capture_output=True, timeout=180, check=False)
    assert shot.exists() and shot.stat().st_size > 50_000


def test_trend_lines_show_every_stage_on_paper_and_name_the_accent():
    """Four waves or more: a line per stage. The legend wraps (a scrolling legend hid stages when the report
    was printed to PDF) and the highlighted stage is named at the end of its line."""
    stages = [f"阶段{i}" for i in range(9)]
    df = pd.DataFrame([{"wave": w, "stage_name": s, "value": float(i - j), "highlight": s == "阶段3"}
                       for i, w in enumerate(["2024Q1", "2024Q2", "2024Q3", "2024Q4"]) for j, s in enumerate(stages)])
    opt = chart_options(df, ChartSpec(type="line", category="wave", label="stage_name", y="value",
                                      highlight="highlight"), "zh", {})
    assert opt["legend"][0].get("type", "plain") == "plain"
    assert [s["name"] for s in opt["series"]] == stages
    named = [s["name"] for s in opt["series"] if s.get("endLabel", {}).get("show")]
    assert named == ["阶段3"]
    assert opt["grid"]["bottom"] >= 34 + 24 * 2  # room for a legend on two lines


def test_bar_labels_print_as_the_deck_prints_them():
    """ECharts prints 5.0 as "5": every bar label is the deck's text for its value and format."""
    df = pd.DataFrame({"theme_name": ["甲", "乙", "丙"], "negative_rate": [5.0, 4.8, 2.0], "positive_rate": [7.2, 3.8, 2.0]})
    spec = ChartSpec(type="bar", category="theme_name", series=("negative_rate", "positive_rate"),
                     number_format="0.0", horizontal=True, labels=True)
    opt = chart_options(df, spec, "zh", {})
    shown = [[d["label"]["formatter"] for d in s["data"]] for s in opt["series"]]
    assert shown == [["5.0%", "4.8%", "2.0%"], ["7.2%", "3.8%", "2.0%"]]
    assert [d["value"] for d in opt["series"][0]["data"]] == [5.0, 4.8, 2.0]
