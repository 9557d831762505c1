"""What every view shares: the result-table type, footnote inputs (base, weighting), period, labels, I/O."""


from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..engine import Dataset, choose
from ..packs import Pack
from ..results import save

Views = dict[str, tuple[pd.DataFrame, dict[str, Any]]]


def show(views: Views, name: str, rows: int = 20):
    """A result table for display in a notebook, or a sentence saying why there is none."""
    if name not in views:
        return f"no {name!r} result: not enough data or not configured in this pack"
    return views[name][0].head(rows)


#: the columns the text views read (:func:`cemkit.views.text_views`): the text notebook reads only these — no
#: ids or dates (a large run's reporting and comparison waves would hold millions of them for nothing)
TEXT_COLUMNS = ("wave", "stage", "nps", "comment", "weight")


def read_responses(run_dir: str | Path, comments: bool = True, engine: str = "pandas",
                   columns: Sequence[str] | None = None) -> pd.DataFrame | Dataset:
    """The run's clean response table (``data/responses.parquet``, written by the data-check notebook).
    ``comments=False`` leaves out the verbatim column — the largest by far, needed only by the text and
    action notebooks — which saves memory and about a second of reading on a million responses;
    ``columns`` reads only those (the ones the table has), e.g. :data:`TEXT_COLUMNS`.

    ``engine="duckdb"`` returns a :class:`cemkit.engine.Dataset` instead (nothing read into memory: the
    views that take one compute through DuckDB, with the same numbers); ``"auto"`` does so from
    :data:`cemkit.engine.THRESHOLD` rows (counted from the parquet footer)."""
    path = Path(run_dir) / "data" / "responses.parquet"
    if engine != "pandas":
        import pyarrow.parquet as pq

        if choose(engine, pq.ParquetFile(path).metadata.num_rows) == "duckdb":
            return Dataset(path)
    if comments and columns is None:
        return pd.read_parquet(path)
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    keep = [c for c in names if c in columns] if columns is not None else names
    return pd.read_parquet(path, columns=[c for c in keep if comments or c != "comment"])


def read_odata(run_dir: str | Path, responses: pd.DataFrame | Dataset) -> pd.DataFrame | str | None:
    """The run's O-data (``data/odata.parquet``, one row per customer): a DataFrame beside a DataFrame of
    responses; beside a :class:`cemkit.engine.Dataset` (a large run) the file's path — the model reads the
    rows it needs batch by batch (:func:`cemkit.predict.fit_predict`); None when the run has no O-data."""
    path = Path(run_dir) / "data" / "odata.parquet"
    if not path.exists():
        return None
    return str(path) if isinstance(responses, Dataset) else pd.read_parquet(path)


def odata_customers(odata: pd.DataFrame | str | Path | None) -> int:
    """Rows of the O-data: a DataFrame's, a parquet file's (from its footer), 0 for None."""
    if odata is None:
        return 0
    if isinstance(odata, pd.DataFrame):
        return len(odata)
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(odata).metadata.num_rows)


def wave_rows(df: pd.DataFrame | Dataset, waves: Any, columns: Sequence[str], with_compare: bool = True) -> pd.DataFrame:
    """The rows of the reporting wave and, with ``with_compare``, of the comparison wave (``waves``: a
    :class:`~cemkit.views.Waves`) with ``columns`` (those present), their index their position in the whole
    table — the ``row`` the theme tags name. A :class:`cemkit.engine.Dataset` is read once, batch by batch:
    only those waves' rows are ever held."""
    if not isinstance(df, Dataset):
        df = df.reset_index(drop=True)
        return df.loc[waves.mask(df, with_compare=with_compare), [c for c in columns if c in df]]
    labels = [waves.report] + ([waves.compare] if with_compare and waves.compare is not None else [])
    return df.to_pandas(columns, positions=True, any_of=None if waves.pooled else ("wave", labels))


def frame(df: pd.DataFrame | Dataset, columns: Sequence[str]) -> pd.DataFrame:
    """The rows as a pandas DataFrame for an analysis that needs rows (a model, a bootstrap): a DataFrame as
    it is; a :class:`cemkit.engine.Dataset` read with only ``columns`` (those it has), in the files' order."""
    if isinstance(df, Dataset):
        return df.to_pandas(list(columns))
    return df


