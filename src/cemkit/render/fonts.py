"""Fonts: East Asian typefaces on PPTX text, and a CJK font registered for matplotlib/seaborn.

python-pptx's ``font.name`` sets only the Latin face (python-pptx issue #768); Chinese text needs an
``<a:ea typeface=…>`` on the run properties or in the master's theme fonts. All deck text goes through
:func:`set_font` so that detail lives in one place. Which faces it sets is the deck's choice (:func:`faces`,
entered by :func:`cemkit.render.theme.use`): on a client master only the East Asian face, and only when the
master names none; outside a deck both Arial and Microsoft YaHei. For matplotlib, :func:`use_cjk_font` registers the Noto Sans CJK SC file that the
``mplfonts`` package ships (no download) and must run after ``seaborn.set_theme`` (which resets fonts).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from pptx.oxml.ns import qn

__all__ = ["EAST_ASIAN", "LATIN", "cjk_font_path", "faces", "set_ea", "set_end_size", "set_font",
           "text_width_em", "use_cjk_font"]

LATIN = "Arial"
EAST_ASIAN = "Microsoft YaHei"
_FACES: ContextVar[tuple[str | None, str | None]] = ContextVar("cemkit_faces", default=(LATIN, EAST_ASIAN))
_CURRENT = object()  # "the faces of the current deck"


@contextmanager
def faces(latin: str | None, east_asian: str | None) -> Iterator[None]:
    """Inside the block, :func:`set_font` and :func:`set_ea` set these faces (None: leave it to the master)."""
    token = _FACES.set((latin, east_asian))
    try:
        yield
    finally:
        _FACES.reset(token)


def set_ea(rpr, typeface=_CURRENT, latin=_CURRENT) -> None:
    """Set the East Asian (and Latin) typeface on an ``a:rPr`` / ``a:defRPr`` element (by default the current
    deck's faces, see :func:`faces`; a face of None is not set)."""
    deck_latin, deck_ea = _FACES.get()
    latin = deck_latin if latin is _CURRENT else latin
    typeface = deck_ea if typeface is _CURRENT else typeface
    for tag, face in (("a:latin", latin), ("a:ea", typeface)):
        if face is None:
            continue
        el = rpr.find(qn(tag))
        if el is None:
            el = rpr.makeelement(qn(tag), {})
            # schema order: ln, fill, effect, highlight, uLnTx, uLn, uFillTx, uFill, latin, ea, cs, sym
            cs = rpr.find(qn("a:cs"))
            sym = rpr.find(qn("a:sym"))
            anchor = cs if cs is not None else sym
            if tag == "a:latin" and rpr.find(qn("a:ea")) is not None:
                anchor = rpr.find(qn("a:ea"))
            if anchor is not None:
                anchor.addprevious(el)
            else:
                rpr.append(el)
        el.set("typeface", face)


def set_font(font, size=None, bold=None, color=None, typeface=_CURRENT, latin=_CURRENT) -> None:
    """Style a python-pptx ``Font`` (of a run, paragraph or chart text) with the deck's faces (:func:`faces`)."""
    if size is not None:
        font.size = size
    if bold is not None:
        font.bold = bold
    if color is not None:
        font.color.rgb = color
    rpr = font._rPr if hasattr(font, "_rPr") else font._element
    set_ea(rpr, typeface, latin)


def set_end_size(paragraph, size) -> None:
    """Font size of a paragraph's end mark (``a:endParaRPr``): the line height of an empty paragraph."""
    end = paragraph._p.get_or_add_endParaRPr()
    end.set("sz", str(int(size.pt * 100)))
    set_ea(end)


def text_width_em(text: str, bold: bool = False) -> float:
    """Approximate width of a one-line text in ems of its font size (Arial / YaHei metrics).

    CJK ideographs and full-width punctuation are 1 em; Latin capitals ≈ 0.67, digits and lower case ≈ 0.55,
    spaces and narrow punctuation ≈ 0.3. Bold adds 5 %. Good to a few per cent for titles and labels, which is
    all the layout decisions (title size, label placement) need.
    """
    em = 0.0
    for ch in text:
        code = ord(ch)
        if code >= 0x2E80 or 0xFF00 <= code <= 0xFFEF or ch in "“”‘’":
            em += 1.0
        elif ch.isupper():
            em += 0.67
        elif ch in " .,:;!|()[]'-/":
            em += 0.3
        else:
            em += 0.55
    return em * (1.05 if bold else 1.0)


def cjk_font_path() -> Path | None:
    """Path of the Noto Sans CJK SC font shipped by mplfonts, if installed."""
    try:
        import mplfonts
    except ImportError:
        return None
    root = Path(mplfonts.__file__).parent / "fonts"
    for name in ("NotoSansCJKsc-Regular.otf", "NotoSansMonoCJKsc-Regular.otf"):
        hits = list(root.rglob(name))
        if hits:
            return hits[0]
    hits = sorted(root.rglob("*CJK*"))
    return hits[0] if hits else None


def use_cjk_font() -> str | None:
    """Register the CJK font with matplotlib and make it the default sans-serif. Returns its family name."""
    import matplotlib as mpl
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(path)).get_name()
    mpl.rcParams["font.family"] = "sans-serif"
    mpl.rcParams["font.sans-serif"] = [family, *mpl.rcParams["font.sans-serif"]]
    mpl.rcParams["axes.unicode_minus"] = False
    return family
