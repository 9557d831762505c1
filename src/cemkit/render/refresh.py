"""Refresh a deck the consultant has edited with a new run's results: ``cemkit refresh EDITED.pptx --run RUN
--out NEW.pptx``.

A consultant reworks the deck cemkit wrote — moves and resizes charts, rewrites titles, deletes slides, adds
their own — and a month later the tracker's next wave arrives. ``refresh`` finds every slide and shape cemkit
drew by the tags it left on them (:mod:`cemkit.render.tags`: slides by storyline id and page, shapes by
role) and brings each to the new run, keeping the edits:

* **native charts** get the new categories and values with ``chart.replace_data`` (:func:`charts.update`):
  the chart keeps its place, size and formatting; every series' number format is given again (python-pptx
  issue #666) and the styling that follows the data (the highlighted bar, bars below zero, the NPS at the
  end of composition bars) is applied again. A chart that cannot take new data as it is — the priority
  matrix, whose points, labels and median lines are all laid out from the data, or a chart whose number of
  series changed (the wave trend turning from bars into lines at its fourth wave) — is drawn again in the
  same place and size, and the report says so.
* **tables** get the new cell texts in place (the cells keep their formatting); rows are added or removed
  to fit the new rows; red/green and greyed low-base text follow the new values.
* **texts** (title, subtitle, takeaway, footnote, executive summary, speaker notes): a text nobody edited is
  replaced by the new one; an edited text keeps the consultant's words and gets each number or name that
  changed replaced where its old value stands exactly once; what cannot be found is listed.
* **slide numbers** follow the slides' order.

Whatever could not be refreshed is listed in the report — never silently stale: a slide whose result the
new run lacks (kept as it was), an edited text whose old number is not in it, a finding that changed its
form (the new title would read differently), a table that grew past its slides, a new slide the deck lacks.
Slides the consultant added are kept untouched; slides they deleted stay deleted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pptx import Presentation

from ..i18n import t
from ..results import load_all
from ..storyline import load_storyline, optional_text, pick_text
from . import charts, style, tables, theme
from .plan import PlannedSlide, footnote_text, plan_slides, summary_findings
from .summary import fill_findings, summary_results
from .tags import (
    DECK_TAG,
    FIELDS_TAG,
    ID_TAG,
    NOTES_TAG,
    PAGE_TAG,
    SLIDE_TAG,
    TEXT_TAG,
    get_slide_tags,
    get_tags,
    tag_shape,
)

__all__ = ["RefreshReport", "refresh_deck"]


@dataclass
class RefreshReport:
    """What a refresh did: ``refreshed`` (updated items), ``stale`` (left as they were: check them),
    ``notes`` (information: charts drawn again, slides kept or deleted)."""

    refreshed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    slides: int = 0  # slides drawn by cemkit found in the deck

    def lines(self) -> list[str]:
        out = [f"cemkit slides found: {self.slides}; refreshed: {len(self.refreshed)} item(s)"]
        out += [f"NOT REFRESHED: {s}" for s in self.stale]
        out += [f"note: {s}" for s in self.notes]
        return out

    def to_dict(self) -> dict[str, list[str]]:
        return {"refreshed": self.refreshed, "not_refreshed": self.stale, "notes": self.notes}


def refresh_deck(deck_path: str | Path, run_dir: str | Path, out_path: str | Path, pack, *, lang: str,
                 base_facts: dict) -> RefreshReport:
    """Bring the cemkit slides and shapes of ``deck_path`` to the results of ``run_dir`` and save the deck as
    ``out_path`` (see the module docstring). ``base_facts`` are the facts every slide has (as for
    :func:`cemkit.render.pptx.build_deck`)."""
    prs = Presentation(str(deck_path))
    results = load_all(run_dir)
    results.update(summary_results(results))  # the executive summary's render-time results, as build_deck
    planned = plan_slides(load_storyline(pack), results, base_facts, lang)
    plan = {p.spec.id: p for p in planned}
    findings = summary_findings(planned, base_facts, lang)
    fill_findings(planned, findings)
    report = RefreshReport()
    ctx = _Context(lang, base_facts, findings, report)
    with theme.use(theme.read_look(prs.slide_masters[0])):  # a chart drawn again takes the deck's own look
        present, original = _refresh_slides(ctx, prs, plan)
    for sid in original:
        if sid not in present and sid in plan:
            report.notes.append(f"slide '{sid}' was deleted from the deck: not restored")
    for sid in plan:
        if sid not in present and sid not in original:
            report.stale.append(f"slide '{sid}' is new in this run and not in the deck: copy it from the run's "
                                "report.pptx")
    prs.save(str(out_path))
    return report


def _refresh_slides(ctx: _Context, prs, plan: dict) -> tuple[set[str], list[str]]:
    """Refresh every slide cemkit drew; return the storyline ids present and those the deck first had."""
    report = ctx.report
    present: set[str] = set()
    original: list[str] = []
    for number, slide in enumerate(prs.slides, start=1):
        stags = get_slide_tags(slide)
        sid = stags.get(SLIDE_TAG)
        if not original and stags.get(DECK_TAG):
            original = stags[DECK_TAG].split(",")
        if not sid:
            report.notes.append(f"slide {number}: not drawn by cemkit (kept as it is)")
            continue
        present.add(sid)
        report.slides += 1
        item = plan.get(sid)
        where = f"slide {number} ({sid})"
        if item is None:
            report.stale.append(f"{where}: the new run has no result for this slide (too little data, or one "
                                "wave only); left as it was — check it or delete it")
            _renumber(slide, number)
            continue
        page, pages, parts = _page(stags.get(PAGE_TAG))
        _refresh_slide(ctx, slide, item, where, (page, pages, parts), number)
    return present, original


@dataclass
class _Context:
    lang: str
    base_facts: dict
    findings: list[str]
    report: RefreshReport


def _page(text: str | None) -> tuple[int, int, int]:
    """A slide's page tag: "k/n" (page k of n), or "k/n/p" when each page holds p pieces side by side."""
    try:
        nums = [int(x) for x in str(text).split("/")]
    except ValueError:
        return 1, 1, 1
    return (*nums, 1) if len(nums) == 2 else tuple(nums) if len(nums) == 3 else (1, 1, 1)


