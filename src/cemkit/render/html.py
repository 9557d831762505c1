"""Self-contained HTML report: the deck's storyline as sections, interactive ECharts, sortable tables.

The ECharts library (``cemkit/assets/echarts.min.js``, Apache-2.0) and the word-cloud extension
(``echarts-wordcloud.min.js``, ISC, only when a word cloud is drawn) are inlined, so the file opens from an
e-mail attachment with no network. Chart options are built with pyecharts (plain dicts where pyecharts adds
nothing) from the same labels, number formats and colours as the deck (:mod:`cemkit.render.style`), and
embedded as JSON with ``<``, ``>`` and ``&`` escaped; every text from client data goes through Jinja2's
autoescaping, so a verbatim containing ``<script>`` or ``{{ }}`` shows as text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pyecharts import options as opts
from pyecharts.charts import Bar, HeatMap, Line, WordCloud

from ..i18n import catalogue, label, number, t
from ..paths import ASSETS_DIR, templates_dir
from ..results import load_all
from ..storyline import ChartSpec, load_storyline, optional_text
from .blocks import quote_groups
from .charts import categories, point_colours, prepare_table
from .matrix import FIX, QUADRANTS, matrix_ranges
from .plan import deck_facts, footnote_text, plan_slides, summary_findings
from .style import LOW_BASE, PALETTE, SERIES_COLOURS, format_value, nice_axis, number_format, series_colour
from .summary import fill_findings, summary_results
from .tables import heat_grid, heat_text, significance_colours, table_cells

__all__ = ["ECHARTS", "build_html", "chart_options", "safe_json"]

FONT = '"Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif'


def safe_json(obj) -> str:
    """JSON for inlining in a <script>: '<', '>' and '&' escaped as unicode so no data can close the tag."""
    text = json.loads(obj) if isinstance(obj, str) else obj
    return (json.dumps(text, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _hex(key: str | None) -> str:
    return "#" + PALETTE[key or "light"]


def _decimals(fmt: str) -> int:
    core = fmt.replace('"%"', "").rstrip("%")
    return len(core.split(".")[1]) if "." in core else 0


def _num(v, fmt: str = "0.00"):
    """A chart value rounded as the number format shows it (None for missing)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    scale = 100 if fmt.endswith("%") and '"%"' not in fmt else 1
    d = _decimals(fmt)
    return round(float(v) * scale, d) if d else round(float(v) * scale)


def _suffix(fmt: str) -> str:
    return "%" if "%" in fmt else ""


def _init(height: int = 420) -> opts.InitOpts:
    return opts.InitOpts(width="100%", height=f"{height}px")


def _dump(chart) -> dict:
    """pyecharts options as a dict, with the chart's height (``_height``, px) for the page."""
    options = json.loads(chart.dump_options())
    options["_height"] = int(str(chart.height).rstrip("px"))
    return options


