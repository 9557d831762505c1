"""Reading a client file into a frame of text, one reader per file suffix.

Reading (:func:`read_table`)
----------------------------
One reader per file suffix (:data:`READERS`): ``.csv .tsv .txt`` (:mod:`cemkit.ingest.delimited`: the
encoding decided from the whole file, mixed GBK/UTF-8 files decoded line by line, binary input refused in
one sentence; pyarrow's multi-threaded CSV parser), ``.xlsx .xlsm`` (openpyxl), ``.sav .zsav`` (pyreadstat),
``.parquet .pq``. Every cell comes back as text (``str`` dtype, missing = NA); cleaning converts. Spreadsheets
and delimited files may carry title rows above the header: the header is the first row whose count of filled
cells reaches 60% of the widest row in the first 30 (at least 2). SPSS: value labels become the text of the
cell, and ``attrs["value_codes"]`` keeps label → code so that labelled score points (``10 = 极有可能``) still
read as numbers; variable labels are offered to column matching. Blank rows after the last data row are not
rows. ``attrs`` of the returned frame: ``source, format, encoding, encoding_lines_redecoded, delimiter,
sheet, sheets, header_row, first_data_row, column_labels, value_codes, bad_rows`` (records with the wrong
number of fields, quarantined as ``malformed_row`` with their own row and line), ``rows`` and ``lines``.

Row numbers: ``attrs["rows"][i]`` is the row a spreadsheet shows for frame row ``i`` (1-based; title rows,
the header and the header rows below it counted), ``attrs["lines"][i]`` the line an editor shows where it
starts (the same but in delimited text after a quoted cell with line breaks); both stay true after ragged
records, which are not frame rows (see :mod:`cemkit.ingest.delimited`).
"""

from __future__ import annotations

import csv
import difflib
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InputError
from ..privacy import file_name
from .cells import _cell_text, _clean_names, _filled, _key, _to_text
from .delimited import read_delimited
from .headers import _header_index, _platforms


class Reader(NamedTuple):
    """A file reader: ``read(path, sheet) -> (frame of text, attrs)``, a display name, and the exceptions
    that mean "this file cannot be read" (turned into one InputError sentence)."""

    read: Callable[[Path, str | int | None], tuple[pd.DataFrame, dict[str, Any]]]
    kind: str
    errors: tuple[type[BaseException], ...]


def _frame(rows: list[tuple], header: int) -> tuple[pd.DataFrame, list[str]]:
    """Rows of cells (header at index ``header``) → text frame with clean, unique column names."""
    width = max((len(r) for r in rows), default=0)
    head = list(rows[header]) + [None] * (width - len(rows[header])) if rows else []
    names = _clean_names(head)
    body = [tuple(r) + (None,) * (width - len(r)) for r in rows[header + 1 :]]
    df = (
        pd.DataFrame(body, columns=names, dtype=object) if body else pd.DataFrame(columns=names, dtype=object)
    )
    return df.apply(_to_text) if len(df.columns) else df, names


def _trim_trailing_blank(df: pd.DataFrame, keep: int = 0) -> pd.DataFrame:
    """Drop blank rows after the last row with any value (Excel formatting left over, trailing newlines),
    but never the first ``keep`` rows (blank rows with a ragged record after them are rows of the file)."""
    n = len(df)
    if not n or not len(df.columns) or keep >= n:
        return df
    step = 1024
    end = n
    while end > 0:
        start = max(0, end - step)
        filled = _filled(df.iloc[start:end])
        if filled.any():
            return df.iloc[: max(keep, start + int(np.flatnonzero(filled)[-1]) + 1)]
        end = start
        step *= 4
    return df.iloc[:keep]


