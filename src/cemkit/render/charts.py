"""Native PowerPoint charts and tables from a tidy result table and a :class:`ChartSpec`.

One function per chart type, chosen from ``DRAWERS`` by name; each takes ``(slide, box, df, spec, lang, meta)``
with ``df`` already filtered, sorted and cut by :func:`prepare_table`. Charts are python-pptx native charts
(the client can edit their data in PowerPoint). Colours follow DECK.md: the master's message accent for the
message (:mod:`cemkit.render.theme` picks it from the theme, so a client master re-brands it), its other
accents for further series, greys for context, and semantic colours that stay the same across the deck and
the HTML report (:data:`SERIES_COLOURS`: NPS composition red / grey / green, P1 red, …).
Tables set the size of empty paragraphs too (:func:`fonts.set_end_size`), else an empty cell takes the
template's 18 pt line height and the table grows over the footnote.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from pptx.chart.data import CategoryChartData, XyChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import (
    XL_CHART_TYPE,
    XL_LABEL_POSITION,
    XL_LEGEND_POSITION,
    XL_MARKER_STYLE,
    XL_TICK_LABEL_POSITION,
)
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from ..i18n import catalogue, label, number
from ..storyline import ChartSpec
from . import theme
from .fonts import set_ea, set_end_size, set_font, text_width_em


def _chart_workbooks_without_formulas() -> None:
    """python-pptx writes each chart's data into a workbook embedded in the deck (what "Edit Data" opens)
    with XlsxWriter, created in one place, ``_BaseWorkbookWriter._open_worksheet``, with XlsxWriter's
    defaults — and its ``strings_to_formulas`` default turns a category such as a dealer named ``=1+2`` into
    a live formula. That one place is replaced, once, by the same workbook with every string conversion
    off (category, series and dealer names stay text), for every chart type python-pptx has."""
    from contextlib import contextmanager

    from pptx.chart import xlsx
    from xlsxwriter import Workbook

    if getattr(xlsx._BaseWorkbookWriter, "_cemkit_text_only", False):
        return

    @contextmanager
    def _open_worksheet(self, xlsx_file):
        workbook = Workbook(xlsx_file, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
        worksheet = workbook.add_worksheet()
        yield workbook, worksheet
        workbook.close()

    xlsx._BaseWorkbookWriter._open_worksheet = _open_worksheet
    xlsx._BaseWorkbookWriter._cemkit_text_only = True


_chart_workbooks_without_formulas()

__all__ = [
    "DRAWERS",
    "GREEN",
    "GREY",
    "LIGHT",
    "NATIVE_CHARTS",
    "PALETTE",
    "RED",
    "SERIES_COLOURS",
    "TABULAR",
    "TEXT",
    "categories",
    "cell_colour",
    "chart_data",
    "column_format",
    "draw",
    "draw_prepared",
    "error_bars",
    "format_value",
    "heat_grid",
    "heat_text",
    "matrix_ranges",
    "nice_axis",
    "number_format",
    "paginate",
    "place_labels",
    "point_colours",
    "prepare_table",
    "series_colour",
    "significance_colours",
    "table_cells",
    "update",
]

# Hex colours shared with the HTML report. "accent" is drawn as the master's message accent in the deck.
PALETTE = {"accent": "1F5FAD", "red": "C0392B", "grey": "A6A6A6", "light": "BFC5CC", "green": "2E8B57",
           "amber": "E3A72F", "dark": "5B6770", "text": "333333", "faint": "E5E7EB"}
# A series (result column) keeps its colour on every slide and in the HTML report.
SERIES_COLOURS = {"detractors": "red", "passives": "grey", "promoters": "green", "P1": "red", "P2": "amber",
                  "P3": "light", "negative_rate": "red", "positive_rate": "green", "mention_rate": "light",
                  "observed_rate": "accent", "mean_predicted": "light"}
MULTI = ("accent", "light", "dark", "amber", "green")

RED, GREY, GREEN, LIGHT = (RGBColor.from_string(PALETTE[k]) for k in ("red", "grey", "green", "light"))
TEXT, WHITE = RGBColor.from_string(PALETTE["text"]), RGBColor(0xFF, 0xFF, 0xFF)
PERCENT_SUFFIXES = ("_pct", "_rate")
COLUMN_FORMATS = {"performance": "0.0"}     # table columns with their own number format
LOW_BASE = "low_base"
MAX_TABLE_ROWS = 16
SIDE_GAP = 300000                           # between two halves of a table side by side
ROW_EMU = 265000                            # table row height at 10 pt


# ------------------------------------------------------------------------------------------ data shaping
def prepare_table(table: pd.DataFrame, spec: ChartSpec) -> pd.DataFrame:
    """Apply the spec's filter, sort and top-N to a result table."""
    df = table
    for col, want in (spec.filter or {}).items():
        if col in df:
            df = df[df[col].isin(want if isinstance(want, list) else [want])]
    if spec.sort and spec.sort in df:
        df = df.sort_values(spec.sort, ascending=spec.ascending, kind="stable")
    if spec.top and spec.type == "heatmap" and spec.category in df:  # the first N rows of the grid
        keep = list(dict.fromkeys(df[spec.category]))[: spec.top]
        df = df[df[spec.category].isin(keep)]
    elif spec.top:
        df = df.head(spec.top)
    return df.reset_index(drop=True)


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
    need = sum(int(((max(text_width_em(str(t)) for t in col) + 1.0) * size + 12) * 12700)
               for col in zip(headers, *body))
    return 2 if 2 * need + SIDE_GAP <= width else 1


