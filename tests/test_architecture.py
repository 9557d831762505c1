"""The flow the architecture promises (docs/architecture.md): cli → pipeline → notebooks → analysis → results →
renderers. Analysis modules never import the renderers, the pipeline or the command line; the renderers
never import the pipeline or the command line. Checked on the source's import statements, so a late
(function-level) import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import cemkit

ROOT = Path(cemkit.__file__).parent
# The command layer: the CLI and the commands it dispatches to, and the pipeline that runs notebooks and
# renderers. Everything else under src/cemkit is analysis (or shared plumbing) unless it is a renderer.
COMMANDS = {"cemkit.cli", "cemkit.pipeline", "cemkit.pipeline.notebooks", "cemkit.pipeline.publish",
            "cemkit.labelling"}
FORBIDDEN = {
    "analysis": ("cemkit.render", "cemkit.pipeline", "cemkit.cli", "cemkit.labelling"),
    "render": ("cemkit.pipeline", "cemkit.cli", "cemkit.labelling"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names (relative imports resolved)."""
    mod = _module_name(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            full = ".".join([*base, *([node.module] if node.module else [])])
            out.add(full)
            out.update(f"{full}.{a.name}" for a in node.names)
    return out


def _layer(mod: str) -> str:
    if mod in COMMANDS:
        return "commands"
    if mod == "cemkit.render" or mod.startswith("cemkit.render."):
        return "render"
    return "analysis"


def _violations() -> list[str]:
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        mod = _module_name(path)
        banned = FORBIDDEN.get(_layer(mod), ())
        for name in sorted(_imports(path)):
            if any(name == b or name.startswith(b + ".") for b in banned):
                bad.append(f"{mod} imports {name}")
    return bad


def test_analysis_and_renderers_never_import_upwards():
    assert _violations() == []


def test_the_check_sees_a_late_relative_import(tmp_path, monkeypatch):
    """The checker itself: a function-level ``from ..render.pptx import x`` in an analysis module is found."""
    pkg = tmp_path / "cemkit"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "metrics" / "__init__.py").write_text("")
    (pkg / "metrics" / "late.py").write_text("def f():\n    from ..render.pptx import build_deck\n")
    monkeypatch.setattr(f"{__name__}.ROOT", pkg)
    assert _violations() == ["cemkit.metrics.late imports cemkit.render.pptx",
                             "cemkit.metrics.late imports cemkit.render.pptx.build_deck"]
