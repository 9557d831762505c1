"""The analysts' data pack: every table behind the deck in one .xlsx, one sheet per slide."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..results import load_all
from ..storyline import load_storyline

__all__ = ["build_datapack"]


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]\*\?/\\:]", "_", name)[:28] or "sheet"
    out, k = base, 2
    while out in used:
        out, k = f"{base[:26]}_{k}", k + 1
    used.add(out)
    return out


def build_datapack(run_dir: str | Path, pack, out_path: str | Path, lang: str = "zh") -> Path:
    """Write one sheet per storyline slide that has a result table (slide order), then the other results."""
    results = load_all(run_dir)
    order = [s.result for s in load_storyline(pack) if s.result in results]
    order += [name for name in results if name not in order]
    used: set[str] = set()
    with pd.ExcelWriter(out_path, engine="openpyxl") as xl:
        for name in dict.fromkeys(order):
            table = results[name].table
            if table.empty:
                continue
            table = table.copy()
            for col in table.columns:
                if pd.api.types.is_datetime64_any_dtype(table[col]) and getattr(table[col].dt, "tz", None):
                    table[col] = table[col].dt.tz_localize(None)
            table.to_excel(xl, sheet_name=_sheet_name(name, used), index=False)
    return Path(out_path)
