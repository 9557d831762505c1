"""Client data in: read a messy survey export, map its columns to the pack, clean, quarantine, mask, weight
and join operational (O-data) files, with every input row accounted for.

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

The mapping YAML (one per engagement; draft it with ``cemkit map``)
-----------------------------------------------------------------
.. code-block:: yaml

    source: {file: 2024H2_survey.xlsx, sheet: 数据}    # the data when --data is not given (relative to this file)
    columns:                                         # client header (or SPSS variable label) → pack id
      问卷编号: response_id
      Q1 您有多大可能向朋友推荐我们: nps
      经销商名称: dealer
      满意度（旧题）: null                              # null: do not use this header
    recode:                                          # per field: client value → value, before parsing
      nps: {极有可能: 10, 完全不可能: 0}
      region: {华东区: 华东}
    scales:                                          # the client's scale of a KPI/attribute, rescaled
      csat: {min: 1, max: 10}                        # linearly to the pack scale and rounded to its points
    stage_values: {交车环节: delivery, 首保: first_service}  # client stage label → stage id
    keep_pii: [phone, name]                          # PII fields kept in a separate contacts table
    weights: {column: 权重}                           # a client weight column …
    # weights: {rake: {region: {华东: 0.3, 华南: 0.22, ...}, channel: {...}}, max_iter: 1000, tol: 1.0e-10}
    wave: {from_date: half}                          # half (2024H1) | quarter (2024Q1) | month | year
    odata_columns: {客户编号: customer_id, 车龄: tenure_months}   # O-data header → key / feature id
    privacy: {plates: true}                          # also mask licence plates (default: pack option)
    constants: {stage: delivery, wave: 2024H1}       # one value for every row: a one-stage / one-wave file
    quality: {speeder_seconds: 60, straightliners: quarantine}  # overrides the pack's rules.quality, key by key

A declared scale for an NPS KPI must be the pack's 0-10: NPS asked on 1-10 or 1-5 is not NPS and is refused.
Headers named by the pack's ids are used as they are, and so are headers that match a field's synonyms or a
KPI/attribute/segment name confidently (normalised; score ≥ 0.85, see :func:`propose_mapping`), unless the
mapping places them elsewhere or maps them to ``null`` (``columns: {满意度: null}`` = do not use). Matches
are listed in ``accounting["columns"]`` and ``accounting["column_sources"]``.

Cleaning and quarantine
-----------------------
Ids and comments are trimmed (empty → missing). Scores and category text (stage, wave, touchpoint,
segments, other fields) are NFKC-normalised and trimmed (full-width ``８`` → ``8``), and
``"" NA N/A nan null none - -- — / #N/A`` and the platforms' skip markers ``(跳过) (空)`` count as missing
(a comment that is only a skip marker is no comment). Scores: a leading number followed by non-digit
text reads as that number (``10分``, ``9 分``, ``10（非常愿意）``); a score must be a point of its scale
(integers in [min, max]). Answers in words are recoded when every word in the column is a label of one
known scale with the field's number of points (``data/label_scales.yaml``: 非常满意…非常不满意, agreement,
effort, quality, ``0-完全不可能``/``极有可能`` ends; rows of stars ``★★★★☆``); which scale, or why none, is in
``accounting["label_scales"]``, and an unrecognised word is never guessed. A *required* KPI (pack
``fields[kpi].required``, e.g. NPS) that is missing, not a number or off its scale quarantines the row; an
optional KPI or an attribute that is not a number or off its scale becomes NaN and is counted in
``cells_blanked[column][not_numeric|out_of_range]``. Dates: ISO, ``2024年3月5日``, ``2024/3/5``,
``2024.03.05``, ``20240305``, Excel serial numbers (20000-80000) and ``3/5/2024`` where the column tells the
order (a day over 12, or AM/PM times: month first); others become NaT and are counted in
``dates_unparsed`` (the row is quarantined only when the pack makes ``date`` required). Stage labels: the
mapping's ``stage_values``, then the stage's id, name, trigger or touchpoint name (normalised), then a name
that the label contains once suffixes such as 环节/阶段/问卷 are removed (e.g. 交车环节 → delivery);
matched labels are listed in ``accounting["stage_labels"]``. Wave: the wave column; where it is absent or
empty, derived from the date as a half-year ``2024H1`` (mapping ``wave.from_date``: ``quarter`` → 2024Q1,
``month`` → 2024-03, ``year`` → 2024), counted in ``wave_derived``. These cell-level counts
(``cells_blanked``, ``dates_unparsed``, ``wave_derived``, ``wave_missing``, ``customer_id_missing``) are over
the used rows.

Each row is quarantined for the *first* reason that applies, in this order (:data:`REASONS`): ``empty_row``,
``summary_row`` (合计 / 平均值 / Total … in the first two cells or the id: platforms.yaml), ``malformed_row``, ``response_id_missing``, ``stage_missing``, ``unknown_stage``, ``<kpi>_missing``,
``<kpi>_not_numeric``, ``score_out_of_range`` (required KPIs), ``date_invalid`` (when required),
``weight_invalid`` (declared weight column not a positive number, or a raking variable missing),
``speeder``, ``straightliner`` (only with ``straightliners: quarantine``), ``duplicate_id``. Among rows that pass everything else, a repeated ``response_id`` keeps the latest row (by
date, then the later in the file) and quarantines the others. ``input_rows == used + quarantined`` always.
When no row is usable, :func:`prepare` writes its outputs and then raises InputError.

Survey data quality (pack ``rules.quality``, overridden key by key by the mapping's ``quality``)
-----------------------------------------------------------------------------------------------
The optional field ``duration`` is the seconds a respondent took: the platform's time-taken column
(platforms.yaml ``duration_columns``: 所用时间, 答题时长, ``Duration (in seconds)`` …), matched by name only and
read by :func:`parse_duration` (``125秒``, ``2分5秒``, ``00:02:05``, plain seconds …; unreadable → NaN,
counted in ``durations_unparsed``). A row answered in less than the threshold is a ``speeder``: the threshold
is the larger of ``speeder_seconds`` and ``speeder_median_share`` (default 1/3) × the median duration of the
rows no earlier rule quarantined; 0/null switches a rule off; without a duration column there is no check.
A row that gives one score to every attribute it rated (at least ``straightliner_min_items``, default 5;
attributes not asked at its stage are empty) is a straightliner: flagged in the boolean column
``straightliner`` and counted (``straightliners``, ``straightliners_by_stage``), or quarantined as
``straightliner`` with ``straightliners: quarantine``. ``accounting["quality"]`` holds the rules in force,
the duration column, the median and threshold used and what each check found.

Personal data
-------------
The comment is masked with :func:`cemkit.privacy.mask_text` (plates too when the mapping's ``privacy.plates``
or the pack's top-level ``privacy: {plates: true}`` in pack.yaml says so). Fields with ``pii: true`` (phone,
name) are never in ``responses``; those listed in ``keep_pii`` go to ``Prepared.contacts`` (response_id,
customer_id and the fields, written to ``contacts.parquet``) for work orders. Quarantined raw rows are
masked too (every text cell; name columns as ``张**``).

Weights
-------
A weight column (``weights: {column: W}``, or a column mapped to the ``weight`` field) must hold positive
numbers; ``weights: {rake: ...}`` rakes the used rows to the margins with :func:`cemkit.weights.rake`.
Weights are scaled to mean 1; unweighted data get 1.0. ``accounting["weighting"]`` holds the Kish summary.

O-data (pack ``odata``)
-----------------------
Each file is read with :func:`read_table`. Its key column is ``odata.key`` (default ``customer_id``) or a
header matching that field's synonyms; feature columns are the pack's ``odata.features`` ids or names (or
``odata_columns`` in the mapping). A file with one row per customer is used as it is. A file where the key
repeats (visits, invoices) is aggregated by the rules in the pack:

.. code-block:: yaml

    odata:
      key: customer_id
      aggregate:                       # output feature: {from: source column, agg: ...}
        visits_12m: {from: visit_id, agg: count}          # non-missing values per customer
        spend_12m: {from: amount, agg: sum}               # numbers ("¥12,800" reads as 12800)
        last_service_date: {from: service_date, agg: max} # numbers or dates
        days_since_visit: {from: service_date, agg: days_since, as_of: 2024-12-31}

``agg`` is one of :data:`AGGREGATES` (count, sum, mean, min, max, nunique, first, last, days_since;
``days_since`` = days from the latest date to ``as_of``, default the latest date in that column). ``from``
defaults to the output name. A declared feature without a rule in such a file must be constant within a
customer. Files are joined on the key (outer); a feature in two files is an error. Numeric features are
converted to numbers. ``odata`` has one row per customer: the key, the declared features and aggregate
outputs present, and ``responded`` (the customer has a used response). Counted both ways:
``odata_matched_responses`` / ``odata_unmatched_responses`` (responses whose customer has / has no O-data
row) and ``odata_customers_without_response``.

Accounting keys
---------------
``source, format, encoding, sheet, header_row, input_rows, used, quarantined, by_reason, cells_blanked,
dates_unparsed, durations_unparsed`` (with a duration column), ``straightliners, straightliners_by_stage,
quality, wave_derived, wave_missing, customer_id_missing, stage_labels, masked`` (masks in the comment
column, all input rows, per kind), ``masked_quarantine`` (masks in the other cells of quarantined raw rows and
of malformed rows; ``name`` counts masked name cells), ``pii_dropped, pii_kept, columns`` (client header →
id), ``column_sources`` (how a non-identical header was found), ``unused_columns, weighting,
weighting_efficiency`` and, with O-data, ``odata_files, odata_rows_in, odata_rows_without_key,
odata_customers, odata_matched_responses, odata_unmatched_responses, odata_customers_without_response,
odata_unused_columns``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import functools
import io
import itertools
import json
import math
import os
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import yaml

from . import privacy
from . import weights as wt
from .arrowtext import arrow, factorize
from .errors import InputError, PackError, Problem
from .packs import QUALITY_DEFAULTS, Pack, check_quality, load_pack, read_yaml
from .results import json_safe

__all__ = [
    "AGGREGATES",
    "READERS",
    "REASONS",
    "ColumnMapping",
    "Prepared",
    "Reader",
    "load_mapping",
    "map_cli",
    "map_command",
    "normalise_header",
    "parse_date",
    "parse_duration",
    "parse_score",
    "prepare",
    "propose_mapping",
    "propose_stage_values",
    "read_table",
    "write_mapping_yaml",
]

SAMPLE_BYTES = 1 << 20
HEADER_PROBE_ROWS = 30
AUTO_MATCH_MIN = 0.85  # score a header needs to be used without being named in the mapping
PROPOSE_MIN = 0.6  # score a header needs to be proposed in a draft mapping
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "—", "/", "#n/a",
                            "(跳过)", "(空)", "跳过", "(skipped)"})
#: what survey platforms write in a skipped open question (问卷星 "(跳过)" / "(空)", full- or half-width
#: brackets; 腾讯问卷 "—"; a dash, slash or N/A typed in a spreadsheet): no comment, not a comment that says nothing
COMMENT_SKIP_MARKERS = ("(跳过)", "（跳过）", "(空)", "（空）", "(skipped)", "—", "——", "-", "--", "/", "N/A", "n/a",
                        "#N/A")
#: data files shipped with cemkit: label scales (label_scales.yaml) and what platforms add to an export
#: (platforms.yaml: platform synonyms, platform columns, summary-row words, second-header-row words)
DATA_DIR = Path(__file__).resolve().parent / "data"
_THREADS = max(
    1, min(8, os.cpu_count() or 1)
)  # column cleaning runs on a thread pool (Arrow releases the GIL)

REASONS: tuple[str, ...] = (
    "empty_row",
    "summary_row",
    "malformed_row",
    "response_id_missing",
    "stage_missing",
    "unknown_stage",
    "<kpi>_missing",
    "<kpi>_not_numeric",
    "score_out_of_range",
    "date_invalid",
    "weight_invalid",
    "speeder",
    "straightliner",
    "duplicate_id",
)
#: the optional field holding the seconds a respondent took (a platform column such as 所用时间 / 答题时长 /
#: ``Duration (in seconds)``), for the speeder check; every pack has it without declaring it
DURATION = "duration"


# ============================================================================================ readers
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


# ============================================================================= normalising values
_QNUM = re.compile(r"^(?:q\s*\d+[a-z]?(?:[_.\-]\d+)*|\d+)(?:[._、:：)\]|\s-]+|(?=[(（]))", re.IGNORECASE)
_TAIL_HINT = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]\s*$")
_SCORE = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(\D*)$")
_DATE = re.compile(
    r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?"
    r"(?:[ T]*(\d{1,2})[:：时](\d{1,2})分?(?:[:：]?(\d{1,2})(?:\.\d+)?秒?)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?$"
)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def _nfkc(v: str) -> str:
    return unicodedata.normalize("NFKC", v).strip()


def _key(v: str) -> str:
    """Comparison key: NFKC, case-folded, without whitespace, punctuation and symbols."""
    s = unicodedata.normalize("NFKC", str(v)).casefold()
    return "".join(ch for ch in s if unicodedata.category(ch)[0] not in "PSZC")


def normalise_header(header: str) -> str:
    """A header reduced for matching: NFKC, case-folded, question numbers (``Q12.``, ``3、``) and a trailing
    hint in brackets (``（0-10分）``) removed, then whitespace, punctuation and symbols removed."""
    s = unicodedata.normalize("NFKC", str(header)).strip()
    unnumbered = _QNUM.sub("", s, count=1)
    s = unnumbered if unnumbered.strip() else s
    stripped = _TAIL_HINT.sub("", s)
    return _key(stripped if _key(stripped) else s)


_TAIL_ITEM = re.compile(r"[(\[【]([^()\[\]【】]+)[)\]】]\s*$")
_HINT = re.compile(r"\d|分|选填|必填|单选|多选|最多|至少|请|填写|注明|optional|required|select|choose|check",
                   re.IGNORECASE)
_ITEM_SPLIT = re.compile(r"\s+-\s+|\s*[|｜]\s*|\s*—+\s*")


def _header_keys(header: str) -> list[str]:
    """Keys a header is matched by: :func:`normalise_header`, then the row of a matrix question when the
    header names one: in brackets at the end (问卷星 ``4、请评价(服务态度)``; brackets holding a hint such as
    ``（1-10分）`` or ``（选填）`` are no row) or after ``|``, ``—`` or `` - `` (腾讯问卷 ``Q3|服务态度``,
    Qualtrics / SurveyMonkey ``请评价 - 服务态度``)."""
    keys = [normalise_header(header)]
    s = unicodedata.normalize("NFKC", str(header)).strip()
    s = _QNUM.sub("", s, count=1)
    m = _TAIL_ITEM.search(s)
    if m and not _HINT.search(m.group(1)):
        keys.append(_key(m.group(1)))
    parts = _ITEM_SPLIT.split(_TAIL_HINT.sub("", s) if m is None or _HINT.search(m.group(1)) else s)
    if len(parts) > 1:
        keys.append(_key(_TAIL_HINT.sub("", parts[-1]) or parts[-1]))
    return list(dict.fromkeys(k for k in keys if k))


def parse_score(value: Any) -> float | None:
    """A score cell as a number, or None: ``"８"`` → 8, ``"10分"`` → 10, ``"10（非常愿意）"`` → 10. A leading
    number followed by non-digit text is that number; anything else is not a score."""
    if value is None:
        return None
    m = _SCORE.match(_nfkc(str(value)))
    return float(m.group(1)) if m else None


def parse_date(value: Any) -> pd.Timestamp:
    """A date cell as a Timestamp (NaT when not a date): ISO, ``2024年3月5日``, ``2024/3/5``, ``2024.03.05``,
    ``20240305``, with an optional time, or an Excel serial day number (20000-80000, 1900 date system)."""
    if value is None:
        return pd.NaT
    s = _nfkc(str(value))
    m = _DATE.match(s)
    try:
        if m:
            y, mo, d, hh, mi, ss = (int(g) if g else 0 for g in m.groups())
            return pd.Timestamp(dt.datetime(y, mo, d, hh, mi, ss))
        if re.fullmatch(r"\d{8}", s):
            return pd.Timestamp(dt.datetime(int(s[:4]), int(s[4:6]), int(s[6:])))
        if re.fullmatch(r"\d{5}(?:\.\d+)?", s) and 20000 <= float(s) <= 80000:
            return pd.Timestamp(_EXCEL_EPOCH + dt.timedelta(days=float(s))).round("s")
    except (ValueError, OverflowError):
        return pd.NaT
    return pd.NaT


_DUR_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)$")
_DUR_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)$")
_DUR_UNIT = (r"小时|钟头|时|hours?|hrs?|h|分钟|分|minutes?|mins?|m|秒钟|秒|seconds?|secs?|s")
_DUR_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_DUR_UNIT})")
_DUR_PARTS = re.compile(rf"^(?:\d+(?:\.\d+)?\s*(?:{_DUR_UNIT})\s*)+$")
_DUR_SECONDS = {"小时": 3600, "钟头": 3600, "时": 3600, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600,
                "hours": 3600, "分钟": 60, "分": 60, "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60}
_MINUTES_HINT = re.compile(r"分钟|minutes?|\bmins?\b", re.IGNORECASE)


def parse_duration(value: Any, unit: float = 1.0) -> float | None:
    """A time-taken cell as seconds, or None when it is not one: ``125`` (a plain number is ``unit``
    seconds, 60 for a column in minutes), ``125秒``, ``125s``, ``2分5秒``, ``2分钟``, ``1小时2分``, ``1h 2m 5s``,
    ``00:02:05`` (h:m:s), ``2:05`` (m:s). Negative numbers are not durations."""
    if value is None:
        return None
    s = _nfkc(str(value)).casefold()
    if _DUR_NUMBER.match(s):
        return float(s) * unit
    m = _DUR_CLOCK.match(s)
    if m:
        h, mi, sec = (float(g) if g else 0.0 for g in m.groups())
        if sec >= 60 or (m.group(1) is not None and mi >= 60):
            return None
        return h * 3600 + mi * 60 + sec
    if _DUR_PARTS.match(s):
        parts = _DUR_PART.findall(s)
        units = [_DUR_SECONDS.get(u, 1) for _, u in parts]
        if len(set(units)) < len(units):  # 2分3分: not a duration
            return None
        return float(sum(float(x) * k for (x, _), k in zip(parts, units)))
    return None


def _duration_unit(header: str) -> float:
    """Seconds in a plain number of a duration column: 60 when its header says minutes (用时（分钟）)."""
    return 60.0 if _MINUTES_HINT.search(unicodedata.normalize("NFKC", str(header))) else 1.0


def _clean_durations(s: pd.Series, unit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per cell (NaN when missing or unreadable) and the cells that held something that is not a
    duration. Plain numbers take one Arrow cast; else :func:`parse_duration` runs once per distinct value."""
    if isinstance(s.array, pd.arrays.ArrowStringArray):
        try:
            x = pc.cast(pa.array(s.array), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # some cell is not a plain number: the general path below
            x = None
        if x is not None:
            bad = ~np.isnan(x) & ~(np.isfinite(x) & (x >= 0))
            return np.where(bad, np.nan, x * unit), bad
    codes, uniq = _distinct(s)
    vals = np.full(len(uniq), np.nan)
    bad = np.zeros(len(uniq), dtype=bool)
    for i, u in enumerate(uniq):
        t = _normalise_text(u)
        if t is None:
            continue
        x = parse_duration(t, unit)
        if x is None or not math.isfinite(x):
            bad[i] = True
        else:
            vals[i] = x
    return _take(vals, codes, np.nan, float), _take(bad, codes, False, bool)


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


# ====================================================================== what platforms put in an export
@functools.cache
def _platforms() -> dict[str, Any]:
    """platforms.yaml (see the comments there), with its names as comparison keys."""
    data = yaml.safe_load((DATA_DIR / "platforms.yaml").read_text(encoding="utf-8")) or {}
    cols = data.get("platform_columns") or {}
    durations = [str(h) for h in data.get("duration_columns") or ()]
    return {
        "synonyms": {str(f): [str(n) for n in ns or ()] for f, ns in (data.get("synonyms") or {}).items()},
        "exact": frozenset(_key(str(h)) for h in [*(cols.get("exact") or ()), *durations]),
        "duration": {k: h for h in durations for k in (_key(h), normalise_header(h))},
        "prefixes": tuple(_key(str(h)) for h in cols.get("prefixes") or ()),
        "summary": frozenset(_key(str(t)) for t in data.get("summary_tokens") or ()),
        "summary_cells": tuple(
            dict.fromkeys(
                v + end
                for t in data.get("summary_tokens") or ()
                for v in (str(t), str(t).upper(), str(t).capitalize(), str(t).title())
                for end in ("", ":", "：", "值")
            )
        ),
        "subheader": frozenset(_key(str(t)) for t in data.get("subheader_tokens") or ()),
    }


def is_platform_column(header: str) -> bool:
    """Does the header name what a survey platform adds about a submission (time taken, IP, location, device,
    link source, start time …; platforms.yaml ``platform_columns``)? Such columns are never proposed for a
    pack field."""
    p = _platforms()
    k = _key(re.sub(r"\.\d+$", "", str(header)))  # a repeated header "来源.1"
    return k in p["exact"] or any(k.startswith(x) for x in p["prefixes"] if x)


def duration_column(header: str, pack: Pack | None = None) -> str | None:
    """The name by which a header is known to hold the time a respondent took (platforms.yaml
    ``duration_columns``, or the pack's ``fields.duration.synonyms``), or None: ``所用时间``, ``答题时长``,
    ``Duration (in seconds)``, ``用时（秒）``. Only exact names (after normalising) count: a question about how
    long the service took is not a duration column."""
    names = dict(_platforms()["duration"])
    spec = pack.fields.get(DURATION) if pack is not None else None
    for n in spec.synonyms if spec else ():
        names.setdefault(_key(n), n)
        names.setdefault(normalise_header(n), n)
    h = re.sub(r"\.\d+$", "", str(header))
    return names.get(_key(h)) or names.get(normalise_header(h))


class LabelScale(NamedTuple):
    name: str
    points: tuple[frozenset[str], ...]  # point 1 first: the comparison keys of its labels


@functools.cache
def label_scales() -> tuple[LabelScale, ...]:
    """The known answer-label scales (label_scales.yaml), worst point first."""
    data = yaml.safe_load((DATA_DIR / "label_scales.yaml").read_text(encoding="utf-8")) or {}
    out = []
    for name, points in (data.get("scales") or {}).items():
        pts = tuple(
            frozenset(_key(str(x)) for x in ([p] if isinstance(p, str) else (p or ()))) for p in points
        )
        out.append(LabelScale(str(name), pts))
    return tuple(out)


_STAR_FULL, _STAR_EMPTY = "★✭✮⭐", "☆✩"


def _stars(label: str) -> tuple[int, int] | None:
    """``★★★★☆`` → (4, 5): filled stars and scale length; None when the text is not a row of stars."""
    s = label.replace(" ", "")
    if not s or any(ch not in _STAR_FULL + _STAR_EMPTY for ch in s):
        return None
    return sum(ch in _STAR_FULL for ch in s), len(s)


def recognise_labels(labels: Iterable[str], points: int) -> tuple[dict[str, int] | None, str]:
    """Points (1 = worst) for the non-numeric answers of one score column on a ``points``-point scale, and
    what was found. All or nothing: the labels are recoded only when every one of them belongs to one known
    scale (label_scales.yaml, or rows of stars) with that many points, and the scales holding them all agree
    on each label's point; else ``(None, why)``. ``why`` names the scale used, or says what is missing."""
    labels = [str(v) for v in dict.fromkeys(labels)]
    if not labels:
        return {}, ""
    stars = [_stars(v) for v in labels]
    if all(stars):
        size = max(n for _, n in stars)  # type: ignore[misc]
        if size != points:
            return None, f"{size}-star ratings on a {points}-point scale: declare scales: {{min: 1, max: {size}}}"
        if any(k == 0 for k, _ in stars):  # type: ignore[misc]
            return None, "a rating of no stars is not a point of the scale"
        return {v: k for v, (k, _) in zip(labels, stars)}, f"stars (1-{size})"  # type: ignore[misc]
    keys = {v: _key(v) for v in labels}
    fits: list[tuple[LabelScale, dict[str, int]]] = []
    other_sizes: set[str] = set()
    for sc in label_scales():
        pos = {}
        for v, k in keys.items():
            hit = next((i + 1 for i, pt in enumerate(sc.points) if k in pt), None)
            if hit is None:
                break
            pos[v] = hit
        else:
            if len(sc.points) == points:
                fits.append((sc, pos))
            else:
                other_sizes.add(f"{sc.name} ({len(sc.points)} points)")
    if fits and all(f[1] == fits[0][1] for f in fits):
        return fits[0][1], "/".join(f[0].name for f in fits)
    if fits:
        return None, "the labels fit several scales that give them different points: " + ", ".join(
            f[0].name for f in fits
        )
    if other_sizes:
        return None, (
            f"labels of {', '.join(sorted(other_sizes))} on a {points}-point field: declare the client's scale "
            "(scales: {min: 1, max: N}) or recode"
        )
    unknown = [v for v, k in keys.items() if not any(k in pt for sc in label_scales() for pt in sc.points)]
    shown = unknown or labels
    listed = ", ".join(repr(v) for v in shown[:6]) + (" …" if len(shown) > 6 else "")
    return None, (f"no known label scale holds {listed}" if unknown else
                  f"no one known label scale holds all of {listed}")


# =============================================================================================== mapping
@dataclass(frozen=True)
class ColumnMapping:
    """A validated per-engagement mapping (see the module docstring for the YAML)."""

    path: Path | None = None
    source_file: str | None = None
    sheet: str | int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    recode: dict[str, dict[str, str]] = field(default_factory=dict)
    scales: dict[str, tuple[float, float]] = field(default_factory=dict)
    keep_pii: tuple[str, ...] = ()
    weights: dict[str, Any] = field(default_factory=dict)
    stage_values: dict[str, str] = field(default_factory=dict)
    wave_from_date: str = "half"
    odata_columns: dict[str, str] = field(default_factory=dict)
    plates: bool | None = None
    constants: dict[str, str] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)  # the keys given: they override the pack's

    @property
    def name(self) -> str:
        return self.path.name if self.path else "mapping"


