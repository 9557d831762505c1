"""What a PowerPoint master holds, read as geometry: every layout's placeholders and the shapes it draws.

For each layout of each slide master: its placeholders (kind, position, size — inherited from the master when
the layout leaves them out), the shapes the master and the layout draw on every slide (a logo, a band, a
rule: *obstacles* content must not cover, or *art* when they are large), and the colour content would sit
on. :mod:`cemkit.render.layouts` chooses layouts for cemkit's slide roles from this; nothing here knows
about roles. Boxes are ``(left, top, width, height)`` in EMU.
"""

from __future__ import annotations

import colorsys
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

from .theme import A, luminance, scheme_colours, theme_root

__all__ = ["Box", "Layout", "Ph", "area", "cut", "inside", "overlap", "read_layouts"]

Box = tuple[int, int, int, int]
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
R_EMBED = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"
ART_SHARE = 0.4     # a shape covering this share of the slide or more is artwork text may sit on, not an obstacle

KINDS = {
    PP_PLACEHOLDER.TITLE: "title", PP_PLACEHOLDER.CENTER_TITLE: "title", PP_PLACEHOLDER.SUBTITLE: "subtitle",
    PP_PLACEHOLDER.BODY: "body", PP_PLACEHOLDER.OBJECT: "content", PP_PLACEHOLDER.CHART: "content",
    PP_PLACEHOLDER.TABLE: "content", PP_PLACEHOLDER.ORG_CHART: "content", PP_PLACEHOLDER.MEDIA_CLIP: "content",
    PP_PLACEHOLDER.PICTURE: "picture", PP_PLACEHOLDER.BITMAP: "picture", PP_PLACEHOLDER.DATE: "date",
    PP_PLACEHOLDER.FOOTER: "footer", PP_PLACEHOLDER.SLIDE_NUMBER: "number",
    PP_PLACEHOLDER.VERTICAL_TITLE: "vertical", PP_PLACEHOLDER.VERTICAL_BODY: "vertical",
    PP_PLACEHOLDER.VERTICAL_OBJECT: "vertical",
}
FOOTERS = ("date", "footer", "number")


@dataclass(frozen=True)
class Ph:
    """One placeholder of a layout: kind (title, subtitle, body, content, picture, date, footer, number,
    vertical, other), whether it is a centred title, its box, and the layout placeholder itself."""

    kind: str
    box: Box
    centred: bool = False
    shape: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Layout:
    """A slide layout as geometry. ``master`` and ``number`` are 1-based, as a consultant counts them."""

    master: int
    number: int
    name: str
    type: str                                  # the layout's declared type (title, obj, secHead, …; "" if none)
    placeholders: tuple[Ph, ...]
    obstacles: tuple[tuple[Box, str], ...]     # small shapes drawn on every slide: (box, description)
    art: tuple[tuple[Box, float | None], ...]  # large shapes: (box, luminance of their fill or None)
    background: float | None                   # luminance of the background (None: unknown picture)
    numbered: bool = False                     # the master draws a slide-number field outside placeholders
    slide_layout: Any = field(default=None, compare=False, repr=False)

    def all(self, *kinds: str) -> list[Ph]:
        return [p for p in self.placeholders if p.kind in kinds]

    def first(self, kind: str) -> Ph | None:
        return next(iter(self.all(kind)), None)

    @property
    def label(self) -> str:
        return f"{self.name} (master {self.master})"


# -------------------------------------------------------------------------------------------- geometry
def area(b: Box | None) -> int:
    return 0 if b is None else max(0, b[2]) * max(0, b[3])


