"""cemkit.engine: DuckDB aggregates over parquet give the same numbers as the in-memory path (to 1e-9), and
a hand-computed NPS; the correlation matrix for the driver models, counts and the O-data join likewise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cemkit import metrics as M
from cemkit import views
from cemkit.demo import generate
from cemkit.drivers.correlation import _weighted_corr
from cemkit.engine import THRESHOLD, Dataset, choose, counts, join_odata, weighted_corr
from cemkit.errors import DataError

NUM = ["value", "ci_low", "ci_high", "se", "n_eff"]


@pytest.fixture(scope="module")
def data(auto_pack, tmp_path_factory):
    """Demo responses with weights, a few missing waves and segment values, split over three parquet files."""
    demo = generate(auto_pack, n=6000, seed=3)
    df = demo.responses.copy()
    rng = np.random.default_rng(7)
    df["weight"] = rng.uniform(0.3, 2.5, len(df)).round(3)
    df.loc[df.sample(40, random_state=1).index, "wave"] = None
    df.loc[df.sample(60, random_state=2).index, "region"] = None
    folder = tmp_path_factory.mktemp("ds")
    for i, start in enumerate(range(0, len(df), 2000)):
        df.iloc[start:start + 2000].to_parquet(folder / f"part-{i}.parquet", index=False)
    demo.odata.to_parquet(folder.parent / "odata.parquet", index=False)
    return df, Dataset(folder), folder.parent / "odata.parquet", demo.odata


def close(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> None:
    """Same rows in the same order, same keys and flags, numbers equal to 1e-9."""
    assert len(a) == len(b) and len(a) > 0
    for k in keys:
        assert (a[k].astype(str).to_numpy() == b[k].astype(str).to_numpy()).all(), k
    for c in a.columns:
        if c in keys:
            continue
        if pd.api.types.is_numeric_dtype(a[c]) and not pd.api.types.is_bool_dtype(a[c]):
            x, y = a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float)
            assert np.array_equal(np.isnan(x), np.isnan(y)), c
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-9, equal_nan=True, err_msg=c)
        else:
            assert (a[c].astype(str).to_numpy() == b[c].astype(str).to_numpy()).all(), c


def test_journey_table_same_as_in_memory(data, auto_pack):
    df, ds, _, _ = data
    segs = ["region", "customer_type", "channel"]
    a = M.journey_table(df, auto_pack, by=segs)
    b = M.journey_table(ds, auto_pack, by=segs)
    close(a, b, ["metric", "stat", "stage", "segment", "segment_value", "wave", "flag"])
    assert set(a["wave"].astype(str)) >= {"__all__"} and (a["segment_value"] != "__all__").any()


def test_unweighted_and_no_waves(data, auto_pack):
    df, ds, _, _ = data
    a = M.journey_table(df, auto_pack, by="dealer", waves=False, weights=None)
    b = M.journey_table(ds, auto_pack, by="dealer", waves=False, weights=None)
    close(a, b, ["metric", "stat", "stage", "segment", "segment_value", "wave", "flag"])


def test_tests_league_composition_same_as_in_memory(data, auto_pack):
    df, ds, _, _ = data
    keys = ["metric", "stat", "stage", "segment", "segment_value", "wave"]
    close(M.segment_vs_rest(df, auto_pack, "region", wave="last"),
          M.segment_vs_rest(ds, auto_pack, "region", wave="last"), keys)
    close(M.league_table(df, auto_pack, "dealer", wave="last"),
          M.league_table(ds, auto_pack, "dealer", wave="last"), ["unit"])
    close(M.nps_composition(df, auto_pack, wave="last"), M.nps_composition(ds, auto_pack, wave="last"), ["unit"])
    table_a, table_b = M.journey_table(df, auto_pack), M.journey_table(ds, auto_pack)
    waves = ds.wave_labels()[-2:]
    close(M.wave_change(table_a, auto_pack, waves=waves), M.wave_change(table_b, auto_pack, waves=waves),
          ["metric", "stat", "stage", "segment", "segment_value"])


def test_hand_computed_nps(tmp_path, auto_pack):
    """Scores 10, 9, 8, 6, 0 (40 times each, above the low-base rule) at one stage: 2 promoters, 2 detractors
    of 5 → NPS 0; with weights 3, 1, 1, 1, 1: promoters 4/7, detractors 2/7 → NPS 200/7."""
    stage = auto_pack.stages[0].id
    df = pd.DataFrame({"response_id": [f"r{i}" for i in range(200)], "stage": stage, "wave": "W1",
                       "nps": [10.0, 9, 8, 6, 0] * 40, "weight": [3.0, 1, 1, 1, 1] * 40})
    df.to_parquet(tmp_path / "r.parquet")
    ds = Dataset(tmp_path / "r.parquet")
    t = M.journey_table(ds, auto_pack, weights=None)
    cell = t[(t["metric"] == "nps") & (t["stat"] == "nps") & (t["stage"] == stage) & (t["wave"] == "W1")]
    assert cell["value"].iloc[0] == pytest.approx(0.0, abs=1e-12) and cell["n"].iloc[0] == 200
    t = M.journey_table(ds, auto_pack)
    cell = t[(t["metric"] == "nps") & (t["stat"] == "nps") & (t["stage"] == stage) & (t["wave"] == "W1")]
    assert cell["value"].iloc[0] == pytest.approx(200 / 7, abs=1e-9)


def test_bad_scores_and_unknown_stage(tmp_path, auto_pack):
    stage = auto_pack.stages[0].id
    df = pd.DataFrame({"stage": [stage, "nowhere"], "wave": "W1", "nps": [11.0, 5.0]})
    df.to_parquet(tmp_path / "bad.parquet")
    with pytest.warns(UserWarning, match="nowhere"), pytest.raises(DataError, match="outside its scale"):
        M.journey_table(Dataset(tmp_path / "bad.parquet"), auto_pack)
    with pytest.raises(DataError, match="outside its scale"), pytest.warns(UserWarning, match="nowhere"):
        M.journey_table(df, auto_pack)


def test_weighted_corr_same_as_in_memory(data, auto_pack):
    df, ds, _, _ = data
    stage = next(s for s in auto_pack.stages if len(s.drivers) >= 3)
    cols = [*stage.drivers[:4], "nps"]
    sub = df[df["stage"] == stage.id]
    Z = sub[cols].to_numpy(dtype=float, copy=True)
    Z[::7, 0] = np.nan  # pairwise-complete: some missing answers
    sub = sub.assign(**{cols[0]: Z[:, 0]})
    path = ds.path.rsplit("/**", 1)[0] + "_corr.parquet"
    sub.to_parquet(path)
    rows = ~np.isnan(Z[:, -1])
    expect = _weighted_corr(Z[rows], sub["weight"].to_numpy(dtype=float)[rows][None])[0]
    got = weighted_corr(Dataset(path), cols, weights="weight", condition='"nps" IS NOT NULL')
    np.testing.assert_allclose(got, expect, atol=1e-9, rtol=0)
    assert np.allclose(np.diag(got), 1)


def test_counts_and_odata_join(data, tmp_path):
    df, ds, opath, odata = data
    got = counts(ds, ["stage", "wave"])
    expect = df.groupby(["stage", "wave"], dropna=False).size().rename("n").reset_index()
    expect = expect.sort_values(["stage", "wave"], na_position="last").reset_index(drop=True)
    assert got["n"].tolist() == expect["n"].tolist() and got["stage"].tolist() == expect["stage"].tolist()
    feat = [c for c in odata.columns if c != "customer_id"][:2]
    joined = join_odata(ds, opath, tmp_path / "j.parquet", columns=feat)
    got = pd.read_parquet(joined.path).sort_values("response_id").reset_index(drop=True)
    expect = df.merge(odata[["customer_id", *feat]], on="customer_id", how="left")
    expect = expect.sort_values("response_id").reset_index(drop=True)
    assert len(got) == len(df)
    for c in feat:
        pd.testing.assert_series_equal(got[c], expect[c], check_dtype=False)


def test_journey_views_same_through_duckdb(data, auto_pack):
    """The journey notebook's results (tables and meta: facts, bases, waves) are the same from a Dataset."""
    df, ds, _, _ = data
    a = views.journey_views(df, auto_pack, "zh")
    b = views.journey_views(ds, auto_pack, "zh")
    assert set(a) == set(b) and {"journey_curve", "league", "journey_table", "wave_trend"} <= set(a)
    for name in a:
        pd.testing.assert_frame_equal(a[name][0], b[name][0], check_exact=False, rtol=0, atol=1e-9, obj=name)
        assert a[name][1].keys() == b[name][1].keys()
        for key in a[name][1]:
            if key == "facts":
                continue
            assert a[name][1][key] == pytest.approx(b[name][1][key], abs=1e-9) if key in ("base", "reference") \
                else a[name][1][key] == b[name][1][key], (name, key)
        fa, fb = a[name][1].get("facts", {}), b[name][1].get("facts", {})
        assert fa.keys() == fb.keys()
        for k in fa:
            if isinstance(fa[k], float):
                assert fa[k] == pytest.approx(fb[k], abs=1e-9), (name, k)
            else:
                assert fa[k] == fb[k], (name, k)


