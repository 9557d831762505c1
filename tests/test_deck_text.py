"""Deck hygiene read back from the saved .pptx (zh and en): no "None", "nan" or "-0" anywhere on a slide, Chinese
titles on one line within 32 characters and English ones within 90, speaker notes on every content slide, at
most three dividers, no table of more than 12 rows outside the appendix, and a cover that reads well without
a client name."""

from __future__ import annotations

import re

import pytest
from pptx import Presentation
from render_fixtures import write_run

from cemkit.render.pptx import build_deck

MINUS_ZERO = re.compile(r"(?<![\d.])-0(?![.\d])")
BAD = re.compile(r"\b(None|nan|NaN)\b")


def slide_texts(slide) -> list[str]:
    """Every text a reader sees: text frames, table cells, chart categories and series names."""
    out = []
    for sh in slide.shapes:
        if sh.has_text_frame:
            out.append(sh.text_frame.text)
        if sh.has_table:
            out += [c.text for row in sh.table.rows for c in row.cells]
        if sh.has_chart:
            plot = sh.chart.plots[0]
            out += [str(c) for c in plot.categories]
            out += [s.name for s in plot.series]
    return out


@pytest.fixture(scope="module", params=["zh", "en"])
def deck(request, auto_pack, tmp_path_factory):
    lang = request.param
    run, facts = write_run(tmp_path_factory.mktemp(f"run_{lang}"), auto_pack, lang)
    out = run / "report.pptx"
    summary = build_deck(run, auto_pack, out, lang=lang, client="", base_facts=facts)
    prs = Presentation(str(out))
    return lang, list(zip(summary["ids"], prs.slides))


def test_no_none_nan_or_minus_zero_on_any_slide(deck):
    _, slides = deck
    for sid, slide in slides:
        for text in slide_texts(slide):
            assert not BAD.search(text), (sid, text)
            assert not MINUS_ZERO.search(text), (sid, text)


def test_title_lengths(deck):
    lang, slides = deck
    for sid, slide in slides:
        text = slide.shapes.title.text_frame.text
        if slide.slide_layout.name in ("title", "section"):
            continue
        if lang == "zh":
            base = re.sub(r"（续 \d+/\d+）$", "", text)
            assert len(base) <= 32, (sid, text)
            assert "\n" not in text
        else:
            assert len(re.sub(r" \(continued \d+/\d+\)$", "", text)) <= 90, (sid, text)


def test_notes_on_every_content_slide(deck):
    _, slides = deck
    for sid, slide in slides:
        if slide.slide_layout.name == "title":
            continue
        assert slide.has_notes_slide and len(slide.notes_slide.notes_text_frame.text) >= 20, sid


def test_three_dividers_at_most_and_long_tables_in_the_appendix(deck):
    _, slides = deck
    assert sum(s.slide_layout.name == "section" for _, s in slides) <= 3
    for sid, slide in slides:
        for sh in slide.shapes:
            if sh.has_table and slide.slide_layout.name != "appendix":
                assert len(sh.table.rows) - 1 <= 12, sid


def test_cover_without_a_client_name(deck):
    lang, slides = deck
    cover = slides[0][1].shapes.title.text_frame.text
    assert cover == {"zh": "客户体验洞察报告", "en": "Customer experience insight report"}[lang]
    footer = [sh.text_frame.text for sh in slides[0][1].shapes if sh.name == "Confidential"]
    assert footer and "  " not in footer[0] and not footer[0].endswith(("供", "for"))


def test_summary_opens_with_the_overall_nps_and_three_decisions(deck):
    lang, slides = deck
    sid, slide = slides[1]
    assert sid == "exec_summary"
    # the reporting wave's overall NPS (2024Q2 in the fixtures), with its change against the comparison wave
    assert slide.shapes.title.text_frame.text.startswith({"zh": "2024Q2整体NPS为23，较2024Q1",
                                                          "en": "2024Q2 overall NPS is 23"}[lang])
    table = next(sh.table for sh in slide.shapes if sh.has_table)
    assert len(table.rows) == 1 + 3
    headers = [c.text for c in table.rows[0].cells]
    assert headers == ({"zh": ["决策", "范围", "依据", "预期提升", "负责人", "时限"],
                        "en": ["Decision", "Where", "Why", "Expected uplift", "Owner", "Horizon"]}[lang])
    assert all(table.cell(i, 4).text and table.cell(i, 3).text for i in (1, 2, 3))  # owner and uplift filled


# ---------------------------------------------------------------------------- a real run, end to end
@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from cemkit.cli import main as cli_main

    out = tmp_path_factory.mktemp("demo")
    assert cli_main(["run", "--pack", "auto", "--demo-n", "4000", "--out", str(out), "--quiet"]) == 0
    return next(p for p in out.iterdir() if p.name.startswith("auto-2"))


@pytest.mark.slow
def test_summary_nps_is_the_reporting_waves_nps_by_an_independent_calculation(demo_run):
    import pandas as pd

    from cemkit.results import load

    df = pd.read_parquet(demo_run / "data" / "responses.parquet", columns=["wave", "nps"])
    facts = load(demo_run, "journey_curve").facts
    wave = facts.get("wave_id") or facts.get("wave")
    if isinstance(wave, str) and wave != "__all__":  # the reporting wave (latest by default)
        df = df[df["wave"].astype(str) == wave]
    s = df["nps"].dropna()
    nps = 100 * ((s >= 9).mean() - (s <= 6).mean())  # % promoters minus % detractors, by hand
    title = Presentation(str(demo_run / "report.pptx")).slides[1].shapes.title.text_frame.text
    assert f"整体NPS为{nps:.0f}，" in title or f"整体NPS为{round(nps)}，" in title, (title, nps)
    assert title.startswith(str(wave)), title  # the reporting wave is named


