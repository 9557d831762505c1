"""Build the PPTX deck from a run folder's results, the pack's storyline and a master template.

Each storyline slide becomes a slide on the master layout of the same name; charts are native (see
:mod:`cemkit.render.charts`). Every data slide gets a footnote (base, period, weighting, test, low-base rule),
speaker notes, the confidentiality line and a slide number. The executive summary lists the titles of the
slides the storyline marks ``summary: true`` (the findings, each one sentence with its number).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.util import Emu, Pt

from ..errors import PackError, Problem
from ..i18n import t
from ..paths import templates_dir
from ..results import Result, load_all
from ..storyline import LAYOUTS, SlideSpec, condition_holds, load_storyline, pick_text
from . import charts
from .fonts import set_font

__all__ = ["build_deck", "open_template", "fit_title_size", "plan_slides", "PlannedSlide", "footnote_text"]

GREY = RGBColor(0x80, 0x80, 0x80)
TITLE_PT, TITLE_MIN_PT = 24, 16


def open_template(path: str | Path | None = None):
    """Open a master .pptx and check it has every layout cemkit needs (by name)."""
    path = Path(path) if path else templates_dir() / "default.pptx"
    if not path.exists():
        raise PackError([Problem(path, "", "template file not found")])
    prs = Presentation(str(path))
    names = {layout.name for layout in prs.slide_layouts}
    missing = [name for name in LAYOUTS if name not in names]
    if missing:
        raise PackError([Problem(path.name, "layouts",
                                 f"template has no layout named {m!r} (it has: {', '.join(sorted(names))}); "
                                 f"see docs/templates.md") for m in missing])
    for layout in prs.slide_layouts:
        if layout.name in LAYOUTS and not any(ph.placeholder_format.idx == 0 for ph in layout.placeholders):
            raise PackError([Problem(path.name, f"layouts.{layout.name}", "layout has no title placeholder")])
    # drop sample slides a client master may carry
    sldIdLst = prs.slides._sldIdLst
    for sldId in list(sldIdLst):
        prs.part.drop_rel(sldId.rId)
        sldIdLst.remove(sldId)
    return prs


def text_width_em(text: str) -> float:
    """Width of a text in ems: CJK and full-width characters count 1, others about 0.55."""
    return sum(1.0 if ord(ch) > 0x2E80 else 0.55 for ch in text)


def fit_title_size(text: str, box_width_emu: int, max_lines: int = 2, max_pt: int = TITLE_PT,
                   min_pt: int = TITLE_MIN_PT) -> int:
    """Largest font size (pt) at which ``text`` fits in ``max_lines`` lines of the box (never below min_pt)."""
    width_pt = box_width_emu / 12700 * 0.96  # inner width after insets
    em = text_width_em(text)
    for size in range(max_pt, min_pt - 1, -1):
        if em * size <= width_pt * max_lines:
            return size
    return min_pt


@dataclass
class PlannedSlide:
    spec: SlideSpec
    result: Result | None
    facts: dict[str, Any]
    title: str


def plan_slides(slides: list[SlideSpec], results: dict[str, Result], base_facts: dict, lang: str) -> list[PlannedSlide]:
    """Which slides appear (result present, ``require`` holds) and their titles."""
    planned = []
    for spec in slides:
        result = results.get(spec.result) if spec.result else None
        if spec.result and spec.result != "exec_summary" and (result is None or result.meta.get("skipped")):
            continue
        facts = {**base_facts, **(result.facts if result else {})}
        if not condition_holds(spec.require, facts):
            continue
        try:
            title = pick_text(spec.title, facts, lang)
        except (KeyError, ValueError) as exc:
            raise PackError([Problem("storyline.yaml", f"slides.{spec.id}.title",
                                     f"title needs fact {exc} that result {spec.result!r} does not provide",
                                     spec.line)]) from None
        planned.append(PlannedSlide(spec, result, facts, title))
    return planned


def footnote_text(meta: dict, base_facts: dict, lang: str) -> str:
    """「基数：n=1,234（加权有效样本 n=1,050）｜时间：…｜显著性：95%，Holm 校正｜低基数(<30)不显示」"""
    parts = []
    base = meta.get("base") or {}
    if base.get("n") is not None:
        s = t("footnote_base", lang, n=f"{int(base['n']):,}")
        if base.get("n_eff") is not None and abs(float(base["n_eff"]) - float(base["n"])) >= 1:
            s += t("footnote_neff", lang, n_eff=f"{float(base['n_eff']):,.0f}")
        parts.append(s)
    if base_facts.get("period"):
        parts.append(t("footnote_period", lang, period=base_facts["period"]))
    if meta.get("weighting"):
        parts.append(t("footnote_weighting", lang, weighting=meta["weighting"]))
    if meta.get("test"):
        parts.append(meta["test"] if isinstance(meta["test"], str) else meta["test"].get(lang, ""))
    if meta.get("significance"):
        sig = meta["significance"]
        parts.append(t("footnote_sig", lang, level=f"{(1 - float(sig['alpha'])) * 100:.0f}",
                       correction=t(f"correction_{sig['correction']}", lang)))
    if meta.get("base_rule"):
        parts.append(t("footnote_lowbase", lang, suppress=meta["base_rule"]["suppress_below"],
                       caution=meta["base_rule"]["caution_below"]))
    if meta.get("source"):
        parts.append(str(meta["source"]))
    if base_facts.get("synthetic"):
        parts.append(t("synthetic_banner", lang))
    return "｜".join(parts) if lang == "zh" else " | ".join(parts)


def _placeholder(slide, idx: int):
    for ph in slide.placeholders:
        if ph.placeholder_format.idx == idx:
            return ph
    return None


def _box(ph, slide_w: int, slide_h: int):
    if ph is None:
        return (Emu(457200), Emu(1250000), Emu(slide_w - 914400), Emu(slide_h - 2200000))
    return (ph.left, ph.top, ph.width, ph.height)


def _remove(shape) -> None:
    el = shape.element
    el.getparent().remove(el)


def _set_text(shape, text: str, size: int | None = None, bold: bool | None = None, color=None) -> None:
    tf = shape.text_frame
    tf.text = text
    tf.word_wrap = True
    for p in tf.paragraphs:
        for r in p.runs:
            set_font(r.font, size=Pt(size) if size else None, bold=bold, color=color)


def _textbox(slide, box, text: str, size: int, color=GREY, align=PP_ALIGN.LEFT) -> None:
    tb = slide.shapes.add_textbox(*box)
    tf = tb.text_frame
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    tf.vertical_anchor = MSO_ANCHOR.BOTTOM
    tf.margin_left = tf.margin_right = Emu(0)
    p = tf.paragraphs[0]
    p.text = text
    p.alignment = align
    set_font(p.runs[0].font, size=Pt(size), color=color)


def build_deck(run_dir: str | Path, pack, out_path: str | Path, *, lang: str = "zh", client: str = "",
               template: str | Path | None = None, base_facts: dict | None = None) -> dict:
    """Write the deck to ``out_path`` and return a summary (slides, charts, tables)."""
    results = load_all(run_dir)
    slides = load_storyline(pack)
    prs = open_template(template)
    layouts = {layout.name: layout for layout in prs.slide_layouts}
    W, H = prs.slide_width, prs.slide_height
    base_facts = {"client": client, "pack_name": pack.name.get(lang), "date": dt.date.today().isoformat(),
                  **(base_facts or {})}
    planned = plan_slides(slides, results, base_facts, lang)
    findings = [p.title for p in planned if p.spec.summary and p.title][:5]
    summary = {"slides": 0, "charts": 0, "tables": 0, "ids": []}

    for n, item in enumerate(planned, start=1):
        spec, result, facts = item.spec, item.result, item.facts
        slide = prs.slides.add_slide(layouts[spec.layout])
        title_ph = _placeholder(slide, 0)
        size = fit_title_size(item.title, title_ph.width) if spec.layout not in ("title", "section") else None
        _set_text(title_ph, item.title, size=size)
        body = _placeholder(slide, 1)
        sub = pick_text(spec.subtitle, facts, lang)
        if spec.layout in ("title", "section"):
            if body is not None:
                _set_text(body, sub, size=16 if spec.layout == "section" else 18)
        elif spec.result == "exec_summary":
            table = pd.DataFrame({"finding": findings})
            box = _box(body, W, H)
            if body is not None:
                _remove(body)
            charts.draw_bullets(slide, box, table, spec.chart or charts.ChartSpec(type="bullets", label="finding"), lang)
        elif spec.chart is not None and result is not None:
            box = _box(body, W, H)
            if sub:  # a subtitle line takes the top of the content area
                top_box = (box[0], box[1], box[2], Emu(380000))
                _textbox(slide, top_box, sub, 13, color=RGBColor(0x40, 0x40, 0x40))
                box = (box[0], box[1] + Emu(420000), box[2], box[3] - Emu(420000))
            takeaway = pick_text(spec.takeaway, facts, lang)
            if takeaway:
                box = (box[0], box[1], int(box[2] * 0.72), box[3])
                tk = slide.shapes.add_shape(1, box[0] + box[2] + Emu(150000), box[1],
                                            int(W - box[0] * 2 - box[2] - 150000), Emu(1600000))
                tk.fill.solid()
                tk.fill.fore_color.rgb = RGBColor(0xF3, 0xF4, 0xF6)
                tk.line.fill.background()
                _set_text(tk, takeaway, size=13, color=RGBColor(0x33, 0x33, 0x33))
            if body is not None:
                _remove(body)
            charts.draw(slide, box, result.table, spec.chart, lang, result.meta)
            key = "tables" if spec.chart.type in ("table", "heatmap") else "charts"
            summary[key] += 1
        elif body is not None:
            _remove(body)
        for ph in list(slide.placeholders):  # no empty placeholder left on a slide
            if ph.placeholder_format.idx != 0 and not (ph.has_text_frame and ph.text_frame.text.strip()):
                _remove(ph)
        if result is not None and spec.layout not in ("title", "section"):
            note = footnote_text(result.meta, base_facts, lang)
            if note:
                _textbox(slide, (Emu(457200), H - Emu(800000), W - Emu(914400), Emu(380000)), note, 9)
        footer = t("confidential", lang, client=client or pack.name.get(lang))
        _textbox(slide, (Emu(457200), H - Emu(380000), W - Emu(2000000), Emu(260000)), footer, 8)
        _textbox(slide, (W - Emu(1457200), H - Emu(380000), Emu(1000000), Emu(260000)), str(n), 8,
                 align=PP_ALIGN.RIGHT)
        notes = pick_text(spec.notes, facts, lang)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        summary["slides"] += 1
        summary["ids"].append(spec.id)
    prs.save(str(out_path))
    return summary
