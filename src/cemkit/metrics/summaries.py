"""What the renderers draw from the journey table: the journey curve (peak, end, worst), NPS
composition, league table with tiers, and the trend by wave."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..packs import Pack
from .estimates import ArrayLike, _nps_from_sums, headline_stat
from .significance import _filter_wave
from .tables import _SUMS, ALL, _apply_flags, _estimates, _sums_frame, base_flag


# ==================================================================================================
# Views the renderers draw
# ==================================================================================================
def _stage_name(pack: Pack, stage_id: str, lang: str) -> str:
    if stage_id == ALL:
        from ..i18n import label  # the catalogue may name the overall row (key "__all__")

        return label(ALL, lang)
    return pack.stage_name(stage_id, lang)


def _select(table: pd.DataFrame, **eq: Any) -> pd.DataFrame:
    mask = np.ones(len(table), dtype=bool)
    for col, val in eq.items():
        mask &= (table[col].astype(str) == str(val)).to_numpy()
    return table.loc[mask]


def _extreme(values: pd.Series, highest: bool) -> int | None:
    """Position of the max/min non-NaN value (first in order on ties), None if all NaN."""
    v = values.to_numpy(dtype=float)
    if not np.isfinite(v).any():
        return None
    return int(np.nanargmax(v) if highest else np.nanargmin(v))


def journey_curve(
    table: pd.DataFrame,
    pack: Pack,
    metric: str = "nps",
    stat: str | None = None,
    wave: str = ALL,
    changes: pd.DataFrame | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """The overall value of a KPI per stage, in journey order (stages that ask it and have responses).

    Columns ``stage, stage_name, value, ci_low, ci_high, n, n_eff, flag, is_peak, is_end, is_worst,
    change, significant, marker``. Peak-end rule (Kahneman et al. 1993): ``is_peak`` marks the highest
    value, ``is_end`` the last stage of the journey with a shown value, ``is_worst`` the lowest value;
    suppressed (low-base) stages are never peak, end or worst; ties go to the earlier stage. ``change``,
    ``significant`` and ``marker`` come from ``changes`` (:func:`wave_change`), else NaN/False/"".
    """
    stat = stat or headline_stat(pack, metric)
    t = _select(table, metric=metric, stat=stat, segment=ALL, segment_value=ALL, wave=wave)
    t = t.assign(stage=t["stage"].astype(str)).set_index("stage")
    order = [s.id for s in pack.stages if metric in s.kpis and s.id in t.index]
    t = t.loc[order]
    out = pd.DataFrame(
        {
            "stage": order,
            "stage_name": [pack.stage_name(s, lang) for s in order],
            **{c: t[c].to_numpy() for c in ("value", "ci_low", "ci_high", "n", "n_eff", "flag")},
        }
    )
    shown = out["value"].where(out["flag"] != "low_base")
    out["is_peak"] = False
    out["is_end"] = False
    out["is_worst"] = False
    for col, pos in (("is_peak", _extreme(shown, True)), ("is_worst", _extreme(shown, False))):
        if pos is not None:
            out.loc[pos, col] = True
    ends = np.flatnonzero(shown.notna().to_numpy())
    if ends.size:
        out.loc[int(ends[-1]), "is_end"] = True
    out["change"], out["significant"], out["marker"] = np.nan, False, ""
    if changes is not None and len(changes):
        c = _select(changes, metric=metric, stat=stat, segment=ALL, segment_value=ALL)
        c = c.assign(stage=c["stage"].astype(str)).set_index("stage")
        c = c.reindex(out["stage"])
        out["change"] = c["diff"].to_numpy(dtype=float)
        out["significant"] = c["significant"].fillna(False).to_numpy(dtype=bool)
        out["marker"] = c["marker"].fillna("").to_numpy(dtype=object)
    return out


def nps_composition(
    df: pd.DataFrame,
    pack: Pack,
    by: str = "stage",
    metric: str = "nps",
    wave: str | None = None,
    weights: str | ArrayLike | None = "weight",
    conf: float = 0.95,
    lang: str = "zh",
    overall: bool = True,
    nps_method: Literal["wald", "adjusted_wald"] = "wald",
) -> pd.DataFrame:
    """Promoter / passive / detractor shares (%) with the NPS (points), its interval and base per stage
    (``by="stage"``, journey order) or per value of a segment column (sorted by NPS, highest first).

    Columns ``unit, name, detractors, passives, promoters, nps, ci_low, ci_high, n, n_eff, flag``; ``unit`` is
    the stage id / segment value, ``name`` the stage name in ``lang`` (the value itself for segments). With
    ``overall`` a last row ``unit="__all__"`` gives the total. Low-base rows have NaN shares and NPS.
    ``nps_method`` is the NPS interval (:func:`cemkit.metrics.nps`); the shares are the same either way.
    """
    d, weights = _filter_wave(df, wave, weights)
    seg = None if by == "stage" else by
    sums = _sums_frame(d, pack, by=seg, waves=False, weights=weights, metrics=[metric])
    if seg is None:
        sums = sums[sums["segment"] == ALL]
        rows = sums[sums["stage"] != ALL]
        rows = (
            rows.set_index("stage").loc[[s for s in pack.stage_ids if s in set(rows["stage"])]].reset_index()
        )
        units = rows["stage"].tolist()
        names = [pack.stage_name(s, lang) for s in units]
    else:
        rows = sums[(sums["segment"] == seg) & (sums["stage"] == ALL)].reset_index(drop=True)
        units = rows["segment_value"].tolist()
        names = list(units)
    if overall:
        tot = sums[(sums["segment"] == ALL) & (sums["stage"] == ALL)]
        rows = pd.concat([rows, tot], ignore_index=True)
        units, names = units + [ALL] * len(tot), names + [_stage_name(pack, ALL, lang)] * len(tot)
    e = _nps_from_sums({k: rows[k].to_numpy(dtype=float) for k in (*_SUMS, "shift")}, conf, nps_method)
    out = pd.DataFrame(
        {
            "unit": units,
            "name": names,
            "detractors": e["detractors"],
            "passives": e["passives"],
            "promoters": e["promoters"],
            "nps": e["value"],
            "ci_low": e["ci_low"],
            "ci_high": e["ci_high"],
            "n": rows["n"].to_numpy(dtype=np.int64),
            "n_eff": e["n_eff"],
        }
    )
    out["flag"] = base_flag(out["n_eff"], pack)
    low = out["flag"] == "low_base"
    out.loc[low, ["detractors", "passives", "promoters", "nps", "ci_low", "ci_high"]] = np.nan
    if seg is not None:
        body = out[out["unit"] != ALL].sort_values("nps", ascending=False, kind="stable", na_position="last")
        out = pd.concat([body, out[out["unit"] == ALL]], ignore_index=True)
    return out.reset_index(drop=True)


def _tiers(value: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Tier numbers (1 = top) for units sorted by value descending.

    Rule: the best unit not yet in a tier leads a new tier; every unit not yet in a tier whose interval
    overlaps the leader's interval (``lo ≤ hi_leader`` and ``hi ≥ lo_leader``) joins it. Repeat. Overlapping
    95% intervals are a conservative "not clearly different" rule, not a formal pairwise test."""
    tier = np.zeros(value.size, dtype=np.int64)
    k = 0
    while (tier == 0).any():  # one pass per tier (a handful), vectorised over units
        k += 1
        lead = int(np.flatnonzero(tier == 0)[0])
        join = (tier == 0) & (lo <= hi[lead]) & (hi >= lo[lead])
        join[lead] = True
        tier[join] = k
    return tier


