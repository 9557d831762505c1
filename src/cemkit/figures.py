"""Notebook figures: small seaborn / matplotlib charts of result tables, with Chinese labels.

Analysis side only: the notebooks import this module; the renderers never do (the deck and the HTML report
draw their own charts from ``results/``). Every function takes a table of a few dozen rows — a result the
notebook saves, or an analysis output of the same size — never the response table, so a figure costs
milliseconds at any data size. Each returns a :class:`matplotlib.figure.Figure` (not a pyplot figure: nothing
is left open), which a notebook cell shows as its value.

Call :func:`setup` once per notebook: seaborn's theme, then the Noto Sans CJK font that the ``mplfonts``
package ships (no download) — after the theme, because ``seaborn.set_theme`` resets ``font.family`` — and a
hyphen for the minus sign (``axes.unicode_minus=False``: the CJK font has no U+2212 glyph).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .i18n import t

__all__ = ["COLORS", "composition", "distinctive_words", "driver_importance", "journey_curve", "league", "lift",
           "priority_matrix", "readable", "setup", "stage_importance", "theme_impact", "theme_mentions",
           "theme_stage", "trend"]

#: NPS groups and emphasis (the deck's colours: red detractors, grey passives, green promoters)
COLORS = {"detractors": "#c62828", "passives": "#bdbdbd", "promoters": "#2e7d32", "main": "#1f5fa8",
          "worst": "#c62828", "muted": "#9e9e9e", "good": "#2e7d32"}
_FONT = "NotoSansCJKsc-Regular.otf"
ALL = "__all__"


def _font_file() -> Path | None:
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / _FONT
    return path if path.exists() else None


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel brings IPython
        return None
    return get_ipython()


def setup(dpi: int = 110) -> str | None:
    """Seaborn's theme with Chinese glyphs; returns the font family used (None when mplfonts is missing:
    Chinese labels then show as boxes)."""
    import matplotlib
    import matplotlib.font_manager as fm
    import seaborn as sns

    shell = _ipython()
    if shell is not None:  # in a notebook kernel: a Figure a cell returns is shown as a PNG
        shell.run_line_magic("matplotlib", "inline")
    sns.set_theme(style="whitegrid", context="notebook")
    family = None
    path = _font_file()
    if path is not None:
        fm.fontManager.addfont(str(path))
        family = fm.FontProperties(fname=str(path)).get_name()
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    matplotlib.rcParams.update({"axes.unicode_minus": False, "figure.dpi": dpi, "savefig.dpi": dpi,
                                "figure.constrained_layout.use": True, "axes.titlesize": 12,
                                "axes.titleweight": "bold"})
    return family


def _fig(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw: Any):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _ci_err(value: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    v, a, b = (np.asarray(x, dtype=float) for x in (value, lo, hi))
    return np.vstack([np.clip(v - a, 0, None), np.clip(b - v, 0, None)])


def _shown(table: pd.DataFrame, flag: str = "flag") -> pd.Series:
    return (table[flag] != "low_base") if flag in table else pd.Series(True, index=table.index)


# ============================================================================================== journey
def journey_curve(curve: pd.DataFrame, lang: str = "zh", metric: str = "NPS", title: str | None = None):
    """The KPI of each stage in journey order with its interval (:func:`cemkit.metrics.journey_curve`): the
    worst stage in red, the wave change's ↑/↓ beside a significant change, low bases named instead of drawn."""
    fig, ax = _fig(max(6.5, 1.1 * len(curve) + 2), 3.8)
    ax = ax[0, 0]
    x = np.arange(len(curve))
    ok = _shown(curve).to_numpy() & curve["value"].notna().to_numpy()
    ax.plot(x[ok], curve["value"][ok], color=COLORS["main"], lw=1.5, zorder=1)
    err = _ci_err(curve["value"], curve["ci_low"], curve["ci_high"])
    worst = curve["is_worst"].to_numpy(dtype=bool) if "is_worst" in curve else np.zeros(len(curve), bool)
    for i in np.flatnonzero(ok):
        color = COLORS["worst"] if worst[i] else COLORS["main"]
        ax.errorbar(x[i], curve["value"].iloc[i], yerr=err[:, i:i + 1], fmt="o", color=color, ms=7, capsize=4,
                    zorder=2)
        mark = str(curve["marker"].iloc[i]) if "marker" in curve else ""
        ax.annotate(f"{curve['value'].iloc[i]:.0f}{mark}", (x[i], curve["ci_high"].iloc[i]), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=10, color=color)
    lo = np.nanmin(curve["ci_low"].where(ok)) if ok.any() else 0
    for i in np.flatnonzero(~ok):
        ax.annotate(f"{t('low_base', lang)}\nn={int(curve['n'].iloc[i])}", (x[i], lo), ha="center", va="bottom",
                    fontsize=9, color=COLORS["muted"])
    ax.set_xticks(x, curve["stage_name"], rotation=20 if len(curve) > 6 else 0)
    ax.set_ylabel(t("fig_ci_axis", lang, metric=metric))
    ax.margins(y=0.18)
    ax.set_title(title or t("fig_journey_curve", lang, metric=metric))
    return fig


