"""The PPTX deck on cemkit's default master, reopened with python-pptx: native charts and tables carry the
result tables' values, footnotes carry the base, the theme has an East Asian face, titles fit, and (when
LibreOffice is installed) the deck converts to a PDF with one page per slide. Client masters:
test_render_masters.py."""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from lxml import etree
from pptx import Presentation
from pptx.util import Emu
from render_fixtures import write_run

from cemkit.paths import templates_dir
from cemkit.render import charts, matrix, style
from cemkit.render.pptx import build_deck, fit_title_size, open_template, title_lines
from cemkit.results import load, save
from cemkit.storyline import ChartSpec, SlideSpec, load_storyline

A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
TITLE_W = 11277600  # width of the title placeholder in templates/default.pptx (EMU)
CHART_SLIDES = ("journey_curve", "nps_composition", "wave_trend", "league_chart", "stage_importance", "priority_matrix",
                "themes", "theme_impact", "alerts", "prediction")
TABLE_SLIDES = ("exec_summary", "roadmap", "league_table", "stage_drivers", "playbooks", "method", "data_quality",
                "journey_table")


@pytest.fixture(scope="module")
def built(auto_pack, tmp_path_factory):
    run, facts = write_run(tmp_path_factory.mktemp("run"), auto_pack, "zh")
    out = run / "report.pptx"
    summary = build_deck(run, auto_pack, out, lang="zh", client="某汽车品牌", base_facts=facts)
    prs = Presentation(str(out))
    slides = dict(zip(summary["ids"], prs.slides))
    specs = {s.id: s for s in load_storyline(auto_pack)}
    return {"run": run, "out": out, "prs": prs, "slides": slides, "summary": summary, "specs": specs}


def _chart(slide):
    found = [sh for sh in slide.shapes if sh.has_chart]
    assert len(found) == 1, [sh.name for sh in slide.shapes]
    return found[0].chart


def _table(slide):
    found = [sh for sh in slide.shapes if sh.has_table]
    assert len(found) == 1
    return found[0].table


def _expected(table: pd.DataFrame, spec: ChartSpec) -> pd.DataFrame:
    """The spec's filter / sort / top, written out independently of charts.prepare_table."""
    for col, want in spec.filter.items():
        table = table[table[col] == want]
    if spec.sort:
        table = table.sort_values(spec.sort, ascending=spec.ascending, kind="stable")
    return (table.head(spec.top) if spec.top else table).reset_index(drop=True)


def _values(series) -> list:
    return [None if v is None else round(v, 9) for v in series.values]


def _rounded(col: pd.Series) -> list:
    return [None if pd.isna(v) else round(float(v), 9) for v in col]


# ---------------------------------------------------------------------------------------------- values
def test_every_data_slide_has_a_native_chart_or_table(built):
    s = built["slides"]
    for sid in CHART_SLIDES:
        assert _chart(s[sid]) is not None, sid
        assert not [sh for sh in s[sid].shapes if sh.shape_type == 13], f"{sid}: pictures are not charts"
    for sid in (*TABLE_SLIDES, "theme_stage"):
        assert _table(s[sid]) is not None, sid
    assert built["summary"]["charts"] == len(CHART_SLIDES)


@pytest.mark.parametrize("sid", ["journey_curve", "stage_importance", "themes", "theme_impact", "alerts", "prediction"])
def test_bar_values_equal_the_result(built, sid):
    spec = built["specs"][sid]
    table = load(built["run"], spec.result).table
    want = _expected(table, spec.chart)
    chart = _chart(built["slides"][sid])
    series = list(chart.plots[0].series)
    assert len(series) == len(spec.chart.series)
    for col, s in zip(spec.chart.series, series):
        assert _values(s) == _rounded(want[col]), (sid, col)
    cats = [c.split("\n")[0] for c in chart.plots[0].categories]
    assert [c.split(" ")[0] for c in cats] == want[spec.chart.category].astype(str).str.split(" ").str[0].tolist()


def test_journey_curve_marks_significance_peak_end_and_worst(built):
    chart = _chart(built["slides"]["journey_curve"])
    table = load(built["run"], "journey_curve").table
    cats = list(chart.plots[0].categories)
    assert cats[4].startswith("交车提车 ↓") and cats[5].startswith("首次保养 ↑")
    assert cats[1].endswith("峰值") and cats[-1].endswith("终点")
    worst = int(np.flatnonzero(table["is_worst"])[0])
    fill = chart.plots[0].series[0].points[worst].format.fill
    assert fill.fore_color.theme_color is not None  # the accent (theme colour), the others plain grey
    assert chart.plots[0].series[0].data_labels.number_format == "0"  # NPS without decimals


