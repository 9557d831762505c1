"""DuckDB as the embedded analytical engine: the same sufficient statistics as the in-memory path, computed
by SQL aggregates over parquet files, so data larger than memory give the same numbers.

A :class:`Dataset` names parquet files (one file, a folder of files or a glob) and optionally a filter. The
metric functions take it wherever they take the clean response table::

    ds = Dataset(run_dir / "data" / "responses.parquet")  # or views.read_responses(run_dir, engine="duckdb")
    metrics.journey_table(ds, pack, by=["region"])        # == journey_table(pd.read_parquet(...), ...)
    views.journey_views(ds, pack, "zh")                   # the journey notebook's results
    views.driver_views(ds, pack, "zh")                    # reads only the reporting wave's driver columns
    metrics.league_table(ds, pack, "dealer", wave="last")
    metrics.segment_vs_rest(ds, pack, "region")

Only the per-cell sums (n, Σw, Σw², Σw·x, Σw·x², weighted promoter / detractor / good counts) come from
DuckDB; the estimates, intervals, tests and flags are the in-memory code, fed the same cube of sums
(``metrics.tables._cube_frame``). Sums are added in another order than numpy's, so results agree to
rounding (a test holds them to 1e-9). The other aggregates follow the same pattern: :func:`weighted_corr`
(the driver models' correlation matrix, pairwise-complete like ``drivers.correlation._weighted_corr``),
:func:`counts` (theme × stage tables, any GROUP BY count) and :func:`join_odata` (events per customer).

DuckDB runs in-process (nothing to start); it streams the parquet row groups and spills to a temporary
folder above its memory limit (:data:`MEMORY_LIMIT`). Client values never enter SQL text: column names are
quoted identifiers, values are bound parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .packs import Pack

__all__ = ["BATCH_ROWS", "ENGINES", "MEMORY_LIMIT", "THRESHOLD", "Dataset", "choose", "connect", "counts", "join_odata",
           "weighted_corr"]

#: DuckDB's memory limit per connection; above it, sorts and joins spill to disk
MEMORY_LIMIT = "1GB"
#: ``engine="auto"``: responses from which the analysis reads through DuckDB instead of pandas
THRESHOLD = 500_000
#: rows read at a time by :meth:`Dataset.batches` (the ingest writes a row group per 200,000 records)
BATCH_ROWS = 200_000
ENGINES = ("auto", "pandas", "duckdb")
#: rows × columns from which :meth:`Dataset.parts` reads one part at a time instead of the whole once and
#: splitting it (20M cells: 160 MB of floats; at 1M responses a wave's model columns are ≈ 9M)
PARTS_CELLS = 20_000_000
#: what a kernel already asked of a parquet file (its columns, its waves), while the file is unchanged: the
#: notebooks ask ``"x" in df`` and for the waves many times, each a DuckDB connection and a scan (≈ 20–60 ms)
_SEEN: dict[tuple, tuple] = {}


def choose(engine: str, rows: int) -> str:
    """``"pandas"`` or ``"duckdb"`` for ``engine`` (one of :data:`ENGINES`) and a table of ``rows`` rows."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "auto":
        return "duckdb" if rows >= THRESHOLD else "pandas"
    return engine