def league_table(
    df: pd.DataFrame,
    pack: Pack,
    segment: str,
    metric: str = "nps",
    stat: str | None = None,
    stage: str = ALL,
    wave: str | None = None,
    weights: str | ArrayLike | None = "weight",
    conf: float = 0.95,
    nps_method: Literal["wald", "adjusted_wald"] = "wald",
) -> pd.DataFrame:
    """Units of ``segment`` (e.g. dealers) ranked by a KPI with intervals, bases, ties and greyed low bases.

    Columns ``rank, unit, value, ci_low, ci_high, n, n_eff, flag, greyed, tier, tied, tied_with_leader``.
    ``rank`` is the competition rank by value (1 = best; equal values share the better rank); low-base
    units are ``greyed``, have NaN value/interval, NaN ``rank`` and ``tier`` and come last (by base).
    Tiers (see :func:`_tiers`): the top unit leads tier 1 and every unit whose interval overlaps the leader's
    joins it; the best remaining unit leads tier 2, and so on. ``tied`` means the unit shares its tier with
    another; ``tied_with_leader`` that it is in tier 1 but is not the leader. ``nps_method``: the NPS
    interval (:func:`cemkit.metrics.nps`), which the tiers are drawn from.
    """
    stat = stat or headline_stat(pack, metric)
    d, weights = _filter_wave(df, wave, weights)
    sums = _sums_frame(d, pack, by=segment, waves=False, weights=weights, metrics=[metric])
    sums = sums[(sums["segment"] == segment) & (sums["stage"] == stage)]
    e = _apply_flags(_estimates(sums, pack, conf, nps_method, stats=[stat]), pack)
    e = e.rename(columns={"segment_value": "unit"})
    e["greyed"] = e["flag"] == "low_base"
    ranked = e[~e["greyed"]].sort_values(["value", "n_eff"], ascending=[False, False], kind="stable")
    unranked = e[e["greyed"]].sort_values(["n_eff", "unit"], ascending=[False, True], kind="stable")
    ranked = ranked.assign(rank=ranked["value"].rank(method="min", ascending=False))
    tiers = _tiers(*(ranked[c].to_numpy(dtype=float) for c in ("value", "ci_low", "ci_high")))
    ranked["tier"] = tiers.astype(float)
    sizes = pd.Series(tiers).map(pd.Series(tiers).value_counts()).to_numpy()
    ranked["tied"] = sizes > 1
    ranked["tied_with_leader"] = (tiers == 1) & (np.arange(len(tiers)) > 0)
    unranked = unranked.assign(rank=np.nan, tier=np.nan, tied=False, tied_with_leader=False)
    out = pd.concat([ranked, unranked], ignore_index=True) if len(unranked) else ranked.reset_index(drop=True)
    cols = [
        "rank",
        "unit",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "n_eff",
        "flag",
        "greyed",
        "tier",
        "tied",
        "tied_with_leader",
    ]
    return out[cols].reset_index(drop=True)


