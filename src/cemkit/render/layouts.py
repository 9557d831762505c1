"""Which layout of a client's master carries each slide role, and where content goes on it.

The storyline names slide *roles* (:data:`cemkit.storyline.LAYOUTS`). Each role gets a layout of the master
as it is — names in any language, custom names, extra layouts, several masters — chosen from the layouts'
placeholders and the shapes they draw (:mod:`cemkit.render.masters`):

- ``title`` (the cover): a centred title with a subtitle (declared type ``title``), the title near the middle;
- ``section``: a section header (type ``secHead``: a title and a text placeholder), else the cover's layout;
- ``chart``, ``table``, ``quotes``, ``summary``, ``appendix``: a title across the top and the largest free
  content area — a title-only layout (the area runs from the title's foot to the footer) or a title-and-content
  layout (its content placeholder marks the area); layouts with pictures, captions or several content
  placeholders lose points, and so does an area on dark artwork;
- ``two_charts``: two content placeholders side by side, else the chart layout's area cut in two.

Ties go to the master the template's own sample slides use (its first slide for the cover), then to file order.
Explicit choices win over this: a line in the YAML beside the master (``client.layouts.yaml`` for
``client.pptx``: ``chart: Title Only`` or ``chart: {layout: "Title, Content", master: 2}``), then a layout
*named* after a role (cemkit's own master names them all).

On every layout the *content box* runs from the title's foot (or the content placeholder's top) down to the
footnote strip, which sits just above the footer: the master's date / footer / slide-number placeholders, or a
band across the bottom of the slide. The box, the footnote and cemkit's own footer text boxes avoid the shapes
the master draws on every slide (a logo, a band, a rule): each is cut to its largest part clear of them. A
shape that holds the whole box is its backdrop, not an obstacle, and so is artwork covering 40 % of the slide;
if avoiding obstacles would leave less than 35 % of the box, content is drawn over them. Boxes are
``(left, top, width, height)`` in EMU.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PackError, Problem
from ..packfiles import Checker, read_yaml
from ..storyline import LAYOUTS
from .masters import FOOTERS, Box, Layout, Ph, area, cut, overlap, read_layouts

__all__ = ["CONTENT_ROLES", "MasterMap", "Placement", "describe", "map_roles", "overrides_path", "yaml_text"]

GAP = 80000            # between title, content and footnote (EMU)
FOOT_GAP = 40000       # between the footnote and the footer
FOOT_H = 380000        # footnote strip: two lines at 9 pt, three at 8 pt
FURNITURE_UP = 380000  # cemkit's own footer line (no footer placeholder): this far above the slide's bottom
FURNITURE_H = 260000
NUMBER_W = 1000000
TITLE_MIN_H = 700000   # room for two title lines at 20 pt: a shorter title box is extended downwards
MIN_SHARE = 0.35       # avoiding obstacles may not leave less than this share of the box
EDGE = 0.02            # text and charts keep this share of the slide's width from its left and right edges
CONTENT_ROLES = ("chart", "table", "quotes", "summary", "appendix")
TEXT_ROLES = ("title", "section")


@dataclass(frozen=True)
class Placement:
    """One role's layout and boxes. ``how``: yaml, named, auto or fallback (no layout fits: an approximation)."""

    role: str
    layout: Layout
    how: str
    title: Box
    content: tuple[Box, ...]        # one box; two for two_charts; the subtitle area for title / section
    text: Ph | None                 # title / section: the placeholder that takes the subtitle
    footnote: Box
    footer: Box                     # the confidentiality line
    footer_ph: Ph | None            # … written into the master's footer placeholder when it has one
    number: Box | None              # None: the master numbers its slides itself (a field in a text box)
    number_ph: Ph | None
    avoid: tuple[Box, ...]          # what content must not cover: obstacles, footer placeholders in use


@dataclass(frozen=True)
class MasterMap:
    source: str
    size: tuple[int, int]
    layouts: tuple[Layout, ...]
    roles: dict[str, Placement]
    overrides: str | None = None    # the YAML file read, if any


@dataclass(frozen=True)
class _Hints:
    cover_master: int | None = None
    content_masters: frozenset = frozenset()


