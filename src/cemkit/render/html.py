"""Self-contained HTML report: the deck's storyline as sections, interactive ECharts, sortable tables.

The ECharts library (``cemkit/assets/echarts.min.js``, Apache-2.0) is inlined, so the file opens from an
e-mail attachment with no network. Chart options are built with pyecharts and embedded as JSON with ``<``,
``>`` and ``&`` escaped; every text from client data goes through Jinja2's autoescaping, so a verbatim
containing ``<script>`` or ``{{ }}`` shows as text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pyecharts import options as opts
from pyecharts.charts import Bar, HeatMap, Line, Scatter

from ..i18n import catalogue, label, t
from ..paths import ASSETS_DIR, templates_dir
from ..results import load_all
from ..storyline import ChartSpec, load_storyline
from .charts import prepare_table
from .pptx import footnote_text, plan_slides

__all__ = ["build_html", "chart_options", "safe_json"]

ACCENT, LIGHT, RED, GREY, GREEN = "#1F5FAD", "#BFC5CC", "#C0392B", "#A6A6A6", "#2E8B57"


def safe_json(obj) -> str:
    """JSON for inlining in a <script>: '<', '>' and '&' escaped as unicode so no data can close the tag."""
    text = json.loads(obj) if isinstance(obj, str) else obj
    return (json.dumps(text, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _num(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), 2)


def _cats(df: pd.DataFrame, spec: ChartSpec) -> list[str]:
    cats = df[spec.category].astype(str)
    if spec.marker and spec.marker in df:
        cats = cats + df[spec.marker].fillna("").astype(str).map(lambda m: f" {m}" if m else "")
    return cats.tolist()


def _bar(df, spec, lang, meta):
    chart = Bar(init_opts=opts.InitOpts(width="100%", height="420px"))
    chart.add_xaxis(_cats(df, spec))
    for i, col in enumerate(spec.series):
        name = label(spec.series_names[i] if i < len(spec.series_names) else col, lang)
        values = [_num(v) for v in df[col]]
        if len(spec.series) == 1:
            hl = df[spec.highlight].fillna(False).astype(bool).tolist() if spec.highlight in df else [False] * len(df)
            values = [opts.BarItem(name=c, value=v, itemstyle_opts=opts.ItemStyleOpts(color=ACCENT if h else LIGHT))
                      for c, v, h in zip(_cats(df, spec), values, hl)]
        chart.add_yaxis(name, values, label_opts=opts.LabelOpts(is_show=spec.labels, position="right" if spec.horizontal else "top"))
    if spec.horizontal:
        chart.reversal_axis()
        chart.set_global_opts(yaxis_opts=opts.AxisOpts(is_inverse=True))
    chart.set_global_opts(tooltip_opts=opts.TooltipOpts(trigger="axis"),
                          legend_opts=opts.LegendOpts(is_show=len(spec.series) > 1),
                          yaxis_opts=opts.AxisOpts(is_inverse=spec.horizontal, type_="category" if spec.horizontal else "value"),
                          xaxis_opts=opts.AxisOpts(type_="value" if spec.horizontal else "category",
                                                   axislabel_opts=opts.LabelOpts(interval=0, rotate=0 if spec.horizontal or len(df) <= 8 else 30)))
    return chart


def _stacked100(df, spec, lang, meta):
    chart = Bar(init_opts=opts.InitOpts(width="100%", height="420px"))
    chart.add_xaxis(_cats(df, spec))
    colours = [RED, GREY, GREEN]
    for i, col in enumerate(spec.series):
        name = label(spec.series_names[i] if i < len(spec.series_names) else col, lang)
        chart.add_yaxis(name, [_num(v) for v in df[col]], stack="nps", color=colours[i % 3],
                        label_opts=opts.LabelOpts(is_show=True, position="inside", formatter="{c}%", color="#fff"))
    chart.reversal_axis()
    chart.set_global_opts(xaxis_opts=opts.AxisOpts(max_=100, type_="value"),
                          yaxis_opts=opts.AxisOpts(is_inverse=True, type_="category"),
                          tooltip_opts=opts.TooltipOpts(trigger="axis"))
    return chart


def _line(df, spec, lang, meta):
    wide = df.pivot_table(index=spec.category, columns=spec.label, values=spec.y, aggfunc="first", sort=False)
    chart = Line(init_opts=opts.InitOpts(width="100%", height="420px"))
    chart.add_xaxis([str(c) for c in wide.index])
    for col in wide.columns:
        chart.add_yaxis(str(col), [_num(v) for v in wide[col]], label_opts=opts.LabelOpts(is_show=False))
    chart.set_global_opts(tooltip_opts=opts.TooltipOpts(trigger="axis"), legend_opts=opts.LegendOpts(type_="scroll"))
    return chart


def _scatter(df, spec, lang, meta):
    chart = Scatter(init_opts=opts.InitOpts(width="100%", height="480px"))
    xs = [_num(v) for v in df[spec.x]]
    labels = df[spec.label].astype(str).tolist() if spec.label else [""] * len(df)
    quad = df["quadrant"].tolist() if "quadrant" in df else [None] * len(df)
    chart.add_xaxis(xs)
    points = [opts.ScatterItem(name=lab, value=[x, _num(y)], symbol_size=12,
                               itemstyle_opts=opts.ItemStyleOpts(color=RED if q == "high_importance_low_performance" else ACCENT))
              for lab, x, y, q in zip(labels, xs, df[spec.y], quad)]
    chart.add_yaxis("", points, label_opts=opts.LabelOpts(is_show=True, position="right", formatter="{b}"),
                    markline_opts=opts.MarkLineOpts(
                        symbol="none", linestyle_opts=opts.LineStyleOpts(type_="dashed", color=GREY),
                        data=[opts.MarkLineItem(x=_num(meta.get("x_split"))), opts.MarkLineItem(y=_num(meta.get("y_split")))]))
    chart.set_global_opts(xaxis_opts=opts.AxisOpts(type_="value", name=meta.get("x_name", ""), is_scale=True),
                          yaxis_opts=opts.AxisOpts(type_="value", name=meta.get("y_name", ""), is_scale=True),
                          tooltip_opts=opts.TooltipOpts(formatter="{b}: {c}"), legend_opts=opts.LegendOpts(is_show=False))
    return chart


def _heatmap(df, spec, lang, meta):
    cols = list(spec.columns or [c for c in df.columns if c != spec.category])
    rows = df[spec.category].astype(str).tolist()
    data = [[j, i, _num(df[c].iloc[i])] for i in range(len(df)) for j, c in enumerate(cols)]
    vals = [d[2] for d in data if d[2] is not None] or [0]
    chart = HeatMap(init_opts=opts.InitOpts(width="100%", height=f"{max(320, 28 * len(rows) + 120)}px"))
    headers = [label(h, lang) for h in spec.headers[1:]] if spec.headers else cols
    chart.add_xaxis(headers)
    chart.add_yaxis("", rows, data, label_opts=opts.LabelOpts(is_show=True, position="inside"))
    chart.set_global_opts(visualmap_opts=opts.VisualMapOpts(min_=0, max_=max(vals), is_show=False,
                                                            range_color=["#FFFFFF", "#F4B6AE", RED]),
                          xaxis_opts=opts.AxisOpts(axislabel_opts=opts.LabelOpts(interval=0, rotate=30)))
    return chart


ECHARTS: dict[str, Callable] = {"bar": _bar, "stacked100": _stacked100, "line": _line, "scatter": _scatter,
                                "heatmap": _heatmap}


def chart_options(table: pd.DataFrame, spec: ChartSpec, lang: str, meta: dict | None = None) -> dict | None:
    """ECharts option dict for a chart spec (None for table/quotes/bullets, which are HTML)."""
    if spec.type not in ECHARTS:
        return None
    df = prepare_table(table, spec)
    return json.loads(ECHARTS[spec.type](df, spec, lang, meta or {}).dump_options())


def _table_rows(df: pd.DataFrame, spec: ChartSpec, lang: str) -> tuple[list[str], list[list]]:
    cols = list(spec.columns or df.columns)
    headers = [label(h, lang) for h in (spec.headers or cols)]
    rows = []
    for rec in df[cols].itertuples(index=False):
        row = []
        for v in rec:
            if isinstance(v, (float, np.floating)):
                row.append("–" if math.isnan(v) else (f"{v:,.1f}" if spec.number_format == "0.0" else f"{v:,.0f}"))
            elif isinstance(v, (int, np.integer)):
                row.append(f"{int(v):,}")
            else:
                row.append("" if v is None else str(v))
        rows.append(row)
    return headers, rows


def build_html(run_dir: str | Path, pack, out_path: str | Path, *, lang: str = "zh", client: str = "",
               base_facts: dict | None = None) -> dict:
    """Write the self-contained HTML report. Returns a summary (sections, charts)."""
    results = load_all(run_dir)
    slides = load_storyline(pack)
    base_facts = {"client": client, "pack_name": pack.name.get(lang), **(base_facts or {})}
    planned = plan_slides(slides, results, base_facts, lang)
    findings = [p.title for p in planned if p.spec.summary and p.title][:5]
    sections, n_charts = [], 0
    current = None
    for k, item in enumerate(planned):
        spec = item.spec
        if spec.layout == "title":
            continue
        if spec.layout == "section":
            current = {"id": f"s{k}", "title": item.title, "subtitle": "", "blocks": []}
            sections.append(current)
            continue
        if current is None:
            current = {"id": f"s{k}", "title": item.title, "subtitle": "", "blocks": []}
            sections.append(current)
        block = {"id": f"b{k}", "title": item.title, "kind": "text", "footnote": "", "takeaway": ""}
        from ..storyline import pick_text

        block["subtitle"] = pick_text(spec.subtitle, item.facts, lang)
        block["takeaway"] = pick_text(spec.takeaway, item.facts, lang)
        if spec.result == "exec_summary":
            block.update(kind="bullets", items=findings)
        elif spec.chart is not None and item.result is not None:
            table = item.result.table
            options = chart_options(table, spec.chart, lang, item.result.meta)
            if options is not None:
                block.update(kind="chart", options=safe_json(options))
                n_charts += 1
            elif spec.chart.type == "table":
                headers, rows = _table_rows(prepare_table(table, spec.chart), spec.chart, lang)
                block.update(kind="table", headers=headers, rows=rows)
            elif spec.chart.type == "quotes":
                df = prepare_table(table, spec.chart).head(8)
                block.update(kind="quotes", items=[{"theme": r.get(spec.chart.label or "theme_name", ""),
                                                     "quote": r.get(spec.chart.y or "quote", ""),
                                                     "neg": (r.get("polarity") or 0) < 0}
                                                    for r in df.to_dict("records")])
            elif spec.chart.type == "bullets":
                col = spec.chart.label or table.columns[0]
                block.update(kind="bullets", items=table[col].astype(str).tolist())
            block["footnote"] = footnote_text(item.result.meta, base_facts, lang)
        current["blocks"].append(block)

    env = Environment(loader=FileSystemLoader(str(templates_dir())), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    title = next((p.title for p in planned if p.spec.layout == "title"), t("report_title", lang))
    html = template.render(
        lang="zh-CN" if lang == "zh" else "en", title=title, client=client, sections=sections,
        echarts_js=(ASSETS_DIR / "echarts.min.js").read_text(encoding="utf-8"),
        synthetic=t("synthetic_banner", lang) if base_facts.get("synthetic") else "",
        confidential=t("confidential", lang, client=client or pack.name.get(lang)),
        generated=t("generated_on", lang, date=base_facts.get("date", "")), contents=t("contents", lang),
        period=base_facts.get("period", ""),
    )
    Path(out_path).write_text(html, encoding="utf-8")
    return {"sections": len(sections), "charts": n_charts}