_MAPPING_KEYS = (
    "source",
    "columns",
    "recode",
    "scales",
    "keep_pii",
    "weights",
    "stage_values",
    "wave",
    "odata_columns",
    "privacy",
    "constants",
    "quality",
)
_WAVE_RULES: dict[str, Callable[[pd.Series], pd.Series]] = {
    "half": lambda d: (
        d.dt.year.astype("Int64").astype("str") + "H" + ((d.dt.month > 6).astype("Int64") + 1).astype("str")
    ),
    "quarter": lambda d: (
        d.dt.year.astype("Int64").astype("str") + "Q" + d.dt.quarter.astype("Int64").astype("str")
    ),
    "month": lambda d: d.dt.strftime("%Y-%m").astype("str"),
    "year": lambda d: d.dt.year.astype("Int64").astype("str"),
}


def _targets(pack: Pack) -> dict[str, list[str]]:
    """Every column id a client header may map to, with the names it is known by."""
    out: dict[str, list[str]] = {}

    def add(fid: str, *names: Any) -> None:
        out.setdefault(fid, [fid])
        out[fid].extend(str(n) for n in names if n)

    for fid, spec in pack.fields.items():
        add(fid, *spec.synonyms)
    for kid, k in pack.kpis.items():
        add(kid, k.name.zh, k.name.en)
    for aid, a in pack.attributes.items():
        add(aid, a.name.zh, a.name.en, a.short.zh, a.short.en)
    for seg in pack.segments:
        add(seg.id, seg.name.zh, seg.name.en)
    for fid, names in _platforms()["synonyms"].items():  # platform wording, after the pack's own names
        if fid in pack.fields:
            add(fid, *names)
    out.setdefault(DURATION, [DURATION])  # every pack: proposed only by name (duration_column)
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


