"""Facts for action titles: plain values (names, numbers, flags) from the journey views; the sentences
live in the storyline and the message catalogues."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..packs import Pack
from .estimates import headline_stat
from .summaries import _extreme, _select
from .tables import ALL


# ==================================================================================================
# Facts for action titles (plain values; the sentences live in the storyline / message catalogues)
# ==================================================================================================
def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def journey_facts(
    curve: pd.DataFrame,
    changes: pd.DataFrame | None,
    pack: Pack,
    lang: str = "zh",
    table: pd.DataFrame | None = None,
    metric: str = "nps",
    stat: str | None = None,
    wave: str = ALL,
) -> dict[str, Any]:
    """Facts for the journey slides' titles, from :func:`journey_curve` and :func:`wave_change`.

    Keys: ``worst_stage`` (name in ``lang``), ``worst_stage_id``, ``worst_value``, ``worst_change`` (vs the
    previous wave, None if untested), ``worst_change_significant``, ``peak_stage``/``_id``/``peak_value``,
    ``end_stage``/``_id``/``end_value``, ``gap`` (peak − worst), ``overall`` with ``overall_ci_low``,
    ``overall_ci_high`` and ``overall_n`` (all stages, from ``table`` for ``wave`` — give the curve's wave:
    the default is every wave pooled — else None), ``overall_change``/``overall_change_significant``, and for
    the trend slide ``has_change``,
    ``change_stage``/``_id``, ``change``, ``change_significant`` — the largest significant stage change,
    or the largest absolute change when none is significant. Numbers are floats (None when unavailable).
    """
    stat = stat or headline_stat(pack, metric)
    facts: dict[str, Any] = {"metric": metric, "stat": stat, "n_stages": len(curve)}

    def row_of(flag: str) -> pd.Series | None:
        hit = curve[curve[flag].astype(bool)]
        return hit.iloc[0] if len(hit) else None

    for key, flag in (("worst", "is_worst"), ("peak", "is_peak"), ("end", "is_end")):
        r = row_of(flag)
        facts[f"{key}_stage"] = pack.stage_name(r["stage"], lang) if r is not None else None
        facts[f"{key}_stage_id"] = str(r["stage"]) if r is not None else None
        facts[f"{key}_value"] = _num(r["value"]) if r is not None else None
    pv, wv = facts["peak_value"], facts["worst_value"]
    facts["gap"] = pv - wv if pv is not None and wv is not None else None

    c = None
    if changes is not None and len(changes):
        c = _select(changes, metric=metric, stat=stat, segment=ALL, segment_value=ALL)
        c = c.assign(stage=c["stage"].astype(str))

    def change_of(stage_id: str | None) -> tuple[float | None, bool]:
        if c is None or stage_id is None:
            return None, False
        hit = c[(c["stage"] == stage_id) & c["tested"].astype(bool)]
        if not len(hit):
            return None, False
        return _num(hit["diff"].iloc[0]), bool(hit["significant"].iloc[0])

    facts["worst_change"], facts["worst_change_significant"] = change_of(facts["worst_stage_id"])
    facts["overall_change"], facts["overall_change_significant"] = change_of(ALL)
    facts.update(overall=None, overall_ci_low=None, overall_ci_high=None, overall_n=0)
    if table is not None:
        o = _select(table, metric=metric, stat=stat, stage=ALL, segment=ALL, segment_value=ALL, wave=wave)
        if len(o):
            facts.update(overall=_num(o["value"].iloc[0]), overall_ci_low=_num(o["ci_low"].iloc[0]),
                         overall_ci_high=_num(o["ci_high"].iloc[0]), overall_n=int(o["n"].iloc[0]))

    facts.update(
        has_change=False, change_stage=None, change_stage_id=None, change=None, change_significant=False
    )
    if c is not None:
        st = c[(c["stage"] != ALL) & c["tested"].astype(bool)]
        if len(st):
            sig = st[st["significant"].astype(bool)]
            pool = sig if len(sig) else st
            best = pool.iloc[int(np.argmax(np.abs(pool["diff"].to_numpy(dtype=float))))]
            facts.update(
                has_change=True,
                change_stage=pack.stage_name(best["stage"], lang),
                change_stage_id=best["stage"],
                change=_num(best["diff"]),
                change_significant=bool(best["significant"]),
            )
    return facts


def league_facts(league: pd.DataFrame) -> dict[str, Any]:
    """Facts for the league slide: ``best_unit``, ``best_value``, ``worst_unit``, ``worst_value`` (ranked
    units only), ``ties`` (units tied with the leader), ``n_ranked``, ``n_unranked``."""
    r = league[league["rank"].notna()]
    facts: dict[str, Any] = {"n_ranked": len(r), "n_unranked": int(league["rank"].isna().sum())}
    if len(r):
        facts.update(
            best_unit=str(r["unit"].iloc[0]),
            best_value=_num(r["value"].iloc[0]),
            worst_unit=str(r["unit"].iloc[-1]),
            worst_value=_num(r["value"].iloc[-1]),
            ties=int(r["tied_with_leader"].sum()),
        )
    else:
        facts.update(best_unit=None, best_value=None, worst_unit=None, worst_value=None, ties=0)
    return facts


def composition_facts(composition: pd.DataFrame) -> dict[str, Any]:
    """Facts for the composition slide: the unit with the highest detractor share (``most_detractors_stage``
    = its name, ``most_detractors_share`` in %) among shown units, and the overall shares when present."""
    body = composition[composition["unit"] != ALL]
    pos = _extreme(body["detractors"], True) if len(body) else None
    facts: dict[str, Any] = {
        "most_detractors_stage": str(body["name"].iloc[pos]) if pos is not None else None,
        "most_detractors_unit": str(body["unit"].iloc[pos]) if pos is not None else None,
        "most_detractors_share": _num(body["detractors"].iloc[pos]) if pos is not None else None,
    }
    tot = composition[composition["unit"] == ALL]
    for k in ("promoters", "passives", "detractors", "nps"):
        facts[f"overall_{k}"] = _num(tot[k].iloc[0]) if len(tot) else None
    return facts