# ------------------------------------------------------------------------------------------ geometry
def _bottom(b: Box) -> int:
    return b[1] + b[3]


def _title(layout: Layout) -> Ph | None:
    t = layout.first("title")
    return t if t is not None and t.box[2] > 0 else None


def _backdrop(box: Box, ob: Box) -> bool:
    """A shape holding (almost) the whole box is its backdrop: a band behind the title, a panel."""
    hit = overlap(box, ob)
    return hit is not None and area(hit) >= 0.8 * area(box)


def _clear(box: Box, obstacles: list[Box]) -> Box:
    cleared = cut(box, [ob for ob in obstacles if not _backdrop(box, ob)])
    return cleared if area(cleared) >= MIN_SHARE * area(box) else box


def _obstacles(layout: Layout, size) -> list[Box]:
    """Shapes drawn on every slide, and footer placeholders off the bottom band (a number at the top)."""
    H = size[1]
    return [b for b, _ in layout.obstacles] + [p.box for p in layout.all(*FOOTERS)
                                               if p.box[2] > 0 and p.box[1] + p.box[3] / 2 <= 0.75 * H]


def _floor(layout: Layout, size) -> int:
    """Top of the footer: the master's footer placeholders, or a band across the bottom of the slide, or
    cemkit's own footer line."""
    W, H = size
    tops = [p.box[1] for p in layout.all(*FOOTERS) if p.box[2] > 0 and p.box[1] + p.box[3] / 2 > 0.75 * H]
    tops += [b[1] for b, _ in layout.obstacles if b[2] >= 0.5 * W and b[1] >= 0.7 * H]
    return min(tops) if tops else H - FURNITURE_UP


def _master_body(layout: Layout, size) -> Box | None:
    sl = layout.slide_layout
    if sl is None:
        return None
    for ph in sl.slide_master.placeholders:
        body = ph.placeholder_format.idx == 1 or str(ph.placeholder_format.type).startswith("BODY")
        if body and ph.width and ph.width >= 0.5 * size[0]:
            return int(ph.left), int(ph.top), int(ph.width), int(ph.height)
    return None


def _below_title(layout: Layout, t: Ph) -> list[Ph]:
    return [p for p in layout.all("content", "body") if p.box[2] > 0 and p.box[1] >= t.box[1] + t.box[3] * 0.6]


def _inset(box: Box, size) -> Box:
    """A box running to the slide's left or right edge (a title placeholder at x = 0) keeps a margin."""
    margin = int(EDGE * size[0])
    left, right = max(box[0], margin), min(box[0] + box[2], size[0] - margin)
    return left, box[1], max(0, right - left), box[3]


def _limit(box: Box, floor: int, size, footnote: bool = True) -> Box:
    """The box within the slide and above the footer (and the footnote strip, on data slides)."""
    x, y, w, h = _inset(box, size)
    bottom = min(y + h, floor - (FOOT_GAP + FOOT_H + GAP if footnote else GAP), size[1])
    return x, y, w, bottom - y


def _single_area(layout: Layout, size) -> Box | None:
    t = _title(layout)
    if t is None:
        return None
    floor = _floor(layout, size)
    below = _below_title(layout, t)
    if below:
        x0, y0 = min(p.box[0] for p in below), min(p.box[1] for p in below)
        x1, y1 = max(p.box[0] + p.box[2] for p in below), max(_bottom(p.box) for p in below)
    else:
        body = _master_body(layout, size)
        x0, x1 = (body[0], body[0] + body[2]) if body else (t.box[0], t.box[0] + t.box[2])
        y0, y1 = max(_bottom(t.box), t.box[1] + TITLE_MIN_H) + GAP, floor
    box = _limit((x0, y0, x1 - x0, y1 - y0), floor, size)
    return _clear(box, _obstacles(layout, size)) if box[2] > 0 and box[3] > 0 else None


