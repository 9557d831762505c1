"""Native PowerPoint charts and tables from a tidy result table and a :class:`ChartSpec`.

One function per chart type, chosen from ``DRAWERS`` by name. Charts are python-pptx native charts (the
client can edit their data in PowerPoint), coloured from the template's theme accents so a client master
re-brands them, except the NPS composition, whose red/grey/green is semantic.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
from pptx.chart.data import CategoryChartData, XyChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_LEGEND_POSITION, XL_MARKER_STYLE
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Pt

from ..i18n import catalogue, label
from ..storyline import ChartSpec
from .fonts import set_ea, set_font

__all__ = ["draw", "DRAWERS", "prepare_table", "RED", "GREEN", "GREY"]

RED, GREY, GREEN = RGBColor(0xC0, 0x39, 0x2B), RGBColor(0xA6, 0xA6, 0xA6), RGBColor(0x2E, 0x8B, 0x57)
LIGHT = RGBColor(0xBF, 0xC5, 0xCC)
TEXT = RGBColor(0x33, 0x33, 0x33)


def prepare_table(table: pd.DataFrame, spec: ChartSpec) -> pd.DataFrame:
    """Apply the spec's filter, sort and top-N to a result table."""
    df = table
    for col, want in (spec.filter or {}).items():
        if col in df:
            df = df[df[col].isin(want if isinstance(want, list) else [want])]
    if spec.sort and spec.sort in df:
        df = df.sort_values(spec.sort, ascending=False, kind="stable")
    if spec.top:
        df = df.head(spec.top)
    return df.reset_index(drop=True)


def _series_name(spec: ChartSpec, i: int, col: str, lang: str) -> str:
    return label(spec.series_names[i] if i < len(spec.series_names) else col, lang)


def _style_chart_text(chart, size: int = 11) -> None:
    chart.font.size = Pt(size)
    chart.font.color.rgb = TEXT
    set_ea(chart.font._rPr)


def _categories(df: pd.DataFrame, spec: ChartSpec) -> list[str]:
    cats = df[spec.category].astype(str)
    if spec.marker and spec.marker in df:
        cats = cats + df[spec.marker].fillna("").astype(str).map(lambda m: f" {m}" if m else "")
    return cats.tolist()


def _values(s: pd.Series) -> list:
    return [None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v) for v in s]


def draw_bar(slide, box, df, spec: ChartSpec, lang: str):
    data = CategoryChartData(number_format=spec.number_format)
    data.categories = _categories(df, spec)
    for i, col in enumerate(spec.series):
        data.add_series(_series_name(spec, i, col, lang), _values(df[col]))
    kind = XL_CHART_TYPE.BAR_CLUSTERED if spec.horizontal else XL_CHART_TYPE.COLUMN_CLUSTERED
    gframe = slide.shapes.add_chart(kind, *box, data)
    chart = gframe.chart
    _style_chart_text(chart)
    chart.has_legend = len(spec.series) > 1
    if chart.has_legend:
        chart.legend.position = XL_LEGEND_POSITION.TOP
        chart.legend.include_in_layout = False
    plot = chart.plots[0]
    plot.gap_width = 60
    if spec.labels:
        plot.has_data_labels = True
        dl = plot.data_labels
        dl.number_format, dl.number_format_is_linked = spec.number_format, False
        dl.position = XL_LABEL_POSITION.OUTSIDE_END
        dl.font.size = Pt(11)
    chart.value_axis.has_major_gridlines = False
    chart.value_axis.visible = False
    chart.category_axis.tick_labels.font.size = Pt(11)
    if spec.horizontal:
        chart.category_axis.reverse_order = True
    for si, series in enumerate(plot.series):
        series.invert_if_negative = False
        fill = series.format.fill
        fill.solid()
        if len(spec.series) > 1:
            fill.fore_color.theme_color = [MSO_THEME_COLOR.ACCENT_1, MSO_THEME_COLOR.ACCENT_2,
                                           MSO_THEME_COLOR.ACCENT_3, MSO_THEME_COLOR.ACCENT_5][si % 4]
            continue
        fill.fore_color.rgb = LIGHT
        if spec.highlight and spec.highlight in df:
            for j, hit in enumerate(df[spec.highlight].fillna(False).astype(bool)):
                if hit:
                    pfill = series.points[j].format.fill
                    pfill.solid()
                    pfill.fore_color.theme_color = MSO_THEME_COLOR.ACCENT_1
    return gframe