def test_read_responses_engine(tmp_path):
    (tmp_path / "data").mkdir()
    pd.DataFrame({"stage": ["a"] * 3, "nps": [1.0, 2, 3]}).to_parquet(tmp_path / "data" / "responses.parquet")
    assert isinstance(views.read_responses(tmp_path, engine="duckdb"), Dataset)
    assert isinstance(views.read_responses(tmp_path, engine="auto"), pd.DataFrame)  # 3 rows: below THRESHOLD
    assert choose("auto", THRESHOLD) == "duckdb" and choose("pandas", 10**9) == "pandas"
    with pytest.raises(ValueError, match="engine must be"):
        choose("spark", 1)


def test_driver_views_same_through_duckdb(data, auto_pack):
    """Drivers read only the reporting wave's model columns from a Dataset: the same results."""
    df, ds, _, _ = data
    a = views.driver_views(df, auto_pack, "zh", bootstrap=20)
    b = views.driver_views(ds, auto_pack, "zh", bootstrap=20)
    assert set(a) == set(b) and "stage_drivers" in a
    for name in a:
        pd.testing.assert_frame_equal(a[name][0].reset_index(drop=True), b[name][0].reset_index(drop=True),
                                      check_exact=False, rtol=0, atol=1e-9, obj=name)
        assert a[name][1]["base"] == pytest.approx(b[name][1]["base"], abs=1e-9)


