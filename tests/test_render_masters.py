"""Decks on client masters as they are (tests/master_fixtures.py): layouts mapped to roles whatever their names,
any slide size, every shape inside the slide and clear of the logo and the footers, no empty placeholder,
titles that fit, the master's fonts and accents, the YAML that fixes a choice, and template-check."""

from __future__ import annotations

import zipfile

import pytest
from lxml import etree
from master_fixtures import MASTERS_DIR, all_masters, chinese_master, logo_png
from pptx import Presentation
from pptx.enum.dml import MSO_THEME_COLOR
from render_fixtures import write_run

from cemkit.cli import main
from cemkit.errors import PackError
from cemkit.paths import templates_dir
from cemkit.render import theme
from cemkit.render.layouts import overrides_path
from cemkit.render.masters import area, cut, inside, overlap
from cemkit.render.pptx import build_deck, fit_title_size, open_master, title_lines
from cemkit.storyline import load_storyline

A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"

# master → (cover, section, chart, two_charts) as a consultant would pick them; (name, master number)
EXPECTED = {
    "pptx_default": ("Title Slide", "Section Header", ("Title Only", "Title and Content"), "Two Content"),
    "chinese": ("标题幻灯片", "节标题", ("仅标题", "标题和内容"), "两栏内容"),
    "a4": ("Kunde – Titelfolie", "Kapiteltrenner", ("Nur Titel", "Titel und Inhalt"), "Zwei Inhalte"),
    "wide": ("Title Slide", "Section Header", ("Title Only", "Title and Content"), "Two Content"),
    # LibreOffice exports: a cover master and a content master, the same layout names in each
    "Vivid": (("Title Slide", 1), ("Title Slide", 1), (("Title Only", 2), ("Title, Content", 2)),
              ("Title, 2 Content", 2)),
    "Midnightblue": (("Title Slide", 2), ("Title Slide", 2), (("Title Only", 1), ("Title, Content", 1)),
                     ("Title, 2 Content", 1)),
}


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    return all_masters(tmp_path_factory.mktemp("masters"))


@pytest.fixture(scope="module")
def decks(masters, auto_pack, tmp_path_factory):
    """The auto storyline on every test master (and cemkit's default)."""
    run, facts = write_run(tmp_path_factory.mktemp("run"), auto_pack, "zh")
    specs = {s.id: s for s in load_storyline(auto_pack)}
    out = {}
    for name, path in {**masters, "default": templates_dir() / "default.pptx"}.items():
        deck = run / f"{name}.pptx"
        summary = build_deck(run, auto_pack, deck, lang="zh", client="某汽车品牌", base_facts=facts, template=path)
        _, plan, look = open_master(path)
        prs = Presentation(str(deck))
        roles = [specs[sid].layout for sid in summary["ids"]]
        out[name] = {"prs": prs, "plan": plan, "look": look, "slides": list(zip(roles, prs.slides)), "path": path}
    return out


def _match(layout, want) -> bool:
    if isinstance(want, tuple) and len(want) == 2 and isinstance(want[1], int):
        return (layout.name, layout.master) == want
    if isinstance(want, tuple):
        return any(_match(layout, w) for w in want)
    return layout.name == want


@pytest.mark.parametrize("name", list(EXPECTED))
def test_roles_mapped_whatever_the_layout_names(masters, name):
    _, plan, _ = open_master(masters[name])
    cover, section, chart, two = EXPECTED[name]
    roles = plan.roles
    assert _match(roles["title"].layout, cover), roles["title"].layout
    assert _match(roles["section"].layout, section), roles["section"].layout
    for role in ("chart", "table", "quotes", "summary", "appendix"):
        assert _match(roles[role].layout, chart), (role, roles[role].layout)
    assert _match(roles["two_charts"].layout, two), roles["two_charts"].layout
    assert {p.how for p in roles.values()} == {"auto"}
    a, b = roles["two_charts"].content
    assert a[0] + a[2] <= b[0]


def test_cemkits_role_names_are_an_explicit_choice():
    _, plan, _ = open_master()
    assert all(p.how == "named" and p.layout.name == role for role, p in plan.roles.items())


def test_a_renamed_default_layout_is_mapped_anyway(tmp_path):
    prs = Presentation(str(templates_dir() / "default.pptx"))
    next(lay for lay in prs.slide_layouts if lay.name == "chart").name = "Title and Content"
    path = tmp_path / "client.pptx"
    prs.save(str(path))
    _, plan, _ = open_master(path)
    assert plan.roles["chart"].how == "auto" and plan.roles["table"].how == "named"


