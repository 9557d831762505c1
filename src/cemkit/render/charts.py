"""Native PowerPoint charts from a tidy result table and a :class:`ChartSpec`.

One function per chart type, chosen from ``DRAWERS`` by name; each takes ``(slide, box, df, spec, lang, meta)``
with ``df`` already filtered, sorted and cut by :func:`prepare_table`. Charts are python-pptx native charts
(the client can edit their data in PowerPoint): bars, 100 % stacked bars, lines here; tables and heat maps in
:mod:`.tables`, the priority matrix in :mod:`.matrix`, quote walls and bullets in :mod:`.blocks`. Colours
follow DECK.md (:mod:`.style`): the master's message accent for the message (:mod:`cemkit.render.theme` picks
it from the theme, so a client master re-brands it), its other accents for further series, greys for context,
and semantic colours that stay the same across the deck and the HTML report (NPS composition red / grey /
green, P1 red, …).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import (
    XL_CHART_TYPE,
    XL_LABEL_POSITION,
    XL_LEGEND_POSITION,
)
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from ..i18n import catalogue, label, number
from ..storyline import ChartSpec
from .fonts import set_font
from .matrix import draw_scatter
from .style import (
    GREY,
    LOW_BASE,
    PALETTE,
    SERIES_COLOURS,
    TEXT,
    WHITE,
    _accent,
    _category_axis,
    _data_labels,
    _fill,
    _legend,
    _series_key,
    _style_chart,
    _value_axis_off,
    _values,
    format_value,
    nice_axis,
    number_format,
)
from .tables import draw_heatmap, draw_table


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
    "NATIVE_CHARTS",
    "TABULAR",
    "categories",
    "chart_data",
    "draw",
    "draw_prepared",
    "error_bars",
    "point_colours",
    "prepare_table",
    "update",
]

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