def composition(comp: pd.DataFrame, lang: str = "zh", title: str | None = None):
    """Detractor / passive / promoter shares per stage (and overall) as 100 % bars with the NPS beside each
    bar (:func:`cemkit.metrics.nps_composition`)."""
    comp = comp.iloc[::-1].reset_index(drop=True)  # first row on top
    fig, ax = _fig(8.5, 0.42 * len(comp) + 1.6)
    ax = ax[0, 0]
    y = np.arange(len(comp))
    left = np.zeros(len(comp))
    for part in ("detractors", "passives", "promoters"):
        values = comp[part].fillna(0).to_numpy(dtype=float)
        ax.barh(y, values, left=left, color=COLORS[part], label=t(f"fig_{part}", lang), height=0.7)
        for i, v in enumerate(values):
            if v >= 6:
                ax.text(left[i] + v / 2, y[i], f"{v:.0f}", ha="center", va="center", fontsize=9,
                        color="white" if part != "passives" else "black")
        left += values
    for i, (nps, flag) in enumerate(zip(comp["nps"], comp.get("flag", pd.Series("ok", index=comp.index)))):
        text = t("low_base", lang) if flag == "low_base" or pd.isna(nps) else f"NPS {nps:.0f}"
        ax.text(101.5, y[i], text, va="center", fontsize=10)
    names = comp["label"] if "label" in comp else comp["name"]
    ax.set_yticks(y, [str(n).split("（")[0].split(" (")[0] for n in names])
    ax.set_xlim(0, 100)
    ax.set_xlabel(t("fig_share_pct", lang))
    ax.grid(False, axis="y")
    ax.legend(ncols=3, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, fontsize=9)
    ax.set_title(title or t("fig_composition", lang), pad=24)
    return fig


def league(table: pd.DataFrame, lang: str = "zh", top: int = 20, metric: str = "NPS", title: str | None = None):
    """Units ranked by the KPI with intervals (:func:`cemkit.metrics.league_table`): tier 1 — not clearly
    different from the leader — in colour; the ``top`` best units are drawn, low bases are counted."""
    ranked = table[~table["greyed"].astype(bool)].head(top).iloc[::-1].reset_index(drop=True)
    fig, ax = _fig(7.5, 0.32 * len(ranked) + 1.5)
    ax = ax[0, 0]
    y = np.arange(len(ranked))
    err = _ci_err(ranked["value"], ranked["ci_low"], ranked["ci_high"])
    tier1 = pd.to_numeric(ranked["tier"], errors="coerce").to_numpy() == 1
    for i in range(len(ranked)):
        color = COLORS["main"] if tier1[i] else COLORS["muted"]
        ax.errorbar(ranked["value"].iloc[i], y[i], xerr=err[:, i:i + 1], fmt="o", color=color, capsize=3, ms=5)
    ax.set_yticks(y, [f"{int(r)}. {u}" for r, u in zip(ranked["rank"], ranked["unit"])])
    ax.set_xlabel(t("fig_ci_axis", lang, metric=metric))
    n_grey = int(table["greyed"].astype(bool).sum())
    sub = t("fig_league_note", lang, shown=len(ranked), total=len(table), low=n_grey)
    fig.suptitle(title or t("fig_league", lang, metric=metric), fontweight="bold")
    ax.set_title(sub, fontsize=9, fontweight="normal", color="#424242")
    return fig