def test_libreoffice_layouts_take_their_own_masters_geometry():
    """LibreOffice writes one master's placeholder positions into every layout: cemkit uses each layout's own
    master's title and body areas instead."""
    _, plan, _ = open_master(MASTERS_DIR / "Vivid.pptx")
    chart = plan.roles["chart"]
    master_title = next(ph for ph in chart.layout.slide_layout.slide_master.placeholders
                        if ph.placeholder_format.type == 1)
    assert chart.title[:3] == (master_title.left, master_title.top, master_title.width)


# ------------------------------------------------------------------------------------------ every slide
def _box(shape) -> tuple[int, int, int, int]:
    height = sum(r.height for r in shape.table.rows) if shape.has_table else shape.height
    return shape.left, shape.top, shape.width, height


def test_every_shape_of_every_slide_lies_inside_the_slide(decks):
    for name, d in decks.items():
        size = (d["prs"].slide_width, d["prs"].slide_height)
        for n, (_, slide) in enumerate(d["slides"], start=1):
            for shape in slide.shapes:
                assert inside(_box(shape), size), (name, n, shape.name, _box(shape), size)


def _logos_and_footers(plan, role) -> list[tuple[int, int, int, int]]:
    place = plan.roles[role]
    kept = [b for b, desc in place.layout.obstacles if desc.startswith(("picture", "text box"))]
    return kept + [p.box for p in place.layout.all("date", "footer", "number") if p.box[2] > 0]


def test_nothing_covers_the_logo_or_the_footer_placeholders(decks):
    for name, d in decks.items():
        for n, (role, slide) in enumerate(d["slides"], start=1):
            keep_clear = _logos_and_footers(d["plan"], role)
            for shape in slide.shapes:
                if shape.name in ("Confidential", "Slide number"):
                    continue  # the footer's own text, in the footer placeholders
                for box in keep_clear:
                    assert overlap(_box(shape), box) is None, (name, n, shape.name, _box(shape), box)


def test_content_stays_above_the_footnote(decks):
    for name, d in decks.items():
        for n, (_, slide) in enumerate(d["slides"], start=1):
            foot = [sh for sh in slide.shapes if sh.name == "Footnote"]
            if not foot:
                continue
            for sh in slide.shapes:
                if sh.has_chart or sh.has_table or sh.name in ("Subtitle", "Takeaway"):
                    assert sh.top + _box(sh)[3] <= foot[0].top, (name, n, sh.name)


def test_no_empty_placeholder_and_footers_filled(decks):
    for name, d in decks.items():
        for n, (role, slide) in enumerate(d["slides"], start=1):
            numbered_by_master = d["plan"].roles[role].number is None
            for ph in slide.placeholders:
                assert ph.has_text_frame and ph.text_frame.text.strip(), (name, n, ph.name)
            names = [sh.name for sh in slide.shapes]
            assert names.count("Confidential") == 1, (name, n)
            numbers = [sh.text_frame.text for sh in slide.shapes if sh.name == "Slide number"]
            assert numbers == ([] if numbered_by_master else [str(n)]), (name, n)


def test_the_masters_footer_and_number_placeholders_carry_the_footer(decks):
    d = decks["chinese"]
    _, slide = d["slides"][3]
    footer = next(sh for sh in slide.shapes if sh.name == "Confidential")
    number = next(sh for sh in slide.shapes if sh.name == "Slide number")
    assert footer.is_placeholder and footer.placeholder_format.type == 15  # FOOTER
    assert number.is_placeholder and number.element.xpath(".//a:fld[@type='slidenum']/a:t/text()") == ["4"]
    # Midnightblue draws its own slide number (a field in a master text box): cemkit adds none
    assert decks["Midnightblue"]["plan"].roles["chart"].number is None


def test_titles_fit_their_placeholder(decks):
    for name, d in decks.items():
        for n, (role, slide) in enumerate(d["slides"], start=1):
            title = slide.shapes.title
            size = title.text_frame.paragraphs[0].runs[0].font.size.pt
            lines = title_lines(title.text_frame.text, title.width, size)
            assert lines <= 2, (name, n, title.text_frame.text, size)
            if role not in ("title", "section"):
                assert lines * size * 1.2 * 12700 <= title.height - 91440 + 1, (name, n, lines, size, title.height)


def test_fit_title_size_respects_the_box_height():
    text = "交" * 50
    assert title_lines(text, 9000000, fit_title_size(text, 9000000)) == 2
    one_line = 24 * 1.2 * 12700 + 91440 + 1000  # one 24 pt line only
    size = fit_title_size(text, 9000000, box_height_emu=int(one_line))
    assert size == 16  # nothing fits one line: the floor


