"""Journey metrics: NPS, top-box shares and means with confidence intervals, the journey table, significance
tests and the views the renderers draw.

Units
-----
* NPS in points (-100..100): % promoters (9-10) minus % detractors (0-6).
* Top-box (CSAT, CES "low effort", attribute ratings): share in % (0..100) of the scale's ``good`` answers.
* Means in the scale's own units.
* ``se`` is in the same unit as ``value``; ``n`` counts the responses used (non-missing score, weight > 0);
  ``n_eff`` is Kish's effective base (Kish 1965) ``(Σw)² / Σw²`` (= ``n`` for unit weights).

Formulas
--------
* NPS variance per respondent ``(p + d) - (p - d)²`` (the population variance of scores coded +1/0/-1;
  ``shared/reference/README.md``), ``SE = sqrt(var / n_eff)``. Wald interval ``NPS ± z·SE`` clipped to
  [-100, 100]; the adjusted Wald interval adds 0.75 promoters, 1.5 passives and 0.75 detractors
  (Rocks 2016, "Confidence intervals for Net Promoter Scores", MeasuringU; worked case in the reference README).
* Top-box: Wilson (1927) score interval on ``n_eff`` (for weighted data, the Kish-adjusted Wilson interval).
* Mean: Student t interval, ``SE = sqrt(v / (n_eff - 1))`` with ``v`` the weighted population variance
  ``Σw(x - x̄)² / Σw`` and ``df = n_eff - 1``; unweighted this is the textbook ``s / sqrt(n)`` on n - 1 df.
  Weighted standard errors are the design-effect (Kish) approximation, not a linearisation (sandwich)
  variance. Fewer than two effective responses give no interval (NaN).
* Differences (waves, segment vs rest): ``diff / sqrt(se₁² + se₂²)`` with each side's own SE; a z test for
  NPS and top-box shares (unpooled), Welch's t test on Welch-Satterthwaite df for means.

Everything table-shaped is computed from *sufficient statistics* per cell (n, Σw, Σw², Σw·x, Σw·x²,
weighted promoter/detractor/good counts), summed with ``np.bincount`` over integer cell codes: there is no
Python loop over respondents or over groups' rows. Margins (all stages, all waves, the rest of a segment) are
sums and differences of those statistics, so every cell of a table and every "rest" comparison costs O(1).

Tables use the sentinel ``"__all__"`` (:data:`ALL`) for "all stages", "all segments" and "all waves".
"""

from .estimates import (
    HEADLINE_STAT,
    KPI_STATS,
    STAT_ESTIMATORS,
    Estimate,
    MeanResult,
    NPSResult,
    TopBoxResult,
    headline_stat,
    kish_n_eff,
    kpi_mean,
    kpi_stat,
    mean,
    nps,
    top_box,
)
from .facts import composition_facts, journey_facts, league_facts
from .significance import p_adjust, segment_vs_rest, wave_change
from .summaries import journey_curve, league_table, nps_composition, trend
from .tables import ALL, FLAGS, base_flag, journey_table

__all__ = [
    "ALL",
    "FLAGS",
    "HEADLINE_STAT",
    "KPI_STATS",
    "STAT_ESTIMATORS",
    "Estimate",
    "MeanResult",
    "NPSResult",
    "TopBoxResult",
    "base_flag",
    "composition_facts",
    "headline_stat",
    "journey_curve",
    "journey_facts",
    "journey_table",
    "kish_n_eff",
    "kpi_mean",
    "kpi_stat",
    "league_facts",
    "league_table",
    "mean",
    "nps",
    "nps_composition",
    "p_adjust",
    "segment_vs_rest",
    "top_box",
    "trend",
    "wave_change",
]
