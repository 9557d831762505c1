"""Ranking claims a title may make ("最低", "最高", "集中", "首要"), checked against the numbers the slide plots.

A title may say that one item leads (is highest or lowest) only when the chart shows that ranking *and* the
lead is statistically clear. :func:`lead` finds the leader among the items with a value and compares it with
the runner-up (the closest competitor: if the leader is clearly ahead of it, it is ahead of every other item):

* ``method="z"`` — independent estimates with standard errors (NPS of different stages, each answered by
  different customers): two-sided z test of the difference, ``|a - b| / sqrt(se_a² + se_b²)`` against the
  normal quantile of ``alpha``;
* ``method="overlap"`` — estimates from one model whose errors are correlated (Shapley shares of one
  regression sum to one, so they move against each other): the leader's interval must not overlap the
  runner-up's. Non-overlapping 1 - alpha intervals imply a significant difference for *any* correlation
  (the SD of a difference is at most ``se_a + se_b``), so the rule is conservative, never lenient.

Ties (equal values), a single item, or items without values never support a claim. The result also says
how far apart the values lie, for the neutral wording ("各环节NPS介于…之间").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["Lead", "lead", "proportion_se", "se_from_ci"]


@dataclass(frozen=True)
class Lead:
    """Outcome of :func:`lead`. ``index``/``runner_up``: positions (in the input order) of the leader and the
    closest competitor (None when fewer than two items have values); ``diff``: leader − runner-up (absolute,
    ≥ 0); ``clear``: the title may name the leader with a ranking word; ``tied``: another item has exactly the
    leader's value; ``p``: two-sided p value of the z test (None for ``overlap`` or missing SEs)."""

    index: int | None
    runner_up: int | None
    diff: float | None
    clear: bool
    tied: bool
    p: float | None = None


def se_from_ci(lo, hi, conf: float = 0.95) -> np.ndarray:
    """Standard error implied by a symmetric normal interval ``[lo, hi]`` at level ``conf``."""
    z = float(_st.norm.ppf(0.5 + conf / 2))
    return (np.asarray(hi, float) - np.asarray(lo, float)) / (2 * z)


def proportion_se(p_pct, n) -> np.ndarray:
    """Binomial standard error (in percentage points) of a share given in % on a base of ``n``."""
    p = np.asarray(p_pct, float) / 100
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100 * np.sqrt(np.where(n > 0, p * (1 - p) / n, np.nan))


def lead(values, *, highest: bool = True, se=None, lo=None, hi=None, method: str = "z",
         alpha: float = 0.05) -> Lead:
    """Is the highest (``highest=True``) or lowest value clearly ahead of the rest?

    ``values``: one per item (NaN = no value, ignored). ``method="z"`` needs ``se`` (or ``lo``/``hi`` to derive
    it); ``method="overlap"`` needs ``lo`` and ``hi``. Without the uncertainty the method needs, no claim is
    made (``clear=False``)."""
    v = np.asarray(values, float)
    ok = np.flatnonzero(np.isfinite(v))
    if ok.size < 2:
        return Lead(int(ok[0]) if ok.size else None, None, None, False, False)
    sign = 1.0 if highest else -1.0
    order = ok[np.argsort(-sign * v[ok], kind="stable")]
    i, j = int(order[0]), int(order[1])
    diff = float(sign * (v[i] - v[j]))
    tied = diff == 0.0
    if tied:
        return Lead(i, j, 0.0, False, True)
    if method == "overlap":
        if lo is None or hi is None:
            return Lead(i, j, diff, False, False)
        lo_, hi_ = np.asarray(lo, float), np.asarray(hi, float)
        if not np.isfinite([lo_[i], hi_[i], lo_[j], hi_[j]]).all():
            return Lead(i, j, diff, False, False)
        apart = lo_[i] > hi_[j] if highest else hi_[i] < lo_[j]
        return Lead(i, j, diff, bool(apart), False)
    if method != "z":
        raise ValueError(f"method must be 'z' or 'overlap', got {method!r}")
    if se is None and lo is not None and hi is not None:
        se = se_from_ci(lo, hi, 1 - alpha)
    if se is None:
        return Lead(i, j, diff, False, False)
    s = np.asarray(se, float)
    sd = float(np.hypot(s[i], s[j]))
    if not np.isfinite(sd) or sd <= 0:
        return Lead(i, j, diff, False, False)
    p = float(2 * _st.norm.sf(diff / sd))
    return Lead(i, j, diff, p < alpha, False, p)
