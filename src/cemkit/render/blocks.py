"""Text blocks of the deck: quote cards grouped by theme and numbered findings.

A quote card is one theme: its name (red for complaints, green for praise), a line with the theme's numbers
(negative share among its mentions, NPS gap of its mentioners) and two or three verbatims, each followed by
who said it (stage, score, unit). Verbatims are masked upstream (ingest); nothing here adds client text
other than what the result table holds.
"""

from __future__ import annotations

import pandas as pd
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Pt

from ..storyline import ChartSpec
from .fonts import set_font, text_width_em
from .style import GREEN, GREY, RED, TEXT

__all__ = ["draw_bullets", "draw_quotes", "quote_groups"]

CARD_FILL = RGBColor(0xF3, 0xF4, 0xF6)


def quote_groups(df: pd.DataFrame, spec: ChartSpec, max_groups: int = 3, per_group: int = 3) -> list[dict]:
    """Quotes grouped by theme in table order: ``[{"theme", "header", "negative", "quotes": [(text, source)]}]``.
    Shared with the HTML report."""
    label, text = spec.label or "theme_name", spec.y or "quote"
    groups: dict[str, dict] = {}
    for r in df.to_dict("records"):
        key = str(r.get(label, ""))
        pol = r.get("polarity") or 0
        g = groups.setdefault(key, {"theme": key, "header": str(r.get("header") or ""), "negative": pol < 0,
                                    "neutral": pol == 0, "quotes": []})
        if len(g["quotes"]) < per_group:
            g["quotes"].append((str(r.get(text, "")), str(r.get("source") or "")))
    return list(groups.values())[:max_groups]


def draw_quotes(slide, box, df, spec: ChartSpec, lang: str, meta: dict | None = None):
    """One card per theme (up to three side by side): theme name, its numbers, then each quote with its
    source line. Card height follows the text, so a card is never three-quarters empty."""
    left, top, width, height = box
    groups = quote_groups(df, spec)
    if not groups:
        return []
    gap = 150000
    w = (width - gap * (len(groups) - 1)) // len(groups)
    inner_pt = (w - 2 * 120000) / 12700
    # the largest type (up to 1.7×) at which the fullest card still fits: cards fill the slide, never overflow
    scale = 1.0
    for scale in (1.7, 1.55, 1.4, 1.25, 1.1, 1.0):
        if max(_card_height_pt(g, inner_pt, scale) for g in groups) + 24 <= height / 12700:
            break
    need = max(_card_height_pt(g, inner_pt, scale) for g in groups)
    h = min(height, Emu(int((need + 24) * 12700)))
    shapes = []
    k = scale
    for i, g in enumerate(groups):
        shp = slide.shapes.add_shape(1, left + i * (w + gap), top, w, h)
        shp.name = f"Quote card {i + 1}"
        shp.fill.solid()
        shp.fill.fore_color.rgb = CARD_FILL
        shp.line.fill.background()
        shp.shadow.inherit = False
        tf = shp.text_frame
        tf.word_wrap = True
        tf.vertical_anchor = MSO_ANCHOR.TOP
        tf.margin_left = tf.margin_right = Emu(120000)
        tf.margin_top = Emu(100000)
        _para(tf.paragraphs[0], g["theme"], 14 * k, bold=True,
              color=TEXT if g.get("neutral") else RED if g["negative"] else GREEN)
        if g["header"]:
            _para(tf.add_paragraph(), g["header"], 10 * k, color=GREY)
        for quote, source in g["quotes"]:
            p = tf.add_paragraph()
            p.space_before = Pt(10 * k)
            _para(p, f"“{quote}”", 12 * k, color=TEXT)
            if source:
                _para(tf.add_paragraph(), f"—— {source}", 9 * k, color=GREY)
        shapes.append(shp)
    return shapes


def _lines(text: str, size: float, width_pt: float) -> int:
    """Lines ``text`` takes at ``size`` pt in ``width_pt``; renderers break lines at word and punctuation
    boundaries, so only 85% of the width is counted as usable (a card never lets its last quote overflow)."""
    return max(1, -(-int(text_width_em(text) * size) // max(1, int(width_pt * 0.85))))


def _card_height_pt(g: dict, width_pt: float, k: float = 1.0) -> float:
    """Height (pt) of a card's text at ``k`` times the base type sizes (14 / 10 / 12 / 9 pt)."""
    def block(text: str, size: float) -> float:
        return _lines(text, size * k, width_pt) * size * k * 1.35

    h = block(g["theme"], 14) + (block(g["header"], 10) if g["header"] else 0)
    for quote, source in g["quotes"]:
        h += 10 * k + block(f"“{quote}”", 12) + (block(f"—— {source}", 9) if source else 0)
    return h


def _para(p, text: str, size: float, bold: bool = False, color=None) -> None:
    p.text = text
    p.alignment = PP_ALIGN.LEFT
    set_font(p.runs[0].font, size=Pt(size), bold=bold, color=color)


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
