"""The "since the last report" slide, built from hand-made results of a run and of the run before it: every
sentence and the title say what the numbers are (the largest significant change by name and points, alerts
held back only when some were), and no run-folder id reaches the client."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cemkit.results import save
from cemkit.storyline import load_storyline, pick_text
from cemkit.views.since import since_last_views


def _runs(tmp_path, changes: list[tuple[str, float, bool]], alerts: dict):
    prev = tmp_path / "auto-20241001-090000"
    (prev / "data").mkdir(parents=True)
    (prev / "run.json").write_text(json.dumps({"wave": {"report": "2024Q3"}}), encoding="utf-8")
    pd.DataFrame({"response_id": ["a", "b"]}).to_parquet(prev / "data" / "responses.parquet")
    save(prev, "journey_curve", pd.DataFrame({"stage": ["x"]}),
         {"facts": {"overall": 14.6, "wave": "2024Q3", "wave_id": "2024Q3"}})
    run = tmp_path / "auto-20250105-090000"
    save(run, "journey_curve", pd.DataFrame({"stage": ["x"]}),
         {"facts": {"overall": 9.4, "overall_n": 1200, "wave": "2024Q4", "wave_id": "2024Q4",
                    "compare_wave": "2024Q3", "waves": ["2024Q3", "2024Q4"]}})
    save(run, "wave_changes", pd.DataFrame({
        "metric": ["nps"] * (len(changes) + 1), "stage": [c[0] for c in changes] + ["__all__"],
        "stage_name": [c[0] for c in changes] + ["整体"], "diff": [c[1] for c in changes] + [-5.2],
        "significant": [c[2] for c in changes] + [True]}))
    save(run, "alerts_summary", pd.DataFrame({"x": [1]}), {"facts": alerts})
    save(run, "discovery", pd.DataFrame({"candidate": ["candidate_1", "candidate_2"], "size": [41, 12],
                                         "top_words": ["充电桩 装不上 报装 安装 流程 物业", "车机 卡顿"]}))
    return run, prev


def _title(auto_pack, facts, lang="zh"):
    spec = next(s for s in load_storyline(auto_pack) if s.id == "since_last")
    return pick_text(spec.title, facts, lang)


def test_two_stages_moved_the_largest_named(auto_pack, tmp_path):
    # 试驾 -20 is not significant; of the significant ones 交车提车 (-12.6) moved more than 销售 (+5.4)
    run, prev = _runs(tmp_path, [("销售", 5.4, True), ("交车提车", -12.6, True), ("试驾", -20.0, False)],
                      {"n_alerts": 1234, "n_seen": 0, "n_repeat": 8})
    table, meta = since_last_views(run, auto_pack, "zh", prev)["since_last"]
    lines = table["finding"].tolist()
    assert lines[0] == "上次报告：2024Q3整体NPS 15；本次：2024Q4整体NPS 9"
    assert lines[1] == "较2024Q3显著变化的环节：交车提车 -13分、销售 +5分"
    assert lines[2] == "评论中出现2个词典未覆盖的候选话题，最大一个的关键词：充电桩、装不上、报装、安装、流程"
    assert lines[3] == "本次新增预警1,234条（8条并入该客户仍未关闭的预警）"  # no "0 responses already seen"
    assert not any("auto-2024" in line for line in lines)  # the run ids stay in run.json
    f = meta["facts"]
    assert (f["n_moved"], f["moved_stage"], f["moved"]) == (2, "交车提车", pytest.approx(-12.6))
    assert f["previous_run"] == prev.name
    facts = {**f, "has_compare": True}
    assert _title(auto_pack, facts) == "自上次报告以来：2个环节显著变化，交车提车NPS下降13分变化最大；新增1,234条预警"
    assert _title(auto_pack, facts, "en") == ("Since the last report: 2 stages changed significantly, most of all "
                                              "交车提车 NPS (down 13 pts); 1,234 new alerts")


def test_one_stage_moved_and_none_moved(auto_pack, tmp_path):
    run, prev = _runs(tmp_path / "one", [("交车提车", -21.7, True), ("销售", 3.0, False)],
                      {"n_alerts": 596, "n_seen": 40, "n_repeat": 0})
    table, meta = since_last_views(run, auto_pack, "zh", prev)["since_last"]
    assert table["finding"].tolist()[3] == "本次新增预警596条（40份答卷上次报告已包含，不再预警）"
    facts = {**meta["facts"], "has_compare": True}
    assert _title(auto_pack, facts) == "自上次报告以来：仅交车提车NPS显著变化（下降22分），新增596条预警"
    run, prev = _runs(tmp_path / "none", [("销售", 3.0, False)], {"n_alerts": 5, "n_seen": 0, "n_repeat": 0})
    table, meta = since_last_views(run, auto_pack, "zh", prev)["since_last"]
    assert table["finding"].tolist()[1] == "各环节NPS较2024Q3均无显著变化"
    assert table["finding"].tolist()[3] == "本次新增预警5条"
    assert (meta["facts"]["n_moved"], meta["facts"]["moved_stage"], meta["facts"]["moved"]) == (0, None, None)
    assert _title(auto_pack, {**meta["facts"], "has_compare": True}) == "自上次报告以来：各环节无显著变化，新增5条预警"
