"""Streaming ingest of Parquet and GBK exports (issue 20): read batch by batch — never whole — with the same
clean table, quarantine (true rows and lines), masking and accounting as the whole-file ingest."""

from __future__ import annotations

import random

import hostile_data as hd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_stream import both, check_same, refused_then_read_whole

from cemkit.demo import write_demo
from cemkit.ingest import prepare
from cemkit.ingest.batches import open_batches
from cemkit.ingest.delimited import _decode_lines
from cemkit.ingest.mapping import load_mapping, mapping_for
from cemkit.ingest.sources import _Counts, decode_chunk
from cemkit.ingest.stream import prepare_streamed, streams

GBK_SEEDS = [s.seed for s in map(hd.random_spec, range(60)) if s.fmt == "csv" and s.encoding in ("gbk", "mixed")][:6]
CSV_SEEDS = [s.seed for s in map(hd.random_spec, range(40)) if s.fmt == "csv"][:6]


@pytest.fixture
def no_whole_read(monkeypatch):
    """Fails the test when an export named in the returned set is read whole: the whole-file reader, its
    line-by-line decoder and pandas' / pyarrow's whole-Parquet reads are spied on."""
    import cemkit.ingest.delimited as D
    import cemkit.ingest.readers as R

    inputs: set[str] = set()

    def spy(real):
        def call(*a, **k):
            if a and str(a[0]) in inputs:
                raise AssertionError(f"{a[0]} was read whole")
            return real(*a, **k)
        return call

    for mod, name in ((R, "read_table"), (D, "read_delimited"), (pd, "read_parquet"), (pq, "read_table")):
        monkeypatch.setattr(mod, name, spy(getattr(mod, name)))
    monkeypatch.setattr(D, "_decode_lines", lambda *a: (_ for _ in ()).throw(AssertionError("decoded whole")))
    return inputs


@pytest.mark.parametrize("seed", GBK_SEEDS)
def test_gbk_export_streams_like_the_whole_file(seed, tmp_path, auto_pack, monkeypatch):
    """GBK exports (and GBK with UTF-8 records appended) transcoded as they stream: the same tables, masking
    and accounting (encoding label, lines redecoded) as the whole-file ingest, with ragged lines, line breaks
    in cells and personal data; the stream never reads the file whole."""
    ex = hd.write_export(hd.random_spec(seed), tmp_path / "in")
    whole = prepare(ex.path, auto_pack, out_dir=tmp_path / "whole")
    assert whole.accounting["encoding"].startswith(("gb18030", "utf-8+"))
    import cemkit.ingest.delimited as D

    monkeypatch.setattr(D, "_decode_lines", lambda *a: (_ for _ in ()).throw(AssertionError("read whole")))
    mp = mapping_for(load_mapping(None, auto_pack), ex.path, auto_pack)
    streamed = prepare_streamed(ex.path, auto_pack, mp, tmp_path / "streamed", {}, batch_rows=7)
    check_same(whole, streamed, tmp_path)
    assert streamed.accounting["input_rows"] == ex.records
    assert set(streamed.quarantine.loc[streamed.quarantine["reason"] == "malformed_row", "row"].astype(int)) == \
        ex.malformed_rows
    assert not hd.scan_outputs(tmp_path / "streamed", ex.secrets)


@pytest.mark.parametrize("seed", CSV_SEEDS)
def test_parquet_export_streams_like_the_whole_file(seed, tmp_path, auto_pack):
    """A Parquet copy of a hostile export (typed columns, nulls, blank rows at the end, pandas' index, small
    row groups) streamed row group by row group: the same tables and accounting as read whole."""
    ex = hd.write_export(hd.random_spec(seed), tmp_path / "in")
    path = hd.write_parquet_copy(ex, tmp_path / "in", seed)
    whole, streamed = both(path, auto_pack, tmp_path, batch_rows=7)
    check_same(whole, streamed, tmp_path)
    # the ragged records are not in the copy (read_table set them aside); blank rows at its end are no rows
    assert streamed.accounting["format"] == "Parquet"
    assert streamed.accounting["input_rows"] == ex.records - len(ex.malformed_rows)
    assert not hd.scan_outputs(tmp_path / "streamed", ex.secrets)