def _closest(name: str, candidates: Iterable[str]) -> str | None:
    cands = list(candidates)
    if not cands:
        return None
    key = normalise_header(name)
    return max(cands, key=lambda c: difflib.SequenceMatcher(None, key, normalise_header(c)).ratio())


def load_mapping(mapping: str | Path | dict | ColumnMapping | None, pack: Pack) -> ColumnMapping:
    """Read and check a mapping (YAML path or dict). Raises InputError listing every problem with the
    file, the key and the line."""
    if mapping is None or mapping == "":
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    path: Path | None = None
    lines: dict[tuple, int] = {}
    if isinstance(mapping, dict):
        data = mapping
    else:
        path = Path(mapping)
        if not path.is_file():
            raise InputError(f"{path}: mapping file not found.")
        try:
            data, lines = read_yaml(path)
        except PackError as exc:
            raise InputError(str(exc)) from None
    fname = path.name if path else "mapping"
    problems: list[Problem] = []

    def add(keypath: tuple, msg: str) -> None:
        line = next((lines[keypath[:c]] for c in range(len(keypath), 0, -1) if keypath[:c] in lines), None)
        problems.append(Problem(fname, ".".join(str(k) for k in keypath), msg, line))

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            f"{fname}: a mapping file must be a YAML mapping of sections ({', '.join(_MAPPING_KEYS)})."
        )
    for k in data:
        if k not in _MAPPING_KEYS:
            add((k,), f"unknown section (known: {', '.join(_MAPPING_KEYS)})")

    def section(key: str) -> dict:
        v = data.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            add((key,), f"must be a mapping, found {type(v).__name__}")
            return {}
        return v

    targets = _targets(pack)
    numeric = set(pack.kpis) | set(pack.attributes)
    columns: dict[str, str] = {}
    ignore: list[str] = []
    for header, fid in section("columns").items():
        if fid is None or str(fid).strip() in ("", "ignore"):  # a header the analyst does not want used
            ignore.append(str(header))
            continue
        if str(fid) not in targets:
            close = difflib.get_close_matches(str(fid), list(targets), n=1, cutoff=0)
            add(
                ("columns", header),
                f"{fid!r} is not a field, KPI, attribute or segment of pack {pack.id} (closest: {close[0]!r})"
                if close
                else f"{fid!r} is not a pack field",
            )
            continue
        columns[str(header)] = str(fid)
    seen: dict[str, str] = {}
    for header, fid in columns.items():
        if fid in seen:
            add(("columns", header), f"{fid!r} is already mapped from {seen[fid]!r}")
        seen[fid] = header

    constants: dict[str, str] = {}
    for fid, value in section("constants").items():
        if str(fid) not in targets or str(fid) in ("response_id", "customer_id"):
            add(("constants", fid), f"{fid!r} cannot be a constant: name a field, KPI, attribute or segment "
                                    f"of pack {pack.id} other than the ids")
        elif value is None or isinstance(value, (dict, list)) or str(value).strip() == "":
            add(("constants", fid), "must be one value (text or number)")
        elif str(fid) in seen:
            add(("constants", fid), f"{fid!r} is also mapped from column {seen[str(fid)]!r}: keep one")
        else:
            constants[str(fid)] = str(value)

    recode: dict[str, dict[str, str]] = {}
    for fid, table in section("recode").items():
        if str(fid) not in targets:
            add(("recode", fid), f"{fid!r} is not a field of pack {pack.id}")
        elif not isinstance(table, dict):
            add(("recode", fid), "must map client values to values")
        else:
            recode[str(fid)] = {_nfkc(str(k)): _nfkc(str(v)) for k, v in table.items() if v is not None}

    scales: dict[str, tuple[float, float]] = {}
    for fid, spec in section("scales").items():
        kp = ("scales", fid)
        if fid not in numeric:
            add(kp, f"{fid!r} is not a KPI or attribute of pack {pack.id}")
            continue
        lo, hi = (spec.get("min"), spec.get("max")) if isinstance(spec, dict) else (None, None)
        if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)) or lo >= hi:
            add(kp, "needs numeric {min, max} with min < max")
            continue
        scale = pack.kpis[fid].scale if fid in pack.kpis else pack.attributes[fid].scale
        if scale.kind == "nps" and (lo, hi) != (scale.min, scale.max):
            add(
                kp,
                f"NPS must be asked on {scale.min:g}-{scale.max:g}; a {lo:g}-{hi:g} recommend question is "
                "not NPS and cannot be rescaled to it (map it to another field or leave it out)",
            )
            continue
        scales[str(fid)] = (float(lo), float(hi))

    keep = data.get("keep_pii") or []
    pii = [f for f, s in pack.fields.items() if s.pii]
    if not isinstance(keep, list):
        add(("keep_pii",), "must be a list of PII fields")
        keep = []
    for f in keep:
        if f not in pii:
            add(
                ("keep_pii",),
                f"{f!r} is not a PII field of pack {pack.id} (PII fields: {', '.join(pii) or 'none'})",
            )

    weights = section("weights")
    if weights:
        if ("column" in weights) == ("rake" in weights):
            add(("weights",), "give either {column: <header>} or {rake: {variable: {category: share}}}")
        if "rake" in weights:
            _, wprob = wt.normalise_margins(weights.get("rake") or {})
            for msg in wprob:
                add(("weights", "rake"), msg)
        for k in weights:
            if k not in ("column", "rake", "max_iter", "tol"):
                add(("weights", k), "unknown key (column, rake, max_iter, tol)")

    stage_values: dict[str, str] = {}
    for label, sid in section("stage_values").items():
        if sid is None:
            continue
        if sid not in pack.stage_ids:
            close = difflib.get_close_matches(str(sid), pack.stage_ids, n=1, cutoff=0)
            add(("stage_values", label), f"{sid!r} is not a stage of pack {pack.id} (closest: {close[0]!r})")
            continue
        stage_values[_nfkc(str(label))] = str(sid)

    wave = section("wave")
    rule = str(wave.get("from_date", "half"))
    if rule not in _WAVE_RULES:
        add(("wave", "from_date"), f"must be one of {', '.join(_WAVE_RULES)}")
        rule = "half"

    odata_columns: dict[str, str] = {}
    od_targets = {
        str((pack.odata or {}).get("key", "customer_id")),
        *((pack.odata or {}).get("features") or {}),
        *((pack.odata or {}).get("aggregate") or {}),
    }
    for header, fid in section("odata_columns").items():
        odata_columns[str(header)] = str(fid)
        if str(fid) not in od_targets:
            for rule_spec in ((pack.odata or {}).get("aggregate") or {}).values():
                if isinstance(rule_spec, dict) and rule_spec.get("from") == fid:
                    break
            else:
                add(
                    ("odata_columns", header),
                    f"{fid!r} is neither the O-data key nor a declared feature or aggregate source",
                )

    quality = check_quality(data.get("quality"), add, ("quality",))
    src = section("source")
    plates = section("privacy").get("plates")
    if problems:
        head = f"{len(problems)} problem(s) in the mapping:\n" if len(problems) > 1 else ""
        raise InputError(head + "\n".join(f"{p}." for p in problems))
    return ColumnMapping(
        path=path,
        source_file=src.get("file"),
        sheet=src.get("sheet"),
        columns=columns,
        ignore=tuple(ignore),
        recode=recode,
        scales=scales,
        keep_pii=tuple(keep),
        weights=dict(weights),
        stage_values=stage_values,
        wave_from_date=rule,
        odata_columns=odata_columns,
        plates=None if plates is None else bool(plates),
        constants=constants,
        quality=quality,
    )


# --------------------------------------------------------------------------------- proposing a mapping
FIT_SAMPLE_ROWS = 5000  # rows whose values decide whether a header can be a field (value_fit)
FIT_SHARE = 0.8


def _known_label(t: str) -> bool:
    k = _key(t)
    return _stars(t) is not None or any(k in pt for sc in label_scales() for pt in sc.points)


def value_fit(
    raw: pd.DataFrame,
    pack: Pack,
    scales: dict[str, tuple[float, float]] | None = None,
    value_codes: dict[str, dict[str, str]] | None = None,
) -> Callable[[str, str], bool]:
    """``fits(header, id)`` for :func:`propose_mapping`: can the header's values be that field? Judged on the
    distinct values of the first :data:`FIT_SAMPLE_ROWS` rows: a KPI or attribute needs ``FIT_SHARE`` of them
    to be points of its scale (the mapping's ``scales`` when declared) or labels of a known label scale of
    any size; a date needs that share of readable dates, a duration that share of readable durations. So a duration (``125秒``), a 0/1 multiple-choice
    column or an IP address is not proposed as a score or a date. Other fields and empty columns fit."""
    sc = {k: v.scale for k, v in pack.kpis.items()} | {a: v.scale for a, v in pack.attributes.items()}
    cache: dict[str, list[str]] = {}

    def values(h: str) -> list[str]:
        if h not in cache:
            codes = (value_codes or {}).get(h) or {}
            col = raw[h].iloc[:FIT_SAMPLE_ROWS].dropna().unique()[:500]
            cache[h] = [codes.get(t, t) for t in (_normalise_text(v) for v in col) if t is not None]
        return cache[h]

    def fits(h: str, fid: str) -> bool:
        if h not in raw.columns or (fid not in sc and fid not in ("date", DURATION)):
            return True
        vals = values(h)
        if not vals:
            return True
        if fid == DURATION:
            unit = _duration_unit(h)
            return sum(parse_duration(t, unit) is not None for t in vals) >= FIT_SHARE * len(vals)
        if fid == "date":
            return int(_clean_dates(pd.Series(vals, dtype="str")).notna().sum()) >= FIT_SHARE * len(vals)
        lo, hi = (scales or {}).get(fid) or (sc[fid].min, sc[fid].max)
        good = 0
        for t in vals:
            x = parse_score(t)
            good += (lo <= x <= hi and float(x).is_integer()) if x is not None else _known_label(t)
        return good >= FIT_SHARE * len(vals)

    return fits


def _spread_in(t: str, h: str) -> int | None:
    """Length of the shortest stretch of ``h`` holding the characters of ``t`` in order (None: none does)."""
    best = None
    for i, ch in enumerate(h):
        if ch != t[0]:
            continue
        j, k = i, 0
        while j < len(h) and k < len(t):
            if h[j] == t[k]:
                k += 1
            j += 1
        if k < len(t):
            break  # no later start can finish either
        if best is None or j - i < best:
            best = j - i
    return best