def _two_areas(layout: Layout, size) -> tuple[Box, Box] | None:
    t = _title(layout)
    below = _below_title(layout, t) if t else []
    if len(below) != 2:
        return None
    a, b = sorted(below, key=lambda p: p.box[0])
    if a.box[0] + a.box[2] > b.box[0] or overlap((0, a.box[1], 1, a.box[3]), (0, b.box[1], 1, b.box[3])) is None:
        return None
    floor = _floor(layout, size)
    boxes = [_clear(_limit(p.box, floor, size), _obstacles(layout, size)) for p in (a, b)]
    return (boxes[0], boxes[1]) if all(bx[2] > 0 and bx[3] > 0 for bx in boxes) else None


def _split(box: Box) -> tuple[Box, Box]:
    x, y, w, h = box
    half = (w - 2 * GAP) // 2
    return (x, y, half, h), (x + w - half, y, half, h)


# ------------------------------------------------------------------------------------------- scores
def _art_penalty(layout: Layout, box: Box) -> float:
    """Content on large artwork loses points; on dark artwork or a dark background it loses more."""
    covered = max((area(overlap(box, b)) / area(box) for b, _ in layout.art if overlap(box, b)), default=0.0)
    cx, cy = box[0] + box[2] // 2, box[1] + box[3] // 2
    surface = layout.background
    for b, lum in layout.art:  # the topmost artwork under the box's centre
        if b[0] <= cx <= b[0] + b[2] and b[1] <= cy <= b[1] + b[3] and lum is not None:
            surface = lum
    return 0.6 * covered + (1.0 if surface is not None and surface < 0.2 else 0.0)


def _score_cover(layout: Layout, size, hints: _Hints) -> float | None:
    t = _title(layout)
    if t is None or layout.all("content", "picture", "vertical"):
        return None
    cy = (t.box[1] + t.box[3] / 2) / size[1]
    s = 3.0 * t.centred + (2.0 if layout.first("subtitle") else 1.0 if layout.all("body") else 0.0)
    s += 2.0 * (layout.type == "title") - 2.0 * (layout.type == "secHead") + 1 - abs(cy - 0.45) * 2
    return s + 0.5 * (layout.master == hints.cover_master)


def _score_section(layout: Layout, size, hints: _Hints) -> float | None:
    t = _title(layout)
    if t is None or layout.all("content", "picture", "vertical"):
        return None
    cy = (t.box[1] + t.box[3] / 2) / size[1]
    s = 4.0 * (layout.type == "secHead") + 1.5 * bool(layout.all("body", "subtitle"))
    s += -1.0 * (t.centred or layout.type == "title") + 1 - abs(cy - 0.5) * 2
    return s + 0.5 * (layout.master == hints.cover_master)


def _top_title(layout: Layout, size) -> Ph | None:
    t = _title(layout)
    if t is None or layout.all("vertical") or t.box[2] < 0.5 * size[0]:
        return None
    return t if t.box[1] + t.box[3] / 2 <= 0.35 * size[1] else None


def _content_bonus(layout: Layout, box: Box, size, hints: _Hints) -> float:
    W, H = size
    s = area(box) / (W * H) - _art_penalty(layout, box)
    s -= 0.25 * len(layout.all("picture")) + 0.25 * bool(layout.first("subtitle"))
    return s + 0.1 * (layout.master in hints.content_masters)


def _score_content(layout: Layout, size, hints: _Hints) -> float | None:
    t = _top_title(layout, size)
    box = _single_area(layout, size) if t else None
    if box is None or box[2] < 0.3 * size[0] or box[3] < 0.25 * size[1]:
        return None
    s = _content_bonus(layout, box, size, hints) - 0.25 * max(0, len(_below_title(layout, t)) - 1)
    return s + 0.05 * (layout.type in ("obj", "titleOnly", "tx"))


def _score_two(layout: Layout, size, hints: _Hints) -> float | None:
    t = _top_title(layout, size)
    boxes = _two_areas(layout, size) if t else None
    if boxes is None or min(b[3] for b in boxes) < 0.25 * size[1]:
        return None
    s = min(area(b) for b in boxes) * 2 / (size[0] * size[1]) - max(_art_penalty(layout, b) for b in boxes)
    return s + 0.05 * (layout.type == "twoObj") + 0.1 * (layout.master in hints.content_masters)


