"""Native PowerPoint tables: a result table as a table slide (accent header, banded rows, numbers right-aligned
in the column's format, low bases greyed, red / green only where a row differs significantly), a long heat-map
table as a shaded grid, and the paging of long tables — continued over slides, or two halves side by side on
one slide when the table is narrow. Tables set the size of empty paragraphs too (:func:`fonts.set_end_size`),
else an empty cell takes the template's 18 pt line height and the table grows over the footnote."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Pt

from ..i18n import label
from ..storyline import ChartSpec
from .fonts import set_end_size, set_font, text_width_em
from .style import GREEN, GREY, LOW_BASE, RED, TEXT, WHITE, _accent, column_format, format_value

__all__ = ["MAX_TABLE_ROWS", "ROW_EMU", "SIDE_GAP", "cell_colour", "draw_heatmap", "draw_table", "heat_grid", "heat_text", "paginate", "side_by_side", "significance_colours", "split_rows", "table_cells"]

MAX_TABLE_ROWS = 16
SIDE_GAP = 300000                           # between two halves of a table side by side
ROW_EMU = 265000                            # table row height at 10 pt


def paginate(df: pd.DataFrame, box_height: int, row_emu: int = ROW_EMU, by: str | None = None) -> list[pd.DataFrame]:
    """Split a table into pages of equal size that fit ``box_height`` (header row included). With ``by`` (a
    long heat-map table), a page holds whole rows of the grid: every line of a ``by`` value stays together."""
    per = max(3, min(MAX_TABLE_ROWS, int(box_height // row_emu) - 1))
    n = len(dict.fromkeys(df[by])) if by is not None and by in df else len(df)
    return split_rows(df, max(1, math.ceil(n / per)), by=by)


def split_rows(df: pd.DataFrame, k: int, by: str | None = None) -> list[pd.DataFrame]:
    """``df`` in ``k`` pieces of equal size (the last one shorter; fewer pieces when ``df`` has fewer rows than
    ``k`` allows) — the one rule for pages, side-by-side halves and ``cemkit refresh``. With ``by`` (a long
    heat-map table) the pieces hold whole rows of the grid: every line of a ``by`` value stays together."""
    if by is not None and by in df:
        keys = list(dict.fromkeys(df[by]))
        size = math.ceil(len(keys) / k) if keys else 0
        groups = [set(keys[i:i + size]) for i in range(0, len(keys), size)] if size else []
        return [df[df[by].isin(g)].reset_index(drop=True) for g in groups] or [df]
    size = math.ceil(len(df) / k) if len(df) else 0
    return [df.iloc[i:i + size].reset_index(drop=True) for i in range(0, len(df), size)] if size else [df]


def side_by_side(df: pd.DataFrame, spec: ChartSpec, lang: str, width: int, size: int = 9) -> int:
    """How many pieces of a long, narrow table sit side by side on one slide: 2 when every column's longest
    text (header included, at ``size`` pt with the cell margins) fits in half the width ``width`` (EMU) less
    a gap, else 1. A two-column list (data quality: item, count) then takes one slide instead of two."""
    if spec.type != "table":
        return 1
    _, headers, body = table_cells(df, spec, lang)
    # each column as wide as its longest text on one line, and never under the 5.5 ems _column_widths gives
    need = sum(int((max(5.5, max(text_width_em(str(t)) for t in col) + 1.0) * size + 12) * 12700)
               for col in zip(headers, *body))
    return 2 if 2 * need * 1.15 + SIDE_GAP <= width else 1  # 15 % to spare: _column_widths shares by length


# ------------------------------------------------------------------------------------------------ tables
def _cell_text(cell, text: str, size: int = 10, bold: bool = False, color=None, align=PP_ALIGN.LEFT) -> None:
    cell.text = text
    para = cell.text_frame.paragraphs[0]
    para.alignment = align
    set_end_size(para, Pt(size))
    for run in para.runs:
        set_font(run.font, size=Pt(size), bold=bold, color=color or TEXT)
    cell.margin_left = cell.margin_right = Emu(60000)
    cell.margin_top = cell.margin_bottom = Emu(20000)
    cell.vertical_anchor = MSO_ANCHOR.MIDDLE


def _cell_fill(cell, rgb: RGBColor | None = None, accent: bool = False) -> None:
    cell.fill.solid()
    if accent:
        cell.fill.fore_color.theme_color = _accent(0)
    else:
        cell.fill.fore_color.rgb = rgb


_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]{3,}")


def _column_widths(texts: list[list[str]], width: int, size: float = 10) -> list[int]:
    """Column widths: each at least its header's width (one line at ``size`` pt, with the cell margins), the
    rest shared in proportion to the column's longest text in ems (clamped to 5.5–24 ems)."""
    ems = [min(24.0, max(5.5, max(text_width_em(t) for t in col) + 1.0)) for col in zip(*texts)]
    header = [text_width_em(str(h), bold=True) for h in texts[0]]
    # never narrower than its longest Latin word ("Relationship" broken as "Relatio/nship" reads as a typo);
    # the header on one line when the width allows, else wrapped between its words
    word = [max([text_width_em(w, bold=True) for w in _LATIN_WORD.findall(str(col[0]))]
                + [text_width_em(w) for t in col[1:] for w in _LATIN_WORD.findall(str(t))], default=0.0)
            for col in zip(*texts)]
    floor = [int((max(h, w) * size + 12) * 12700) for h, w in zip(header, word)]
    if sum(floor) > width:
        floor = [int((w * size + 12) * 12700) for w in word]
    spare = width - sum(floor)
    if spare <= 0:  # the headers alone do not fit: share the width by text length
        widths = [int(width * e / sum(ems)) for e in ems]
    else:
        widths = [f + int(spare * e / sum(ems)) for f, e in zip(floor, ems)]
    widths[-1] += width - sum(widths)
    return widths


