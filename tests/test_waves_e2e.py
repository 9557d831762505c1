"""Done-when of the tracking issue, end to end: the demo split into one file per wave, run with
``cemkit run --data W3.csv --data W4.csv``. Every row of both files is accounted for, and every headline number
of the deck and of the HTML report equals an independent calculation from the raw files with plain pandas
(NPS = % of 9–10 minus % of 0–6) on the latest wave; the pooled (both waves) value appears nowhere unless
``--wave all`` is given — and then everywhere, with every footnote saying so."""

from __future__ import annotations

import html as htmlmod
import json
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from pptx import Presentation

from cemkit.cli import main
from cemkit.demo import write_demo
from cemkit.render.tags import ID_TAG, SLIDE_TAG, get_slide_tags, get_tags
from cemkit.results import load_all

LATEST, EARLIER = "2024Q4", "2024Q3"


def _clean(paths, pack) -> pd.DataFrame:
    """The raw files as a careful analyst would clean them by hand (not with cemkit): NPS typed as 9分 or in
    full-width digits read as numbers; out-of-range or missing NPS and unknown stages dropped; a response id
    sent twice kept once, the later copy."""
    raw = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths], ignore_index=True)
    score = raw["nps"].map(lambda s: unicodedata.normalize("NFKC", s).replace("分", "").strip())
    raw["nps"] = pd.to_numeric(score.replace("", np.nan))
    raw = raw[raw["nps"].between(0, 10) & raw["stage"].isin(pack.stage_ids)]
    return raw.sort_values("date", kind="stable").drop_duplicates("response_id", keep="last")


def nps(s: pd.Series) -> float:
    return float(((s >= 9).mean() - (s <= 6).mean()) * 100)