# -------------------------------------------------------------------------------------------------- slides
def _refresh_slide(ctx: _Context, slide, item: PlannedSlide, where: str, at: tuple[int, int, int],
                   number: int) -> None:
    spec, lang = item.spec, ctx.lang
    page, pages, parts = at
    for shape in list(slide.shapes):
        tags = get_tags(slide, shape)
        kind = tags.get(ID_TAG)
        if not kind:
            continue
        if kind == "title":
            fields: list = []
            new = pick_text(spec.title, item.facts, lang, record=fields)
            if page > 1:
                new += t("continued", lang, page=page, pages=pages)
            _refresh_text(ctx, slide, shape, tags, new, fields, f"{where} title")
        elif kind in ("subtitle", "takeaway"):
            fields = []
            alts = spec.subtitle if kind == "subtitle" else spec.takeaway
            _refresh_text(ctx, slide, shape, tags, optional_text(alts, item.facts, lang, record=fields), fields,
                          f"{where} {kind}")
        elif kind == "footnote" and item.result is not None:
            _refresh_text(ctx, slide, shape, tags, footnote_text(item.result.meta, ctx.base_facts, lang), [],
                          f"{where} footnote")
        elif kind == "findings":
            new = "\n".join(f"{i + 1}.  {text}" for i, text in enumerate(ctx.findings))
            _refresh_text(ctx, slide, shape, tags, new, [], f"{where} executive summary")
        elif kind == "slide_number":
            _set_text(shape, str(number))
            tag_shape(slide, shape, kind, str(number))
        elif kind in ("chart", "chart2") or kind.startswith(("chart/", "chart2/", "chart@")):
            part = int(kind.split("@")[1]) if "@" in kind else 1
            _refresh_chart(ctx, slide, shape, kind, item, _page_rows(item, page, pages, parts, part), where)
    notes = optional_text(spec.notes, item.facts, lang)
    stags = get_slide_tags(slide)
    if slide.has_notes_slide:
        tf = slide.notes_slide.notes_text_frame
        if tf.text == stags.get(NOTES_TAG, ""):
            if tf.text != notes:
                _set_text_frame(tf, notes)
                ctx.report.refreshed.append(f"{where} speaker notes")
        elif notes != stags.get(NOTES_TAG, ""):
            ctx.report.stale.append(f"{where} speaker notes: edited by hand, the new run's notes differ — "
                                    f"new notes: {notes!r}")
    from .tags import set_slide_tags

    set_slide_tags(slide, {**stags, NOTES_TAG: notes})