def _add_table(slide, box, body: list[list[str]], headers: list[str], size: int = 10,
               widths_of: list[list[str]] | None = None):
    """A native table with its header row; column widths from ``widths_of`` (the whole table's cells when
    this is one page of it, so the columns do not move from page to page), else from ``body``."""
    left, top, width, height = box
    rows = len(body) + 1
    # a short table (an executive summary's decisions) takes the height it is given, up to three lines a row
    row_h = min(int(height / rows), int(ROW_EMU * (3.2 if rows <= 6 else 1.25)))
    gframe = slide.shapes.add_table(rows, len(headers), left, top, width, row_h * rows)
    table = gframe.table
    table.first_col = False
    for j, w in enumerate(_column_widths([headers, *(widths_of or body)], width, size)):
        table.columns[j].width = Emu(w)
    for j, h in enumerate(headers):
        _cell_text(table.cell(0, j), str(h), size=size, bold=True, color=WHITE)
        _cell_fill(table.cell(0, j), accent=True)
    return gframe, table


def table_cells(df: pd.DataFrame, spec: ChartSpec, lang: str) -> tuple[list[str], list[str], list[list[str]]]:
    """Columns, headers and formatted cell texts of a table slide (shared with the HTML report)."""
    cols = list(spec.columns or df.columns)
    headers = [label(h, lang) for h in (spec.headers or cols)]
    body = [[format_value(v, column_format(spec, c)) for c, v in zip(cols, row)]
            for row in df[cols].itertuples(index=False)]
    return cols, headers, body


