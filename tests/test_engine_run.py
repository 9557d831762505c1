"""`cemkit run --engine duckdb` reaches the notebooks (issue 20): the data check streams the CSV in batches
(``cemkit.ingest.stream``), the journey, driver and prediction notebooks read the clean responses through
DuckDB (a ``cemkit.engine.Dataset``), and everything the run writes is the same as with ``--engine pandas``
— the clean table, the quarantine and the accounting, every result to 1e-9, title facts and footnote meta
too."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from cemkit.pipeline import RunOptions, run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for engine in ("pandas", "duckdb"):
        folder = tmp_path_factory.mktemp(engine)
        out[engine] = run(RunOptions(pack="auto", demo_n=3000, seed=5, out=str(folder), quiet=True,
                                     engine=engine), log=lambda _m: None).run_dir
    return out


def _printed(run_dir, name: str) -> str:
    nb = nbformat.read(run_dir / "notebooks" / f"{name}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _same(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b), name
    for c in a.columns:
        x, y = a[c], b[c]
        assert x.dtype == y.dtype, f"{name}.{c}"
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            np.testing.assert_allclose(x.astype("Float64").to_numpy(dtype=float, na_value=np.nan),
                                       y.astype("Float64").to_numpy(dtype=float, na_value=np.nan), rtol=0,
                                       atol=1e-9, equal_nan=True, err_msg=f"{name}.{c}")
        else:
            assert x.isna().equals(y.isna()), f"{name}.{c}"
            assert (x[x.notna()].astype(str).to_numpy() == y[y.notna()].astype(str).to_numpy()).all(), f"{name}.{c}"


def _facts_same(a, b, where: str) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-9, nan_ok=True), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _facts_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _facts_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.slow
def test_engine_duckdb_reaches_the_notebooks_with_the_same_results(runs):
    pandas_run, duckdb_run = runs["pandas"], runs["duckdb"]
    assert "(Dataset)" in _printed(duckdb_run, "02_journey")  # the journey notebook says what it read
    assert "(DataFrame)" in _printed(pandas_run, "02_journey")
    for nb in ("02_journey", "03_drivers", "05_actions", "06_predict"):
        src = nbformat.read(duckdb_run / "notebooks" / f"{nb}.ipynb", as_version=4)
        injected = [c.source for c in src.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and 'engine = "duckdb"' in injected[0], nb
    acc_p = json.loads((pandas_run / "run.json").read_text(encoding="utf-8"))["accounting"]
    acc_d = json.loads((duckdb_run / "run.json").read_text(encoding="utf-8"))["accounting"]
    assert "ingest" not in acc_p and acc_d.pop("ingest").startswith("streamed in batches")
    assert "odata_ingest" not in acc_p and acc_d.pop("odata_ingest").startswith("streamed in batches")
    assert acc_p["by_reason"].get("duplicate_id")  # the demo plants repeated response ids
    _facts_same(acc_p, acc_d, "accounting")
    for table in ("responses", "quarantine", "odata"):
        _same(pd.read_parquet(pandas_run / "data" / f"{table}.parquet"),
              pd.read_parquet(duckdb_run / "data" / f"{table}.parquet"), table)
    for listing in ("alerts.csv", "playbooks.csv"):  # the actions notebook read the Dataset batch by batch
        _same(pd.read_csv(pandas_run / listing, dtype=str, encoding="utf-8-sig"),
              pd.read_csv(duckdb_run / listing, dtype=str, encoding="utf-8-sig"), listing)
    names = sorted(p.stem for p in (pandas_run / "results").glob("*.parquet"))
    assert names == sorted(p.stem for p in (duckdb_run / "results").glob("*.parquet"))
    assert {"journey_table", "wave_changes", "league", "stage_drivers", "prediction"} <= set(names)
    for name in names:
        _same(pd.read_parquet(pandas_run / "results" / f"{name}.parquet"),
              pd.read_parquet(duckdb_run / "results" / f"{name}.parquet"), name)
        ma = json.loads((pandas_run / "results" / f"{name}.json").read_text(encoding="utf-8"))
        mb = json.loads((duckdb_run / "results" / f"{name}.json").read_text(encoding="utf-8"))
        _facts_same(ma, mb, name)
