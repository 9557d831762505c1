"""Scalar estimates and the formulas on sufficient statistics that every table shares: NPS (Wald /
adjusted Wald), top-box share (Wilson) and mean (t), Kish effective base, and the headline statistic of each
KPI by its scale kind. Units and formulas: see the package docstring (:mod:`cemkit.metrics`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..errors import DataError
from ..packs import Pack, Scale

PROMOTER_MIN = 9.0  # NPS: 9-10 promoter
DETRACTOR_MAX = 6.0  # NPS: 0-6 detractor (7-8 passive)
NPS_METHODS = ("wald", "adjusted_wald")
_ADJ = (0.75, 1.5, 0.75)  # adjusted-Wald pseudo-counts: promoters, passives, detractors

ArrayLike = Sequence[float] | np.ndarray | pd.Series


# ==================================================================================================
# Result objects
# ==================================================================================================
@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval.

    ``value``/``ci_low``/``ci_high``/``se`` share one unit (NPS points, % or scale units); ``n`` is the
    number of responses used, ``n_eff`` Kish's effective base, ``conf`` the interval's confidence level.
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    n_eff: float
    se: float
    conf: float


@dataclass(frozen=True)
class NPSResult(Estimate):
    """NPS in points. ``promoters``/``passives``/``detractors`` are weighted shares in %. ``center`` is the
    centre of the interval: the NPS itself for ``wald``, the adjusted NPS~ for ``adjusted_wald`` (then ``se``
    is SE~, the standard error of NPS~)."""

    promoters: float
    passives: float
    detractors: float
    method: str
    center: float


@dataclass(frozen=True)
class TopBoxResult(Estimate):
    """Top-box share in % with a Wilson interval; ``successes`` is the weighted count of good answers."""

    successes: float
    good: tuple[float, ...]


@dataclass(frozen=True)
class MeanResult(Estimate):
    """Mean in scale units with a t interval; ``sd`` the (weighted) standard deviation, ``df`` the t df."""

    sd: float
    df: float


# ==================================================================================================
# Core formulas on arrays of sufficient statistics (shared by the scalar functions and the tables)
# ==================================================================================================
def _z(conf: float) -> float:
    if not 0 < conf < 1:
        raise ValueError(f"conf must lie strictly between 0 and 1, got {conf!r}")
    return float(_st.norm.ppf(0.5 + conf / 2))


def kish_n_eff(sw: Any, sw2: Any) -> Any:
    """Kish (1965) effective base ``(Σw)² / Σw²`` from the sums of weights and of squared weights
    (scalars or arrays; 0 where there are no weights)."""
    sw, sw2 = np.asarray(sw, dtype=float), np.asarray(sw2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(sw2 > 0, sw * sw / np.where(sw2 > 0, sw2, 1.0), 0.0)
    return out if out.ndim else float(out)


def _nps_from_sums(s: Mapping[str, np.ndarray], conf: float, method: str = "wald") -> dict[str, np.ndarray]:
    """NPS (points), SE and Wald / adjusted-Wald interval from weighted promoter/detractor sums."""
    if method not in NPS_METHODS:
        raise ValueError(f"unknown NPS interval method {method!r}; use one of {NPS_METHODS}")
    z = _z(conf)
    sw = np.asarray(s["sw"], float)
    n_eff = kish_n_eff(sw, s["sw2"])
    ok = n_eff > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(ok, s["w_prom"] / np.where(ok, sw, 1), np.nan)
        d = np.where(ok, s["w_det"] / np.where(ok, sw, 1), np.nan)
        if method == "wald":
            pc, dc, nn = p, d, n_eff
        else:  # add 0.75 / 1.5 / 0.75 pseudo-responses to a base of n_eff
            nn = n_eff + sum(_ADJ)
            pc = (p * n_eff + _ADJ[0]) / nn
            dc = (d * n_eff + _ADJ[2]) / nn
        center = pc - dc
        var = np.maximum(pc + dc - center**2, 0.0)
        se = np.sqrt(var / np.where(ok, nn, np.nan))
    value = 100 * (p - d)
    lo = 100 * np.clip(center - z * se, -1, 1)
    hi = 100 * np.clip(center + z * se, -1, 1)
    if method == "wald":  # guard rounding only: the Wald interval is centred on the value
        lo, hi = np.fmin(lo, value), np.fmax(hi, value)
    return {
        "value": value,
        "ci_low": lo,
        "ci_high": hi,
        "se": 100 * se,
        "n_eff": n_eff,
        "center": 100 * center,
        "promoters": 100 * p,
        "detractors": 100 * d,
        "passives": 100 * (1 - p - d),
    }


def _top_box_from_sums(
    s: Mapping[str, np.ndarray], conf: float, method: str = "wilson"
) -> dict[str, np.ndarray]:
    """Top-box share (%) with a Wilson (1927) score interval on n_eff; ``se`` is the Wald SE sqrt(p(1-p)/n_eff)
    (used by the unpooled two-proportion z test)."""
    z = _z(conf)
    sw = np.asarray(s["sw"], float)
    n = kish_n_eff(sw, s["sw2"])
    ok = n > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        nn = np.where(ok, n, np.nan)
        p = np.where(ok, s["w_good"] / np.where(ok, sw, 1), np.nan)
        p = np.clip(p, 0.0, 1.0)
        denom = 1 + z * z / nn
        centre = (p + z * z / (2 * nn)) / denom
        half = z * np.sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom
        se = np.sqrt(p * (1 - p) / nn)
    value = 100 * p
    lo = np.fmin(np.clip(100 * (centre - half), 0, 100), value)  # fmin/fmax: rounding guard at p = 0 or 1
    hi = np.fmax(np.clip(100 * (centre + half), 0, 100), value)
    return {"value": value, "ci_low": lo, "ci_high": hi, "se": 100 * se, "n_eff": n}


def _mean_from_sums(s: Mapping[str, np.ndarray], conf: float, method: str = "t") -> dict[str, np.ndarray]:
    """Weighted mean with a t interval on df = n_eff - 1; x was summed about ``shift`` (Σw(x-shift) etc.)."""
    sw = np.asarray(s["sw"], float)
    n_eff = kish_n_eff(sw, s["sw2"])
    ok = n_eff > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        swn = np.where(ok, sw, np.nan)
        dev = s["swx"] / swn
        value = np.asarray(s["shift"], float) + dev
        v = np.maximum(s["swxx"] / swn - dev * dev, 0.0)  # weighted population variance Σw(x-x̄)²/Σw
        df = np.where(n_eff >= 2 - 1e-9, n_eff - 1, np.nan)  # fewer than 2 effective responses: no interval
        se = np.sqrt(v / df)
        sd = np.sqrt(v * n_eff / df)
        _z(conf)  # validates conf
        t = _st.t.ppf(0.5 + conf / 2, df)
    lo, hi = value - t * se, value + t * se
    return {"value": value, "ci_low": lo, "ci_high": hi, "se": se, "n_eff": n_eff, "sd": sd, "df": df}


#: stat name → vectorised estimator on sufficient statistics ``(sums, conf, method) -> columns``
STAT_ESTIMATORS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "nps": _nps_from_sums,
    "top_box": _top_box_from_sums,
    "mean": _mean_from_sums,
}

#: default interval method of each statistic
STAT_DEFAULT_METHOD: dict[str, str] = {"nps": "wald", "top_box": "wilson", "mean": "t"}

#: scale kind → the KPI's headline statistic (the mean is always available as ``"mean"``)
HEADLINE_STAT: dict[str, str] = {"nps": "nps", "csat": "top_box", "ces": "top_box", "rating": "top_box"}


# ==================================================================================================
# Scalar statistics
# ==================================================================================================
def _floats(values: ArrayLike, what: str) -> np.ndarray:
    """A flat float array (pandas NA / None → NaN); text that is not a number raises :class:`DataError`."""
    try:
        if isinstance(values, pd.Series):
            return pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)
        if isinstance(values, pd.api.extensions.ExtensionArray):
            return values.to_numpy(dtype=float, na_value=np.nan)
        return np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numbers or missing; {exc}") from None


def _vectors(scores: ArrayLike, weights: ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    """Scores and weights as float arrays restricted to usable responses (score present, weight > 0).

    Raises :class:`DataError` (a ValueError) for text that is not a number, mismatched lengths, an infinite
    score or a negative / non-finite weight on a present score."""
    x = _floats(scores, "scores")
    w = np.ones_like(x) if weights is None else _floats(weights, "weights")
    if w.shape != x.shape:
        raise DataError(f"scores ({x.size}) and weights ({w.size}) differ in length")
    present = ~np.isnan(x)
    bad = present & ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        raise DataError(f"{int(bad.sum())} response(s) have a missing, infinite or negative weight")
    if np.isinf(x).any():
        raise DataError("scores must be finite numbers or NaN")
    keep = present & (w > 0)
    return x[keep], w[keep]


def _scalar_sums(
    x: np.ndarray, w: np.ndarray, *, good: Iterable[float] = (), shift: float | None = None
) -> dict[str, np.ndarray]:
    """Sufficient statistics of one group as length-1 arrays (x summed about its own mean for accuracy)."""
    sw = w.sum()
    if shift is None:
        shift = float((w * x).sum() / sw) if sw > 0 else 0.0
    xc = x - shift

    def one(v: float) -> np.ndarray:
        return np.array([float(v)])

    return {
        "n": one(x.size),
        "sw": one(sw),
        "sw2": one((w * w).sum()),
        "swx": one((w * xc).sum()),
        "swxx": one((w * xc * xc).sum()),
        "shift": one(shift),
        "w_prom": one(w[x >= PROMOTER_MIN].sum()),
        "w_det": one(w[x <= DETRACTOR_MAX].sum()),
        "w_good": one(w[np.isin(x, np.asarray(tuple(good), float))].sum()),
    }


def _first(cols: Mapping[str, np.ndarray], key: str) -> float:
    return float(np.asarray(cols[key]).ravel()[0])


def nps(
    scores: ArrayLike,
    weights: ArrayLike | None = None,
    conf: float = 0.95,
    method: Literal["wald", "adjusted_wald"] = "wald",
) -> NPSResult:
    """Net Promoter Score in points with its interval.

    Promoters answer 9-10, passives 7-8, detractors 0-6 (scores must lie in 0..10; NaN is ignored).
    ``var = (p + d) - (p - d)²`` per respondent, ``SE = sqrt(var / n_eff)`` (reference README; Kish n_eff for
    weights). ``method="wald"``: ``NPS ± z·SE`` clipped to [-100, 100]. ``method="adjusted_wald"``: add 0.75
    promoters, 1.5 passives and 0.75 detractors to a base of n_eff and centre the interval on that NPS~
    (``value`` stays the observed NPS; ``center`` and ``se`` are NPS~ and SE~). Empty input → NaN, n = 0.

    When every response is a promoter (or every one a detractor), and so whenever n = 1, the per-respondent
    variance is 0: the Wald ``se`` is 0 and its interval is the single point ``[value, value]``. That is the
    Wald formula, not a measure of certainty; ``method="adjusted_wald"`` gives such samples a real interval
    (all 4 of 4 promoters: 100, interval about 6.9..100).
    """
    x, w = _vectors(scores, weights)
    if x.size and ((x < 0) | (x > 10)).any():
        raise DataError("NPS scores must lie between 0 and 10")
    s = _scalar_sums(x, w)
    c = _nps_from_sums(s, conf, method)
    return NPSResult(
        **_estimate(c, int(x.size), conf),
        promoters=_first(c, "promoters"),
        passives=_first(c, "passives"),
        detractors=_first(c, "detractors"),
        method=method,
        center=_first(c, "center"),
    )


def _estimate(c: Any, n: int, conf: float) -> dict[str, Any]:
    """The fields every scalar estimate shares, from the one-row result of a ``*_from_sums`` function."""
    return {"value": _first(c, "value"), "ci_low": _first(c, "ci_low"), "ci_high": _first(c, "ci_high"),
            "n": n, "n_eff": _first(c, "n_eff"), "se": _first(c, "se"), "conf": conf}


def top_box(
    scores: ArrayLike, good: Iterable[float], weights: ArrayLike | None = None, conf: float = 0.95
) -> TopBoxResult:
    """Share (%) of responses whose score is one of ``good``, with a Wilson (1927) interval on n_eff.

    ``se`` is sqrt(p(1-p)/n_eff) in points of %. NaN scores are ignored; empty input → NaN, n = 0."""
    good = tuple(float(g) for g in good)
    if not good:
        raise ValueError("top_box needs at least one 'good' answer")
    x, w = _vectors(scores, weights)
    s = _scalar_sums(x, w, good=good)
    c = _top_box_from_sums(s, conf)
    return TopBoxResult(
        **_estimate(c, int(x.size), conf),
        successes=_first(s, "w_good"),
        good=good,
    )


def mean(scores: ArrayLike, weights: ArrayLike | None = None, conf: float = 0.95) -> MeanResult:
    """(Weighted) mean with a Student t interval: ``SE = sqrt(v / (n_eff - 1))``, df = n_eff - 1, where
    ``v = Σw(x - x̄)² / Σw``. Unweighted this equals ``s / sqrt(n)`` on n - 1 df. Fewer than two effective
    responses give a NaN interval; empty input → NaN, n = 0."""
    x, w = _vectors(scores, weights)
    s = _scalar_sums(x, w)
    c = _mean_from_sums(s, conf)
    return MeanResult(
        **_estimate(c, int(x.size), conf),
        sd=_first(c, "sd"),
        df=_first(c, "df"),
    )


# ---------------------------------------------------------------------------------------- KPI dispatch
def _check_range(scores: ArrayLike, scale: Scale) -> None:
    ser = scores if isinstance(scores, pd.Series) else pd.Series(np.asarray(scores, dtype=float).ravel())
    x = pd.to_numeric(ser).to_numpy(dtype=float, na_value=np.nan)
    x = x[~np.isnan(x)]
    if x.size and ((x < scale.min) | (x > scale.max)).any():
        raise DataError(f"scores outside the {scale.id} scale ({scale.min:g}..{scale.max:g})")


def _kpi_nps(scores: ArrayLike, scale: Scale, weights: ArrayLike | None, conf: float) -> Estimate:
    return nps(scores, weights, conf)


def _kpi_top_box(scores: ArrayLike, scale: Scale, weights: ArrayLike | None, conf: float) -> Estimate:
    if not scale.good:
        raise ValueError(f"scale {scale.id!r} lists no 'good' answers, so it has no top-box share")
    _check_range(scores, scale)
    return top_box(scores, scale.good, weights, conf)


#: scale kind → headline KPI statistic ``(scores, scale, weights, conf) -> Estimate``
KPI_STATS: dict[str, Callable[[ArrayLike, Scale, ArrayLike | None, float], Estimate]] = {
    "nps": _kpi_nps,
    "csat": _kpi_top_box,
    "ces": _kpi_top_box,
    "rating": _kpi_top_box,
}


def kpi_stat(
    scores: ArrayLike, scale: Scale, weights: ArrayLike | None = None, conf: float = 0.95
) -> Estimate:
    """The headline statistic of a KPI by its scale kind: NPS (points) for ``nps``, top-box % of
    ``scale.good`` with a Wilson interval for ``csat``/``ces``/``rating``."""
    try:
        fn = KPI_STATS[scale.kind]
    except KeyError:
        raise ValueError(
            f"no KPI statistic for scale kind {scale.kind!r} (kinds: {', '.join(KPI_STATS)})"
        ) from None
    return fn(scores, scale, weights, conf)


def kpi_mean(
    scores: ArrayLike, scale: Scale, weights: ArrayLike | None = None, conf: float = 0.95
) -> MeanResult:
    """Mean score of a KPI in its scale's units with a t interval (scores must lie within the scale)."""
    _check_range(scores, scale)
    return mean(scores, weights, conf)


def headline_stat(pack: Pack, metric: str) -> str:
    """Name of a KPI's headline statistic in the journey table ("nps" or "top_box")."""
    return HEADLINE_STAT[pack.kpis[metric].scale.kind]


def _stats_for(scale: Scale) -> tuple[str, ...]:
    head = HEADLINE_STAT[scale.kind]
    if head == "top_box" and not scale.good:
        return ("mean",)
    return (head, "mean")
