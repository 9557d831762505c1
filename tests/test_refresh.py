"""cemkit refresh: a deck the consultant edited with python-pptx (a moved and restyled chart, a rewritten
title, a deleted slide, a slide of their own) gets the new run's charts, tables and numbers and keeps the
edits; what could not be refreshed is listed."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from lxml import etree
from pptx import Presentation
from pptx.util import Emu
from render_fixtures import write_run

from cemkit.render.pptx import build_deck
from cemkit.render.refresh import refresh_deck
from cemkit.render.tags import ID_TAG, SLIDE_TAG, get_slide_tags, get_tags
from cemkit.results import load, save


def _slides(prs) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in prs.slides:
        sid = get_slide_tags(s).get(SLIDE_TAG)
        out.setdefault(sid, []).append(s)
    return out


def _shape(slide, kind):
    return next(sh for sh in slide.shapes if get_tags(slide, sh).get(ID_TAG) == kind)


def _resave(run, name, table, meta):
    save(run, name, table, {k: v for k, v in meta.items() if k not in ("name", "rows")})


def _next_run(src, dst):
    """The next wave: every journey NPS 6 points up, the dealers reshuffled, one more appendix row, no
    prediction (too few customers this time)."""
    shutil.copytree(src, dst)
    curve = load(dst, "journey_curve")
    t = curve.table.copy()
    t["value"] = t["value"] + 6
    facts = {**curve.meta["facts"], "worst_value": float(t["value"].min()), "peak_value": float(t["value"].max()),
             "end_value": float(t["value"].iloc[-1]), "overall": curve.meta["facts"]["overall"] + 6,
             "worst_change": -2.4, "wave": "2024Q3", "compare_wave": "2024Q2", "wave_id": "2024Q3"}
    _resave(dst, "journey_curve", t, {**curve.meta, "facts": facts})
    comp = load(dst, "nps_composition")
    c = comp.table.copy()
    c["detractors"] = c["detractors"] - 3.5
    c["promoters"] = c["promoters"] + 2.5
    c["passives"] = 100 - c["detractors"] - c["promoters"]
    c["nps"] = c["promoters"] - c["detractors"]
    _resave(dst, "nps_composition", c, {**comp.meta, "facts": {**comp.meta["facts"], "most_detractors_share": 40.0}})
    league = load(dst, "league")
    lg = league.table.copy()
    lg.loc[lg["value"].notna(), "value"] = lg.loc[lg["value"].notna(), "value"] - 4.0
    _resave(dst, "league", lg, {**league.meta, "facts": {**league.meta["facts"], "best_value": 34.2,
                                                        "n_ranked": league.meta["facts"]["n_ranked"] + 1,
                                                        "worst_value": 2.5}})
    jt = load(dst, "journey_table")
    extra = jt.table.iloc[[0]].assign(stage_name="新增环节", value=12.5)
    _resave(dst, "journey_table", pd.concat([jt.table, extra], ignore_index=True), jt.meta)
    (dst / "results" / "stage_importance.parquet").unlink()
    (dst / "results" / "stage_importance.json").unlink()
    return dst


@pytest.fixture(scope="module")
def refreshed(auto_pack, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("refresh")
    run_a, facts = write_run(tmp / "a", auto_pack, "zh")
    build_deck(run_a, auto_pack, tmp / "a.pptx", lang="zh", client="某品牌", base_facts=facts)
    run_b = _next_run(run_a, tmp / "b")

    prs = Presentation(str(tmp / "a.pptx"))
    s = _slides(prs)
    chart = _shape(s["journey_curve"][0], "chart")
    chart.left, chart.top = chart.left + Emu(400000), chart.top + Emu(200000)   # moved
    chart.chart.plots[0].gap_width = 150                                          # restyled
    moved = (chart.left, chart.top, chart.width, chart.height)
    title = _shape(s["nps_composition"][0], "title")
    title.text_frame.paragraphs[0].runs[0].text = "交车是贬损者最集中的环节：占44%，需专项整改"   # rewritten
    league_title = _shape(s["league_chart"][0], "title")
    league_title.text_frame.paragraphs[0].runs[0].text = "经销商排名"                  # rewritten, no number
    own = prs.slides.add_slide(prs.slide_layouts[0])                              # the consultant's own slide
    own.shapes.title.text = "项目组补充：门店访谈要点"
    _delete(prs, s["themes"][0])     # deleted (after the addition: python-pptx names a new slide's part by
    # the count of slides, which would collide with a later slide's part after a deletion)
    prs.save(str(tmp / "edited.pptx"))

    report = refresh_deck(tmp / "edited.pptx", run_b, tmp / "new.pptx", auto_pack, lang="zh",
                          base_facts={**facts, "client": "某品牌", "pack_name": auto_pack.name.zh, "date": "2024-10-15"})
    return {"run_b": run_b, "new": Presentation(str(tmp / "new.pptx")), "report": report, "moved": moved,
            "tmp": tmp, "facts": facts}


def _delete(prs, slide) -> None:
    """Delete a slide as PowerPoint does: out of the slide list, and its part with it."""
    lst = prs.slides._sldIdLst
    entry = next(i for i in lst if prs.slides.get(int(i.get("id"))) is slide)
    prs.part.drop_rel(entry.rId)
    lst.remove(entry)


def _values(chart) -> list:
    return list(chart.plots[0].series[0].values)


def test_charts_get_the_new_values_and_keep_their_edits(refreshed):
    s = _slides(refreshed["new"])
    shape = _shape(s["journey_curve"][0], "chart")
    want = load(refreshed["run_b"], "journey_curve").table["value"].tolist()
    np.testing.assert_allclose(_values(shape.chart), want)
    assert (shape.left, shape.top, shape.width, shape.height) == refreshed["moved"]
    assert shape.chart.plots[0].gap_width == 150
    # the number format is given again (python-pptx #666) and the worst bar still carries the accent
    xml = etree.tostring(shape.chart._chartSpace).decode()
    assert '<c:formatCode>0</c:formatCode>' in xml
    comp = _shape(s["nps_composition"][0], "chart").chart
    c = load(refreshed["run_b"], "nps_composition").table
    np.testing.assert_allclose(list(comp.plots[0].series[0].values), c["detractors"])
    labels = [p.data_label.text_frame.text for p in list(comp.plots[0].series[3].points)[: len(c)]]
    assert labels == [f"NPS {v:.0f}" for v in c["nps"]]


def test_tables_get_the_new_rows(refreshed):
    s = _slides(refreshed["new"])
    league = load(refreshed["run_b"], "league").table
    table = _shape(s["league_table"][0], "chart").table
    shown = [table.cell(i + 1, 2).text for i in range(len(table.rows) - 1)]
    pages = [_shape(p, "chart").table for p in s["league_table"]]
    shown = [tb.cell(i + 1, 2).text for tb in pages for i in range(len(tb.rows) - 1)]
    assert shown == ["–" if pd.isna(v) else f"{v:.0f}" for v in league["value"]]
    # the value column's red / green follow the new run's intervals against its reference, as a new deck's
    from cemkit.render import style, tables

    res = load(refreshed["run_b"], "league")
    want = [{"red": style.RED, "green": style.GREEN}.get(c, style.TEXT)
            for c in tables.significance_colours(res.table, res.meta)]
    low = (res.table["flag"] == "low_base").tolist() if "flag" in res.table else [False] * len(res.table)
    want = [style.GREY if lo else w for w, lo in zip(want, low)]
    got = [tb.cell(i + 1, 2).text_frame.paragraphs[0].runs[0].font.color.rgb
           for tb in pages for i in range(len(tb.rows) - 1)]
    assert got == want and {style.RED, style.GREEN} & set(want)
    jt = load(refreshed["run_b"], "journey_table").table
    jt = jt[(jt["segment"] == "__all__") & jt["reporting"]]
    rows = [r for p in s["journey_table"] for tb in [_shape(p, "chart").table]
            for r in (tb.cell(i + 1, 0).text for i in range(len(tb.rows) - 1))]
    assert rows == jt["stage_name"].tolist()  # the added row shows


def test_texts_follow_the_run_and_edits_are_kept(refreshed):
    s = _slides(refreshed["new"])
    comp_title = _shape(s["nps_composition"][0], "title").text_frame.text
    assert comp_title == "交车是贬损者最集中的环节：占40%，需专项整改"   # the consultant's words, the new number
    assert _shape(s["league_chart"][0], "title").text_frame.text == "经销商排名"
    curve_title = _shape(s["journey_curve"][0], "title").text_frame.text
    worst = load(refreshed["run_b"], "journey_curve").meta["facts"]["worst_value"]
    assert f"（{worst:.0f}）" in curve_title
    report = refreshed["report"]
    assert any("league" in x and "title" in x for x in report.stale)           # its number could not be placed
    assert any("stage_importance" in x and "no result" in x for x in report.stale)   # never silently stale
    assert any("themes" in x and "deleted" in x for x in report.notes)
    assert any("not drawn by cemkit" in x for x in report.notes)


def test_deleted_slide_stays_deleted_and_own_slide_is_kept(refreshed):
    prs = refreshed["new"]
    s = _slides(prs)
    assert "themes" not in s
    assert prs.slides[-1].shapes.title.text == "项目组补充：门店访谈要点"
    numbers = []
    for i, slide in enumerate(prs.slides, start=1):
        for sh in slide.shapes:
            if get_tags(slide, sh).get(ID_TAG) == "slide_number":
                numbers.append((i, sh.text_frame.text))
    assert all(str(i) == text for i, text in numbers)  # renumbered after the deletion


def test_refreshing_again_changes_nothing(refreshed, auto_pack):
    tmp = refreshed["tmp"]
    again = refresh_deck(tmp / "new.pptx", refreshed["run_b"], tmp / "again.pptx", auto_pack, lang="zh",
                         base_facts={**refreshed["facts"], "client": "某品牌", "pack_name": auto_pack.name.zh,
                                     "date": "2024-10-15"})
    texts = [x for x in again.refreshed if not x.endswith(("chart", "table")) and "drawn again" not in x]
    assert texts == []
    a = Presentation(str(tmp / "new.pptx"))
    b = Presentation(str(tmp / "again.pptx"))
    assert [sl.shapes.title.text for sl in a.slides if sl.shapes.title is not None] == \
        [sl.shapes.title.text for sl in b.slides if sl.shapes.title is not None]


def test_tags_survive_a_copy_of_the_slide_xml():
    """A tag is a relationship from the slide part to a tags part: python-pptx keeps unknown parts."""
    from pptx import Presentation as P

    from cemkit.render.tags import get_tags as gt
    from cemkit.render.tags import set_tags

    prs = P()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    set_tags(slide, slide.shapes.title, {"cemkit_id": "title", "CEMKIT_TEXT": "标题 <&>"})
    assert gt(slide, slide.shapes.title) == {"CEMKIT_ID": "title", "CEMKIT_TEXT": "标题 <&>"}


def test_tables_side_by_side_get_their_new_rows(auto_pack, tmp_path):
    """A long two-column list drawn side by side: each half gets its own share of the new run's rows."""
    run_a, facts = write_run(tmp_path / "a", auto_pack, "zh")
    dq = load(run_a, "data_quality")
    meta = {k: v for k, v in dq.meta.items() if k not in ("name", "rows")}
    save(run_a, "data_quality", pd.DataFrame({"item": [f"项目{i}" for i in range(22)], "count": range(22)}), meta)
    build_deck(run_a, auto_pack, tmp_path / "a.pptx", lang="zh", client="c", base_facts=facts)
    run_b = tmp_path / "b"
    shutil.copytree(run_a, run_b)
    new = pd.DataFrame({"item": [f"新项目{i}" for i in range(20)], "count": [100 + i for i in range(20)]})
    save(run_b, "data_quality", new, meta)
    refresh_deck(tmp_path / "a.pptx", run_b, tmp_path / "new.pptx", auto_pack, lang="zh",
                 base_facts={**facts, "client": "c", "pack_name": auto_pack.name.zh, "date": "2024-10-15"})
    slides = _slides(Presentation(str(tmp_path / "new.pptx")))["data_quality"]
    assert len(slides) == 1
    halves = [_shape(slides[0], "chart").table, _shape(slides[0], "chart@2").table]
    shown = [tb.cell(i, 0).text for tb in halves for i in range(1, len(tb.rows))]
    assert shown == new["item"].tolist()
    assert [tb.cell(i, 1).text for tb in halves for i in range(1, len(tb.rows))] == [str(v) for v in new["count"]]
