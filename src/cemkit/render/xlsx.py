"""The analysts' data pack (datapack.xlsx), written with :func:`cemkit.workbook.write_workbook`."""

from __future__ import annotations

from pathlib import Path

from ..workbook import write_workbook

__all__ = ["build_datapack"]


def build_datapack(run_dir: str | Path, pack, out_path: str | Path, lang: str = "zh") -> Path:
    """The analysts' data pack: one sheet per storyline slide that has a result table (slide order), then
    the other results."""
    from ..results import load_all
    from ..storyline import load_storyline

    results = load_all(run_dir)
    order = [s.result for s in load_storyline(pack) if s.result in results]
    order += [name for name in results if name not in order]
    sheets = {name: results[name].table for name in dict.fromkeys(order) if not results[name].table.empty}
    return write_workbook(out_path, sheets)
