"""The methodology and sample page: fieldwork period, channels, n by wave / unit / region, weighting,
quarantine and the reporting rules — what a research client checks before believing any chart."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import engine
from ..engine import Dataset
from ..i18n import catalogue, number
from ..packs import Pack
from .common import Views, base_meta, weight_column


def _value_counts(df: pd.DataFrame | Dataset, column: str) -> pd.Series:
    """Rows per value of ``column`` (as text, missing left out), largest first, ties by value: from pandas, or
    one ``GROUP BY`` when ``df`` is a :class:`cemkit.engine.Dataset` (nothing but the counts in memory)."""
    if isinstance(df, Dataset):
        c = engine.counts(df, [column]).dropna(subset=[column])
        vc = pd.Series(c["n"].to_numpy(dtype="int64"), index=c[column].astype(str).to_numpy())
    else:
        vc = df[column].astype("string").dropna().value_counts()
        vc.index = vc.index.astype(str)
    order = sorted(range(len(vc)), key=lambda i: (-int(vc.iloc[i]), vc.index[i]))
    return vc.iloc[order]


def _counts(df: pd.DataFrame | Dataset, column: str, lang: str, top: int = 6) -> str:
    """"华东 2,310；华南 1,980 …" — the largest groups first, the rest summed."""
    vc = _value_counts(df, column)
    sep, more = ("；", "其他") if lang == "zh" else ("; ", "other")
    parts = [f"{k} {v:,}" for k, v in vc.head(top).items()]
    if len(vc) > top:
        parts.append(f"{more} {int(vc.iloc[top:].sum()):,}")
    return sep.join(parts)


def _spans(df: pd.DataFrame | Dataset, by_wave: bool) -> pd.DataFrame:
    """Rows and first / last response date, per wave (``by_wave``) or overall: columns ``wave, n, d0, d1``."""
    has_date = "date" in df
    if isinstance(df, Dataset):
        key = 'CAST("wave" AS VARCHAR)' if by_wave else "NULL"
        dates = ('min(TRY_CAST("date" AS TIMESTAMP)) AS d0, max(TRY_CAST("date" AS TIMESTAMP)) AS d1'
                 if has_date else "NULL AS d0, NULL AS d1")
        tail = (df.cond('"wave" IS NOT NULL') + " GROUP BY 1") if by_wave else ""
        return df.sql(f"{key} AS wave, count(*) AS n, {dates}", tail)
    d = pd.to_datetime(df["date"], errors="coerce") if has_date else pd.Series(pd.NaT, index=df.index)
    key = df["wave"].astype("string") if by_wave else pd.Series("", index=df.index)
    g = pd.DataFrame({"wave": key, "d": d}).dropna(subset=["wave"]).groupby("wave", sort=False)["d"]
    return pd.DataFrame({"n": g.size(), "d0": g.min(), "d1": g.max()}).reset_index()


def _span_text(d0, d1, lang: str) -> str | None:
    if pd.isna(d0) or pd.isna(d1):
        return None
    to = "至" if lang == "zh" else "to"
    return f"{pd.Timestamp(d0):%Y-%m-%d} {to} {pd.Timestamp(d1):%Y-%m-%d}"


def sample_views(df: pd.DataFrame | Dataset, accounting: dict[str, Any], pack: Pack, lang: str) -> Views:
    """One two-column table (item, detail) for the methodology and sample page, and its facts. ``df``: the
    responses, or the :class:`cemkit.engine.Dataset` the streaming ingest wrote (every figure is a count,
    a date range or a weight sum: SQL aggregates, no rows read)."""
    zh = lang == "zh"
    cat = catalogue(lang)
    rows: list[tuple[str, str]] = []
    n_used = len(df)
    overall = _spans(df, by_wave=False).iloc[0] if n_used else None
    fieldwork = _span_text(overall["d0"], overall["d1"], lang) if overall is not None else None
    per_wave = _spans(df, by_wave=True) if "wave" in df else pd.DataFrame()
    if len(per_wave):
        for w in sorted(per_wave["wave"].astype(str)):
            r = per_wave[per_wave["wave"].astype(str) == w].iloc[0]
            span = _span_text(r["d0"], r["d1"], lang)
            rows.append((f"{'波次' if zh else 'Wave'} {w}",
                         f"n={int(r['n']):,}" + (f"（{span}）" if zh and span else f" ({span})" if span else "")))
    else:
        rows.append(("调研时间" if zh else "Fieldwork", fieldwork or "–"))
    rows.append(("有效样本" if zh else "Responses used", f"{n_used:,}"))
    stages = _value_counts(df, "stage").reindex(pack.stage_ids).dropna().astype(int)
    rows.append(("问卷环节" if zh else "Stages surveyed",
                 ("；" if zh else "; ").join(f"{pack.stage_name(s, lang)} {n:,}" for s, n in stages.items())))
    for seg in pack.segments:
        per = _value_counts(df, seg.id) if seg.id in df else pd.Series(dtype="int64")
        if per.empty:
            continue
        name = seg.name.get(lang)
        if seg.league:
            rows.append((name, (f"{len(per)}家，每家样本中位数{number(per.median())}（最少{per.min():,}，最多{per.max():,}）"
                                if zh else f"{len(per)} units, median n per unit {number(per.median())} "
                                           f"(min {per.min():,}, max {per.max():,})")))
        else:
            rows.append((name, _counts(df, seg.id, lang)))
    w = weight_column(df)
    if w:
        if isinstance(df, Dataset):
            n_eff = df.kish_base(w)
        else:
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
    facts = {"n_used": n_used, "quarantined": quarantined, "n_waves": len(per_wave),
             "fieldwork": fieldwork, "weighted": bool(w)}
    meta = base_meta(df, pack, lang, facts=facts)
    meta.pop("base_rule", None)
    return {"sample": (table, meta)}


__all__ = ["sample_views"]