def draw_stacked100(slide, box, df, spec: ChartSpec, lang: str):
    data = CategoryChartData(number_format="0%")
    data.categories = _categories(df, spec)
    for i, col in enumerate(spec.series):
        data.add_series(_series_name(spec, i, col, lang), [None if v is None else v / 100 for v in _values(df[col])])
    gframe = slide.shapes.add_chart(XL_CHART_TYPE.BAR_STACKED_100, *box, data)
    chart = gframe.chart
    _style_chart_text(chart)
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.TOP
    chart.legend.include_in_layout = False
    chart.category_axis.reverse_order = True
    chart.value_axis.visible = False
    chart.value_axis.has_major_gridlines = False
    plot = chart.plots[0]
    plot.gap_width = 50
    plot.overlap = 100
    plot.has_data_labels = True
    plot.data_labels.number_format, plot.data_labels.number_format_is_linked = "0%", False
    plot.data_labels.position = XL_LABEL_POSITION.CENTER
    colours = [RED, GREY, GREEN]
    for i, series in enumerate(plot.series):
        series.format.fill.solid()
        series.format.fill.fore_color.rgb = colours[i % 3]
        series.data_labels.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
        series.data_labels.font.size = Pt(10)
    return gframe


def draw_line(slide, box, df, spec: ChartSpec, lang: str):
    """Long table → one line per value of the ``label`` column, categories in ``category`` (e.g. waves)."""
    wide = df.pivot_table(index=spec.category, columns=spec.label, values=spec.y, aggfunc="first", sort=False)
    data = CategoryChartData(number_format=spec.number_format)
    data.categories = [str(c) for c in wide.index]
    for col in wide.columns:
        data.add_series(str(col), _values(wide[col]))
    gframe = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, *box, data)
    chart = gframe.chart
    _style_chart_text(chart)
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.RIGHT
    chart.legend.include_in_layout = False
    chart.value_axis.has_major_gridlines = True
    chart.value_axis.major_gridlines.format.line.color.rgb = RGBColor(0xE5, 0xE5, 0xE5)
    if spec.labels and len(wide.columns) <= 4:
        plot = chart.plots[0]
        plot.has_data_labels = True
        plot.data_labels.number_format, plot.data_labels.number_format_is_linked = spec.number_format, False
        plot.data_labels.position = XL_LABEL_POSITION.ABOVE
    return gframe


