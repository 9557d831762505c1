"""The priority matrix (importance × performance) as a native XY chart: median lines, quadrant names in the
corners, every point labelled with the attribute's short name and the labels placed so they do not overlap
(numbered with a key beside the chart when they cannot fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pptx.chart.data import XyChartData
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_MARKER_STYLE
from pptx.util import Pt

from ..i18n import catalogue
from ..storyline import ChartSpec
from .fonts import set_font, text_width_em
from .style import GREY, LIGHT, RED, TEXT, _fill, _style_chart, nice_axis

__all__ = ["draw_scatter", "matrix_ranges", "place_labels"]


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