def test_nps_composition_red_grey_green_with_nps_at_bar_end(built):
    chart = _chart(built["slides"]["nps_composition"])
    table = load(built["run"], "nps_composition").table
    s = list(chart.plots[0].series)
    for col, series, rgb in zip(("detractors", "passives", "promoters"), s, ("C0392B", "A6A6A6", "2E8B57")):
        assert _values(series) == _rounded(table[col])
        assert str(series.format.fill.fore_color.rgb) == rgb
    ends = [s[3].points[i].data_label.text_frame.text for i in range(len(table))]
    assert ends == [f"NPS {v:.0f}" for v in table["nps"]]
    assert list(chart.plots[0].categories) == table["name"].tolist()  # NPS is at the bar end, not repeated


def test_wave_trend_is_one_series_per_wave(built):
    chart = _chart(built["slides"]["wave_trend"])
    table = load(built["run"], "wave_trend").table
    for series, wave in zip(chart.plots[0].series, ("2024Q1", "2024Q2")):
        assert series.name == wave
        assert _values(series) == _rounded(table.loc[table["wave"] == wave, "value"])
    assert "交车提车 ↓" in list(chart.plots[0].categories)


def test_priority_matrix_points_and_fix_first_in_red(built):
    chart = _chart(built["slides"]["priority_matrix"])
    table = load(built["run"], "priority_matrix").table
    series = list(chart.plots[0].series)
    points = series[:-3]  # then the two median lines and the quadrant corners
    lengths = {len(s.values) for s in series}
    assert len(lengths) == 1  # every series padded to one length (LibreOffice draws only the longest otherwise)
    # padding repeats a series' last point: the distinct points are the data
    got = sorted({(round(x, 9), round(y, 9)) for s in points for x, y in zip(_xs(s), s.values)})
    assert got == sorted((round(x, 9), round(y, 9)) for x, y in zip(table["share"], table["performance"]))
    red = [s for s in points if s.marker.format.fill.fore_color.type == 1  # RGB, not the theme accent
           and str(s.marker.format.fill.fore_color.rgb) == "C0392B"]
    fix = table[table["quadrant"] == "high_importance_low_performance"]
    assert len(red) == 1 and sorted(set(red[0].values)) == sorted(fix["performance"])
    labels = [s.points[i].data_label.text_frame.text for s in points for i in range(len(s.values))
              if s.points[i].data_label.has_text_frame]
    assert sorted(labels) == sorted(table["driver_name"])
    corners = [series[-1].points[i].data_label.text_frame.text for i in range(4)]
    assert corners == ["重点改进", "优势保持", "次要改进", "维持观察"]


def _xs(series) -> list[float]:
    return [float(v) for v in series._element.xpath("./c:xVal//c:v/text()")]


# ---------------------------------------------------------------------------------------------- tables
def test_league_table_cells_and_low_base_rows_greyed(built):
    table = _table(built["slides"]["league_table"])
    df = load(built["run"], "league").table
    assert [table.cell(0, j).text for j in range(6)] == ["排名", "经销商", "NPS", "95%置信区间", "样本量", "梯队"]
    for i, row in enumerate(df.itertuples(), start=1):
        want = ["–" if pd.isna(row.rank) else f"{row.rank:.0f}", row.unit,
                "–" if pd.isna(row.value) else f"{row.value:.0f}", row.ci, f"{row.n:,}",
                "–" if pd.isna(row.tier) else f"{row.tier:.0f}"]
        assert [table.cell(i, j).text for j in range(6)] == want
        colour = str(table.cell(i, 1).text_frame.paragraphs[0].runs[0].font.color.rgb)
        assert (colour == "A6A6A6") == (row.flag == "low_base")


def test_tables_format_numbers_per_column(built):
    drivers = _table(built["slides"]["stage_drivers"])
    df = load(built["run"], "stage_drivers").table
    assert drivers.cell(1, 4).text == f"{df['performance'][0]:.1f}"      # a mean rating: one decimal
    assert drivers.cell(1, 2).text == f"{df['share_pct'][0]:.0f}"        # importance in %, header says (%)
    quality = _table(built["slides"]["data_quality"])
    dq = load(built["run"], "data_quality").table
    assert [quality.cell(i + 1, 1).text for i in range(len(dq))] == [f"{v:,}" for v in dq["count"]]


