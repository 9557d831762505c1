"""The wave-trend line chart shows what its title says: the stage the title names (``highlight``) is drawn
thick in the message accent, every other stage thin and grey — in the deck, in a refreshed deck and in the
HTML report. Without a highlight, lines keep the master's accents in order."""

from __future__ import annotations

import pandas as pd
from pptx import Presentation
from pptx.util import Emu, Pt

from cemkit.paths import templates_dir
from cemkit.render import charts, style
from cemkit.render.html import chart_options
from cemkit.storyline import ChartSpec

BOX = (Emu(457200), Emu(1250000), Emu(11277600), Emu(4500000))
SPEC = ChartSpec(type="line", category="wave", label="stage_name", y="value", highlight="highlight")


def _trend(named: str | None) -> pd.DataFrame:
    waves, stages = ["2024Q1", "2024Q2", "2024Q3", "2024Q4"], ["试驾", "交车提车", "维修保养"]
    rows = [(w, s, 10.0 * i + j) for i, s in enumerate(stages) for j, w in enumerate(waves)]
    df = pd.DataFrame(rows, columns=["wave", "stage_name", "value"])
    return df.assign(highlight=df["stage_name"] == named)


def _slide():
    prs = Presentation(str(templates_dir() / "default.pptx"))
    return prs.slides.add_slide(prs.slide_layouts[0])


def _styles(chart) -> dict[str, tuple]:
    out = {}
    for s in chart.plots[0].series:
        line = s.format.line
        colour = "accent" if line.color.type is not None and line.color.type == 2 else str(line.color.rgb)
        out[s.name] = (colour, line.width)
    return out


def test_the_named_stage_stands_out_in_the_deck():
    chart = charts.draw(_slide(), BOX, _trend("交车提车"), SPEC, "zh").chart
    styles = _styles(chart)
    assert styles["交车提车"] == ("accent", Pt(2.75))
    assert styles["试驾"] == styles["维修保养"] == (style.PALETTE["light"], Pt(1.25))


def test_refresh_moves_the_highlight_to_the_new_stage():
    chart = charts.draw(_slide(), BOX, _trend("交车提车"), SPEC, "zh").chart
    assert charts.update(chart, _trend("维修保养"), SPEC, "zh")
    styles = _styles(chart)
    assert styles["维修保养"][0] == "accent" and styles["交车提车"][0] == style.PALETTE["light"]


def test_without_a_highlight_lines_keep_the_accents():
    chart = charts.draw(_slide(), BOX, _trend(None), SPEC, "zh").chart
    assert {c for c, _ in _styles(chart).values()} == {"accent"}


def test_html_line_highlights_the_same_stage():
    series = {s["name"]: s for s in chart_options(_trend("交车提车"), SPEC, "zh")["series"]}
    assert series["交车提车"]["lineStyle"]["width"] == 3
    assert series["交车提车"]["itemStyle"]["color"] == "#" + style.PALETTE["accent"]
    assert series["试驾"]["itemStyle"]["color"] == "#" + style.PALETTE["light"]