def _score(h: str, t: str) -> float:
    """Similarity of two normalised names: 1 equal; containment scored by coverage; a name of ≥ 3
    characters found in order with a few particles between (销售顾问专业 in 销售顾问的专业程度, 意见建议 in
    其他意见或建议) a little less; else 0.9 × the difflib ratio when that is ≥ 0.6."""
    if not h or not t:
        return 0.0
    if h == t:
        return 1.0
    if len(t) >= 2 and t in h:
        return 0.75 + 0.2 * len(t) / len(h)
    if len(h) >= 2 and h in t and 2 * len(h) >= len(t):  # a header inside a name: at least half of it
        return 0.65 + 0.2 * len(h) / len(t)
    if len(t) >= 3 and len(t) < len(h):
        spread = _spread_in(t, h)
        if spread is not None and spread <= len(t) + max(1, len(t) // 3):
            return 0.72 + 0.2 * len(t) / len(h)
    r = difflib.SequenceMatcher(None, h, t).ratio()
    return 0.9 * r if r >= 0.6 else 0.0


def propose_mapping(
    table_headers: Iterable[str],
    pack: Pack,
    labels: dict[str, str] | None = None,
    min_score: float = PROPOSE_MIN,
    fits: Callable[[str, str], bool] | None = None,
) -> dict[str, Any]:
    """Match client headers to the pack's ids by field synonyms and KPI/attribute/segment names (zh/en).

    Headers and names are normalised (:func:`normalise_header`); a pair scores 1 when equal, 0.75-0.95 when
    one contains the other (more for more coverage), 0.72-0.92 when a name of ≥ 3 characters appears in order
    with a few characters between (see :func:`_score`), else 0.9 × the difflib ratio when that is ≥ 0.6.
    ``labels`` (SPSS variable labels, Qualtrics question texts by header) are scored too, and so is the row of
    a matrix question (:func:`_header_keys`); the best score counts. Platform columns
    (:func:`is_platform_column`: time taken, IP, …) are never proposed for a pack field; the first one that
    holds the time taken (:func:`duration_column`) is proposed for ``duration`` (score 1) when its values read
    as durations, and is then no longer listed under ``platform``. ``fits(header, id)``, when given,
    vetoes a pair whose values cannot be that field (see :func:`value_fit`) unless the header is exactly
    one of the field's names. Pairs are taken best first
    (ties: the name the pack lists first, then the earlier header), each header and id once. Returns
    ``{"columns": {header: id}, "matches": {header: {"field", "score", "via"}}, "unplaced": [headers],
    "platform": [headers], "missing_required": [ids]}``."""
    headers = [str(h) for h in table_headers]
    labels = labels or {}
    names = {fid: [(n, normalise_header(n)) for n in ns] for fid, ns in _targets(pack).items() if fid != DURATION}
    pairs: list[tuple[float, int, int, str, str, str]] = []
    platform = [h for h in headers if is_platform_column(h) or is_platform_column(labels.get(h) or h)]
    for order, h in enumerate(headers):
        if h in platform:
            continue
        keys = _header_keys(h) + (_header_keys(labels[h]) if labels.get(h) else [])
        for fid, ns in names.items():
            best, rank, via = 0.0, 0, ""
            for i, (raw_name, key) in enumerate(ns):
                s = max(_score(k, key) for k in keys)
                if s > best:
                    best, rank, via = s, i, raw_name
            if best >= min_score:
                pairs.append((best, -rank, -order, h, fid, via))
    pairs.sort(reverse=True)  # best score; then the name listed first (问卷编号 before 序号); then file order
    columns: dict[str, str] = {}
    matches: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for s, _, _, h, fid, via in pairs:
        if h in columns or fid in used:
            continue
        if fits is not None and s < 1.0 and not fits(h, fid):  # a header named exactly is trusted: its
            continue  # bad values are then quarantined with their reason, not hidden by leaving it out
        columns[h], matches[h] = fid, {"field": fid, "score": round(s, 3), "via": via}
        used.add(fid)
    for h in headers:  # the time taken: by its platform name only, never by similarity
        via = duration_column(h, pack) or (duration_column(labels[h], pack) if labels.get(h) else None)
        if via and DURATION not in used and h not in columns and (fits is None or fits(h, DURATION)):
            columns[h], matches[h] = DURATION, {"field": DURATION, "score": 1.0, "via": via}
            used.add(DURATION)
    platform = [h for h in platform if h not in columns]
    columns = {h: columns[h] for h in headers if h in columns}
    return {
        "columns": columns,
        "matches": {h: matches[h] for h in columns},
        "unplaced": [h for h in headers if h not in columns and h not in platform],
        "platform": platform,
        "missing_required": [f for f, spec in pack.fields.items() if spec.required and f not in used],
    }


_STAGE_SUFFIX = re.compile(r"(环节|阶段|问卷|调研|调查|满意度|体验|场景|触点|survey|stage)+$")


class _StageMatcher:
    """Client stage labels → stage ids by the stage's id, name, trigger and touchpoint names."""

    def __init__(self, pack: Pack):
        self.names: dict[str, set[str]] = {}
        for st in pack.stages:
            for n in (
                st.id,
                st.name.zh,
                st.name.en,
                *(st.trigger and (st.trigger.zh, st.trigger.en) or ()),
                *(x for tp in st.touchpoints for x in (tp.name.zh, tp.name.en)),
            ):
                k = _key(n)
                if k:
                    self.names.setdefault(k, set()).add(st.id)

    def match(self, label: str) -> tuple[str | None, str]:
        """(stage id, how) with how ∈ exact | contains | similar; (None, "") when nothing fits."""
        k = _key(label)
        if not k:
            return None, ""
        for key in (k, _STAGE_SUFFIX.sub("", k)):
            ids = self.names.get(key)
            if ids and len(ids) == 1:
                return next(iter(ids)), "exact"
        core = _STAGE_SUFFIX.sub("", k) or k
        hits = {
            i
            for n, ids in self.names.items()
            if len(core) >= 2 and len(n) >= 2 and (core in n or n in core)
            for i in ids
        }
        if len(hits) == 1:
            return hits.pop(), "contains"
        ratios: dict[str, float] = {}
        for n, ids in self.names.items():
            r = difflib.SequenceMatcher(None, core, n).ratio()
            for i in ids:
                ratios[i] = max(ratios.get(i, 0.0), r)
        top = sorted(ratios.items(), key=lambda kv: -kv[1])
        if top and top[0][1] >= 0.75 and (len(top) == 1 or top[1][1] < top[0][1]):
            return top[0][0], "similar"
        return None, ""


def propose_stage_values(labels: Iterable[str], pack: Pack) -> dict[str, str | None]:
    """A draft ``stage_values``: each distinct client label → the stage id it names (None when unsure)."""
    m = _StageMatcher(pack)
    return {str(lab): m.match(str(lab))[0] for lab in labels if lab is not None and str(lab).strip()}


def _q(v: Any) -> str:
    """A YAML scalar (JSON strings are valid YAML)."""
    if v is None:
        return "null"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)


def write_mapping_yaml(draft: dict[str, Any], path: str | Path | None = None) -> str:
    """The draft mapping as commented YAML (written to ``path`` when given); returns the text. Unplaced
    headers are listed as comments under ``columns`` (with a blank target to fill in), required fields that
    were not found are flagged at the top."""
    out = [
        "# cemkit column mapping (draft by `cemkit map`): check every line, then pass it with --mapping.",
        "# columns: client header → pack id. Delete wrong lines; fill in the commented ones you need.",
    ]
    if draft.get("pack"):
        out.append(f"# pack: {draft['pack']}")
    for f in draft.get("missing_required") or []:
        out.append(f"# !! required field {f!r} not found: map a header to it")
    out += [f"# {n}" for n in draft.get("notes") or []]
    src = draft.get("source") or {}
    if src:
        out.append("source:")
        out += [f"  {k}: {_q(v)}" for k, v in src.items() if v is not None]
    out.append("columns:")
    matches = draft.get("matches") or {}
    for h, fid in (draft.get("columns") or {}).items():
        m = matches.get(h) or {}
        how = f"  # {m.get('score', 1):.2f} via {m['via']!r}" if m.get("via") else ""
        out.append(f"  {_q(h)}: {fid}{how}")
    unplaced = draft.get("unplaced") or []
    if unplaced:
        out.append(f"  # not placed ({len(unplaced)}): uncomment and add a pack id, or leave them out")
        out += [f"  # {_q(h)}: " for h in unplaced]
    platform = draft.get("platform") or []
    if platform:
        out.append(f"  # platform columns ({len(platform)}: time taken, IP, device …), not analysed unless you map them:")
        out += [f"  # {_q(h)}: " for h in platform]
    sv = draft.get("stage_values") or {}
    if sv:
        out.append(
            "stage_values:   # client stage label → stage id (null = not recognised: fill it in, or the rows "
            "are quarantined)"
        )
        out += [f"  {_q(k)}: {v if v else 'null'}" for k, v in sv.items()]
    out += [
        "recode: {}       # {field: {client value: value}}",
        "scales: {}       # {field: {min: 1, max: 10}} when the client's scale differs (not for NPS)",
        "keep_pii: []     # e.g. [phone, name] to keep them for work orders (never in the analysis data)",
        "# weights: {column: 权重}   or   {rake: {region: {华东: 0.3, ...}}}",
        "# wave: {from_date: half}  # when the file has no wave column: half | quarter | month | year",
        "# constants: {stage: delivery, wave: 2024H1}  # one value for every row (a one-stage or one-wave file)",
        "# quality: {speeder_seconds: 60, straightliners: quarantine}  # overrides the pack's rules.quality",
    ]
    text = "\n".join(out) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def _as_pack(pack: Pack | str | Path) -> Pack:
    return pack if isinstance(pack, Pack) else load_pack(pack)


def map_command(pack: Pack | str | Path, data_path: str | Path, out_path: str | Path | None = None) -> str:
    """``cemkit map``: read the file, propose a mapping (columns and stage values), write the draft YAML to
    ``out_path`` when given, and return the text to print (the YAML itself when there is no ``out_path``)."""
    pk = _as_pack(pack)
    raw = read_table(data_path)
    attrs = dict(raw.attrs)
    draft = propose_mapping(
        list(raw.columns), pk, labels=attrs.get("column_labels"),
        fits=value_fit(raw, pk, value_codes=attrs.get("value_codes")),
    )
    draft["pack"] = pk.id
    data_file = Path(data_path).resolve()
    if out_path is not None and data_file.is_relative_to(Path(out_path).resolve().parent):
        data_file = data_file.relative_to(
            Path(out_path).resolve().parent
        )  # the mapping sits next to the data
    draft["source"] = {"file": str(data_file), "sheet": attrs.get("sheet")}
    draft["notes"] = _value_notes(raw, draft["columns"], pk, attrs.get("value_codes") or {})
    stage_col = next((h for h, f in draft["columns"].items() if f == "stage"), None)
    if stage_col is not None:
        labels = raw[stage_col].dropna().map(_nfkc).unique().tolist()[:500]
        draft["stage_values"] = {k: v for k, v in propose_stage_values(labels, pk).items() if k != v}
    text = write_mapping_yaml(draft, out_path)
    where = (
        f" (sheet {attrs['sheet']!r}"
        + (f" of {', '.join(attrs['sheets'])}" if attrs.get("sheets") else "")
        + ")"
        if attrs.get("sheet")
        else ""
    )
    lines = [
        f"cemkit map: {len(raw.columns)} columns, {len(raw):,} rows in {Path(data_path).name}{where}, "
        f"header on row {attrs.get('header_row', 1)}"
        + (f", encoding {attrs['encoding']}" if attrs.get("encoding") else "")
    ]
    lines.append(f"  matched {len(draft['columns'])}:")
    for h, fid in draft["columns"].items():
        m = draft["matches"][h]
        lines.append(f"    {h} → {fid}  ({m['score']:.2f}, {m['via']})")
    if draft.get("stage_values"):
        lines.append(
            "  stage values: " + ", ".join(f"{k} → {v or '?'}" for k, v in draft["stage_values"].items())
        )
    if draft["unplaced"]:
        lines.append(f"  not placed {len(draft['unplaced'])}: " + ", ".join(draft["unplaced"]))
    if draft.get("platform"):
        lines.append(f"  platform columns {len(draft['platform'])} (not analysed): " + ", ".join(draft["platform"]))
    if draft["missing_required"]:
        lines.append("  required fields not found: " + ", ".join(draft["missing_required"]))
    lines += [f"  {n}" for n in draft["notes"]]
    if out_path is None:
        return "\n".join(lines) + "\n\n" + text
    lines.append(f"  draft written to {out_path}: review it, then run with --mapping {out_path}")
    return "\n".join(lines)


def _value_notes(raw: pd.DataFrame, columns: dict[str, str], pack: Pack, value_codes: dict) -> list[str]:
    """What the values of the proposed columns tell the consultant (first FIT_SAMPLE_ROWS rows): score
    columns answered in words (recoded from which scale, or what to add), option numbers of a coded export
    (NPS 1-11, stage 1, 2, 3 …)."""
    notes: list[str] = []
    scales = {k: v.scale for k, v in pack.kpis.items()} | {a: v.scale for a, v in pack.attributes.items()}
    for h, fid in columns.items():
        vals = raw[h].iloc[:FIT_SAMPLE_ROWS].dropna().unique().tolist()
        if fid in scales:
            sc = scales[fid]
            xs, _, words = _score_values(vals, None, value_codes.get(h))
            if words:
                points, why = recognise_labels(words.values(), int(sc.max - sc.min) + 1)
                if points is not None:
                    shown = sorted(points.items(), key=lambda kv: kv[1])
                    notes.append(f"{fid}: answers are labels of {why}, read as "
                                 + ", ".join(f"{k}={sc.min + v - 1:g}" for k, v in shown))
                else:
                    notes.append(f"!! {fid}: answers in words are not read ({why}); add recode: {{{fid}: "
                                 + "{" + ", ".join(f"{w}: ?" for w in sorted(set(words.values()))[:8]) + "}}")
            nums = set(xs[np.isfinite(xs)].tolist())
            if sc.kind == "nps" and sc.min == 0 and sc.max + 1 in nums and sc.min not in nums:
                notes.append(
                    f"!! {fid}: answers run 1-11 with no 0: option numbers of a coded export (问卷星 按选项序号)? "
                    "Re-export as option text, or recode: {" + f"{fid}: " + "{"
                    + ", ".join(f'"{i + 1}": {i}' for i in range(11)) + "}}"
                )
        elif fid == "stage":
            labels = [t for t in (_normalise_text(v) for v in vals) if t is not None]
            if labels and all(t.isdigit() for t in labels):
                notes.append(
                    "!! stage: the answers are numbers (" + ", ".join(sorted(set(labels), key=int)[:8])
                    + "): option numbers of a coded export? Give each its stage under stage_values, or "
                    "re-export as option text"
                )
    return notes


def map_cli(args: Any) -> int:
    """Entry point of ``cemkit map --pack P --data FILE [--out mapping.yaml]``."""
    print(map_command(args.pack, args.data, getattr(args, "out", None)))
    return 0


