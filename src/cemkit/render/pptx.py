"""Build the PPTX deck from a run folder's results, the pack's storyline and a master template.

Each storyline slide becomes a slide on the master layout chosen for its role (:mod:`cemkit.render.layouts`:
any master, its layouts' names in any language), drawn in the content box computed for that layout with the
master's fonts and colours (:mod:`cemkit.render.theme`); charts are native (see :mod:`cemkit.render.charts`). Every data slide gets a footnote (base, period, weighting, test, low-base rule),
speaker notes, the confidentiality line and a slide number. The executive summary lists the titles of the
slides the storyline marks ``summary: true`` (the findings, each one sentence with its number). A table too
long for one slide continues on the next ones (same title, "continued 2/3").
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from ..errors import PackError, Problem
from ..i18n import t
from ..paths import templates_dir
from ..results import load_all
from ..storyline import (
    ChartSpec,
    SlideSpec,
    load_storyline,
    optional_text,
)
from . import charts, tables, theme
from .fonts import set_ea, set_font, text_width_em
from .layouts import TEXT_ROLES, MasterMap, Placement, hints_from_slides, map_roles, overrides_path
from .masters import KINDS, placeholder_pt
from .plan import PlannedSlide, deck_facts, footnote_text, plan_slides, summary_findings
from .summary import fill_findings, summary_results
from .tags import DECK_TAG, NOTES_TAG, PAGE_TAG, SLIDE_TAG, set_slide_tags, tag_shape

__all__ = [
    "build_deck",
    "fit_title_size",
    "open_master",
    "open_template",
    "text_width_em",
    "title_lines",
]

GREY = RGBColor(0x80, 0x80, 0x80)
DARK = RGBColor(0x40, 0x40, 0x40)
TITLE_PT, TITLE_MIN_PT = 24, 16
GAP = 80000
TEMPLATE_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"
SLIDESHOW_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml"
PRESENTATION_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
SLIDENUM_FIELD = "{B6F15528-21DE-4FAA-801E-634DDDAF4B2B}"


def _read_presentation(path: Path):
    """python-pptx opens .pptx only: a .potx / .ppsx master is read with its main part's content type
    renamed (the parts are the same)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                types = zf.read("[Content_Types].xml")
                if TEMPLATE_TYPE.encode() in types or SLIDESHOW_TYPE.encode() in types:
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
                        for item in zf.infolist():
                            data = zf.read(item.filename)
                            if item.filename == "[Content_Types].xml":
                                data = data.replace(TEMPLATE_TYPE.encode(), PRESENTATION_TYPE.encode()).replace(
                                    SLIDESHOW_TYPE.encode(), PRESENTATION_TYPE.encode())
                            out.writestr(item, data)
                    buf.seek(0)
                    return Presentation(buf)
        return Presentation(str(path))
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix, not a bug
        raise PackError([Problem(path.name, "", f"not a PowerPoint master cemkit can read "
                                 f"({type(exc).__name__}: {str(exc)[:80]}); save it from PowerPoint as .pptx "
                                 "or .potx")]) from None


def open_master(path: str | Path | None = None) -> tuple[Any, MasterMap, theme.Look]:
    """Open a master (.pptx / .potx), drop its sample slides, choose a layout for every slide role (the YAML
    beside it, ``NAME.layouts.yaml``, fixes choices) and read its look."""
    path = Path(path) if path else templates_dir() / "default.pptx"
    if not path.exists():
        raise PackError([Problem(path, "", "template file not found")])
    if path.is_dir():
        raise PackError([Problem(path, "", "the template is a folder, not a .pptx or .potx file")])
    prs = _read_presentation(path)
    hints = hints_from_slides(prs)
    sldIdLst = prs.slides._sldIdLst  # drop sample slides a client master may carry
    for sldId in list(sldIdLst):
        prs.part.drop_rel(sldId.rId)
        sldIdLst.remove(sldId)
    sidecar = overrides_path(path)
    plan = map_roles(prs, path, hints, sidecar if sidecar.exists() else None)
    return prs, plan, theme.read_look(plan.roles["chart"].layout.slide_layout.slide_master)


def open_template(path: str | Path | None = None):
    """Open a master and check cemkit can lay every slide role out on it (see :func:`open_master`)."""
    return open_master(path)[0]


def _width_pt(box_width_emu: int) -> float:
    return box_width_emu / 12700 * 0.92  # inner width after insets, with slack for line breaks at words