def categories(df: pd.DataFrame, spec: ChartSpec, lang: str, column: str | None = None) -> list[str]:
    """Category labels: the ``category`` column plus the significance marker (↑/↓), the peak / end of the
    journey (columns ``is_peak`` / ``is_end``) and the low-base note (``flag == "low_base"``)."""
    cats = df[column or spec.category].astype(str).tolist()
    cat = catalogue(lang)
    marks = df[spec.marker].fillna("").astype(str).tolist() if spec.marker and spec.marker in df else [""] * len(df)
    values = _label_values(df, spec)
    out = []
    for i, text in enumerate(cats):
        if values is not None:  # the value beside the name, clear of the interval line through the bar
            text += f"  {values[i]}{marks[i]}"
        else:
            text += f" {marks[i]}" if marks[i] else ""
        notes = [cat[k] for k, col in (("peak", "is_peak"), ("end", "is_end")) if col in df and bool(df[col].iloc[i])]
        if "flag" in df and df["flag"].iloc[i] == LOW_BASE:
            notes.append(cat["low_base"])
        out.append(text + ("\n" + "·".join(notes) if notes else ""))
    return out


def _label_values(df: pd.DataFrame, spec: ChartSpec) -> list[str] | None:
    """A one-series bar chart with intervals shows each value in its category label: a data label on the bar
    sits on the interval line, whose stroke hides a minus sign ("-8" read as "8")."""
    if not (spec.labels and len(spec.interval) == 2 and len(spec.series) == 1 and spec.series[0] in df):
        return None
    fmt = number_format(spec, spec.series[0])
    return [format_value(v, fmt) for v in _values(df[spec.series[0]], fmt)]


def number_format(spec: ChartSpec, col: str) -> str:
    """The spec's number format, with a literal % for columns already in per cent (``*_pct``, ``*_rate``)."""
    fmt = spec.number_format
    if "%" not in fmt and col.endswith(PERCENT_SUFFIXES):
        fmt += '"%"'
    return fmt


def column_format(spec: ChartSpec, col: str) -> str:
    return COLUMN_FORMATS.get(col, spec.number_format)


def format_value(v, fmt: str = "0") -> str:
    """A table cell: thousands separators, decimals as the Excel-style format says ("0", "0.0", "0.00",
    "0%"), "–" for missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        core = fmt.replace('"%"', "")
        decimals = _decimals(fmt)
        if core.endswith("%"):
            return number(float(v) * 100, decimals) + "%"
        return number(float(v), decimals) + ("%" if '"%"' in fmt else "")
    return str(v)


def _decimals(fmt: str) -> int:
    core = fmt.replace('"%"', "").rstrip("%")
    return len(core.split(".")[1]) if "." in core else 0


def _values(s: pd.Series, fmt: str | None = None) -> list:
    """Chart values (exact: the client may edit them in PowerPoint); with ``fmt``, a value its label would
    show as "-0" (a small negative that rounds to zero) is stored as 0."""
    out = [None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v) for v in s]
    if fmt is None:
        return out
    d = _decimals(fmt) + (2 if fmt.replace('"%"', "").endswith("%") else 0)
    return [0.0 if v is not None and v < 0 and round(v, d) == 0 else v for v in out]


def series_colour(col: str, i: int, n: int) -> str:
    """Palette key of a series: its semantic colour, else the accent for the first and greys after."""
    return SERIES_COLOURS.get(str(col), MULTI[i % len(MULTI)] if n > 1 else "accent")


def nice_axis(lo: float, hi: float, ticks: int = 5) -> tuple[float, float, float]:
    """Axis bounds on round numbers around [lo, hi] and the tick step (1, 2, 2.5 or 5 × 10^k)."""
    span = (hi - lo) or abs(hi) or 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


# ---------------------------------------------------------------------------------------------- styling
THEME_ACCENTS = (MSO_THEME_COLOR.ACCENT_1, MSO_THEME_COLOR.ACCENT_2, MSO_THEME_COLOR.ACCENT_3,
                 MSO_THEME_COLOR.ACCENT_4, MSO_THEME_COLOR.ACCENT_5, MSO_THEME_COLOR.ACCENT_6)


def _accent(i: int = 0):
    """The master's i-th series accent as a theme colour (0: the message colour)."""
    series = theme.current().series
    return THEME_ACCENTS[series[i % len(series)] - 1]


