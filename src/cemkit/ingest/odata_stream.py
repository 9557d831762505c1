"""Operational data read in batches (issue 20): a large O-data file with one row per customer — what a
CRM or DMS export of customers and their features is — is read, renamed, pseudonymised and converted batch
by batch with the same functions as :func:`cemkit.ingest.odata._read_odata`, spilled to disk (Arrow IPC),
and matched to the responses by DuckDB (``responded``, the match counts), so tens of millions of customers
never sit in memory. The same table and accounting as in memory.

DuckDB scans the spilled parts' keys only (a pyarrow dataset): whether a key repeats is checked on 64-bit
hashes of the keys (a collision can only send a file to be read whole, never merge two customers); the
match is one join of the customers with the responding customers' ids and their response counts, whose
positions mark ``responded`` (one byte per customer); the parts are then written into ``odata.parquet`` in
file order by pyarrow — no sort of the whole table.

Read whole instead (:class:`~cemkit.ingest.batches.NotStreamed`): several O-data files (joined on the key),
a file whose key repeats (visits, invoices: aggregated per customer by the pack's rules), a file the pack
aggregates, and whatever :func:`cemkit.ingest.batches.open_batches` does not stream.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from .. import privacy
from ..engine import _literal, q
from ..packs import Pack
from .batches import NotStreamed, open_batches
from .cells import _strip_text
from .clean import _clean_text_col
from .mapping import ColumnMapping
from .odata import _numbers, _odata_columns, _odata_rules
from .stream_end import ingest_connection, spill, unspill

#: customers per batch
ODATA_BATCH_ROWS = 500_000


def read_odata_streamed(paths: list, pack: Pack, mp: ColumnMapping, out_dir: str | Path) -> tuple[Path, dict]:
    """The O-data file's rows, one per customer, as parquet parts in a folder of ``out_dir`` (in file order),
    and the accounting :func:`~cemkit.ingest.odata._read_odata` gives; :class:`NotStreamed` when it is to be
    read whole (see the module docstring)."""
    if len(paths) != 1:
        raise NotStreamed("several O-data files are joined in memory")
    path = Path(paths[0])
    spec = pack.odata or {}
    key = str(spec.get("key", "customer_id"))
    feats: dict[str, Any] = dict(spec.get("features") or {})
    rules = _odata_rules(pack)
    br = open_batches(path)
    folder = Path(out_dir) / ".odata-batches"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    acc: dict[str, Any] = {"odata_files": 1, "odata_rows_in": 0, "odata_rows_without_key": 0,
                           "odata_pseudonymised": 0}
    unused: list[str] = []
    columns: list[str] | None = None
    written = 0
    try:
        for k, b in enumerate(br.batches(ODATA_BATCH_ROWS)):
            acc["odata_rows_in"] += len(b.frame)
            df = _odata_columns(b.frame, pack, mp, key, path.name, rules)
            if any(r["from"] in df.columns for r in rules.values()):
                raise NotStreamed("the pack aggregates this O-data per customer")
            df[key], n = privacy.pseudonymise(_strip_text(df[key]), controls="label")
            acc["odata_pseudonymised"] += n
            nokey = df[key].isna().to_numpy()
            acc["odata_rows_without_key"] += int(nokey.sum())
            df = df.loc[~nokey].reset_index(drop=True)
            wanted = [f for f in feats if f in df.columns]
            if columns is None:
                unused = [f"{path.name}:{h}" for h in df.columns if h != key and h not in feats]
                columns = [key, *[f for f in [*feats, *rules] if f in wanted]]
            for f in wanted:
                if (feats[f] or {}).get("kind") != "category":
                    df[f] = _numbers(df[f])
                else:
                    df[f] = privacy.mask_text(_clean_text_col(df[f]), plates=True, controls="label")[0]
            part = df[columns].reset_index(drop=True)
            part[key] = part[key].astype("str")
            part["__pos"] = written + np.arange(len(part))  # the file order
            written += len(part)
            spill(folder / f"odata-{k:05d}.arrow", pa.Table.from_pandas(part, preserve_index=False))
        if columns is None:
            raise NotStreamed("the O-data file has no rows")
        con = ingest_connection(folder)
        try:
            con.register("od", _parts(folder))
            n, distinct = con.execute(f"SELECT count(*), count(DISTINCT hash({q(key)})) FROM od").fetchone()
        finally:
            con.close()
        if n != distinct:  # (or two keys' hashes collide: read whole all the same)
            raise NotStreamed("a customer repeats in the O-data (aggregated per customer in memory)")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    acc["odata_unused_columns"] = unused
    return folder, acc


def _parts(folder: Path) -> pads.Dataset:
    """The spilled O-data parts, in file order, as one dataset DuckDB scans (only the columns a query names)."""
    return pads.dataset(sorted(folder.glob("odata-*.arrow")), format="ipc")


def match_streamed(folder: Path, acc: dict, pack: Pack, responses: pd.DataFrame | str | Path,
                   out: Path) -> dict:
    """``out`` (odata.parquet): the O-data parts with ``responded`` (the customer has a used response), in file
    order; the match counts into ``acc`` as :func:`~cemkit.ingest.odata._match_odata` counts them. One DuckDB
    join; ``responses`` is the clean table or its parquet file."""
    key = str((pack.odata or {}).get("key", "customer_id"))
    files = sorted(folder.glob("odata-*.arrow"))
    sizes = [unspill(f).num_rows for f in files]
    responded = np.zeros(sum(sizes), dtype=bool)
    matched = 0
    con = ingest_connection(folder)
    try:
        if isinstance(responses, pd.DataFrame):
            ids = responses[["customer_id"]] if "customer_id" in responses else pd.DataFrame({"customer_id": []})
            con.register("resp", ids.astype({"customer_id": "str"}))
        else:
            con.execute("CREATE VIEW resp AS SELECT CAST(customer_id AS VARCHAR) AS customer_id "
                        f"FROM read_parquet('{_literal(responses)}')")  # a view takes no parameter
        con.register("od", _parts(folder))
        total = con.execute("SELECT count(customer_id) FROM resp").fetchall()[0][0]
        joined = con.sql(f"SELECT o.__pos, c.n FROM od o JOIN (SELECT customer_id, count(*) AS n FROM resp "
                         f"WHERE customer_id IS NOT NULL GROUP BY customer_id) c ON o.{q(key)} = c.customer_id")
        for b in joined.to_arrow_reader(1 << 17):  # keys are unique: each responding customer once
            responded[b.column(0).to_numpy()] = True
            matched += int(np.asarray(b.column(1).to_numpy()).sum())
    finally:
        con.close()
    try:
        writer, start = None, 0
        for f, size in zip(files, sizes):
            t = unspill(f).drop_columns(["__pos"]).replace_schema_metadata(None)
            t = t.append_column("responded", pa.array(responded[start:start + size]))
            start += size
            writer = writer or pq.ParquetWriter(out, t.schema)
            writer.write_table(t)
        if writer is not None:
            writer.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    acc.update({"odata_customers": len(responded), "odata_matched_responses": matched,
                "odata_unmatched_responses": int(total - matched),
                "odata_customers_without_response": int(len(responded) - responded.sum())})
    acc["odata_unused_columns"] = acc.pop("odata_unused_columns")
    return acc
