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

from ..i18n import catalogue, label
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
    "format_value",
    "nice_axis",
    "number_format",
    "paginate",
    "place_labels",
    "point_colours",
    "prepare_table",
    "series_colour",
    "table_cells",
    "update",
]

# Hex colours shared with the HTML report. "accent" is drawn as the master's message accent in the deck.
PALETTE = {"accent": "1F5FAD", "red": "C0392B", "grey": "A6A6A6", "light": "BFC5CC", "green": "2E8B57",
           "amber": "E3A72F", "dark": "5B6770", "text": "333333", "faint": "E5E7EB"}
# A series (result column) keeps its colour on every slide and in the HTML report.
SERIES_COLOURS = {"detractors": "red", "passives": "grey", "promoters": "green", "P1": "red", "P2": "amber",
                  "P3": "light", "negative_rate": "red", "mention_rate": "light"}
MULTI = ("accent", "light", "dark", "amber", "green")

RED, GREY, GREEN, LIGHT = (RGBColor.from_string(PALETTE[k]) for k in ("red", "grey", "green", "light"))
TEXT, WHITE = RGBColor.from_string(PALETTE["text"]), RGBColor(0xFF, 0xFF, 0xFF)
PERCENT_SUFFIXES = ("_pct", "_rate")
COLUMN_FORMATS = {"performance": "0.0"}     # table columns with their own number format
LOW_BASE = "low_base"
MAX_TABLE_ROWS = 16
ROW_EMU = 265000                            # table row height at 10 pt


# ------------------------------------------------------------------------------------------ data shaping
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


