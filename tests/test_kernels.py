"""Kernels started ahead of time (cemkit.kernels): they run notebooks, and none is left behind."""

from __future__ import annotations

import nbformat
import papermill as pm
import pytest
from jupyter_core.utils import run_sync

from cemkit.kernels import WarmKernels, shutdown


@pytest.mark.slow
def test_warm_kernel_runs_a_notebook_in_its_folder_and_nothing_is_left_running(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os, sys; print(os.getcwd()); print('cemkit.views' in sys.modules)")]
    nbformat.write(nb, str(tmp_path / "in.ipynb"))
    warm = WarmKernels(2, tmp_path)
    km = warm.take()
    assert km is not None and run_sync(km.is_alive)()
    out = pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                              progress_bar=False, km=km)
    lines = out.cells[0].outputs[0]["text"].split()
    assert lines == [str(tmp_path), "True"]  # started in the run folder, cemkit already imported
    assert out.cells[0].execution_count == 1  # the warm-up left no trace in the notebook
    shutdown(km)
    spare = warm._futures[1][0].result()
    warm.close()
    assert not run_sync(km.is_alive)() and not run_sync(spare.is_alive)()
    assert warm.take() is None


@pytest.mark.slow
def test_kernels_started_before_the_run_folder_exists_run_in_it(tmp_path):
    """The ingest notebook's kernel starts while the run still checks its inputs, before its folder exists:
    taken for a notebook, it runs in the notebook's folder; kernels started after :meth:`move` start there."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os; print(os.getcwd())")]
    folder = tmp_path / "run" / "notebooks"
    warm = WarmKernels(2, None, ahead=1)
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / "in.ipynb"))
    warm.move(folder)
    seen = []
    for _ in range(2):
        km = warm.take(folder)
        assert km is not None
        out = pm.execute_notebook(str(folder / "in.ipynb"), str(folder / "out.ipynb"), kernel_name="python3",
                                  progress_bar=False, km=km)
        seen.append(out.cells[0].outputs[0]["text"].strip())
        shutdown(km)
    warm.close()
    assert seen == [str(folder)] * 2
    assert warm._futures[1][1] == folder  # started after the move: in the folder (the first was moved there)


def test_a_kernel_that_cannot_start_is_skipped(tmp_path):
    warm = WarmKernels(1, tmp_path, kernel_name="no-such-kernel")
    assert warm.take() is None  # the caller then lets papermill start its own kernel
    warm.close()


def test_notebooks_name_the_kernel_make_installs():
    """Opened in JupyterLab, the notebooks ask for the `cemkit` kernel that `make` installs into .venv. The
    pipeline does not depend on it: it passes papermill kernel_name="python3", which every environment with
    ipykernel has (tests/test_cli.py runs the notebooks end to end)."""
    import re

    from cemkit.paths import REPO_DIR, notebooks_dir

    installed = re.search(r"ipykernel install .*--name (\S+)", (REPO_DIR / "Makefile").read_text(encoding="utf-8"))
    assert installed is not None
    for path in sorted(notebooks_dir().glob("*.ipynb")):
        spec = nbformat.read(str(path), as_version=4).metadata["kernelspec"]
        assert spec["name"] == installed.group(1), path.name


def test_at_most_ahead_kernels_wait_unused(tmp_path):
    """An idle kernel holds ≈ 230 MB: only ``ahead`` start before they are asked for, the next on each take."""
    warm = WarmKernels(3, tmp_path, kernel_name="no-such-kernel", ahead=1)
    assert len(warm._futures) == 1
    warm.take()
    assert len(warm._futures) == 2
    warm.take()
    warm.take()
    assert len(warm._futures) == 3 and warm.take() is None
    warm.close()
    grow = WarmKernels(4, tmp_path, kernel_name="no-such-kernel", ahead=1)
    grow.take()
    assert len(grow._futures) == 2
    grow.keep(2)  # after the ingest: two waiting from now on
    assert len(grow._futures) == 3
    grow.take()
    assert len(grow._futures) == 4
    grow.close()
    every = WarmKernels(3, tmp_path, kernel_name="no-such-kernel", ahead=None)
    assert len(every._futures) == 3
    every.close()


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_large_runs_hold_one_row_holding_notebook_at_a_time(monkeypatch, one_at_a_time):
    """The pipeline's notebooks, two workers: on a large run (``one_at_a_time``) never two notebooks that hold
    rows side by side — the journey (metadata light: SQL aggregates only) still runs beside one — and the
    actions notebook still waits for journey, drivers and text; otherwise two heavy notebooks do overlap."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from cemkit import pipeline

    lock, running, seen, spans = threading.Lock(), set(), [], {}

    def fake(nb, out_nb, params, cwd, warm=None, kernels=None):
        with lock:
            running.add(nb.stem)
            seen.append(frozenset(running))
            spans[nb.stem] = [time.perf_counter(), None]
        time.sleep(0.5 if nb.stem != "02_journey" else 0.75)  # text 0.5–1.0 s, predict from 0.75 s
        with lock:
            running.discard(nb.stem)
            spans[nb.stem][1] = time.perf_counter()
        return 0.0

    monkeypatch.setattr(pipeline.notebooks, "_execute", fake)
    rest = pipeline.notebook_list()[1:]
    assert pipeline.notebooks._meta(rest[0]).get("light") and rest[0].stem == "02_journey"
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = pipeline._submit_notebooks(pool, rest, rest[0].parent, {}, None, one_at_a_time=one_at_a_time)
        for fut in futures.values():
            fut.result()
    heavy = [{n for n in s if n != "02_journey"} for s in seen]
    assert max(len(h) for h in heavy) == (1 if one_at_a_time else 2)
    assert any("02_journey" in s and len(s) == 2 for s in seen)  # the light one beside a heavy one
    assert spans["05_actions"][0] >= max(spans[n][1] for n in ("02_journey", "03_drivers", "04_text"))