# ================================================================================================ prepare
@dataclass
class Prepared:
    """The result of :func:`prepare`. ``responses`` follows the clean response table contract
    (docs/architecture.md); ``quarantine`` has one row per unused input row: ``row`` (spreadsheet row
    number, NA when unknown), ``response_id``, ``reason``, ``detail`` and ``raw`` (the masked input row as a
    JSON object); ``contacts`` holds kept PII (``keep_pii``) by response; ``timings`` seconds per stage."""

    responses: pd.DataFrame
    quarantine: pd.DataFrame
    accounting: dict[str, Any]
    odata: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Work:
    """State shared by the row checks: the cleaned columns and per-cell problems."""

    pack: Pack
    mapping: ColumnMapping
    n: int
    cols: dict[str, str]  # field id → client header
    raw: pd.DataFrame | None  # the input, released once the quarantine is built
    clean: dict[str, Any] = field(default_factory=dict)
    status: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # score columns: 0 ok, 1 missing, 2 NaN, 3 range
    empty: np.ndarray | None = None
    unknown_stage: np.ndarray | None = None
    weight_bad: np.ndarray | None = None
    weight_detail: Callable[[np.ndarray], Any] | None = None
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # cell notes, counted over the used rows
    plates: bool = False
    id_codes: np.ndarray | None = None
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # score columns answered in words
    summary: np.ndarray | None = None
    quality: dict[str, Any] = field(default_factory=lambda: dict(QUALITY_DEFAULTS))  # pack + mapping
    open_rows: np.ndarray | None = None  # rows no earlier rule has quarantined (set by _apply_checks)
    straight: np.ndarray | None = None  # one score on every rated attribute (≥ straightliner_min_items)
    speeder: dict[str, Any] = field(default_factory=dict)  # how the speeder threshold was set


class _Check(NamedTuple):
    """A row rule: ``test(work)`` → (rows that fail, detail), or None when it does not apply to this
    pack/mapping. The detail is one text, or a function of the failing row positions (so per-row texts are
    only built for the few rows that fail)."""

    reason: str
    test: Callable[[_Work], tuple[np.ndarray, Any] | None]


_OK, _MISSING, _NOT_NUMERIC, _OUT_OF_RANGE = 0, 1, 2, 3


def _values_detail(values: pd.Series, label: str) -> Callable[[np.ndarray], list[str]]:
    """Detail texts ``label = 'value'`` for the failing rows only."""

    def detail(idx: np.ndarray) -> list[str]:
        return [f"{label} = {('' if pd.isna(v) else str(v))!r}" for v in values.to_numpy(dtype=object)[idx]]

    return detail


def _raw_detail(w: _Work, fid: str, label: str) -> Callable[[np.ndarray], list[str]]:
    return _values_detail(w.raw[w.cols[fid]], label)


def _label_detail(w: _Work, fid: str) -> Callable[[np.ndarray], list[str]]:
    """``nps = '很愿意'``, and when the column's answers are words no known scale holds, what to do."""
    base = _raw_detail(w, fid, fid)
    note = w.labels.get(fid)
    if not note or note.get("scale"):
        return base
    hint = f" ({note['why']}; add recode: {{{fid}: {{label: point, …}}}} to the mapping)"
    return lambda idx: [d + hint for d in base(idx)]


def _kpi_checks(pack: Pack) -> list[_Check]:
    out = []
    for k in pack.kpis:
        if not (pack.fields.get(k) and pack.fields[k].required):
            continue
        out.append(_Check(f"{k}_missing", lambda w, k=k: (w.status[k] == _MISSING, f"no {k} score")))
        out.append(
            _Check(f"{k}_not_numeric", lambda w, k=k: (w.status[k] == _NOT_NUMERIC, _label_detail(w, k)))
        )
    for k in pack.kpis:
        if pack.fields.get(k) and pack.fields[k].required:
            out.append(
                _Check(
                    "score_out_of_range", lambda w, k=k: (w.status[k] == _OUT_OF_RANGE, _raw_detail(w, k, k))
                )
            )
    return out


def _checks(pack: Pack) -> list[_Check]:
    """The row rules in order; a row is quarantined for the first that fails (duplicate_id comes last and
    is applied separately, among the rows that pass all of these)."""
    date_required = bool(pack.fields.get("date") and pack.fields["date"].required)
    return [
        _Check("empty_row", lambda w: (w.empty, "every cell is empty")),
        _Check("summary_row", lambda w: None if w.summary is None else (w.summary, _summary_detail(w))),
        _Check(
            "response_id_missing", lambda w: (pd.isna(w.clean["response_id"]).to_numpy(), "no response id")
        ),
        _Check("stage_missing", lambda w: (pd.isna(w.clean["stage_label"]).to_numpy(), "no stage")),
        _Check("unknown_stage", lambda w: (w.unknown_stage, _values_detail(w.clean["stage_label"], "stage"))),
        *_kpi_checks(pack),
        _Check(
            "date_invalid",
            lambda w: (pd.isna(w.clean["date"]).to_numpy(), "no readable date") if date_required else None,
        ),
        _Check("weight_invalid", lambda w: None if w.weight_bad is None else (w.weight_bad, w.weight_detail)),
        _Check("speeder", _speeders),
        _Check(
            "straightliner",
            lambda w: (w.straight, _straight_detail(w)) if w.quality["straightliners"] == "quarantine" else None,
        ),
    ]


def _quality(pack: Pack, mp: ColumnMapping) -> dict[str, Any]:
    """The quality rules in force: the pack's ``rules.quality``, then the keys the mapping gives."""
    return {**QUALITY_DEFAULTS, **pack.rules.quality, **mp.quality}


def _speeders(w: _Work) -> tuple[np.ndarray, Any] | None:
    """Rows answered in less time than the threshold: ``speeder_seconds``, or ``speeder_median_share`` × the
    median duration of the rows no earlier rule quarantined (the larger when both are set). Records how the
    threshold was set in ``w.speeder``; None (no check) without a duration column or with both rules off."""
    q = w.quality
    if DURATION not in w.clean:
        w.speeder = {"check": "no duration column"}
        return None
    d = w.clean[DURATION]
    absolute = float(q["speeder_seconds"] or 0.0)
    share = float(q["speeder_median_share"] or 0.0)
    if absolute <= 0 and share <= 0:
        w.speeder = {"check": "disabled"}
        return None
    pool = d[w.open_rows & ~np.isnan(d)] if w.open_rows is not None else d[~np.isnan(d)]
    median = float(np.median(pool)) if pool.size else None
    relative = share * median if share > 0 and median is not None else 0.0
    threshold = max(absolute, relative)
    w.speeder = {"check": "on" if threshold > 0 else "no durations", "threshold_seconds": round(threshold, 3),
                 "median_seconds": median, "durations": int(pool.size)}
    if threshold <= 0:
        return None
    rule = (f"{share:.3g} × the median {median:g} s" if relative >= absolute else f"speeder_seconds {absolute:g}")

    def detail(idx: np.ndarray) -> list[str]:
        return [f"answered in {x:g} s, under the threshold of {threshold:.4g} s ({rule})" for x in d[idx]]

    return d < threshold, detail


def _straightliners(w: _Work, min_items: int) -> np.ndarray:
    """Per row: the same score on every attribute it rated, with at least ``min_items`` rated (attributes
    not asked at the row's stage are NaN, so the rated ones are its stage's grid). Column by column over the
    attribute matrix, no row loop and no stacked copy: first the count of rated attributes (from the int8
    cell status), then a running min and max over the rows rated often enough (all rows when most are)."""
    attrs = [a for a in w.pack.attributes if a in w.cols]
    out = np.zeros(w.n, dtype=bool)
    if len(attrs) < min_items or not w.n:
        return out
    count = np.zeros(w.n, dtype=np.int16)
    for a in attrs:
        st = w.status.get(a)
        count += (st == _OK) if st is not None else ~np.isnan(w.clean[a])
    enough = count >= min_items
    rows = np.flatnonzero(enough)
    if not rows.size:
        return out
    part = rows.size < w.n // 2  # few rows rated enough: gather them; else run over whole columns

    def col(a: str) -> np.ndarray:
        x = np.asarray(w.clean[a], dtype=float)
        return x[rows] if part else x

    lo = np.array(col(attrs[0]), copy=True)
    hi = lo.copy()
    for a in attrs[1:]:
        x = col(a)
        np.fmin(lo, x, out=lo)
        np.fmax(hi, x, out=hi)
    if part:
        out[rows] = lo == hi
    else:
        out = enough & (lo == hi)
    return out


def _straight_detail(w: _Work) -> Callable[[np.ndarray], list[str]]:
    attrs = [a for a in w.pack.attributes if a in w.cols]

    def detail(idx: np.ndarray) -> list[str]:
        vals = np.column_stack([np.asarray(w.clean[a])[idx] for a in attrs])
        rated = (~np.isnan(vals)).sum(axis=1)
        return [f"the same score ({np.nanmax(v):g}) on all {k} attributes rated" for v, k in zip(vals, rated)]

    return detail


def constant_header(fid: str) -> str:
    """The column a mapping ``constants`` entry becomes (no client header looks like it)."""
    return f"=constant:{fid}"


def _resolve_columns(
    raw: pd.DataFrame, attrs: dict, pack: Pack, mp: ColumnMapping
) -> tuple[dict[str, str], dict[str, str]]:
    """Field id → client header, and how each was found. Raises InputError listing every absent mapped
    column and every missing required field, each with the closest header."""
    fname = attrs.get("source") or "data"
    headers = list(raw.columns)
    labels = attrs.get("column_labels") or {}
    by_label = {str(v): k for k, v in labels.items()}
    targets = _targets(pack)
    cols: dict[str, str] = {}
    how: dict[str, str] = {}
    problems: list[str] = []
    for header, fid in mp.columns.items():
        h = header if header in headers else by_label.get(header)
        if h is None:
            close = _closest(header, headers)
            problems.append(
                f"{fname}: the mapping {mp.name} names column {header!r}, which is not in the file"
                + (f" (closest header: {close!r})" if close else "")
                + "."
            )
            continue
        cols[fid], how[fid] = h, "mapping"
    for fid in mp.constants:
        cols[fid], how[fid] = constant_header(fid), "constant (mapping)"
    taken = set(cols.values()) | set(mp.ignore)
    for fid in targets:
        if fid not in cols and fid in headers and fid not in taken:
            cols[fid], how[fid] = fid, "id"
            taken.add(fid)
    rest = [h for h in headers if h not in taken]
    if rest:
        draft = propose_mapping(
            rest, pack, labels={h: labels[h] for h in rest if h in labels},
            fits=value_fit(raw, pack, mp.scales, attrs.get("value_codes")),
        )
        for h, fid in draft["columns"].items():
            if fid not in cols and draft["matches"][h]["score"] >= AUTO_MATCH_MIN:
                cols[fid], how[fid] = h, f"auto ({draft['matches'][h]['via']})"
    for fid, spec in pack.fields.items():
        if spec.required and fid not in cols:
            names = targets.get(fid, [fid])
            best = None
            if headers:
                best = max(
                    headers,
                    key=lambda h: max(
                        difflib.SequenceMatcher(None, normalise_header(h), normalise_header(n)).ratio()
                        for n in names
                    ),
                )
            looked = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            problems.append(
                f"{fname}: required column {fid!r} is missing (looked for {looked})"
                + (f"; the closest header is {best!r}" if best is not None else "")
                + ("" if fid in ("response_id", "customer_id") else
                   f" — map a header to it, or give every row one value with `constants: {{{fid}: …}}` "
                   "in the mapping")
                + "."
            )
    if problems:
        raise InputError("\n".join(problems))
    return cols, how


def _clean_text_col(s: pd.Series, recode: dict[str, str] | None = None) -> pd.Series:
    """NFKC + strip + missing tokens + recode, on distinct values; returns str dtype."""

    def fn(v: str) -> str | None:
        t = _normalise_text(v)
        return recode.get(t, t) if recode and t is not None else t

    return _map_text(s, fn)


