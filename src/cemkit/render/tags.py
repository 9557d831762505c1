"""PowerPoint tags: the stable ids cemkit writes on the slides and shapes it draws, so that ``cemkit refresh``
finds them again in a deck the consultant has edited (moved, restyled, retitled, slides deleted or added).

A tag is PowerPoint's own way for an add-in to keep data on a slide or a shape (VBA ``Shape.Tags``): a
``<p:custDataLst><p:tags r:id=…/></p:custDataLst>`` reference to a ``/ppt/tags/tagN.xml`` part holding
``<p:tag name=… val=…/>`` pairs. PowerPoint keeps them through edits and copies them with a copied shape or
slide; the user never sees them. python-pptx has no API for them: this module is the one place that knows
the XML. Names are upper case (PowerPoint upper-cases tag names).

A value may hold what XML 1.0 cannot (the vertical tab python-pptx returns for a line break inside a
paragraph, any control character a client typed): such characters are written as ``_xHHHH_`` — the escape
OOXML uses for the same characters in text (ST_Xstring) — and read back as they were.
"""

from __future__ import annotations

import re

from lxml import etree
from pptx.opc.constants import CONTENT_TYPE as CT
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.opc.package import Part
from pptx.oxml.ns import qn

__all__ = ["DECK_TAG", "FIELDS_TAG", "ID_TAG", "NOTES_TAG", "PAGE_TAG", "SLIDE_TAG", "TEXT_TAG", "get_slide_tags", "get_tags",
           "set_slide_tags", "set_tags", "shape_id", "tag_shape"]

SLIDE_TAG = "CEMKIT_SLIDE"   # on a slide: the storyline id of the slide it was drawn for
PAGE_TAG = "CEMKIT_PAGE"     # on a slide: "k/n", page k of a table continued over n slides
NOTES_TAG = "CEMKIT_NOTES"   # on a slide: the speaker notes cemkit wrote
DECK_TAG = "CEMKIT_DECK"     # on a slide: the storyline ids of every slide of the deck as cemkit wrote it
ID_TAG = "CEMKIT_ID"         # on a shape: title, subtitle, findings, chart, chart2, chart/0…, takeaway, footnote, …
TEXT_TAG = "CEMKIT_TEXT"     # on a text shape: the text cemkit wrote
FIELDS_TAG = "CEMKIT_FIELDS" # on a text shape: JSON [[fact, spec, text shown], …] of the facts filled in

_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
# children of p:nvPr after which custDataLst goes (schema order: ph, media, custDataLst, extLst)
_NVPR_BEFORE = (qn("p:extLst"),)
# children of p:cSld after which custDataLst goes (schema order: bg, spTree, custDataLst, controls, extLst)
_CSLD_BEFORE = (qn("p:controls"), qn("p:extLst"))


# characters XML 1.0 cannot hold, and an underscore that starts what reads as an escape (so it round-trips)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def _xml_text(value: str) -> str:
    return _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def _blob(tags: dict[str, str]) -> bytes:
    root = etree.Element(qn("p:tagLst"), nsmap={"p": _P, "r": _R})
    for name, val in tags.items():
        etree.SubElement(root, qn("p:tag"), name=_xml_text(str(name).upper()), val=_xml_text(str(val)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _read(blob: bytes) -> dict[str, str]:
    root = etree.fromstring(blob)
    back = lambda s: _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s)
    return {back(t.get("name")): back(t.get("val") or "") for t in root.iter(qn("p:tag"))}


def _nvpr(shape_element):
    """The ``p:nvPr`` of a shape (sp, pic, graphicFrame, grpSp, cxnSp)."""
    for child in shape_element:
        if child.tag.startswith(f"{{{_P}}}nv"):
            nv = child.find(qn("p:nvPr"))
            if nv is not None:
                return nv
    return None


def _attach(slide_part, parent, before: tuple[str, ...], tags: dict[str, str]) -> None:
    """Replace the tags under ``parent`` (a p:nvPr or p:cSld) with ``tags`` in a new tags part."""
    for old in parent.findall(qn("p:custDataLst")):
        parent.remove(old)
    part = Part(slide_part.package.next_partname("/ppt/tags/tag%d.xml"), CT.PML_TAGS, slide_part.package,
                _blob(tags))
    rid = slide_part.relate_to(part, RT.TAGS)
    lst = etree.Element(qn("p:custDataLst"))
    etree.SubElement(lst, qn("p:tags"), {qn("r:id"): rid})
    anchor = next((c for c in parent if c.tag in before), None)
    if anchor is None:
        parent.append(lst)
    else:
        anchor.addprevious(lst)


def _lookup(slide_part, parent) -> dict[str, str]:
    if parent is None:
        return {}
    out: dict[str, str] = {}
    for ref in parent.iterfind(f"{qn('p:custDataLst')}/{qn('p:tags')}"):
        rid = ref.get(qn("r:id"))
        try:
            out.update(_read(slide_part.related_part(rid).blob))
        except (KeyError, etree.XMLSyntaxError):  # a dangling or broken reference: no tags
            continue
    return out


def set_tags(slide, shape, tags: dict[str, str]) -> None:
    """Write ``tags`` on a shape of ``slide`` (replacing its tags)."""
    nv = _nvpr(shape.element)
    if nv is None:
        raise ValueError(f"shape {shape.name!r} has no non-visual properties to tag")
    _attach(slide.part, nv, _NVPR_BEFORE, tags)


def get_tags(slide, shape) -> dict[str, str]:
    """The tags of a shape ({} when it has none)."""
    return _lookup(slide.part, _nvpr(shape.element))


def set_slide_tags(slide, tags: dict[str, str]) -> None:
    _attach(slide.part, slide.element.find(qn("p:cSld")), _CSLD_BEFORE, tags)


def get_slide_tags(slide) -> dict[str, str]:
    return _lookup(slide.part, slide.element.find(qn("p:cSld")))


def tag_shape(slide, shape, kind: str, text: str | None = None, fields: list | None = None) -> None:
    """Tag a shape cemkit drew with its id (``kind``), the text it wrote and the facts filled into it."""
    import json

    tags = {ID_TAG: kind}
    if text is not None:
        tags[TEXT_TAG] = text
    if fields:
        tags[FIELDS_TAG] = json.dumps(fields, ensure_ascii=False)
    set_tags(slide, shape, tags)


def shape_id(slide, shape) -> str | None:
    """The id cemkit gave a shape (None for a shape cemkit did not draw)."""
    return get_tags(slide, shape).get(ID_TAG)