# ------------------------------------------------------------------------------------------------ charts
def _bar(df, spec, lang, meta):
    cats = categories(df, spec, lang)  # with intervals: the value in the label, as in the deck
    with_interval = len(spec.interval) == 2 and all(c in df for c in spec.interval) and len(spec.series) == 1
    chart = Bar(init_opts=_init(_bars_height(len(df)) if spec.horizontal else 420))
    chart.add_xaxis(cats)
    n = len(spec.series)
    show = spec.labels and not with_interval
    for i, col in enumerate(spec.series):
        fmt = number_format(spec, col)
        values = [_num(v, fmt) for v in df[col]]
        colour = _hex(series_colour(col, i, n)) if n > 1 else _hex("light")
        keys = point_colours(df, spec, [None if v is None else float(v) for v in values]) if n == 1 else [None] * len(df)
        # each label printed as the deck prints it ("5.0%" beside "4.8%", not ECharts' "5%")
        values = [opts.BarItem(name=c, value=v, itemstyle_opts=opts.ItemStyleOpts(color=_hex(k)) if k else None,
                               label_opts=opts.LabelOpts(is_show=show, position=_label_position(spec),
                                                         formatter=format_value(raw, fmt) if v is not None else ""))
                  for c, v, k, raw in zip(cats, values, keys, df[col])]
        name = label(spec.series_names[i] if i < len(spec.series_names) else col, lang)
        chart.add_yaxis(name, values, color=colour, itemstyle_opts=opts.ItemStyleOpts(color=colour),
                        label_opts=opts.LabelOpts(is_show=show, position=_label_position(spec)))
    cat_axis = opts.AxisOpts(type_="category", is_inverse=spec.horizontal,
                             axislabel_opts=opts.LabelOpts(interval=0, rotate=0 if spec.horizontal or len(df) <= 9 else 30))
    val_axis = opts.AxisOpts(type_="value", splitline_opts=opts.SplitLineOpts(is_show=False))
    if with_interval:  # the axis holds the interval lines (else they run off the plot)
        ends = [float(v) for c in (spec.series[0], *spec.interval) for v in df[c] if pd.notna(v)] + [0.0]
        lo, hi, _ = nice_axis(min(ends), max(ends))
        val_axis = opts.AxisOpts(type_="value", min_=lo, max_=hi, splitline_opts=opts.SplitLineOpts(is_show=False))
    if spec.horizontal:
        chart.reversal_axis()
    chart.set_global_opts(tooltip_opts=opts.TooltipOpts(trigger="axis"), legend_opts=opts.LegendOpts(is_show=n > 1),
                          xaxis_opts=val_axis if spec.horizontal else cat_axis,
                          yaxis_opts=cat_axis if spec.horizontal else val_axis)
    options = _dump(chart)
    if with_interval:
        options["series"][0]["markLine"] = _interval_lines(df, spec, cats)
    return options


def _bars_height(rows: int, per_row: int = 34) -> int:
    """Height (px) of a chart of horizontal bars: ``per_row`` a bar, narrower bars (down to 20 px) when that
    keeps the chart within a printed page (760 px of bars: an A4 page holds it with its title and
    footnote; beyond 38 bars the chart grows again)."""
    return max(320, min(rows * per_row, max(760, rows * 20)) + 80)


def _label_position(spec) -> str:
    """Value labels at the bar's end (with an interval the value is in the category label instead)."""
    return "right" if spec.horizontal else "top"


def _interval_lines(df, spec, cats) -> dict:
    """Each bar's interval as a short dark line from low to high (the deck's error bars): markLine segments
    between two coordinates, plain JSON (no JavaScript function)."""
    fmt = number_format(spec, spec.series[0])
    data = []
    for c, lo, hi in zip(cats, df[spec.interval[0]], df[spec.interval[1]]):
        a, b = _num(lo, fmt), _num(hi, fmt)
        if a is None or b is None:
            continue
        ends = ([a, c], [b, c]) if spec.horizontal else ([c, a], [c, b])
        data.append([{"coord": ends[0]}, {"coord": ends[1]}])
    return {"symbol": ["none", "none"], "silent": True, "label": {"show": False}, "animation": False,
            "lineStyle": {"color": _hex("dark"), "width": 1.5, "type": "solid"}, "data": data}


