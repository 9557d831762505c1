"""The actions notebook on a large run (issue 20): alerts, work orders, playbooks and decisions computed from a
DuckDB ``Dataset`` read batch by batch — only the reporting wave's rows that raise alerts are held — equal
those of the in-memory table: with theme tags, weights, anonymous responses, customers whose responses lie
in different batches, and a previous run whose responses are not alerted again."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_engine_run import _facts_same

from cemkit import engine, text, views
from cemkit.demo import generate
from cemkit.engine import Dataset

NOW = "2025-01-20 09:00:00"


@pytest.fixture(scope="module")
def responses(auto_pack, tmp_path_factory):
    """Demo responses as the run's parquet file (row groups of 500 rows), weighted, some anonymous, and
    customers who answered twice far apart in the file."""
    df = generate(auto_pack, n=5000, seed=11).responses
    rng = np.random.default_rng(3)
    df["weight"] = rng.uniform(0.4, 2.0, len(df)).round(3)
    df.loc[df.index[4000:4150], "customer_id"] = df["customer_id"].iloc[100:250].to_numpy()
    df["customer_id"] = df["customer_id"].astype(object)
    df.loc[df.sample(80, random_state=4).index, "customer_id"] = None
    path = tmp_path_factory.mktemp("run") / "data" / "responses.parquet"
    path.parent.mkdir()
    df.to_parquet(path, index=False, row_group_size=500)
    full = pd.read_parquet(path)  # what the notebook reads in memory
    w = views.reporting_waves(full)
    tags = text.tag_themes(full["comment"][w.mask(full, with_compare=True)], auto_pack)
    return path, full, tags


def _csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)


def _both(path, full, tags, pack, tmp_path, monkeypatch, **kw):
    monkeypatch.setattr(engine, "BATCH_ROWS", 97)  # many batches: an alert's customer spans several
    a = views.action_views(full, pack, "zh", run_dir=tmp_path / "mem", tags=tags, now=NOW, **kw)
    b = views.action_views(Dataset(path), pack, "zh", run_dir=tmp_path / "ds", tags=tags, now=NOW, **kw)
    return a, b


def _same_outputs(a, b, tmp_path) -> None:
    assert a.keys() == b.keys() == {"alerts_summary", "playbooks"}
    for name in a:
        pd.testing.assert_frame_equal(a[name][0], b[name][0])
        _facts_same(a[name][1], b[name][1], name)  # Kish's base: sums in another order, equal to 1e-9
    for f in ("alerts.csv", "playbooks.csv"):
        x, y = _csv(tmp_path / "mem" / f), _csv(tmp_path / "ds" / f)
        assert len(x) > 100
        pd.testing.assert_frame_equal(x, y)
    for f in ("seen_responses", "alerts_issued"):
        x = pd.read_parquet(tmp_path / "mem" / "data" / f"{f}.parquet")
        y = pd.read_parquet(tmp_path / "ds" / "data" / f"{f}.parquet")
        assert x.astype(str).equals(y.astype(str)), f


def test_actions_from_batches_equal_the_in_memory_path(responses, auto_pack, tmp_path, monkeypatch):
    path, full, tags = responses
    a, b = _both(path, full, tags, auto_pack, tmp_path, monkeypatch)
    _same_outputs(a, b, tmp_path)
    alerts = _csv(tmp_path / "ds" / "alerts.csv")
    # the test means something: critical-theme alerts, several responses of one customer merged, anonymous ones
    assert alerts["rules"].str.contains("critical_theme_negative").any()
    assert (alerts["customer_id"] == "").any()
    assert a["alerts_summary"][1]["base"]["n_eff"] < a["alerts_summary"][1]["base"]["n"]


def test_actions_from_batches_with_a_previous_run(responses, auto_pack, tmp_path, monkeypatch):
    path, full, tags = responses
    prev = tmp_path / "prev"
    early = full.iloc[:3000]
    views.action_views(early, auto_pack, "zh", run_dir=prev, now=NOW)
    (prev / "run.json").write_text(json.dumps({"pack": "auto", "wave": {"report": "2024Q4"}}), encoding="utf-8")
    a, b = _both(path, full, tags, auto_pack, tmp_path, monkeypatch, previous=prev)
    _same_outputs(a, b, tmp_path)
    assert b["alerts_summary"][1]["facts"]["n_seen"] > 0 and b["alerts_summary"][1]["facts"]["n_repeat"] > 0


@pytest.mark.parametrize("large", [True, False])
def test_decisions_read_only_the_reporting_wave(responses, auto_pack, monkeypatch, large):
    """The decisions from a Dataset read one stage of the reporting wave at a time, with only that stage's
    model columns (the what-if regressions need rows): the same table and facts as in memory. A wave within
    ``engine.PARTS_CELLS`` is read once, its stages' model columns, and split: the same again."""
    from cemkit import engine

    if large:
        monkeypatch.setattr(engine, "PARTS_CELLS", 0)
    path, full, _ = responses
    a = views.decision_views(full, auto_pack, "zh")
    reads, real = [], Dataset.to_pandas

    def spy(self, columns=None, **kw):
        out = real(self, columns, **kw)
        reads.append((dict(self.filters), list(out.columns), len(out)))
        return out

    monkeypatch.setattr(Dataset, "to_pandas", spy)
    b = views.decision_views(Dataset(path), auto_pack, "zh")
    report = views.reporting_waves(full).report
    if large:
        assert {f["stage"] for f, _, _ in reads} == {s.id for s in auto_pack.stages if s.drivers}
        for f, cols, n in reads:
            assert f["wave"] == report and n < (full["wave"] == report).sum() / 2
            assert set(cols) <= {"nps", "weight", "dealer", *auto_pack.stage(f["stage"]).drivers}, cols
    else:
        assert [(f, n) for f, _, n in reads] == [({"wave": report}, (full["wave"] == report).sum())]
        assert set(reads[0][1]) <= {"stage", "nps", "weight", "dealer", *auto_pack.attributes}
    assert a.keys() == b.keys() == {"decisions"}
    pd.testing.assert_frame_equal(a["decisions"][0], b["decisions"][0], rtol=0, atol=1e-9)
    _facts_same(a["decisions"][1], b["decisions"][1], "decisions")