def _clean_scores(
    s: pd.Series,
    lo: float,
    hi: float,
    recode: dict[str, str] | None,
    codes_map: dict[str, str] | None,
    client: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any] | None]:
    """Scores: (values on the pack scale, status per cell, label note). Plain numbers take one Arrow cast;
    anything else (``10分``, labels, recodes, another scale) is parsed once per distinct value. Answers that
    are words are recoded when :func:`recognise_labels` finds their scale; the note says which scale (or
    why none), None when the column has no such answers."""
    if not recode and not codes_map and client is None and isinstance(s.array, pd.arrays.ArrowStringArray):
        try:
            x = pc.cast(pa.array(s.array), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # some cell is not a plain number: the general path below
            x = None
        if x is not None:
            ok = (x >= lo) & (x <= hi) & (np.floor(x) == x)
            st = np.where(np.isnan(x), _MISSING, np.where(ok, _OK, _OUT_OF_RANGE)).astype(np.int8)
            return np.where(ok, x, np.nan), st, None
    codes, uniq = _distinct(s)
    clo, chi = client or (lo, hi)
    xs, st, words = _score_values(uniq, recode, codes_map)
    note = None
    if words:
        points, why = recognise_labels(words.values(), int(chi - clo) + 1)
        note = {"labels": sorted(set(words.values())), "why": why, "scale": None}
        if points is not None:
            note.update(scale=why, recoded={t: clo + points[t] - 1 for t in note["labels"]})
            for i, t in words.items():
                xs[i], st[i] = clo + points[t] - 1, _OK
    ok = (st == _OK) & (xs >= clo) & (xs <= chi) & (np.floor(xs) == xs)
    st = np.where((st == _OK) & ~ok, _OUT_OF_RANGE, st).astype(np.int8)
    val = np.where(ok, xs if client is None else np.floor(lo + (xs - clo) * (hi - lo) / (chi - clo) + 0.5), np.nan)
    return _take(val, codes, np.nan, float), _take(st, codes, _MISSING, np.int8), note


def _score_values(
    uniq: list[Any], recode: dict[str, str] | None, codes_map: dict[str, str] | None
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Distinct score cells → (numbers, status _OK / _MISSING / _NOT_NUMERIC, {index: text} of the
    answers that are words rather than numbers)."""
    xs = np.full(len(uniq), np.nan)
    st = np.full(len(uniq), _OK, dtype=np.int8)
    words: dict[int, str] = {}
    for i, u in enumerate(uniq):
        t = _normalise_text(u)
        if t is not None and recode:
            t = recode.get(t, t)
        if t is not None and codes_map:
            t = codes_map.get(t, t)
        if t is None:
            st[i] = _MISSING
            continue
        x = parse_score(t)
        if x is None:
            st[i] = _NOT_NUMERIC
            words[i] = t
        else:
            xs[i] = x
    return xs, st, words


_DMY = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?)?$"
)


def _day_month_order(uniq: list[Any]) -> str | None:
    """How a column writes ``3/5/2024``: "dmy" when some first number is over 12, "mdy" when some second
    one is, or when times carry AM/PM (SurveyMonkey, US Excel); None (not read) when nothing tells."""
    ms = [m for u in uniq if u is not None and (m := _DMY.match(_nfkc(str(u))))]
    if any(int(m.group(1)) > 12 for m in ms):
        return "dmy"
    if any(int(m.group(2)) > 12 or m.group(7) for m in ms):
        return "mdy"
    return None


def _parse_dmy(value: Any, order: str) -> pd.Timestamp:
    m = _DMY.match(_nfkc(str(value))) if value is not None else None
    if not m:
        return parse_date(value)
    a, b, y, hh, mi, ss = (int(g) if g else 0 for g in m.groups()[:6])
    d, mo = (a, b) if order == "dmy" else (b, a)
    ampm = (m.group(7) or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hh <= 12:
            return pd.NaT
        hh = hh % 12 + (12 if ampm == "pm" else 0)
    try:
        return pd.Timestamp(dt.datetime(y, mo, d, hh, mi, ss))
    except ValueError:
        return pd.NaT


def _clean_dates(s: pd.Series) -> pd.Series:
    """Dates on distinct values; day/month order of ``3/5/2024`` decided once for the column."""
    codes, uniq = _distinct(s)
    order = _day_month_order(uniq)
    one = parse_date if order is None else functools.partial(_parse_dmy, order=order)
    vals = (
        pd.DatetimeIndex([one(u) for u in uniq], dtype="datetime64[ns]")
        if uniq
        else pd.DatetimeIndex([], dtype="datetime64[ns]")
    )
    arr = np.append(vals.to_numpy(), np.datetime64("NaT", "ns"))
    return pd.Series(arr[codes], index=s.index, dtype="datetime64[ns]")


def _empty_rows(raw: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank, checking one column at a time on the rows still in doubt."""
    n = len(raw)
    cand = np.ones(n, dtype=bool)
    for c in raw.columns:
        idx = np.flatnonzero(cand)
        if not idx.size:
            break
        s = raw[c]
        if idx.size == n:
            cand[idx] = _blank(s)
        elif isinstance(s.array, pd.arrays.ArrowStringArray):  # Arrow's take: pandas' .iloc costs more here
            cand[idx] = _blank(pa.array(s.array).take(pa.array(idx)))
        else:
            cand[idx] = _blank(s.iloc[idx])
    return cand


def _summary_columns(raw: pd.DataFrame, cols: dict[str, str]) -> list[str]:
    """Where a summary row says what it is: the first two columns and the response id column."""
    heads = [h for h in list(raw.columns[:2]) + [cols.get("response_id")] if h and not h.startswith("=constant:")]
    return list(dict.fromkeys(h for h in heads if h in raw.columns))


def _summary_rows(raw: pd.DataFrame, heads: list[str]) -> np.ndarray:
    """Rows under (or among) the data that total or average them (合计, 平均值, Total …; platforms.yaml
    ``summary_tokens``) in one of ``heads``: one Arrow set lookup per column."""
    cells = pa.array(_platforms()["summary_cells"], pa.string())
    out = np.zeros(len(raw), dtype=bool)
    for h in heads:
        a = arrow(raw[h])
        out |= np.asarray(pc.fill_null(pc.is_in(a, value_set=cells.cast(a.type)), False), dtype=bool)
    return out


def _summary_detail(w: _Work) -> Callable[[np.ndarray], list[str]]:
    heads = _summary_columns(w.raw, w.cols)
    tokens = set(_platforms()["summary_cells"])

    def detail(idx: np.ndarray) -> list[str]:
        out = []
        for i in idx:
            v = next((x for h in heads if (x := w.raw[h].iloc[i]) in tokens), "")
            out.append(f"a summary row ({v}) under the data, not a response")
        return out

    return detail


def _privacy_plates(pack: Pack, mp: ColumnMapping) -> bool:
    """Mask licence plates? The mapping's ``privacy.plates``, else the pack's (``privacy: {plates: true}``
    in pack.yaml)."""
    if mp.plates is not None:
        return mp.plates
    return bool(pack.privacy.get("plates"))


def prepare(
    data_path: str | Path | None,
    pack: Pack | str | Path,
    mapping: str | Path | dict | None = None,
    odata_paths: Iterable[str | Path] = (),
    out_dir: str | Path | None = None,
) -> Prepared:
    """Read, map, clean, quarantine, mask, weight and join a client export (see the module docstring).

    ``mapping``: a YAML path or dict (None: headers named by pack ids, plus confident synonym matches, which
    are also used alongside a mapping for the fields it leaves out).
    ``out_dir``: when given, receives ``responses.parquet``, ``quarantine.parquet``, ``odata.parquet``,
    ``contacts.parquet`` (only with ``keep_pii``) and ``accounting.json``. Raises InputError for an unreadable
    file, an absent mapped column or a missing required column (all listed at once), and when no row is
    usable (after writing ``out_dir``, so that the quarantine can be inspected)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    pk = _as_pack(pack)
    mp = load_mapping(mapping, pk)
    if data_path is None or str(data_path) == "":
        if not mp.source_file:
            raise InputError("no data file: give one, or name it under source.file in the mapping.")
        base = mp.path.parent if mp.path else Path(".")
        data_path = base / mp.source_file
    paths = [odata_paths] if isinstance(odata_paths, (str, Path)) else [p for p in (odata_paths or ()) if p]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the O-data needs nothing from the survey: read it on a second core while the survey is cleaned
        # (Arrow's readers and kernels release the GIL); its errors surface after the survey's own
        pending = pool.submit(_read_odata, paths, pk, mp) if paths else None
        return _prepare(data_path, pk, mp, pending, out_dir, timings, t0)


def _prepare(data_path: str | Path, pk: Pack, mp: ColumnMapping, pending: Future | None,
             out_dir: str | Path | None, timings: dict[str, float], t0: float) -> Prepared:
    """The rest of :func:`prepare`, with the O-data being read in ``pending``."""
    raw = read_table(data_path, sheet=mp.sheet)
    attrs, raw.attrs = dict(raw.attrs), {}
    for fid, value in mp.constants.items():  # one value for every row, read like a client column
        raw[constant_header(fid)] = pd.Series(value, index=raw.index, dtype="str")
    timings["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    cols, how = _resolve_columns(raw, attrs, pk, mp)
    w = _Work(pk, mp, len(raw), cols, raw)
    acc: dict[str, Any] = {
        "source": attrs.get("source"),
        "format": attrs.get("format"),
        "encoding": attrs.get("encoding"),
        "sheet": attrs.get("sheet"),
        "header_row": attrs.get("header_row"),
    }
    stage_labels = _clean(w, attrs)
    w.quality = _quality(pk, mp)
    w.straight = w.clean["straightliner"] = _straightliners(w, int(w.quality["straightliner_min_items"]))
    timings["clean"] = time.perf_counter() - t

    t = time.perf_counter()
    w.plates = _privacy_plates(pk, mp)
    comment, masked = (
        privacy.mask_text(w.clean["comment"], plates=w.plates) if "comment" in w.clean else (None, {})
    )
    if comment is not None:
        w.clean["comment"] = comment
    timings["mask"] = time.perf_counter() - t

    t = time.perf_counter()
    reason, detail = _apply_checks(w)
    _deduplicate(w, reason, detail, attrs)
    used = pd.isna(reason)
    timings["checks"] = time.perf_counter() - t

    t = time.perf_counter()
    quarantine, qmasked = _quarantine(w, attrs, reason, detail, used, comment)
    contacts = _contacts(w, used)
    n_raw, unused = len(raw), [h for h in raw.columns if h not in set(cols.values())]
    by_reason = quarantine["reason"].value_counts().to_dict() if len(quarantine) else {}
    quality = _quality_report(w, used, by_reason)
    w.raw = raw = comment = None  # the input is no longer needed: free it before copying the used rows
    timings["quarantine"] = time.perf_counter() - t

    t = time.perf_counter()
    responses = _responses(w, used)
    weighting = _weigh(w, responses, used)
    w.clean.clear()
    timings["responses"] = time.perf_counter() - t

    acc.update(
        {
            "input_rows": int(n_raw + len(attrs.get("bad_rows") or [])),
            "used": len(responses),
            "quarantined": len(quarantine),
            "by_reason": {
                str(k): int(v) for k, v in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
            },
            **_notes(w, used),
            **quality,
            "stage_labels": stage_labels,
            "label_scales": w.labels,
            "masked": {k: int(v) for k, v in masked.items()},
            "masked_quarantine": {k: int(v) for k, v in qmasked.items() if v},
            "pii_dropped": [f for f, s in pk.fields.items() if s.pii and f in cols and f not in mp.keep_pii],
            "pii_kept": [f for f in mp.keep_pii if f in cols],
            "columns": {cols[f]: f for f in cols},
            "column_sources": {f: how[f] for f in cols if how[f] != "id"},
            "unused_columns": unused,
            "weighting": weighting,
            "weighting_efficiency": weighting.get("efficiency"),
        }
    )
    # the invariant: a failure here is a bug in cemkit, not bad input
    if acc["input_rows"] != acc["used"] + acc["quarantined"]:
        raise AssertionError(
            f"accounting does not add up: {acc['input_rows']} != {acc['used']} + {acc['quarantined']}"
        )

    t = time.perf_counter()
    odata = None
    if pending is not None:
        odata, oacc = _match_odata(*pending.result(), pk, responses)
        acc.update(oacc)
    timings["odata"] = time.perf_counter() - t  # the wait for the O-data reader, and the match

    acc = json_safe(acc)
    prepared = Prepared(responses, quarantine, acc, odata, contacts, timings)
    if out_dir is not None:
        t = time.perf_counter()
        _write(prepared, Path(out_dir))
        timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if not acc["used"]:
        why = ", ".join(f"{k} {v}" for k, v in acc["by_reason"].items()) or "the file has no data rows"
        where = (
            f"; see {Path(out_dir) / 'quarantine.parquet'}"
            if out_dir is not None and acc["quarantined"]
            else ""
        )
        raise InputError(f"{acc['source']}: no usable rows ({acc['input_rows']} read, {why}){where}.")
    return prepared


def _clean(w: _Work, attrs: dict) -> dict[str, str]:
    """Clean every mapped column into ``w.clean`` / ``w.status`` / ``w.flags``; return the stage labels that
    were matched to a stage id by name. Columns are independent, so they are cleaned on a thread pool
    (the work is in Arrow and numpy kernels, which release the GIL)."""
    pk, mp, raw, cols, n = w.pack, w.mapping, w.raw, w.cols, w.n
    recode = mp.recode
    value_codes = attrs.get("value_codes") or {}
    scored = [*((k, v.scale) for k, v in pk.kpis.items()), *((a, v.scale) for a, v in pk.attributes.items())]
    special = {
        "response_id",
        "customer_id",
        "wave",
        "date",
        "stage",
        "touchpoint",
        "comment",
        "weight",
        DURATION,
        *pk.kpis,
        *pk.attributes,
    }
    texts = [f for f in cols if f not in special and not (pk.fields.get(f) and pk.fields[f].pii)]
    tp_ids = {
        _key(x): tp.id for st in pk.stages for tp in st.touchpoints for x in (tp.id, tp.name.zh, tp.name.en)
    }

    def touchpoint(v: str) -> str | None:
        t = _normalise_text(v)
        t = (recode.get("touchpoint") or {}).get(t, t) if t is not None else None
        return tp_ids.get(_key(t), t) if t is not None else None

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        jobs: dict[str, Future] = {
            "__empty": pool.submit(_empty_rows, raw),
            "__summary": pool.submit(_summary_rows, raw, _summary_columns(raw, cols)),
        }
        for fid in ("response_id", "customer_id", "comment"):
            if fid in cols:
                jobs[fid] = pool.submit(_strip_text, raw[cols[fid]],
                                        COMMENT_SKIP_MARKERS if fid == "comment" else ())
        for fid, spec in scored:
            if fid in cols:
                jobs[fid] = pool.submit(
                    _clean_scores,
                    raw[cols[fid]],
                    spec.min,
                    spec.max,
                    recode.get(fid),
                    value_codes.get(cols[fid]),
                    mp.scales.get(fid),
                )
        for fid in [*texts, "stage", "wave"]:
            if fid in cols:
                jobs[fid] = pool.submit(_clean_text_col, raw[cols[fid]], recode.get(fid))
        if "touchpoint" in cols:
            jobs["touchpoint"] = pool.submit(_map_text, raw[cols["touchpoint"]], touchpoint)
        if DURATION in cols:
            jobs[DURATION] = pool.submit(_clean_durations, raw[cols[DURATION]], _duration_unit(cols[DURATION]))
        if "date" in cols:
            jobs["date"] = pool.submit(_clean_dates, raw[cols["date"]])
            jobs["__date_given"] = pool.submit(_blank, raw[cols["date"]])
        if "response_id" in cols:  # codes of the ids for the duplicate check (a hash pass, run alongside)
            jobs["__id_codes"] = pool.submit(lambda: _distinct(jobs["response_id"].result())[0])
        done = {k: f.result() for k, f in jobs.items()}
    w.id_codes = done.get("__id_codes")

    missing_text = pd.Series(pd.NA, index=raw.index, dtype="str")
    w.empty = done["__empty"] if n else np.zeros(0, dtype=bool)
    w.summary = done["__summary"] if n else np.zeros(0, dtype=bool)
    for fid in ("response_id", "customer_id"):
        w.clean[fid] = done.get(fid, missing_text)
    w.flags["customer_id_missing"] = w.clean["customer_id"].isna().to_numpy()
    if "comment" in done:
        w.clean["comment"] = done["comment"]
    if "touchpoint" in done:
        w.clean["touchpoint"] = done["touchpoint"]
    if DURATION in done:
        w.clean[DURATION], w.flags["durations_unparsed"] = done[DURATION]
    for fid in texts:
        w.clean[fid] = done[fid]

    # scores ---------------------------------------------------------------------------------------------
    for fid, _ in scored:
        if fid not in done:
            w.clean[fid] = np.full(n, np.nan)
            w.status[fid] = np.full(n, _MISSING, dtype=np.int8)
            continue
        w.clean[fid], w.status[fid], note = done[fid]
        if note:
            w.labels[fid] = note
        st = w.status[fid]
        if not (pk.fields.get(fid) and pk.fields[fid].required):
            w.flags[f"blanked:{fid}:not_numeric"] = st == _NOT_NUMERIC
            w.flags[f"blanked:{fid}:out_of_range"] = st == _OUT_OF_RANGE

    # date, wave -----------------------------------------------------------------------------------------
    if "date" in done:
        w.clean["date"] = done["date"]
        w.flags["dates_unparsed"] = ~done["__date_given"] & w.clean["date"].isna().to_numpy()
    else:
        w.clean["date"] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    wave = done.get("wave", missing_text)
    derive = wave.isna() & w.clean["date"].notna()
    if derive.any():
        wave = wave.mask(derive, _WAVE_RULES[mp.wave_from_date](w.clean["date"]))
    w.clean["wave"] = wave.astype("str")
    w.flags["wave_derived"] = derive.to_numpy()
    w.flags["wave_missing"] = w.clean["wave"].isna().to_numpy()

    # stage ----------------------------------------------------------------------------------------------
    label = done.get("stage", missing_text)
    w.clean["stage_label"] = label
    matcher = _StageMatcher(pk)
    matched: dict[str, str] = {}

    def stage_id(u: str) -> str | None:
        sid = mp.stage_values.get(u)
        if sid is None and u in pk.stage_ids:
            return u
        if sid is None:
            cand, kind = matcher.match(u)
            if kind in ("exact", "contains"):
                sid = matched[u] = cand
        elif u != sid:
            matched[u] = sid
        return sid

    w.clean["stage"] = _map_text(label, stage_id)
    w.unknown_stage = w.clean["stage"].isna().to_numpy() & label.notna().to_numpy()

    # weights (declared column, or raking variables present) ---------------------------------------------
    wcol = mp.weights.get("column") if mp.weights else None
    if wcol is None and "weight" in cols and not (mp.weights or {}).get("rake"):
        wcol = cols["weight"]
    if wcol is not None:
        if wcol not in raw.columns:
            close = _closest(str(wcol), raw.columns)
            raise InputError(
                f"{attrs.get('source')}: the mapping {mp.name} names weight column {wcol!r}, which is not "
                f"in the file" + (f" (closest header: {close!r})" if close else "") + "."
            )
        codes, uniq = _distinct(raw[wcol])
        vals = (
            np.array(
                [parse_score(_normalise_text(u)) if _normalise_text(u) is not None else np.nan for u in uniq],
                dtype=float,
            )
            if uniq
            else np.zeros(0)
        )
        x = _take(vals, codes, np.nan, float)
        w.clean["weight"] = x
        w.weight_bad = ~(np.isfinite(x) & (x > 0))
        w.weight_detail = _values_detail(raw[wcol], "weight")
    elif (mp.weights or {}).get("rake"):
        bad = np.zeros(n, dtype=bool)
        detail = np.full(n, "", dtype=object)
        for var in mp.weights["rake"] or {}:
            col = w.clean.get(var)
            if col is None:
                raise InputError(
                    f"{attrs.get('source')}: raking variable {var!r} (weights.rake in {mp.name}) is not "
                    "a mapped column of the file."
                )
            miss = np.asarray(pd.isna(col), dtype=bool)
            detail[miss & ~bad] = f"no {var} to rake on"
            bad |= miss
        w.weight_bad, w.weight_detail = bad, (lambda idx, d=detail: d[idx])
    return matched


def _quality_report(w: _Work, used: np.ndarray, by_reason: dict[str, int]) -> dict[str, Any]:
    """``straightliners`` (flagged responses kept in the data), ``straightliners_by_stage`` and ``quality``:
    the rules in force, the duration column, how the speeder threshold was set and what each check found."""
    q = w.quality
    flagged = w.straight & used
    by_stage = w.clean["stage"].iloc[np.flatnonzero(flagged)].value_counts().to_dict() if flagged.any() else {}
    found = int(flagged.sum()) + int(by_reason.get("straightliner", 0))
    speeders = int(by_reason.get("speeder", 0))
    return {
        "straightliners": int(flagged.sum()),
        "straightliners_by_stage": {str(k): int(v) for k, v in sorted(by_stage.items())},
        "quality": {
            "rules": dict(q),
            "duration_column": w.cols.get(DURATION),
            "speeders": {**w.speeder, "quarantined": speeders},
            "straightliners": {"action": q["straightliners"], "min_items": int(q["straightliner_min_items"]),
                               "found": found},
        },
    }


def _notes(w: _Work, used: np.ndarray) -> dict[str, Any]:
    """Cell-level counts over the used rows: blanked scores, unreadable dates, derived/missing waves."""
    count = {k: int((v & used).sum()) for k, v in w.flags.items()}
    blanked: dict[str, dict[str, int]] = {}
    for k, v in count.items():
        if k.startswith("blanked:") and v:
            _, fid, why = k.split(":")
            blanked.setdefault(fid, {})[why] = v
    return {
        "customer_id_missing": count.get("customer_id_missing", 0),
        "cells_blanked": blanked,
        "dates_unparsed": count.get("dates_unparsed", 0),
        **({"durations_unparsed": count["durations_unparsed"]} if "durations_unparsed" in count else {}),
        "wave_derived": count.get("wave_derived", 0),
        "wave_missing": count.get("wave_missing", 0),
        **({"phone_unreadable": count["phone_unreadable"]} if "phone_unreadable" in count else {}),
    }


def _apply_checks(w: _Work) -> tuple[np.ndarray, np.ndarray]:
    """Reason and detail per row (object arrays, None = no problem) from the ordered rules; the first failing
    rule wins."""
    reason = np.full(w.n, None, dtype=object)
    detail = np.full(w.n, None, dtype=object)
    open_ = np.ones(w.n, dtype=bool)
    for check in _checks(w.pack):
        w.open_rows = open_
        res = check.test(w)
        if res is None:
            continue
        mask, why = res
        hit = np.asarray(mask, dtype=bool) & open_
        if not hit.any():
            continue
        reason[hit] = check.reason
        idx = np.flatnonzero(hit)
        detail[idx] = why if isinstance(why, str) else np.asarray(why(idx), dtype=object)
        open_ &= ~hit
    return reason, detail


def _deduplicate(w: _Work, reason: np.ndarray, detail: np.ndarray, attrs: dict) -> None:
    """Among rows that pass every rule, keep the latest of each response_id (by date, then file order); mark
    the others ``duplicate_id`` in ``reason``/``detail`` (in place)."""
    ok = np.flatnonzero(pd.isna(reason))
    if not ok.size:
        return
    codes = (w.id_codes if w.id_codes is not None else _distinct(w.clean["response_id"])[0])[ok]
    dup_any = (
        np.bincount(codes[codes >= 0])[np.where(codes >= 0, codes, 0)] > 1
        if (codes >= 0).any()
        else np.zeros(ok.size, dtype=bool)
    )
    if not dup_any.any():
        return
    ids = w.clean["response_id"].iloc[ok]
    pos = ok[dup_any]
    frame = pd.DataFrame({"id": ids.to_numpy()[dup_any], "date": w.clean["date"].to_numpy()[pos], "pos": pos})
    frame = frame.sort_values(["id", "date", "pos"], na_position="first", kind="stable")
    last = frame.groupby("id", sort=False)["pos"].transform("last")
    drop = frame["pos"].to_numpy() != last.to_numpy()
    first_row = int(attrs.get("first_data_row") or 2)
    for p, keep in zip(frame["pos"].to_numpy()[drop], last.to_numpy()[drop]):
        reason[p] = "duplicate_id"
        detail[p] = (
            f"response_id repeats; row {first_row + int(keep)} is kept (latest date, then later in the file)"
        )


def _responses(w: _Work, used: np.ndarray) -> pd.DataFrame:
    """The clean response table (contract order) for the used rows (columns subset on the thread pool)."""
    pk, c = w.pack, w.clean
    every = bool(used.all())
    keep = pa.array(used)

    def col(v: Any) -> Any:
        if isinstance(v, pd.Series):
            if every:
                return v.reset_index(drop=True)
            if isinstance(v.array, pd.arrays.ArrowStringArray):  # Arrow's filter: far cheaper than .iloc here
                return _series(arrow(v).filter(keep))
            return v[used].reset_index(drop=True)
        v = np.asarray(v)
        return v if every else np.compress(used, v)

    order = [
        "response_id",
        "customer_id",
        "wave",
        "date",
        "stage",
        *(["touchpoint"] if "touchpoint" in c else []),
        *pk.kpis,
        *pk.attributes,
        "comment",
        *(s for s in pk.segment_ids if s in c),
        *([DURATION] if DURATION in c else []),
        "straightliner",
    ]
    order += [
        f
        for f in c
        if f not in order and f not in ("stage_label", "weight") and f in pk.fields and not pk.fields[f].pii
    ]
    n_used = int(used.sum())
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        jobs = {k: pool.submit(col, c[k]) for k in order if k in c}
        data: dict[str, Any] = {
            k: jobs[k].result() if k in jobs else pd.Series(pd.NA, index=range(n_used), dtype="str")
            for k in order
        }
    for k in [*pk.kpis, *pk.attributes]:
        data[k] = np.asarray(data[k], dtype=float)
    data["weight"] = np.ones(n_used)
    return pd.DataFrame(data, copy=False)  # no block consolidation: a million rows × 30 floats is 0.2 s


def _weigh(w: _Work, responses: pd.DataFrame, used: np.ndarray) -> dict[str, Any]:
    """Fill ``responses.weight`` (mean 1) from the weight column or by raking; return the Kish summary."""
    mp = w.mapping
    method = "none"
    if "weight" in w.clean and w.clean["weight"] is not None and len(responses):
        x = np.asarray(w.clean["weight"])[used]
        responses["weight"] = x / x.mean()
        method = "column"
    elif (mp.weights or {}).get("rake") and len(responses):
        kw = {k: mp.weights[k] for k in ("max_iter", "tol") if k in mp.weights}
        r = wt.rake(responses, mp.weights["rake"], **kw)
        responses["weight"] = r.to_numpy()
        method = "rake"
    k = (
        wt.kish(responses["weight"])
        if len(responses)
        else {"n": 0, "n_eff": 0.0, "deff": None, "efficiency": None}
    )
    out = {"method": method, **k}
    if len(responses):
        out.update(min=float(responses["weight"].min()), max=float(responses["weight"].max()))
    return out


def _quarantine(
    w: _Work, attrs: dict, reason: np.ndarray, detail: np.ndarray, used: np.ndarray, comment: pd.Series | None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per unused input row (and per malformed CSV row), with the masked raw row as JSON."""
    pk, cols = w.pack, w.cols
    q = np.flatnonzero(~used)
    masked: dict[str, int] = {}
    first_row = int(attrs.get("first_data_row") or 2)
    sub = w.raw.iloc[q].reset_index(drop=True)
    pii_cols = {cols[f]: f for f, s in pk.fields.items() if s.pii and f in cols}
    plates = w.plates
    for h in sub.columns:
        if "comment" in cols and h == cols["comment"] and comment is not None:
            sub[h] = comment.iloc[q].reset_index(drop=True)
            continue
        if pii_cols.get(h) == "name":
            sub[h] = privacy.mask_name(sub[h])
            masked["name"] = masked.get("name", 0) + int(sub[h].notna().sum())
            continue
        before = sub[h]
        sub[h], c = privacy.mask_text(before, plates=plates)
        for k, v in c.items():
            masked[k] = masked.get(k, 0) + v
        if h in pii_cols:  # a PII cell no pattern recognised (a malformed phone, an address): hide it all
            same = (sub[h] == before).to_numpy(dtype=bool, na_value=False)
            sub[h] = sub[h].mask(same, privacy.mask_name(before))
    raws = sub.to_json(orient="records", force_ascii=False, lines=True).splitlines() if len(sub) else []
    frame = pd.DataFrame(
        {
            "row": pd.array(first_row + q, dtype="Int64"),
            "response_id": w.clean["response_id"].iloc[q].reset_index(drop=True).astype("str"),
            "reason": pd.Series(reason[q], dtype="str"),
            "detail": pd.Series(detail[q], dtype="str"),
            "raw": pd.Series(raws, dtype="str"),
        }
    )
    bad = attrs.get("bad_rows") or []
    if bad:
        texts, c = privacy.mask_text(pd.Series([b["text"] for b in bad], dtype="str"), plates=plates)
        for k, v in c.items():
            masked[k] = masked.get(k, 0) + v
        extra = pd.DataFrame(
            {
                "row": pd.array([b["row"] for b in bad], dtype="Int64"),
                "response_id": pd.Series([None] * len(bad), dtype="str"),
                "reason": pd.Series(["malformed_row"] * len(bad), dtype="str"),
                "detail": pd.Series(
                    [f"{b['fields']} fields, expected {b['expected']}" for b in bad], dtype="str"
                ),
                "raw": texts.reset_index(drop=True),
            }
        )
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame, masked


def _contacts(w: _Work, used: np.ndarray) -> pd.DataFrame | None:
    """Kept PII fields (``keep_pii``) of the used rows, by response and customer id."""
    keep = [f for f in w.mapping.keep_pii if f in w.cols]
    if not keep:
        return None
    data = {"response_id": w.clean["response_id"][used], "customer_id": w.clean["customer_id"][used]}
    for f in keep:
        col = _strip_text(w.raw[w.cols[f]])
        if f == "phone":
            phone = _map_text(col, clean_phone)
            w.flags["phone_unreadable"] = (col.notna() & phone.isna()).to_numpy()
            col = phone
        data[f] = col[used]
    return pd.DataFrame(data).reset_index(drop=True)


_PHONE_FLOAT = re.compile(r"^(\d)(?:\.(\d+))?[eE]\+?(\d{1,2})$")


def clean_phone(value: str | None) -> str | None:
    """A phone cell as digits: ``+86 138 0013 8000`` / ``0086-13800138000`` → ``13800138000``; a number a
    spreadsheet stored as a float, ``13800138000.0`` or ``1.3800138000e10``, back to its digits. A float that
    lost digits (``1.38E+10``) cannot be called: None. Anything else is returned as it is."""
    if value is None:
        return None
    s = _nfkc(str(value))
    m = _PHONE_FLOAT.match(s)
    if m:
        frac = m.group(2) or ""
        exp = int(m.group(3))
        return m.group(1) + frac if len(frac) == exp else None  # fewer digits: rounded away, unknowable
    s = re.sub(r"\.0+$", "", s)
    digits = re.sub(r"[\s\-()（）]", "", s)
    if re.fullmatch(r"(?:\+?86|0086)1[3-9]\d{9}", digits):
        return digits[-11:]
    return digits if re.fullmatch(r"\+?\d{5,15}", digits) else s


# ================================================================================================= O-data
def _agg_numeric(g: Any, col: str, how: str) -> pd.Series:
    return getattr(g[col], how)()


def _agg_days_since(df: pd.DataFrame, key: str, col: str, rule: dict) -> pd.Series:
    dates = df[col]
    as_of = pd.Timestamp(rule["as_of"]) if rule.get("as_of") else dates.max()
    return (as_of - dates.groupby(df[key], sort=False).max()).dt.days.astype(float)


#: O-data aggregation rules: ``agg`` name → fn(frame, key, source column, rule) → Series by key
AGGREGATES: dict[str, Callable[[pd.DataFrame, str, str, dict], pd.Series]] = {
    "count": lambda df, key, col, rule: df.groupby(key, sort=False)[col].count().astype(float),
    "sum": lambda df, key, col, rule: df.groupby(key, sort=False)[col].sum(min_count=1),
    "mean": lambda df, key, col, rule: df.groupby(key, sort=False)[col].mean(),
    "min": lambda df, key, col, rule: df.groupby(key, sort=False)[col].min(),
    "max": lambda df, key, col, rule: df.groupby(key, sort=False)[col].max(),
    "nunique": lambda df, key, col, rule: df.groupby(key, sort=False)[col].nunique().astype(float),
    "first": lambda df, key, col, rule: df.groupby(key, sort=False)[col].first(),
    "last": lambda df, key, col, rule: df.groupby(key, sort=False)[col].last(),
    "days_since": _agg_days_since,
}
_NUMERIC_AGGS = {"sum", "mean"}
_ORDER_AGGS = {"min", "max", "days_since"}


def _to_number(v: Any) -> float:
    """An O-data number: ``"¥12,800"`` → 12800, ``"3次"`` → 3; NaN when not a number."""
    t = _normalise_text(v)
    if t is None:
        return np.nan
    t = re.sub(r"[,，\s¥￥$元]|RMB|CNY", "", t)
    x = parse_score(t)
    return np.nan if x is None else x


def _numbers(s: pd.Series) -> pd.Series:
    codes, uniq = _distinct(s)
    return pd.Series(_take([_to_number(u) for u in uniq], codes, np.nan, float), index=s.index)


def _numbers_or_dates(s: pd.Series) -> pd.Series:
    """Dates when most distinct values read as dates, else numbers."""
    codes, uniq = _distinct(s)
    dates = [parse_date(u) for u in uniq]
    if uniq and sum(pd.notna(d) for d in dates) >= 0.8 * len(uniq):
        return _clean_dates(s)
    return pd.Series(_take([_to_number(u) for u in uniq], codes, np.nan, float), index=s.index)


def _odata_rules(pack: Pack) -> dict[str, dict[str, Any]]:
    spec = pack.odata or {}
    rules = spec.get("aggregate") or {}
    problems = []
    out = {}
    for name, rule in rules.items():
        rule = rule or {}
        if not isinstance(rule, dict) or rule.get("agg") not in AGGREGATES:
            problems.append(
                Problem("pack.yaml", f"odata.aggregate.{name}", f"needs agg: one of {', '.join(AGGREGATES)}")
            )
            continue
        out[str(name)] = {**rule, "from": str(rule.get("from", name))}
    if problems:
        raise PackError(problems)
    return out


def _odata_columns(
    table: pd.DataFrame, pack: Pack, mp: ColumnMapping, key: str, fname: str, rules: dict[str, dict]
) -> pd.DataFrame:
    """Rename an O-data file's headers to the key / feature ids / aggregate sources."""
    feats = (pack.odata or {}).get("features") or {}
    rename: dict[str, str] = {}
    for h in table.columns:
        if h in mp.odata_columns:
            rename[h] = mp.odata_columns[h]
    known: dict[str, str] = {}
    for fid, spec in feats.items():
        names = [fid]
        nm = (spec or {}).get("name")
        names += [nm.get("zh"), nm.get("en")] if isinstance(nm, dict) else [nm]
        for n in names:
            if n:
                known[_key(str(n))] = fid
    key_names = [key, *(pack.fields[key].synonyms if key in pack.fields else ())]
    for n in key_names:
        known.setdefault(_key(n), key)
    sources = {r["from"] for r in rules.values()}
    for h in table.columns:
        if h in rename or h in sources or h == key or h in feats:
            continue
        target = known.get(_key(h)) or known.get(normalise_header(h))
        if target and target not in rename.values() and target not in table.columns:
            rename[h] = target
    out = table.rename(columns=rename)
    if key not in out.columns:
        close = _closest(key, table.columns)
        raise InputError(
            f"{fname}: the O-data file has no key column {key!r} (looked for {', '.join(key_names[:4])})"
            + (f"; the closest header is {close!r}" if close else "")
            + "."
        )
    return out


def _read_odata(paths: list, pack: Pack, mp: ColumnMapping) -> tuple[pd.DataFrame, dict]:
    """Read, rename, aggregate and merge the O-data files into one row per customer (see the module
    docstring). Needs nothing from the survey, so :func:`prepare` runs it beside the survey's cleaning."""
    spec = pack.odata or {}
    key = str(spec.get("key", "customer_id"))
    feats: dict[str, Any] = dict(spec.get("features") or {})
    rules = _odata_rules(pack)
    acc: dict[str, Any] = {"odata_files": len(paths), "odata_rows_in": 0, "odata_rows_without_key": 0}
    unused: list[str] = []
    merged: pd.DataFrame | None = None
    origin: dict[str, str] = {}
    for p in paths:
        table = read_table(p)
        table.attrs = {}
        fname = Path(p).name
        acc["odata_rows_in"] += len(table)
        df = _odata_columns(table, pack, mp, key, fname, rules)
        df[key] = _strip_text(df[key])
        nokey = df[key].isna().to_numpy()
        acc["odata_rows_without_key"] += int(nokey.sum())
        df = df.loc[~nokey].reset_index(drop=True)
        applicable = {out: r for out, r in rules.items() if r["from"] in df.columns}
        (codes,), n_keys = factorize(df[key])
        repeats = n_keys < len(codes)
        wanted = [f for f in feats if f in df.columns and f not in applicable]
        unused += [
            f"{fname}:{h}"
            for h in df.columns
            if h != key and h not in feats and h not in {r["from"] for r in applicable.values()}
        ]
        for f in wanted:
            if (feats[f] or {}).get("kind") != "category":
                df[f] = _numbers(df[f])
            else:
                df[f] = _clean_text_col(df[f])
        if repeats or applicable:
            parts: dict[str, pd.Series] = {}
            for out, r in applicable.items():
                src = df[r["from"]]
                if r["agg"] in _NUMERIC_AGGS:
                    src = _numbers(src)
                elif r["agg"] in _ORDER_AGGS:
                    src = _clean_dates(src) if r["agg"] == "days_since" else _numbers_or_dates(src)
                tmp = pd.DataFrame({key: df[key], "__v": src})
                parts[out] = AGGREGATES[r["agg"]](tmp, key, "__v", r)
            g = df.groupby(key, sort=False)
            varying = [f for f in wanted if repeats and len(df) and int(g[f].nunique(dropna=True).max()) > 1]
            if varying:
                raise InputError(
                    f"{fname}: {key} repeats and {', '.join(varying)} varies within a customer; declare "
                    f"how to combine it under odata.aggregate in the pack (e.g. {varying[0]}: "
                    "{agg: max})."
                )
            for f in wanted:
                parts[f] = g[f].first()
            per = pd.DataFrame(parts)
            per.index.name = key
            per = per.reset_index()
        else:
            per = df[[key, *wanted]]
        for f in per.columns:
            if f == key:
                continue
            if f in origin:
                raise InputError(
                    f"{fname}: O-data feature {f!r} is also in {origin[f]}; keep it in one file."
                )
            origin[f] = fname
        merged = per if merged is None else merged.merge(per, on=key, how="outer")
    assert merged is not None
    ordered = [key] + [f for f in [*feats, *rules] if f in merged.columns]
    merged = merged[list(dict.fromkeys(ordered))].reset_index(drop=True)
    merged[key] = merged[key].astype("str")
    acc["odata_unused_columns"] = unused
    return merged, acc


def _match_odata(merged: pd.DataFrame, acc: dict, pack: Pack, responses: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Which O-data customers answered the survey (``responded``) and how many responses found their customer."""
    key = str((pack.odata or {}).get("key", "customer_id"))
    resp_ids = responses["customer_id"].dropna() if "customer_id" in responses else pd.Series([], dtype="str")
    (od_codes, resp_codes), n_keys = factorize(merged[key], resp_ids)  # one hashing pass for both questions
    merged["responded"] = (np.bincount(resp_codes[resp_codes >= 0], minlength=n_keys + 1) > 0)[od_codes]
    matched = (np.bincount(od_codes[od_codes >= 0], minlength=n_keys + 1) > 0)[resp_codes]  # −1 → the empty slot
    acc.update(
        {
            "odata_customers": len(merged),
            "odata_matched_responses": int(matched.sum()),
            "odata_unmatched_responses": int((~matched).sum()),
            "odata_customers_without_response": int((~merged["responded"]).sum()),
        }
    )
    acc["odata_unused_columns"] = acc.pop("odata_unused_columns")  # keep the accounting's order of keys
    return merged, acc


def _write(p: Prepared, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"responses": p.responses, "quarantine": p.quarantine, "odata": p.odata, "contacts": p.contacts}
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow encodes and compresses without the GIL
        done = [pool.submit(t.to_parquet, out_dir / f"{name}.parquet", index=False)
                for name, t in tables.items() if t is not None]
    for f in done:
        f.result()
    (out_dir / "accounting.json").write_text(
        json.dumps(p.accounting, ensure_ascii=False, indent=1), encoding="utf-8"
    )
