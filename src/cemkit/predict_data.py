"""Whom the detractor-risk model (:mod:`cemkit.predict`) learns from and whom it scores.

* **Labelled customers**: each respondent customer's latest response with an NPS answer
  (:func:`cemkit.playbooks.latest_responses`), joined to their O-data row; above ``max_train`` of them, a
  random sample of ``max_train``, stratified by the target (detractor or not), in the order the latest responses come in time.
* **Silent customers**: the O-data rows (with a key) of customers without any response, in file order,
  handed out in batches of :data:`cemkit.predict.SCORE_BATCH` rows for scoring.

Two sources give the same rows in the same order: :func:`from_frames` (the response table and the O-data in
memory) and :func:`from_files` (a :class:`cemkit.engine.Dataset` of responses and the O-data parquet file:
DuckDB finds the latest responses, the sample's O-data positions and the silent customers' positions, and
pyarrow reads only the rows and columns needed, batch by batch — millions of O-data customers are never
held at once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .arrowtext import factorize
from .engine import Dataset, connect, q
from .errors import InputError
from .playbooks import latest_responses

__all__ = ["Rows", "from_files", "from_frames"]


@dataclass
class Rows:
    """``n_last``: respondent customers (latest responses with an NPS answer and a customer id);
    ``n_joined``: those with an O-data row; ``lab``: the labelled customers' O-data rows (all of them, or the
    sample), ``nps`` first; ``n_silent`` and ``silent()``: the silent customers' O-data rows in batches."""

    n_last: int
    n_joined: int
    lab: pd.DataFrame
    n_silent: int
    silent: Callable[[], Iterator[pd.DataFrame]]


def _sample(detractor: np.ndarray, max_train: int | None, seed: int) -> np.ndarray | None:
    """Positions of a sample of ``max_train`` among the labelled customers (None: all of them), stratified by
    the target: each class drawn at random (``numpy.random.RandomState(seed)``) in proportion to its share,
    so the sample's detractor rate is the respondents' to within one customer; in time order."""
    n = len(detractor)
    if not max_train or n <= max_train:
        return None
    rs = np.random.RandomState(seed)
    det = np.flatnonzero(detractor)
    other = np.flatnonzero(~detractor)
    k = round(max_train * len(det) / n)
    return np.sort(np.concatenate([rs.choice(det, k, replace=False),
                                   rs.choice(other, int(max_train) - k, replace=False)]))


def _duplicates(key: str, count: int, example) -> None:
    raise InputError(f"the O-data must have one row per customer; {count} duplicate "
                     f"{key} value(s), e.g. {example!r}")


def from_frames(responses: pd.DataFrame, odata: pd.DataFrame, key: str, max_train: int | None,
                seed: int, batch: int) -> Rows:
    """The rows from the response table and the O-data in memory."""
    last = latest_responses(responses[[c for c in ("customer_id", "response_id", "wave", "date", "nps")
                                       if c in responses]], "nps")
    last = last.loc[last["customer_id"].notna()]  # anonymous responses cannot be joined to O-data
    # one shared numbering of the O-data keys and the respondents' ids answers every key question below
    (od_code, resp_code, last_code), n_keys = factorize(odata[key], responses["customer_id"], last["customer_id"])
    per_key = np.bincount(od_code[od_code >= 0], minlength=n_keys)
    if (per_key > 1).any():
        dup_rows = (per_key[np.maximum(od_code, 0)] > 1) & (od_code >= 0)
        _duplicates(key, int((per_key > 1).sum()), odata.loc[dup_rows, key].iloc[0])
    row_of = np.full(n_keys + 1, -1, dtype=np.int64)  # O-data row of each key (keys are unique, checked above)
    has_key = od_code >= 0
    row_of[od_code[has_key]] = np.flatnonzero(has_key)
    pos = row_of[last_code]
    hit = np.flatnonzero(pos >= 0)  # labelled customers with an O-data row
    responded = np.zeros(n_keys + 1, dtype=bool)
    responded[resp_code[resp_code >= 0]] = True
    silent = np.flatnonzero(has_key & ~responded[od_code])  # O-data rows of customers without any response
    n_joined = len(hit)
    pick = _sample(last["nps"].to_numpy(dtype=float)[hit] <= 6, max_train, seed)
    if pick is not None:
        hit = hit[pick]
    lab = odata.iloc[pos[hit]].reset_index(drop=True)
    lab.insert(0, "nps", last["nps"].to_numpy()[hit])

    def batches() -> Iterator[pd.DataFrame]:
        for a in range(0, len(silent), batch):  # views of the O-data rows, no copy of the whole table
            yield odata.iloc[silent[a:a + batch]]

    return Rows(len(last), n_joined, lab, len(silent), batches)