def test_dataset_batches_keep_file_positions_and_skip_row_groups(tmp_path):
    df = pd.DataFrame({"wave": ["A"] * 10 + ["B"] * 10 + ["A"] * 5, "x": np.arange(25.0)})
    df.to_parquet(tmp_path / "t.parquet", index=False, row_group_size=10)
    got = list(Dataset(tmp_path / "t.parquet").where("wave", "A").batches(["x"], size=4))
    assert [list(g.index) for g in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [20, 21, 22, 23], [24]]
    assert list(pd.concat(got)["x"]) == [*range(10), *range(20, 25)] and list(got[0].columns) == ["x"]
    none = list(Dataset(tmp_path / "t.parquet").where("wave", "C").batches(["x", "wave"]))
    assert len(none) == 1 and none[0].empty and list(none[0].columns) == ["x", "wave"]
    assert none[0]["x"].dtype == float
    # to_pandas: one pass, file order, positions as index; any_of keeps the rows of either value
    both = Dataset(tmp_path / "t.parquet").to_pandas(["x"], positions=True, any_of=("wave", ["B", "A"]))
    assert list(both.index) == list(range(25)) and list(both["x"]) == list(range(25))
    only_b = Dataset(tmp_path / "t.parquet").to_pandas(["x", "wave"], positions=True, any_of=("wave", ["B", "C"]))
    assert list(only_b.index) == list(range(10, 20)) and set(only_b["wave"]) == {"B"}
    assert Dataset(tmp_path / "t.parquet").to_pandas(["x"], any_of=("wave", ["C"])).empty