def title_lines(text: str, box_width_emu: int, size_pt: float) -> int:
    """How many lines ``text`` takes in a box at ``size_pt`` (bold, estimated from character widths)."""
    return max(1, math.ceil(text_width_em(text, bold=True) * size_pt / _width_pt(box_width_emu)))


def fit_title_size(text: str, box_width_emu: int, max_lines: int = 2, max_pt: int = TITLE_PT,
                   min_pt: int = TITLE_MIN_PT, box_height_emu: int | None = None) -> int:
    """Largest font size (pt) at which ``text`` fits in ``max_lines`` lines of the box — and in the lines the
    box's height holds, when given (never below min_pt)."""
    for size in range(int(max_pt), int(min_pt) - 1, -1):
        lines = max_lines
        if box_height_emu is not None:
            lines = max(1, min(max_lines, int((box_height_emu - 91440) / (size * 1.2 * 12700))))
        if title_lines(text, box_width_emu, size) <= lines:
            return size
    return int(min_pt)


# ------------------------------------------------------------------------------------------- shape helpers
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


def _textbox(slide, box, text: str, size: float, color=GREY, align=PP_ALIGN.LEFT, name: str | None = None,
             anchor=MSO_ANCHOR.BOTTOM):
    tb = slide.shapes.add_textbox(*box)
    if name:
        tb.name = name
    tf = tb.text_frame
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    tf.vertical_anchor = anchor
    tf.margin_left = tf.margin_right = Emu(0)
    tf.margin_top = tf.margin_bottom = Emu(0)
    p = tf.paragraphs[0]
    p.text = text
    p.alignment = align
    set_font(p.runs[0].font, size=Pt(size), color=color)
    return tb


def _clone(slide, layout_ph, box, name: str):
    """Put one of the layout's footer placeholders on the slide (python-pptx's add_slide leaves them out)."""
    slide.shapes.clone_placeholder(layout_ph)
    shape = slide.shapes[-1]
    shape.name = name
    _put(shape, box)
    return shape


def _slide_number(shape, number: str) -> None:
    """The slide-number field (PowerPoint renumbers it when slides move), showing ``number`` until then."""
    p = shape.text_frame.paragraphs[0]._p
    for r in p.findall(qn("a:r")) + p.findall(qn("a:fld")):
        p.remove(r)
    fld = p.makeelement(qn("a:fld"), {"id": SLIDENUM_FIELD, "type": "slidenum"})
    rpr = fld.makeelement(qn("a:rPr"), {"lang": "en-US"})
    set_ea(rpr)
    text = fld.makeelement(qn("a:t"), {})
    text.text = number
    fld.extend([rpr, text])
    end = p.find(qn("a:endParaRPr"))
    if end is not None:
        end.addprevious(fld)
    else:
        p.append(fld)


def _lines(text: str, width_emu: int, size: float) -> int:
    return max(1, math.ceil(text_width_em(text) * size / (width_emu / 12700 * 0.97)))


# ------------------------------------------------------------------------------------------------- deck
@dataclass
class _Deck:
    prs: Any
    plan: MasterMap
    lang: str
    client: str
    base_facts: dict
    findings: list[str]
    summary: dict = field(default_factory=lambda: {"slides": 0, "charts": 0, "tables": 0, "ids": []})
    ids: list[str] = field(default_factory=list)  # the storyline ids of the deck's slides (tagged on each)

    @property
    def size(self) -> tuple[int, int]:
        return self.prs.slide_width, self.prs.slide_height

    def place(self, role: str) -> Placement:
        return self.plan.roles[role]


def build_deck(run_dir: str | Path, pack, out_path: str | Path, *, lang: str = "zh", client: str = "",
               template: str | Path | None = None, base_facts: dict | None = None) -> dict:
    """Write the deck to ``out_path`` and return a summary (slides, charts, tables, slide ids)."""
    results = load_all(run_dir)
    results.update(summary_results(results))
    prs, plan, look = open_master(template)
    base_facts = deck_facts(pack, lang, client, base_facts)
    planned = plan_slides(load_storyline(pack), results, base_facts, lang)
    findings = summary_findings(planned, base_facts, lang)
    fill_findings(planned, findings)
    deck = _Deck(prs, plan, lang, (client or "").strip(), base_facts, findings, ids=[p.spec.id for p in planned])
    with theme.use(look):
        for item in planned:
            _add_item(deck, item)
    prs.save(str(out_path))
    return deck.summary