def trend(tr: pd.DataFrame, lang: str = "zh", metric: str = "NPS", title: str | None = None):
    """The KPI by wave for each stage (:func:`cemkit.metrics.trend`), the overall line in bold."""
    import seaborn as sns

    fig, ax = _fig(8, 3.8)
    ax = ax[0, 0]
    data = tr[_shown(tr)].assign(wave=lambda d: d["wave"].astype(str))
    stages = list(dict.fromkeys(data["stage_name"]))
    palette = dict(zip(stages, sns.color_palette("tab10", len(stages))))
    for name, part in data.groupby("stage_name", sort=False):
        overall = (part["stage"] == ALL).all()
        ax.plot(part["wave"], part["value"], marker="o", lw=3 if overall else 1.4, color="black" if overall else
                palette[name], label=name)
    ax.set_ylabel(metric)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=9)
    ax.set_title(title or t("fig_trend", lang, metric=metric))
    return fig


# ============================================================================================== drivers
def driver_importance(table: pd.DataFrame, lang: str = "zh", ncols: int = 3, title: str | None = None):
    """Each stage's drivers by share of explained variance (%) with their bootstrap intervals, one panel per
    stage (:func:`cemkit.views.driver_views`' ``stage_drivers`` table, or :func:`cemkit.drivers.key_drivers`
    output with ``stage_name`` and ``driver_name`` columns)."""
    stages = list(dict.fromkeys(table["stage_name"]))
    ncols = max(1, min(ncols, len(stages)))
    nrows = int(np.ceil(len(stages) / ncols))
    most = max(int(table.groupby("stage_name")["driver"].size().max()), 1)
    fig, axes = _fig(4.2 * ncols, (0.32 * most + 1.1) * nrows, nrows, ncols, sharex=True)
    top = float(np.nanmax(table["ci_high"] if "ci_high" in table else table["share"])) * 100
    for k, ax in enumerate(axes.ravel()):
        if k >= len(stages):
            ax.set_visible(False)
            continue
        part = table[table["stage_name"] == stages[k]].sort_values("share").reset_index(drop=True)
        y = np.arange(len(part))
        share = part["share"].to_numpy(dtype=float) * 100
        fix = (part["quadrant"] == "high_importance_low_performance").to_numpy() if "quadrant" in part else \
            np.zeros(len(part), bool)
        ax.barh(y, share, color=[COLORS["worst"] if f else COLORS["main"] for f in fix], height=0.65)
        if "ci_low" in part:
            err = _ci_err(share, part["ci_low"] * 100, part["ci_high"] * 100)
            ax.errorbar(share, y, xerr=err, fmt="none", ecolor="black", capsize=2, lw=0.8)
        ax.set_yticks(y, part["driver_name"] if "driver_name" in part else part["driver"], fontsize=9)
        r2 = part["r2"].iloc[0] if "r2" in part else np.nan
        ax.set_title(stages[k] + (f"（R²={r2:.2f}）" if lang == "zh" and pd.notna(r2) else
                                  (f" (R²={r2:.2f})" if pd.notna(r2) else "")), fontsize=11)
        ax.set_xlim(0, max(top * 1.05, 10))
    for c in range(ncols):  # the x axis under each column's lowest panel
        last = axes[(len(stages) - 1 - c) // ncols if c < len(stages) else 0, c]
        last.tick_params(axis="x", labelbottom=True)
        last.set_xlabel(t("fig_importance_pct", lang))
    fig.suptitle(title or t("fig_drivers", lang), fontweight="bold")
    return fig


def priority_matrix(pm: pd.DataFrame, x_split: float, y_split: float, lang: str = "zh",
                    quadrant_labels: dict[str, str] | None = None, title: str | None = None):
    """Importance (share of explained variance, %) against performance for one stage's drivers, cut at
    ``x_split`` (a share, 0–1) and ``y_split`` (the result's meta), the fix-first quadrant in red."""
    fig, ax = _fig(7.5, 5.2)
    ax = ax[0, 0]
    x = pm["share"].to_numpy(dtype=float) * 100
    y = pm["performance"].to_numpy(dtype=float)
    fix = (pm["quadrant"] == "high_importance_low_performance").to_numpy()
    ax.scatter(x, y, s=60, c=[COLORS["worst"] if f else COLORS["main"] for f in fix], zorder=3)
    for xi, yi, name in zip(x, y, pm["driver_name"] if "driver_name" in pm else pm["driver"]):
        ax.annotate(str(name), (xi, yi), xytext=(5, 4), textcoords="offset points", fontsize=9)
    ax.axvline(x_split * 100, color=COLORS["muted"], ls="--", lw=1)
    ax.axhline(y_split, color=COLORS["muted"], ls="--", lw=1)
    ax.margins(0.2)
    if quadrant_labels:
        corners = {"high_importance_low_performance": (0.98, 0.02, "right", "bottom"),
                   "high_importance_high_performance": (0.98, 0.98, "right", "top"),
                   "low_importance_low_performance": (0.02, 0.02, "left", "bottom"),
                   "low_importance_high_performance": (0.02, 0.98, "left", "top")}
        for key, (cx, cy, ha, va) in corners.items():
            if quadrant_labels.get(key):
                ax.text(cx, cy, quadrant_labels[key], transform=ax.transAxes, ha=ha, va=va, fontsize=10,
                        color=COLORS["worst"] if key == "high_importance_low_performance" else COLORS["muted"])
    ax.set_xlabel(t("fig_importance_pct", lang))
    ax.set_ylabel(t("fig_performance", lang))
    stage = pm["stage_name"].iloc[0] if "stage_name" in pm and len(pm) else ""
    ax.set_title(title or t("fig_priority_matrix", lang, stage=stage))
    return fig


def stage_importance(res: pd.DataFrame, lang: str = "zh", title: str | None = None):
    """Which stage's satisfaction explains most of customers' NPS (share of R², %)."""
    res = res.sort_values("share").reset_index(drop=True)
    fig, ax = _fig(7, 0.4 * len(res) + 1.4)
    ax = ax[0, 0]
    top = res["share"].to_numpy() == res["share"].max()
    ax.barh(res["stage_name"], res["share"] * 100, color=[COLORS["worst"] if k else COLORS["main"] for k in top])
    for i, v in enumerate(res["share"] * 100):
        ax.text(max(v, 0), i, f" {v:.0f}%", va="center", fontsize=9)  # a negative share: beside the axis
    ax.set_xlabel(t("fig_importance_pct", lang))
    ax.set_title(title or t("fig_stage_importance", lang))
    return fig


# ================================================================================================= text
def theme_mentions(themes: pd.DataFrame, lang: str = "zh", top: int = 15, title: str | None = None):
    """Share of commenters mentioning each theme (%), the negative mentions' part in red."""
    part = themes.sort_values("mention_rate", ascending=False).head(top).iloc[::-1]
    fig, ax = _fig(7.5, 0.34 * len(part) + 1.5)
    ax = ax[0, 0]
    ax.barh(part["theme_name"], part["mention_rate"], color=COLORS["passives"], label=t("fig_mentions", lang))
    ax.barh(part["theme_name"], part["negative_rate"], color=COLORS["detractors"], label=t("fig_negative", lang))
    ax.set_xlabel(t("fig_mention_rate", lang))
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    ax.set_title(title or t("fig_themes", lang))
    return fig


def theme_impact(imp: pd.DataFrame, lang: str = "zh", title: str | None = None):
    """Each theme's net contribution to the overall NPS (points; :func:`cemkit.text.theme_impact`), with the
    NPS gap between its mentioners and the other commenters; themes whose gap is not significant are pale."""
    part = imp.sort_values("contribution", ascending=False).reset_index(drop=True)
    fig, ax = _fig(8, 0.36 * len(part) + 1.6)
    ax = ax[0, 0]
    y = np.arange(len(part))[::-1]
    c = part["contribution"].to_numpy(dtype=float)
    sig = part["significant"].to_numpy(dtype=bool) if "significant" in part else np.ones(len(part), bool)
    colors = [COLORS["good"] if v >= 0 else COLORS["worst"] for v in c]
    ax.barh(y, c, color=colors, alpha=None, height=0.65)
    for yi, ci, s, gap, col in zip(y, c, sig, part["gap"], ax.patches):
        col.set_alpha(1.0 if s else 0.35)
        if pd.notna(gap):
            ax.text(ci, yi, f" {gap:+.0f}" if ci >= 0 else f"{gap:+.0f} ", va="center",
                    ha="left" if ci >= 0 else "right", fontsize=8, color="#424242")
    ax.set_yticks(y, part["theme_name"])
    ax.axvline(0, color="black", lw=0.8)
    ax.margins(x=0.15)
    ax.set_xlabel(t("fig_contribution", lang))
    ax.set_title(title or t("fig_theme_impact", lang))
    return fig


def theme_stage(long: pd.DataFrame, lang: str = "zh", title: str | None = None):
    """Negative share (% of a theme's mentions at a stage) as a heat map (the ``theme_stage`` result, one row
    per theme × stage cell): stages in journey order, cells without mentions (structural zeros) and cells on a
    low base left blank."""
    import seaborn as sns

    cells = long[long["flag"] == "ok"] if "flag" in long else long
    data = cells.pivot_table(index="theme_name", columns="stage_name", values="neg_share", sort=False)
    order = long.drop_duplicates("stage_name").sort_values("x_order")["stage_name"] if "x_order" in long else None
    if order is not None:
        data = data.reindex(columns=[c for c in order if c in data.columns])
    data = data.reindex(index=[r for r in long["theme_name"].drop_duplicates() if r in data.index])
    fig, ax = _fig(0.9 * data.shape[1] + 3, 0.34 * data.shape[0] + 1.6)
    ax = ax[0, 0]
    sns.heatmap(data, annot=True, fmt=".0f", cmap="Reds", cbar=False, ax=ax, linewidths=0.5,
                annot_kws={"fontsize": 8})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=20)
    ax.set_title(title or t("fig_theme_stage", lang))
    return fig