# ------------------------------------------------------------------------------------------------- look
def _runs(prs):
    for part in prs.part.package.iter_parts():
        name = str(part.partname)
        if name.startswith(("/ppt/slides/", "/ppt/charts/", "/ppt/notesSlides/")) and name.endswith(".xml"):
            root = etree.fromstring(part.blob)
            yield from ((name, r) for r in root.iter(f"{A}r", f"{A}fld"))


def test_every_run_has_a_chinese_face_and_the_masters_latin_face(decks):
    """a:ea on a run only where the master's theme names no face with Chinese glyphs; never a Latin face."""
    for name, d in decks.items():
        master = d["plan"].roles["chart"].layout.slide_layout.slide_master
        theme_ea = theme.read_look(master).theme_fonts[1]
        for part, r in _runs(d["prs"]):
            rpr = r.find(f"{A}rPr")
            ea = None if rpr is None else rpr.find(f"{A}ea")
            if theme.is_cjk_face(theme_ea):
                assert ea is None, (name, part, r.findtext(f"{A}t"))
            else:
                assert ea is not None and theme.is_cjk_face(ea.get("typeface")), (name, part, r.findtext(f"{A}t"))
            assert rpr is None or rpr.find(f"{A}latin") is None, (name, part)
    assert decks["pptx_default"]["look"].east_asian == "宋体"        # the theme's Simplified-Chinese script font
    assert decks["Vivid"]["look"].east_asian == "Microsoft YaHei"    # its theme names DejaVu Sans: no Chinese
    assert decks["chinese"]["look"].east_asian is None               # 微软雅黑 in the theme: inherited


def _theme_colour(fill):
    if fill.type != 1:  # not a solid fill (a bar left to the series' colour)
        return None
    return fill.fore_color.theme_color if fill.fore_color.type == 2 else None  # 2: scheme colour


def test_message_colour_is_the_masters_accent_never_the_semantic_red(decks):
    expected = {"default": MSO_THEME_COLOR.ACCENT_1, "chinese": MSO_THEME_COLOR.ACCENT_2}  # chinese: accent 1 red
    for name, accent in expected.items():
        slides = decks[name]["slides"]
        journey = next(s for role, s in slides if any(sh.has_chart for sh in s.shapes)
                       and "最低" in s.shapes.title.text_frame.text)
        chart = next(sh for sh in journey.shapes if sh.has_chart).chart
        colours = {_theme_colour(p.format.fill) for p in
                   (chart.plots[0].series[0].points[i] for i in range(len(chart.plots[0].categories)))}
        assert accent in colours, (name, colours)
        table = next(sh for _, s in slides for sh in s.shapes if sh.has_table).table
        assert _theme_colour(table.cell(0, 0).fill) == accent
    nps = next(sh for _, s in decks["chinese"]["slides"] for sh in s.shapes
               if sh.has_chart and sh.chart.chart_type == 58)  # BAR_STACKED: NPS composition
    assert [str(s.format.fill.fore_color.rgb) for s in list(nps.chart.plots[0].series)[:3]] == \
        ["C0392B", "A6A6A6", "2E8B57"]  # semantic colours stay


def test_accent_choice_and_cjk_faces():
    assert theme.is_cjk_face("微软雅黑") and theme.is_cjk_face("Noto Sans CJK SC") and theme.is_cjk_face("DengXian")
    assert not theme.is_cjk_face("DejaVu Sans") and not theme.is_cjk_face("") and not theme.is_cjk_face("+mn-ea")
    assert theme.contrast_on_white("FFFFFF") == pytest.approx(1.0)
    assert theme.contrast_on_white("000000") == pytest.approx(21.0)
    assert not theme._usable_accent("C00000")    # red: the detractors' colour
    assert not theme._usable_accent("FFD966")    # pale yellow: does not read on white
    assert not theme._usable_accent("808080")    # grey: context, not a message
    assert theme._usable_accent("1F4E79")


# ------------------------------------------------------------------------------------------ geometry
def test_cut_keeps_the_largest_part_clear_of_obstacles():
    box = (0, 0, 1000, 1000)
    assert cut(box, [(900, 0, 100, 100)]) == (0, 0, 900, 1000)         # a logo top-right: lose the right strip
    assert cut(box, [(0, 950, 1000, 50)]) == (0, 0, 1000, 950)          # a band along the bottom
    assert cut(box, [(2000, 0, 10, 10)]) == box                         # not in the way
    cleared = cut(box, [(900, 0, 100, 100), (0, 900, 100, 100)])
    assert all(overlap(cleared, o) is None for o in [(900, 0, 100, 100), (0, 900, 100, 100)])
    assert area(cleared) == 900 * 900