def test_large_parquet_and_gbk_exports_are_not_read_whole(demo_parquet_gbk, tmp_path, auto_pack, no_whole_read):
    """prepare(engine="duckdb") on a Parquet and a GBK export: streamed (the whole-file readers are spied
    on and never called), and equal to the whole-file ingest run before the spies."""
    from test_stream import same_frame, same_json

    no_whole_read.update(str(p) for p, _, _ in demo_parquet_gbk)
    for path, whole_dir, ref in demo_parquet_gbk:
        out = tmp_path / path.suffix.lstrip(".")
        prep = prepare(path, auto_pack, out_dir=out, engine="duckdb")
        acc = dict(prep.accounting)
        assert acc.pop("ingest").startswith("streamed in batches")
        assert acc["encoding"] == ref["encoding"] and acc["used"] == ref["used"] > 1000
        same_json(json_round(ref), json_round(acc))
        for name in ("responses", "quarantine"):
            same_frame(pd.read_parquet(whole_dir / f"{name}.parquet"), pd.read_parquet(out / f"{name}.parquet"), name)


def json_round(acc: dict) -> dict:
    import json

    from cemkit.ingest.gate import mask_strings
    from cemkit.results import json_safe

    return json.loads(json.dumps(mask_strings(json_safe(acc)), default=str))


@pytest.fixture
def demo_parquet_gbk(auto_pack, tmp_path):
    """The demo responses as Parquet (a few typed columns) and as GBK CSV, with the whole-file ingest's
    accounting of each (computed before any spy is set)."""
    rpath, _ = write_demo(auto_pack, tmp_path / "in", n=1200, seed=8)
    df = pd.read_csv(rpath, dtype=str, keep_default_na=False)
    pq_path = tmp_path / "in" / "responses.parquet"
    typed = df.replace("", None)
    typed["nps"] = pd.to_numeric(typed["nps"], errors="coerce").astype("Int64")  # "7分" → null, as a warehouse has it
    typed.to_parquet(pq_path, row_group_size=100)
    gbk = tmp_path / "in" / "responses_gbk.csv"
    gbk.write_bytes(rpath.read_text(encoding="utf-8").encode("gb18030"))
    out = []
    for path in (pq_path, gbk):
        w = prepare(path, auto_pack, out_dir=tmp_path / f"w_{path.stem}")
        out.append((path, tmp_path / f"w_{path.stem}", w.accounting))
    return out


def test_decode_chunk_decodes_as_the_whole_file_decoder():
    """Chunk by chunk (cut at line breaks), the text is the whole-file decoder's, line for line, on random
    mixes of ASCII, GBK, UTF-8 Chinese, UTF-8 Latin and U+FFFD lines; the counts give its label."""
    rng = random.Random(3)
    kinds = [b"id,a,b", "好评,服务很好".encode("gb18030"), "好评,服务很好".encode(),
             "café,crème".encode(), "替换\ufffd字符".encode("utf-8"), "€符号".encode("gb18030"), b""]
    for _ in range(300):
        lines = [rng.choice(kinds) for _ in range(rng.randint(1, 12))]
        raw = b"\n".join(lines)
        if raw.isascii() or raw.decode("utf-8", "replace").find("\ufffd") < 0 and "\ufffd".encode() not in raw:
            continue
        want, label, redecoded = _decode_lines(raw, "x.csv")
        cut = rng.randint(0, len(lines) - 1)  # chunks end after a line break; the last holds the rest
        a, b = b"\n".join(lines[:cut]), b"\n".join(lines[cut:])
        counts = _Counts()
        got = decode_chunk(a + b"\n", counts) + decode_chunk(b, counts) if cut else decode_chunk(raw, counts)
        if label == "gb18030" and counts.utf8:  # the whole file's shortcut: the stream says NotStreamed
            assert counts.utf8_all_gb
            continue
        assert got == want
        if counts.utf8 and counts.gb:
            assert label == ("gb18030+utf-8" if counts.gb >= counts.utf8 else "utf-8+gb18030")
            assert redecoded == min(counts.gb, counts.utf8)


