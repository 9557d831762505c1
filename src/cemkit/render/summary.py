"""The render-time results of the executive summary: ``exec_summary`` (the reporting wave's overall NPS and the
top decisions) and ``findings`` (the checked titles of the slides marked ``summary: true``).

Both are built from results the notebooks wrote — nothing is computed here: ``exec_summary`` is the first
three rows of ``decisions`` with the facts of ``journey_curve`` (overall NPS, its interval and change) and of
``decisions``; ``findings`` is filled once the slides are planned, from their titles.
"""

from __future__ import annotations

import pandas as pd

from ..results import Result

__all__ = ["RENDER_RESULTS", "SUMMARY_FACTS", "fill_findings", "summary_results"]

RENDER_RESULTS = ("exec_summary", "findings")
# facts a summary title may name; absent ones are None (the title then falls back to its next alternative)
SUMMARY_FACTS = ("overall", "overall_ci_low", "overall_ci_high", "overall_change", "overall_change_significant",
                 "wave", "compare_wave", "has_compare", "n_decisions", "total_uplift", "first_decision",
                 "first_uplift", "first_owner")
SUMMARY_ROWS = 3
DECISION_COLUMNS = ["rank", "stage", "stage_name", "attribute", "what", "where", "why", "uplift", "uplift_low",
                    "uplift_high", "stage_uplift", "uplift_text", "assumption", "owner", "horizon"]


def summary_results(results: dict[str, Result]) -> dict[str, Result]:
    """``exec_summary`` and an empty ``findings`` (see :func:`fill_findings`)."""
    facts: dict = {}
    for name in ("journey_curve", "decisions"):
        if name in results:
            facts.update(results[name].facts)
    for key in SUMMARY_FACTS:
        facts.setdefault(key, None)
    dec = results.get("decisions")
    # no decision cleared its interval (or an earlier run): an empty table with the columns a slide names
    table = dec.table.head(SUMMARY_ROWS).reset_index(drop=True) if dec is not None else \
        pd.DataFrame(columns=DECISION_COLUMNS)
    meta = {**(dec.meta if dec is not None else {}), "facts": facts}
    # the findings are the reporting wave's claims: their footnote names that wave and its comparison
    curve = results.get("journey_curve")
    fmeta = {"facts": {}, **({"wave": curve.meta["wave"]} if curve is not None and "wave" in curve.meta else {})}
    return {"exec_summary": Result("exec_summary", table, meta),
            "findings": Result("findings", pd.DataFrame({"finding": []}), fmeta)}


def fill_findings(planned, findings: list[str]) -> None:
    """Put the findings into the planned ``findings`` slide (its table is the list of sentences)."""
    for item in planned:
        if item.spec.result == "findings" and item.result is not None:
            item.result = Result("findings", pd.DataFrame({"finding": list(findings)}), item.result.meta)