def _stacked100(df, spec, lang, meta):
    """Composition bars in % with the NPS at the end of each bar (as in the deck)."""
    with_nps = "nps" in df
    cats = categories(df, spec, lang, column="name" if with_nps and "name" in df else None)
    chart = Bar(init_opts=_init(_bars_height(len(df), 36) + 10))
    chart.add_xaxis(cats)
    names = []
    for i, col in enumerate(spec.series):
        name = label(spec.series_names[i] if i < len(spec.series_names) else col, lang)
        names.append(name)
        colour = _hex(SERIES_COLOURS.get(col, "grey"))
        chart.add_yaxis(name, [_num(v, "0") for v in df[col]], stack="nps", color=colour,
                        itemstyle_opts=opts.ItemStyleOpts(color=colour),
                        label_opts=opts.LabelOpts(position="inside", formatter="{c}%", color="#fff"))
    if with_nps:
        items = [opts.BarItem(name=c, value=16, label_opts=opts.LabelOpts(
            formatter="–" if v is None else f"NPS {number(v)}", position="insideLeft", font_weight="bold",
            color=_hex("text")))
            for c, v in zip(cats, (_num(v, "0") for v in df["nps"]))]
        chart.add_yaxis("NPS", items, stack="nps", color="rgba(0,0,0,0)", tooltip_opts=opts.TooltipOpts(is_show=False),
                        itemstyle_opts=opts.ItemStyleOpts(color="rgba(0,0,0,0)"))
    chart.reversal_axis()
    chart.set_global_opts(
        xaxis_opts=opts.AxisOpts(type_="value", max_=116 if with_nps else 100, is_show=False),
        yaxis_opts=opts.AxisOpts(type_="category", is_inverse=True), legend_opts=opts.LegendOpts(),
        tooltip_opts=opts.TooltipOpts(trigger="item", formatter="{a}: {c}%"))
    options = _dump(chart)
    options["legend"][0]["data"] = names
    return options


def _line(df, spec, lang, meta):
    """As in the deck: up to three waves → grouped bars per stage, the last wave in the accent; more waves →
    a line per stage, the highlighted one (the stage the title names) in the accent."""
    waves = list(dict.fromkeys(df[spec.category].astype(str)))
    wide = df.pivot_table(index=spec.category, columns=spec.label, values=spec.y, aggfunc="first", sort=False)
    if len(waves) <= 3:
        return _wave_bars(df, spec, wide, waves)
    marked = set(df.loc[df[spec.highlight].fillna(False).astype(bool), spec.label].astype(str)) \
        if spec.highlight and spec.highlight in df else set()
    chart = Line(init_opts=_init())
    chart.add_xaxis([str(c) for c in wide.index])
    for col in wide.columns:  # as in the deck: the stage the title names in the accent, the others grey
        colour = _hex("accent" if str(col) in marked else "light")
        style = {} if not marked else {
            "color": colour, "itemstyle_opts": opts.ItemStyleOpts(color=colour),
            "linestyle_opts": opts.LineStyleOpts(width=3 if str(col) in marked else 1.5, color=colour)}
        chart.add_yaxis(str(col), [_num(v, spec.number_format) for v in wide[col]],
                        label_opts=opts.LabelOpts(is_show=False), **style)
    # a plain legend wraps onto a second line: a scrolling one hid stages on paper (print to PDF)
    chart.set_global_opts(tooltip_opts=opts.TooltipOpts(trigger="axis"), legend_opts=opts.LegendOpts(pos_bottom=0))
    options = _dump(chart)
    options["grid"] = {"left": 50, "right": 90, "top": 30, "bottom": 34 + 24 * math.ceil(len(wide.columns) / 7)}
    for series in options["series"]:  # the stage the title names: its name at the end of its line
        if series["name"] in marked:
            series["endLabel"] = {"show": True, "formatter": "{a}", "color": _hex("accent"), "fontWeight": "bold"}
    return options


def _wave_bars(df, spec, wide, waves):
    stages = list(dict.fromkeys(df[spec.label]))
    last = df[df[spec.category].astype(str) == waves[-1]].set_index(spec.label)
    marks = last["marker"].reindex(stages).fillna("") if "marker" in last else pd.Series("", stages)
    chart = Bar(init_opts=_init())
    chart.add_xaxis([f"{s} {m}" if m else str(s) for s, m in zip(stages, marks)])
    wide = wide.reindex(columns=stages)
    for i, w in enumerate(waves):
        colour = _hex("accent" if i == len(waves) - 1 else ("light" if i == len(waves) - 2 else "faint"))
        values = [_num(v, spec.number_format) for v in wide.loc[w]] if w in wide.index else [None] * len(stages)
        chart.add_yaxis(w, values, color=colour, itemstyle_opts=opts.ItemStyleOpts(color=colour),
                        label_opts=opts.LabelOpts(is_show=spec.labels, position="top"))
    chart.set_global_opts(tooltip_opts=opts.TooltipOpts(trigger="axis"),
                          xaxis_opts=opts.AxisOpts(axislabel_opts=opts.LabelOpts(interval=0,
                                                                                 rotate=30 if len(stages) > 7 else 0)),
                          yaxis_opts=opts.AxisOpts(splitline_opts=opts.SplitLineOpts(is_show=False)))
    return _dump(chart)