# --- spreadsheets, SPSS, parquet ------------------------------------------------------------------
def _read_xlsx(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = list(wb.sheetnames)
        ws = wb[_pick_sheet(path, wb, names, sheet)]
        rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        raise InputError(f"{path.name}: sheet {ws.title!r} is empty (no header row).")
    h = _header_index(rows)
    df, _ = _frame(rows, h)
    return df, {"sheet": ws.title, "sheets": names, "header_row": h + 1, "first_data_row": h + 2}


def _pick_sheet(path: Path, wb: Any, names: list[str], sheet: str | int | None) -> str:
    """The sheet asked for (name or 0-based index); by default the one with the most cells."""
    if sheet is None:

        def size(n: str) -> int:
            ws = wb[n]
            return int(ws.max_row or 0) * int(ws.max_column or 0)

        return max(names, key=size)
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if 0 <= sheet < len(names):
            return names[sheet]
        raise InputError(f"{path.name}: has no sheet number {sheet} (sheets: {', '.join(names)}).")
    if str(sheet) in names:
        return str(sheet)
    close = difflib.get_close_matches(str(sheet), names, n=1, cutoff=0)
    raise InputError(
        f"{path.name}: has no sheet {sheet!r} (closest: {close[0]!r}; sheets: {', '.join(names)})."
    )


def _read_sav(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    import pyreadstat

    df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    out = pd.DataFrame({c: _to_text(df[c]) for c in df.columns}, index=df.index)
    value_codes: dict[str, dict[str, str]] = {}
    for col, labels in (meta.variable_value_labels or {}).items():
        if col not in out.columns or not labels:
            continue
        code_text = {_cell_text(k): str(v) for k, v in labels.items()}
        out[col] = out[col].map(lambda v, m=code_text: m.get(v, v), na_action="ignore").astype("str")
        value_codes[col] = {lab: code for code, lab in code_text.items()}
    col_labels = {c: str(lab) for c, lab in (meta.column_names_to_labels or {}).items() if lab}
    return out, {
        "column_labels": col_labels,
        "value_codes": value_codes,
        "header_row": 1,
        "first_data_row": 2,
    }


def _read_parquet(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    import pyarrow.parquet as pq

    from .sources import parquet_columns, parquet_frame

    table = pq.read_table(path)
    keep, names = parquet_columns(table.schema)
    return parquet_frame(table, keep, names), {"header_row": 1, "first_data_row": 2}


def _reader_errors() -> dict[str, tuple[type[BaseException], ...]]:
    """Exceptions that mean "this file cannot be read as <format>", per format."""
    import pyreadstat
    from openpyxl.utils.exceptions import InvalidFileException

    return {
        "csv": (pa.ArrowInvalid, csv.Error, OSError, UnicodeError),
        "excel": (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError),
        "parquet": (pa.ArrowInvalid, OSError, ValueError),
        "spss": (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError),
    }


_ERR = _reader_errors()
#: file suffix → reader (add a format with one line)
READERS: dict[str, Reader] = {
    ".csv": Reader(read_delimited, "CSV", _ERR["csv"]),
    ".tsv": Reader(read_delimited, "TSV", _ERR["csv"]),
    ".txt": Reader(read_delimited, "delimited text", _ERR["csv"]),
    ".xlsx": Reader(_read_xlsx, "Excel", _ERR["excel"]),
    ".xlsm": Reader(_read_xlsx, "Excel", _ERR["excel"]),
    ".sav": Reader(_read_sav, "SPSS", _ERR["spss"]),
    ".zsav": Reader(_read_sav, "SPSS", _ERR["spss"]),
    ".parquet": Reader(_read_parquet, "Parquet", _ERR["parquet"]),
    ".pq": Reader(_read_parquet, "Parquet", _ERR["parquet"]),
}


def data_files(items: str | Path | Iterable[str | Path], base: str | Path | None = None) -> list[Path]:
    """The files a run reads, from what ``--data`` names (repeatable): a file, a folder (the files in it that
    a reader of :data:`READERS` reads, by name; not recursive; hidden files and Office lock files ``~$…``
    skipped) or a glob pattern (``exports/2024Q*.xlsx``). Relative items are taken from ``base`` when given.
    Order: as given, each folder or pattern sorted by name; a file named twice is read once. Raises
    InputError for an item that names no readable file."""
    items = [items] if isinstance(items, (str, Path)) else list(items)
    out: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text).expanduser()
        if base is not None and not path.is_absolute():
            path = Path(base) / path
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READERS
                           and not p.name.startswith((".", "~$")))
            if not found:
                raise InputError(f"{text}: the folder holds no file cemkit reads ({', '.join(READERS)}).")
        elif any(c in text for c in "*?["):
            found = sorted(p for p in path.parent.glob(path.name) if p.is_file() and not p.name.startswith("~$"))
            if not found:
                raise InputError(f"{text}: no file matches the pattern.")
        elif path.is_file():
            found = [path]
        else:
            raise InputError(f"{text}: file not found.")
        out += [p for p in found if p.resolve() not in {q.resolve() for q in out}]
    return out


def read_table(path: str | Path, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a client file into a frame of text (every column ``str``, missing = NA). The reader is chosen by
    suffix from :data:`READERS`; ``sheet`` (name or 0-based index) picks an Excel sheet (default: largest).
    ``attrs`` describe the file (see the module docstring). Raises InputError naming the file when it is
    missing, of an unknown type or unreadable."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the export file itself (CSV, XLSX, SAV or Parquet).")
    if not path.is_file():
        raise InputError(f"{path}: file not found.")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(
            f"{path.name}: cannot read {path.suffix or 'suffix-less'} files; use one of {', '.join(READERS)}."
        )
    try:
        df, attrs = reader.read(path, sheet)
    except InputError:
        raise
    except reader.errors as exc:
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(f"{path.name}: cannot read the file as {reader.kind} ({why}).") from None
    first = int(attrs.get("first_data_row", 2))
    rows = attrs.pop("row_numbers", None)
    lines = attrs.pop("line_numbers", None)
    rows = first + np.arange(len(df)) if rows is None else np.asarray(rows)
    lines = rows if lines is None else np.asarray(lines)
    last_ragged = max((b["row"] for b in attrs.get("bad_rows") or () if b.get("row") is not None), default=0)
    df = _trim_trailing_blank(df, keep=int(np.searchsorted(rows, last_ragged)))
    df, attrs = _import_id_rows(df, attrs)
    df, attrs = _subheader_row(df, attrs)
    skipped = int(attrs.get("first_data_row", 2)) - first  # header rows found below the header
    attrs["rows"] = rows[skipped : skipped + len(df)]
    attrs["lines"] = lines[skipped : skipped + len(df)]
    df.attrs = {
        "source": file_name(path),
        "format": reader.kind,
        "encoding": None,
        "delimiter": None,
        "sheet": None,
        "sheets": None,
        "header_row": 1,
        "first_data_row": 2,
        "column_labels": {},
        "value_codes": {},
        "bad_rows": [],
        "encoding_lines_redecoded": 0,
        **attrs,
    }
    return df


def _import_id_rows(df: pd.DataFrame, attrs: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Qualtrics-style exports carry two more header rows under the header: the question texts, then
    ``{"ImportId": ...}`` per column. When the second data row is such an ImportId row, both are header,
    not data: they are dropped (the spreadsheet row numbers of the data move down by two) and the question
    texts become the column labels the mapper reads (like SPSS variable labels)."""
    if len(df) < 2:
        return df, attrs
    second = df.iloc[1].astype("string").str.strip()
    filled = second.notna() & (second != "")
    if not filled.any() or second[filled].str.startswith('{"ImportId"').mean() < 0.5:
        return df, attrs
    first = df.iloc[0].astype("string").str.strip()
    labels = {str(c): str(v) for c, v in first.items() if pd.notna(v) and v and v != str(c)}
    out = df.iloc[2:].reset_index(drop=True)
    attrs = dict(attrs)
    attrs["column_labels"] = {**labels, **(attrs.get("column_labels") or {})}
    attrs["first_data_row"] = int(attrs.get("first_data_row", 2)) + 2
    attrs["header_rows_below"] = 2
    return out, attrs


def _subheader_row(df: pd.DataFrame, attrs: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """SurveyMonkey-style exports have a second header row: under each question its answer kind
    ("Response", "Open-Ended Response"; platforms.yaml ``subheader_tokens``) or the rows of a matrix question
    (whose text stands only above its first column). When the first data row has an empty first cell and
    holds such a label, it is header: each column is named ``question - row`` (or the question alone under a
    generic label), and the data's spreadsheet row numbers move down by one."""
    if not len(df) or len(df.columns) < 2 or attrs.get("header_rows_below"):
        return df, attrs
    first = df.iloc[0]
    cells = {c: str(v).strip() for c, v in first.items() if pd.notna(v) and str(v).strip()}
    tokens = _platforms()["subheader"]
    if df.columns[0] in cells or not any(_key(v) in tokens for v in cells.values()):
        return df, attrs
    names: list[str] = []
    stem = None
    for c in df.columns:
        blank = re.fullmatch(r"column_\d+", str(c)) is not None  # an empty header cell (a merged question)
        top = stem if blank and stem else str(c)
        stem = top
        sub = cells.get(c, "")
        names.append(top if not sub or _key(sub) in tokens else f"{top} - {sub}")
    out = df.iloc[1:].reset_index(drop=True)
    out.columns = _clean_names(names)
    attrs = dict(attrs)
    attrs["first_data_row"] = int(attrs.get("first_data_row", 2)) + 1
    attrs["header_rows_below"] = 1
    return out, attrs
