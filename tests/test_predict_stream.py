"""The prediction notebook on a large run (issue 20): the detractor-risk model from a DuckDB ``Dataset`` of
responses and the O-data parquet file read batch by batch gives the same model, scores, list and facts as
from both tables in memory; above ``max_train`` labelled customers both fit on the same stratified sample,
and the model fitted on that sample is as good as the one fitted on everyone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_engine_run import _facts_same

from cemkit import predict, views
from cemkit.demo import generate
from cemkit.engine import Dataset
from cemkit.errors import InputError


@pytest.fixture(scope="module")
def files(auto_pack, tmp_path_factory):
    """Demo responses (some anonymous, some customers answering twice in different row groups) and their
    O-data (a few customers without a key), as the run writes them: parquet with small row groups."""
    demo = generate(auto_pack, n=6000, seed=8)
    df = demo.responses.copy()
    df.loc[df.index[5000:5100], "customer_id"] = df["customer_id"].iloc[10:110].to_numpy()
    df["customer_id"] = df["customer_id"].astype(object)
    df.loc[df.sample(50, random_state=2).index, "customer_id"] = None
    od = demo.odata.copy()
    od["customer_id"] = od["customer_id"].astype(object)
    od.loc[od.sample(30, random_state=3).index, "customer_id"] = None
    folder = tmp_path_factory.mktemp("pred")
    df.to_parquet(folder / "responses.parquet", index=False, row_group_size=700)
    od.to_parquet(folder / "odata.parquet", index=False, row_group_size=900)
    return folder, pd.read_parquet(folder / "responses.parquet"), pd.read_parquet(folder / "odata.parquet")


def _same(a: predict.Prediction, b: predict.Prediction) -> None:
    assert not a.refused and not b.refused
    _facts_same(a.facts, b.facts, "facts")
    assert a.notes == b.notes
    for name in ("importance", "top_risk", "lift", "calibration", "contributions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), rtol=0, atol=1e-9, obj=name)


@pytest.mark.parametrize("max_train", [None, 1500])
def test_prediction_from_files_equals_in_memory(files, auto_pack, monkeypatch, max_train):
    folder, resp, od = files
    monkeypatch.setattr(predict, "SCORE_BATCH", 173)  # many scoring batches: the list is merged across them
    a = predict.fit_predict(resp, od, auto_pack, seed=1, max_train=max_train, top_n=400)
    b = predict.fit_predict(Dataset(folder / "responses.parquet"), str(folder / "odata.parquet"), auto_pack,
                            seed=1, max_train=max_train, top_n=400)
    _same(a, b)
    assert a.n_scored == b.n_scored == a.facts["n_scored"] > 1000
    assert len(a.top_risk) == 400 and a.top_risk["risk"].is_monotonic_decreasing
    if max_train:
        assert a.n_labelled == max_train < a.facts["n_respondents"]
        assert any("stratified" in n for n in a.notes)


def test_stratified_sample_keeps_the_detractor_rate_and_the_model_quality(files, auto_pack):
    _, resp, od = files
    full = predict.fit_predict(resp, od, auto_pack, seed=1, max_train=None)
    sample = predict.fit_predict(resp, od, auto_pack, seed=1, max_train=1200)
    n_all = full.facts["n_labelled"]
    assert sample.n_labelled == 1200 and n_all > 2400
    # the sample's detractor rate is the respondents' to within one customer
    assert abs(sample.facts["detractor_rate"] - full.facts["detractor_rate"]) <= 100 / 1200
    # same quality: the cross-validated AUC within sampling error of the full fit's (its standard error at
    # 1,200 customers is ≈ 0.015), and the sample's model ranks the silent customers as the full one does
    assert abs(sample.auc - full.auc) < 0.04, (sample.auc, full.auc)
    both = full.top_risk.merge(sample.top_risk, on="customer_id", suffixes=("_f", "_s"))
    assert len(both) > 0.7 * len(full.top_risk)
    assert np.corrcoef(both["risk_f"], both["risk_s"])[0, 1] > 0.9


def test_prediction_views_from_a_dataset(files, auto_pack, tmp_path):
    folder, resp, od = files
    a = views.prediction_views(resp, auto_pack, "zh", run_dir=tmp_path / "a", odata=od)
    b = views.prediction_views(Dataset(folder / "responses.parquet"), auto_pack, "zh", run_dir=tmp_path / "b",
                               odata=str(folder / "odata.parquet"))
    assert a.keys() == b.keys() == {"prediction", "prediction_lift"}
    for name in a:
        pd.testing.assert_frame_equal(a[name][0], b[name][0], rtol=0, atol=1e-9)
        _facts_same(a[name][1], b[name][1], name)


def test_duplicate_odata_keys_are_refused_alike(files, auto_pack, tmp_path):
    folder, resp, od = files
    dup = pd.concat([od, od.iloc[[40, 7]]], ignore_index=True)
    dup.to_parquet(tmp_path / "odata.parquet", index=False)
    with pytest.raises(InputError) as a:
        predict.fit_predict(resp, dup, auto_pack)
    with pytest.raises(InputError) as b:
        predict.fit_predict(Dataset(folder / "responses.parquet"), str(tmp_path / "odata.parquet"), auto_pack)
    assert str(a.value) == str(b.value) and "2 duplicate" in str(a.value)