def test_gbk_file_the_whole_file_decoder_would_read_otherwise_is_read_whole(tmp_path, auto_pack):
    """A GBK export with a line that is valid UTF-8 (accented Latin) and no UTF-8 Chinese: the whole-file
    decoder reads it all as GB18030, so the stream stops at the end (nothing left behind) and prepare reads
    it whole: the same result, and the accounting says why."""
    rpath, _ = write_demo(auto_pack, tmp_path / "in", n=300, seed=5)
    df = pd.read_csv(rpath, dtype=str, keep_default_na=False)
    k = len(df) - 5
    df.iloc[k] = [v if v.isascii() else "café" for v in df.iloc[k]]
    lines = df.to_csv(index=False).split("\n")
    lines = [ln.encode("utf-8" if i == k + 1 else "gb18030") for i, ln in enumerate(lines)]
    assert not lines[k + 1].isascii()
    rpath.write_bytes(b"\n".join(lines))
    streamed, whole = refused_then_read_whole(rpath, auto_pack, tmp_path, "UTF-8 and as GBK", batch_rows=50)
    assert streamed.accounting.pop("ingest").startswith("read whole: lines that read as UTF-8 and as GBK")
    assert whole.accounting["encoding"] == "gb18030"
    from test_stream import same_frame, same_json

    same_json(whole.accounting, streamed.accounting)
    same_frame(whole.responses, streamed.responses, "responses")


def test_auto_streams_parquet_by_its_row_count(tmp_path, monkeypatch):
    import cemkit.ingest.stream as S

    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"response_id": [str(i) for i in range(50)]}), path)
    assert streams(path, "duckdb") and not streams(path, "pandas") and not streams(path, "auto")
    monkeypatch.setattr(S, "STREAM_FROM_ROWS", 50)
    assert streams(path, "auto")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    assert not streams(tmp_path / "bad.parquet", "auto")
    with pytest.raises(Exception, match="cannot read the file as Parquet"):
        open_batches(tmp_path / "bad.parquet")


@pytest.mark.parametrize("seed", CSV_SEEDS[:4])
def test_export_without_response_ids_streams_like_the_whole_file(seed, tmp_path, auto_pack, monkeypatch):
    """No response id column (hostile exports with it left out, rows repeated in every cell across batches):
    each row's id made from file and line, batch by batch — the line of its first equal row, even in an
    earlier batch — the same ids, duplicates, quarantine and accounting (the sentence on the made ids) as
    the whole-file ingest; the stream no longer reads such a file whole."""
    import dataclasses

    spec = dataclasses.replace(hd.random_spec(seed), drop_id=True)
    ex = hd.write_export(spec, tmp_path / "in")
    text = ex.path.read_bytes()
    lines = text.split(b"\n")
    plain = [ln.rstrip(b"\r") for ln in lines[len(lines) // 3: len(lines) // 2] if ln.strip() and b'"' not in ln][:3]
    ex.path.write_bytes(text.rstrip(b"\r\n") + (b"\r\n" if spec.crlf else b"\n") +
                        (b"\r\n" if spec.crlf else b"\n").join(plain) + b"\n")
    whole, streamed = both(ex.path, auto_pack, tmp_path, batch_rows=7)
    check_same(whole, streamed, tmp_path)
    acc = streamed.accounting
    assert acc["response_id_made"].startswith("no response id column: each row's id is export_")
    if plain:
        assert acc["by_reason"].get("duplicate_id", 0) >= 1
    ids = pd.read_parquet(tmp_path / "streamed" / "responses.parquet", columns=["response_id"])["response_id"]
    assert ids.str.startswith(f"{ex.path.name}:").all() and ids.is_unique


def test_row_ids_found_in_earlier_batches():
    """_RowIds: a row's first equal row found in its own batch or any earlier one, as a groupby over the
    whole file finds it."""
    from cemkit.ingest.flow import row_keys
    from cemkit.ingest.stream import _RowIds

    rng = np.random.default_rng(5)
    df = pd.DataFrame({"a": rng.integers(0, 6, 500).astype(str), "b": rng.choice(["x", "y", None], 500)}).astype("str")
    want = pd.Series(np.arange(len(df))).groupby(row_keys(df)).transform("min").to_numpy()
    for size in (1, 7, 64, 500):
        made = _RowIds()
        got = np.concatenate([made.first(df.iloc[s:s + size].reset_index(drop=True), s)
                              for s in range(0, len(df), size)])
        np.testing.assert_array_equal(got, want)
