"""Streaming ingest (issue 20): a CSV read in batches gives the same clean table, quarantine (true rows and
lines) and accounting as the whole-file ingest — on the hostile exports (ragged lines, quoted line breaks,
blank lines, title rows, BOM, CRLF, personal data in every column), and on demo data with repeated response
ids across batches, straightliners, a weight column and kept contacts; files it does not take are read
whole and say why."""

from __future__ import annotations

import json

import hostile_data as hd
import numpy as np
import pandas as pd
import pytest

from cemkit.demo import write_demo
from cemkit.ingest import prepare, read_table
from cemkit.ingest.batches import NotStreamed, bad_rows, open_batches
from cemkit.ingest.mapping import load_mapping, mapping_for
from cemkit.ingest.stream import prepare_streamed

#: hostile UTF-8 exports (hostile_data.random_spec): ragged lines, line breaks in cells, blank lines,
#: title rows, BOM and CRLF between them
SEEDS = [1, 3, 13, 17, 23, 27, 35, 38]


def same_frame(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    assert len(a) == len(b), what
    for c in a.columns:
        x, y = a[c], b[c]
        assert x.dtype == y.dtype, f"{what}.{c}"
        assert x.isna().equals(y.isna()), f"{what}.{c}"
        if pd.api.types.is_float_dtype(x):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=1e-9, equal_nan=True,
                                       err_msg=f"{what}.{c}")
        else:
            assert x[x.notna()].astype(str).tolist() == y[y.notna()].astype(str).tolist(), f"{what}.{c}"


def same_json(a, b, where: str = "accounting") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, set(a) ^ set(b))
        for k in a:
            same_json(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-9, nan_ok=True), where
    else:
        assert a == b, where


def both(path, pack, tmp_path, batch_rows: int, mapping=None):
    whole = prepare(path, pack, mapping=mapping, out_dir=tmp_path / "whole")
    mp = mapping_for(load_mapping(mapping, pack), path, pack)
    streamed = prepare_streamed(path, pack, mp, tmp_path / "streamed", {}, batch_rows=batch_rows)
    return whole, streamed


def check_same(whole, streamed, tmp_path) -> None:
    same_frame(pd.read_parquet(tmp_path / "whole" / "responses.parquet"),
               pd.read_parquet(tmp_path / "streamed" / "responses.parquet"), "responses")
    same_frame(whole.quarantine, streamed.quarantine, "quarantine")
    same_frame(pd.read_parquet(tmp_path / "whole" / "quarantine.parquet"),
               pd.read_parquet(tmp_path / "streamed" / "quarantine.parquet"), "quarantine.parquet")
    from cemkit.ingest.gate import mask_strings
    from cemkit.results import json_safe

    acc = mask_strings(json_safe(streamed.accounting))
    assert acc.pop("ingest").startswith("streamed in batches")
    same_json(whole.accounting, acc)
    assert acc["input_rows"] == acc["used"] + acc["quarantined"]