def test_appendix_table_is_filtered_and_on_the_appendix_layout(built):
    slide = built["slides"]["journey_table"]
    assert slide.slide_layout.name == "appendix"
    table = _table(slide)
    df = load(built["run"], "journey_table").table
    df = df[(df["segment"] == "__all__") & df["reporting"]]  # the reporting wave only
    assert len(table.rows) == len(df) + 1
    assert [table.cell(i + 1, 0).text for i in range(len(df))] == df["stage_name"].tolist()
    assert [table.cell(i + 1, 2).text for i in range(len(df))] == [f"{v:.0f}" for v in df["value"]]


def test_long_table_continues_on_next_slides(auto_pack, tmp_path):
    run, facts = write_run(tmp_path / "run", auto_pack, "zh")
    jt = load(run, "journey_table")
    long = pd.concat([jt.table] * 3, ignore_index=True)
    last = long.index[(long["segment"] == "__all__") & long["reporting"]][-1]
    long.loc[last, "stage_name"] = "一个很长很长很长很长的环节名称在最后一页"  # only the last page has it
    save(run, "journey_table", long, {k: v for k, v in jt.meta.items() if k not in ("name", "rows")})
    summary = build_deck(run, auto_pack, run / "d.pptx", lang="zh", client="c", base_facts=facts)
    prs = Presentation(str(run / "d.pptx"))
    pages = [s for sid, s in zip(summary["ids"], prs.slides) if sid == "journey_table"]
    shown = long[(long["segment"] == "__all__") & long["reporting"]]
    assert len(pages) == math.ceil(len(shown) / 16)
    rows = [row for s in pages for row in list(_table(s).rows)[1:]]
    assert [r.cells[0].text for r in rows] == shown["stage_name"].tolist()
    titles = [s.shapes.title.text_frame.text for s in pages]
    assert titles[0] == "附表：2024Q2各环节指标与置信区间" and titles[1].endswith(f"（续 2/{len(pages)}）")
    for s in pages:  # the table stays above the footnote
        table = next(sh for sh in s.shapes if sh.has_table)
        foot = next(sh for sh in s.shapes if sh.name == "Footnote")
        assert table.top + sum(r.height for r in _table(s).rows) <= foot.top
    widths = {tuple(c.width for c in _table(s).columns) for s in pages}
    assert len(widths) == 1  # the columns do not move from page to page


def test_long_narrow_table_sits_side_by_side_on_one_slide(auto_pack, tmp_path):
    """A two-column list too long for one table (data quality: 22 items) is drawn as two tables side by side
    on one slide — read down the left, then the right — not continued on a second slide (a wide table still
    continues: test_long_table_continues_on_next_slides)."""
    run, facts = write_run(tmp_path / "run", auto_pack, "zh")
    dq = load(run, "data_quality")
    long = pd.DataFrame({"item": [f"检查项目{i}：{'很长的说明' * (i % 3)}" for i in range(22)],
                         "count": [1000 * i + 7 for i in range(22)]})
    save(run, "data_quality", long, {k: v for k, v in dq.meta.items() if k not in ("name", "rows")})
    summary = build_deck(run, auto_pack, run / "d.pptx", lang="zh", client="c", base_facts=facts)
    prs = Presentation(str(run / "d.pptx"))
    by_id = [(sid, s) for sid, s in zip(summary["ids"], prs.slides)]
    quality = [s for sid, s in by_id if sid == "data_quality"]
    assert len(quality) == 1
    tables = sorted((sh for sh in quality[0].shapes if sh.has_table), key=lambda sh: sh.left)
    assert len(tables) == 2
    left, right = tables
    assert left.left + left.width <= right.left                      # side by side, not overlapping
    assert right.left + right.width <= prs.slide_width
    shown = [tb.table.cell(i, 0).text for tb in tables for i in range(1, len(tb.table.rows))]
    assert shown == long["item"].tolist()                            # every item once, in order
    counts = [tb.table.cell(i, 1).text for tb in tables for i in range(1, len(tb.table.rows))]
    assert counts == [f"{v:,}" for v in long["count"]]
    assert [c.width for c in left.table.columns] == [c.width for c in right.table.columns]
    foot = next(sh for sh in quality[0].shapes if sh.name == "Footnote")
    for tb in tables:
        assert tb.top + sum(r.height for r in tb.table.rows) <= foot.top


# ------------------------------------------------------------------------------------ slide furniture
def test_footnotes_carry_the_base(built):
    for sid in (*CHART_SLIDES, *TABLE_SLIDES, "theme_stage", "quotes_negative"):
        spec = built["specs"][sid]
        meta = load(built["run"], "decisions" if spec.result == "exec_summary" else spec.result).meta
        foot = [sh for sh in built["slides"][sid].shapes if sh.name == "Footnote"]
        assert len(foot) == 1, sid
        assert f"n={meta['base']['n']:,}" in foot[0].text_frame.text, sid
    assert "加权有效样本 n=7,185" in next(sh for sh in built["slides"]["journey_curve"].shapes
                                      if sh.name == "Footnote").text_frame.text


