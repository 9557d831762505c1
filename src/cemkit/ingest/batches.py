"""Delimited text read in batches of records, for the streaming ingest (:mod:`cemkit.ingest.stream`): the
same frames of text, spreadsheet rows, editor lines and ragged records as :func:`read_table` gives for the
whole file, a batch at a time, so a file larger than memory is never held whole.

:func:`open_batches` decides what :mod:`cemkit.ingest.delimited` decides from the file's first MiB (the
delimiter, the header, the first data line). The rest of the file is checked for UTF-8 as it is parsed (pyarrow
validates every text cell, as for the whole-file read): a UTF-8 file with GBK past its first MiB raises
:class:`NotStreamed` there and is read in memory by the caller, as is anything the streamed reader cannot
number the same way. A file that is not UTF-8 from its start (GBK/GB18030) and a Parquet file get their
record batches from :mod:`cemkit.ingest.sources`. pyarrow's streaming
CSV reader then yields record batches; ragged records arrive through its invalid-row handler with their
record number, so every record keeps its true row (records counted from the top of the file, as
:func:`cemkit.ingest.delimited._placed` counts them) and its editor line (the first data line plus the line
breaks inside earlier records' cells). Blank rows at the end of the file are not rows (a blank run at the
end of a batch waits for the next one); the platforms' extra header rows under the header
(:func:`cemkit.ingest.readers._import_id_rows`, :func:`~cemkit.ingest.readers._subheader_row`) are looked
for in the first rows, as the whole-file reader does.
"""

from __future__ import annotations

import codecs
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError
from ..privacy import file_name
from .cells import _clean_names, _filled, _to_text
from .delimited import _decodes, _names, read_head, sniff
from .readers import _import_id_rows, _subheader_row

#: bytes the parser reads at a time (as the whole-file reader)
BLOCK_BYTES = 4 << 20
#: blocks parsed ahead of the batch being cleaned (≈ one batch of 200,000 records of 40 columns)
READ_AHEAD = 12


class NotStreamed(Exception):
    """This file is read in memory instead; the message says why (it goes into the accounting)."""


@dataclass
class Batch:
    """Consecutive records of the file: the frame of text (index 0…n-1), the spreadsheet row and editor line
    of each, and ``start``, the position of its first record among all the file's data records."""

    frame: pd.DataFrame
    rows: np.ndarray
    lines: np.ndarray
    start: int


@dataclass
class BatchReader:
    """What :func:`open_batches` decided about the file (``attrs`` as :func:`read_table` gives them, without
    ``rows``/``lines``/``bad_rows``) and the generator of its batches; ``bad_rows`` fills as it runs."""

    path: Path
    attrs: dict[str, Any]
    names: list[str]
    encoding: str
    skip: int
    first_line: int
    bad_rows: list[dict] = field(default_factory=list)
    #: line breaks inside cells move the editor lines (delimited text); False: a record's line is its row
    breaks: bool = True
    #: what the CSV parser reads (None: the file itself; :class:`cemkit.ingest.sources.Transcoded` for GBK)
    input: Any = None
    #: the record batches (None: the CSV parser's, :func:`_record_batches`)
    source: Callable[[BatchReader], Iterator[pa.RecordBatch]] | None = None
    #: called after the last batch (the whole file's encoding label; may raise :class:`NotStreamed`)
    finish: Callable[[], None] | None = None

    def batches(self, rows: int) -> Iterator[Batch]:
        """Batches of about ``rows`` records (the last may be smaller), blank rows at the end dropped."""
        return _batches(self, rows)


