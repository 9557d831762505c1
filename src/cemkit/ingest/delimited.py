"""Delimited text (``.csv .tsv .txt``): the encoding, the delimiter, the header, and every record's true
spreadsheet row and editor line.

Encoding — decided from the whole file, never from a sample alone
-----------------------------------------------------------------
1. A byte-order mark: UTF-8 or UTF-16.
2. Not text at all — a zip (an .xlsx saved as .csv), OLE (.xls), PDF, image, Parquet or SPSS signature, or
   more than 1% NUL and control bytes in the first MiB — is refused in one sentence that says so.
3. UTF-8, validated over the whole file by pyarrow while it parses (the fast path).
4. Otherwise the file is read whole and decoded line by line: UTF-8 where the line is valid UTF-8, else
   GB18030 (a superset of GBK and GB2312). When every non-ASCII line is GB18030 the encoding is
   ``gb18030``; when both occur — a GBK export with UTF-8 records appended, a merged file — it is
   ``gb18030+utf-8`` (or ``utf-8+gb18030``, the majority first) and ``lines_redecoded`` counts the lines of
   the minority encoding (``accounting["encoding_lines_redecoded"]``).
5. A line that is neither: charset-normalizer's guess, if it decodes the whole file strictly (a Western
   cp1252 export); else the file is refused with the number of that line.
Nothing falls back to latin-1, which "decodes" any bytes into garbage.

Rows and lines
--------------
``row`` is the row a spreadsheet shows for a record (the first record of the file is row 1: title rows
and the header count), ``line`` the line an editor shows where the record starts (they differ after a
quoted cell with line breaks). A record with the wrong number of fields (a ragged line) is not data: it is
returned in ``bad_rows`` with its own row, line, field count and text, and the records after it keep
their true numbers. The numbers cost nothing on a regular file: only when the file's line count differs
from its record count are the line breaks inside cells counted, and only when pyarrow found ragged records
is the file read a second time, by Python's csv module, to place them.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError
from .cells import _clean_names, _to_text
from .headers import _header_index

SAMPLE_BYTES = 1 << 20
#: leading bytes of files that are not text, and what they are
_SIGNATURES = {
    b"PK\x03\x04": "a zip archive — an Excel workbook (.xlsx) saved under a .csv name?",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or other Office file",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PAR1": "a Parquet file (name it .parquet)",
    b"$FL2": "an SPSS file (name it .sav)",
    b"$FL3": "an SPSS file (name it .zsav)",
}
_CONTROL_BYTES = bytes([*range(9), *range(14, 32), 127])
#: a run of UTF-8 encoded CJK characters between ASCII bytes: what a UTF-8 line in a GBK file looks like
_UTF8_RUN = re.compile(rb"(?:^|[\x00-\x7f])(?:[\xe3-\xe9][\x80-\xbf]{2})+(?:[\x00-\x7f]|$)", re.MULTILINE)


def _not_text(head: bytes) -> str | None:
    """What the file is when it is not text (None when it may be text)."""
    for sig, what in _SIGNATURES.items():
        if head.startswith(sig):
            return what
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return "binary data, not text" if head and controls > max(8, len(head) // 100) else None


def _decodes(data: bytes, enc: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(enc)(errors="strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _decode_lines(raw: bytes, name: str) -> tuple[str, str, int]:
    """Decode a file that is not UTF-8 as a whole: (text, encoding label, lines in the minority encoding).
    See the module docstring (steps 4 and 5)."""
    if not _UTF8_RUN.search(raw):  # no line can be UTF-8: one strict decode at C speed
        try:
            return raw.decode("gb18030"), "gb18030", 0
        except UnicodeDecodeError:
            pass
    parts: list[str] = []
    n_utf8 = n_gb = 0
    for i, line in enumerate(raw.split(b"\n")):
        if line.isascii():
            parts.append(line.decode("ascii"))
            continue
        try:
            parts.append(line.decode("utf-8"))
            n_utf8 += 1
            continue
        except UnicodeDecodeError:
            pass
        try:
            parts.append(line.decode("gb18030"))
            n_gb += 1
        except UnicodeDecodeError:
            return _other_encoding(raw, name, i + 1)
    text = "\n".join(parts)
    if not n_gb:
        return text, "utf-8", 0
    if not n_utf8:
        return text, "gb18030", 0
    label = "gb18030+utf-8" if n_gb >= n_utf8 else "utf-8+gb18030"
    return text, label, min(n_gb, n_utf8)


def _other_encoding(raw: bytes, name: str, line: int) -> tuple[str, str, int]:
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:SAMPLE_BYTES]).best()
    if best is not None and best.encoding not in ("utf_8", "ascii", "gb18030", "gbk", "gb2312"):
        try:
            return raw.decode(best.encoding), best.encoding, 0
        except (UnicodeDecodeError, LookupError):
            pass
    raise InputError(f"{name}: line {line} is neither UTF-8 nor GBK text (and no other encoding reads the whole "
                     "file); save the export as UTF-8 CSV.")


def sniff(text: str, suffix: str) -> tuple[str, int, list[list[str]], int]:
    """Delimiter, header record index, the parsed sample records, and the editor line where the first data
    record starts."""
    order = ["\t", ",", ";", "|"] if suffix == ".tsv" else [",", "\t", ";", "|"]
    best: tuple[tuple[float, int], str, int, list[list[str]]] | None = None
    for delim in order:
        rows = list(itertools.islice(csv.reader(io.StringIO(text, newline=""), delimiter=delim), 200))
        if not rows:
            return ",", 0, [], 1
        h = _header_index(rows)
        width = len(rows[h])
        body = rows[h + 1 :]
        consistent = (sum(len(r) == width for r in body) / len(body)) if body else 1.0
        score = (consistent if width > 1 else -1.0, width)
        if best is None or score > best[0]:
            best = (score, delim, h, rows)
    assert best is not None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=best[1])
    for _ in itertools.islice(reader, best[2] + 1):
        pass
    return best[1], best[2], best[3], reader.line_num + 1


def read_head(path: Path) -> tuple[bytes, bool]:
    """The file's first :data:`SAMPLE_BYTES`, cut at the last line break so the sample ends on a whole row,
    and whether that is the whole file; InputError when the file is not text."""
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    what = _not_text(head)
    if what:
        raise InputError(f"{path.name} is not a text file ({what}); give the survey export as CSV (UTF-8), "
                         "XLSX, SAV or Parquet.")
    whole = len(head) < SAMPLE_BYTES
    if not whole:
        cut = head.rfind(b"\n")
        head = head[: cut + 1] if cut > 0 else head
    return head, whole


def read_delimited(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The reader of delimited text (see the module docstring): a frame of text and its attrs, with
    ``row_numbers`` / ``line_numbers`` (one per frame row) when they are not simply consecutive."""
    head, whole = read_head(path)
    redecoded = 0
    text: str | None = None
    if head.startswith(codecs.BOM_UTF8):
        enc, arrow_enc = "utf-8-sig", "utf8"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = arrow_enc = "utf-16"
    elif _decodes(head, "utf-8", whole):
        enc, arrow_enc = "utf-8", "utf8"
    else:
        enc = arrow_enc = ""
    sample = head.decode(enc, errors="replace") if enc else ""  # for the delimiter and header only
    table = None
    if enc:
        delim, h, rows, first_line = sniff(sample, path.suffix.lower())
        if not rows:
            raise InputError(f"{path.name}: the file is empty (no header row).")
        names = _names(rows, h, _clean_names)
        try:
            table, bad = _arrow_csv(path, arrow_enc, delim, h + 1, names)
        except pa.ArrowInvalid as exc:  # not UTF-8 after all (past the sample): decode it line by line
            if "UTF8" not in str(exc) and "decode" not in str(exc).lower():
                raise
            table = None
        except UnicodeDecodeError:
            table = None
    if table is None:
        text, enc, redecoded = _decode_lines(path.read_bytes(), path.name)
        delim, h, rows, first_line = sniff(text[:SAMPLE_BYTES], path.suffix.lower())
        if not rows:
            raise InputError(f"{path.name}: the file is empty (no header row).")
        names = _names(rows, h, _clean_names)
        table, bad = _arrow_csv(pa.BufferReader(text.encode("utf-8")), "utf8", delim, h + 1, names)
    rows_no, lines_no, bad = _numbers(table, bad, path, text, enc, delim, h, first_line, len(names))
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    df = df.apply(_to_text) if any(not isinstance(t, pd.StringDtype) for t in df.dtypes) else df
    attrs = {
        "encoding": enc,
        "encoding_lines_redecoded": redecoded,
        "delimiter": delim,
        "header_row": h + 1,
        "first_data_row": h + 2,
        "bad_rows": bad,
        "row_numbers": rows_no,
        "line_numbers": lines_no,
    }
    return df, attrs