SCORES = {"title": _score_cover, "section": _score_section, "two_charts": _score_two,
          **{role: _score_content for role in CONTENT_ROLES}}


# ---------------------------------------------------------------------------------------- placement
def _furniture(layout: Layout, size, left: int, right: int, avoid: list[Box]):
    """Where the confidentiality line and the slide number go: the master's footer and slide-number
    placeholders when the layout has them, else text boxes on the footer's line (or along the bottom of the
    slide), clear of obstacles; no number when the master numbers its slides itself."""
    H = size[1]
    footer_ph = next((p for p in layout.all("footer") if p.box[2] > 0), None)
    number_ph = next((p for p in layout.all("number") if p.box[2] > 0), None)
    line = next((p.box for p in layout.all(*FOOTERS) if p.box[2] > 0 and p.box[1] > 0.75 * H), None)
    y, h = (line[1], line[3]) if line else (H - FURNITURE_UP, FURNITURE_H)
    taken = avoid + [p.box for p in (footer_ph, number_ph) if p is not None]
    number = number_ph.box if number_ph else None
    if number is None and not layout.numbered:
        number = _clear((right - NUMBER_W, y, NUMBER_W, h), taken)
    footer = footer_ph.box if footer_ph else _clear((left, y, max(0, right - left - NUMBER_W - GAP), h),
                                                    taken + ([number] if number else []))
    return footer, footer_ph, number, number_ph