def open_batches(path: str | Path) -> BatchReader:
    """Decide the encoding, delimiter and header of a delimited file as :func:`read_delimited` does; raises
    :class:`NotStreamed` for a file it reads differently (not UTF-8 in its first MiB; past it, the batches
    raise it) and InputError as it does."""
    from .sources import PARQUET_SUFFIXES, open_parquet, open_transcoded

    path = Path(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return open_parquet(path)
    head, whole = read_head(path)
    attrs = {
        "source": file_name(path), "format": {".tsv": "TSV", ".txt": "delimited text"}.get(path.suffix.lower(), "CSV"),
        "encoding": None, "encoding_lines_redecoded": 0, "sheet": None, "sheets": None, "column_labels": {},
        "value_codes": {},
    }
    if head.startswith(codecs.BOM_UTF8):
        enc, arrow_enc = "utf-8-sig", "utf8"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise NotStreamed("a UTF-16 file is read in memory")
    elif _decodes(head, "utf-8", whole):
        enc, arrow_enc = "utf-8", "utf8"
    else:  # GBK/GB18030 (or GBK with UTF-8 lines): decoded line by line as it streams
        return open_transcoded(path, attrs)
    sample = head.decode(enc, errors="replace")
    delim, h, rows, first_line = sniff(sample, path.suffix.lower())
    if not rows:
        raise InputError(f"{path.name}: the file is empty (no header row).")
    names = _names(rows, h, _clean_names)
    attrs.update(encoding=enc, delimiter=delim, header_row=h + 1, first_data_row=h + 2)
    return BatchReader(path, attrs, names, arrow_enc, h + 1, first_line)


def _record_batches(br: BatchReader) -> Iterator[pa.RecordBatch]:
    names = br.names

    def handler(row) -> str:
        if row.number is None:
            raise NotStreamed("the reader could not number a ragged record")
        br.bad_rows.append({"number": int(row.number), "text": row.text, "fields": row.actual_columns,
                            "expected": row.expected_columns})
        return "skip"

    try:  # pyarrow checks every cell is UTF-8 as it converts it (the whole-file reader relies on the same check)
        yield from pacsv.open_csv(  # (opening it reads the first block)
            br.path if br.input is None else br.input,
            read_options=pacsv.ReadOptions(encoding=br.encoding, column_names=names, skip_rows=br.skip,
                                           block_size=BLOCK_BYTES, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=br.attrs["delimiter"], newlines_in_values=True,
                                             ignore_empty_lines=False, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 null_values=[""], strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True),
        )
    except UnicodeDecodeError as exc:  # a ragged record's text
        raise NotStreamed(NOT_UTF8) from exc
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc) and "decode" not in str(exc).lower():
            raise
        raise NotStreamed(NOT_UTF8) from exc


#: why a file past its first MiB is read in memory after all
NOT_UTF8 = "a file that is not UTF-8 throughout is decoded line by line in memory"