def overlap(a: Box, b: Box) -> Box | None:
    """The intersection of two boxes (None when they do not overlap with positive area)."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return (left, top, right - left, bottom - top) if right > left and bottom > top else None


def inside(b: Box, size: tuple[int, int]) -> bool:
    return b[0] >= 0 and b[1] >= 0 and b[0] + b[2] <= size[0] and b[1] + b[3] <= size[1]


def cut(box: Box, obstacles: Iterable[Box]) -> Box:
    """The largest part of ``box`` left of, right of, above or below each obstacle it overlaps (greedy,
    largest overlap first): content placed there covers none of them."""
    x, y, w, h = box
    for ob in sorted(obstacles, key=lambda o: -area(overlap(box, o))):
        hit = overlap((x, y, w, h), ob)
        if hit is None:
            continue
        hx, hy, hw, hh = hit
        options = [(x, y, hx - x, h), (hx + hw, y, x + w - hx - hw, h),
                   (x, y, w, hy - y), (x, hy + hh, w, y + h - hy - hh)]
        x, y, w, h = max(options, key=area)
    return x, y, max(0, w), max(0, h)


# -------------------------------------------------------------------------------------------- colours
class _Colours:
    """Resolves DrawingML colours and fills of one master to a luminance (0 black – 1 white)."""

    def __init__(self, master):
        self.scheme = scheme_colours(theme_root(master))
        cmap = master.element.find(f".//{P}clrMap")
        self.map = dict(cmap.attrib) if cmap is not None else {}

    def hex(self, el) -> str | None:
        if el is None:
            return None
        tag = el.tag.replace(A, "")
        if tag == "srgbClr":
            hx = el.get("val", "")
        elif tag == "schemeClr":
            name = el.get("val", "")
            hx = self.scheme.get(self.map.get(name, name)) or self.scheme.get(name, "")
        elif tag == "sysClr":
            hx = el.get("lastClr", "")
        elif tag == "prstClr":
            hx = {"black": "000000", "white": "FFFFFF"}.get(el.get("val", ""), "808080")
        else:
            return None
        if len(hx) != 6:
            return None
        mod = el.find(f"{A}lumMod")
        off = el.find(f"{A}lumOff")
        if mod is not None or off is not None:  # lumMod / lumOff scale the HSL lightness
            r, g, b = (int(hx[i:i + 2], 16) / 255 for i in (0, 2, 4))
            hh, ll, ss = colorsys.rgb_to_hls(r, g, b)
            ll = ll * (int(mod.get("val")) / 100000 if mod is not None else 1) + \
                (int(off.get("val")) / 100000 if off is not None else 0)
            r, g, b = colorsys.hls_to_rgb(hh, min(1, max(0, ll)), ss)
            hx = f"{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"
        return hx.upper()

    def fill(self, holder, part) -> tuple[bool, float | None]:
        """(has a fill, its luminance) of the fill element inside ``holder`` (spPr, bgPr); a picture fill's
        luminance is its mean (None when the picture cannot be read)."""
        if holder is None:
            return False, None
        for el in holder:
            tag = el.tag.replace(A, "")
            if tag == "noFill":
                return False, None
            if tag == "solidFill":
                hx = self.hex(next(iter(el), None))
                return True, luminance(hx) if hx else None
            if tag in ("gradFill", "pattFill"):
                hexes = [self.hex(c) for c in el.iter() if c.tag.replace(A, "") in
                         ("srgbClr", "schemeClr", "sysClr", "prstClr")]
                lums = [luminance(h) for h in hexes if h]
                return True, sum(lums) / len(lums) if lums else None
            if tag == "blipFill":
                return True, _pictureluminance(el, part)
        return False, None


def _pictureluminance(blip_fill, part) -> float | None:
    blip = blip_fill.find(f"{A}blip")
    rid = blip.get(R_EMBED) if blip is not None else None
    if not rid:
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(part.related_part(rid).blob)) as im:
            grey = im.convert("L").resize((16, 16))
            return sum(grey.tobytes()) / (256 * 255)
    except Exception:  # noqa: BLE001 - an unreadable picture (EMF, broken): luminance unknown
        return None


def _background(owner, colours: _Colours) -> tuple[bool, float | None]:
    bg = owner.element.find(f"{P}cSld/{P}bg")
    if bg is None:
        return False, None
    pr = bg.find(f"{P}bgPr")
    if pr is not None:
        return colours.fill(pr, owner.part)
    ref = bg.find(f"{P}bgRef")
    if ref is not None:
        hx = colours.hex(next(iter(ref), None))
        return True, luminance(hx) if hx else None
    return False, None


# ----------------------------------------------------------------------------------------------- read
def _box(shape) -> Box | None:
    try:
        vals = (shape.left, shape.top, shape.width, shape.height)
    except (AttributeError, KeyError, ValueError):
        return None
    return None if any(v is None for v in vals) else tuple(int(v) for v in vals)


def _placeholders(layout) -> tuple[Ph, ...]:
    out = []
    for ph in layout.placeholders:
        fmt = ph.placeholder_format
        kind = KINDS.get(fmt.type, "other")
        if kind in ("title", "body", "content") and ph.element.ph_orient == "vert":
            kind = "vertical"
        box = _box(ph)
        if box is None or box[2] <= 0 or box[3] <= 0:
            box = (0, 0, 0, 0)  # nowhere: never used for a position
        out.append(Ph(kind, box, fmt.type == PP_PLACEHOLDER.CENTER_TITLE, ph))
    return tuple(out)


def _describe(shape) -> str:
    kind = {MSO_SHAPE_TYPE.PICTURE: "picture", MSO_SHAPE_TYPE.GROUP: "group", MSO_SHAPE_TYPE.TEXT_BOX: "text box",
            MSO_SHAPE_TYPE.LINE: "line"}.get(shape.shape_type, "shape")
    return f"{kind} {shape.name!r}" if shape.name else kind


def _numbers_slides(owner) -> bool:
    """A text box of the master (not a placeholder) holding a slide-number field: the master numbers slides."""
    return any(not shape.is_placeholder and shape.element.xpath(".//a:fld[@type='slidenum']")
               for shape in owner.shapes)


def _drawn(owner, colours: _Colours, size: tuple[int, int]):
    """Non-placeholder shapes of a master or layout: small ones as obstacles, large ones as art."""
    W, H = size
    obstacles, art = [], []
    for shape in owner.shapes:
        if shape.is_placeholder:
            continue
        box = _box(shape)
        if box is None:
            continue
        clipped = overlap(box, (0, 0, W, H)) or (box if box[2] == 0 or box[3] == 0 else None)
        if clipped is None:
            continue  # wholly off the slide
        if area(clipped) >= ART_SHARE * W * H:
            filled, lum = colours.fill(shape.element.find(f"{P}spPr"), owner.part)
            if not filled:  # a theme-styled shape: its style's fill reference
                ref = shape.element.find(f"{P}style/{A}fillRef")
                if ref is not None and ref.get("idx", "0") != "0":
                    hx = colours.hex(next(iter(ref), None))
                    filled, lum = bool(hx), luminance(hx) if hx else None
            art.append((clipped, lum if filled else None))
        else:
            obstacles.append((clipped, _describe(shape)))
    return obstacles, art


def _master_areas(master) -> dict[str, Box]:
    """The master's own title and body placeholder boxes."""
    out: dict[str, Box] = {}
    for ph in master.placeholders:
        kind = KINDS.get(ph.placeholder_format.type)
        box = _box(ph)
        if kind in ("title", "body") and kind not in out and box and box[2] > 0 and box[3] > 0:
            out[kind] = box
    return out