def _place(role: str, layout: Layout, how: str, size) -> Placement:
    t = _title(layout)
    if t is None:
        raise ValueError(f"layout {layout.label} has no title placeholder")
    avoid = _obstacles(layout, size)
    floor = _floor(layout, size)
    text_ph = None
    if role in TEXT_ROLES:
        text_ph = layout.first("subtitle") or next(iter(_below_title(layout, t) or layout.all("body")), None)
        if text_ph is not None:
            boxes: tuple[Box, ...] = (_clear(_limit(text_ph.box, floor, size, footnote=False), avoid),)
        else:
            top = _bottom(t.box) + GAP
            boxes = (_clear(_limit((t.box[0], top, t.box[2], 1100000), floor, size, footnote=False), avoid),)
    elif role == "two_charts":
        boxes = _two_areas(layout, size) or _split(_single_area(layout, size) or _default_area(size))
    else:
        boxes = (_single_area(layout, size) or _default_area(size),)
    title = t.box
    if role not in TEXT_ROLES and title[3] < TITLE_MIN_H:  # room for a two-line title, down to the content
        title = (title[0], title[1], title[2], max(title[3], min(TITLE_MIN_H, boxes[0][1] - GAP - title[1])))
    title = _clear(_inset(title, size), avoid)
    left = min(b[0] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    foot = _clear((left, floor - FOOT_GAP - FOOT_H, right - left, FOOT_H), avoid)
    footer, footer_ph, number, number_ph = _furniture(layout, size, left, right, avoid)
    used = [p.box for p in (footer_ph, number_ph) if p is not None]
    return Placement(role, layout, how, title, tuple(boxes), text_ph, foot, footer, footer_ph, number, number_ph,
                     tuple(avoid + used))


def _default_area(size) -> Box:
    W, H = size
    return int(W * 0.05), int(H * 0.2), int(W * 0.9), int(H * 0.6)


# ------------------------------------------------------------------------------------------ overrides
def overrides_path(template: str | Path) -> Path:
    """The YAML beside a master that fixes role → layout choices: ``client.layouts.yaml``."""
    p = Path(template)
    return p.with_name(p.stem + ".layouts.yaml")


def _load_overrides(path: Path, layouts: list[Layout]) -> dict[str, Layout]:
    data, lines = read_yaml(path)
    problems: list[Problem] = []
    c = Checker(path, lines, problems)
    chosen: dict[str, Layout] = {}
    names = sorted({lay.name for lay in layouts})
    for role, value in c.mapping(data, ()).items():
        if role not in LAYOUTS:
            c.unknown((role,), role, LAYOUTS, "role")
            continue
        master = None
        if isinstance(value, dict):
            unknown = set(value) - {"layout", "master"}
            if unknown:
                c.add((role,), f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (use layout, master)")
            name, master = value.get("layout"), value.get("master")
            if master is not None and (not isinstance(master, int) or isinstance(master, bool)):
                c.add((role, "master"), "must be a master number (1, 2, …)")
                continue
        else:
            name = value
        if not isinstance(name, str) or not name.strip():
            c.add((role,), "needs a layout name (a string, or {layout: NAME, master: N})")
            continue
        hits = [lay for lay in layouts if lay.name.strip() == name.strip() and master in (None, lay.master)]
        if not hits:
            where = f" in master {master}" if master is not None else ""
            c.add((role,), f"no layout named {name!r}{where} (layouts: {', '.join(names)})")
        elif _title(hits[0]) is None:
            c.add((role,), f"layout {name!r} has no title placeholder; cemkit writes every slide's title there")
        else:
            best = _best(role, hits, _size_of(hits[0]), _Hints()) if len(hits) > 1 else None
            chosen[role] = best[0] if best else hits[0]  # same name in several masters: the best fit
    if problems:
        raise PackError(problems)
    return chosen


def _size_of(layout: Layout) -> tuple[int, int]:
    prs = layout.slide_layout.part.package.presentation_part.presentation
    return int(prs.slide_width), int(prs.slide_height)


# ------------------------------------------------------------------------------------------------ map
def _best(role: str, layouts: list[Layout], size, hints: _Hints) -> tuple[Layout, float] | None:
    scored = [(s, lay) for lay in layouts if (s := SCORES[role](lay, size, hints)) is not None]
    if not scored:
        return None
    s, lay = max(scored, key=lambda x: (x[0], -x[1].master, -x[1].number))
    return lay, s


def hints_from_slides(prs) -> _Hints:
    """The template's own sample slides say which master the designer meant for the cover (the first slide)
    and for content (later slides with a title and a content placeholder)."""
    slides = list(prs.slides)
    if not slides:
        return _Hints()
    masters = {id(m): i for i, m in enumerate(prs.slide_masters, start=1)}

    def master_of(slide) -> int:
        return masters.get(id(slide.slide_layout.slide_master), 0)

    content = set()
    for slide in slides[1:]:
        types = {str(ph.placeholder_format.type) for ph in slide.slide_layout.placeholders}
        if any(t.startswith("TITLE") for t in types) and any(t.startswith(("OBJECT", "BODY")) for t in types):
            content.add(master_of(slide))
    return _Hints(master_of(slides[0]), frozenset(content))


def map_roles(prs, source: str | Path = "", hints: _Hints | None = None, overrides: Path | None = None) -> MasterMap:
    """Choose a layout and boxes for every role (see the module docstring)."""
    size = (int(prs.slide_width), int(prs.slide_height))
    layouts = read_layouts(prs)
    hints = hints or _Hints()
    chosen = _load_overrides(overrides, layouts) if overrides else {}
    named = {}
    for lay in layouts:
        role = lay.name.strip().lower()
        if role in LAYOUTS and role not in named and _title(lay) is not None:
            named[role] = lay
    roles: dict[str, Placement] = {}
    name = Path(source).name if source else "template"
    for role in LAYOUTS:
        if role in chosen:
            roles[role] = _place(role, chosen[role], "yaml", size)
        elif role in named:
            roles[role] = _place(role, named[role], "named", size)
        elif (best := _best(role, layouts, size, hints)) is not None:
            roles[role] = _place(role, best[0], "auto", size)
    for role, fallback in (("section", "title"), ("two_charts", "chart"), ("title", "chart"), ("section", "chart")):
        if role not in roles and fallback in roles:
            roles[role] = _place(role, roles[fallback].layout, "fallback", size)
    missing = [r for r in LAYOUTS if r not in roles]
    if missing:
        raise PackError([Problem(name, "layouts", "no layout has a title placeholder across the top of the slide, "
                                 f"which cemkit needs for {', '.join(missing)} slides; add one (Slide Master view) "
                                 "or see docs/templates.md")])
    return MasterMap(str(source), size, tuple(layouts), roles, str(overrides) if overrides else None)


# ----------------------------------------------------------------------------------------- reporting
def _cm(v: int) -> str:
    return f"{v / 360000:.1f}"


def _box_cm(b: Box) -> str:
    return f"{_cm(b[0])}, {_cm(b[1])}  {_cm(b[2])} × {_cm(b[3])}"


def _width(text: str) -> int:
    """Columns a text takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shape_name(size: tuple[int, int]) -> str:
    ratio = size[0] / size[1]
    for name, r in (("16:9", 16 / 9), ("16:10", 1.6), ("4:3", 4 / 3), ("A4", 297 / 210)):
        if abs(ratio - r) < 0.02:
            return name
    return f"{ratio:.2f}:1"


def describe(mm: MasterMap, look: Any = None) -> str:
    """The mapping as ``cemkit template-check`` prints it: role → layout, how it was chosen, content box."""
    W, H = mm.size
    masters = len({lay.master for lay in mm.layouts})
    head = (f"{mm.source}: {_shape_name(mm.size)} slide {_cm(W)} × {_cm(H)} cm ({W:,} × {H:,} EMU), "
            f"{masters} master(s), {len(mm.layouts)} layouts")
    out = [head]
    if look is not None:
        latin, ea = look.theme_fonts
        ea_note = (f"East Asian {ea!r} (used)" if look.east_asian is None else
                   f"East Asian {ea or 'none'!r}: no Chinese glyphs, so cemkit sets {look.east_asian!r} (a:ea)")
        out.append(f"fonts: theme Latin {latin or 'none'!r}; {ea_note}")
        out.append(f"message colour: theme accent {look.accent} (#{look.message_hex}); other series: accents "
                   + ", ".join(str(a) for a in look.series[1:]))
    if mm.overrides:
        out.append(f"choices from {mm.overrides}")
    out.append("boxes in cm from the slide's top-left corner: left, top  width × height")
    width = max(_width(p.layout.label) for p in mm.roles.values())
    for role, p in mm.roles.items():
        boxes = "  |  ".join(_box_cm(b) for b in p.content)
        what = "subtitle" if role in TEXT_ROLES else "content"
        label = p.layout.label + " " * (width - _width(p.layout.label))
        out.append(f"  {role:<11} → {label}  [{p.how}]  {what} {boxes}")
    chart = mm.roles["chart"]
    number = ("the master's slide-number placeholder" if chart.number_ph else
              "a text box" if chart.number else "the master's own (a field on the master)")
    footer = "the master's footer placeholder" if chart.footer_ph else "a text box"
    furniture = f"confidentiality line in {footer}; slide number in {number}; footnote at {_box_cm(chart.footnote)}"
    out.append(f"footer: {furniture}")
    obstacles = sorted({(desc, b) for p in mm.roles.values() for b, desc in p.layout.obstacles})
    if obstacles:
        out.append("kept clear of: " + "; ".join(f"{desc} at {_box_cm(b)}" for desc, b in obstacles[:8])
                   + (f"; … {len(obstacles) - 8} more" if len(obstacles) > 8 else ""))
    if mm.overrides:
        out.append(f"to change a choice: edit one line of {Path(mm.overrides).name}")
    else:
        out.append(f"to change a choice: cemkit template-check {Path(mm.source).name} --write, then edit one line "
                   f"of {overrides_path(mm.source).name}")
    return "\n".join(out)


def yaml_text(mm: MasterMap) -> str:
    """The YAML a consultant edits to change a choice (one line per role)."""
    lines = [f"# Layout of {Path(mm.source).name} for each cemkit slide role, as `cemkit template-check` chose them.",
             "# Change a line to use another layout (names as in Slide Master view); delete a line to let cemkit",
             "# choose. Several masters with the same layout name: {layout: NAME, master: N} (masters count from 1)."]
    for role, p in mm.roles.items():
        same = [lay for lay in mm.layouts if lay.name == p.layout.name]
        quoted = '"' + p.layout.name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        value = f"{{layout: {quoted}, master: {p.layout.master}}}" if len(same) > 1 else quoted
        lines.append(f"{role}: {value}")
    return "\n".join(lines) + "\n"
