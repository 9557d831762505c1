"""The synthetic demo generator: deterministic, complete, and carrying its planted truths."""

from __future__ import annotations

import pandas as pd

from cemkit.demo import generate


def test_same_seed_same_data(auto_pack):
    a, b = generate(auto_pack, n=500, seed=7), generate(auto_pack, n=500, seed=7)
    pd.testing.assert_frame_equal(a.responses, b.responses)
    pd.testing.assert_frame_equal(a.odata, b.odata)
    c = generate(auto_pack, n=500, seed=8)
    assert not a.responses["nps"].equals(c.responses["nps"])


def test_demo_covers_every_stage_and_contract(demo_auto, auto_pack):
    r = demo_auto.responses
    assert len(r) == 12000
    assert set(r["stage"]) == set(auto_pack.stage_ids)
    assert r["response_id"].is_unique
    assert r["nps"].between(0, 10).all()
    assert r["wave"].nunique() == 4  # a quarterly tracker
    assert r["wave"].value_counts().min() > 2800  # about 3,000 responses per wave
    for seg in auto_pack.segment_ids:
        assert r[seg].notna().all()
    # attributes are asked only at their stage
    for stage in auto_pack.stages:
        at = r[r["stage"] == stage.id]
        for a in stage.drivers:
            assert at[a].notna().all()
    assert r.loc[r["stage"] == "showroom", "service_wait"].isna().all()
    assert demo_auto.truths["synthetic"] is True


def test_planted_worst_stage_is_worst(demo_auto):
    r = demo_auto.responses
    nps = r.groupby("stage")["nps"].apply(lambda s: ((s >= 9).mean() - (s <= 6).mean()) * 100)
    assert nps.idxmin() == demo_auto.truths["worst_stage"]


def test_odata_covers_respondents_and_non_respondents(demo_auto):
    od = demo_auto.odata
    assert set(demo_auto.responses["customer_id"]) <= set(od["customer_id"])
    assert (~od["responded"]).sum() > od["responded"].sum()


def test_messy_demo_export_is_fully_accounted(auto_pack, tmp_path):
    """The demo CSV carries planted bad rows; ingest quarantines exactly those, with their reasons."""
    from cemkit.demo import write_demo
    from cemkit.ingest import prepare

    rpath, opath = write_demo(auto_pack, tmp_path, n=5000, seed=3)
    acc = prepare(rpath, auto_pack, odata_paths=[opath]).accounting
    from cemkit.demo import MESSY

    planted = {reason: round(5000 * rate) for reason, rate in MESSY.items()}
    assert acc["input_rows"] == 5000 + planted["duplicate_id"]
    assert acc["input_rows"] == acc["used"] + acc["quarantined"]
    assert acc["by_reason"] == {k: v for k, v in planted.items() if v}
    assert acc["used"] == 5000 - sum(v for k, v in planted.items() if k != "duplicate_id")


def test_planted_step_holds_from_its_wave_on(auto_pack):
    """A wave's ``shift`` is a step: the waves before it have the same level, and the change is between the
    planted wave and the one before it (large demo so the levels are precise)."""
    d = generate(auto_pack, n=40000)
    (stage, shift), = d.truths["wave_change"].items()
    assert d.truths["changed_wave"] == "2024Q4" and shift < 0
    r = d.responses[d.responses["stage"] == stage]
    nps = r.groupby("wave")["nps"].apply(lambda s: ((s >= 9).mean() - (s <= 6).mean()) * 100)
    before = nps.drop("2024Q4")
    assert before.max() - before.min() < 8  # no step before the planted wave (sampling noise only)
    assert nps["2024Q4"] < before.min() - 10


def test_demo_per_wave_files_hold_every_row_once(auto_pack, tmp_path):
    from cemkit.demo import write_demo

    one, _ = write_demo(auto_pack, tmp_path / "one", n=3000, seed=5)
    paths, odata = write_demo(auto_pack, tmp_path / "split", n=3000, seed=5, per_wave=True)
    assert [p.name for p in paths] == [f"auto_demo_responses_2024Q{i}.csv" for i in range(1, 5)]
    whole = pd.read_csv(one, dtype=str)
    parts = [pd.read_csv(p, dtype=str) for p in paths]
    assert all(part["wave"].nunique() == 1 for part in parts)
    joined = pd.concat(parts).sort_values(["response_id", "date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(joined, whole.sort_values(["response_id", "date"]).reset_index(drop=True))
    assert odata.exists()
