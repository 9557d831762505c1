"""Optional HTML engine: render ``templates/report.qmd`` with quarto when the ``quarto`` command exists.

The built-in engine (:mod:`cemkit.render.html`) needs nothing; this one exists for teams that keep their
report in Quarto. The .qmd reads the run folder's results through ``cemkit.results`` like every renderer.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import UserError
from ..paths import templates_dir

__all__ = ["build_quarto"]


def build_quarto(run_dir: str | Path, out_html: str | Path) -> Path:
    exe = shutil.which("quarto")
    if exe is None:
        raise UserError("--html-engine quarto needs the quarto command on PATH; it is not installed "
                        "(the built-in HTML engine needs nothing: drop the option)")
    run_dir = Path(run_dir)
    src = templates_dir() / "report.qmd"
    qmd = run_dir / "report.qmd"
    shutil.copyfile(src, qmd)
    proc = subprocess.run([exe, "render", qmd.name, "--to", "html", "-M", "embed-resources:true",
                           "-P", f"run_dir:{run_dir.resolve()}"], cwd=run_dir, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"quarto render failed:\n{proc.stderr[-2000:]}")
    produced = run_dir / "report.html"
    if produced.resolve() != Path(out_html).resolve():
        shutil.move(produced, out_html)
    return Path(out_html)