def trend(
    table: pd.DataFrame,
    pack: Pack,
    metric: str = "nps",
    stat: str | None = None,
    segment: str = ALL,
    segment_value: str = ALL,
    stages: Sequence[str] | None = None,
    changes: pd.DataFrame | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """A KPI by wave for each stage (``"__all__"`` first, then journey order), waves in time order.

    Columns ``stage, stage_name, wave, value, ci_low, ci_high, n, n_eff, flag, marker``; ``marker`` is the
    "↑"/"↓" of a significant change (from ``changes``) on the last wave's row, else "". ``stages`` limits
    the stages shown."""
    stat = stat or headline_stat(pack, metric)
    t = _select(table, metric=metric, stat=stat, segment=segment, segment_value=segment_value)
    t = t[t["wave"].astype(str) != ALL].assign(
        stage=lambda x: x["stage"].astype(str), wave=lambda x: x["wave"].astype(str)
    )
    order = [ALL, *(s.id for s in pack.stages if metric in s.kpis)]
    if stages is not None:
        order = [s for s in order if s in set(stages)]
    t = t[t["stage"].isin(order)]
    t = t.assign(_s=t["stage"].map({s: i for i, s in enumerate(order)})).sort_values(
        ["_s", "wave"], kind="stable"
    )
    out = t[["stage", "wave", "value", "ci_low", "ci_high", "n", "n_eff", "flag"]].reset_index(drop=True)
    out.insert(1, "stage_name", [_stage_name(pack, s, lang) for s in out["stage"]])
    out["marker"] = ""
    if changes is not None and len(changes):
        c = _select(changes, metric=metric, stat=stat, segment=segment, segment_value=segment_value)
        mk = dict(zip(c["stage"].astype(str) + "\x00" + c["wave_last"].astype(str), c["marker"]))
        out["marker"] = (out["stage"] + "\x00" + out["wave"]).map(mk).fillna("").astype(object)
    return out