def _has_newline(col: pa.ChunkedArray) -> bool:
    """Does any cell of a text column hold a line break? One scan of the values' bytes (no per-cell work)."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return True  # not plain text: count
    for chunk in col.chunks:
        if not len(chunk) or chunk.null_count == len(chunk):
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if pa.types.is_large_string(chunk.type)
                                else np.int32)
        lo, hi = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        data = chunk.buffers()[2]
        if data is not None and hi > lo and (np.frombuffer(data, dtype=np.uint8)[lo:hi] == 10).any():
            return True
    return False


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


def _read_ahead(it: Iterator[Any], depth: int) -> Iterator[Any]:
    """``it``'s items, produced by a second thread up to ``depth`` ahead: the parser (which releases the GIL)
    reads the next blocks while the caller cleans a batch. Its exceptions are raised here; stopping early
    stops it."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in it:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller, raised there
            put(_Failed(exc))

    thread = threading.Thread(target=run, name="cemkit-csv-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not done:
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def _newlines(table: pa.Table) -> np.ndarray:
    """Line breaks inside the cells of each record (counted only in the columns that hold one)."""
    extra = np.zeros(table.num_rows, dtype=np.int64)
    for col in table.columns:
        if not _has_newline(col):
            continue
        counts = pc.fill_null(pc.count_substring(col, "\n"), 0)
        extra += np.asarray(counts.to_numpy(), dtype=np.int64)
    return extra


def _filled_to(df: pd.DataFrame) -> int:
    """One past the last row holding something other than whitespace (0: none): looked for from the end, in
    growing windows, so a batch of filled rows costs one row's check."""
    hi, size = len(df), 8
    while hi > 0 and len(df.columns):
        lo = max(0, hi - size)
        filled = _filled(df.iloc[lo:hi])
        if filled.any():
            return lo + int(np.flatnonzero(filled)[-1]) + 1
        hi, size = lo, size * 4
    return 0


def _batches(br: BatchReader, size: int) -> Iterator[Batch]:
    """See :meth:`BatchReader.batches`. Numbering: the k-th good record is the k-th record number (from
    the top of the file, the header being ``skip``) that no ragged record took; its editor line is the first
    data line plus the records before it plus the line breaks inside their cells."""
    first_no = br.skip + 1  # the record number of the first data record
    good = 0  # good records numbered so far
    breaks_before = 0  # line breaks inside the cells of the good records numbered so far
    pending: list[pa.Table] = []
    held = 0
    carry: pd.DataFrame | None = None  # a blank run at the end of the last batch: rows only if data follow
    carry_rows = carry_lines = np.zeros(0, np.int64)
    position = 0
    first = True
    header_skip = 0  # platform header rows found under the header (dropped from the first batch)

    def number(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        nonlocal good, breaks_before
        n = table.num_rows
        bad = sorted(br.bad_rows, key=lambda b: b["number"])
        bad_numbers = np.array([b["number"] for b in bad], dtype=np.int64)
        bad_cum = np.concatenate([[0], np.cumsum([b["text"].count("\n") for b in bad])]).astype(np.int64)
        ks = good + np.arange(n, dtype=np.int64)
        rows = first_no + ks  # the k-th good record: the k-th number no ragged record took
        while bad_numbers.size:
            shifted = first_no + ks + np.searchsorted(bad_numbers, rows, side="right")
            if np.array_equal(shifted, rows):
                break
            rows = shifted
        extra = _newlines(table) if br.breaks else np.zeros(n, np.int64)
        cum = np.cumsum(extra)
        before_bad = bad_cum[np.searchsorted(bad_numbers, rows, side="left")]
        lines = br.first_line + (rows - first_no) + breaks_before + (cum - extra) + before_bad
        for j, b in enumerate(bad):  # ragged records before this batch's last record: their lines now
            if "line" not in b and n and b["number"] < rows[-1]:
                i = int(np.searchsorted(rows, b["number"]))
                b["line"] = int(br.first_line + (b["number"] - first_no) + breaks_before
                                + (int(cum[i - 1]) if i else 0) + bad_cum[j])
        good += n
        breaks_before += int(cum[-1]) if n else 0
        return rows.astype(np.int64), np.asarray(lines, dtype=np.int64)

    def finish_bad() -> None:
        bad = sorted(br.bad_rows, key=lambda b: b["number"])
        bad_cum = np.concatenate([[0], np.cumsum([b["text"].count("\n") for b in bad])]).astype(np.int64)
        for j, b in enumerate(bad):
            if "line" not in b:
                b["line"] = int(br.first_line + (b["number"] - first_no) + breaks_before + bad_cum[j])

    def emit(final: bool) -> Iterator[Batch]:
        nonlocal pending, held, carry, carry_rows, carry_lines, position, first, header_skip
        table = pa.concat_tables(pending) if pending else None
        pending, held = [], 0
        if table is not None and not final and table.num_rows > size:  # a batch of ``size``; the rest waits
            rest = table.slice(size)
            table = table.slice(0, size)
            pending, held = [rest], rest.num_rows
        parts, rows_l, lines_l = [], [], []
        if carry is not None:
            parts.append(carry)
            rows_l.append(carry_rows)
            lines_l.append(carry_lines)
        if table is not None and table.num_rows:
            rows, lines = number(table)
            df = table.to_pandas(split_blocks=True, self_destruct=True)
            df = df.apply(_to_text) if any(not isinstance(t, pd.StringDtype) for t in df.dtypes) else df
            parts.append(df)
            rows_l.append(rows)
            lines_l.append(lines)
        if not parts:
            return
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        rows, lines = np.concatenate(rows_l), np.concatenate(lines_l)
        end = _filled_to(df)
        if final:  # blank rows with a ragged record after them are rows of the file, as read_table keeps them
            end = max(end, int(np.searchsorted(rows, max((b["number"] for b in br.bad_rows), default=0))))
            carry = None
            df, rows, lines = df.iloc[:end], rows[:end], lines[:end]
        else:
            carry, carry_rows, carry_lines = df.iloc[end:].reset_index(drop=True), rows[end:], lines[end:]
            df, rows, lines = df.iloc[:end], rows[:end], lines[:end]
        if not len(df):
            return
        if first:
            first = False
            attrs = dict(br.attrs)
            df, attrs = _import_id_rows(df.reset_index(drop=True), attrs)
            df, attrs = _subheader_row(df, attrs)
            header_skip = int(attrs["first_data_row"]) - int(br.attrs["first_data_row"])
            br.attrs.update({k: attrs[k] for k in ("column_labels", "first_data_row", "header_rows_below")
                             if k in attrs})
            br.names = list(df.columns)
            rows, lines = rows[header_skip:], lines[header_skip:]
        else:
            df.columns = br.names
        yield Batch(df.reset_index(drop=True), rows, lines, position)
        position += len(df)

    for rb in _read_ahead((br.source or _record_batches)(br), READ_AHEAD):
        if rb.num_rows:
            pending.append(pa.Table.from_batches([rb]))
            held += rb.num_rows
        while held >= size:
            yield from emit(False)
    if br.finish is not None:  # before the last batch: nothing is kept from a file read whole after all
        br.finish()
    yield from emit(True)
    finish_bad()


def bad_rows(br: BatchReader) -> list[dict]:
    """The ragged records as :func:`read_table` lists them (``attrs["bad_rows"]``: row, line, text, field
    counts), in file order; complete after the last batch."""
    return [{"row": b["number"], "line": b.get("line"), "text": b["text"], "fields": b["fields"],
             "expected": b["expected"]} for b in sorted(br.bad_rows, key=lambda b: b["number"])]