def _series_key(col: str, i: int, n: int) -> str | int:
    """A series' colour in the deck: its semantic colour, else the master's accents in order."""
    return SERIES_COLOURS.get(str(col)) or (i if n > 1 else "accent")


def _fill(fill, key: str | int) -> None:
    """Fill with a palette colour, the message accent ("accent") or the i-th series accent (an int)."""
    fill.solid()
    if key == "accent" or isinstance(key, int):
        fill.fore_color.theme_color = _accent(0 if key == "accent" else key)
    else:
        fill.fore_color.rgb = RGBColor.from_string(PALETTE[key])


def _style_chart(chart, size: int = 11) -> None:
    """Chart-wide text (Latin + East Asian face), no chart title: the slide title carries the message."""
    chart.font.size = Pt(size)
    chart.font.color.rgb = TEXT
    set_ea(chart.font._rPr)
    chart.has_title = False


def _legend(chart, show: bool, position=XL_LEGEND_POSITION.TOP) -> None:
    chart.has_legend = show
    if show:
        chart.legend.position = position
        chart.legend.include_in_layout = False
        set_font(chart.legend.font, size=Pt(11))


def _data_labels(owner, fmt: str, position, size: int = 11, color=None) -> None:
    dl = owner.data_labels
    dl.show_value = True
    dl.number_format, dl.number_format_is_linked = fmt, False
    dl.position = position
    set_font(dl.font, size=Pt(size), color=color)


def _value_axis_off(chart) -> None:
    chart.value_axis.has_major_gridlines = False
    chart.value_axis.visible = False


def _category_axis(chart, horizontal: bool) -> None:
    ax = chart.category_axis
    set_font(ax.tick_labels.font, size=Pt(11))
    ax.tick_label_position = XL_TICK_LABEL_POSITION.LOW  # labels clear of negative bars
    ax.format.line.color.rgb = LIGHT
    if horizontal:
        ax.reverse_order = True


# ----------------------------------------------------------------------------------------------- charts
def point_colours(df: pd.DataFrame, spec: ChartSpec, values: list) -> list[str | None]:
    """Per-bar colour of a one-series bar chart: accent where ``highlight``; else the palette key in the
    ``colour_by`` column (set by the view from a significance test or a threshold, e.g. "red" for a
    significantly negative gap) — never the sign of the value; grey for low bases."""
    n = len(values)
    keys: list[str | None] = [None] * n
    if spec.highlight and spec.highlight in df:
        keys = ["accent" if h else None for h in df[spec.highlight].fillna(False).astype(bool)]
    elif spec.colour_by and spec.colour_by in df:
        keys = [k if isinstance(k, str) and k in PALETTE else None for k in df[spec.colour_by]]
    if "flag" in df:
        keys = ["faint" if f == LOW_BASE else k for k, f in zip(keys, df["flag"])]
    return keys


def _bar_data(df, spec: ChartSpec, lang: str) -> CategoryChartData:
    data = CategoryChartData()
    data.categories = categories(df, spec, lang)
    for i, col in enumerate(spec.series):
        data.add_series(_series_name(spec, i, col, lang), _values(df[col], number_format(spec, col)),
                        number_format(spec, col))
    return data


def _bar_points(chart, df, spec: ChartSpec) -> None:
    """A one-series bar chart's bar colours, which follow the data (see :func:`point_colours`)."""
    if len(spec.series) != 1:
        return
    series = chart.plots[0].series[0]
    for old in series._element.findall(qn("c:dPt")):  # after new data: the old bars' colours go
        series._element.remove(old)
    for j, key in enumerate(point_colours(df, spec, _values(df[spec.series[0]]))):
        if key:
            _fill(series.points[j].format.fill, key)
    if len(spec.interval) == 2 and all(c in df for c in spec.interval):  # error bars follow the data too
        col = spec.series[0]
        values, lows, highs = _values(df[col]), _values(df[spec.interval[0]]), _values(df[spec.interval[1]])
        error_bars(series, values, lows, highs)
        # the axis holds the intervals, not just the bars (an auto axis cuts the error bars at the plot edge)
        ends = [v for v in (*values, *lows, *highs) if v is not None] + [0.0]
        lo, hi, _ = nice_axis(min(ends), max(ends))
        chart.value_axis.minimum_scale, chart.value_axis.maximum_scale = lo, hi


