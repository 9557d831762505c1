"""A tracker's second delivery: alerts only for responses the previous run had not seen, one work order per
customer within the alert window, the client's closed-alerts file tells which earlier alerts are still open."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cemkit import tracking as tr
from cemkit import views
from cemkit.errors import InputError

NOW = "2025-01-20 09:00:00"


@pytest.fixture(scope="module")
def deliveries(auto_pack):
    """Delivery 1: waves Q1–Q3 and the first half of Q4 (fieldwork still running); delivery 2: all of it."""
    from cemkit.demo import generate

    df = generate(auto_pack, n=8000, seed=5).responses
    early = (df["wave"] != "2024Q4") | (df["date"] < pd.Timestamp("2024-11-15"))
    return df[early].reset_index(drop=True), df


def _run(run_dir, df, pack, **kw):
    run_dir.mkdir(parents=True, exist_ok=True)
    out = views.action_views(df, pack, "zh", run_dir=run_dir, now=NOW, **kw)
    (run_dir / "data").mkdir(exist_ok=True)
    df[["response_id"]].to_parquet(run_dir / "data" / "responses.parquet")
    (run_dir / "run.json").write_text(json.dumps({"pack": "auto", "wave": {"report": "2024Q4"}}), encoding="utf-8")
    return out


def _alerts(run_dir) -> pd.DataFrame:
    return pd.read_csv(run_dir / "alerts.csv", dtype=str, encoding="utf-8-sig")


def test_second_delivery_alerts_only_unseen_responses(deliveries, auto_pack, tmp_path):
    first, second = deliveries
    _run(tmp_path / "r1", first, auto_pack)
    out = _run(tmp_path / "r2", second, auto_pack, previous=tmp_path / "r1")
    a1, a2 = _alerts(tmp_path / "r1"), _alerts(tmp_path / "r2")
    assert len(a1) and len(a2)
    unseen = set(second.loc[second["wave"] == "2024Q4", "response_id"]) - set(first["response_id"])
    assert set(a2["response_id"]) <= unseen                     # nothing the first run had seen
    assert not set(a2["alert_id"]) & set(a1["alert_id"])         # no work order issued twice
    # what a run without --previous would raise on the unseen responses = issued + repeats
    fresh = _run(tmp_path / "r2_fresh", second[second["response_id"].isin(unseen)], auto_pack)
    repeat = pd.read_csv(tmp_path / "r2" / "alerts_repeat.csv", dtype=str, encoding="utf-8-sig")
    assert len(a2) + len(repeat) == fresh["alerts_summary"][1]["facts"]["n_alerts"]
    # a repeat: the same work order (customer, stage, wave) still open, or another open alert of the customer
    # from within the window; the row names it
    issued1 = a1.set_index("alert_id")
    kinds = set()
    for _, r in repeat.iterrows():
        prior = issued1.loc[r["open_alert_id"]]
        assert prior["customer_id"] == r["customer_id"]
        gap = abs(pd.Timestamp(r["created"]) - pd.Timestamp(prior["created"]))
        assert r["open_alert_id"] == r["alert_id"] or gap <= pd.Timedelta(days=30)
        kinds.add("same" if r["open_alert_id"] == r["alert_id"] else "window")
    assert kinds == {"same", "window"}
    facts = out["alerts_summary"][1]["facts"]
    q4_seen = int(((second["wave"] == "2024Q4") & second["response_id"].isin(first["response_id"])).sum())
    assert (facts["n_seen"], facts["n_repeat"], facts["has_previous"]) == (q4_seen, len(repeat), True)
    # the log every later run builds on
    issued = pd.read_parquet(tmp_path / "r2" / "data" / "alerts_issued.parquet")
    assert set(issued["alert_id"]) == set(a1["alert_id"]) | set(a2["alert_id"])
    seen = pd.read_parquet(tmp_path / "r2" / "data" / "seen_responses.parquet")
    assert set(seen["response_id"]) == set(second["response_id"])


def test_closed_alerts_file_tells_what_is_still_open(deliveries, auto_pack, tmp_path):
    first, second = deliveries
    _run(tmp_path / "r1", first, auto_pack)
    a1 = _alerts(tmp_path / "r1")
    closed = a1.iloc[::2]
    returned = pd.DataFrame({"预警编号": a1["alert_id"], "责任部门": a1["owner"],
                             "处理状态": ["已关闭" if i % 2 == 0 else "处理中" for i in range(len(a1))]})
    path = tmp_path / "closed.xlsx"
    returned.to_excel(path, index=False)
    out = _run(tmp_path / "r2", second, auto_pack, previous=tmp_path / "r1", closed_alerts=path)
    facts = out["alerts_summary"][1]["facts"]
    assert facts["n_prev_alerts"] == len(a1) and facts["n_closed"] == len(closed)
    still = pd.read_csv(tmp_path / "r2" / "alerts_open.csv", dtype=str, encoding="utf-8-sig")
    assert set(still["alert_id"]) == set(a1["alert_id"]) - set(closed["alert_id"])
    due = pd.to_datetime(a1.set_index("alert_id").loc[still["alert_id"], "due"])
    assert facts["n_overdue"] == int((due < pd.Timestamp(NOW)).sum()) == facts["n_open"]  # all due long ago
    # a customer whose alert was closed gets a new work order for a new complaint: no repeat against it
    repeat = pd.read_csv(tmp_path / "r2" / "alerts_repeat.csv", dtype=str, encoding="utf-8-sig")
    assert not set(repeat["open_alert_id"]) & set(closed["alert_id"])


def test_closed_file_without_ids_is_refused(tmp_path):
    bad = tmp_path / "closed.csv"
    bad.write_text("编号说明,状态\nx,已关闭\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column of alert ids"):
        tr.closed_alert_ids(bad)
    plain = tmp_path / "ids.csv"
    plain.write_text("Alert ID\n2024Q4-delivery-C1\n\n2024Q4-delivery-C2\n", encoding="utf-8")
    ids, info = tr.closed_alert_ids(plain)
    assert ids == {"2024Q4-delivery-C1", "2024Q4-delivery-C2"} and info["status_column"] is None


def test_previous_must_be_a_run(tmp_path):
    with pytest.raises(InputError, match="not a finished cemkit run"):
        tr.load_previous(tmp_path)


def test_anonymous_alerts_are_never_merged():
    issued = pd.DataFrame({"alert_id": ["a"], "customer_id": [pd.NA], "response_id": ["R1"],
                           "created": [pd.Timestamp("2024-11-01")]})
    new = pd.DataFrame({"alert_id": ["b"], "customer_id": [pd.NA], "response_id": ["R2"],
                        "created": [pd.Timestamp("2024-11-02")]})
    issue, repeat = tr.dedupe_alerts(new, issued, None, 30)
    assert list(issue["alert_id"]) == ["b"] and repeat.empty