def save_all(run_dir: str | Path, views: Views) -> list[str]:
    for name, (table, meta) in views.items():
        save(run_dir, name, table, meta)
    return list(views)


def weight_column(df: pd.DataFrame) -> str | None:
    """``"weight"`` when the responses are weighted (a weight column with a value other than 1), else None."""
    if isinstance(df, Dataset):
        return df.weight_column()
    return "weight" if "weight" in df and df["weight"].notna().any() and (df["weight"] != 1).any() else None


def base_meta(df: pd.DataFrame, pack: Pack, lang: str, **extra: Any) -> dict[str, Any]:
    """The footnote inputs every data slide carries: base n (and weighted effective n), weighting, rules."""
    n = len(df)
    meta: dict[str, Any] = {"base": {"n": n}}
    w = weight_column(df)
    if w and isinstance(df, Dataset):
        meta["base"]["n_eff"] = df.kish_base(w)
        meta["weighting"] = {"zh": "已加权", "en": "weighted"}[lang]
    elif w:
        ww = df[w].to_numpy(dtype=float)
        meta["base"]["n_eff"] = float(ww.sum() ** 2 / (ww**2).sum())
        meta["weighting"] = {"zh": "已加权", "en": "weighted"}[lang]
    meta["base_rule"] = {"suppress_below": pack.rules.suppress_below, "caution_below": pack.rules.caution_below}
    meta.update(extra)
    return meta


def period_of(df: pd.DataFrame) -> str:
    waves = sorted(str(w) for w in df["wave"].dropna().unique()) if "wave" in df else []
    if not waves:
        return ""
    return waves[0] if len(waves) == 1 else f"{waves[0]}–{waves[-1]}"


def _label(value: Any) -> dict[str, str]:
    """A fact that names something, in both languages (the title formatter picks one)."""
    if hasattr(value, "zh"):
        return {"zh": value.zh, "en": value.en}
    return {"zh": str(value), "en": str(value)}


#: rows :func:`write_csv` converts at a time
CSV_ROWS = 200_000


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """A CSV that Excel opens with Chinese intact (UTF-8 with BOM), written by pyarrow (fast at 1M rows).
    Every text cell goes through :func:`formula_safe`: nothing a client typed runs as a formula."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, "wb") as fh:
        fh.write("\ufeff".encode("utf-8"))
        for start in range(0, max(len(table), 1), CSV_ROWS):  # a copy of one part at a time, not the table
            frame = table.iloc[start:start + CSV_ROWS].copy()
            for col in frame.columns:  # lists / mixed objects → text; categories of texts → texts
                if isinstance(frame[col].dtype, pd.CategoricalDtype):
                    frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
                if frame[col].dtype == object:
                    frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str) else str(v))
                if frame[col].dtype == object or isinstance(frame[col].dtype, pd.StringDtype):
                    frame[col] = formula_safe(frame[col])
            pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), fh,
                            pacsv.WriteOptions(include_header=start == 0))
    return Path(path)


#: what makes a spreadsheet read a CSV cell as a formula (OWASP "CSV Injection"): = + - @ TAB CR first
_FORMULA_START = r"^[=+\-@\t\r]"


def formula_safe(texts: pd.Series) -> pd.Series:
    """Text cells a spreadsheet would run as a formula — starting with ``=``, ``+``, ``-``, ``@``, TAB or CR
    — prefixed with a single quote, as the OWASP CSV-injection guidance says; a cell that is a number
    (``-5``, ``+3.2``) stays as it is. Missing values stay missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..arrowtext import arrow, flat

    s = texts if isinstance(texts.dtype, pd.StringDtype) else texts.astype("str")
    if not len(s):
        return s
    arr = flat(arrow(s))
    hit = pc.fill_null(pc.match_substring_regex(arr, _FORMULA_START), False)
    rows = np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))
    if not rows.size:
        return s
    keep = np.zeros(len(arr), dtype=bool)
    new: list[str] = []
    for r, text in zip(rows, arr.take(pa.array(rows)).to_pylist()):
        try:
            float(text)
        except ValueError:
            keep[r] = True
            new.append("'" + text)
    if not new:
        return s
    out = pc.replace_with_mask(arr, pa.array(keep), pa.array(new, arr.type)).to_pandas()
    out.index = s.index
    return out.astype("str")