def _add_item(deck: _Deck, item: PlannedSlide) -> None:
    """One storyline slide: one deck slide, or several when a table continues."""
    spec, result = item.spec, item.result
    if spec.layout in TEXT_ROLES or spec.chart is None or result is None:
        _finish(deck, item, _new_slide(deck, item, item.title))
        return
    sub = optional_text(spec.subtitle, item.facts, deck.lang)
    sub_box, boxes = _under_subtitle(_content_boxes(deck, spec), sub)
    df = charts.prepare_table(result.table, spec.chart)
    by = spec.chart.category if spec.chart.type == "heatmap" else None
    pages = tables.paginate(df, boxes[0][3], by=by) if spec.chart.type in charts.TABULAR else [df]
    parts = tables.side_by_side(df, spec.chart, deck.lang, boxes[0][2]) \
        if len(pages) > 1 and len(boxes) == 1 and not spec.takeaway else 1
    if parts > 1:
        _side_by_side(deck, item, df, sub, sub_box, boxes[0], math.ceil(len(pages) / parts), parts)
        return
    for k, page in enumerate(pages, start=1):
        slide = _page_slide(deck, item, k, len(pages), sub, sub_box)
        _draw(deck, slide, item, page, boxes, whole=df if len(pages) > 1 else None)
        _finish(deck, item, slide, page=(k, len(pages)))


def _page_slide(deck: _Deck, item: PlannedSlide, k: int, n: int, sub: str, sub_box):
    """Slide ``k`` of the ``n`` a storyline slide takes: its title ("continued k/n" after the first) and
    subtitle."""
    title = item.title if k == 1 else item.title + t("continued", deck.lang, page=k, pages=n)
    slide = _new_slide(deck, item, title)
    if sub:
        box = _textbox(slide, sub_box, sub, 13, color=DARK, anchor=MSO_ANCHOR.TOP, name="Subtitle")
        _tag_text(slide, box, "subtitle", item.spec.subtitle, item.facts, deck.lang)
    return slide


def _side_by_side(deck: _Deck, item: PlannedSlide, df: pd.DataFrame, sub: str, sub_box, box, n: int,
                  parts: int) -> None:
    """A long, narrow table in ``parts`` pieces side by side on each of ``n`` slides (read down the left, then
    the right); every piece keeps the whole table's column widths. Its shapes are tagged ``chart``,
    ``chart@2`` … and the slide's page ``k/n/parts`` so ``cemkit refresh`` finds each piece's rows."""
    spec = item.spec
    pieces = tables.split_rows(df, n * parts)
    x, y, w, h = box
    pw = (w - tables.SIDE_GAP * (parts - 1)) // parts
    for k in range(1, n + 1):
        slide = _page_slide(deck, item, k, n, sub, sub_box)
        for j, piece in enumerate(pieces[(k - 1) * parts:k * parts]):
            part_box = (x + j * (pw + tables.SIDE_GAP), y, pw, h)
            drawn = charts.draw_prepared(slide, part_box, piece, spec.chart, deck.lang,
                                         {**item.result.meta, "pages_of": df})
            _tag_drawn(slide, drawn, spec.chart, "chart" if j == 0 else f"chart@{j + 1}")
            _count(deck, spec.chart)
        _finish(deck, item, slide, page=(k, n, parts))


def _tag_text(slide, shape, kind: str, alternatives: tuple, facts: dict, lang: str, text: str | None = None) -> None:
    """Tag a text shape with its id, the text cemkit wrote and the facts filled into it (``cemkit refresh``
    replaces the text when nobody edited it, else the numbers it can find again)."""
    fields: list = []
    generated = optional_text(alternatives, facts, lang, record=fields) if alternatives else ""
    tag_shape(slide, shape, kind, text if text is not None else generated, fields)


