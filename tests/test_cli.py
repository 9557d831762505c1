"""The cemkit command: exit codes (0 ok, 2 bad input with one sentence, 1 bug) and end-to-end runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pptx import Presentation

from cemkit import cli
from cemkit.pipeline import notebook_list


def run_cli(args, capsys):
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_packs_lists_auto(capsys):
    code, out, _ = run_cli(["packs"], capsys)
    assert code == 0 and "auto" in out


def test_unknown_pack_exits_2_with_one_sentence(capsys, tmp_path):
    code, _, err = run_cli(["run", "--pack", "no_such_pack", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "no such pack" in err and "Traceback" not in err


def test_missing_data_file_exits_2(capsys, tmp_path):
    code, _, err = run_cli(["run", "--pack", "auto", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path)], capsys)
    assert code == 2 and "nope.csv" in err and "not found" in err and "Traceback" not in err


def test_template_without_a_title_layout_exits_2(capsys, tmp_path):
    from cemkit.paths import templates_dir

    prs = Presentation(str(templates_dir() / "default.pptx"))
    for layout in prs.slide_layouts:  # no layout left with a title placeholder
        for ph in list(layout.placeholders):
            if ph.placeholder_format.idx == 0:
                ph.element.getparent().remove(ph.element)
    bad = tmp_path / "client.pptx"
    prs.save(bad)
    code, _, err = run_cli(["run", "--pack", "auto", "--template", str(bad), "--out", str(tmp_path)], capsys)
    assert code == 2 and "client.pptx" in err and "title placeholder" in err and "Traceback" not in err


def test_validate_pack_exit_codes(capsys, pack_copy):
    code, out, _ = run_cli(["validate-pack", "auto"], capsys)
    assert code == 0 and "valid" in out
    folder = pack_copy()
    text = (folder / "pack.yaml").read_text(encoding="utf-8").replace("scale: csat5}", "scale: csat55}", 1)
    (folder / "pack.yaml").write_text(text, encoding="utf-8")
    code, out, _ = run_cli(["validate-pack", str(folder)], capsys)
    assert code == 2 and "csat55" in out and "pack.yaml:" in out


def test_a_bug_exits_1_with_traceback(capsys, monkeypatch):
    import cemkit.packs

    def boom(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cemkit.packs, "list_packs", boom)
    code, _, err = run_cli(["packs"], capsys)
    assert code == 1 and "Traceback" in err and "internal error" in err


@pytest.mark.slow
def test_demo_run_end_to_end(tmp_path, capsys):
    """A small demo run writes the deck, the HTML and the executed notebooks; the deck's journey chart holds
    exactly the computed NPS by stage."""
    code, out, err = run_cli(["run", "--pack", "auto", "--demo-n", "3000", "--out", str(tmp_path), "--quiet",
                              "--client", "测试客户"], capsys)
    assert code == 0, err
    run_dir = next(p for p in tmp_path.iterdir() if p.name.startswith("auto-2"))
    for name in ("report.pptx", "report.html", "datapack.xlsx", "run.json"):
        assert (run_dir / name).exists(), name
    assert len(list((run_dir / "notebooks").glob("*.ipynb"))) == len(list(notebook_list()))
    assert (tmp_path / "auto-latest").resolve() == run_dir.resolve()
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    acc = info["accounting"]
    assert acc["input_rows"] == acc["used"] + acc["quarantined"] > 3000  # the demo export has planted bad rows
    # each notebook's kernel: its own process (the benchmarks name processes by it) and the CPU it used
    kernels = info["kernels"]
    assert set(kernels) == {nb.stem for nb in notebook_list()}
    assert len({k["pid"] for k in kernels.values()}) == len(kernels)
    assert all(isinstance(k["pid"], int) and 0 < k["cpu_s"] < info["seconds"] * 2 for k in kernels.values())
    assert acc["quarantined"] > 0 and sum(acc["by_reason"].values()) == acc["quarantined"]
    assert "synthetic" in out

    curve = pd.read_parquet(run_dir / "results" / "journey_curve.parquet")
    deck = Presentation(str(run_dir / "report.pptx"))
    charts = [sh.chart for s in deck.slides for sh in s.shapes if sh.has_chart]
    journey = next(c for c in charts if list(c.plots[0].categories)[:1] and
               str(next(iter(c.plots[0].categories))).startswith(curve["stage_name"].iloc[0]))
    values = list(journey.plots[0].series[0].values)
    assert values == pytest.approx(curve["value"].tolist(), abs=1e-9)
    assert "测试客户" in deck.slides[0].shapes.title.text
    _rerun_in_place(run_dir)


def _rerun_in_place(run_dir: Path) -> None:
    """The executed notebooks kept in a published run name the run folder as ".." and the demo input inside
    it relative to their own folder (never the deleted staging folder): 01 and 02 re-run where they lie,
    in place, and give the same results."""
    import nbformat
    import papermill as pm

    nb_dir = run_dir / "notebooks"
    for path in sorted(nb_dir.glob("*.ipynb")):
        cell = next(c for c in nbformat.read(str(path), as_version=4).cells
                    if "injected-parameters" in c.metadata.get("tags", []))
        assert 'run_dir = ".."' in cell.source and ".staging" not in cell.source, path.name
    before = {n: pd.read_parquet(run_dir / "results" / f"{n}.parquet") for n in ("data_quality", "journey_curve")}
    for name in ("01_data_check", "02_journey"):
        nb = str(nb_dir / f"{name}.ipynb")
        pm.execute_notebook(nb, nb, cwd=str(nb_dir), kernel_name="python3", progress_bar=False, log_output=False)
    for name, table in before.items():
        pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "results" / f"{name}.parquet"), table)


@pytest.mark.slow
def test_relative_out_folder(tmp_path, capsys, monkeypatch):
    """`make report` passes `--out reports`: a relative folder must work (papermill changes directory)."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["run", "--pack", "auto", "--demo-n", "1200", "--out", "reports", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "reports" / "auto-latest" / "report.pptx").exists()


