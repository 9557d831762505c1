"""End to end: a second delivery of a tracker (both waves again, the latest now complete) run with
--previous raises alerts only for the responses the first run had not seen. run.json records the run each built on; the deck gets its "since the last report" slide."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pptx import Presentation

from cemkit.cli import main
from cemkit.demo import write_demo
from cemkit.render.tags import SLIDE_TAG, get_slide_tags
from cemkit.results import catalogue


def _run(out, *args) -> tuple[int, object]:
    before = {p.name for p in out.iterdir()} if out.exists() else set()
    code = main(["run", "--pack", "auto", "--out", str(out), "--quiet", *args])
    new = [p for p in out.iterdir() if p.name.startswith("auto-2") and p.name not in before]
    return code, (new[0] if new else None)


@pytest.mark.slow
def test_second_delivery_alerts_only_unseen_responses(auto_pack, tmp_path):
    paths, odata = write_demo(auto_pack, tmp_path / "in", n=3200, seed=8, per_wave=True)
    q3, q4 = paths[2], paths[3]
    full = pd.read_csv(q4, dtype=str, keep_default_na=False)
    early = tmp_path / "in" / "q4_first_half.csv"  # the first delivery: Q4 fieldwork half done
    full[full["date"] < "2024-11-15"].to_csv(early, index=False)
    out = tmp_path / "reports"

    code, run1 = _run(out, "--data", str(q3), "--data", str(early), "--odata", str(odata))
    assert code == 0
    code, run2 = _run(out, "--data", str(q3), "--data", str(q4), "--odata", str(odata), "--previous", str(run1))
    assert code == 0
    seen = set(pd.read_parquet(run1 / "data" / "responses.parquet", columns=["response_id"])["response_id"])
    a1 = pd.read_csv(run1 / "alerts.csv", dtype=str, encoding="utf-8-sig")
    a2 = pd.read_csv(run2 / "alerts.csv", dtype=str, encoding="utf-8-sig")
    assert len(a1) and len(a2)
    assert not set(a2["response_id"]) & seen                 # nothing the first run had seen
    assert set(a2["response_id"]) <= set(full["response_id"]) - set(pd.read_csv(early, dtype=str)["response_id"])
    assert not set(a2["alert_id"]) & set(a1["alert_id"])
    info = json.loads((run2 / "run.json").read_text(encoding="utf-8"))
    assert info["previous"]["run"] == run1.name
    assert json.loads((run1 / "run.json").read_text(encoding="utf-8"))["previous"] is None

    prs = Presentation(str(run2 / "report.pptx"))
    ids = [get_slide_tags(s).get(SLIDE_TAG) for s in prs.slides]
    assert "since_last" in ids and ids.index("since_last") == ids.index("exec_summary") + 1
    since = json.loads((run2 / "results" / "since_last.json").read_text(encoding="utf-8"))
    assert since["facts"]["previous_run"] == run1.name and since["facts"]["n_alerts"] == len(a2)
    assert "since_last" not in [get_slide_tags(s).get(SLIDE_TAG) for s in Presentation(str(run1 / "report.pptx")).slides]
    # the results a run writes only with --previous / a comparison wave: their facts are the catalogue's
    cat = catalogue()
    for name in cat.needs:
        if name == "emerging" and not (run2 / "results" / "emerging.json").exists():
            continue  # needs a large new topic in the comments, not a previous run
        written = set(json.loads((run2 / "results" / f"{name}.json").read_text(encoding="utf-8"))["facts"])
        assert written == cat.facts[name] | (written & cat.sometimes[name]), name


@pytest.mark.slow
def test_closed_alerts_need_a_previous_run(tmp_path, capsys):
    closed = tmp_path / "closed.csv"
    closed.write_text("预警编号\nx\n", encoding="utf-8")
    assert main(["run", "--pack", "auto", "--out", str(tmp_path), "--quiet", "--closed-alerts", str(closed)]) == 2
    assert "--previous" in capsys.readouterr().err
    assert main(["run", "--pack", "auto", "--out", str(tmp_path), "--quiet", "--previous", str(tmp_path)]) == 2
    assert "not a finished cemkit run" in capsys.readouterr().err