def draw_bar(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Clustered bars (``horizontal`` for long labels); one series: light grey with the message in accent."""
    kind = XL_CHART_TYPE.BAR_CLUSTERED if spec.horizontal else XL_CHART_TYPE.COLUMN_CLUSTERED
    gframe = slide.shapes.add_chart(kind, *box, _bar_data(df, spec, lang))
    chart = gframe.chart
    _style_chart(chart)
    _legend(chart, len(spec.series) > 1)
    plot = chart.plots[0]
    plot.gap_width = 60 if len(spec.series) == 1 else 80
    _value_axis_off(chart)
    _category_axis(chart, spec.horizontal)
    for si, (col, series) in enumerate(zip(spec.series, plot.series)):
        series.invert_if_negative = False
        if spec.labels and _label_values(df, spec) is None:  # with intervals the value is in the category label
            _data_labels(series, number_format(spec, col), XL_LABEL_POSITION.OUTSIDE_END,
                         size=11 if len(df) * len(spec.series) <= 16 else 9)
        _fill(series.format.fill, _series_key(col, si, len(spec.series)) if len(spec.series) > 1 else "light")
    _bar_points(chart, df, spec)
    return gframe


def error_bars(series, values: list, lows: list, highs: list) -> None:
    """Custom error bars (the interval ``[low, high]`` around each value) on a bar series: python-pptx has no
    API for them, so the ``c:errBars`` element is written here, before ``c:cat`` as the schema orders it."""
    from lxml import etree
    from pptx.oxml.ns import qn

    def lit(deltas: list) -> str:
        pts = "".join(f'<c:pt idx="{i}"><c:v>{d:.6g}</c:v></c:pt>' for i, d in enumerate(deltas))
        return f'<c:numLit><c:formatCode>General</c:formatCode><c:ptCount val="{len(deltas)}"/>{pts}</c:numLit>'

    plus = [max(0.0, h - v) if None not in (v, h) else 0.0 for v, h in zip(values, highs)]
    minus = [max(0.0, v - lo) if None not in (v, lo) else 0.0 for v, lo in zip(values, lows)]
    ns = 'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" ' \
         'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    xml = (f'<c:errBars {ns}><c:errBarType val="both"/><c:errValType val="cust"/><c:noEndCap val="0"/>'
           f'<c:plus>{lit(plus)}</c:plus><c:minus>{lit(minus)}</c:minus>'
           f'<c:spPr><a:ln w="12700"><a:solidFill><a:srgbClr val="{PALETTE["dark"]}"/></a:solidFill></a:ln></c:spPr>'
           f'</c:errBars>')
    ser = series._element
    for old in ser.findall(qn("c:errBars")):
        ser.remove(old)
    ser.find(qn("c:cat")).addprevious(etree.fromstring(xml))


def _series_name(spec: ChartSpec, i: int, col: str, lang: str) -> str:
    return label(spec.series_names[i] if i < len(spec.series_names) else col, lang)


def draw_stacked100(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """NPS composition: stacked bars of shares in % (detractors red on the left, passives grey, promoters green)
    and, when the table has an ``nps`` column, the NPS printed at the end of each bar (an unfilled fourth
    series whose labels are the NPS values; the category then shows the unit ``name``, without the NPS)."""
    with_nps = "nps" in df
    gframe = slide.shapes.add_chart(XL_CHART_TYPE.BAR_STACKED, *box, _stacked_data(df, spec, lang))
    chart = gframe.chart
    _style_chart(chart)
    _legend(chart, True)
    _category_axis(chart, horizontal=True)
    _value_axis_off(chart)
    chart.value_axis.minimum_scale, chart.value_axis.maximum_scale = 0, 100 + (_PAD if with_nps else 0)
    plot = chart.plots[0]
    plot.gap_width, plot.overlap = 50, 100
    for col, series in zip(spec.series, plot.series):
        _fill(series.format.fill, SERIES_COLOURS.get(col, "grey"))
        _data_labels(series, '0"%"', XL_LABEL_POSITION.CENTER, size=10, color=WHITE)
    _stacked_points(chart, df, spec)
    return gframe


_PAD = 16.0  # width of the unfilled bar that carries the NPS at the end of a composition bar


def _stacked_data(df, spec: ChartSpec, lang: str) -> CategoryChartData:
    with_nps = "nps" in df
    data = CategoryChartData()
    data.categories = categories(df, spec, lang, column="name" if with_nps and "name" in df else None)
    for i, col in enumerate(spec.series):
        data.add_series(_series_name(spec, i, col, lang), _values(df[col], '0"%"'), '0"%"')
    if with_nps:
        data.add_series(" ", [_PAD] * len(df), "0")  # blank name: no legend text (LibreOffice misplaces
        # a deleted legend entry on reversed bar charts, so the entry stays, empty and unfilled)
    return data


def _stacked_points(chart, df, spec: ChartSpec) -> None:
    """The NPS printed at the end of each composition bar (labels of the unfilled last series)."""
    if "nps" in df and len(chart.plots[0].series) > len(spec.series):
        _nps_end_labels(chart.plots[0].series[len(spec.series)], df["nps"])


def _nps_end_labels(series, nps: pd.Series) -> None:
    series.format.fill.background()
    series.format.line.fill.background()
    labels = series._element.find(qn("c:dLbls"))
    for old in labels.findall(qn("c:dLbl")) if labels is not None else []:  # the old bars' labels go
        labels.remove(old)
    for j, v in enumerate(_values(nps)):
        dl = series.points[j].data_label
        dl.has_text_frame = True
        dl.text_frame.text = "–" if v is None else f"NPS {number(v)}"
        dl.position = XL_LABEL_POSITION.INSIDE_BASE
        set_font(dl.text_frame.paragraphs[0].runs[0].font, size=Pt(11), bold=True, color=TEXT)


def _wide(df: pd.DataFrame, spec: ChartSpec) -> pd.DataFrame:
    """Long (category × label → y) to wide, keeping first-appearance order of both."""
    return df.pivot_table(index=spec.category, columns=spec.label, values=spec.y, aggfunc="first", sort=False)


def draw_line(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """A KPI by wave (``category``) for each ``label`` (stage). With up to three waves it is drawn as grouped
    bars per stage (earlier waves grey, the last in the accent, the significance marker of the last wave on
    the stage name): with many stages a line per stage would be a tangle of two-point lines. With more
    waves: one line per stage, legend on the right."""
    waves = list(dict.fromkeys(df[spec.category].astype(str)))
    if len(waves) <= 3:
        return _wave_bars(slide, box, df, spec, lang, waves)
    gframe = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, *box, _line_data(df, spec))
    chart = gframe.chart
    _style_chart(chart)
    _legend(chart, True, XL_LEGEND_POSITION.RIGHT)
    chart.value_axis.major_gridlines.format.line.color.rgb = RGBColor.from_string(PALETTE["faint"])
    set_font(chart.value_axis.tick_labels.font, size=Pt(10))
    _line_styles(chart, df, spec)
    return gframe


def _line_styles(chart, df, spec: ChartSpec) -> None:
    """Line colours: with a ``highlight`` column, the highlighted labels' lines (the stage the title names) in
    the message accent and thick, the others light grey and thin; else the master's accents in order."""
    marked = set(df.loc[df[spec.highlight].fillna(False).astype(bool), spec.label].astype(str)) \
        if spec.highlight and spec.highlight in df else set()
    for i, series in enumerate(chart.plots[0].series):
        series.smooth = False
        line, marker = series.format.line, series.marker.format
        marker.fill.solid()
        if not marked:
            line.color.theme_color = _accent(i)
            marker.fill.fore_color.theme_color = _accent(i)
            marker.line.color.theme_color = _accent(i)
            continue
        key = "accent" if series.name in marked else "light"
        line.width = Pt(2.75 if key == "accent" else 1.25)
        _fill(marker.fill, key)
        if key == "accent":
            line.color.theme_color = marker.line.color.theme_color = _accent(0)
        else:
            line.color.rgb = marker.line.color.rgb = RGBColor.from_string(PALETTE["light"])



def _line_data(df, spec: ChartSpec) -> CategoryChartData:
    wide = _wide(df, spec)
    data = CategoryChartData()
    data.categories = [str(c) for c in wide.index]
    for col in wide.columns:
        data.add_series(str(col), _values(wide[col], spec.number_format), spec.number_format)
    return data


def _wave_bar_data(df, spec: ChartSpec, waves: list[str]) -> CategoryChartData:
    last = df[df[spec.category].astype(str) == waves[-1]].set_index(spec.label)
    stages = list(dict.fromkeys(df[spec.label]))
    marks = last["marker"].reindex(stages).fillna("").astype(str) if "marker" in last else pd.Series("", stages)
    data = CategoryChartData()
    data.categories = [f"{s} {m}" if m else str(s) for s, m in zip(stages, marks)]
    wide = _wide(df, spec).reindex(columns=stages)
    for w in waves:
        data.add_series(w, _values(wide.loc[w], spec.number_format) if w in wide.index else [None] * len(stages),
                        spec.number_format)
    return data


def _wave_bars(slide, box, df, spec: ChartSpec, lang: str, waves: list[str]):
    gframe = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, *box, _wave_bar_data(df, spec, waves))
    chart = gframe.chart
    _style_chart(chart)
    _legend(chart, True)
    _value_axis_off(chart)
    _category_axis(chart, horizontal=False)
    plot = chart.plots[0]
    plot.gap_width, plot.overlap = 70, -5
    for i, series in enumerate(plot.series):
        series.invert_if_negative = False
        _fill(series.format.fill, "accent" if i == len(waves) - 1 else ("light" if i == len(waves) - 2 else "faint"))
        if spec.labels:
            _data_labels(series, spec.number_format, XL_LABEL_POSITION.OUTSIDE_END, size=9)
    return gframe


