"""Reading a client file into a frame of text, one reader per file suffix.

Reading (:func:`read_table`)
----------------------------
One reader per file suffix (:data:`READERS`): ``.csv .tsv .txt`` (pyarrow's multi-threaded CSV parser),
``.xlsx .xlsm`` (openpyxl), ``.sav .zsav`` (pyreadstat), ``.parquet .pq``. Every cell comes back as text
(``str`` dtype, missing = NA); cleaning converts. Delimited text: the encoding is found from a 1 MiB sample
(BOM → UTF-8-SIG/UTF-16; else strict UTF-8, then GB18030 (a superset of GBK/GB2312), then
charset-normalizer's guess, then latin-1; a later encoding is tried when the full file does not decode),
the delimiter is sniffed among ``, TAB ; |``. Spreadsheets and delimited files may carry title rows above the
header: the header is the first row whose count of filled cells reaches 60% of the widest row in the first 30
(at least 2). SPSS: value labels become the text of the cell, and ``attrs["value_codes"]`` keeps label →
code so that labelled score points (``10 = 极有可能``) still read as numbers; variable labels are offered
to column matching. Blank rows after the last data row are not rows. ``attrs`` of the returned frame:
``source, format, encoding, delimiter, sheet, sheets, header_row, first_data_row, column_labels,
value_codes, bad_rows`` (CSV rows with the wrong number of fields, quarantined as ``malformed_row``).

Row numbers: ``row`` is the row as a spreadsheet shows it, ``first_data_row + position`` (1-based, header
and title rows counted). For delimited files this equals the line number unless quoted values hold line
breaks or malformed rows were dropped earlier in the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import io
import itertools
import math
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import InputError
from .cells import _filled, _key
from .headers import _platforms

SAMPLE_BYTES = 1 << 20
HEADER_PROBE_ROWS = 30


class Reader(NamedTuple):
    """A file reader: ``read(path, sheet) -> (frame of text, attrs)``, a display name, and the exceptions
    that mean "this file cannot be read" (turned into one InputError sentence)."""

    read: Callable[[Path, str | int | None], tuple[pd.DataFrame, dict[str, Any]]]
    kind: str
    errors: tuple[type[BaseException], ...]


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


def _header_index(rows: list[list[Any]]) -> int:
    """Index of the header row: the first of the first rows whose filled-cell count reaches 60% of the
    widest of them (title rows above a header fill one or two cells)."""
    counts = [sum(1 for v in r if v is not None and str(v).strip()) for r in rows[:HEADER_PROBE_ROWS]]
    if not counts or max(counts) <= 1:
        return 0
    need = max(2, math.ceil(0.6 * max(counts)))
    return next(i for i, c in enumerate(counts) if c >= need)


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


def _trim_trailing_blank(df: pd.DataFrame) -> pd.DataFrame:
    """Drop blank rows after the last row with any value (Excel formatting left over, trailing newlines)."""
    n = len(df)
    if not n or not len(df.columns):
        return df
    step = 1024
    end = n
    while end > 0:
        start = max(0, end - step)
        filled = _filled(df.iloc[start:end])
        if filled.any():
            return df.iloc[: start + int(np.flatnonzero(filled)[-1]) + 1]
        end = start
        step *= 4
    return df.iloc[:0]


# --- delimited text -------------------------------------------------------------------------------
def _encodings(head: bytes, whole: bool) -> list[str]:
    """Encodings to try, best first: BOM, then the candidates that decode the sample strictly."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return [enc]
    fits = [enc for enc in ("utf-8", "gb18030") if _decodes(head, enc, whole)]
    if not fits:
        from charset_normalizer import from_bytes

        best = from_bytes(head).best()
        if best is not None and best.encoding not in ("utf_8", "ascii"):
            fits.append(best.encoding)
    return list(dict.fromkeys([*fits, "utf-8", "gb18030", "latin-1"]))