@pytest.mark.slow
def test_prediction_views_same_through_duckdb(data, auto_pack, tmp_path):
    """The detractor-risk model from a Dataset (the O-data in memory here; from its file in
    test_predict_stream): the same results; the footnote's Kish base from DuckDB's sums, to 1e-9."""
    df, ds, _, odata = data
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = views.prediction_views(df, auto_pack, "zh", tmp_path / "a", odata=odata)
    b = views.prediction_views(ds, auto_pack, "zh", tmp_path / "b", odata=odata)
    assert set(a) == set(b) == {"prediction", "prediction_lift"}
    for name in a:
        pd.testing.assert_frame_equal(a[name][0], b[name][0], check_exact=False, rtol=0, atol=1e-9, obj=name)
    assert a["prediction"][1]["base"] == pytest.approx(b["prediction"][1]["base"], abs=1e-9)
    assert a["prediction"][1]["facts"] == b["prediction"][1]["facts"]


@pytest.mark.slow
def test_text_views_need_only_the_text_columns(data, auto_pack, tmp_path):
    """The text notebook reads only views.text_columns: every text result is the same as from the whole table."""
    df = data[0].reset_index(drop=True)
    _same_text(tmp_path, auto_pack, (df,), (df[[c for c in views.text_columns(auto_pack) if c in df]],))


