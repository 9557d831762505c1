"""Client masters cemkit was not designed for, built here from python-pptx's own default template.

- ``pptx_default``: python-pptx's default as it is (4:3, 'Title and Content', 'Two Content', 'Comparison', …;
  the theme names no East Asian face, only a Simplified-Chinese script font, 宋体).
- ``chinese_master``: 16:9, layouts named as a Chinese PowerPoint names them (标题幻灯片, 标题和内容, 两栏内容,
  仅标题, 节标题 …), a logo picture in the top-right corner where the title runs, footers, theme fonts with
  微软雅黑 as the East Asian face, and a red brand colour as accent 1 (which must not become the message colour:
  red is the semantic colour of detractors).
- ``a4_master``: A4 landscape, German and custom layout names, a logo in the bottom-left corner above the
  footers, and a short title placeholder.
- ``wide_master``: 16:9 at Google Slides' size (25.4 × 14.29 cm), English names.

LibreOffice's own designs, exported to .pptx, are committed under ``tests/data/masters`` (see its README).
"""

from __future__ import annotations

import io
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.oxml.shapes.picture import CT_Picture

A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
MASTERS_DIR = Path(__file__).parent / "data" / "masters"

ZH_NAMES = {"Title Slide": "标题幻灯片", "Title and Content": "标题和内容", "Section Header": "节标题",
            "Two Content": "两栏内容", "Comparison": "比较", "Title Only": "仅标题", "Blank": "空白",
            "Content with Caption": "内容与标题", "Picture with Caption": "图片与标题",
            "Title and Vertical Text": "标题和竖排文字", "Vertical Title and Text": "竖排标题与文本"}
DE_NAMES = {"Title Slide": "Kunde – Titelfolie", "Title and Content": "Titel und Inhalt",
            "Section Header": "Kapiteltrenner", "Two Content": "Zwei Inhalte", "Comparison": "Vergleich",
            "Title Only": "Nur Titel", "Blank": "Leer", "Content with Caption": "Inhalt mit Überschrift",
            "Picture with Caption": "Bild mit Überschrift", "Title and Vertical Text": "Titel und vertikaler Text",
            "Vertical Title and Text": "Vertikaler Titel und Text"}


def rescale(prs, width: int, height: int) -> None:
    """Change the slide size, moving and resizing every shape of the masters and layouts with it."""
    sx, sy = width / prs.slide_width, height / prs.slide_height
    for master in prs.slide_masters:
        for owner in (master, *master.slide_layouts):
            for xfrm in owner.element.iter(f"{A}xfrm"):
                for tag, (kx, ky) in ((f"{A}off", ("x", "y")), (f"{A}ext", ("cx", "cy"))):
                    el = xfrm.find(tag)
                    if el is not None:
                        el.set(kx, str(round(int(el.get(kx)) * sx)))
                        el.set(ky, str(round(int(el.get(ky)) * sy)))
    prs.slide_width, prs.slide_height = width, height


def logo_png(colour=(192, 0, 0)) -> bytes:
    """A small made-up logo: a coloured block with a white bar."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (300, 120), colour)
    ImageDraw.Draw(im).rectangle((30, 50, 270, 70), fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def add_logo(master, box: tuple[int, int, int, int], colour=(192, 0, 0)) -> None:
    """A picture on the slide master (drawn on every slide), as a client's logo is."""
    _, rid = master.part.get_or_add_image_part(io.BytesIO(logo_png(colour)))
    tree = master.shapes._spTree
    ids = [int(v) for v in tree.xpath(".//p:cNvPr/@id")]
    pic = CT_Picture.new_pic(max(ids) + 1, "Client logo", "", rid, *box)
    tree.append(pic)


def set_theme(prs, ea: str | None = None, accents: dict[str, str] | None = None) -> None:
    master = prs.slide_masters[0]
    part = next(r.target_part for r in master.part.rels.values() if r.reltype.endswith("/theme"))
    root = etree.fromstring(part.blob)
    if ea is not None:
        for tag in ("majorFont", "minorFont"):
            root.find(f".//{A}fontScheme/{A}{tag}/{A}ea").set("typeface", ea)
    for name, rgb in (accents or {}).items():
        el = root.find(f".//{A}clrScheme/{A}{name}")
        for child in list(el):
            el.remove(child)
        etree.SubElement(el, f"{A}srgbClr", val=rgb)
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _rename(prs, names: dict[str, str]) -> None:
    for layout in prs.slide_layouts:
        layout.name = names.get(layout.name, layout.name)


def pptx_default(path: Path) -> Path:
    Presentation().save(str(path))
    return path


def chinese_master(path: Path) -> Path:
    prs = Presentation()
    rescale(prs, 12192000, 6858000)
    _rename(prs, ZH_NAMES)
    set_theme(prs, ea="微软雅黑", accents={"accent1": "C00000", "accent2": "1F4E79", "accent3": "7F7F7F"})
    add_logo(prs.slide_masters[0], (12192000 - 457200 - 1371600, 228600, 1371600, 548640))
    prs.save(str(path))
    return path


def a4_master(path: Path) -> Path:
    prs = Presentation()
    rescale(prs, 10692000, 7560000)
    _rename(prs, DE_NAMES)
    master = prs.slide_masters[0]
    for ph in master.placeholders:  # a short title box: one line at the master's size
        if ph.placeholder_format.idx == 0:
            ph.height = 560000
    add_logo(master, (400000, 7560000 - 1250000, 1400000, 560000), colour=(0, 80, 160))
    prs.save(str(path))
    return path


def wide_master(path: Path) -> Path:
    prs = Presentation()
    rescale(prs, 9144000, 5143500)
    prs.save(str(path))
    return path


BUILDERS = {"pptx_default": pptx_default, "chinese": chinese_master, "a4": a4_master, "wide": wide_master}
LIBREOFFICE = ("Vivid.pptx", "Midnightblue.pptx")


def all_masters(folder: Path) -> dict[str, Path]:
    """Every test master: the built ones written into ``folder``, and the committed LibreOffice exports."""
    out = {name: build(folder / f"{name}.pptx") for name, build in BUILDERS.items()}
    out.update({Path(f).stem: MASTERS_DIR / f for f in LIBREOFFICE})
    return out