def test_footnote_below_content(built):
    for sid, slide in built["slides"].items():
        foot = [sh for sh in slide.shapes if sh.name == "Footnote"]
        if not foot:
            continue
        for sh in slide.shapes:
            if sh.has_chart or sh.has_table or sh.name in ("Subtitle", "Takeaway"):
                height = sum(r.height for r in sh.table.rows) if sh.has_table else sh.height
                assert sh.top + height <= foot[0].top, (sid, sh.name)


def test_theme_fonts_have_an_east_asian_face():
    prs = Presentation(str(templates_dir() / "default.pptx"))
    master = prs.slide_masters[0]
    theme = next(r.target_part for r in master.part.rels.values() if r.reltype.endswith("/theme"))
    root = etree.fromstring(theme.blob)
    for tag in ("majorFont", "minorFont"):
        font = root.find(f".//{A}fontScheme/{A}{tag}")
        assert font.find(f"{A}ea").get("typeface") == "Microsoft YaHei"
        assert font.find(f"{A}latin").get("typeface") == "Arial"
        hans = [f.get("typeface") for f in font.findall(f"{A}font") if f.get("script") == "Hans"]
        assert hans in ([], ["Microsoft YaHei"])


def test_no_empty_placeholder_and_slide_numbers(built):
    for n, slide in enumerate(built["prs"].slides, start=1):
        for ph in slide.placeholders:
            assert ph.has_text_frame and ph.text_frame.text.strip(), (n, ph.name)
        numbers = [sh.text_frame.text for sh in slide.shapes if sh.name == "Slide number"]
        assert numbers == [str(n)]
        assert any(sh.name == "Confidential" and "某汽车品牌" in sh.text_frame.text for sh in slide.shapes)


def test_speaker_notes_from_the_storyline(built):
    notes = built["slides"]["journey_curve"].notes_slide.notes_text_frame.text
    assert notes.startswith("每根柱为一个环节的NPS")
    for sid, slide in built["slides"].items():  # every content slide has notes: how to read it, and the caveat
        if slide.slide_layout.name == "title":
            continue
        text = slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else ""
        assert len(text) >= 20, sid


# ------------------------------------------------------------------------------------------- titles
def test_fit_title_size():
    assert fit_title_size("交车环节NPS最低", TITLE_W) == 24
    sixty = "交" * 60
    size = fit_title_size(sixty, TITLE_W)
    assert size <= 24 and title_lines(sixty, TITLE_W, size) == 2
    long = "交" * 120
    size = fit_title_size(long, TITLE_W)
    assert 16 <= size < 24
    assert fit_title_size("交" * 400, TITLE_W) == 16  # never below 16 pt, even if it then takes 3+ lines


def test_titles_fit_in_two_lines(built):
    for sid, slide in built["slides"].items():
        if slide.slide_layout.name in ("title", "section"):
            continue
        title = slide.shapes.title
        run = title.text_frame.paragraphs[0].runs[0]
        size = run.font.size.pt
        assert 16 <= size <= 24, sid
        assert title_lines(title.text_frame.text, title.width, size) <= 2, (sid, title.text_frame.text, size)


# ---------------------------------------------------------------------------------------- templates
def test_template_layouts_have_title_and_content_placeholders():
    prs = open_template()
    for layout in prs.slide_layouts:
        idx = {ph.placeholder_format.idx for ph in layout.placeholders}
        assert 0 in idx and 1 in idx, layout.name
        if layout.name == "two_charts":
            assert 2 in idx


@dataclass(frozen=True)
class _TwoCharts(SlideSpec):
    chart2: ChartSpec | None = None


def test_two_charts_layout_draws_both(auto_pack, tmp_path, monkeypatch):
    run, facts = write_run(tmp_path / "run", auto_pack, "zh")
    base = next(s for s in load_storyline(auto_pack) if s.id == "nps_composition")
    spec = _TwoCharts(**{**base.__dict__, "id": "two", "layout": "two_charts",
                         "chart2": ChartSpec(type="bar", category="name", series=("nps",), series_names=("nps",))})
    monkeypatch.setattr("cemkit.render.pptx.load_storyline", lambda pack: [spec])
    build_deck(run, auto_pack, run / "two.pptx", lang="zh", client="c", base_facts=facts)
    slide = Presentation(str(run / "two.pptx")).slides[0]
    frames = sorted((sh for sh in slide.shapes if sh.has_chart), key=lambda sh: sh.left)
    assert len(frames) == 2
    assert frames[0].left + frames[0].width <= frames[1].left
    table = load(run, "nps_composition").table
    assert _values(frames[1].chart.plots[0].series[0]) == _rounded(table["nps"])