def _same_text(tmp_path, pack, args_a: tuple, args_b: tuple, **kw_b) -> dict:
    """text_views of two inputs: the same results, facts and theme tags."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = views.text_views(*args_a, pack, "zh", run_dir=tmp_path / "a")
    b = views.text_views(*args_b, pack, "zh", run_dir=tmp_path / "b", **kw_b)
    assert set(a) == set(b) and "themes" in a and "theme_impact" in a
    for name in a:
        pd.testing.assert_frame_equal(a[name][0], b[name][0], obj=name)
        assert a[name][1] == b[name][1], name
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "data" / "theme_tags.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "data" / "theme_tags.parquet"))
    return a


@pytest.mark.slow
def test_text_views_from_a_dataset_read_only_the_two_waves(data, auto_pack, tmp_path):
    """A large run's text notebook reads only the reporting and comparison waves' rows (views.wave_rows, batch
    by batch, positions in the files as index): every text result and the theme tags are the same as from the
    whole table in memory."""
    _, ds, _, _ = data
    cols = views.text_columns(auto_pack)
    files = sorted((p for p in Path(ds.path.split("**")[0]).glob("*.parquet")), key=str)
    full = pd.concat([pd.read_parquet(f, columns=cols) for f in files], ignore_index=True)  # as the run reads it
    w = views.reporting_waves(full)
    rows = views.wave_rows(ds, views.reporting_waves(ds), cols)
    assert set(rows["wave"]) == {w.report, w.compare} and rows.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(rows, views.wave_rows(full, w, cols))
    assert "theme_changes" in _same_text(tmp_path, auto_pack, (full,), (ds,), rows=rows)


@pytest.mark.parametrize("section", ["journey", "drivers"])
def test_journey_and_driver_views_need_only_their_columns(data, auto_pack, section):
    """The journey and drivers notebooks read only views.journey_columns / views.driver_columns (weighted data
    with missing waves and segment values): every result and its meta are the same as from the whole table."""
    df = data[0].reset_index(drop=True)
    columns, make = {"journey": (views.journey_columns, views.journey_views),
                     "drivers": (views.driver_columns, lambda d, p, lang: views.driver_views(d, p, lang, bootstrap=20))
                     }[section]
    few = df[[c for c in columns(auto_pack) if c in df]]
    assert few.shape[1] < df.shape[1] - 5
    a, b = make(df, auto_pack, "zh"), make(few, auto_pack, "zh")
    assert set(a) == set(b) and len(a) >= 3
    for name in a:
        pd.testing.assert_frame_equal(a[name][0], b[name][0], obj=name)
        assert a[name][1] == b[name][1], name


def test_where_one_of_several_values(data):
    """Dataset.where with a list: the rows whose column is one of the values, in SQL and in the batch reader."""
    df, ds, _, _ = data
    stages = sorted(df["stage"].dropna().unique())[:2]
    sub = ds.where("stage", stages)
    assert len(sub) == int(df["stage"].isin(stages).sum()) > 0
    got = sub.to_pandas(["response_id", "stage"])
    pd.testing.assert_frame_equal(got, df.loc[df["stage"].isin(stages), ["response_id", "stage"]].reset_index(drop=True))
    assert len(ds.where("stage", [])) == 0


def test_customer_scores_same_through_duckdb(data, auto_pack):
    """The stage-importance input (one row per customer: mean CSAT per stage, mean NPS) from one SQL aggregate
    is pivot_table's: same customers, same order, same values — customers with no CSAT at a known stage and
    rows without a stage or customer left out as pandas leaves them out."""
    df, ds, _, _ = data
    w = views.reporting_waves(df)
    a = views.customer_scores(views.driver_rows(df, auto_pack, w), auto_pack)
    b = views.customer_scores(views.driver_rows(ds, auto_pack, views.reporting_waves(ds)), auto_pack)
    stages = [s for s in auto_pack.stage_ids if s in a]
    assert len(a) > 100 and len(stages) >= 2
    pd.testing.assert_frame_equal(a[[*stages, "__nps"]].rename_axis(columns=None), b[[*stages, "__nps"]],
                                  check_exact=False, rtol=0, atol=1e-12)


@pytest.mark.parametrize("large", [True, False])
def test_driver_models_read_one_stage_at_a_time(data, auto_pack, monkeypatch, large):
    """A large run's driver models (the notebook's cells: driver_rows, driver_models, driver_views) read one
    stage's rows and model columns at a time, never the wave's model columns at once — and give the same
    models, m-out-of-n bootstrap included (BOOTSTRAP_ROWS below a stage's rows here), the same tables, facts
    and bases as the rows in memory. A wave within ``engine.PARTS_CELLS`` is read once and split: the same."""
    from cemkit import engine
    from cemkit.views import drivers as vd

    monkeypatch.setattr(vd, "BOOTSTRAP_ROWS", 150)
    if large:
        monkeypatch.setattr(engine, "PARTS_CELLS", 0)
    df, ds, _, _ = data
    reads = []
    real = Dataset.to_pandas

    def spy(self, columns=None, **kw):
        out = real(self, columns, **kw)
        reads.append((dict(self.filters), list(out.columns), len(out)))
        return out

    monkeypatch.setattr(Dataset, "to_pandas", spy)
    res = {}
    for name, data_ in (("memory", df), ("duckdb", ds)):
        w = views.reporting_waves(data_)
        cur = views.driver_rows(data_, auto_pack, w)
        models, skipped = views.driver_models(cur, auto_pack, bootstrap=20, seed=1)
        res[name] = (models, views.driver_views(data_, auto_pack, "zh", bootstrap=20, seed=1,
                                                models=(models, skipped), rows=cur))
    wave_rows = int((df["wave"] == views.reporting_waves(df).report).sum())
    if large:
        assert reads and all(f.get("stage") in auto_pack.stage_ids and n < wave_rows / 2 for f, _, n in reads)
        for f, cols, _ in reads:
            drivers = auto_pack.stage(f["stage"]).drivers
            assert set(cols) <= {"stage", "nps", "weight", *drivers}, cols
    else:  # the model columns of the wave, once
        assert [(set(f), n) for f, _, n in reads] == [({"wave"}, wave_rows)]
    (ma, a), (mb, b) = res["memory"], res["duckdb"]
    assert ma.keys() == mb.keys() and any("sqrt(m/n)" in " ".join(m.attrs["notes"]) for m in ma.values())
    for s in ma:
        pd.testing.assert_frame_equal(ma[s], mb[s], check_exact=False, rtol=0, atol=1e-9, obj=s)
    assert set(a) == set(b) == {"stage_drivers", "priority_matrix", "stage_importance"}
    for name in a:
        pd.testing.assert_frame_equal(a[name][0], b[name][0], check_exact=False, rtol=0, atol=1e-9, obj=name)
        assert a[name][1]["base"] == pytest.approx(b[name][1]["base"], abs=1e-9)
        assert a[name][1]["facts"] == b[name][1]["facts"], name


def test_a_files_columns_and_waves_are_asked_once_while_it_is_unchanged(tmp_path, monkeypatch):
    """The notebooks ask ``"x" in df`` and for the waves many times: DuckDB is asked once per file, and again
    when the file changes (another run's file at the same path gives its own columns and waves)."""
    from cemkit import engine

    path = tmp_path / "r.parquet"
    pd.DataFrame({"wave": ["2025H2", "2025H1", None], "a": [1, 2, 3]}).to_parquet(path)
    calls = []
    real = engine.connect
    monkeypatch.setattr(engine, "connect", lambda *a, **k: calls.append(1) or real(*a, **k))
    ds = Dataset(path)
    for _ in range(3):
        assert ds.columns == ["wave", "a"] and "a" in ds and "b" not in ds
        assert ds.wave_labels() == ["2025H1", "2025H2"]
    assert len(calls) == 2  # one DESCRIBE, one DISTINCT
    pd.DataFrame({"wave": ["2026H1"], "b": [1.5]}).to_parquet(path)  # rewritten: asked again
    assert ds.columns == ["wave", "b"] and ds.wave_labels() == ["2026H1"]
    assert ds.where("wave", "2026H1").wave_labels() == ["2026H1"]


@pytest.mark.parametrize("cells", [0, 10**9])
def test_parts_are_the_rows_each_value_reads(data, monkeypatch, cells):
    """``Dataset.parts``: for each value, the frame ``where(column, value).to_pandas(columns)`` gives — the same
    rows, order, columns and types — whether the whole is read once and split or each value read alone; a
    value without rows gives an empty frame of its columns."""
    from cemkit import engine

    _, ds, _, _ = data
    wave = ds.where("wave", views.reporting_waves(ds).report)
    want = {"delivery": ["nps", "weight", "dealer"], "showroom": ["stage", "nps"], "nowhere": ["nps", "dealer"]}
    expected = {v: wave.where("stage", v).to_pandas(cols) for v, cols in want.items()}
    monkeypatch.setattr(engine, "PARTS_CELLS", cells)
    got = dict(wave.parts("stage", want))
    assert list(got) == list(want) and len(got["nowhere"]) == 0 and len(got["delivery"]) > 0
    for v, frame_ in expected.items():
        pd.testing.assert_frame_equal(got[v], frame_, check_exact=True, obj=v)
