"""The methodology and sample page: fieldwork period, channels, n by wave / unit / region, weighting,
quarantine and the reporting rules — what a research client checks before believing any chart."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..i18n import catalogue, number
from ..packs import Pack
from .common import Views, base_meta, frame, weight_column


def _counts(values: pd.Series, lang: str, top: int = 6) -> str:
    """"华东 2,310；华南 1,980 …" — the largest groups first, the rest summed."""
    vc = values.astype("string").dropna().value_counts()
    sep, more = ("；", "其他") if lang == "zh" else ("; ", "other")
    parts = [f"{k} {v:,}" for k, v in vc.head(top).items()]
    if len(vc) > top:
        parts.append(f"{more} {int(vc.iloc[top:].sum()):,}")
    return sep.join(parts)


def _dates(df: pd.DataFrame, lang: str) -> str | None:
    if "date" not in df or not df["date"].notna().any():
        return None
    d = pd.to_datetime(df["date"], errors="coerce").dropna()
    to = "至" if lang == "zh" else "to"
    return f"{d.min():%Y-%m-%d} {to} {d.max():%Y-%m-%d}"


def sample_views(df: pd.DataFrame, accounting: dict[str, Any], pack: Pack, lang: str) -> Views:
    """One two-column table (item, detail) for the methodology and sample page, and its facts. ``df``: the
    responses, or the :class:`cemkit.engine.Dataset` the streaming ingest wrote (read with only the columns
    this page counts)."""
    df = frame(df, ["wave", "date", "stage", "weight", *(s.id for s in pack.segments)])
    zh = lang == "zh"
    cat = catalogue(lang)
    rows: list[tuple[str, str]] = []
    if "wave" in df and df["wave"].notna().any():
        waves = sorted(df["wave"].dropna().astype(str).unique())
        for w in waves:
            sub = df[df["wave"].astype(str) == w]
            span = _dates(sub, lang)
            rows.append((f"{'波次' if zh else 'Wave'} {w}",
                         f"n={len(sub):,}" + (f"（{span}）" if zh and span else f" ({span})" if span else "")))
    else:
        span = _dates(df, lang)
        rows.append(("调研时间" if zh else "Fieldwork", span or "–"))
    rows.append(("有效样本" if zh else "Responses used", f"{len(df):,}"))
    rows.append(("问卷环节" if zh else "Stages surveyed",
                 ("；" if zh else "; ").join(f"{pack.stage_name(s, lang)} {n:,}"
                                            for s, n in df["stage"].value_counts().reindex(pack.stage_ids).dropna()
                                            .astype(int).items())))
    for seg in pack.segments:
        if seg.id not in df or not df[seg.id].notna().any():
            continue
        name = seg.name.get(lang)
        if seg.league:
            per = df[seg.id].astype("string").value_counts()
            rows.append((name, (f"{len(per)}家，每家样本中位数{number(per.median())}（最少{per.min():,}，最多{per.max():,}）"
                                if zh else f"{len(per)} units, median n per unit {number(per.median())} "
                                           f"(min {per.min():,}, max {per.max():,})")))
        else:
            rows.append((name, _counts(df[seg.id], lang)))
    w = weight_column(df)
    if w:
        ww = df[w].to_numpy(float)
        n_eff = ww.sum() ** 2 / (ww**2).sum()
        rows.append(("加权" if zh else "Weighting",
                     f"已加权，有效样本 n={number(n_eff)}" if zh else f"weighted, effective n={number(n_eff)}"))
    else:
        rows.append(("加权" if zh else "Weighting", "未加权" if zh else "unweighted"))
    quarantined = int(accounting.get("quarantined", 0))
    reasons = accounting.get("by_reason") or {}
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
    detail = (("；" if zh else "; ").join(f"{cat.get('q_' + k, k)} {v:,}" for k, v in top)) if top else ""
    rows.append(("隔离" if zh else "Quarantined",
                 f"{quarantined:,}" + (f"（{detail}）" if zh and detail else f" ({detail})" if detail else "")))
    r = pack.rules
    rows.append(("统计规则" if zh else "Reporting rules",
                 f"95%置信区间；显著性{(1 - r.alpha) * 100:.0f}%，{r.correction.upper() if r.correction != 'holm' else 'Holm'}校正；"
                 f"样本<{r.suppress_below}不显示，<{r.caution_below}谨慎解读" if zh else
                 f"95% intervals; significance {(1 - r.alpha) * 100:.0f}%, "
                 f"{'Holm' if r.correction == 'holm' else r.correction} correction; bases < {r.suppress_below} "
                 f"suppressed, < {r.caution_below} read with caution"))
    table = pd.DataFrame(rows, columns=["item", "detail"])
    facts = {"n_used": len(df), "quarantined": quarantined,
             "n_waves": int(df["wave"].nunique()) if "wave" in df else 0,
             "fieldwork": _dates(df, lang), "weighted": bool(w)}
    meta = base_meta(df, pack, lang, facts=facts)
    meta.pop("base_rule", None)
    return {"sample": (table, meta)}


__all__ = ["sample_views"]