@pytest.fixture(scope="module")
def runs(auto_pack, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    paths, odata = write_demo(auto_pack, tmp / "in", n=6000, seed=31, per_wave=True)
    files = [paths[2], paths[3]]  # 2024Q3, 2024Q4
    out = {}
    for key, extra in (("latest", []), ("all", ["--wave", "all"])):
        folder = tmp / key
        args = ["run", "--pack", "auto", "--out", str(folder), "--quiet", "--odata", str(odata)]
        for f in files:
            args += ["--data", str(f)]
        assert main(args + extra) == 0
        out[key] = next(p for p in folder.iterdir() if p.name.startswith("auto-2"))
    clean = _clean(files, auto_pack)
    return {"files": files, "clean": clean, **out}


def _deck(run) -> dict[str, list]:
    prs = Presentation(str(run / "report.pptx"))
    out: dict[str, list] = {}
    for slide in prs.slides:
        out.setdefault(get_slide_tags(slide).get(SLIDE_TAG), []).append(slide)
    return out


def _shape(slide, kind):
    return next(sh for sh in slide.shapes if get_tags(slide, sh).get(ID_TAG) == kind)


def _html_block(run, block: str) -> str:
    text = (run / "report.html").read_text(encoding="utf-8")
    start = text.index(f'<div class="block" id="b-{block}">')
    return text[start:text.index('<div class="block"', start + 10) if '<div class="block"' in text[start + 10:]
                else len(text)]


def _html_options(run, block: str) -> dict:
    m = re.search(rf'<script type="application/json" id="opt-b-{block}">(.*?)</script>', _html_block(run, block),
                  re.DOTALL)
    return json.loads(m.group(1))


def _bar_values(options: dict) -> list:
    return [d["value"] if isinstance(d, dict) else d for d in options["series"][0]["data"]]


@pytest.mark.slow
def test_every_row_of_both_files_is_accounted(runs):
    info = json.loads((runs["latest"] / "run.json").read_text(encoding="utf-8"))
    acc = info["accounting"]
    lengths = [len(pd.read_csv(f, dtype=str)) for f in runs["files"]]
    assert acc["input_rows"] == sum(lengths) == acc["used"] + acc["quarantined"]
    assert [f["input_rows"] for f in acc["files"]] == lengths
    assert all(f["input_rows"] == f["used"] + f["quarantined"] for f in acc["files"])
    assert acc["used"] == len(runs["clean"])  # the hand cleaning keeps exactly the rows cemkit uses


@pytest.mark.slow
def test_deck_and_html_headlines_are_the_latest_wave(runs, auto_pack):
    d, run = runs["clean"], runs["latest"]
    last = d[d["wave"] == LATEST]
    order = [s for s in auto_pack.stage_ids if s in set(last["stage"])]
    by_stage = last.groupby("stage")["nps"].apply(nps).reindex(order)
    pooled = d.groupby("stage")["nps"].apply(nps).reindex(order)
    assert (by_stage.round() != pooled.round()).any()  # the check can tell the two apart
    deck = _deck(run)

    # journey curve: bars, title, subtitle
    curve = deck["journey_curve"][0]
    values = list(_shape(curve, "chart").chart.plots[0].series[0].values)
    np.testing.assert_allclose(values, by_stage.to_numpy(), atol=1e-9)
    worst = by_stage.idxmin()
    title = _shape(curve, "title").text_frame.text
    if load_all(run)["journey_curve"].facts["worst_clear"]:  # a ranking word only when the chart proves it
        assert title.startswith(f"{auto_pack.stage_name(worst, 'zh')}环节NPS最低（{by_stage.min():.0f}）")
    else:
        assert title.startswith(f"各环节NPS介于{by_stage.min():.0f}与{by_stage.max():.0f}之间"), title
    subtitle = _shape(curve, "subtitle").text_frame.text
    assert subtitle.startswith(f"整体NPS {nps(last['nps']):.0f}；")
    opts = _html_options(run, "journey_curve")
    assert _bar_values(opts) == [round(v) for v in by_stage]
    assert htmlmod.unescape(re.search(r"<h3>(.*?)</h3>", _html_block(run, "journey_curve")).group(1)) == title

    # composition: shares by stage, NPS at the end of each bar
    comp = _shape(deck["nps_composition"][0], "chart").chart
    det = last.groupby("stage")["nps"].apply(lambda s: (s <= 6).mean() * 100).reindex(order)
    pro = last.groupby("stage")["nps"].apply(lambda s: (s >= 9).mean() * 100).reindex(order)
    n = len(order)
    np.testing.assert_allclose(list(comp.plots[0].series[0].values)[:n], det, atol=1e-9)
    np.testing.assert_allclose(list(comp.plots[0].series[2].values)[:n], pro, atol=1e-9)
    assert list(comp.plots[0].series[0].values)[n] == pytest.approx((last["nps"] <= 6).mean() * 100)
    html_det = _bar_values(_html_options(run, "nps_composition"))
    assert html_det[:n] == [round(v) for v in det]

    # wave trend: both waves, each its own
    trend = _shape(deck["wave_trend"][0], "chart").chart
    series = {s.name: list(s.values) for s in trend.plots[0].series}
    per_wave = {w: d[d["wave"] == w].groupby("stage")["nps"].apply(nps).reindex(order) for w in (EARLIER, LATEST)}
    for w, want in per_wave.items():
        np.testing.assert_allclose(series[w], want.to_numpy(), atol=1e-9)

    # league: each ranked dealer's NPS on the latest wave (as the table prints it)
    league = pd.read_parquet(run / "results" / "league.parquet")
    ranked = league[league["rank"].notna()]
    dealer = last.groupby("dealer")["nps"].apply(nps)
    shown = {}
    for slide in deck["league_table"]:
        tb = _shape(slide, "chart").table
        for i in range(1, len(tb.rows)):
            shown[tb.cell(i, 1).text] = tb.cell(i, 2).text
    for unit in ranked["unit"]:
        assert shown[unit] == f"{dealer[unit]:.0f}", unit

    # appendix table: NPS of every stage and overall on the latest wave
    rows = {}
    for slide in deck["journey_table"]:
        tb = _shape(slide, "chart").table
        for i in range(1, len(tb.rows)):
            if tb.cell(i, 1).text in ("净推荐值", "NPS"):
                rows[tb.cell(i, 0).text] = tb.cell(i, 2).text
    for stage in order:
        assert rows[auto_pack.stage_name(stage, "zh")] == f"{by_stage[stage]:.0f}"
    assert rows["整体"] == f"{nps(last['nps']):.0f}"

    # the executive summary repeats the titles; alerts are the latest wave's
    findings = "\n".join(sh.text_frame.text for sh in deck["findings"][0].shapes if sh.has_text_frame)
    assert title in findings
    alerts = pd.read_csv(run / "alerts.csv", dtype=str, encoding="utf-8-sig")
    assert set(alerts["wave"]) == {LATEST}

    # every data slide's footnote names the wave
    for sid, slides in deck.items():
        for slide in slides:
            foot = [sh.text_frame.text for sh in slide.shapes if get_tags(slide, sh).get(ID_TAG) == "footnote"]
            # the method page describes the whole fieldwork (n by wave); the trend shows every wave
            if foot and sid not in ("data_quality", "method", "prediction", "wave_trend"):
                assert f"波次：{LATEST}（对比{EARLIER}）" in foot[0], sid

    # the pooled value appears nowhere: no chart value equals a pooled stage NPS
    for slides in deck.values():
        for slide in slides:
            for sh in slide.shapes:
                if getattr(sh, "has_chart", False) and sh.chart.chart_type is not None:
                    for s in sh.chart.plots[0].series:
                        vals = [v for v in s.values if v is not None]
                        assert not np.isclose(np.asarray(vals)[:, None], pooled.to_numpy()[None, :],
                                              atol=1e-9).any()
    assert f"整体NPS {nps(d['nps']):.0f}；" not in subtitle or round(nps(d["nps"])) == round(nps(last["nps"]))


@pytest.mark.slow
def test_wave_all_reports_the_pooled_value_and_says_so(runs, auto_pack):
    d, run = runs["clean"], runs["all"]
    order = [s for s in auto_pack.stage_ids if s in set(d["stage"])]
    pooled = d.groupby("stage")["nps"].apply(nps).reindex(order)
    deck = _deck(run)
    values = list(_shape(deck["journey_curve"][0], "chart").chart.plots[0].series[0].values)
    np.testing.assert_allclose(values, pooled.to_numpy(), atol=1e-9)
    assert _bar_values(_html_options(run, "journey_curve")) == [round(v) for v in pooled]
    matrix = "priority_matrix" if "priority_matrix" in deck else "priority_bar"
    for sid in ("journey_curve", "nps_composition", "league_chart", matrix, "themes", "alerts"):
        slide = deck[sid][0]
        foot = next(sh.text_frame.text for sh in slide.shapes if get_tags(slide, sh).get(ID_TAG) == "footnote")
        assert "全部2个波次合并（2024Q3–2024Q4）" in foot, sid
        assert "全部2个波次合并" in _html_block(run, sid), sid
    findings = "\n".join(sh.text_frame.text for sh in deck["findings"][0].shapes if sh.has_text_frame)
    assert "本报告的数字为全部2个波次合并" in findings