# ------------------------------------------------------------------------------------------ scatter plot
def place_labels(points: list[tuple[float, float]], texts: list[str], size_pt: float, bounds: tuple[float, float],
                 obstacles: list[tuple[float, float, float, float]] = (), marker_pt: float = 5.0
                 ) -> list[tuple[str, str]]:
    """Greedy label placement for a scatter: for each point (x, y in points from the plot's top-left) try
    right, left, above, below, and keep the first spot that stays in ``bounds`` (width, height) and
    overlaps no marker, no label placed before and no ``obstacles`` (x, y, w, h). A label with no free spot
    is replaced by its number (1-based), for a key beside the chart. Returns (position, text) per point."""
    rects = list(obstacles) + [(x - marker_pt, y - marker_pt, 2 * marker_pt, 2 * marker_pt) for x, y in points]
    out = []
    for k, ((x, y), text) in enumerate(zip(points, texts)):
        w, h = text_width_em(text) * size_pt * 1.1 + 6, size_pt * 1.5  # with the renderer's padding
        g = marker_pt + 3
        spots = {"right": (x + g, y - h / 2), "left": (x - g - w, y - h / 2),
                 "above": (x - w / 2, y - g - h), "below": (x - w / 2, y + g)}
        for pos, (lx, ly) in spots.items():
            r = (lx, ly, w, h)
            inside = lx >= 0 and ly >= 0 and lx + w <= bounds[0] and ly + h <= bounds[1]
            own = (x - marker_pt, y - marker_pt, 2 * marker_pt, 2 * marker_pt)
            if inside and not any(_overlap(r, o) for o in rects if o != own):
                rects.append(r)
                out.append((pos, text))
                break
        else:
            out.append(("right", str(k + 1)))
            rects.append((x + g, y - h / 2, size_pt * 1.2, h))
    return out


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


