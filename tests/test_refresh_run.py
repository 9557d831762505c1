"""cemkit refresh end to end on real runs: the deck of the 2024Q3 report, edited by the consultant (a moved
chart, a rewritten title, a deleted slide), refreshed with the 2024Q4 run: every remaining chart and table
holds the new run's values, the edits stay, and what could not be refreshed is listed."""

from __future__ import annotations

import numpy as np
import pytest
from pptx import Presentation
from pptx.util import Emu

from cemkit.cli import main
from cemkit.demo import write_demo
from cemkit.render import charts
from cemkit.render.tags import ID_TAG, PAGE_TAG, SLIDE_TAG, get_slide_tags, get_tags
from cemkit.results import load_all
from cemkit.storyline import load_storyline


def _run(out, files, odata) -> object:
    args = ["run", "--pack", "auto", "--out", str(out), "--quiet", "--odata", str(odata)]
    for f in files:
        args += ["--data", str(f)]
    assert main(args) == 0
    return max(p for p in out.iterdir() if p.name.startswith("auto-2"))


def _delete(prs, slide) -> None:
    lst = prs.slides._sldIdLst
    entry = next(i for i in lst if prs.slides.get(int(i.get("id"))) is slide)
    prs.part.drop_rel(entry.rId)
    lst.remove(entry)


@pytest.mark.slow
def test_refresh_brings_every_chart_and_table_to_the_new_run(auto_pack, tmp_path, capsys):
    paths, odata = write_demo(auto_pack, tmp_path / "in", n=6000, seed=17, per_wave=True)
    run_a = _run(tmp_path / "a", paths[:3], odata)
    run_b = _run(tmp_path / "b", paths, odata)

    prs = Presentation(str(run_a / "report.pptx"))
    by_id = {}
    for s in prs.slides:
        by_id.setdefault(get_slide_tags(s)[SLIDE_TAG], []).append(s)
    curve = by_id["journey_curve"][0]
    chart = next(sh for sh in curve.shapes if get_tags(curve, sh).get(ID_TAG) == "chart")
    chart.left, chart.width = chart.left + Emu(600000), chart.width - Emu(600000)
    moved = (chart.left, chart.top, chart.width, chart.height)
    title = next(sh for sh in by_id["priority_matrix"][0].shapes
                 if get_tags(by_id["priority_matrix"][0], sh).get(ID_TAG) == "title")
    title.text_frame.paragraphs[0].runs[0].text = "优先改进：按重要性与表现排序（项目组改写）"
    _delete(prs, by_id["wordcloud"][0])
    prs.save(str(tmp_path / "edited.pptx"))

    out = tmp_path / "2024Q4.pptx"
    assert main(["refresh", str(tmp_path / "edited.pptx"), "--run", str(run_b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "refreshed:" in printed and (tmp_path / "2024Q4.pptx.refresh.txt").exists()

    new = Presentation(str(out))
    results = load_all(run_b)
    specs = {s.id: s for s in load_storyline(auto_pack)}
    checked = {"chart": 0, "table": 0}
    for slide in new.slides:
        stags = get_slide_tags(slide)
        sid = stags[SLIDE_TAG]
        assert sid != "wordcloud"
        spec = specs[sid]
        for sh in slide.shapes:
            if get_tags(slide, sh).get(ID_TAG) != "chart":
                continue
            df = charts.prepare_table(results[spec.result].table, spec.chart)
            if getattr(sh, "has_chart", False) and spec.chart.type != "scatter":
                _, data = charts.chart_data(df, spec.chart, "zh")
                for got, want in zip(sh.chart.plots[0].series, data):
                    np.testing.assert_allclose([np.nan if v is None else v for v in got.values],
                                               [np.nan if v is None else v for v in want.values], equal_nan=True)
                checked["chart"] += 1
            elif getattr(sh, "has_table", False) and spec.chart.type == "table":
                page, pages = (int(x) for x in stags[PAGE_TAG].split("/"))
                size = -(-len(df) // pages)
                _, _, body = charts.table_cells(df.iloc[(page - 1) * size: page * size], spec.chart, "zh")
                cells = [[sh.table.cell(i, j).text for j in range(len(sh.table.columns))]
                         for i in range(1, len(sh.table.rows))]
                assert cells == body, sid
                checked["table"] += 1
    assert checked["chart"] >= 6 and checked["table"] >= 4
    curve = next(s for s in new.slides if get_slide_tags(s)[SLIDE_TAG] == "journey_curve")
    chart = next(sh for sh in curve.shapes if get_tags(curve, sh).get(ID_TAG) == "chart")
    assert (chart.left, chart.top, chart.width, chart.height) == moved
    pm = next(s for s in new.slides if get_slide_tags(s)[SLIDE_TAG] == "priority_matrix")
    assert pm.shapes.title.text_frame.text == "优先改进：按重要性与表现排序（项目组改写）"
    def titles(deck) -> dict:
        return {(get_slide_tags(s)[SLIDE_TAG], get_slide_tags(s)[PAGE_TAG]): s.shapes.title.text_frame.text
                for s in deck.slides if s.shapes.title is not None}

    fresh = titles(Presentation(str(run_b / "report.pptx")))
    for key, text in titles(new).items():  # every title nobody edited reads as in the new run's own deck
        if key[0] != "priority_matrix":
            assert text == fresh[key], key
