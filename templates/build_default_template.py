"""Rebuild templates/default.pptx, cemkit's default 16:9 master, from python-pptx's blank template.

Run: python templates/build_default_template.py
The result has one layout per slide role, named after it (docs/templates.md), each with a title placeholder
and numbered content placeholders; a footer placeholder (the confidentiality line) and a slide-number
placeholder along the bottom; theme fonts with both Latin (Arial) and East Asian (Microsoft YaHei) faces, and a
sober grey/blue palette. Any client master works as well: cemkit maps its layouts to the roles itself.
"""

from __future__ import annotations

import copy
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.util import Emu, Pt

OUT = Path(__file__).with_name("default.pptx")
W, H = 12192000, 6858000
M = 457200  # 0.5 inch margin
FOOTER_Y, FOOTER_H, NUMBER_W = H - 380000, 260000, 1000000
FOOTERS = {"ftr": (M, FOOTER_Y, W - 2 * M - NUMBER_W - 80000, FOOTER_H, "l"),
           "sldNum": (W - M - NUMBER_W, FOOTER_Y, NUMBER_W, FOOTER_H, "r")}
NS = {"a": "http://schemas.openxmlformats.org/drawingml/2006/main",
      "p": "http://schemas.openxmlformats.org/presentationml/2006/main"}

# layout name → (source layout index in python-pptx's default, placeholder boxes by idx)
TITLE_BOX = (M, 280000, W - 2 * M, 900000)
CONTENT_BOX = (M, 1250000, W - 2 * M, 4700000)
LAYOUTS = {
    "title": (0, {0: (M, 2000000, W - 2 * M, 1500000), 1: (M, 3650000, W - 2 * M, 1100000)}),
    "section": (2, {0: (M, 2300000, W - 2 * M, 1100000), 1: (M, 3500000, W - 2 * M, 1000000)}),
    "chart": (1, {0: TITLE_BOX, 1: CONTENT_BOX}),
    "two_charts": (3, {0: TITLE_BOX, 1: (M, 1250000, (W - 3 * M) // 2, 4700000),
                       2: (M + (W - 3 * M) // 2 + M, 1250000, (W - 3 * M) // 2, 4700000)}),
    "table": (5, {0: TITLE_BOX, 1: CONTENT_BOX}),
    "quotes": (6, {0: TITLE_BOX, 1: CONTENT_BOX}),
    "summary": (7, {0: TITLE_BOX, 1: CONTENT_BOX}),
    "appendix": (8, {0: TITLE_BOX, 1: CONTENT_BOX}),
}
PALETTE = {"dk2": "1F3864", "lt2": "E7E6E6", "accent1": "1F5FAD", "accent2": "9AA5B1", "accent3": "2E8B57",
           "accent4": "C0392B", "accent5": "E3A72F", "accent6": "5B6770"}


def _set_box(sp, box) -> None:
    x, y, w, h = box
    sp.left, sp.top, sp.width, sp.height = Emu(x), Emu(y), Emu(w), Emu(h)


def _footers(master) -> None:
    """Footer and slide number along the bottom, 8 pt grey; no date placeholder (cemkit writes none)."""
    for ph in list(master.placeholders):
        kind = ph.element.ph.get("type")
        if kind == "dt":
            ph.element.getparent().remove(ph.element)
        elif kind in FOOTERS:
            x, y, w, h, align = FOOTERS[kind]
            _set_box(ph, (x, y, w, h))
            lvl = ph.element.find(".//a:lstStyle/a:lvl1pPr", NS)
            lvl.set("algn", align)
            rpr = lvl.find("a:defRPr", NS)
            rpr.set("sz", "800")
            for child in list(rpr):
                rpr.remove(child)
            fill = etree.SubElement(rpr, f"{{{NS['a']}}}solidFill")
            etree.SubElement(fill, f"{{{NS['a']}}}srgbClr", val="808080")


def _theme_fonts(prs) -> None:
    master = prs.slide_masters[0]
    theme_part = next(r.target_part for r in master.part.rels.values() if r.reltype.endswith("/theme"))
    root = etree.fromstring(theme_part.blob)
    for tag in ("majorFont", "minorFont"):
        font = root.find(f".//a:fontScheme/a:{tag}", NS)
        font.find("a:latin", NS).set("typeface", "Arial")
        font.find("a:ea", NS).set("typeface", "Microsoft YaHei")
        for script in font.findall("a:font", NS):  # PowerPoint picks these by UI language: keep them in line
            if script.get("script") in ("Hans", "Hant"):
                script.set("typeface", "Microsoft YaHei")
    for name, rgb in PALETTE.items():
        el = root.find(f".//a:clrScheme/a:{name}", NS)
        for child in list(el):
            el.remove(child)
        etree.SubElement(el, f"{{{NS['a']}}}srgbClr", val=rgb)
    root.find(".//a:clrScheme", NS).set("name", "cemkit")
    theme_part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def build() -> Path:
    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(W), Emu(H)
    _theme_fonts(prs)
    master = prs.slide_masters[0]
    for ph in master.placeholders:
        if ph.placeholder_format.idx == 0:
            _set_box(ph, TITLE_BOX)
        elif ph.placeholder_format.idx == 1:
            _set_box(ph, CONTENT_BOX)
    _footers(master)
    title_style = master.element.find(".//p:titleStyle/a:lvl1pPr/a:defRPr", NS)
    title_style.set("sz", "2400")
    title_style.set("b", "1")
    title_style.getparent().set("algn", "l")  # consulting decks: titles left-aligned, read as sentences
    body_style = master.element.find(".//p:bodyStyle/a:lvl1pPr/a:defRPr", NS)
    body_style.set("sz", "1600")

    layouts = list(prs.slide_layouts)
    content_src = layouts[1]
    keep = set()
    for name, (src, boxes) in LAYOUTS.items():
        layout = layouts[src]
        keep.add(id(layout))
        layout.name = name
        tree = layout.shapes._spTree
        if name in ("table", "quotes", "summary", "appendix"):
            for sp in list(tree)[2:]:
                tree.remove(sp)
            for sp in list(content_src.shapes._spTree)[2:]:
                tree.append(copy.deepcopy(sp))
        for ph in list(layout.placeholders):
            idx = ph.placeholder_format.idx
            if idx in boxes:
                _set_box(ph, boxes[idx])
            elif ph.element.ph.get("type") == "dt":
                tree.remove(ph.element)
            elif idx > 9:  # footer / slide number: where the master puts them
                sppr = ph.element.find("p:spPr", NS)
                for xfrm in sppr.findall("a:xfrm", NS):
                    sppr.remove(xfrm)
        for rpr in layout.element.iter(f"{{{NS['a']}}}defRPr"):
            rpr.attrib.pop("cap", None)  # no ALL CAPS section titles: titles are sentences
        if name == "title":  # left-aligned like every other slide
            for ph in layout.placeholders:
                for ppr in ph._element.findall(".//a:lstStyle/*", NS):
                    ppr.set("algn", "l")
                if ph.placeholder_format.idx == 0:
                    ph.text_frame.paragraphs[0].font.size = Pt(32)
    for layout in layouts:
        if id(layout) not in keep:
            prs.slide_layouts.remove(layout)
    prs.save(OUT)
    return OUT


if __name__ == "__main__":
    print(build())