def _renumber(slide, number: int) -> None:
    for shape in slide.shapes:
        if get_tags(slide, shape).get(ID_TAG) == "slide_number":
            _set_text(shape, str(number))
            tag_shape(slide, shape, "slide_number", str(number))


def _page_rows(item: PlannedSlide, page: int, pages: int, parts: int = 1, part: int = 1) -> pd.DataFrame | None:
    """The rows of the new table shown on page ``page`` of ``pages`` (the deck's pages, equal shares), piece
    ``part`` of the ``parts`` side by side on it."""
    if item.result is None or item.spec.chart is None:
        return None
    df = charts.prepare_table(item.result.table, item.spec.chart)
    if item.spec.chart.type not in charts.TABULAR or pages * parts <= 1:
        return df
    spec = item.spec.chart
    pieces = tables.split_rows(df, pages * parts, by=spec.category if spec.type == "heatmap" else None)
    i = (page - 1) * parts + part - 1
    return pieces[i] if i < len(pieces) else df.iloc[:0]


# ---------------------------------------------------------------------------------------------------- text
def _shape_text(shape) -> str:
    return shape.text_frame.text if getattr(shape, "has_text_frame", False) else ""


def _set_text(shape, text: str) -> None:
    _set_text_frame(shape.text_frame, text)


def _set_text_frame(tf, text: str) -> None:
    """New text in a text frame, keeping the formatting of each paragraph's first run (a paragraph added
    copies the last one)."""
    from copy import deepcopy

    lines = text.split("\n")
    paras = list(tf.paragraphs)
    for i, line in enumerate(lines):
        if i < len(paras):
            p = paras[i]
        else:
            last = paras[-1]._p
            new = deepcopy(last)
            last.addnext(new)
            p = type(paras[-1])(new, paras[-1]._parent)
            paras.append(p)
        runs = p.runs
        if runs:
            runs[0].text = line
            for r in runs[1:]:
                r._r.getparent().remove(r._r)
        else:
            p.text = line
    for p in paras[len(lines):]:
        p._p.getparent().remove(p._p)


def _number_pattern(old: str) -> re.Pattern:
    """Where an old value stands in a sentence: a number not inside a longer number."""
    if re.fullmatch(r"[-+]?[\d,]*\.?\d+%?", old):
        return re.compile(r"(?<![\d.,])" + re.escape(old) + r"(?![\d])")
    return re.compile(re.escape(old))


def _refresh_text(ctx: _Context, slide, shape, tags: dict, new: str, new_fields: list, what: str) -> None:
    old = tags.get(TEXT_TAG)
    current = _shape_text(shape)
    kind = tags.get(ID_TAG, "")
    if old is None:
        return
    if current == old:  # nobody edited it
        if new != old:
            _set_text(shape, new)
            ctx.report.refreshed.append(what)
        tag_shape(slide, shape, kind, new, new_fields)
        return
    if new == old:  # edited, and the new run says the same
        return
    old_fields = json.loads(tags.get(FIELDS_TAG) or "[]")
    new_by = {(f[0], f[1]): f[2] for f in new_fields}
    missing = [f for f in old_fields if (f[0], f[1]) not in new_by]
    changes = [(f[2], new_by[(f[0], f[1])], f[0]) for f in old_fields
               if (f[0], f[1]) in new_by and new_by[(f[0], f[1])] != f[2]]
    done, failed = [], []
    for before, after, fact in changes:
        if _replace_once(shape, before, after):
            done.append(f"{before} → {after}")
        else:
            failed.append(f"{fact} {before!r} → {after!r}")
    if done:
        ctx.report.refreshed.append(f"{what} (edited by hand; updated {', '.join(done)})")
    why = []
    if failed:
        why.append("could not find " + "; ".join(failed) + " in the edited text")
    if missing:
        why.append("the finding changed its form")
    if not old_fields:
        why.append("the new text differs")
    if why:
        ctx.report.stale.append(f"{what}: edited by hand and {' and '.join(why)} — the new text reads: {new!r}")
    tag_shape(slide, shape, kind, new, new_fields)  # the next refresh compares with this run's text


def _replace_once(shape, before: str, after: str) -> bool:
    """Replace the one place ``before`` stands in the shape's text (inside one run, formatting kept)."""
    pattern = _number_pattern(before)
    if len(pattern.findall(_shape_text(shape))) != 1:
        return False
    for p in shape.text_frame.paragraphs:
        for r in p.runs:
            if len(pattern.findall(r.text)) == 1:
                r.text = pattern.sub(lambda _m: after, r.text)
                return True
    return False  # split across runs: not safely replaceable