def _scatter(df, spec, lang, meta):
    """Priority matrix: labelled points (labels pushed apart where they would overlap), dashed medians,
    quadrant names in the corners, the fix-first quadrant in red."""
    fmt = "0.0%" if "%" in spec.number_format else "0.00"
    xs = [_num(v, fmt) for v in df[spec.x]]
    ys = [_num(v, "0.00") for v in df[spec.y]]
    quad = df["quadrant"].tolist() if "quadrant" in df else [None] * len(df)
    names = df[spec.label].astype(str).tolist() if spec.label else [""] * len(df)
    points = [{"name": n, "value": [x, y], "itemStyle": {"color": _hex("red" if q == FIX else "accent")}}
              for n, x, y, q in zip(names, xs, ys, quad)]
    split = [{"xAxis": _num(meta.get("x_split", df[spec.x].median()), fmt)},
             {"yAxis": _num(meta.get("y_split", df[spec.y].median()), "0.00")}]
    labels = meta.get("quadrant_labels") or {}
    # padded, round axis bounds as in the deck: a point on the lowest value keeps its label inside the plot
    (x0, x1, _), (y0, y1, _) = matrix_ranges(df[spec.x].astype(float), df[spec.y].astype(float))
    corners = [("right", "bottom"), ("right", "top"), ("left", "bottom"), ("left", "top")]
    graphic = [{"type": "text", h: 60 if h == "right" else 70, v: 8,  # in the margins, clear of the points
                "style": {"text": str(labels.get(k, "")), "fontSize": 13, "fontWeight": "bold",
                          "fill": _hex("red" if k == FIX else "grey")}}
               for k, (h, v) in zip(QUADRANTS, corners)]
    return {
        "_height": 500, "grid": {"left": 70, "right": 60, "top": 40, "bottom": 64}, "graphic": graphic,
        "tooltip": {"trigger": "item", "formatter": "{b}: {c}"},
        "xAxis": {"type": "value", "min": _num(x0, fmt), "max": _num(x1, fmt), "name": meta.get("x_name", ""),
                  "nameLocation": "middle", "nameGap": 28, "axisLabel": {"formatter": "{value}" + _suffix(fmt)},
                  "splitLine": {"show": False}},
        "yAxis": {"type": "value", "min": _num(y0, "0.00"), "max": _num(y1, "0.00"), "name": meta.get("y_name", ""),
                  "nameLocation": "middle", "nameGap": 40, "splitLine": {"show": False}},
        "series": [{"type": "scatter", "symbolSize": 13, "data": points,
                    "label": {"show": True, "position": "right", "formatter": "{b}", "color": _hex("text")},
                    "labelLayout": {"moveOverlap": "shiftY", "hideOverlap": False},
                    "markLine": {"symbol": "none", "silent": True, "label": {"show": False},
                                 "lineStyle": {"type": "dashed", "color": _hex("grey")}, "data": split}}],
    }


def _heatmap(df, spec, lang, meta):
    """As in the deck: value with its base in each cell, blank structural zeros, a fixed 0–100 % colour scale,
    cells significantly above average in red."""
    rows, cols, cells = heat_grid(df, spec)
    data = []
    for (r, c), (value, base, flag, strong) in cells.items():
        item = {"value": [cols.index(c), rows.index(r), None if value is None else _num(value, "0.0")],
                "label": {"formatter": heat_text(value, base, spec.number_format)}}
        if strong:
            item["itemStyle"] = {"color": _hex("red")}
            item["label"]["color"] = "#fff"
        data.append(item)
    chart = HeatMap(init_opts=_init(max(320, 30 * len(rows) + 120)))
    chart.add_xaxis(cols)
    chart.add_yaxis("", rows, [], label_opts=opts.LabelOpts(is_show=True, position="inside"))
    chart.set_global_opts(visualmap_opts=opts.VisualMapOpts(min_=0, max_=100, is_show=False,
                                                            range_color=["#FFFFFF", "#D78780"]),
                          yaxis_opts=opts.AxisOpts(is_inverse=True),
                          xaxis_opts=opts.AxisOpts(position="top", axislabel_opts=opts.LabelOpts(interval=0)),
                          legend_opts=opts.LegendOpts(is_show=False))
    options = _dump(chart)
    options["series"][0]["data"] = data
    return options