@pytest.mark.slow
def test_failed_run_keeps_last_good(tmp_path, capsys):
    code, _, err = run_cli(["run", "--pack", "auto", "--demo-n", "1500", "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 0, err
    good = (tmp_path / "auto-latest").resolve()
    before = (good / "report.pptx").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    code, _, err = run_cli(["run", "--pack", "auto", "--data", str(bad), "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 2 and "bad.csv" in err
    assert (tmp_path / "auto-latest").resolve() == good
    assert (good / "report.pptx").read_bytes() == before
    failed = [p for p in tmp_path.iterdir() if p.name.startswith(".failed-")]
    assert failed and (failed[0] / "run.log").exists()
    assert "run.log" in err
    assert not any(p.name.startswith(".staging-") for p in tmp_path.iterdir())
    shutil.rmtree(failed[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["survey_gbk.csv", "survey_bom.csv", "survey_title.xlsx", "survey.sav",
                                  "survey.parquet"])
def test_run_on_each_messy_fixture(name, tmp_path, capsys):
    """A whole run on each messy client export succeeds (tiny data: slides whose finding needs more data
    are left out) and reports the expected row accounting."""
    DATA = Path(__file__).parent / "data"
    expected = json.loads((DATA / "ingest" / "expected.json").read_text(encoding="utf-8"))[name]
    code, out, err = run_cli(["run", "--pack", "auto", "--data", str(DATA / "ingest" / name), "--odata",
                              str(DATA / "ingest" / "odata_customers.csv"), "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 0, err
    acc = json.loads((tmp_path / "auto-latest" / "run.json").read_text(encoding="utf-8"))["accounting"]
    for key in ("input_rows", "used", "quarantined", "by_reason"):
        assert acc[key] == expected[key], key
    assert f"{expected['input_rows']:,} in = {expected['used']:,} used + {expected['quarantined']:,} quarantined" in out
    assert (tmp_path / "auto-latest" / "report.pptx").exists()


@pytest.mark.parametrize("ename, bad_input", [("DataError", True), ("LeakageError", True), ("PackError", True),
                                              ("InputError", True), ("KeyError", False), ("ValueError", False)])
def test_notebook_errors_by_class(monkeypatch, tmp_path, ename, bad_input):
    """A notebook that raises one of cemkit's bad-input errors (any UserError subclass, found by walking the
    class tree, not a hand-kept list) ends the run as bad input (exit 2); anything else is a bug."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from cemkit import pipeline
    from cemkit.errors import InputError

    def fail(*a, **k):
        raise PapermillExecutionError(0, 1, "x", ename, "bad thing", [])

    monkeypatch.setattr(pm, "execute_notebook", fail)
    nb = tmp_path / "01_x.ipynb"
    with pytest.raises(InputError if bad_input else RuntimeError, match="bad thing"):
        pipeline._execute(nb, tmp_path / "out.ipynb", {}, tmp_path)
