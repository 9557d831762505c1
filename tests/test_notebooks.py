"""The notebooks as an analyst meets them (issue 18): in a fresh checkout every notebook runs top to bottom
with its defaults — no parameter injected — on the pack's demo data in a scratch run; the analysis notebooks
show figures; the results they write are the ones the renderers read; and the worked example of
docs/notebooks.md runs as written. (An executed notebook of a published run re-running in place is checked
in tests/test_cli.py, on the run it already makes.)"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from pptx import Presentation

from cemkit import results
from cemkit.packs import validate_pack
from cemkit.paths import REPO_DIR, packs_dir

DEMO_N = 4800  # 1,200 responses per wave: every notebook's path, in seconds (the pack ships 12,000)


def _tracked(folder: str) -> list[str]:
    out = subprocess.run(["git", "-C", str(REPO_DIR), "ls-files", folder], capture_output=True, text=True,
                         check=True).stdout.split()
    return [p for p in out if (REPO_DIR / p).exists()]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, monkeypatch_module):
    """The repository's tracked notebooks and packs copied as a fresh checkout has them (no scratch run, no
    reports), the demo made smaller in the copy; every notebook executed in order with papermill, in the
    notebooks' folder, with the kernel its metadata names and no parameters."""
    import papermill as pm

    root = tmp_path_factory.mktemp("checkout")
    for rel in _tracked("notebooks") + _tracked("industry_packs"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_DIR / rel, root / rel)
    demo = root / "industry_packs" / "auto" / "demo.yaml"
    text, k = re.subn(r"(?m)^n: \d+", f"n: {DEMO_N}", demo.read_text(encoding="utf-8"))
    assert k == 1
    demo.write_text(text, encoding="utf-8")
    monkeypatch_module.setenv("CEMKIT_PACKS", str(root / "industry_packs"))
    monkeypatch_module.setenv("CEMKIT_SCRATCH", str(root / "reports" / "scratch"))
    executed = {}
    nb_dir = root / "notebooks"
    for path in sorted(nb_dir.glob("[0-9][0-9]_*.ipynb")):
        out = root / "executed" / path.name
        out.parent.mkdir(exist_ok=True)
        executed[path.stem] = pm.execute_notebook(str(path), str(out), cwd=str(nb_dir), progress_bar=False,
                                                  log_output=False)
    runs = list((root / "reports" / "scratch").iterdir())
    assert len(runs) == 1  # 01 made one scratch run; the others found it
    return root, runs[0], executed


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_every_notebook_runs_with_its_defaults_and_shows_figures(fresh):
    _root, run, executed = fresh
    assert len(executed) == len(_tracked("notebooks")) >= 6
    for name, nb in executed.items():
        assert nb.metadata["kernelspec"]["name"] == "cemkit", name
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
        assert not errors, name
        assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells), name
    # journey curve, composition, league, trend; importance, matrix, stage importance; themes, impact,
    # theme × stage, words; lift
    assert {n: _images(nb) for n, nb in executed.items() if _images(nb)} == \
        {"02_journey": 4, "03_drivers": 3, "04_text": 4, "06_predict": 1}
    assert list((run / "input").glob("*responses*.csv"))  # the synthetic demo data, written by 01


@pytest.mark.slow
def test_notebooks_write_every_result_the_renderers_read(fresh):
    _, run, _ = fresh
    written = set(results.load_all(run))
    cat = results.catalogue()  # not those the renderer builds, nor those that need a previous run
    standard = {name for name, nb in cat.notebook.items() if nb != "render" and name not in cat.needs}
    assert standard <= written, sorted(standard - written)
    data_quality = results.load(run, "data_quality")
    assert data_quality.facts["synthetic"] is True and data_quality.facts["input_rows"] > DEMO_N


def _blocks(lang: str) -> list[str]:
    text = (REPO_DIR / "docs" / "notebooks.md").read_text(encoding="utf-8")
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.slow
def test_worked_example_of_docs_notebooks(fresh, tmp_path):
    """docs/notebooks.md as a reader follows it: its Python blocks in order, then its slide in a copy of
    the pack, which validates, and the run rendered with it shows the slide with its title filled."""
    import matplotlib

    matplotlib.use("Agg")
    _root, run, _ = fresh
    ns: dict = {}
    for code in _blocks("python"):
        exec(compile(code, "docs/notebooks.md", "exec"), ns)  # noqa: S102 - our own documentation
    assert ns["run_dir"] == run
    channel = results.load(run, "channel_nps")
    facts = channel.facts
    ranked = channel.table[channel.table["flag"] != "low_base"]
    assert facts["best_nps"] == ranked["nps"].max() and facts["worst_nps"] == ranked["nps"].min()

    pack = tmp_path / "myauto"
    shutil.copytree(packs_dir() / "auto", pack)
    story = yaml.safe_load((pack / "storyline.yaml").read_text(encoding="utf-8"))
    (addition,) = [yaml.safe_load(b) for b in _blocks("yaml") if "extra_results" in b]
    story["extra_results"] = addition["extra_results"]
    at = next(i for i, s in enumerate(story["slides"]) if s["id"] == "nps_composition") + 1
    story["slides"][at:at] = addition["slides"]
    (pack / "storyline.yaml").write_text(yaml.safe_dump(story, allow_unicode=True, sort_keys=False),
                                         encoding="utf-8")
    assert validate_pack(pack) == []

    from cemkit.pipeline import render

    out = render(run, str(pack), lang="zh")
    from cemkit.render.tags import SLIDE_TAG, get_slide_tags

    slides = [s for s in Presentation(str(out["pptx"])).slides if s.shapes.title is not None]
    titles = [s.shapes.title.text for s in slides]
    ids = [get_slide_tags(s).get(SLIDE_TAG) for s in slides]
    want = (f"各线索来源的NPS无显著差异（{facts['best_channel']} {facts['best_nps']:.0f}，"
            f"{facts['worst_channel']} {facts['worst_nps']:.0f}）" if not facts["channel_differs"] else
            f"{facts['best_channel']}线索的客户NPS最高（{facts['best_nps']:.0f}），"
            f"{facts['worst_channel']}最低（{facts['worst_nps']:.0f}）")
    assert want in titles
    assert titles.index(want) == ids.index("nps_composition") + 1