def connect(threads: int | None = None) -> Any:
    """An in-memory DuckDB connection with cemkit's limits (memory, no insertion order kept)."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": False})
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


@dataclass(frozen=True)
class Dataset:
    """Parquet response data read by DuckDB: ``path`` is a file, a folder (every ``*.parquet`` under it) or a
    glob; ``filters`` are (column, value) conditions all rows must meet (see :meth:`where`): the column as
    text equals the value, or — a tuple of values — is one of them."""

    path: str
    filters: tuple[tuple[str, str | tuple[str, ...]], ...] = ()

    def __init__(self, path: str | Path, filters: tuple[tuple[str, str | tuple[str, ...]], ...] = ()):
        p = Path(path)
        text = str(p / "**" / "*.parquet") if p.is_dir() else str(path)
        object.__setattr__(self, "path", text)
        object.__setattr__(self, "filters", tuple(filters))

    # ---------------------------------------------------------------------------------- SQL pieces
    def _from(self, positions: bool = False) -> tuple[str, list[Any]]:
        """``FROM read_parquet(?) WHERE …`` and its parameters; ``positions`` adds the columns ``filename``
        and ``file_row_number`` (the rows' order in the files)."""
        where = " AND ".join(f"CAST({q(c)} AS VARCHAR) = ?" if isinstance(v, str) else
                             f"CAST({q(c)} AS VARCHAR) IN ({', '.join('?' * len(v))})" if v else "FALSE"
                             for c, v in self.filters)
        opts = ", filename = true, file_row_number = true" if positions else ""
        return (f"FROM read_parquet(?{opts})" + (f" WHERE {where}" if where else ""),
                [self.path, *[x for _, v in self.filters for x in ([v] if isinstance(v, str) else v)]])

    def sql(self, select: str, tail: str = "", params: Sequence[Any] = (), con: Any = None,
            select_params: Sequence[Any] = ()) -> pd.DataFrame:
        """``SELECT <select> FROM <the data> [WHERE filters] <tail>`` as a DataFrame. ``?`` in ``select`` take
        ``select_params``, in ``tail`` ``params``; a condition in ``tail`` goes through :meth:`cond`."""
        frm, p = self._from()
        own = con is None
        con = con or connect()
        try:
            return con.execute(f"SELECT {select} {frm} {tail}", [*select_params, *p, *params]).df()
        finally:
            if own:
                con.close()

    def cond(self, condition: str) -> str:
        """``condition`` joined to the dataset's filters (``WHERE`` or ``AND``)."""
        return ("AND " if self.filters else "WHERE ") + condition

    # ---------------------------------------------------------------------------------- DataFrame-like
    def _key(self, what: str) -> tuple | None:
        """A key for :data:`_SEEN` while the file is unchanged (size and modification time); None for a folder
        or glob (not cached)."""
        try:
            st = Path(self.path).stat()
        except OSError:
            return None
        return (what, self.path, self.filters, st.st_ino, st.st_size, st.st_mtime_ns)

    @property
    def columns(self) -> list[str]:
        key = self._key("columns")
        if key in _SEEN:
            return list(_SEEN[key])
        con = connect()
        try:
            names = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [self.path]).fetchall()]
        finally:
            con.close()
        if key is not None:
            _SEEN[key] = tuple(names)
        return names

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def __len__(self) -> int:
        return int(self.sql("count(*) AS n").iloc[0, 0])

    def parts(self, column: str, columns: dict[str, Sequence[str]]) -> Iterator[tuple[str, pd.DataFrame]]:
        """For each value of ``columns`` (a value of ``column`` → the columns wanted for it, e.g. a stage → its
        model columns), ``(value, self.where(column, value).to_pandas(its columns))``: the same rows in the
        same order, the same columns and types. Read once and split when the rows × all the columns named stay
        within :data:`PARTS_CELLS` (each value read alone decodes every row group again: the decisions' eight
        stages read the wave's columns eight times), else one value at a time (memory: one part's columns)."""
        wanted = list(dict.fromkeys([column, *(c for cols in columns.values() for c in cols)]))
        if len(self) * len(wanted) > PARTS_CELLS:
            for value, cols in columns.items():
                yield value, self.where(column, value).to_pandas(cols)
            return
        whole = self.to_pandas(wanted)
        key = whole[column].astype("string").to_numpy(dtype=object, na_value=None) if column in whole else None
        for value, cols in columns.items():
            keep = [c for c in dict.fromkeys(cols) if c in whole.columns]
            if key is None:
                yield value, whole.iloc[:0][keep]
                continue
            part = whole.loc[key == str(value), keep].reset_index(drop=True)
            yield value, part

    def where(self, column: str, value: Any) -> Dataset:
        """The rows whose ``column`` (as text) equals ``value``; a list, tuple or set of values: is one of them."""
        v = tuple(str(x) for x in value) if isinstance(value, (list, tuple, set, frozenset)) else str(value)
        return Dataset(self.path, (*self.filters, (column, v)))

    def to_pandas(self, columns: Sequence[str] | None = None, *, positions: bool = False,
                  any_of: tuple[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """The (filtered) rows as a DataFrame in the files' order, only ``columns`` (those present; all when
        None) read: for analyses that need rows (a bootstrap, a model), on the few columns they use. Read as
        :meth:`batches` reads (the same types as ``pandas.read_parquet``), converted column by column with each
        column's Arrow buffers freed as it goes: the rows are held about once, not twice. ``positions``: the
        index is each row's position in the files (as :meth:`batches`); ``any_of=(column, values)``: only the
        rows whose ``column`` (as text) is one of ``values`` (e.g. two waves), in one pass."""
        import pyarrow as pa

        cols = list(columns) if columns is not None else self._schema().names
        found = list(self._record_batches(cols, None, any_of))
        if not found:
            return self._empty(cols)
        pos = np.concatenate([p for p, _ in found])
        table = pa.Table.from_batches([rb for _, rb in found])
        del found
        out = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        pa.default_memory_pool().release_unused()  # the batches' buffers back to the system, not kept cached
        if positions:
            out.index = pd.Index(pos)
        return out

    def batches(self, columns: Sequence[str], size: int | None = None) -> Iterator[pd.DataFrame]:
        """The (filtered) rows in the files' order, ``size`` rows of the files at a time (default
        :data:`BATCH_ROWS`), as DataFrames of ``columns`` (those present) whose index is each row's position
        in the files (0, 1, … over the files in name order, as :meth:`to_pandas` orders them) — for work that
        needs rows but not all at once (alerts, scoring). Only ``columns`` are read (pyarrow), and a row
        group whose statistics exclude a filter's value is skipped without being read; the filters are then
        applied row by row. When no row matches, one empty frame with the columns' types."""
        found = False
        for pos, rb in self._record_batches(columns, size):
            out = rb.to_pandas()
            out.index = pd.Index(pos)
            found = True
            yield out
        if not found:  # no row matched: one empty frame, so a caller still gets the columns
            yield self._empty(columns)

    def _files(self) -> list[str]:
        import glob

        return sorted(glob.glob(self.path, recursive=True)) if glob.has_magic(self.path) else [self.path]

    def _schema(self) -> Any:
        import pyarrow.parquet as pq

        files = self._files()
        if not files:
            raise DataError(f"no parquet file matches {self.path}")
        return pq.read_schema(files[0])

    def _empty(self, columns: Sequence[str]) -> pd.DataFrame:
        schema = self._schema()
        return schema.empty_table().select([c for c in dict.fromkeys(columns) if c in schema.names]).to_pandas()

    def _record_batches(self, columns: Sequence[str], size: int | None,
                        any_of: tuple[str, Sequence[str]] | None = None) -> Iterator[tuple[np.ndarray, Any]]:
        """(positions in the files, Arrow record batch of ``columns``) of the rows that meet the filters (and
        ``any_of``: a column whose text is one of the values)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        size = size or BATCH_ROWS
        offset = 0
        for path in self._files():
            pf = pq.ParquetFile(path)
            names = pf.schema_arrow.names
            extra = [any_of[0]] if any_of else []
            cols = [c for c in dict.fromkeys([*columns, *(c for c, _ in self.filters), *extra]) if c in names]
            keep = [c for c in dict.fromkeys(columns) if c in names]
            groups, starts, start = [], [], offset
            for i in range(pf.metadata.num_row_groups):
                rg = pf.metadata.row_group(i)
                if (not self.filters or _may_match(rg, names, self.filters)) and \
                        (not any_of or any(_may_match(rg, names, [(any_of[0], v)]) for v in any_of[1])):
                    groups.append(i)
                    starts.append(start)
                start += rg.num_rows
            offset = start
            for i, first in zip(groups, starts, strict=True):
                at = first
                for batch in pf.iter_batches(batch_size=size, row_groups=[i], columns=cols):
                    pos = np.arange(at, at + batch.num_rows, dtype=np.int64)
                    at += batch.num_rows
                    if self.filters or any_of:
                        mask = None
                        tests = [(c, pc.equal, v) if isinstance(v, str) else (c, pc.is_in, pa.array(list(v), pa.string()))
                                 for c, v in self.filters]
                        if any_of:
                            tests.append((any_of[0], pc.is_in, pa.array([str(v) for v in any_of[1]])))
                        for c, test, v in tests:
                            col = batch.column(c) if c in names else pa.nulls(batch.num_rows, pa.string())
                            eq = test(pc.cast(col, pa.string()) if not pa.types.is_string(col.type) and
                                      not pa.types.is_large_string(col.type) else col, v)
                            mask = eq if mask is None else pc.and_(mask, eq)
                        mask = pc.fill_null(mask, False)
                        batch = batch.filter(mask)
                        pos = pos[mask.to_numpy(zero_copy_only=False)]
                    if batch.num_rows:
                        yield pos, batch.select(keep)

    def weight_column(self) -> str | None:
        """``"weight"`` when the data carry weights other than 1 (as ``views.common._weights``), else None."""
        if "weight" not in self:
            return None
        row = self.sql('count(*) FILTER (WHERE "weight" IS NOT NULL) AS k, '
                       'count(*) FILTER (WHERE "weight" IS DISTINCT FROM 1) AS d').iloc[0]
        return "weight" if int(row["k"]) and int(row["d"]) else None

    def kish_base(self, column: str) -> float:
        """Kish's effective base ``(Σw)² / Σw²`` of a weight column."""
        w = f"CAST({q(column)} AS DOUBLE)"
        row = self.sql(f"sum({w}) AS sw, sum({w} * {w}) AS sw2").iloc[0]
        return float(row["sw"] ** 2 / row["sw2"])

    def wave_labels(self) -> list[str]:
        """Sorted wave labels present (as :func:`cemkit.metrics.tables._wave_labels`)."""
        if "wave" not in self:
            return []
        key = self._key("waves")
        if key in _SEEN:
            return list(_SEEN[key])
        rows = self.sql('DISTINCT CAST("wave" AS VARCHAR) AS v', self.cond('"wave" IS NOT NULL'))
        labels = sorted(str(v) for v in rows["v"])
        if key is not None:
            _SEEN[key] = tuple(labels)
        return labels

    def _labels(self, column: str) -> list[str]:
        """Distinct non-missing values of a segment column, sorted as ``pd.factorize(sort=True)`` does."""
        rows = self.sql(f"DISTINCT {q(column)} AS v", self.cond(f"{q(column)} IS NOT NULL"))
        return [str(v) for v in sorted(rows["v"].tolist())]

    # ---------------------------------------------------------------------------------- sufficient statistics
    def sums_frame(
        self,
        pack: Pack,
        by: str | Sequence[str] | None = None,
        waves: bool = True,
        weights: str | None = "weight",
        metrics: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The frame ``metrics.tables._sums_frame`` returns for the same rows, from one SQL aggregate per KPI
        (GROUPING SETS over stage × wave × each segment column). Same checks: unknown stages warn, a score
        outside its scale or a bad weight on a scored row raise :class:`DataError`."""
        from .metrics.estimates import DETRACTOR_MAX, PROMOTER_MIN
        from .metrics.tables import _SUMS, ALL, _concat_sums, _cube_frame

        cols = self.columns
        if "stage" not in cols:
            raise KeyError("the response table has no 'stage' column")
        by = [by] if isinstance(by, str) else list(by or [])
        for col in by:
            if col not in cols:
                raise KeyError(f"segment column {col!r} is not in the data")
        if weights is not None and not isinstance(weights, str):
            raise TypeError("a Dataset takes weights as a column name")
        if weights is not None and weights not in cols:
            if weights != "weight":
                raise KeyError(f"weight column {weights!r} is not in the data")
            weights = None
        w = "1.0" if weights is None else f"CAST({q(weights)} AS DOUBLE)"
        stage_ids = list(pack.stage_ids)
        S = len(stage_ids)
        spos = {s: i for i, s in enumerate(stage_ids)}
        con = connect()
        try:
            unknown = self.sql("count(*) AS n, list(DISTINCT CAST(stage AS VARCHAR)) AS v",
                               self.cond(f"stage IS NOT NULL AND CAST(stage AS VARCHAR) NOT IN "
                                         f"({', '.join('?' * S)})"), stage_ids, con=con)
            if int(unknown["n"].iloc[0]):
                bad = sorted(str(v) for v in unknown["v"].iloc[0])[:5]
                warnings.warn(
                    f"{int(unknown['n'].iloc[0])} response(s) name a stage the pack does not have "
                    f"({', '.join(bad)}); they are left out of the journey metrics",
                    stacklevel=4,
                )
            wave_labels = self.wave_labels() if waves else []
            W = len(wave_labels)
            wpos = {v: i for i, v in enumerate(wave_labels)}
            seg_labels = {col: self._labels(col) for col in by}
            metrics = [m for m in (metrics or pack.kpis) if m in cols and m in pack.kpis]
            frames = []
            for m in metrics:
                scale = pack.kpis[m].scale
                asked = [s.id for s in pack.stages if m in s.kpis]
                if not asked:
                    continue
                x = f"CAST({q(m)} AS DOUBLE)"
                scored = (f"{x} IS NOT NULL AND NOT isnan({x}) AND CAST(stage AS VARCHAR) IN "
                          f"({', '.join('?' * len(asked))})")
                check = self.sql(
                    f"count(*) FILTER (WHERE {w} IS NULL OR NOT isfinite({w}) OR {w} < 0) AS bad_w, "
                    f"count(*) FILTER (WHERE {w} > 0 AND ({x} < ? OR {x} > ?)) AS out",
                    self.cond(scored), asked, con=con, select_params=[scale.min, scale.max])
                if int(check["bad_w"].iloc[0]):
                    raise DataError(f"{int(check['bad_w'].iloc[0])} response(s) with a {m!r} score have a "
                                    "missing or negative weight")
                if int(check["out"].iloc[0]):
                    raise DataError(f"{m!r} has scores outside its scale {scale.min:g}..{scale.max:g}")
                shift = (scale.min + scale.max) / 2
                xc = f"({x} - {shift!r})"
                aggs = {
                    "n": "count(*)",
                    "sw": f"sum({w})",
                    "sw2": f"sum({w} * {w})",
                    "swx": f"sum({w} * {xc})",
                    "swxx": f"sum({w} * {xc} * {xc})",
                    "w_prom": "0.0", "w_det": "0.0", "w_good": "0.0",
                }
                if scale.kind == "nps":
                    aggs["w_prom"] = f"sum(CASE WHEN {x} >= {PROMOTER_MIN!r} THEN {w} ELSE 0 END)"
                    aggs["w_det"] = f"sum(CASE WHEN {x} <= {DETRACTOR_MAX!r} THEN {w} ELSE 0 END)"
                elif scale.good:
                    good = ", ".join(repr(float(g)) for g in scale.good)
                    aggs["w_good"] = f"sum(CASE WHEN {x} IN ({good}) THEN {w} ELSE 0 END)"
                keys = ["stage", "wave", *by] if waves and "wave" in cols else ["stage", *by]
                sets = ", ".join("(" + ", ".join(q(k) for k in [*keys[:len(keys) - len(by)], *extra]) + ")"
                                 for extra in [[], *[[b] for b in by]])
                grouping = ", ".join(f"GROUPING({q(b)}) AS {q('g_' + b)}" for b in by)
                select = ", ".join([*(f"CAST({q(k)} AS VARCHAR) AS {q('k_' + k)}" for k in keys),
                                    *([grouping] if grouping else []),
                                    *(f"{e} AS {q(k)}" for k, e in aggs.items())])
                agg = self.sql(select, self.cond(f"{scored} AND {w} > 0") + f" GROUP BY GROUPING SETS ({sets})",
                               asked, con=con)
                sc = agg["k_stage"].map(spos).to_numpy(dtype=np.int64)
                if "k_wave" in agg:
                    wc = agg["k_wave"].map(wpos).fillna(W).to_numpy(dtype=np.int64)
                else:
                    wc = np.full(len(agg), W, dtype=np.int64)
                vals = agg[list(_SUMS)].to_numpy(dtype=float)
                for seg in [ALL, *by]:
                    if seg == ALL:
                        rows = np.ones(len(agg), bool)
                        for b in by:
                            rows &= agg[f"g_{b}"].to_numpy() == 1
                        labels, vc = [ALL], np.zeros(len(agg), np.int64)
                    else:
                        rows = agg[f"g_{seg}"].to_numpy() == 0
                        labels = seg_labels[seg]
                        vpos = {v: i for i, v in enumerate(labels)}
                        vc = agg[f"k_{seg}"].map(vpos).fillna(len(labels)).to_numpy(dtype=np.int64)
                    cube = np.zeros((S, W + 1, len(labels) + 1, len(_SUMS)))
                    cube[sc[rows], wc[rows], vc[rows]] = vals[rows]
                    frames.append(_cube_frame(cube, m, seg, stage_ids, wave_labels, labels, shift))
            return _concat_sums(frames)
        finally:
            con.close()


# ==================================================================================================
# Other aggregates
# ==================================================================================================
def weighted_corr(ds: Dataset, columns: Sequence[str], weights: str | None = None,
                  condition: str = "", params: Sequence[Any] = ()) -> np.ndarray:
    """Weighted Pearson correlations of ``columns``, pairwise-complete (each pair on the rows where both are
    present), as ``drivers.correlation._weighted_corr`` computes them from the data in memory: the driver models'
    input (target last). ``condition`` (SQL on the dataset's columns, values as ``?`` in ``params``)
    selects rows, e.g. one stage. Columns are centred and scaled by their mean and SD first (as in
    memory), then the pair sums Σw·1ᵢ1ⱼ, Σw·xᵢ1ⱼ, Σw·xᵢxⱼ, Σw·xᵢ²1ⱼ are one SQL aggregate."""
    cols = list(columns)
    w = "1.0" if weights is None else f"CAST({q(weights)} AS DOUBLE)"
    cond = ds.cond(condition) if condition else ""
    xs = [f"CAST({q(c)} AS DOUBLE)" for c in cols]
    mom = ds.sql(", ".join(f"avg({x}) AS m{i}, stddev_pop({x}) AS s{i}" for i, x in enumerate(xs)), cond, params)
    centre = [float(mom[f"m{i}"].iloc[0]) for i in range(len(cols))]
    scale = [float(mom[f"s{i}"].iloc[0]) for i in range(len(cols))]
    z = [f"(({x} - {c!r}) / {s if s > 0 else 1.0!r})" for x, c, s in zip(xs, centre, scale)]
    pres = [f"({x} IS NOT NULL)::DOUBLE" for x in xs]
    zz = [f"coalesce({e}, 0)" for e in z]
    m = len(cols)
    aggs = []
    for i in range(m):
        for j in range(m):
            aggs += [f"sum({w} * {pres[i]} * {pres[j]}) AS s0_{i}_{j}",
                     f"sum({w} * {zz[i]} * {pres[j]}) AS s1_{i}_{j}",
                     f"sum({w} * {zz[i]} * {zz[j]}) AS s2_{i}_{j}",
                     f"sum({w} * {zz[i]} * {zz[i]} * {pres[j]}) AS sq_{i}_{j}"]
    row = ds.sql(", ".join(aggs), cond, params).iloc[0]

    def mat(prefix: str) -> np.ndarray:
        return np.array([[float(row[f"{prefix}_{i}_{j}"]) for j in range(m)] for i in range(m)])

    S0, S1, S2, Sq = mat("s0"), mat("s1"), mat("s2"), mat("sq")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = S1 / S0
        cov = S2 / S0 - mean * mean.T
        var = Sq / S0 - mean**2
        var = np.where(var > 1e-12, var, np.nan)
        return cov / np.sqrt(var * var.T)


def counts(ds: Dataset, by: Sequence[str], condition: str = "", params: Sequence[Any] = ()) -> pd.DataFrame:
    """Rows per combination of ``by`` (e.g. theme × stage over the theme tags), column ``n``; missing keys
    are kept as NaN. Sorted by the keys."""
    keys = ", ".join(q(b) for b in by)
    out = ds.sql(f"{keys}, count(*) AS n", (ds.cond(condition) if condition else "") + f" GROUP BY {keys}",
                 params)
    return out.sort_values(list(by), kind="stable", na_position="last").reset_index(drop=True)


def join_odata(ds: Dataset, odata: str | Path, out: str | Path, on: str = "customer_id",
               columns: Sequence[str] = ()) -> Dataset:
    """The rows of ``ds`` with the O-data's ``columns`` (parquet, one row per customer) joined on ``on``,
    written to the parquet file ``out`` by DuckDB (a left join that spills to disk when the tables do not fit
    in memory; responses without a match get NULL). Returns the joined rows as a :class:`Dataset`."""
    con = connect()
    try:
        frm, p = ds._from()
        oc = "".join(f", o.{q(c)}" for c in columns)
        con.execute(f"COPY (SELECT r.*{oc} FROM (SELECT * {frm}) r LEFT JOIN read_parquet(?) o "
                    f"ON r.{q(on)} = o.{q(on)}) TO '{_literal(out)}' (FORMAT parquet)", [*p, str(odata)])
    finally:
        con.close()
    return Dataset(out)


def _may_match(rg: Any, names: list[str], filters: Sequence[tuple[str, str | tuple[str, ...]]]) -> bool:
    """False when a row group's min/max statistics show that no row can meet every filter (equal its value or
    one of its values; text columns only; without statistics, or for other types, the row group is read)."""
    for c, v in filters:
        if c not in names:
            continue
        st = rg.column(names.index(c)).statistics
        if st is None or not st.has_min_max or not isinstance(st.min, str) or not isinstance(st.max, str):
            continue
        if not any(st.min <= x <= st.max for x in ([v] if isinstance(v, str) else v)):
            return False
    return True


def _literal(path: str | Path) -> str:
    """A path as the inside of a SQL string literal (COPY … TO takes no parameter)."""
    return str(path).replace("'", "''")