def _names(rows: list[list[str]], h: int, clean) -> list[str]:
    body = [len(r) for r in rows[h + 1 :]]
    # rows wider than the header (a trailing delimiter on every data row) get extra columns; the width most
    # data rows have decides, so one malformed row cannot shift the rest
    width = max(len(rows[h]), max(set(body), key=body.count) if body else 0)
    return clean(list(rows[h]) + [None] * (width - len(rows[h])))


def _arrow_csv(source: Any, enc: str, delim: str, skip: int, names: list[str]) -> tuple[pa.Table, list[dict]]:
    """Parse with pyarrow: every column as text, "" as missing, blank lines kept (they are rows), records
    with the wrong number of fields collected (their place is found by :func:`_numbers`)."""
    bad: list[dict] = []

    def handler(row) -> str:
        bad.append({"text": row.text, "fields": row.actual_columns, "expected": row.expected_columns})
        return "skip"

    table = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(encoding=enc, column_names=names, skip_rows=skip, block_size=4 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True, ignore_empty_lines=False,
                                         invalid_row_handler=handler),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), null_values=[""],
                                             strings_can_be_null=True, quoted_strings_can_be_null=True),
    )
    return table, bad


def _count_newlines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(16 << 20):
            n += chunk.count(b"\n")
    return n