def paginate(df: pd.DataFrame, box_height: int, row_emu: int = ROW_EMU) -> list[pd.DataFrame]:
    """Split a table into pages of equal size that fit ``box_height`` (header row included)."""
    per = max(3, min(MAX_TABLE_ROWS, int(box_height // row_emu) - 1))
    pages = max(1, math.ceil(len(df) / per))
    size = math.ceil(len(df) / pages) if len(df) else 0
    return [df.iloc[i * size:(i + 1) * size].reset_index(drop=True) for i in range(pages)] if size else [df]


def categories(df: pd.DataFrame, spec: ChartSpec, lang: str, column: str | None = None) -> list[str]:
    """Category labels: the ``category`` column plus the significance marker (↑/↓), the peak / end of the
    journey (columns ``is_peak`` / ``is_end``) and the low-base note (``flag == "low_base"``)."""
    cats = df[column or spec.category].astype(str).tolist()
    cat = catalogue(lang)
    marks = df[spec.marker].fillna("").astype(str).tolist() if spec.marker and spec.marker in df else [""] * len(df)
    out = []
    for i, text in enumerate(cats):
        text += f" {marks[i]}" if marks[i] else ""
        notes = [cat[k] for k, col in (("peak", "is_peak"), ("end", "is_end")) if col in df and bool(df[col].iloc[i])]
        if "flag" in df and df["flag"].iloc[i] == LOW_BASE:
            notes.append(cat["low_base"])
        out.append(text + ("\n" + "·".join(notes) if notes else ""))
    return out


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
        decimals = len(core.split(".")[1].rstrip("%")) if "." in core else 0
        if core.endswith("%"):
            return f"{float(v) * 100:,.{decimals}f}%"
        return f"{float(v):,.{decimals}f}" + ("%" if '"%"' in fmt else "")
    return str(v)


def _values(s: pd.Series) -> list:
    return [None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v) for v in s]


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
    """Per-bar colour of a one-series bar chart: accent where ``highlight``, grey for low bases, and when
    there is no highlight but values of both signs, red below zero (the drag is the message)."""
    n = len(values)
    keys: list[str | None] = [None] * n
    if spec.highlight and spec.highlight in df:
        keys = ["accent" if h else None for h in df[spec.highlight].fillna(False).astype(bool)]
    elif any(v is not None and v < 0 for v in values) and any(v is not None and v > 0 for v in values):
        keys = ["red" if v is not None and v < 0 else None for v in values]
    if "flag" in df:
        keys = ["faint" if f == LOW_BASE else k for k, f in zip(keys, df["flag"])]
    return keys


def _bar_data(df, spec: ChartSpec, lang: str) -> CategoryChartData:
    data = CategoryChartData()
    data.categories = categories(df, spec, lang)
    for i, col in enumerate(spec.series):
        data.add_series(_series_name(spec, i, col, lang), _values(df[col]), number_format(spec, col))
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
        if spec.labels:
            _data_labels(series, number_format(spec, col), XL_LABEL_POSITION.OUTSIDE_END,
                         size=11 if len(df) * len(spec.series) <= 16 else 9)
        _fill(series.format.fill, _series_key(col, si, len(spec.series)) if len(spec.series) > 1 else "light")
    _bar_points(chart, df, spec)
    return gframe


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
        data.add_series(_series_name(spec, i, col, lang), _values(df[col]), '0"%"')
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
        dl.text_frame.text = "–" if v is None else f"NPS {v:.0f}"
        dl.position = XL_LABEL_POSITION.INSIDE_BASE
        color = RED if v is not None and v < 0 else TEXT
        set_font(dl.text_frame.paragraphs[0].runs[0].font, size=Pt(11), bold=True, color=color)


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
        data.add_series(str(col), _values(wide[col]), spec.number_format)
    return data


def _wave_bar_data(df, spec: ChartSpec, waves: list[str]) -> CategoryChartData:
    last = df[df[spec.category].astype(str) == waves[-1]].set_index(spec.label)
    stages = list(dict.fromkeys(df[spec.label]))
    marks = last["marker"].reindex(stages).fillna("").astype(str) if "marker" in last else pd.Series("", stages)
    data = CategoryChartData()
    data.categories = [f"{s} {m}" if m else str(s) for s, m in zip(stages, marks)]
    wide = _wide(df, spec).reindex(columns=stages)
    for w in waves:
        data.add_series(w, _values(wide.loc[w]) if w in wide.index else [None] * len(stages), spec.number_format)
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


def _matrix_ranges(x: pd.Series, y: pd.Series) -> tuple[tuple, tuple]:
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
    (x0, x1, xstep), (y0, y1, ystep) = _matrix_ranges(x, y)
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


def _column_widths(texts: list[list[str]], width: int) -> list[int]:
    """Widths proportional to each column's longest text (in ems), clamped to 3–28 ems."""
    ems = [min(28.0, max(3.0, max(text_width_em(t) for t in col))) for col in zip(*texts)]
    total = sum(ems)
    widths = [int(width * e / total) for e in ems]
    widths[-1] += width - sum(widths)
    return widths


def _add_table(slide, box, body: list[list[str]], headers: list[str], size: int = 10):
    left, top, width, height = box
    rows = len(body) + 1
    row_h = min(int(height / rows), int(ROW_EMU * 1.25))
    gframe = slide.shapes.add_table(rows, len(headers), left, top, width, row_h * rows)
    table = gframe.table
    table.first_col = False
    for j, w in enumerate(_column_widths([headers, *body], width)):
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


def cell_colour(v, col: str, spec: ChartSpec, flag: str = "ok") -> RGBColor | None:
    """A table cell's text colour: grey on a low-base row, red below zero / green above in the ``colour_by``
    column, else None (the default text colour)."""
    if flag == LOW_BASE:
        return GREY
    if spec.colour_by == col and _numeric(v) and not pd.isna(v):
        return RED if float(v) < 0 else GREEN
    return None


def draw_table(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """A native table: accent header, banded rows, numbers right-aligned with the column's format, low-base
    rows (``flag == "low_base"``) greyed, ``colour_by`` values red below zero and green above."""
    cols, headers, body = table_cells(df, spec, lang)
    gframe, table = _add_table(slide, box, body, headers, size=10 if len(df) <= 12 else 9)
    flags = df["flag"].tolist() if "flag" in df else ["ok"] * len(df)
    for i, row in enumerate(body, start=1):
        for j, (c, text) in enumerate(zip(cols, row)):
            v = df[c].iloc[i - 1]
            _cell_text(table.cell(i, j), text, size=10 if len(df) <= 12 else 9, color=cell_colour(v, c, spec, flags[i - 1]),
                       align=PP_ALIGN.RIGHT if _numeric(v) else PP_ALIGN.LEFT)
            _cell_fill(table.cell(i, j), RGBColor(0xF7, 0xF7, 0xF7) if i % 2 else WHITE)
    return gframe


def draw_heatmap(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Wide matrix (rows = ``category``, columns = ``columns`` or every other column) as a native table
    whose cells shade from white to red with the value."""
    cols = list(spec.columns or [c for c in df.columns if c != spec.category])
    headers = [label(h, lang) for h in (spec.headers or [spec.category, *cols])]
    vals = df[cols].to_numpy(dtype=float)
    body = [[str(df[spec.category].iloc[i]), *(format_value(v, spec.number_format) for v in vals[i])]
            for i in range(len(df))]
    gframe, table = _add_table(slide, box, body, headers, size=9)
    hi = np.nanmax(vals) if np.isfinite(vals).any() else 1.0
    for i, row in enumerate(body, start=1):
        _cell_text(table.cell(i, 0), row[0], size=9)
        _cell_fill(table.cell(i, 0), WHITE)
        for j, text in enumerate(row[1:], start=1):
            v = vals[i - 1, j - 1]
            share = 0.0 if not np.isfinite(v) or hi <= 0 else float(v) / hi
            cell = table.cell(i, j)
            _cell_text(cell, text, size=9, align=PP_ALIGN.CENTER, color=WHITE if share > 0.6 else None)
            _cell_fill(cell, RGBColor(int(255 - share * 63), int(255 - share * 198), int(255 - share * 212)))
    return gframe


# -------------------------------------------------------------------------------------------- text blocks
def draw_quotes(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Quote wall: up to 6 boxes (theme heading in red / green by polarity, then the verbatim), two columns."""
    left, top, width, height = box
    items = df.head(6)
    ncol, gap = 2, 150000
    nrow = max(1, math.ceil(len(items) / ncol))
    w, h = (width - gap) // ncol, (height - gap * (nrow - 1)) // nrow
    shapes = []
    for k, row in enumerate(items.to_dict("records")):
        shp = slide.shapes.add_shape(1, left + (k % ncol) * (w + gap), top + (k // ncol) * (h + gap), w, h)
        shp.fill.solid()
        shp.fill.fore_color.rgb = RGBColor(0xF3, 0xF4, 0xF6)
        shp.line.fill.background()
        shp.shadow.inherit = False
        tf = shp.text_frame
        tf.word_wrap = True
        tf.vertical_anchor = MSO_ANCHOR.TOP
        tf.margin_left = tf.margin_right = Emu(120000)
        p = tf.paragraphs[0]
        p.text = str(row.get(spec.label or "theme_name", ""))
        p.alignment = PP_ALIGN.LEFT
        negative = (row.get("polarity") or 0) < 0
        set_font(p.runs[0].font, size=Pt(12), bold=True, color=RED if negative else GREEN)
        q = tf.add_paragraph()
        q.text = f"“{row.get(spec.y or 'quote', '')}”"
        q.alignment = PP_ALIGN.LEFT
        set_font(q.runs[0].font, size=Pt(13), color=TEXT)
        shapes.append(shp)
    return shapes


def draw_bullets(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """Numbered findings (the executive summary), one paragraph each."""
    tb = slide.shapes.add_textbox(*box)
    tf = tb.text_frame
    tf.word_wrap = True
    col = spec.label or df.columns[0]
    for i, text in enumerate(df[col].astype(str)):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.text = f"{i + 1}.  {text}"
        p.space_after = Pt(14)
        set_font(p.runs[0].font, size=Pt(18), color=TEXT)
    return tb


def _top_words(df) -> tuple[pd.DataFrame, ChartSpec]:
    top = df.sort_values("weight", ascending=False, kind="stable").head(15).reset_index(drop=True)
    return top, ChartSpec(type="bar", category="word", series=("weight",), series_names=("value",),
                          horizontal=True, number_format="#,##0")


def draw_wordcloud(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """A word cloud (``word``, ``weight``) does not exist natively in PowerPoint: the top 15 words as bars."""
    return draw_bar(slide, box, *_top_words(df), lang, meta)


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
    if df.empty and spec.type in NATIVE_CHARTS:
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