@pytest.mark.slow
def test_a_real_deck_reads_clean_and_leads_with_owned_decisions(demo_run):
    prs = Presentation(str(demo_run / "report.pptx"))
    for n, slide in enumerate(prs.slides, start=1):
        for text in slide_texts(slide):
            assert not BAD.search(text) and not MINUS_ZERO.search(text), (n, text)
        if slide.slide_layout.name not in ("title", "section"):
            assert len(slide.shapes.title.text_frame.text) <= 32 + len("（续 1/2）"), n
            assert slide.has_notes_slide and slide.notes_slide.notes_text_frame.text, n
    table = next(sh.table for sh in prs.slides[1].shapes if sh.has_table)
    rows = [[c.text for c in r.cells] for r in list(table.rows)[1:]]
    assert len(rows) == 3
    for what, where, why, uplift, owner, horizon in rows:
        assert what.startswith("提升") and owner not in ("", "–") and horizon
        assert uplift.startswith("整体NPS +")


# ------------------------------------------------------------------- titles against what their slides plot
@pytest.fixture(scope="module")
def finance_en_run(tmp_path_factory):
    from cemkit.cli import main as cli_main

    out = tmp_path_factory.mktemp("finance_en")
    assert cli_main(["run", "--pack", "finance", "--lang", "en", "--demo-n", "4000", "--out", str(out),
                     "--quiet"]) == 0
    return next(p for p in out.iterdir() if p.name.startswith("finance-2"))


@pytest.mark.slow
@pytest.mark.parametrize("run", ["demo_run", "finance_en_run"])
def test_every_title_says_what_its_own_chart_plots(run, request):
    """Read back from a real deck: each number and name a title states is the one its chart or table shows
    (the lowest bar is the stage called lowest, the share in brackets is that bar's value, the range is the
    table's range, the alerts add up, …); and every slide whose title states facts has such a check."""
    from title_checks import NO_NUMBER_CHECK, check_slide, checked_ids, read_deck

    deck = read_deck(request.getfixturevalue(run) / "report.pptx")
    known = checked_ids() | set(NO_NUMBER_CHECK)
    for s in deck:
        if s["facts"]:
            assert s["id"] in known, f"no title check for slide {s['id']}: {s['title']}"
        check_slide(s, deck)
    assert {"journey_curve", "nps_composition", "themes", "theme_impact"} <= {s["id"] for s in deck}


def test_title_checks_cover_every_storyline_slide_that_states_a_fact():
    """Every slide of the four packs' storylines whose title fills in a fact has a check in title_checks (or
    a reason it has none), so a new slide type cannot slip through unchecked."""
    from title_checks import NO_NUMBER_CHECK, checked_ids

    from cemkit import load_pack
    from cemkit.storyline import load_storyline

    known = checked_ids() | set(NO_NUMBER_CHECK)
    for name in ("auto", "real_estate", "retail", "finance"):
        for spec in load_storyline(load_pack(name)):
            if spec.layout in ("title", "section") or not any("{" in (alt.get("zh") or "") for alt in spec.title):
                continue
            assert spec.id in known, (name, spec.id)


def test_no_table_column_breaks_a_word(deck):
    """Every table column is at least as wide as the longest Latin word in it ("Relationship" broken as
    "Relatio/nship" reads as a typo), on every table slide of the deck, header included."""
    from cemkit.render.fonts import text_width_em

    latin_word = re.compile(r"[A-Za-z][A-Za-z'’-]{3,}")

    _, slides = deck
    checked = 0
    for _, slide in slides:
        for sh in slide.shapes:
            if not sh.has_table:
                continue
            for j, col in enumerate(sh.table.columns):
                need = 0.0
                for i, row in enumerate(sh.table.rows):
                    runs = row.cells[j].text_frame.paragraphs[0].runs
                    size = runs[0].font.size.pt if runs and runs[0].font.size else 10
                    for w in latin_word.findall(row.cells[j].text):
                        need = max(need, (text_width_em(w, bold=i == 0) * size + 12) * 12700)
                assert col.width >= need * 0.999, (j, row.cells[j].text)
                checked += 1
    assert checked > 10


def test_column_widths_keep_words_whole_when_headers_crowd_the_table():
    """An eleven-column English heat map (theme × touchpoint) whose headers alone do not fit on one line: the
    theme column still holds "Relationship" whole, every header word fits its column, and the widths add up."""
    from cemkit.render.fonts import text_width_em
    from cemkit.render.tables import _column_widths

    headers = ["Theme", "Card application", "Activation", "Credit limit", "Statement and repayment", "Instalments",
               "Rewards and offers", "Loan", "Branch service", "Service hotline", "Insurance claims"]
    body = [["Relationship managers and tellers", *["47% (36)"] * 10], ["App and mobile banking", *["– (22)"] * 10]]
    width = 888 * 12700
    got = _column_widths([headers, *body], width, 9)
    assert sum(got) == width
    need = {0: "Relationship", 4: "repayment", 5: "Instalments", 10: "Insurance"}
    for j, word in need.items():
        assert got[j] >= (text_width_em(word, bold=True) * 9 + 12) * 12700 * 0.999, (j, word)