def draw_scatter(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Priority matrix: points labelled with ``label``, median lines and quadrant names as native series."""
    meta = meta or {}
    x, y = df[spec.x].astype(float), df[spec.y].astype(float)
    xs, ys = float(meta.get("x_split", x.median())), float(meta.get("y_split", y.median()))
    pad_x, pad_y = (x.max() - x.min()) * 0.15 or 0.05, (y.max() - y.min()) * 0.15 or 0.5
    x0, x1 = max(0.0, x.min() - pad_x), x.max() + pad_x
    y0, y1 = y.min() - pad_y, y.max() + pad_y
    data = XyChartData()
    pts = data.add_series(catalogue(lang).get("value", "value"), number_format=spec.number_format)
    for a, b in zip(x, y):
        pts.add_data_point(a, b)
    vline = data.add_series("x_split")
    vline.add_data_point(xs, y0)
    vline.add_data_point(xs, y1)
    hline = data.add_series("y_split")
    hline.add_data_point(x0, ys)
    hline.add_data_point(x1, ys)
    corners = data.add_series("quadrants")
    for cx, cy in ((x1, y0), (x1, y1), (x0, y0), (x0, y1)):
        corners.add_data_point(cx, cy)
    gframe = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER, *box, data)
    chart = gframe.chart
    _style_chart_text(chart, 10)
    chart.has_legend = False
    for ax, lo, hi in ((chart.category_axis, x0, x1), (chart.value_axis, y0, y1)):
        ax.minimum_scale, ax.maximum_scale = lo, hi
        ax.has_major_gridlines = False
        ax.tick_labels.font.size = Pt(9)
    chart.category_axis.tick_labels.number_format = "0%"
    chart.category_axis.tick_labels.number_format_is_linked = False
    s_pts, s_v, s_h, s_q = chart.plots[0].series
    s_pts.format.line.fill.background()
    s_pts.marker.style = XL_MARKER_STYLE.CIRCLE
    s_pts.marker.size = 9
    s_pts.marker.format.fill.solid()
    s_pts.marker.format.fill.fore_color.theme_color = MSO_THEME_COLOR.ACCENT_1
    labels = df[spec.label].astype(str).tolist() if spec.label else []
    quad = df["quadrant"].tolist() if "quadrant" in df else [None] * len(df)
    for i, text in enumerate(labels):
        point = s_pts.points[i]
        if quad[i] == "high_importance_low_performance":
            point.marker.format.fill.solid()
            point.marker.format.fill.fore_color.rgb = RED
        dl = point.data_label
        dl.has_text_frame = True
        dl.text_frame.text = text
        dl.position = XL_LABEL_POSITION.RIGHT if i % 2 == 0 else XL_LABEL_POSITION.LEFT
        set_font(dl.text_frame.paragraphs[0].runs[0].font, size=Pt(9))
    for s in (s_v, s_h):
        s.marker.style = XL_MARKER_STYLE.NONE
        s.format.line.color.rgb = GREY
        s.format.line.dash_style = 4  # dash
        s.format.line.width = Pt(1)
    s_q.marker.style = XL_MARKER_STYLE.NONE
    s_q.format.line.fill.background()
    names = meta.get("quadrant_labels", {})
    order = ["high_importance_low_performance", "high_importance_high_performance",
             "low_importance_low_performance", "low_importance_high_performance"]
    for i, key in enumerate(order):
        dl = s_q.points[i].data_label
        dl.has_text_frame = True
        dl.text_frame.text = str(names.get(key, ""))
        dl.position = XL_LABEL_POSITION.LEFT if i < 2 else XL_LABEL_POSITION.RIGHT
        set_font(dl.text_frame.paragraphs[0].runs[0].font, size=Pt(11), bold=True,
                 color=RED if i == 0 else GREY)
    return gframe


def _cell_text(cell, text: str, size: int = 10, bold: bool = False, color=None, align=PP_ALIGN.LEFT) -> None:
    cell.text = text
    para = cell.text_frame.paragraphs[0]
    para.alignment = align
    for run in para.runs:
        set_font(run.font, size=Pt(size), bold=bold, color=color or TEXT)
    cell.margin_left = cell.margin_right = Emu(50000)
    cell.margin_top = cell.margin_bottom = Emu(20000)
    cell.vertical_anchor = MSO_ANCHOR.MIDDLE


def _fmt(v, number_format: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{v:,.1f}" if number_format == "0.0" else f"{v:,.0f}"
    return str(v)


def draw_table(slide, box, df, spec: ChartSpec, lang: str):
    cols = list(spec.columns or df.columns)
    headers = [label(h, lang) for h in (spec.headers or cols)]
    max_rows = 14
    df = df.head(max_rows)
    rows = len(df) + 1
    left, top, width, height = box
    row_h = min(int(height / rows), 330000)
    gframe = slide.shapes.add_table(rows, len(cols), left, top, width, row_h * rows)
    table = gframe.table
    for j, h in enumerate(headers):
        _cell_text(table.cell(0, j), str(h), bold=True, color=RGBColor(0xFF, 0xFF, 0xFF))
        table.cell(0, j).fill.solid()
        table.cell(0, j).fill.fore_color.theme_color = MSO_THEME_COLOR.ACCENT_1
    flag = df["flag"] if "flag" in df else pd.Series(["ok"] * len(df))
    for i, (_, row) in enumerate(df.iterrows(), start=1):  # ≤ 14 rows: drawing, not data processing
        greyed = flag.iloc[i - 1] == "low_base"
        for j, c in enumerate(cols):
            v = row[c]
            numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            color = GREY if greyed else None
            if spec.colour_by and c == spec.colour_by and numeric and not greyed and not pd.isna(v):
                color = RED if float(v) < 0 else GREEN
            _cell_text(table.cell(i, j), _fmt(v, spec.number_format), color=color,
                       align=PP_ALIGN.RIGHT if numeric else PP_ALIGN.LEFT)
            table.cell(i, j).fill.solid()
            table.cell(i, j).fill.fore_color.rgb = RGBColor(0xF7, 0xF7, 0xF7) if i % 2 else RGBColor(0xFF, 0xFF, 0xFF)
    return gframe


def draw_heatmap(slide, box, df, spec: ChartSpec, lang: str):
    """Wide matrix (rows = ``category``, columns = ``columns``) as a native table with a colour scale."""
    cols = list(spec.columns or [c for c in df.columns if c != spec.category])
    sub = df[[spec.category, *cols]].head(16)
    rows = len(sub) + 1
    left, top, width, height = box
    row_h = min(int(height / rows), 300000)
    gframe = slide.shapes.add_table(rows, len(cols) + 1, left, top, width, row_h * rows)
    table = gframe.table
    headers = [label(h, lang) for h in (spec.headers or [spec.category, *cols])]
    for j, h in enumerate(headers):
        _cell_text(table.cell(0, j), str(h), size=9, bold=True, color=RGBColor(0xFF, 0xFF, 0xFF), align=PP_ALIGN.CENTER)
        table.cell(0, j).fill.solid()
        table.cell(0, j).fill.fore_color.theme_color = MSO_THEME_COLOR.ACCENT_1
    vals = sub[cols].to_numpy(dtype=float)
    hi = np.nanmax(vals) if np.isfinite(vals).any() else 1.0
    for i in range(len(sub)):
        _cell_text(table.cell(i + 1, 0), str(sub.iloc[i, 0]), size=9)
        for j, c in enumerate(cols):
            v = vals[i, j]
            cell = table.cell(i + 1, j + 1)
            _cell_text(cell, _fmt(v, spec.number_format), size=9, align=PP_ALIGN.CENTER)
            cell.fill.solid()
            share = 0.0 if not np.isfinite(v) or hi <= 0 else float(v) / hi
            g = int(255 - share * 120)
            cell.fill.fore_color.rgb = RGBColor(int(255 - share * 30), g, g)
    return gframe


def draw_quotes(slide, box, df, spec: ChartSpec, lang: str):
    """Quote wall: up to 6 boxes (theme heading + quote), two columns."""
    left, top, width, height = box
    items = df.head(6)
    ncol = 2
    nrow = max(1, math.ceil(len(items) / ncol))
    gap = 150000
    w = (width - gap) // ncol
    h = (height - gap * (nrow - 1)) // nrow
    shapes = []
    for k, (_, row) in enumerate(items.iterrows()):
        x = left + (k % ncol) * (w + gap)
        y = top + (k // ncol) * (h + gap)
        shp = slide.shapes.add_shape(1, x, y, w, h)  # rectangle
        shp.fill.solid()
        shp.fill.fore_color.rgb = RGBColor(0xF3, 0xF4, 0xF6)
        shp.line.fill.background()
        tf = shp.text_frame
        tf.word_wrap = True
        tf.vertical_anchor = MSO_ANCHOR.TOP
        p = tf.paragraphs[0]
        p.text = str(row.get(spec.label or "theme_name", ""))
        set_font(p.runs[0].font, size=Pt(12), bold=True, color=RED if row.get("polarity", 0) < 0 else GREEN)
        q = tf.add_paragraph()
        q.text = f"“{row.get(spec.y or 'quote', '')}”"
        set_font(q.runs[0].font, size=Pt(12), color=TEXT)
        shapes.append(shp)
    return shapes


def draw_bullets(slide, box, df, spec: ChartSpec, lang: str):
    left, top, width, height = box
    tb = slide.shapes.add_textbox(left, top, width, height)
    tf = tb.text_frame
    tf.word_wrap = True
    col = spec.label or df.columns[0]
    for i, text in enumerate(df[col].astype(str)):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.text = f"{i + 1}. {text}"
        p.space_after = Pt(10)
        set_font(p.runs[0].font, size=Pt(16), color=TEXT)
    return tb


DRAWERS: dict[str, Callable] = {
    "bar": draw_bar, "stacked100": draw_stacked100, "line": draw_line, "scatter": draw_scatter,
    "table": draw_table, "heatmap": draw_heatmap, "quotes": draw_quotes, "bullets": draw_bullets,
}


def draw(slide, box, table: pd.DataFrame, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Draw ``table`` on ``slide`` inside ``box`` (left, top, width, height in EMU) as ``spec`` says."""
    df = prepare_table(table, spec)
    if spec.type == "scatter":
        return draw_scatter(slide, box, df, spec, lang, meta)
    return DRAWERS[spec.type](slide, box, df, spec, lang)
