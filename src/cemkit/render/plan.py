"""Which slides a run's deck shows and what they say: the storyline's slides whose results exist and whose
conditions hold, their titles (facts filled in), footnotes (base, waves, weighting, test, low-base rule) and
the executive summary's findings. Shared by the PPTX deck (:mod:`.pptx`), the HTML report (:mod:`.html`) and
``cemkit refresh`` (:mod:`.refresh`), so all three say the same thing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..errors import PackError, Problem
from ..i18n import t
from ..results import Result
from ..storyline import FactUnavailable, SlideSpec, condition_holds, pick_text
from . import charts
from .summary import RENDER_RESULTS

__all__ = ["PlannedSlide", "deck_facts", "footnote_text", "plan_slides", "summary_findings", "wave_note"]


def deck_facts(pack, lang: str, client: str = "", base_facts: dict | None = None) -> dict:
    """Facts every slide may use: the client's name (``has_client`` false when none was given, so the cover
    reads "客户体验洞察报告", not " customer experience insight report"), the pack's name, today's date."""
    client = (client or "").strip()
    return {"client": client, "has_client": bool(client), "pack_name": pack.name.get(lang),
            "date": dt.date.today().isoformat(), **(base_facts or {})}


@dataclass
class PlannedSlide:
    spec: SlideSpec
    result: Result | None
    facts: dict[str, Any]
    title: str


def plan_slides(slides: list[SlideSpec], results: dict[str, Result], base_facts: dict,
                lang: str) -> list[PlannedSlide]:
    """Which slides appear (result present, ``require`` holds) and their titles."""
    planned = []
    for spec in slides:
        result = results.get(spec.result) if spec.result else None
        if spec.result and spec.result not in RENDER_RESULTS and (result is None or result.meta.get("skipped")):
            continue
        if (result is not None and spec.chart is not None and spec.chart.type in charts.NATIVE_CHARTS
                and charts.prepare_table(result.table, spec.chart).empty):
            continue  # nothing to draw (one response, no detractor…): no slide rather than a broken chart
        facts = {**base_facts, **(result.facts if result else {})}
        if not condition_holds(spec.require, facts):
            continue
        try:
            title = pick_text(spec.title, facts, lang)
        except FactUnavailable:  # the finding cannot be stated on this data: no slide rather than a wrong one
            continue
        except (KeyError, ValueError) as exc:
            raise PackError([Problem("storyline.yaml", f"slides.{spec.id}.title",
                                     f"title needs fact {exc} that result {spec.result!r} does not provide",
                                     spec.line)]) from None
        planned.append(PlannedSlide(spec, result, facts, title))
    return _drop_empty_sections(planned)


def _drop_empty_sections(planned: list[PlannedSlide]) -> list[PlannedSlide]:
    """A section divider whose slides all dropped out (no results) would announce nothing: remove it.
    The appendix divider stays when anything follows it."""
    keep = []
    for i, item in enumerate(planned):
        if item.spec.layout == "section":
            following = next((p for p in planned[i + 1:]), None)
            if following is None or following.spec.layout == "section":
                continue
        keep.append(item)
    return keep


def footnote_text(meta: dict, base_facts: dict, lang: str) -> str:
    """「基数：n=1,234（加权有效样本 n=1,050）｜时间：…｜显著性：95%，Holm 校正｜低基数(<30)不显示」"""
    parts = []
    base = meta.get("base") or {}
    if base.get("n") is not None:
        s = t("footnote_base", lang, n=f"{int(base['n']):,}")
        if base.get("n_eff") is not None and abs(float(base["n_eff"]) - float(base["n"])) >= 1:
            s += t("footnote_neff", lang, n_eff=f"{float(base['n_eff']):,.0f}")
        parts.append(s)
    wave = wave_note(meta, lang)
    if wave:
        parts.append(wave)
    elif base_facts.get("period"):
        parts.append(t("footnote_period", lang, period=base_facts["period"]))
    if meta.get("weighting"):
        parts.append(t("footnote_weighting", lang, weighting=meta["weighting"]))
    if meta.get("test"):
        parts.append(meta["test"] if isinstance(meta["test"], str) else meta["test"].get(lang, ""))
    if meta.get("significance"):
        sig = meta["significance"]
        parts.append(t("footnote_sig", lang, level=f"{(1 - float(sig['alpha'])) * 100:.0f}",
                       correction=t(f"correction_{sig['correction']}", lang)))
    if meta.get("base_rule"):
        parts.append(t("footnote_lowbase", lang, suppress=meta["base_rule"]["suppress_below"],
                       caution=meta["base_rule"]["caution_below"]))
    if meta.get("source"):
        parts.append(str(meta["source"]))
    if base_facts.get("synthetic"):
        parts.append(t("synthetic_banner", lang))
    return "｜".join(parts) if lang == "zh" else " | ".join(parts)


def wave_note(meta: dict, lang: str) -> str:
    """The footnote's wave part from a result's ``meta["wave"]`` (:meth:`cemkit.views.Waves.meta`): the
    reporting wave and its comparison, "all N waves pooled (…)", or for a trend every wave and the change
    shown. '' when the result says nothing about waves (results of an earlier cemkit version)."""
    wv = meta.get("wave")
    if not isinstance(wv, dict):
        return ""
    labels = [str(x) for x in wv.get("labels") or []]
    span = labels[0] if len(labels) == 1 else f"{labels[0]}–{labels[-1]}" if labels else ""
    report, compare = wv.get("report"), wv.get("compare")
    if wv.get("trend") and len(labels) > 1:
        text = t("footnote_trend", lang, period=span)
        if compare and not wv.get("pooled"):
            text += ("；" if lang == "zh" else "; ") + t("footnote_trend_change", lang, wave=report, compare=compare)
        return text
    if wv.get("pooled"):
        return t("footnote_pooled", lang, n=len(labels), period=span) if labels else t("wave_none", lang)
    if compare:
        return t("footnote_wave_compare", lang, wave=report, compare=compare)
    return t("footnote_wave_only" if len(labels) == 1 else "footnote_wave", lang, wave=report)


def summary_findings(planned: list[PlannedSlide], base_facts: dict, lang: str) -> list[str]:
    """The executive summary: the titles of the ``summary: true`` slides (at most five), then what the
    reader must know about the waves — a single wave (no change slides) or a pooled view."""
    findings = [p.title for p in planned if p.spec.summary and p.title][:5]
    if base_facts.get("pooled") and base_facts.get("n_waves", 0) > 1:
        findings.append(t("summary_pooled", lang, n=base_facts["n_waves"], period=base_facts.get("period", "")))
    elif base_facts.get("one_wave") and base_facts.get("n_waves") == 1:
        findings.append(t("summary_one_wave", lang, wave=base_facts.get("wave_id", "")))
    if base_facts.get("wave_low_base") and not base_facts.get("pooled"):
        findings.insert(0, t("summary_low_base", lang, wave=base_facts.get("wave_id", ""), n=base_facts.get("n_wave", 0)))
    return findings