def _decodes(data: bytes, enc: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(enc)(errors="strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _sniff(text: str, suffix: str) -> tuple[str, int, list[list[str]]]:
    """Delimiter, header row index and the parsed sample rows of a delimited text sample."""
    order = ["\t", ",", ";", "|"] if suffix == ".tsv" else [",", "\t", ";", "|"]
    best: tuple[tuple[float, int], str, int, list[list[str]]] | None = None
    for delim in order:
        rows = list(itertools.islice(csv.reader(io.StringIO(text, newline=""), delimiter=delim), 200))
        if not rows:
            return ",", 0, []
        h = _header_index(rows)
        width = len(rows[h])
        body = rows[h + 1 :]
        consistent = (sum(len(r) == width for r in body) / len(body)) if body else 1.0
        score = (consistent if width > 1 else -1.0, width)
        if best is None or score > best[0]:
            best = (score, delim, h, rows)
    assert best is not None
    return best[1], best[2], best[3]


def _read_delimited(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    whole = len(head) < SAMPLE_BYTES
    if not whole:  # cut at the last line break so the sample ends on a whole row
        cut = head.rfind(b"\n")
        head = head[: cut + 1] if cut > 0 else head
    tried: list[str] = []
    for enc in _encodings(head, whole):
        try:
            text = codecs.getincrementaldecoder(enc)(errors="strict").decode(head, final=True)
        except UnicodeDecodeError:
            tried.append(enc)
            continue
        delim, h, rows = _sniff(text, path.suffix.lower())
        if not rows:
            raise InputError(f"{path.name}: the file is empty (no header row).")
        body = [len(r) for r in rows[h + 1 :]]
        # rows wider than the header (a trailing delimiter on every data row) get extra columns; the width
        # most data rows have decides, so one malformed row cannot shift the rest
        width = max(len(rows[h]), max(set(body), key=body.count) if body else 0)
        names = _clean_names(list(rows[h]) + [None] * (width - len(rows[h])))
        try:
            table, bad = _arrow_csv(
                path, "utf8" if enc in ("utf-8", "utf-8-sig") else enc, delim, h + 1, names
            )
        except UnicodeDecodeError:
            tried.append(enc)
            continue
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "decode" in str(exc).lower():
                tried.append(enc)
                continue
            raise
        df = table.to_pandas(split_blocks=True, self_destruct=True)
        df = df.apply(_to_text) if any(not isinstance(t, pd.StringDtype) for t in df.dtypes) else df
        attrs = {
            "encoding": enc,
            "delimiter": delim,
            "header_row": h + 1,
            "first_data_row": h + 2,
            "bad_rows": bad,
        }
        return df, attrs
    raise InputError(f"{path.name}: cannot decode the text (tried {', '.join(tried)}); save it as UTF-8 CSV.")


def _arrow_csv(path: Path, enc: str, delim: str, skip: int, names: list[str]) -> tuple[pa.Table, list[dict]]:
    """Parse with pyarrow: every column as text, "" as missing, blank lines kept (they are rows), rows with
    the wrong number of fields collected. First without quoted line breaks (faster); again with them when
    that fails or finds malformed rows."""
    for newlines in (False, True):
        bad: list[dict] = []

        def handler(row, bad=bad) -> str:
            bad.append(
                {
                    "row": row.number,
                    "text": row.text,
                    "fields": row.actual_columns,
                    "expected": row.expected_columns,
                }
            )
            return "skip"

        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(
                    encoding=enc, column_names=names, skip_rows=skip, block_size=4 << 20
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delim,
                    newlines_in_values=newlines,
                    ignore_empty_lines=False,
                    invalid_row_handler=handler,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as exc:
            if newlines or "UTF8" in str(exc):
                raise
            continue
        if not bad or newlines:
            return table, bad
    raise AssertionError("unreachable")


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
    df = pd.read_parquet(path)
    df.columns = _clean_names(df.columns)
    return df.apply(_to_text) if len(df.columns) else df, {"header_row": 1, "first_data_row": 2}


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
    ".csv": Reader(_read_delimited, "CSV", _ERR["csv"]),
    ".tsv": Reader(_read_delimited, "TSV", _ERR["csv"]),
    ".txt": Reader(_read_delimited, "delimited text", _ERR["csv"]),
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
    df = _trim_trailing_blank(df)
    df, attrs = _import_id_rows(df, attrs)
    df, attrs = _subheader_row(df, attrs)
    df.attrs = {
        "source": path.name,
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