def _numeric(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def cell_colour(v, col: str, spec: ChartSpec, flag: str = "ok", sig: str | None = None) -> RGBColor | None:
    """A table cell's text colour: grey on a low-base row; in the ``colour_by`` column red / green where the
    row differs significantly from the reference (``sig``, from :func:`significance_colours`) — never merely
    by the value's sign; else None (the default text colour)."""
    if flag == LOW_BASE:
        return GREY
    if spec.colour_by == col and sig:
        return RED if sig == "red" else GREEN
    return None


def significance_colours(df: pd.DataFrame, meta: dict | None) -> list[str | None]:
    """Per row: "red" when the row's interval (``ci_low``, ``ci_high``) lies wholly below the reference value
    (``meta["reference"]``, e.g. the overall NPS), "green" when wholly above, else None — a colour says the
    difference is significant, never merely the sign of the value."""
    ref = (meta or {}).get("reference")
    if ref is None or "ci_low" not in df or "ci_high" not in df:
        return [None] * len(df)
    lo, hi = df["ci_low"].to_numpy(dtype=float), df["ci_high"].to_numpy(dtype=float)
    return ["red" if h < ref else "green" if lo_ > ref else None for lo_, h in zip(lo, hi)]


def draw_table(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """A native table: accent header, banded rows, numbers right-aligned with the column's format, low-base
    rows (``flag == "low_base"``) greyed, the ``colour_by`` column red / green where the row differs
    significantly from the reference (:func:`significance_colours`). ``meta["pages_of"]``: the whole table
    when ``df`` is one page of it (the column widths are the whole table's)."""
    cols, headers, body = table_cells(df, spec, lang)
    size = 12 if len(df) <= 3 else 10 if len(df) <= 12 else 9
    whole = meta.get("pages_of") if meta else None
    gframe, table = _add_table(slide, box, body, headers, size=size,
                               widths_of=table_cells(whole, spec, lang)[2] if whole is not None else None)
    flags = df["flag"].tolist() if "flag" in df else ["ok"] * len(df)
    sig = significance_colours(df, meta)
    for i, row in enumerate(body, start=1):
        for j, (c, text) in enumerate(zip(cols, row)):
            v = df[c].iloc[i - 1]
            _cell_text(table.cell(i, j), text, size=size, color=cell_colour(v, c, spec, flags[i - 1], sig[i - 1]),
                       align=PP_ALIGN.RIGHT if _numeric(v) else PP_ALIGN.LEFT)
            _cell_fill(table.cell(i, j), RGBColor(0xF7, 0xF7, 0xF7) if i % 2 else WHITE)
    return gframe


def heat_grid(df: pd.DataFrame, spec: ChartSpec) -> tuple[list[str], list[str], dict]:
    """Rows (``category``) in first-appearance order, columns (``x``) in the ``x_order`` column's order when
    the table has one (else first appearance) and the cells of a long heat-map table:
    ``{(row, col): (value, base, flag, highlighted)}``. A (row, column) pair without a line is a structural
    zero — nothing to show — and stays blank."""
    rows = list(dict.fromkeys(df[spec.category].astype(str)))
    cols = list(dict.fromkeys(df[spec.x].astype(str)))
    if "x_order" in df:  # columns in their natural order (journey stages), not in order of first appearance
        rank = df.assign(_x=df[spec.x].astype(str)).groupby("_x")["x_order"].min()
        cols = sorted(cols, key=lambda c: rank[c])
    cells = {}
    for r in df.to_dict("records"):
        v = r.get(spec.y)
        cells[(str(r[spec.category]), str(r[spec.x]))] = (
            None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v),
            r.get(spec.label) if spec.label else None, r.get("flag"),
            bool(r.get(spec.highlight)) if spec.highlight else False)
    return rows, cols, cells


def heat_text(value, base, fmt: str) -> str:
    """A heat-map cell: the value and its base in brackets ("45% (236)"); a low base shows "– (12)"."""
    shown = "–" if value is None else format_value(value, fmt)
    return shown if base is None else f"{shown} ({int(base):,})"


def draw_heatmap(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """A long table (``category`` = row, ``x`` = column, ``y`` = value in %, ``label`` = base) as a native table:
    each cell shows the value with its base; shading grows with the value on a fixed 0–100 % scale (so equal
    shares look equal on every slide); cells flagged in ``highlight`` (significantly above the average) are
    drawn in red with white text; low bases are greyed without a value; structural zeros stay blank."""
    rows, cols, cells = heat_grid(df, spec)
    headers = [label(h, lang) for h in (spec.headers or [spec.category, *cols])]
    if len(headers) != len(cols) + 1:
        headers = [label(spec.category, lang), *cols]
    body = [[r, *(heat_text(cells[(r, c)][0], cells[(r, c)][1], spec.number_format) if (r, c) in cells else ""
                  for c in cols)] for r in rows]
    gframe, table = _add_table(slide, box, body, headers, size=9)
    for i, row in enumerate(body, start=1):
        _cell_text(table.cell(i, 0), row[0], size=9)
        _cell_fill(table.cell(i, 0), WHITE)
        for j, text in enumerate(row[1:], start=1):
            cell = table.cell(i, j)
            value, _, flag, strong = cells.get((rows[i - 1], cols[j - 1]), (None, None, None, False))
            share = 0.0 if value is None else min(1.0, max(0.0, value / 100))
            if strong:
                _cell_text(cell, text, size=9, bold=True, align=PP_ALIGN.CENTER, color=WHITE)
                _cell_fill(cell, RED)
                continue
            _cell_text(cell, text, size=9, align=PP_ALIGN.CENTER, color=GREY if flag == LOW_BASE else None)
            _cell_fill(cell, RGBColor(int(255 - share * 40), int(255 - share * 120), int(255 - share * 130)))
    return gframe