def _remap(b: Box, src: Box, dst: Box) -> Box:
    sx, sy = dst[2] / src[2], dst[3] / src[3]
    return (round(dst[0] + (b[0] - src[0]) * sx), round(dst[1] + (b[1] - src[1]) * sy), round(b[2] * sx),
            round(b[3] * sy))


def _own_geometry(phs: tuple[Ph, ...], own: dict[str, Box], others: list[dict[str, Box]]) -> tuple[Ph, ...]:
    """LibreOffice writes the last master's placeholder geometry into every layout of every master. A layout
    whose title sits exactly where another master's title is, and not where its own master's is, was not laid
    out for its master: its placeholders are moved to its master's title and body areas (same proportions)."""
    title = next((p for p in phs if p.kind == "title"), None)
    if title is None or "title" not in own or title.box == own["title"]:
        return phs
    src = next((o for o in others if o.get("title") == title.box and "body" in o), None)
    if src is None or "body" not in own:
        return phs
    out = []
    for p in phs:
        if p.kind == "title":
            out.append(Ph(p.kind, own["title"], p.centred, p.shape))
        elif p.kind in ("subtitle", "body", "content", "picture") and p.box[2] > 0:
            out.append(Ph(p.kind, _remap(p.box, src["body"], own["body"]), p.centred, p.shape))
        else:
            out.append(p)
    return tuple(out)


def read_layouts(prs) -> list[Layout]:
    """Every layout of every slide master of a presentation, in file order."""
    size = (int(prs.slide_width), int(prs.slide_height))
    areas = [_master_areas(m) for m in prs.slide_masters]
    out = []
    for mi, master in enumerate(prs.slide_masters, start=1):
        colours = _Colours(master)
        m_obstacles, m_art = _drawn(master, colours, size)
        m_filled, m_bg = _background(master, colours)
        m_numbered = _numbers_slides(master)
        others = areas[:mi - 1] + areas[mi:]
        for li, layout in enumerate(master.slide_layouts, start=1):
            obstacles, art = _drawn(layout, colours, size)
            numbered = _numbers_slides(layout)
            if layout.element.get("showMasterSp") != "0":
                obstacles, art = m_obstacles + obstacles, m_art + art
                numbered = numbered or m_numbered
            filled, bg = _background(layout, colours)
            if not filled:
                bg = m_bg if m_filled else 1.0  # no background anywhere: white
            phs = _own_geometry(_placeholders(layout), areas[mi - 1], others)
            out.append(Layout(mi, li, layout.name or f"layout {li}", layout.element.get("type", ""),
                              phs, tuple(obstacles), tuple(art), bg, numbered, layout))
    return out


def placeholder_pt(slide_layout, kind: str = "title") -> float | None:
    """The master's text size (pt) in a layout's placeholder of ``kind`` (title, footer, …): the layout
    placeholder's list style, the master placeholder's, the master's title style (titles), or — as
    LibreOffice writes masters — the master placeholder's sample text."""
    master = slide_layout.slide_master

    def element(owner):
        return next((ph.element for ph in owner.placeholders if KINDS.get(ph.placeholder_format.type) == kind), None)

    lay, mas = element(slide_layout), element(master)
    candidates = [
        lay.find(f".//{A}lstStyle/{A}lvl1pPr/{A}defRPr") if lay is not None else None,
        mas.find(f".//{A}lstStyle/{A}lvl1pPr/{A}defRPr") if mas is not None else None,
        master.element.find(f"{P}txStyles/{P}titleStyle/{A}lvl1pPr/{A}defRPr") if kind == "title" else None,
        mas.find(f".//{A}r/{A}rPr") if mas is not None else None,
        mas.find(f".//{A}fld/{A}rPr") if mas is not None else None,
        mas.find(f".//{A}endParaRPr") if mas is not None else None,
    ]
    for el in candidates:
        if el is not None and el.get("sz"):
            return int(el.get("sz")) / 100
    return None
