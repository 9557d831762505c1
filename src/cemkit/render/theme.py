"""The master's look, read from its theme: the fonts and colours cemkit's deck takes from a template.

- **Fonts.** Text cemkit writes names no Latin face: it inherits the master's theme fonts (and the title its
  title style). The East Asian face (``a:ea``, python-pptx issue #768) is set on runs only where the master
  names none that has Chinese glyphs: a theme whose East Asian font is empty or a Latin-only face (LibreOffice
  exports put DejaVu Sans there) gets the theme's Simplified-Chinese script font when it lists one, else
  :data:`cemkit.render.fonts.EAST_ASIAN`.
- **Colours.** The message colour (the worst stage, the top driver, the last wave, table headers) is the first
  theme accent that reads on white (contrast ≥ 3:1, WCAG 2.1) and is neither grey nor confusable with the
  semantic red or green; other series take the master's remaining accents. Semantic colours stay fixed
  (:data:`cemkit.render.style.SERIES_COLOURS`: NPS red / grey / green, P1–P3 alerts, negative mentions).

:func:`use` makes a :class:`Look` current while a deck is drawn; charts drawn outside a deck use
:data:`DEFAULT_LOOK` (cemkit's own master: accent 1, Arial + Microsoft YaHei on every run).
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from lxml import etree

from . import fonts

__all__ = ["DEFAULT_LOOK", "Look", "contrast_on_white", "current", "is_cjk_face", "luminance", "read_look",
           "scheme_colours", "theme_root", "use"]

A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
ACCENTS = tuple(f"accent{i}" for i in range(1, 7))
SEMANTIC_HUES = (5.0, 146.0)   # hue (degrees) of the semantic red C0392B and green 2E8B57
HUE_CLEARANCE = 25.0

# Families with Chinese glyphs (lower case substrings); a name in CJK characters counts as one too.
_CJK_HINTS = (
    "yahei", "jhenghei", "simsun", "simhei", "fangsong", "kaiti", "dengxian", "pingfang", "hiragino", "heiti",
    "songti", "stsong", "stxihei", "stkaiti", "stfangsong", "cjk", "source han", "han sans", "han serif",
    "noto sans sc", "noto sans tc", "noto serif sc", "noto serif tc", "wenquanyi", "wqy", "droid sans fallback",
    "mingliu", "ms gothic", "ms mincho", "meiryo", "yu gothic", "yu mincho", "malgun", "batang", "gulim", "dotum",
    "sarasa", "lxgw", "harmonyos sans sc", "alibaba puhuiti", "fzltxh", "fzlanting", "lantinghei", "youyuan",
    "lisu", "stzhongsong",
)


@dataclass(frozen=True)
class Look:
    """Fonts and colours cemkit uses on one master (see the module docstring)."""

    latin: str | None                 # set on runs; None: inherit the theme's Latin face
    east_asian: str | None            # set on runs as a:ea; None: the theme names a CJK face, inherit it
    accent: int = 1                   # theme accent (1–6) of the message colour
    series: tuple[int, ...] = (1, 2, 3, 4, 5, 6)   # accents for series without a semantic colour, in order
    accent_hex: tuple[str, ...] = ()  # the theme's accent1–6 as hex (for template-check)
    theme_fonts: tuple[str, str] = ("", "")        # the theme's minor (body) Latin and East Asian faces

    @property
    def message_hex(self) -> str:
        return self.accent_hex[self.accent - 1] if self.accent_hex else ""


DEFAULT_LOOK = Look(latin=fonts.LATIN, east_asian=fonts.EAST_ASIAN)
_CURRENT: ContextVar[Look] = ContextVar("cemkit_look", default=DEFAULT_LOOK)


def current() -> Look:
    return _CURRENT.get()


@contextmanager
def use(look: Look) -> Iterator[Look]:
    """Draw with ``look`` (fonts on runs, accent colours) inside the block."""
    token = _CURRENT.set(look)
    with fonts.faces(look.latin, look.east_asian):
        try:
            yield look
        finally:
            _CURRENT.reset(token)


# ---------------------------------------------------------------------------------------------- reading
def theme_root(master) -> etree._Element | None:
    """The parsed theme part of a slide master (None when the master has no theme)."""
    for rel in master.part.rels.values():
        if rel.reltype.endswith("/theme"):
            return etree.fromstring(rel.target_part.blob)
    return None


def _colour(el) -> str | None:
    """Hex of a theme colour definition (srgbClr, or sysClr's last colour)."""
    if el is None:
        return None
    for child in el:
        if child.tag == f"{A}srgbClr":
            return child.get("val", "").upper() or None
        if child.tag == f"{A}sysClr":
            return (child.get("lastClr") or ("000000" if child.get("val") == "windowText" else "FFFFFF")).upper()
    return None


def scheme_colours(root) -> dict[str, str]:
    """dk1, lt1, dk2, lt2, accent1–6 … of a theme, as hex."""
    scheme = root.find(f".//{A}clrScheme") if root is not None else None
    if scheme is None:
        return {}
    return {child.tag.replace(A, ""): hx for child in scheme if (hx := _colour(child))}


def is_cjk_face(name: str | None) -> bool:
    """Whether a font family has Chinese glyphs (by name: a known CJK family, or a name in CJK characters)."""
    if not name or name.startswith("+"):
        return False
    if any(ord(ch) >= 0x2E80 for ch in name):
        return True
    low = name.lower()
    return any(h in low for h in _CJK_HINTS)


def _font_faces(root) -> tuple[str, str, str]:
    """The theme's minor (body) Latin face, East Asian face and Simplified-Chinese script face."""
    minor = root.find(f".//{A}fontScheme/{A}minorFont") if root is not None else None
    if minor is None:
        return "", "", ""
    latin = minor.find(f"{A}latin")
    ea = minor.find(f"{A}ea")
    hans = next((f.get("typeface", "") for f in minor.findall(f"{A}font") if f.get("script") == "Hans"), "")
    return (latin.get("typeface", "") if latin is not None else "", ea.get("typeface", "") if ea is not None else "",
            hans)


def luminance(hx: str) -> float:
    """Relative luminance (WCAG 2.1) of a hex colour."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hx[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast_on_white(hx: str) -> float:
    """WCAG 2.1 contrast ratio of a hex colour against white (1 to 21)."""
    return 1.05 / (luminance(hx) + 0.05)


def _usable_accent(hx: str) -> bool:
    """Reads on white, is a colour (not a grey), and is not confused with the semantic red or green."""
    r, g, b = (int(hx[i:i + 2], 16) / 255 for i in (0, 2, 4))
    h, _, s = colorsys.rgb_to_hls(r, g, b)
    hue = h * 360
    clash = any(min(abs(hue - sh), 360 - abs(hue - sh)) < HUE_CLEARANCE for sh in SEMANTIC_HUES)
    return contrast_on_white(hx) >= 3.0 and s >= 0.25 and not clash


def read_look(master) -> Look:
    """The look of one slide master: its theme's fonts and accents (see the module docstring)."""
    root = theme_root(master)
    colours = scheme_colours(root)
    accent_hex = tuple(colours.get(a, "") for a in ACCENTS)
    usable = [i + 1 for i, hx in enumerate(accent_hex) if hx and _usable_accent(hx)]
    readable = [i + 1 for i, hx in enumerate(accent_hex) if hx and contrast_on_white(hx) >= 3.0]
    accent = (usable or readable or [1])[0]
    rest = [i for i in (*usable, *readable, *range(1, 7)) if i != accent]
    series = tuple(dict.fromkeys([accent, *rest]))
    latin, ea, hans = _font_faces(root)
    east_asian = None if is_cjk_face(ea) else (hans if is_cjk_face(hans) else fonts.EAST_ASIAN)
    return Look(latin=None, east_asian=east_asian, accent=accent, series=series, accent_hex=accent_hex,
                theme_fonts=(latin, ea))