def _wordcloud(df, spec, lang, meta):
    """Word cloud (columns ``word``, ``weight``): the heaviest three words in the accent, the rest grey."""
    words = df.sort_values("weight", ascending=False, kind="stable").head(80)
    chart = WordCloud(init_opts=_init())
    chart.add("", [(str(w), float(v)) for w, v in zip(words["word"], words["weight"])], word_size_range=[14, 64],
              shape="circle", rotate_step=90)
    options = _dump(chart)
    series = options["series"][0]
    series.pop("girdSize", None)  # pyecharts 2.1 misspells gridSize
    series.update(gridSize=10, rotationRange=[0, 0], textStyle={"fontFamily": FONT})
    for k, item in enumerate(series["data"]):
        item["textStyle"] = {"color": _hex("accent" if k < 3 else ("dark" if k < 10 else "grey"))}
    return options


ECHARTS: dict[str, Callable] = {"bar": _bar, "stacked100": _stacked100, "line": _line, "scatter": _scatter,
                                "heatmap": _heatmap, "wordcloud": _wordcloud}


def _chart(table: pd.DataFrame, spec: ChartSpec, lang: str, meta: dict | None) -> tuple[dict, int] | None:
    if spec.type not in ECHARTS:
        return None
    options = ECHARTS[spec.type](prepare_table(table, spec), spec, lang, meta or {})
    options.setdefault("textStyle", {"fontFamily": FONT})
    return options, int(options.pop("_height", 420))


def chart_options(table: pd.DataFrame, spec: ChartSpec, lang: str, meta: dict | None = None) -> dict | None:
    """ECharts option dict for a chart spec (None for table/quotes/bullets, which are HTML)."""
    drawn = _chart(table, spec, lang, meta)
    return drawn[0] if drawn else None


# ----------------------------------------------------------------------------------------------- blocks
def _table_block(df: pd.DataFrame, spec: ChartSpec, lang: str, meta: dict | None = None) -> dict:
    """Headers, cell texts (formatted as in the deck) and classes: numbers right-aligned, low bases greyed,
    ``colour_by`` values red/green."""
    cols, headers, body = table_cells(df, spec, lang)
    flags = df["flag"].tolist() if "flag" in df else ["ok"] * len(df)
    sig = significance_colours(df, meta)
    rows = []
    for i, texts in enumerate(body):
        cells = []
        for c, text in zip(cols, texts):
            v = df[c].iloc[i]
            numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            cls = "num" if numeric else ""
            if spec.colour_by == c and sig[i] and flags[i] != LOW_BASE:
                cls += " neg" if sig[i] == "red" else " pos"
            cells.append({"text": text, "cls": cls.strip()})
        rows.append({"cls": "low" if flags[i] == LOW_BASE else "", "cells": cells})
    return {"kind": "table", "headers": headers, "rows": rows}


def _block(item, spec, findings: list[str], base_facts: dict, lang: str) -> dict:
    block = {"id": f"b-{spec.id}", "title": item.title, "kind": "text", "footnote": "",
             "subtitle": optional_text(spec.subtitle, item.facts, lang),
             "takeaway": optional_text(spec.takeaway, item.facts, lang),
             "notes": optional_text(spec.notes, item.facts, lang)}
    if spec.result == "exec_summary" and spec.chart is None:
        block.update(kind="bullets", items=findings)
        return block
    if spec.chart is None or item.result is None:
        return block
    table, chart = item.result.table, spec.chart
    drawn = _chart(table, chart, lang, item.result.meta)
    if drawn is not None:
        block.update(kind="chart", chart_type=chart.type, height=drawn[1], options=safe_json(drawn[0]))
    elif chart.type == "table":
        block.update(_table_block(prepare_table(table, chart), chart, lang, item.result.meta))
    elif chart.type == "quotes":
        block.update(kind="quotes", groups=quote_groups(prepare_table(table, chart), chart))
    elif chart.type == "bullets":
        col = chart.label or table.columns[0]
        block.update(kind="bullets", items=table[col].astype(str).tolist())
    block["footnote"] = footnote_text(item.result.meta, base_facts, lang)
    return block