def _new_slide(deck: _Deck, item: PlannedSlide, title: str):
    """A slide on the role's layout: the title in the master's title placeholder (its style, sized to fit in
    two lines), the subtitle of a cover or divider in the layout's text placeholder (or a text box)."""
    spec, lang = item.spec, deck.lang
    place = deck.place(spec.layout)
    layout = place.layout.slide_layout
    slide = deck.prs.slides.add_slide(layout)
    # add_slide clones the layout's placeholders in order: pair them to find the title and subtitle
    clones = list(zip(layout.iter_cloneable_placeholders(), slide.placeholders))
    title_ph = next(ph for src, ph in clones if KINDS.get(src.placeholder_format.type) == "title")
    _put(title_ph, place.title)
    big = spec.layout in TEXT_ROLES  # cover and dividers: 32 pt, down to 24 pt for two lines
    master_pt = placeholder_pt(layout, "title") or 44
    max_pt = min(32 if big else TITLE_PT, master_pt)
    # a Chinese title is one line (down to 20 pt) unless it cannot be; an English one may take two
    one_line_pt = min(20, max_pt)
    lines = 1 if lang == "zh" and not big and title_lines(title, place.title[2], one_line_pt) == 1 else 2
    min_pt = min(24 if big else (one_line_pt if lines == 1 else TITLE_MIN_PT), max_pt)
    size = fit_title_size(title, place.title[2], max_lines=lines, max_pt=max_pt, min_pt=min_pt,
                          box_height_emu=place.title[3])
    _set_text(title_ph, title, size=size)
    _tag_text(slide, title_ph, "title", spec.title, item.facts, lang, text=title)
    if big:
        sub = optional_text(spec.subtitle, item.facts, lang)
        size = 16 if spec.layout == "section" else 18
        body = next((ph for src, ph in clones if place.text is not None and src.element is place.text.shape.element),
                    None)
        if body is not None:
            _put(body, place.content[0])
            _set_text(body, sub, size=size)
        elif sub:
            body = _textbox(slide, place.content[0], sub, size, color=DARK, anchor=MSO_ANCHOR.TOP, name="Subtitle")
        if sub and body is not None:
            _tag_text(slide, body, "subtitle", spec.subtitle, item.facts, lang)
    elif spec.result == "exec_summary" and spec.chart is None:  # a storyline without a decisions table
        tb = charts.draw_bullets(slide, place.content[0], pd.DataFrame({"finding": deck.findings}),
                                 ChartSpec(type="bullets", label="finding"), lang)
        tag_shape(slide, tb, "findings", tb.text_frame.text)
    return slide


def _put(shape, box) -> None:
    """Give a placeholder its own position (not inherited: LibreOffice masters number every placeholder 0)."""
    shape.left, shape.top, shape.width, shape.height = (Emu(int(v)) for v in box)


def _content_boxes(deck: _Deck, spec: SlideSpec) -> list[tuple[int, int, int, int]]:
    """Where content goes: the content box(es) computed for the role's layout (:mod:`.layouts`)."""
    return list(deck.place(spec.layout).content)


def _under_subtitle(boxes: list[tuple], sub: str) -> tuple[tuple | None, list[tuple]]:
    """A subtitle line takes the top of the content area (one or two lines at 13 pt)."""
    if not sub:
        return None, boxes
    x, y = boxes[0][0], boxes[0][1]
    w = boxes[-1][0] + boxes[-1][2] - x
    h = int(_lines(sub, w, 13) * 13 * 1.3 * 12700)
    return (x, y, w, h), [(bx, by + h + GAP, bw, bh - h - GAP) for bx, by, bw, bh in boxes]


def _draw(deck: _Deck, slide, item: PlannedSlide, df: pd.DataFrame, boxes: list[tuple],
          whole: pd.DataFrame | None = None) -> None:
    """The takeaway box (if any) and the chart(s) in the content box(es); ``whole``: the table ``df`` is one
    page of (a table's columns keep their widths from page to page)."""
    spec, lang = item.spec, deck.lang
    takeaway = optional_text(spec.takeaway, item.facts, lang)
    if takeaway and len(boxes) == 1:
        bx, by, bw, bh = boxes[0]
        boxes = [(bx, by, int(bw * 0.72), bh), (bx + int(bw * 0.72) + 150000, by, bw - int(bw * 0.72) - 150000, bh)]
        _tag_text(slide, _takeaway(slide, boxes.pop(), takeaway), "takeaway", spec.takeaway, item.facts, lang)
    meta = item.result.meta
    page_meta = meta if whole is None else {**meta, "pages_of": whole}
    _tag_drawn(slide, charts.draw_prepared(slide, boxes[0], df, spec.chart, lang, page_meta), spec.chart, "chart")
    _count(deck, spec.chart)
    if len(boxes) > 1:
        second = getattr(spec, "chart2", None)  # two_charts: a second chart of the same result
        if second is not None:
            _tag_drawn(slide, charts.draw(slide, boxes[1], item.result.table, second, lang, meta), second, "chart2")
            _count(deck, second)
        elif takeaway:
            _tag_text(slide, _takeaway(slide, boxes[1], takeaway), "takeaway", spec.takeaway, item.facts, lang)