def _numbers(table: pa.Table, bad: list[dict], path: Path, text: str | None, enc: str, delim: str, h: int,
             first_line: int, width: int) -> tuple[np.ndarray | None, np.ndarray | None, list[dict]]:
    """Spreadsheet rows and editor lines of the table's records (None: consecutive from the first data
    row/line) and the ragged records with theirs. See the module docstring."""
    n = table.num_rows
    first_row = h + 2
    if bad:  # where the ragged records were: read the records again with Python's csv module
        if text is None:  # newline="": line ends as they are (read_text would turn a lone CR into a line)
            with open(path, encoding=enc if enc in ("utf-8-sig", "utf-16") else "utf-8", errors="replace",
                      newline="") as fh:
                text = fh.read()
        return _placed(text, delim, h, width, n, bad)
    breaks = text.count("\n") if text is not None else _count_newlines(path)
    if breaks - (first_line - 1) in (n, n - 1):  # one line per record: rows and lines are consecutive
        rows = None
        lines = None if first_line == first_row else first_line + np.arange(n)
        return rows, lines, bad
    extra = np.zeros(n, dtype=np.int64)  # line breaks inside the cells of each record
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            counts = pc.fill_null(pc.count_substring(col, "\n"), 0)
            extra += np.asarray(counts.to_numpy(), dtype=np.int64)
    starts = first_line + np.concatenate([[0], np.cumsum(1 + extra)[:-1]]) if n else np.zeros(0, np.int64)
    return None, starts.astype(np.int64), bad


def _placed(text: str, delim: str, h: int, width: int, n: int,
            bad_arrow: list[dict]) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Rows and lines of every record from one pass of Python's csv module; the ragged ones returned as bad
    rows with their own numbers and text."""
    physical = text.split("\n")
    lf = [0]  # LFs read so far: lines are numbered at LF, as an editor does (a lone CR ends a record, as
    #           pyarrow reads it, but is no new line)

    def pieces():
        for piece in io.StringIO(text, newline=""):
            lf[0] += piece.endswith("\n")
            yield piece

    reader = csv.reader(pieces(), delimiter=delim)
    rows, lines, bad = [], [], []
    last = 0
    for k, rec in enumerate(reader):
        start, last = last + 1, lf[0]
        if k <= h:
            continue
        if len(rec) in (0, width):
            rows.append(k + 1)
            lines.append(start)
        else:
            raw = "\n".join(physical[start - 1 : last]).rstrip("\r\n")
            bad.append({"row": k + 1, "line": start, "text": raw, "fields": len(rec), "expected": width})
    if len(rows) != n or len(bad) != len(bad_arrow):
        # the two parsers disagree (a quote pyarrow reads differently): keep pyarrow's records, numbered
        # in order, and the ragged ones without a place rather than a wrong one
        return (np.arange(h + 2, h + 2 + n), np.arange(h + 2, h + 2 + n),
                [{**b, "row": None, "line": None} for b in bad_arrow])
    return np.asarray(rows[:n], dtype=np.int64), np.asarray(lines[:n], dtype=np.int64), bad