POSITIONS = {"right": XL_LABEL_POSITION.RIGHT, "left": XL_LABEL_POSITION.LEFT,
             "above": XL_LABEL_POSITION.ABOVE, "below": XL_LABEL_POSITION.BELOW}
QUADRANTS = ("high_importance_low_performance", "high_importance_high_performance",
             "low_importance_low_performance", "low_importance_high_performance")
FIX = QUADRANTS[0]


def matrix_ranges(x: pd.Series, y: pd.Series) -> tuple[tuple, tuple]:
    def rng(s, floor0):
        lo, hi = float(s.min()), float(s.max())
        pad = (hi - lo) * 0.15 or max(abs(hi) * 0.1, 0.05)
        return nice_axis(max(0.0, lo - pad) if floor0 else lo - pad, hi + pad)
    return rng(x, True), rng(y, False)


def draw_scatter(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Priority matrix: importance (x) against performance (y), dashed median lines, the quadrant names in
    the corners, each point labelled with its short name where there is room (else numbered, with a key
    beside the chart). Points are two series, the fix-first quadrant in red and the others in the accent
    (a series colour shows in PowerPoint and LibreOffice alike; a single point's colour does not)."""
    meta = meta or {}
    x, y = df[spec.x].astype(float), df[spec.y].astype(float)
    (x0, x1, xstep), (y0, y1, ystep) = matrix_ranges(x, y)
    xs, ys = float(meta.get("x_split", x.median())), float(meta.get("y_split", y.median()))
    texts = df[spec.label].astype(str).tolist() if spec.label else [""] * len(df)
    left, top, width, height = box
    placed = _place_matrix_labels(x, y, texts, (x0, x1, y0, y1), (width, height))
    numbered = [(p[1], t) for p, t in zip(placed, texts) if p[1] != t]
    if numbered:
        width = int(width * 0.8)
    fix = (df["quadrant"] == FIX).to_numpy() if "quadrant" in df else np.zeros(len(df), dtype=bool)
    names = meta.get("quadrant_labels") or {}
    groups = [(g, key, name) for g, key, name in ((~fix, "accent", catalogue(lang)["value"]),
                                                   (fix, "red", str(names.get(FIX, FIX)))) if g.any()]
    ix, iy = (x1 - x0) * 0.02, (y1 - y0) * 0.04
    corner_pts = [(x1 - ix, y0 + iy), (x1 - ix, y1 - iy), (x0 + ix, y0 + iy), (x0 + ix, y1 - iy)]
    point_sets = [list(zip(x[g], y[g])) for g, _, _ in groups]
    point_sets += [[(xs, y0), (xs, y1)], [(x0, ys), (x1, ys)], corner_pts]
    names_ = [name for _, _, name in groups] + ["x_split", "y_split", "quadrants"]
    # LibreOffice draws only the longest series of a scatter when a later series has more points than
    # an earlier one: every series is padded to the same length by repeating its last point (an invisible
    # duplicate: same place, no label)
    longest = max(len(p) for p in point_sets)
    data = XyChartData()
    for i, (name, pts_) in enumerate(zip(names_, point_sets)):
        series_data = data.add_series(name, number_format=spec.number_format if i < len(groups) else None)
        for a, b in pts_ + [pts_[-1]] * (longest - len(pts_)):
            series_data.add_data_point(a, b)
    gframe = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER, left, top, width, height, data)
    chart = gframe.chart
    _style_chart(chart, 10)
    chart.has_legend = False
    _matrix_axes(chart, (x0, x1, xstep), (y0, y1, ystep), spec, meta)
    series = list(chart.plots[0].series)
    for (g, key, _), s in zip(groups, series):
        _matrix_points(s, [p for p, keep in zip(placed, g) if keep], key)
    for s in series[len(groups):len(groups) + 2]:
        s.marker.style = XL_MARKER_STYLE.NONE
        s.format.line.color.rgb = GREY
        s.format.line.dash_style = 4  # dash
        s.format.line.width = Pt(1)
    _quadrant_names(series[-1], names)
    if numbered:
        _numbered_key(slide, (left + width, top, box[2] - width, height), numbered)
    return gframe


def _place_matrix_labels(x, y, texts, ranges, size_emu) -> list[tuple[str, str]]:
    x0, x1, y0, y1 = ranges
    w_pt, h_pt = size_emu[0] / 12700 - 70, size_emu[1] / 12700 - 60  # plot area ≈ frame minus axes and titles
    pts = [((a - x0) / (x1 - x0) * w_pt, (y1 - b) / (y1 - y0) * h_pt) for a, b in zip(x, y)]
    corner_w, corner_h = 5 * 11 + 6, 11 * 1.6  # quadrant names (≤ 5 CJK characters at 11 pt)
    corners = [(0, 0, corner_w, corner_h), (w_pt - corner_w, 0, corner_w, corner_h),
               (0, h_pt - corner_h, corner_w, corner_h), (w_pt - corner_w, h_pt - corner_h, corner_w, corner_h)]
    return place_labels(pts, texts, 9, (w_pt, h_pt), corners)


def _matrix_axes(chart, xr, yr, spec: ChartSpec, meta: dict) -> None:
    for ax, (lo, hi, step), fmt, name in ((chart.category_axis, xr, "0%", meta.get("x_name")),
                                          (chart.value_axis, yr, "0.0", meta.get("y_name"))):
        ax.minimum_scale, ax.maximum_scale, ax.major_unit = lo, hi, step
        ax.has_major_gridlines = False
        ax.tick_labels.number_format, ax.tick_labels.number_format_is_linked = fmt, False
        set_font(ax.tick_labels.font, size=Pt(9))
        ax.format.line.color.rgb = LIGHT
        if name:
            ax.has_title = True
            ax.axis_title.text_frame.text = str(name)
            set_font(ax.axis_title.text_frame.paragraphs[0].runs[0].font, size=Pt(10), color=TEXT)
    if "%" not in spec.number_format and not str(spec.x).startswith("share"):
        chart.category_axis.tick_labels.number_format = "0.0"


def _matrix_points(series, placed: list[tuple[str, str]], colour: str) -> None:
    series.format.line.fill.background()
    series.marker.style = XL_MARKER_STYLE.CIRCLE
    series.marker.size = 9
    _fill(series.marker.format.fill, colour)
    series.marker.format.line.fill.background()
    for i, (pos, text) in enumerate(placed):
        dl = series.points[i].data_label
        dl.has_text_frame = True
        dl.text_frame.text = text
        dl.position = POSITIONS[pos]
        set_font(dl.text_frame.paragraphs[0].runs[0].font, size=Pt(9), color=TEXT)


def _quadrant_names(series, names: dict) -> None:
    series.marker.style = XL_MARKER_STYLE.NONE
    series.format.line.fill.background()
    for i, key in enumerate(QUADRANTS):
        dl = series.points[i].data_label
        dl.has_text_frame = True
        dl.text_frame.text = str(names.get(key, "")) or " "
        dl.position = XL_LABEL_POSITION.LEFT if i < 2 else XL_LABEL_POSITION.RIGHT
        set_font(dl.text_frame.paragraphs[0].runs[0].font, size=Pt(11), bold=True,
                 color=RED if key == FIX else GREY)


def _numbered_key(slide, box, numbered: list[tuple[str, str]]) -> None:
    tb = slide.shapes.add_textbox(*box)
    tb.name = "Label key"
    tf = tb.text_frame
    tf.word_wrap = True
    for i, (num, text) in enumerate(numbered):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.text = f"{num}  {text}"
        set_font(p.runs[0].font, size=Pt(10), color=TEXT)


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


# ------------------------------------------------------------------------------------------- word cloud
def _top_words(df) -> tuple[pd.DataFrame, ChartSpec]:
    top = df.sort_values("weight", ascending=False, kind="stable").head(15).reset_index(drop=True)
    return top, ChartSpec(type="bar", category="word", series=("weight",), series_names=("value",),
                          horizontal=True, number_format="#,##0")


def draw_wordcloud(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """A word cloud (``word``, ``weight``) does not exist natively in PowerPoint: the top 15 words as bars."""
    return draw_bar(slide, box, *_top_words(df), lang, meta)


def _block(name: str) -> Callable:
    """A text-block drawer of :mod:`cemkit.render.blocks` (imported when drawn: it uses this module's colours)."""
    def draw_block(*args, **kwargs):
        from . import blocks

        return getattr(blocks, name)(*args, **kwargs)

    return draw_block


draw_quotes, draw_bullets = _block("draw_quotes"), _block("draw_bullets")

DRAWERS: dict[str, Callable] = {
    "bar": draw_bar, "stacked100": draw_stacked100, "line": draw_line, "scatter": draw_scatter,
    "table": draw_table, "heatmap": draw_heatmap, "quotes": draw_quotes, "bullets": draw_bullets,
    "wordcloud": draw_wordcloud,
}
TABULAR = ("table", "heatmap")   # drawn as native tables, split over continuation slides when long
NATIVE_CHARTS = ("bar", "stacked100", "line", "scatter", "wordcloud")


def chart_data(df: pd.DataFrame, spec: ChartSpec, lang: str):
    """The native chart type and data a spec draws from a prepared table — the same the drawers use — or
    None when the chart cannot simply be given new data (a scatter: its series, labels and median lines are
    laid out from the data; a table-like or text chart). Used by :func:`update`."""
    if spec.type == "wordcloud":
        df, spec = _top_words(df)
    if spec.type == "bar":
        kind = XL_CHART_TYPE.BAR_CLUSTERED if spec.horizontal else XL_CHART_TYPE.COLUMN_CLUSTERED
        return kind, _bar_data(df, spec, lang)
    if spec.type == "stacked100":
        return XL_CHART_TYPE.BAR_STACKED, _stacked_data(df, spec, lang)
    if spec.type == "line":
        waves = list(dict.fromkeys(df[spec.category].astype(str)))
        if len(waves) <= 3:
            return XL_CHART_TYPE.COLUMN_CLUSTERED, _wave_bar_data(df, spec, waves)
        return XL_CHART_TYPE.LINE_MARKERS, _line_data(df, spec)
    return None


def update(chart, df: pd.DataFrame, spec: ChartSpec, lang: str) -> bool:
    """Give an existing native chart the data of a prepared table, keeping its formatting: same chart type
    and number of series, ``chart.replace_data`` with every series' number format (python-pptx issue #666:
    replace_data drops a format the chart data does not give), then the styling that follows the data
    (bar colours, the NPS at the end of composition bars, the accent on the last wave). False when the chart
    must be drawn again instead (a scatter, a chart whose type or series changed, a chart without rows)."""
    built = chart_data(df, spec, lang) if len(df) else None
    if built is None:
        return False
    kind, data = built
    if chart.chart_type != kind or len(list(chart.plots[0].series)) != len(list(data)):
        return False
    chart.replace_data(data)
    if spec.type == "wordcloud":
        df, spec = _top_words(df)
    if spec.type == "bar":
        _bar_points(chart, df, spec)
    elif spec.type == "stacked100":
        _stacked_points(chart, df, spec)
    elif spec.type == "line" and kind == XL_CHART_TYPE.LINE_MARKERS:
        _line_styles(chart, df, spec)
    elif spec.type == "line" and kind == XL_CHART_TYPE.COLUMN_CLUSTERED:
        n = len(chart.plots[0].series)
        for i, series in enumerate(chart.plots[0].series):
            _fill(series.format.fill, "accent" if i == n - 1 else ("light" if i == n - 2 else "faint"))
    return True


def draw_prepared(slide, box, df: pd.DataFrame, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Draw an already prepared table (see :func:`prepare_table`, :func:`paginate`). A chart without rows
    (no alert in the wave, say) is a one-line "no data" note: PowerPoint has no empty chart."""
    if df.empty and spec.type in (*NATIVE_CHARTS, *TABULAR):  # a table without rows too (no decision cleared)
        return _no_data(slide, box, lang)
    return DRAWERS[spec.type](slide, box, df, spec, lang, meta or {})


def _no_data(slide, box, lang: str):
    left, top, width, _ = box
    tb = slide.shapes.add_textbox(left, top, width, Emu(500000))
    tb.name = "No data"
    p = tb.text_frame.paragraphs[0]
    p.text = catalogue(lang)["no_data"]
    set_font(p.runs[0].font, size=Pt(14), color=GREY)
    return tb


def draw(slide, box, table: pd.DataFrame, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Draw ``table`` on ``slide`` inside ``box`` (left, top, width, height in EMU) as ``spec`` says."""
    return draw_prepared(slide, box, prepare_table(table, spec), spec, lang, meta)
