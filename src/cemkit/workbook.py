"""The one Excel writer for every workbook cemkit writes (alerts, playbooks, top-risk list, labelling sheet,
the data pack). Analysis modules and renderers both use it, so it lives outside ``render``.

Written with XlsxWriter, column by column (≈ 3× faster than pandas' openpyxl writer, which formats cell by
cell). Client text is always written as text: a verbatim starting with ``=`` or ``http`` stays a string,
never a formula or a link (CSV/Excel formula injection).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["EXCEL_MAX_ROWS", "write_workbook"]

EXCEL_MAX_ROWS = 1_048_576
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def _sheet_title(name: str, used: set[str]) -> str:
    """An Excel-safe sheet name (no []*?/\\:, ≤ 31 characters), unique in ``used`` (case-insensitive)."""
    base = re.sub(r"[\[\]\*\?/\\:]", "_", str(name)).strip("'")[:28] or "sheet"
    out, k = base, 2
    while out.lower() in used:
        out, k = f"{base[:25]}({k})", k + 1
    used.add(out.lower())
    return out


_WIDE = re.compile(r"[^\x00-\u2e7f]")


def _display_width(values: Sequence[Any]) -> int:
    """Widest cell in display columns: CJK and other wide characters count double."""
    texts = {str(v) for v in values if v is not None}
    return max((len(t) + len(_WIDE.findall(t)) for t in texts), default=0)


def _cells(s: pd.Series) -> tuple[list[Any], bool]:
    """Python values for one column (missing → None, which leaves the cell empty) and whether it holds
    datetimes (timezones dropped: Excel has none)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        vals = s.astype(object).where(s.notna(), None).tolist()
        return [v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in vals], True
    if pd.api.types.is_bool_dtype(s):
        return s.astype(object).where(s.notna(), None).tolist(), False
    if pd.api.types.is_numeric_dtype(s):
        x = s.to_numpy(dtype=float, na_value=np.nan)
        vals = x.tolist()
        if np.isnan(x).any() or np.isinf(x).any():
            vals = [None if not np.isfinite(v) else v for v in vals]
        if pd.api.types.is_integer_dtype(s):
            vals = [None if v is None else int(v) for v in vals]
        return vals, False
    obj = s.astype(object).where(s.notna(), None).tolist()
    return [v if v is None or isinstance(v, (str, int, float, bool, dt.datetime)) else str(v) for v in obj], False


def write_workbook(path: str | Path, sheets: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]],
                   headers: Mapping[str, str] | None = None, formats: Mapping[str, str] | None = None) -> Path:
    """Write tables into an .xlsx: one sheet per key; a value that is a list of tables is written as blocks
    one under another (a table's ``attrs["title"]`` becomes a bold line above it).

    Each sheet's first table gets its header row frozen and an autofilter; columns are sized to their
    content (wide characters count double, capped at 60); datetimes show as ``yyyy-mm-dd hh:mm``.
    ``headers`` renames columns for display; ``formats`` gives a column (by its name in the table) an Excel
    number format ("0.0", '0.0"%"', "#,##0" …), so numbers stay numbers and show as the deck shows them.
    Sheet names are made Excel-safe and unique. The file is written next to ``path`` and moved into place,
    so a failure leaves no half-written workbook."""
    import xlsxwriter

    headers = dict(headers or {})
    used: set[str] = set()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    wb = xlsxwriter.Workbook(str(part), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    try:
        bold, head = wb.add_format({"bold": True}), wb.add_format({"bold": True, "bottom": 1})
        when = wb.add_format({"num_format": DATETIME_FORMAT})
        number_formats = {c: wb.add_format({"num_format": f}) for c, f in (formats or {}).items() if f}
        for name, blocks in sheets.items():
            blocks = [blocks] if isinstance(blocks, pd.DataFrame) else list(blocks)
            title = _sheet_title(name, used)
            ws = wb.add_worksheet(title)
            row, widths = 0, {}
            for b, table in enumerate(blocks):
                if len(table) + row + 2 > EXCEL_MAX_ROWS:
                    raise InputError(f"sheet {title!r} would exceed Excel's {EXCEL_MAX_ROWS:,} rows")
                caption = table.attrs.get("title")
                if caption and b > 0:
                    row += 1
                if caption:
                    ws.write_string(row, 0, str(caption), bold)
                start = row + (1 if caption else 0)
                names = [headers.get(str(c), str(c)) for c in table.columns]
                ws.write_row(start, 0, names, head)
                for j, col in enumerate(table.columns):
                    values, is_time = _cells(table[col])
                    ws.write_column(start + 1, j, values, when if is_time else number_formats.get(str(col)))
                    w = 16 if is_time else _display_width([names[j], *values])
                    widths[j] = max(widths.get(j, 0), w)
                if b == 0:
                    ws.freeze_panes(start + 1, 0)
                    ws.autofilter(start, 0, start + len(table), max(0, len(names) - 1))
                row = start + len(table) + 2
            for j, w in widths.items():
                ws.set_column(j, j, min(60, max(8, w + 2)))
        wb.close()
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return path