def distinctive_words(dw: pd.DataFrame, lang: str = "zh", per_side: int = 8, title: str | None = None):
    """Words that set detractors' comments apart from promoters' (z of the log-odds ratio,
    :func:`cemkit.text.distinctive_words`): detractor words to the left, promoter words to the right."""
    det = dw[dw["group"] == "detractor"].sort_values("z", ascending=False).head(per_side)
    pro = dw[dw["group"] == "promoter"].sort_values("z").head(per_side)
    part = pd.concat([det.assign(v=-det["z"].abs()), pro.assign(v=pro["z"].abs())]).sort_values("v")
    fig, ax = _fig(7, 0.3 * len(part) + 1.5)
    ax = ax[0, 0]
    ax.barh(part["word"], part["v"], color=[COLORS["detractors"] if v < 0 else COLORS["promoters"]
                                             for v in part["v"]])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(t("fig_z", lang))
    ax.set_title(title or t("fig_distinctive", lang))
    return fig


# =========================================================================================== prediction
def lift(table: pd.DataFrame, lang: str = "zh", title: str | None = None):
    """Observed detractor rate per group of customers sorted by predicted risk (riskiest first), against
    the overall rate, with each group's lift (:func:`cemkit.predict.lift_table`)."""
    fig, ax = _fig(7.5, 3.8)
    ax = ax[0, 0]
    x = table["group"].astype(int).to_numpy()
    rate = table["observed_rate"].to_numpy(dtype=float) * 100
    ax.bar(x, rate, color=COLORS["main"])
    base = float(table.attrs.get("base_rate", np.nan)) * 100
    if np.isfinite(base):
        ax.axhline(base, color=COLORS["worst"], ls="--", lw=1.2, label=t("fig_base_rate", lang, rate=f"{base:.0f}"))
        ax.legend(frameon=False, fontsize=9)
    for xi, r, li in zip(x, rate, table["lift"]):
        if np.isfinite(r):
            ax.text(xi, r, f"{li:.1f}×", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xlabel(t("fig_risk_group", lang, n=len(table)))
    ax.set_ylabel(t("fig_detractor_rate", lang))
    ax.set_title(title or t("fig_lift", lang))
    return fig


# =============================================================================================== tables
def readable(table: pd.DataFrame, columns: Sequence[str] | None = None, decimals: int = 1, rows: int = 20,
             names: dict[str, str] | None = None) -> pd.DataFrame:
    """A table to read in a notebook: the chosen columns, floats rounded (p-values to 3 decimals), the
    first ``rows`` rows, columns renamed by ``names``."""
    out = table[list(columns)] if columns is not None else table
    out = out.head(rows).copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(3 if str(col).startswith("p_") else decimals)
    return out.rename(columns=names or {})
