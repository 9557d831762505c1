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
    assert len(r) == 8000
    assert set(r["stage"]) == set(auto_pack.stage_ids)
    assert r["response_id"].is_unique
    assert r["nps"].between(0, 10).all()
    assert r["wave"].nunique() == 2
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