# -------------------------------------------------------------------------------------------------- charts
def _box(shape) -> tuple[int, int, int, int]:
    return shape.left, shape.top, shape.width, shape.height


def _refresh_chart(ctx: _Context, slide, shape, kind: str, item: PlannedSlide, rows: pd.DataFrame | None,
                   where: str) -> None:
    spec = item.spec.chart2 if kind.startswith("chart2") else item.spec.chart
    if spec is None or rows is None or item.result is None:
        ctx.report.stale.append(f"{where} {kind}: the new run has no data for it; left as it was")
        return
    df = rows if kind.startswith("chart") and not kind.startswith("chart2") else \
        charts.prepare_table(item.result.table, spec)
    if "/" in kind:  # one shape of a quote wall
        _refresh_quote(ctx, slide, shape, kind, df, spec, where)
        return
    if getattr(shape, "has_chart", False) and charts.update(shape.chart, df, spec, ctx.lang):
        ctx.report.refreshed.append(f"{where} chart")
        return
    if getattr(shape, "has_table", False) and spec.type == "table":
        if _refresh_table(ctx, shape.table, df, spec, where, item.result.meta):
            ctx.report.refreshed.append(f"{where} table")
        return
    # drawn again in the same place and size (a scatter, a heat map, a chart whose series changed)
    box = _box(shape)
    shape.element.getparent().remove(shape.element)
    drawn = charts.draw_prepared(slide, box, df, spec, ctx.lang, item.result.meta)
    tag_shape(slide, drawn, kind, drawn.text_frame.text if getattr(drawn, "has_text_frame", False) else None)
    ctx.report.refreshed.append(f"{where} {spec.type} drawn again in its place (its own formatting reset)")


def _refresh_quote(ctx: _Context, slide, shape, kind: str, df: pd.DataFrame, spec, where: str) -> None:
    i = int(kind.split("/")[1])
    tags = get_tags(slide, shape)
    if i >= len(df):
        ctx.report.stale.append(f"{where} quote {i + 1}: the new run has fewer quotes; left as it was")
        return
    row = df.iloc[i]
    new = f"{row.get(spec.label or 'theme_name', '')}\n“{row.get(spec.y or 'quote', '')}”"
    _refresh_text(ctx, slide, shape, tags, new, [], f"{where} quote {i + 1}")


def _refresh_table(ctx: _Context, table, df: pd.DataFrame, spec, where: str, meta: dict | None = None) -> bool:
    """New cell texts in place; rows added (copies of the last) or removed; colours that follow the values
    (low bases grey, the ``colour_by`` column red / green by the new run's significance, as a new deck draws)."""
    from copy import deepcopy

    cols, _, body = tables.table_cells(df, spec, ctx.lang)
    tbl = table._tbl
    trs = tbl.tr_lst
    if len(trs) < 2 and body:
        ctx.report.stale.append(f"{where} table: it has no body row to fill; left as it was")
        return False
    while len(tbl.tr_lst) - 1 < len(body):
        tbl.tr_lst[-1].addnext(deepcopy(tbl.tr_lst[-1]))
    while len(tbl.tr_lst) - 1 > max(len(body), 1):
        tr = tbl.tr_lst[-1]
        tr.getparent().remove(tr)
    if len(table.columns) != len(cols):
        ctx.report.stale.append(f"{where} table: its columns were changed by hand; left as it was")
        return False
    flags = df["flag"].tolist() if "flag" in df else ["ok"] * len(df)
    sig = tables.significance_colours(df, meta)
    for i, texts in enumerate(body, start=1):
        for j, (c, text) in enumerate(zip(cols, texts)):
            cell = table.cell(i, j)
            _set_text_frame(cell.text_frame, text)
            v = df[c].iloc[i - 1]
            colour = tables.cell_colour(v, c, spec, flags[i - 1], sig[i - 1]) or style.TEXT
            for r in cell.text_frame.paragraphs[0].runs:
                r.font.color.rgb = colour
    if not body:
        for j in range(len(cols)):
            _set_text_frame(table.cell(1, j).text_frame, "–")
    if len(body) > tables.MAX_TABLE_ROWS:
        ctx.report.stale.append(f"{where} table: {len(body)} rows now (more than fit on one slide): check the "
                                "layout or split it")
    return True