# ------------------------------------------------------------------------------------- chart details
def _blank_slide():
    prs = Presentation(str(templates_dir() / "default.pptx"))
    return prs.slides.add_slide(prs.slide_layouts[0])


BOX = (Emu(457200), Emu(1250000), Emu(11277600), Emu(4500000))


def test_low_base_bars_greyed_and_labelled():
    df = pd.DataFrame({"stage_name": ["A", "B", "C"], "value": [30.0, None, -5.0], "flag": ["ok", "low_base", "ok"],
                       "is_worst": [False, False, True]})
    spec = ChartSpec(type="bar", category="stage_name", series=("value",), highlight="is_worst")
    chart = charts.draw(_blank_slide(), BOX, df, spec, "zh").chart
    assert list(chart.plots[0].categories) == ["A", "B\n低基数", "C"]
    points = chart.plots[0].series[0].points
    assert str(points[1].format.fill.fore_color.rgb) == style.PALETTE["faint"]
    assert points[2].format.fill.fore_color.theme_color is not None


def test_percent_columns_get_a_percent_format():
    df = pd.DataFrame({"stage_name": ["A", "B"], "share_pct": [60.0, 40.0]})
    spec = ChartSpec(type="bar", category="stage_name", series=("share_pct",))
    chart = charts.draw(_blank_slide(), BOX, df, spec, "zh").chart
    assert chart.plots[0].series[0].data_labels.number_format == '0"%"'
    assert style.format_value(0.256, "0%") == "26%" and style.format_value(12.34, '0.0"%"') == "12.3%"
    assert style.format_value(1234, "0") == "1,234" and style.format_value(float("nan")) == "–"


def test_wordcloud_degrades_to_top_15_bars():
    df = pd.DataFrame({"word": [f"词{i}" for i in range(20)], "weight": list(range(20))})
    chart = charts.draw(_blank_slide(), BOX, df, ChartSpec(type="wordcloud"), "zh").chart
    assert list(chart.plots[0].categories) == [f"词{i}" for i in range(19, 4, -1)]
    assert _values(chart.plots[0].series[0]) == [float(i) for i in range(19, 4, -1)]


def test_place_labels_avoids_overlaps_then_numbers():
    # two points on top of each other: the second label goes elsewhere
    placed = matrix.place_labels([(100, 100), (100, 100)], ["按时交车", "车况"], 9, (400, 300))
    assert placed[0] == ("right", "按时交车") and placed[1][0] != "right" and placed[1][1] == "车况"
    # a crowd in a tiny plot: labels that cannot fit become numbers (1-based)
    pts = [(20 + i, 20) for i in range(6)]
    placed = matrix.place_labels(pts, ["很长的属性名称"] * 6, 9, (90, 40))
    assert any(text == str(i + 1) for i, (_, text) in enumerate(placed))


def test_nice_axis():
    assert style.nice_axis(0.03, 0.34) == (0.0, 0.4, 0.1)
    lo, hi, step = style.nice_axis(6.68, 8.53)
    assert lo <= 6.68 and hi >= 8.53 and step == 0.5


# ------------------------------------------------------------------------------------------ LibreOffice
@pytest.mark.render
def test_libreoffice_renders_one_pdf_page_per_slide(built, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: cannot render the deck to PDF")
    deck = tmp_path / "deck.pptx"
    shutil.copy(built["out"], deck)
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(deck)], check=True, capture_output=True, timeout=300)
    pdf = (tmp_path / "deck.pdf").read_bytes()
    pages = _pdf_pages(pdf)
    assert pages == len(built["prs"].slides)


def _pdf_pages(pdf: bytes) -> int:
    """Page count from the PDF's page tree (the /Count of the root /Pages node), else count /Type /Page."""
    import re

    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(m) for m in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    return max(counts) if counts else len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_chart_without_rows_says_no_data(auto_pack):
    from pptx import Presentation as P

    from cemkit.render import charts
    from cemkit.storyline import ChartSpec

    prs = P()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    spec = ChartSpec(type="bar", category="owner", series=("P1",))
    shape = charts.draw_prepared(slide, (0, 0, 4000000, 3000000), pd.DataFrame({"owner": [], "P1": []}), spec, "zh")
    assert shape.text_frame.text == "无数据" and not any(s.has_chart for s in slide.shapes)