def _sections(planned, findings: list[str], base_facts: dict, lang: str) -> list[dict]:
    """Section dividers open a section; the slides after them are its blocks."""
    sections: list[dict] = []
    for item in planned:
        spec = item.spec
        if spec.layout == "title":
            continue
        if spec.layout == "section" or not sections:
            sections.append({"id": f"s-{spec.id}", "title": item.title, "blocks": [],
                             # a section opened by a content slide: its subtitle shows once, in the block
                             "subtitle": optional_text(spec.subtitle, item.facts, lang) if spec.layout == "section" else ""})
            if spec.layout == "section":
                continue
        block = _block(item, spec, findings, base_facts, lang)
        block["show_title"] = block["title"] != sections[-1]["title"]
        sections[-1]["blocks"].append(block)
    return sections


def _wave_label(base_facts: dict, lang: str) -> str:
    """The page header's wave: the reporting wave (with its comparison), or the pooled period."""
    wave = base_facts.get("wave")
    if isinstance(wave, dict):
        return str(wave.get(lang) or "")
    if wave and base_facts.get("compare_wave"):
        return t("footnote_wave_compare", lang, wave=wave, compare=base_facts["compare_wave"])
    return t("footnote_wave", lang, wave=wave) if wave else str(base_facts.get("period", ""))


def build_html(run_dir: str | Path, pack, out_path: str | Path, *, lang: str = "zh", client: str = "",
               base_facts: dict | None = None) -> dict:
    """Write the self-contained HTML report. Returns a summary (sections, charts)."""
    results = load_all(run_dir)
    results.update(summary_results(results))
    base_facts = deck_facts(pack, lang, client, base_facts)
    client = base_facts["client"]
    planned = plan_slides(load_storyline(pack), results, base_facts, lang)
    findings = summary_findings(planned, base_facts, lang)
    fill_findings(planned, findings)
    sections = _sections(planned, findings, base_facts, lang)
    kinds = [b.get("chart_type") for s in sections for b in s["blocks"] if b["kind"] == "chart"]
    env = Environment(loader=FileSystemLoader(str(templates_dir())), autoescape=select_autoescape(["html", "j2"]))
    title = next((p.title for p in planned if p.spec.layout == "title"), t("report_title", lang))
    html = env.get_template("report.html.j2").render(
        lang="zh-CN" if lang == "zh" else "en", title=title, client=client, sections=sections,
        echarts_js=(ASSETS_DIR / "echarts.min.js").read_text(encoding="utf-8"),
        wordcloud_js=(ASSETS_DIR / "echarts-wordcloud.min.js").read_text(encoding="utf-8")
        if "wordcloud" in kinds else "",
        synthetic=t("synthetic_banner", lang) if base_facts.get("synthetic") else "",
        confidential=t("confidential", lang, client=client) if client else t("confidential_no_client", lang),
        generated=t("generated_on", lang, date=base_facts.get("date", "")), contents=t("contents", lang),
        period=_wave_label(base_facts, lang), no_data=catalogue(lang)["no_data"],
        meta_line=("｜" if lang == "zh" else " | ").join(
            x for x in (client, _wave_label(base_facts, lang), t("generated_on", lang, date=base_facts.get("date", "")))
            if x),
        how_to_read=t("how_to_read", lang),
    )
    Path(out_path).write_text(html, encoding="utf-8")
    return {"sections": len(sections), "charts": len(kinds)}
