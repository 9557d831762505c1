"""The "since the last report" slide: what the last report said and what has moved since, the themes that
rose, the alerts raised for new responses only, and — when the client returned their closed-alerts file —
which earlier alerts are still open. Built from this run's results and the previous run (:mod:`cemkit.tracking`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .. import metrics as m
from ..i18n import t
from ..packs import Pack
from ..results import RESULTS, load
from .common import Views, base_meta
from .waves import Waves


def _load(run_dir: Path, name: str):
    return load(run_dir, name) if (run_dir / RESULTS / f"{name}.json").exists() else None


def _label(value: Any, lang: str) -> str:
    return str(value.get(lang, "")) if isinstance(value, dict) else str(value)


def since_last_views(run_dir: str | Path, pack: Pack, lang: str, previous: str | Path | None = None) -> Views:
    """The ``since_last`` result: one finding per line (``finding``) and its facts (``has_previous``,
    ``previous_run``, ``previous_wave``, ``n_moved`` — stages whose NPS changed significantly against the
    comparison wave —, ``moved_stage`` and ``moved`` — the largest of those changes, in points; None when no
    stage moved —, ``n_theme_rises``, ``n_alerts``, ``n_open``, the wave facts). Nothing without a previous
    run. The run ids stay in run.json: a client reads waves, not folder names."""
    if not previous:
        return {}
    from ..tracking import load_previous

    run_dir = Path(run_dir)
    prev = load_previous(previous)
    curve = _load(run_dir, "journey_curve")
    if curve is None:
        return {}
    f = curve.facts
    sep = "、" if lang == "zh" else ", "
    lines = []
    pf = prev.facts
    prev_wave = pf.get("wave_id") or prev.report_wave
    if prev_wave is not None and prev_wave == f.get("wave_id"):
        lines.append(t("since_same_wave", lang, wave=_label(f.get("wave"), lang),
                       before=_num(pf.get("overall")), now=_num(f.get("overall"))))
    else:
        lines.append(t("since_overall", lang, before_wave=_label(pf.get("wave", prev_wave or "–"), lang),
                       before=_num(pf.get("overall")), wave=_label(f.get("wave"), lang), now=_num(f.get("overall"))))
    n_moved, moved_stage, moved = 0, None, None
    changes = _load(run_dir, "wave_changes")
    if f.get("compare_wave") and changes is not None and len(changes.table):
        ch = changes.table
        ch = ch[(ch["metric"] == "nps") & (ch["stage"].astype(str) != m.ALL) & ch["significant"].astype(bool)]
        ch = ch.reindex(ch["diff"].abs().sort_values(ascending=False).index)
        n_moved = len(ch)
        if n_moved:
            moved_stage, moved = _label(ch["stage_name"].iloc[0], lang), float(ch["diff"].iloc[0])
        items = sep.join(t("since_points", lang, stage=_label(n, lang), diff=f"{d:+.0f}")
                         for n, d in zip(ch["stage_name"], ch["diff"]))
        lines.append(t("since_moved", lang, compare=f["compare_wave"], items=items) if n_moved else
                     t("since_none_moved", lang, compare=f["compare_wave"]))
    n_rises = 0
    themes = _load(run_dir, "theme_changes")
    if themes is not None and len(themes.table):
        up = themes.table[themes.table["significant"].astype(bool) & (themes.table["diff"] > 0)]
        n_rises = len(up)
        items = sep.join(f"“{n}” {d:+.1f}" for n, d in zip(up["theme_name"], up["diff"]))
        lines.append(t("since_themes", lang, items=items) if n_rises else t("since_no_theme", lang))
    discovery = _load(run_dir, "discovery")
    if discovery is not None and len(discovery.table):
        top = discovery.table.iloc[0]
        words = sep.join(str(top.get("top_words", "")).split()[:5])
        lines.append(t("since_candidates", lang, n=len(discovery.table), words=words))
    alerts = _load(run_dir, "alerts_summary")
    af = alerts.facts if alerts is not None else {}
    if alerts is not None:
        held = [t(key, lang, n=f"{af.get(fact) or 0:,}") for key, fact in
                (("since_alerts_seen", "n_seen"), ("since_alerts_repeat", "n_repeat")) if af.get(fact)]
        lines.append(t("since_alerts", lang, n=f"{af.get('n_alerts', 0):,}") +
                     (t("since_alerts_held", lang, items=t("since_sep", lang).join(held)) if held else ""))
        if af.get("has_closed"):
            lines.append(t("since_open", lang, n=f"{af.get('n_prev_alerts') or 0:,}",
                           closed=f"{af.get('n_closed') or 0:,}", open=f"{af.get('n_open') or 0:,}",
                           overdue=f"{af.get('n_overdue') or 0:,}"))
        else:
            lines.append(t("since_no_closed", lang, n=f"{len(prev.issued):,}"))
    labels = tuple(f.get("waves") or [])
    waves = Waves(labels, f.get("wave_id") or m.ALL, f.get("compare_wave"))
    facts = {"has_previous": True, "previous_run": prev.run_id, "previous_wave": prev_wave, "n_moved": n_moved,
             "moved_stage": moved_stage, "moved": moved,
             "n_theme_rises": n_rises, "n_alerts": af.get("n_alerts"), "n_open": af.get("n_open"),
             **waves.facts()}
    meta = base_meta(pd.DataFrame(index=range(int(f.get("overall_n") or 0))), pack, lang, facts=facts,
                     **waves.meta())
    meta.pop("base_rule", None)
    return {"since_last": (pd.DataFrame({"finding": lines}), meta)}


def _num(value: Any) -> str:
    return "–" if value is None else f"{float(value):.0f}"
