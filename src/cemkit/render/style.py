"""Colours, number formats and chart styling shared by the deck's drawers (:mod:`.charts`, :mod:`.tables`,
:mod:`.matrix`, :mod:`.blocks`) and the HTML report: the palette (DECK.md: one accent for the message, greys for
context, semantic colours that stay the same across the deck and the HTML report), Excel-style number formats
as the deck prints them, and the chart-wide styling (the master's accents as theme colours, Latin + East Asian
faces, no chart title: the slide title carries the message)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_LEGEND_POSITION, XL_TICK_LABEL_POSITION
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.util import Pt

from ..i18n import number
from ..storyline import ChartSpec
from . import theme
from .fonts import set_ea, set_font

__all__ = ["GREEN", "GREY", "LIGHT", "LOW_BASE", "PALETTE", "RED", "SERIES_COLOURS", "TEXT", "WHITE", "column_format", "format_value", "nice_axis", "number_format", "series_colour"]

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
