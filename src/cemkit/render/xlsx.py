"""The client's data pack (datapack.xlsx): every result table with headers in the deck's language, names
not codes and number formats (:func:`client_table`), written with :func:`cemkit.workbook.write_workbook`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from ..workbook import write_workbook

__all__ = ["build_datapack", "client_table"]


NAME_COLUMNS = ("rank", "stage_name", "theme_name", "driver_name", "feature_name", "unit", "name", "segment",
                "segment_value", "metric_name", "wave", "what", "band", "word", "item", "owner")
NUMBER_FORMATS = {"nps": "0.0", "pct": '0.0"%"', "share": "0.0%", "count": "#,##0", "int": "0", "dec1": "0.0",
                  "dec2": "0.00", "dec3": "0.000", "text": None}


@cache
def _column_catalogue() -> dict:
    import yaml

    from ..paths import PACKAGE_DIR

    return yaml.safe_load((PACKAGE_DIR / "data" / "columns.yaml").read_text(encoding="utf-8"))


def client_table(name: str, table: pd.DataFrame, pack, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """A result table as a client reads it: the columns cemkit/data/columns.yaml lists (drawing helpers and
    ids left out), headers in ``lang``, codes replaced by names ("__all__" → 整体, a segment id → its name,
    yes/no for flags, 负面/正面 for a polarity), and the Excel number format of each shown column."""
    from ..i18n import catalogue

    cat = _column_catalogue()
    spec = {k: v for k, v in {**cat["columns"], **(cat.get("results", {}).get(name) or {})}.items() if v}
    words = catalogue(lang)
    df = table.copy()
    if "segment" in df and name != "playbooks":  # a segment id; the playbooks' segment is already a name
        seg_names = {s.id: s.name.get(lang) for s in pack.segments}
        df["segment"] = df["segment"].map(lambda v: seg_names.get(v, v))
    for col in df.columns:
        if df[col].dtype == bool or pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].map({True: words["word_yes"], False: words["word_no"]})
        elif pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype(object).map(lambda v: words["__all__"] if v == "__all__" else v)
    if "polarity" in df:
        df["polarity"] = df["polarity"].map(lambda v: words["negative"] if v < 0 else words["positive"] if v > 0 else "")
    if "group" in df:  # detractor / passive / promoter
        df["group"] = df["group"].map(lambda v: words.get(f"{v}s", v) if isinstance(v, str) else v)
    if "scope" in df:
        df["scope"] = df["scope"].map({"all": words["word_all"], "neg": words["negative"]}).fillna(df["scope"])
    if name == "masking" and "kind" in df:
        df["kind"] = df["kind"].map(lambda v: words.get(f"dq_{v}", v))
    if name == "quarantine_reasons" and "reason" in df:
        df["reason"] = df["reason"].map(lambda v: words.get(f"q_{v}", v))
    if name == "keywords" and "theme" in df:
        df.insert(0, "theme_name", df["theme"].map({t.id: t.name.get(lang) for t in pack.themes}))
    shown = [c for c in df.columns if c in spec]
    first = [c for c in NAME_COLUMNS if c in shown]  # what a row is about, then its numbers
    shown = first + [c for c in shown if c not in first]
    out = df[shown].rename(columns={c: spec[c][lang] for c in shown})
    out = out.loc[:, ~out.columns.duplicated()]
    formats = {spec[c][lang]: NUMBER_FORMATS.get(spec[c].get("format", "text")) for c in shown}
    return out, {k: v for k, v in formats.items() if v}


def build_datapack(run_dir: str | Path, pack, out_path: str | Path, lang: str = "zh") -> Path:
    """The client's data pack: one sheet per storyline slide that has a result table (slide order), then the
    other results, each as :func:`client_table` shows it (headers in the deck's language, names not codes,
    numbers as numbers with the deck's formats)."""
    from ..results import load_all
    from ..storyline import load_storyline

    results = load_all(run_dir)
    order = [s.result for s in load_storyline(pack) if s.result in results]
    order += [name for name in results if name not in order]
    sheets, formats = {}, {}
    for name in dict.fromkeys(order):
        if results[name].table.empty:
            continue
        table, fmt = client_table(name, results[name].table, pack, lang)
        if table.shape[1]:
            sheets[_sheet_name(name, lang)] = table
            formats.update(fmt)
    return write_workbook(out_path, sheets, formats=formats)


def _sheet_name(result: str, lang: str) -> str:
    from ..i18n import catalogue

    return catalogue(lang).get(f"sheet_{result}", result)