def from_files(responses: Dataset, odata: str | Path, key: str, max_train: int | None, seed: int,
               batch: int) -> Rows:
    """The same rows from parquet files: the responses' latest answers, the O-data keys and the sample
    found by DuckDB (spilling to disk when large), the O-data rows read by pyarrow batch by batch."""
    od = Dataset(odata)
    con = connect()
    try:
        frm, p = responses._from(positions=True)
        o_key = f"CAST({q(key)} AS VARCHAR)"
        o_src = "read_parquet(?, file_row_number = true)"
        dup = con.execute(f"SELECT count(*), min(first) FROM (SELECT min(file_row_number) AS first FROM {o_src} "
                          f"WHERE {q(key)} IS NOT NULL GROUP BY {o_key} HAVING count(*) > 1)", [od.path]).fetchone()
        if dup[0]:
            example = con.execute(f"SELECT {q(key)} FROM {o_src} WHERE file_row_number = ?",
                                  [od.path, int(dup[1])]).fetchone()[0]
            _duplicates(key, int(dup[0]), example)
        # each customer's latest response with an NPS answer: latest wave (text order, missing first), date
        # (missing first), position in the files — as playbooks.latest_responses orders them
        have = responses.columns
        wave = '"wave"' if "wave" in have else "NULL"
        date = '"date"' if "date" in have else "NULL"
        nps = 'CAST("nps" AS DOUBLE)'
        con.execute(
            f"CREATE TEMP TABLE r AS SELECT CAST(\"customer_id\" AS VARCHAR) AS cid, {nps} AS nps, "
            f"CAST({wave} AS VARCHAR) AS w, {date} AS d, filename AS f, file_row_number AS pos {frm}", p)
        con.execute("CREATE TEMP TABLE last AS SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY cid "
                    "ORDER BY w DESC NULLS LAST, d DESC NULLS LAST, f DESC, pos DESC) AS k FROM r "
                    "WHERE nps IS NOT NULL AND NOT isnan(nps) AND cid IS NOT NULL) WHERE k = 1")
        n_last = con.execute("SELECT count(*) FROM last").fetchone()[0]
        con.execute(f"CREATE TEMP TABLE j AS SELECT row_number() OVER (ORDER BY l.w NULLS FIRST, l.d NULLS FIRST, "
                    f"l.f, l.pos) - 1 AS rank, o.file_row_number AS opos, l.nps FROM last l JOIN "
                    f"(SELECT {o_key} AS cid, file_row_number FROM {o_src} WHERE {q(key)} IS NOT NULL) o "
                    f"USING (cid)", [od.path])
        n_joined = con.execute("SELECT count(*) FROM j").fetchone()[0]
        pick = _sample(con.execute("SELECT nps <= 6 AS d FROM j ORDER BY rank").fetchnumpy()["d"].astype(bool),
                       max_train, seed)
        if pick is None:
            chosen = con.execute("SELECT opos, nps FROM j ORDER BY rank").df()
        else:
            con.register("pick", pd.DataFrame({"rank": pick, "ord": np.arange(len(pick))}))
            chosen = con.execute("SELECT opos, nps FROM j JOIN pick USING (rank) ORDER BY ord").df()
        silent = con.execute(f"SELECT file_row_number FROM {o_src} o WHERE {q(key)} IS NOT NULL AND NOT EXISTS "
                             f"(SELECT 1 FROM r WHERE r.cid = {o_key})", [od.path]).fetchnumpy()["file_row_number"]
    finally:
        con.close()
    is_silent = np.zeros(_rows(od.path), dtype=bool)
    is_silent[np.asarray(silent, dtype=np.int64)] = True
    n_silent = int(is_silent.sum())
    del silent
    want = np.asarray(chosen["opos"], dtype=np.int64)
    parts = [b.loc[np.isin(b.index, want)] for b in od.batches(_all(od.path))]
    rows = pd.concat(parts)
    lab = rows.loc[want].reset_index(drop=True)
    lab.insert(0, "nps", chosen["nps"].to_numpy(dtype=float))

    def batches() -> Iterator[pd.DataFrame]:
        for b in od.batches(_all(od.path), size=batch):
            b = b[is_silent[b.index.to_numpy()]]
            if len(b):
                yield b

    return Rows(int(n_last), int(n_joined), lab, n_silent, batches)


def _rows(path: str) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _all(path: str) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)