# ------------------------------------------------------------------------------------------ overrides
def test_yaml_beside_the_master_fixes_a_choice(masters, tmp_path, auto_pack):
    path = chinese_master(tmp_path / "client.pptx")
    overrides_path(path).write_text('chart: "标题和内容"\nsection: {layout: "标题幻灯片", master: 1}\n',
                                    encoding="utf-8")
    _, plan, _ = open_master(path)
    assert plan.roles["chart"].how == "yaml" and plan.roles["chart"].layout.name == "标题和内容"
    assert plan.roles["section"].layout.name == "标题幻灯片" and plan.roles["table"].how == "auto"
    run, facts = write_run(tmp_path / "run", auto_pack, "zh")
    summary = build_deck(run, auto_pack, run / "d.pptx", lang="zh", client="c", base_facts=facts, template=path)
    specs = {s.id: s for s in load_storyline(auto_pack)}
    prs = Presentation(str(run / "d.pptx"))
    layouts = {s.slide_layout.name for sid, s in zip(summary["ids"], prs.slides) if specs[sid].layout == "chart"}
    assert layouts == {"标题和内容"}


def test_yaml_problems_name_file_line_and_key(tmp_path):
    path = chinese_master(tmp_path / "client.pptx")
    overrides_path(path).write_text('chart: "标题和内容"\ncharts: "仅标题"\ntable: "Title Only"\n'
                                    'quotes: {layout: "仅标题", master: 2}\nsummary: "空白"\n', encoding="utf-8")
    with pytest.raises(PackError) as err:
        open_master(path)
    text = str(err.value)
    assert "client.layouts.yaml:2 [charts]: unknown role 'charts' (did you mean 'chart'?)" in text
    assert "client.layouts.yaml:3 [table]: no layout named 'Title Only'" in text and "仅标题" in text
    assert "client.layouts.yaml:4 [quotes]: no layout named '仅标题' in master 2" in text
    assert "client.layouts.yaml:5 [summary]" in text and "no title placeholder" in text


def test_template_check_prints_the_mapping_and_writes_the_yaml(tmp_path, capsys):
    path = chinese_master(tmp_path / "client.pptx")
    assert main(["template-check", str(path), "--write"]) == 0
    out = capsys.readouterr().out
    assert "chart" in out and "仅标题" in out and "picture 'Client logo'" in out and "accent 2" in out
    yaml_file = overrides_path(path)
    assert yaml_file.exists() and 'two_charts: "两栏内容"' in yaml_file.read_text(encoding="utf-8")
    _, plan, _ = open_master(path)  # the written file reproduces the automatic choice
    assert {p.how for p in plan.roles.values()} == {"yaml"}
    assert main(["template-check", str(path), "--write"]) == 2  # never overwrites a consultant's edits
    assert "exists" in capsys.readouterr().err
    assert main(["template-check", str(MASTERS_DIR / "Vivid.pptx")]) == 0
    assert "(master 2)" in capsys.readouterr().out


def test_yaml_name_in_several_masters_takes_the_best_fitting_one(tmp_path):
    path = tmp_path / "Vivid.pptx"
    path.write_bytes((MASTERS_DIR / "Vivid.pptx").read_bytes())
    overrides_path(path).write_text('chart: "Title, Content"\ntable: {layout: "Title, Content", master: 3}\n')
    _, plan, _ = open_master(path)
    assert (plan.roles["chart"].layout.name, plan.roles["chart"].layout.master) == ("Title, Content", 2)
    assert plan.roles["table"].layout.master == 3 and plan.roles["table"].how == "yaml"


def test_unreadable_or_titleless_masters_exit_2_with_one_sentence(tmp_path, capsys):
    bad = tmp_path / "bad.pptx"
    bad.write_bytes(logo_png())
    assert main(["template-check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.pptx" in err and "Traceback" not in err
    prs = Presentation(str(templates_dir() / "default.pptx"))
    for layout in prs.slide_layouts:
        for ph in list(layout.placeholders):
            if ph.placeholder_format.idx == 0:
                ph.element.getparent().remove(ph.element)
    notitle = tmp_path / "notitle.pptx"
    prs.save(str(notitle))
    with pytest.raises(PackError, match="title placeholder"):
        open_master(notitle)


def test_a_potx_master_opens_as_it_is(tmp_path):
    pptx = chinese_master(tmp_path / "client.pptx")
    potx = tmp_path / "client.potx"
    with zipfile.ZipFile(pptx) as src, zipfile.ZipFile(potx, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"presentation.main+xml", b"template.main+xml")
            dst.writestr(item, data)
    with pytest.raises(ValueError):
        Presentation(str(potx))  # python-pptx alone refuses a template
    _, plan, _ = open_master(potx)
    assert plan.roles["chart"].layout.name == "仅标题"