@pytest.mark.parametrize("seed", SEEDS)
def test_batches_read_like_the_whole_file(seed, tmp_path):
    """Frames, spreadsheet rows, editor lines and ragged records, batch by batch, as read_table reads them."""
    ex = hd.write_export(hd.random_spec(seed), tmp_path)
    ref = read_table(ex.path)
    for size in (3, 50):
        br = open_batches(ex.path)
        parts = list(br.batches(size))
        assert len(parts) > 1 or size == 50
        df = pd.concat([p.frame for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(df, ref.reset_index(drop=True))
        np.testing.assert_array_equal(np.concatenate([p.rows for p in parts]), ref.attrs["rows"])
        np.testing.assert_array_equal(np.concatenate([p.lines for p in parts]), ref.attrs["lines"])
        assert bad_rows(br) == [{k: b.get(k) for k in ("row", "line", "text", "fields", "expected")}
                                for b in ref.attrs["bad_rows"]]
        assert [p.start for p in parts] == list(np.cumsum([0] + [len(p.frame) for p in parts[:-1]]))


@pytest.mark.parametrize("seed", SEEDS)
def test_streamed_ingest_equals_whole_file_on_hostile_exports(seed, tmp_path, auto_pack):
    ex = hd.write_export(hd.random_spec(seed), tmp_path / "in")
    whole, streamed = both(ex.path, auto_pack, tmp_path, batch_rows=7)
    check_same(whole, streamed, tmp_path)
    # the export's truth: every record accounted, ragged ones with their own row and line
    q = streamed.quarantine
    assert streamed.accounting["input_rows"] == ex.records
    ragged = q[q["reason"] == "malformed_row"]
    assert set(ragged["row"].astype(int)) == ex.malformed_rows
    used = pd.read_parquet(tmp_path / "streamed" / "responses.parquet", columns=["response_id", "source_row"])
    assert len(used) + len(q) == ex.records
    # every used row names the row a spreadsheet shows for it, after ragged records and line breaks too
    known = used[used["response_id"].isin(list(ex.row_of_id))]
    assert len(known) > len(used) // 2
    assert known["source_row"].tolist() == [ex.row_of_id[r] for r in known["response_id"]]
    # nothing personal in what the streamed ingest wrote
    assert not hd.scan_outputs(tmp_path / "streamed", ex.secrets)


@pytest.mark.parametrize("last_ragged", [True, False])
def test_a_blank_line_before_a_last_ragged_record_is_a_row(last_ragged, tmp_path, auto_pack):
    """Blank lines at the end of a file are no rows, but a blank line with a ragged record after it is one
    (the fuzz run found it dropped: 29 rows accounted of 30). Whole-file and streamed ingest agree."""
    spec = hd.ExportSpec(seed=5095, n=30, ragged=[29] if last_ragged else [], blank_after=[27, 28])
    ex = hd.write_export(spec, tmp_path / "in")
    with open(ex.path, "a", encoding="utf-8") as fh:
        fh.write("\n\n")  # blank lines at the very end: never rows
    whole, streamed = both(ex.path, auto_pack, tmp_path, batch_rows=7)
    check_same(whole, streamed, tmp_path)
    for run in (whole, streamed):
        assert run.accounting["input_rows"] == ex.records == 32
        q = run.quarantine
        assert sorted(q.loc[q["reason"] == "empty_row", "row"].astype(int)) == [30, 32]
        assert set(q.loc[q["reason"] == "malformed_row", "row"].astype(int)) == ex.malformed_rows


@pytest.fixture
def demo_csv(auto_pack, tmp_path):
    """Demo responses (planted bad rows and repeated ids) with more repeats spread over the file: a later
    row with an earlier date, a row without a date, a straightliner copy, a copy whose comment holds a phone
    number; and a weight column."""
    rpath, _ = write_demo(auto_pack, tmp_path / "in", n=1500, seed=4)
    df = pd.read_csv(rpath, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(1)
    copies = []
    for k, src in enumerate(rng.choice(len(df) // 2, 12, replace=False)):
        row = df.iloc[src].copy()
        row["date"] = ["2020-01-01", "", row["date"], "2030-06-30"][k % 4]
        if k % 3 == 0:
            row["comment"] = "电话13912345678，请回电"
        if k % 5 == 0:
            for a in auto_pack.attributes:
                if row[a] != "":
                    row[a] = "5"
        copies.append(row)
    out = pd.concat([df, pd.DataFrame(copies)], ignore_index=True)
    out["weight"] = np.round(rng.uniform(0.4, 2.2, len(out)), 3).astype(str)
    out.to_csv(rpath, index=False)
    return rpath


def test_streamed_ingest_equals_whole_file_with_repeated_ids_and_weights(demo_csv, tmp_path, auto_pack):
    mapping = {"columns": {}, "weights": {"column": "weight"}}
    whole, streamed = both(demo_csv, auto_pack, tmp_path, batch_rows=97, mapping=mapping)
    check_same(whole, streamed, tmp_path)
    acc = streamed.accounting
    assert acc["by_reason"]["duplicate_id"] >= 12 and acc["weighting"]["method"] == "column"
    dup = streamed.quarantine[streamed.quarantine["reason"] == "duplicate_id"]
    assert dup["raw"].str.contains("139****5678", regex=False).any() and not dup["raw"].str.contains("13912345678").any()
    w = pd.read_parquet(tmp_path / "streamed" / "responses.parquet", columns=["weight"])["weight"]
    assert w.mean() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("even", [True, False])
def test_streamed_speeder_check_equals_whole_file(even, demo_csv, tmp_path, auto_pack):
    """A time-taken column: the batches run without the speeder check and it is made at the end, on the
    median of every duration of the rows no earlier rule quarantined (an even and an odd count of them) —
    used rows under the threshold dropped (a repeated id's copies among them: not kept, nor counted as
    copies), straightliners under it quarantined as speeders instead. The same tables and accounting as in
    memory, at 97 rows a batch."""
    df = pd.read_csv(demo_csv, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(11)
    secs = rng.integers(60, 900, len(df)).astype(object)
    fast = rng.random(len(df)) < 0.03
    secs[fast] = rng.integers(1, 40, int(fast.sum()))
    df["所用时间"] = [f"{s}秒" for s in secs]
    df.loc[rng.random(len(df)) < 0.01, "所用时间"] = "很久"  # unreadable: no duration
    repeated = df["response_id"].duplicated(keep=False).to_numpy()
    df.loc[np.flatnonzero(repeated)[::3], "所用时间"] = "5秒"  # some copies of repeated ids are speeders
    attrs = list(auto_pack.attributes)
    straight = df.index[(df[attrs] != "").sum(axis=1) >= 5][:40]
    for a in attrs:  # straightliners, some of them fast
        df.loc[straight, a] = df.loc[straight, a].where(df.loc[straight, a] == "", "4")
    df.loc[straight[::2], "所用时间"] = "3秒"
    mapping = {"columns": {}, "weights": {"column": "weight"}, "quality": {"straightliners": "quarantine"}}
    df.to_csv(demo_csv, index=False)
    n = prepare(demo_csv, auto_pack, mapping=mapping).accounting["quality"]["speeders"]["durations"]
    if n % 2 != (0 if even else 1):  # one more duration unreadable: the median of the other parity
        df.loc[df.index[-1], "所用时间"] = "很久"
        df.to_csv(demo_csv, index=False)
    whole, streamed = both(demo_csv, auto_pack, tmp_path, batch_rows=97, mapping=mapping)
    check_same(whole, streamed, tmp_path)
    acc = streamed.accounting
    assert acc["by_reason"]["speeder"] > 20 and acc["by_reason"]["straightliner"] > 5
    assert acc["by_reason"]["duplicate_id"] >= 1
    sp = acc["quality"]["speeders"]
    assert sp["check"] == "on" and sp["durations"] % 2 == (0 if even else 1)
    assert acc["quality"]["rules"]["speeder_median_share"] > 0
    q = streamed.quarantine
    assert q.loc[q["reason"] == "speeder", "detail"].str.startswith("answered in").all()


def test_streamed_ingest_through_prepare_and_its_dataset(demo_csv, tmp_path, auto_pack):
    """prepare(engine="duckdb") streams; the responses come back as a Dataset of the written file."""
    from cemkit.engine import Dataset

    prep = prepare(demo_csv, auto_pack, out_dir=tmp_path / "d", engine="duckdb")
    assert isinstance(prep.responses, Dataset) and len(prep.responses) == prep.accounting["used"]
    saved = json.loads((tmp_path / "d" / "accounting.json").read_text(encoding="utf-8"))
    assert saved["ingest"].startswith("streamed in batches")
    same = prepare(demo_csv, auto_pack, out_dir=tmp_path / "p", engine="pandas")
    assert "ingest" not in same.accounting and same.accounting["used"] == saved["used"]


def test_files_the_stream_does_not_take_are_read_whole(tmp_path, auto_pack):
    """A UTF-16 export, and dates whose day/month order only a later batch tells: read whole, and said so."""
    spec = next(s for s in map(hd.random_spec, range(40)) if s.fmt == "csv" and s.encoding == "utf-8")
    ex = hd.write_export(spec, tmp_path / "u16")
    ex.path.write_bytes(ex.path.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(NotStreamed, match="UTF-16"):
        open_batches(ex.path)
    prep = prepare(ex.path, auto_pack, out_dir=tmp_path / "g", engine="duckdb")
    assert prep.accounting["ingest"].startswith("read whole: ") and isinstance(prep.responses, pd.DataFrame)

    rpath, _ = write_demo(auto_pack, tmp_path / "in", n=400, seed=2)
    df = pd.read_csv(rpath, dtype=str, keep_default_na=False)
    df["date"] = ["3/5/2024"] * (len(df) - 1) + ["13/5/2024"]  # day first: only the last row tells
    df.to_csv(rpath, index=False)
    mp = mapping_for(load_mapping(None, auto_pack), rpath, auto_pack)
    with pytest.raises(NotStreamed, match="day/month order"):
        prepare_streamed(rpath, auto_pack, mp, tmp_path / "s", {}, batch_rows=50)
    assert not (tmp_path / "s" / ".batches").exists()  # nothing left behind


def test_odata_streamed_equals_whole(auto_pack, tmp_path):
    """A one-row-per-customer O-data file read in batches and matched by DuckDB: the same odata.parquet
    (order, features, ``responded``) and O-data accounting as read whole."""
    import cemkit.ingest.odata_stream as OS

    rpath, opath = write_demo(auto_pack, tmp_path / "in", n=1200, seed=6)
    OS.ODATA_BATCH_ROWS, old = 211, OS.ODATA_BATCH_ROWS
    try:
        s = prepare(rpath, auto_pack, odata_paths=[opath], out_dir=tmp_path / "s", engine="duckdb")
    finally:
        OS.ODATA_BATCH_ROWS = old
    w = prepare(rpath, auto_pack, odata_paths=[opath], out_dir=tmp_path / "w", engine="pandas")
    assert s.accounting.pop("odata_ingest").startswith("streamed") and "odata_ingest" not in w.accounting
    s.accounting.pop("ingest")
    same_json(w.accounting, s.accounting)
    a, b = pd.read_parquet(tmp_path / "w" / "odata.parquet"), pd.read_parquet(tmp_path / "s" / "odata.parquet")
    assert len(a) > 3 * 211 and a["responded"].any() and not a["responded"].all()
    same_frame(a, b, "odata")
    # a customer repeated (visits): read whole, as the pack's aggregation needs
    od = pd.read_csv(opath, dtype=str, keep_default_na=False)
    pd.concat([od, od.iloc[:5]]).to_csv(opath, index=False)
    r = prepare(rpath, auto_pack, odata_paths=[opath], out_dir=tmp_path / "r", engine="duckdb")
    assert r.accounting["odata_ingest"].startswith("read whole: a customer repeats")


def refused_then_read_whole(rpath, pack, tmp_path, why: str, batch_rows: int):
    """The stream refuses ``rpath`` (``NotStreamed`` matching ``why``) leaving nothing behind; returns what
    ``prepare`` makes of it streamed (so read whole) and read whole by the pandas engine."""
    mp = mapping_for(load_mapping(None, pack), rpath, pack)
    with pytest.raises(NotStreamed, match=why):
        prepare_streamed(rpath, pack, mp, tmp_path / "s", {}, batch_rows=batch_rows)
    assert not (tmp_path / "s" / ".batches").exists() and not (tmp_path / "s" / "responses.parquet").exists()
    return (prepare(rpath, pack, out_dir=tmp_path / "d", engine="duckdb"),
            prepare(rpath, pack, out_dir=tmp_path / "p", engine="pandas"))


@pytest.mark.parametrize("block", [None, 1 << 16])
def test_a_file_not_utf8_past_its_first_mib_is_read_whole(block, tmp_path, auto_pack, monkeypatch):
    """The UTF-8 check is the parser's own, batch by batch (no pass over the file before reading): a GBK
    record past the first MiB stops the stream — in the parser's first block, or (small blocks) after
    batches were cleaned and spilled — leaving nothing behind, and the file is read whole, as the
    whole-file reader reads it: the same tables and accounting, and the accounting says why."""
    import cemkit.ingest.batches as B

    if block:
        monkeypatch.setattr(B, "BLOCK_BYTES", block)
    rpath, _ = write_demo(auto_pack, tmp_path / "in", n=9000, seed=3)
    data = rpath.read_bytes()
    assert len(data) > 1.3 * (1 << 20)
    lines = data.split(b"\n")
    k = len(lines) - 40  # a record near the end, re-encoded as GBK (its comment is Chinese)
    lines[k] = lines[k].decode("utf-8").encode("gb18030")
    assert not lines[k].isascii()
    rpath.write_bytes(b"\n".join(lines))
    streamed, whole = refused_then_read_whole(rpath, auto_pack, tmp_path, "not UTF-8", batch_rows=500)
    assert streamed.accounting.pop("ingest") == "read whole: a file that is not UTF-8 throughout is decoded line " \
        "by line in memory"
    assert whole.accounting["encoding"] == "utf-8+gb18030" and whole.accounting["encoding_lines_redecoded"] == 1
    same_json(whole.accounting, streamed.accounting)
    same_frame(whole.responses, streamed.responses, "responses")


def test_read_ahead_hands_over_items_and_errors_and_stops():
    """The parser's thread: items in order, an exception raised in the caller, stopped when the caller
    stops early (no thread left running)."""
    import threading

    from cemkit.ingest.batches import _read_ahead

    assert list(_read_ahead(iter(range(100)), 3)) == list(range(100))

    def failing():
        yield 1
        raise ValueError("broken block")

    gen = _read_ahead(failing(), 2)
    assert next(gen) == 1
    with pytest.raises(ValueError, match="broken block"):
        next(gen)
    before = threading.active_count()
    gen = _read_ahead(iter(range(10**6)), 2)
    assert next(gen) == 0
    gen.close()
    assert threading.active_count() == before


def test_filled_rows_and_line_breaks_found_without_per_cell_work():
    """The shortcuts equal the plain definitions: the last filled row found from the end, and a column's
    line breaks looked for in its bytes (sliced arrays, nulls, large strings)."""
    import pyarrow as pa

    from cemkit.ingest.batches import _filled_to, _has_newline, _newlines
    from cemkit.ingest.cells import _filled

    rng = np.random.default_rng(7)
    cells = np.array(["", " ", "x", None, "a\nb", "\u3000"], dtype=object)
    for n in (0, 1, 5, 40, 300):
        for p_blank in (0.0, 0.9, 1.0):
            vals = rng.choice(cells, size=(n, 3))
            vals[rng.random((n, 3)) < p_blank] = ""
            df = pd.DataFrame(vals, columns=list("abc")).astype("str").where(pd.notna(vals), None)
            df = df.astype("str")
            filled = _filled(df)
            assert _filled_to(df) == (int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0)
            table = pa.table({c: pa.array(list(vals[:, i]), pa.string()) for i, c in enumerate("abc")})
            for t in (table, table.slice(n // 3), table.cast(pa.schema([(c, pa.large_string()) for c in "abc"]))):
                want = np.array([sum(str(v).count("\n") for v in row if v is not None)
                                 for row in t.to_pandas().itertuples(index=False)], dtype=np.int64)
                np.testing.assert_array_equal(_newlines(t), want.reshape(-1) if len(want) else np.zeros(0))
                for col, name in zip(t.columns, t.column_names):
                    assert _has_newline(col) == any(v is not None and "\n" in v for v in col.to_pylist()), name