def _tag_drawn(slide, drawn, chart: ChartSpec, kind: str) -> None:
    """Tag what a drawer made: ``chart`` / ``chart2`` (a native chart or table), or ``chart/0`` … for the
    shapes of a quote wall; a "no data" note is tagged too, so a refresh can draw the chart in its place."""
    shapes = drawn if isinstance(drawn, list) else [drawn]
    for i, shape in enumerate(shapes):
        if shape is not None:
            tag_shape(slide, shape, kind if len(shapes) == 1 and not isinstance(drawn, list) else f"{kind}/{i}",
                      shape.text_frame.text if getattr(shape, "has_text_frame", False) else None)


def _count(deck: _Deck, chart: ChartSpec) -> None:
    kind = "tables" if chart.type in charts.TABULAR else "charts" if chart.type in charts.NATIVE_CHARTS else None
    if kind:
        deck.summary[kind] += 1


def _takeaway(slide, box, text: str) -> None:
    x, y, w, h = box
    tk = slide.shapes.add_shape(1, x, y, w, min(h, Emu(1600000)))
    tk.name = "Takeaway"
    tk.fill.solid()
    tk.fill.fore_color.rgb = RGBColor(0xF3, 0xF4, 0xF6)
    tk.line.fill.background()
    tk.shadow.inherit = False
    tk.text_frame.vertical_anchor = MSO_ANCHOR.TOP
    _set_text(tk, text, size=13, color=RGBColor(0x33, 0x33, 0x33))
    return tk


def _finish(deck: _Deck, item: PlannedSlide, slide, page: tuple[int, ...] = (1, 1)) -> None:
    """No empty placeholder; footnote on data slides; confidentiality line and slide number (in the master's
    footer and slide-number placeholders when the layout has them), speaker notes; the slide's tags (its
    storyline id and page, the notes written) for ``cemkit refresh``."""
    spec, lang = item.spec, deck.lang
    place = deck.place(spec.layout)
    for ph in list(slide.placeholders):
        if not (ph.has_text_frame and ph.text_frame.text.strip()):
            _remove(ph)
    if item.result is not None and spec.layout not in TEXT_ROLES:
        note = footnote_text(item.result.meta, deck.base_facts, lang)
        if note:
            size = 9 if _lines(note, place.footnote[2], 9) <= 2 else 8
            box = _textbox(slide, place.footnote, note, size, name="Footnote")
            tag_shape(slide, box, "footnote", note)
    footer = t("confidential", lang, client=deck.client) if deck.client else t("confidential_no_client", lang)
    number = str(len(deck.prs.slides))
    if place.footer_ph is not None:  # the master's footer style, smaller if the line would not fit
        size = placeholder_pt(place.layout.slide_layout, "footer") or 12
        fit = (place.footer[2] - 182880) / 12700 / max(1.0, text_width_em(footer))
        _set_text(_clone(slide, place.footer_ph.shape, place.footer, "Confidential"), footer,
                  size=max(7, int(fit)) if fit < size else None)
    else:
        _textbox(slide, place.footer, footer, 8, name="Confidential")
    box = None
    if place.number_ph is not None:
        box = _clone(slide, place.number_ph.shape, place.number, "Slide number")
        _slide_number(box, number)
    elif place.number is not None:  # else the master numbers its slides itself
        box = _textbox(slide, place.number, number, 8, align=PP_ALIGN.RIGHT, name="Slide number")
    if box is not None:
        tag_shape(slide, box, "slide_number", number)
    notes = optional_text(spec.notes, item.facts, lang)
    if notes:
        tf = slide.notes_slide.notes_text_frame
        tf.text = notes
        set_font(tf.paragraphs[0].runs[0].font)
    set_slide_tags(slide, {SLIDE_TAG: spec.id, PAGE_TAG: "/".join(map(str, page)), NOTES_TAG: notes,
                           DECK_TAG: ",".join(deck.ids)})
    deck.summary["slides"] += 1
    deck.summary["ids"].append(spec.id)
