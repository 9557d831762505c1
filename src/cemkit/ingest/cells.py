"""Cell-level helpers every step of ingest shares: any cell as text (spreadsheet and SPSS values, header
cells as unique names), NFKC and comparison keys, the tokens that mean "missing", blank cells, and work on
the distinct values of a text column (factorise once, map, take back).
Also where ingest's data files are (:data:`DATA_DIR`) and how many threads clean columns (:data:`_THREADS`)."""

from __future__ import annotations

import datetime as dt
import math
import os
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowtext import arrow

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "—", "/", "#n/a",
                            "(跳过)", "(空)", "跳过", "(skipped)"})
#: data files shipped with cemkit: label scales (label_scales.yaml) and what platforms add to an export
#: (platforms.yaml: platform synonyms, platform columns, summary-row words, second-header-row words)
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
_THREADS = max(
    1, min(8, os.cpu_count() or 1)
)  # column cleaning runs on a thread pool (Arrow releases the GIL)


def _blank(s: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per cell: missing, empty or whitespace only (Arrow kernels for Arrow-backed text)."""
    if isinstance(s, pd.Series) and not isinstance(s.array, pd.arrays.ArrowStringArray):
        return (s.isna() | s.astype("str").str.strip().eq("")).to_numpy(dtype=bool, na_value=True)
    a = pa.array(s.array) if isinstance(s, pd.Series) else s
    b = pc.or_(
        pc.or_(pc.is_null(a), pc.fill_null(pc.equal(a, ""), True)), pc.fill_null(pc.utf8_is_space(a), True)
    )
    return np.asarray(b.to_numpy(zero_copy_only=False), dtype=bool)


def _filled(df: pd.DataFrame) -> np.ndarray:
    """Per row: does any cell hold something other than whitespace?"""
    out = np.zeros(len(df), dtype=bool)
    for c in df.columns:
        out |= ~_blank(df[c])
    return out


def _nfkc(v: str) -> str:
    return unicodedata.normalize("NFKC", v).strip()


def _key(v: str) -> str:
    """Comparison key: NFKC, case-folded, without whitespace, punctuation and symbols."""
    s = unicodedata.normalize("NFKC", str(v)).casefold()
    return "".join(ch for ch in s if unicodedata.category(ch)[0] not in "PSZC")


def _distinct(s: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 = missing) and distinct values of a column: cleaning works on distinct values."""
    if isinstance(s.array, pd.arrays.ArrowStringArray):
        d = pc.dictionary_encode(pa.array(s.array))
        if isinstance(d, pa.ChunkedArray):
            d = d.combine_chunks()
        return pc.fill_null(d.indices, -1).to_numpy(zero_copy_only=False), d.dictionary.to_pylist()
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes, list(uniques)


def _series(arr: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    out = arr.to_pandas()
    if index is not None:
        out.index = index
    return out.astype("str")


def _strip_text(s: pd.Series, skip: tuple[str, ...] = ()) -> pd.Series:
    """Trim whitespace; empty (or one of ``skip``) → missing (Arrow kernels, no Python per row)."""
    a = pc.utf8_trim_whitespace(arrow(s))
    gone = pc.equal(a, "")
    if skip:
        gone = pc.or_(gone, pc.is_in(a, value_set=pa.array(skip, a.type)))
    return _series(pc.if_else(gone, pa.scalar(None, a.type), a), s.index)


def _map_text(s: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    """Apply ``fn`` to each distinct value of a text column (Arrow dictionary encoding, then a take), so a
    million rows with a few hundred distinct values cost a few hundred calls. Missing stays missing."""
    d = pc.dictionary_encode(arrow(s))
    if isinstance(d, pa.ChunkedArray):
        d = d.combine_chunks()
    new = pa.array([fn(v) for v in d.dictionary.to_pylist()], pa.large_string())
    return _series(new.take(d.indices), s.index)


def _take(values: list[Any] | np.ndarray, codes: np.ndarray, missing: Any, dtype: Any = object) -> np.ndarray:
    """``values[codes]`` with ``missing`` where the code is -1."""
    arr = np.empty(len(values) + 1, dtype=dtype)
    arr[:-1] = values
    arr[-1] = missing
    return arr[codes]  # code -1 picks the last slot


def _normalise_text(v: Any) -> str | None:
    if v is None:
        return None
    s = _nfkc(str(v))
    return None if s.casefold() in MISSING_TOKENS else s


def _cell_text(v: Any) -> Any:
    """One spreadsheet/SPSS cell as text (None stays None; 10.0 → "10"; dates ISO)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v).upper()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return None
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


def _to_text(s: pd.Series) -> pd.Series:
    """A column of any dtype as text (str dtype, NA for missing), integral floats without ``.0``."""
    if isinstance(s.dtype, pd.StringDtype):
        return s
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(object).map(_cell_text, na_action="ignore").astype("str")
    if pd.api.types.is_numeric_dtype(s.dtype):
        x = pd.to_numeric(s, errors="coerce").astype(float)
        integral = np.isfinite(x) & (np.floor(x) == x) & (np.abs(x) < 1e15)
        out = pd.Series(pd.NA, index=s.index, dtype=object)
        if integral.any():
            out[integral] = x[integral].astype("int64").astype("str")
        rest = np.isfinite(x) & ~integral
        if rest.any():
            out[rest] = x[rest].map(repr)
        return out.astype("str")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00", "", regex=False).astype("str")
    return s.astype(object).map(_cell_text, na_action="ignore").astype("str")


def _clean_names(names: Iterable[Any]) -> list[str]:
    """Header cells → unique column names (stripped; empty → ``column_<n>``; repeats → ``name.1``)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for j, v in enumerate(names):
        name = str(_cell_text(v) or "").replace("\ufeff", "").strip() or f"column_{j + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out
