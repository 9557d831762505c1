"""An engagement: `cemkit init` once, then one `cemkit run` per wave in that folder — the data folder grows by one
export per wave, each run reports the latest wave and builds on the last good run — and `cemkit refresh` of
the deck the consultant edited last time with this time's run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pptx import Presentation
from pptx.util import Emu, Pt

from cemkit.cli import main
from cemkit.demo import write_demo
from cemkit.engagement import last_good_run, load_engagement, write_engagement
from cemkit.errors import InputError
from cemkit.render import charts, tables
from cemkit.render.summary import summary_results
from cemkit.render.tags import ID_TAG, PAGE_TAG, SLIDE_TAG, get_slide_tags, get_tags
from cemkit.results import load_all
from cemkit.storyline import load_storyline


def test_init_writes_a_valid_engagement(tmp_path, capsys):
    assert main(["init", str(tmp_path / "acme"), "--pack", "auto", "--client", "某品牌"]) == 0
    eng = load_engagement(tmp_path / "acme" / "engagement.yaml")
    assert (eng.pack, eng.client, eng.previous, eng.wave, eng.compare) == ("auto", "某品牌", "auto", None, None)
    assert eng.data == (str(tmp_path / "acme" / "data/"),) and (tmp_path / "acme" / "data").is_dir()
    assert eng.out == str(tmp_path / "acme" / "reports")
    assert main(["init", str(tmp_path / "acme"), "--pack", "auto"]) == 2  # never overwritten silently
    assert "already there" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "x"), "--pack", "no_such_pack"]) == 2


def test_init_writes_paths_typed_here_relative_to_the_engagement(tmp_path, monkeypatch):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "dms.csv").write_text("customer_id\n1\n", encoding="utf-8")
    model = tmp_path / "models" / "sentiment_model.json"
    monkeypatch.chdir(tmp_path)
    assert main(["init", "clients/acme", "--pack", "auto", "--odata", "exports/dms.csv", "--waves", "month"]) == 0
    path = tmp_path / "clients" / "acme" / "engagement.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["odata"] == ["../../exports/dms.csv"] and raw["waves"]["from_date"] == "month"
    eng = load_engagement(path)
    assert Path(eng.odata[0]).resolve() == tmp_path / "exports" / "dms.csv"
    assert eng.from_date == "month" and eng.sentiment_model is None
    raw["sentiment_model"] = "../../models/sentiment_model.json"  # after `cemkit learn`, the consultant sets it
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert Path(load_engagement(path).sentiment_model).resolve() == model
    from cemkit.cli import _parser, _run_options

    monkeypatch.chdir(path.parent)
    opts = _run_options(_parser().parse_args(["run"]))
    assert (opts.pack, opts.wave_from_date, Path(opts.sentiment_model).resolve()) == ("auto", "month", model)
    opts = _run_options(_parser().parse_args(["run", "--sentiment-model", "none"]))
    assert opts.sentiment_model == "none"  # the command line overrides the file


def test_engagement_mistakes_name_file_line_and_key(tmp_path):
    path = tmp_path / "engagement.yaml"
    path.write_text("pack: auto\nlang: fr\nwaves: {report: latest, from_date: week}\nalerts: {window: 30}\n"
                    "colour: red\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_engagement(path)
    text = str(err.value)
    assert "engagement.yaml:2 [lang]" in text and "waves.from_date" in text and "[alerts.window]" in text
    assert "engagement.yaml:5 [colour]: unknown key" in text
    assert "did you mean 'window_days'" in text  # checked by the schema, as the pack files are
    path.write_text("pack: auto\ndata: 3\nalerts: {window_days: -1}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_engagement(path)
    assert "engagement.yaml:2 [data]: must be a path or a list of paths" in str(err.value)
    assert "engagement.yaml:3 [alerts.window_days]" in str(err.value)


def test_last_good_run_skips_failed_and_staging(tmp_path):
    for name in ("auto-20240101-000000", "auto-20240301-000000", ".failed-auto-20240401-000000",
                 ".staging-auto-20240501-000000-1", "retail-20240601-000000"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text("{}", encoding="utf-8")
    (tmp_path / "auto-20240501-000000").mkdir()  # no run.json: not finished
    assert last_good_run(tmp_path, "auto").name == "auto-20240301-000000"
    assert last_good_run(tmp_path / "none", "auto") is None


def test_run_without_pack_or_engagement_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--quiet"]) == 2
    assert "cemkit init" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tracker(auto_pack, tmp_path_factory):
    """An engagement run once per wave: Q1 and Q2 arrive together, then Q3, then Q4 (one `cemkit run` each)."""
    tmp = tmp_path_factory.mktemp("tracker")
    paths, odata = write_demo(auto_pack, tmp / "exports", n=6000, seed=12, per_wave=True)
    folder = tmp / "acme"
    write_engagement(folder, "auto", client="某品牌", odata=[str(odata)])
    runs = []
    old = Path.cwd()
    os.chdir(folder)
    try:
        for i, wave_file in enumerate(paths[1:], start=1):
            if i == 1:
                shutil.copy(paths[0], folder / "data")
            shutil.copy(wave_file, folder / "data")
            assert main(["run", "--quiet"]) == 0
            runs.append(last_good_run(folder / "reports", "auto"))
    finally:
        os.chdir(old)
    return {"folder": folder, "runs": runs, "tmp": tmp}


@pytest.mark.slow
def test_three_waves_one_command_each(tracker):
    folder, runs = tracker["folder"], tracker["runs"]
    infos = [json.loads((r / "run.json").read_text(encoding="utf-8")) for r in runs]
    assert [i["wave"]["report"] for i in infos] == ["2024Q2", "2024Q3", "2024Q4"]
    assert infos[0]["previous"] is None
    assert [i["previous"]["run"] for i in infos[1:]] == [runs[0].name, runs[1].name]
    assert [len(i["accounting"]["files"]) for i in infos] == [2, 3, 4]
    seen = set(pd.read_parquet(runs[1] / "data" / "seen_responses.parquet")["response_id"])
    last = pd.read_csv(runs[2] / "alerts.csv", dtype=str, encoding="utf-8-sig")
    assert not set(last["response_id"]) & seen
    assert yaml.safe_load((folder / "engagement.yaml").read_text(encoding="utf-8"))["previous"] == "auto"
    # four waves by the last run: the trend is a line per stage, the stage its title names drawn in the accent
    trend = load_all(runs[2])["wave_trend"]
    slide = next(s for s in Presentation(str(runs[2] / "report.pptx")).slides
                 if get_slide_tags(s)[SLIDE_TAG] == "wave_trend")
    chart = next(sh for sh in slide.shapes if get_tags(slide, sh).get(ID_TAG) == "chart").chart
    thick = [s.name for s in chart.plots[0].series if s.format.line.width == Pt(2.75)]
    title = next(sh.text_frame.text for sh in slide.shapes if get_tags(slide, sh).get(ID_TAG) == "title")
    if trend.facts["change_significant"]:
        assert thick == [trend.facts["change_stage"]] and trend.facts["change_stage"] in title
    else:  # no significant change: no stage named, none drawn in the accent
        assert thick == [] and trend.facts["change_stage"] not in title


@pytest.mark.slow
def test_exports_without_a_wave_column_take_the_engagement_wave_rule(auto_pack, tmp_path, monkeypatch):
    """The README's routine with exports that carry no wave column: `cemkit init --waves quarter`, then one
    `cemkit run` reports the last quarter against the one before, its NPS checked with plain pandas."""
    paths, odata = write_demo(auto_pack, tmp_path / "exports", n=3000, seed=5, per_wave=True)
    assert main(["init", str(tmp_path / "acme"), "--pack", "auto", "--odata", str(odata), "--waves", "quarter"]) == 0
    frames = []
    for p in paths[2:]:  # 2024Q3 and 2024Q4, each as the client sends it: no wave column
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        frames.append(df)
        df.drop(columns="wave").to_csv(tmp_path / "acme" / "data" / p.name, index=False)
    monkeypatch.chdir(tmp_path / "acme")
    assert main(["run", "--quiet"]) == 0
    run = last_good_run(tmp_path / "acme" / "reports", "auto")
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert (info["wave"]["report"], info["wave"]["compare"]) == ("2024Q4", "2024Q3")
    raw = pd.concat(frames, ignore_index=True)
    score = pd.to_numeric(raw["nps"].str.replace("分", "").str.normalize("NFKC"), errors="coerce")
    clean = raw.assign(nps=score)[score.between(0, 10) & raw["stage"].isin(auto_pack.stage_ids)]
    clean = clean.sort_values("date", kind="stable").drop_duplicates("response_id", keep="last")
    last = clean[pd.to_datetime(clean["date"], errors="coerce").dt.quarter.eq(4)]["nps"]
    want = ((last >= 9).mean() - (last <= 6).mean()) * 100
    assert load_all(run)["journey_curve"].facts["overall"] == pytest.approx(want)


def test_engagement_wave_rule_fills_mappings_without_one(tmp_path):
    from cemkit.pipeline import _with_wave_rule

    own = tmp_path / "m.yaml"
    own.write_text("columns: {序号: response_id}\nwave: {from_date: month}\n", encoding="utf-8")
    none = tmp_path / "n.yaml"
    none.write_text("columns: {序号: response_id}\n", encoding="utf-8")
    out = [yaml.safe_load(Path(p).read_text(encoding="utf-8"))
           for p in _with_wave_rule([str(own), str(none)], "quarter", tmp_path)]
    assert out[0]["wave"] == {"from_date": "month"}        # the mapping's own rule wins
    assert out[1]["wave"] == {"from_date": "quarter"} and out[1]["columns"] == {"序号": "response_id"}
    (only,) = _with_wave_rule([], "half", tmp_path)        # no mapping at all: one with the rule
    assert yaml.safe_load(Path(only).read_text(encoding="utf-8")) == {"wave": {"from_date": "half"}}


def _delete(prs, slide) -> None:
    lst = prs.slides._sldIdLst
    entry = next(i for i in lst if prs.slides.get(int(i.get("id"))) is slide)
    prs.part.drop_rel(entry.rId)
    lst.remove(entry)


@pytest.mark.slow
def test_refresh_brings_every_chart_and_table_to_the_new_run(auto_pack, tracker, tmp_path, capsys):
    """The 2024Q3 deck, edited by the consultant (a moved chart, a rewritten title, a deleted slide), refreshed
    with the 2024Q4 run: every remaining chart and table holds the new run's values, the edits stay, and
    what could not be refreshed is listed."""
    run_a, run_b = tracker["runs"][1], tracker["runs"][2]

    prs = Presentation(str(run_a / "report.pptx"))
    by_id = {}
    for s in prs.slides:
        by_id.setdefault(get_slide_tags(s)[SLIDE_TAG], []).append(s)
    curve = by_id["journey_curve"][0]
    chart = next(sh for sh in curve.shapes if get_tags(curve, sh).get(ID_TAG) == "chart")
    chart.left, chart.width = chart.left + Emu(600000), chart.width - Emu(600000)
    moved = (chart.left, chart.top, chart.width, chart.height)
    edited = "priority_matrix" if "priority_matrix" in by_id else "priority_bar"  # the matrix needs 5+ attributes
    title = next(sh for sh in by_id[edited][0].shapes if get_tags(by_id[edited][0], sh).get(ID_TAG) == "title")
    title.text_frame.paragraphs[0].runs[0].text = "优先改进：按重要性与表现排序（项目组改写）"
    _delete(prs, by_id["distinctive_words"][0])
    prs.save(str(tmp_path / "edited.pptx"))

    out = tmp_path / "2024Q4.pptx"
    assert main(["refresh", str(tmp_path / "edited.pptx"), "--run", str(run_b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "refreshed:" in printed and (tmp_path / "2024Q4.pptx.refresh.txt").exists()

    new = Presentation(str(out))
    results = load_all(run_b)
    results.update(summary_results(results))  # the executive summary's decisions are built at render time
    specs = {s.id: s for s in load_storyline(auto_pack)}
    checked = {"chart": 0, "table": 0}
    for slide in new.slides:
        stags = get_slide_tags(slide)
        sid = stags[SLIDE_TAG]
        assert sid != "distinctive_words"
        spec = specs[sid]
        for sh in slide.shapes:
            kind = get_tags(slide, sh).get(ID_TAG) or ""
            if kind != "chart" and not kind.startswith("chart@"):  # chart@2: a table's right half
                continue
            df = charts.prepare_table(results[spec.result].table, spec.chart)
            if getattr(sh, "has_chart", False) and spec.chart.type != "scatter":
                _, data = charts.chart_data(df, spec.chart, "zh")
                for got, want in zip(sh.chart.plots[0].series, data):
                    np.testing.assert_allclose([np.nan if v is None else v for v in got.values],
                                               [np.nan if v is None else v for v in want.values], equal_nan=True)
                checked["chart"] += 1
            elif getattr(sh, "has_table", False) and spec.chart.type == "table":
                page, pages, *parts = (int(x) for x in stags[PAGE_TAG].split("/"))
                parts, part = (parts or [1])[0], int(kind.split("@")[1]) if "@" in kind else 1
                size, k = -(-len(df) // (pages * parts)), (page - 1) * parts + part - 1
                _, _, body = tables.table_cells(df.iloc[k * size: (k + 1) * size], spec.chart, "zh")
                cells = [[sh.table.cell(i, j).text for j in range(len(sh.table.columns))]
                         for i in range(1, len(sh.table.rows))]
                assert cells == body, sid
                checked["table"] += 1
    assert checked["chart"] >= 6 and checked["table"] >= 4
    curve = next(s for s in new.slides if get_slide_tags(s)[SLIDE_TAG] == "journey_curve")
    chart = next(sh for sh in curve.shapes if get_tags(curve, sh).get(ID_TAG) == "chart")
    assert (chart.left, chart.top, chart.width, chart.height) == moved
    pm = next(s for s in new.slides if get_slide_tags(s)[SLIDE_TAG] == edited)
    assert pm.shapes.title.text_frame.text == "优先改进：按重要性与表现排序（项目组改写）"
    def titles(deck) -> dict:
        return {(get_slide_tags(s)[SLIDE_TAG], get_slide_tags(s)[PAGE_TAG]): s.shapes.title.text_frame.text
                for s in deck.slides if s.shapes.title is not None}

    fresh = titles(Presentation(str(run_b / "report.pptx")))
    for key, text in titles(new).items():  # every title nobody edited reads as in the new run's own deck
        if key[0] != edited:
            assert text == fresh[key], key
