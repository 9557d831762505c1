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

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

from .errors import DataError
from .packs import Pack, Scale

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

ALL = "__all__"
FLAGS = ("ok", "caution", "low_base")
PROMOTER_MIN = 9.0  # NPS: 9-10 promoter
DETRACTOR_MAX = 6.0  # NPS: 0-6 detractor (7-8 passive)
NPS_METHODS = ("wald", "adjusted_wald")
_ADJ = (0.75, 1.5, 0.75)  # adjusted-Wald pseudo-counts: promoters, passives, detractors
_SUMS = ("n", "sw", "sw2", "swx", "swxx", "w_prom", "w_det", "w_good")
_KEYS = ["metric", "stat", "stage", "segment", "segment_value"]
_MISSING = "\x00missing"  # internal slot for rows with a missing wave / segment value (never emitted)

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


# ==================================================================================================
# Sufficient statistics per cell
# ==================================================================================================
def _row_weights(df: pd.DataFrame, weights: str | ArrayLike | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(df))
    if isinstance(weights, str):
        if weights not in df.columns:
            if weights == "weight":  # the contract's optional column: absent means unweighted
                return np.ones(len(df))
            raise KeyError(f"weight column {weights!r} is not in the data")
        return pd.to_numeric(df[weights]).to_numpy(dtype=float, na_value=np.nan)
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != len(df):
        raise DataError(f"weights ({w.size}) and data ({len(df)}) differ in length")
    return w


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _codes(series: pd.Series, labels: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 = missing) and their labels; labels sorted unless given."""
    if labels is None:
        codes, uniq = pd.factorize(series, sort=True)
        return codes.astype(np.int64), [str(u) for u in uniq]
    codes, uniq = pd.factorize(series)  # hash the column once, then map its few distinct values to labels
    pos = {str(lab): i for i, lab in enumerate(labels)}
    lookup = np.array([pos.get(str(u), -1) for u in uniq] + [-1], dtype=np.int64)  # loop over distinct values
    return lookup[codes], list(labels)  # code -1 (missing) picks the trailing -1


def _wave_labels(df: pd.DataFrame) -> list[str]:
    if "wave" not in df.columns:
        return []
    return sorted({str(v) for v in df["wave"].dropna().unique()})


def _sums_frame(
    df: pd.DataFrame,
    pack: Pack,
    by: str | Sequence[str] | None = None,
    waves: bool = True,
    weights: str | ArrayLike | None = "weight",
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Sufficient statistics for every (metric, stage, segment, segment_value, wave) cell with responses.

    Includes the margins: stage ``ALL`` (summed over the stages that ask the KPI), wave ``ALL`` (all rows,
    also those without a wave) and segment ``ALL``. ``swx``/``swxx`` are taken about ``shift``, the
    midpoint of the KPI's scale (a per-KPI constant, so cells can be added and subtracted)."""
    if "stage" not in df.columns:
        raise KeyError("the response table has no 'stage' column")
    by = _as_list(by)
    for col in by:
        if col not in df.columns:
            raise KeyError(f"segment column {col!r} is not in the data")
    stage_ids = pack.stage_ids
    S = len(stage_ids)
    stage_c, _ = _codes(df["stage"], stage_ids)
    unknown = (stage_c < 0) & df["stage"].notna().to_numpy()
    if unknown.any():
        bad = sorted({str(v) for v in df.loc[unknown, "stage"].unique()})[:5]
        warnings.warn(
            f"{int(unknown.sum())} response(s) name a stage the pack does not have ({', '.join(bad)}); "
            "they are left out of the journey metrics",
            stacklevel=3,
        )
    wave_labels = _wave_labels(df) if waves else []
    W = len(wave_labels)
    if W:
        wave_c, _ = _codes(df["wave"], wave_labels)
        wave_c[wave_c < 0] = W
    else:
        wave_c = np.full(len(df), W, dtype=np.int64)
    seg_codes: list[tuple[str, np.ndarray, list[str]]] = [(ALL, np.zeros(len(df), np.int64), [ALL])]
    for col in by:
        codes, labels = _codes(df[col])
        codes[codes < 0] = len(labels)
        seg_codes.append((col, codes, labels))
    w_all = _row_weights(df, weights)

    metrics = [m for m in (metrics or pack.kpis) if m in df.columns and m in pack.kpis]
    frames = []
    for m in metrics:
        scale = pack.kpis[m].scale
        asked = np.array([m in s.kpis for s in pack.stages] + [False])  # last entry: unknown stage (-1)
        x = pd.to_numeric(df[m]).to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(x) & asked[stage_c]
        bad = present & ~(np.isfinite(w_all) & (w_all >= 0))
        if bad.any():
            raise DataError(
                f"{int(bad.sum())} response(s) with a {m!r} score have a missing or negative weight"
            )
        idx = np.flatnonzero(present & (w_all > 0))
        if not idx.size:
            continue
        xs, ws = x[idx], w_all[idx]
        if ((xs < scale.min) | (xs > scale.max)).any():
            raise DataError(f"{m!r} has scores outside its scale {scale.min:g}..{scale.max:g}")
        shift = (scale.min + scale.max) / 2
        xc = xs - shift
        contrib: dict[str, np.ndarray | None] = {
            "n": None,
            "sw": ws,
            "sw2": ws * ws,
            "swx": ws * xc,
            "swxx": ws * xc * xc,
            "w_prom": None,
            "w_det": None,
            "w_good": None,
        }
        if scale.kind == "nps":
            contrib["w_prom"] = np.where(xs >= PROMOTER_MIN, ws, 0.0)
            contrib["w_det"] = np.where(xs <= DETRACTOR_MAX, ws, 0.0)
        elif scale.good:
            contrib["w_good"] = np.where(np.isin(xs, np.asarray(scale.good, float)), ws, 0.0)
        sc, wc = stage_c[idx], wave_c[idx]
        for seg, codes, labels in seg_codes:
            V = len(labels)
            key = (sc * (W + 1) + wc) * (V + 1) + codes[idx]
            size = S * (W + 1) * (V + 1)
            cube = np.zeros((size, len(_SUMS)))
            for j, name in enumerate(_SUMS):
                if name == "n":
                    cube[:, j] = np.bincount(key, minlength=size)
                elif contrib[name] is not None:
                    cube[:, j] = np.bincount(key, weights=contrib[name], minlength=size)
            cube = cube.reshape(S, W + 1, V + 1, len(_SUMS))
            cube = np.concatenate([cube, cube.sum(axis=1, keepdims=True)], axis=1)  # wave ALL at W + 1
            cube = np.concatenate([cube, cube.sum(axis=0, keepdims=True)], axis=0)  # stage ALL at S
            si, wi, vi = np.nonzero(cube[..., 0] > 0)
            keep = (wi != W) & (vi != V)
            si, wi, vi = si[keep], wi[keep], vi[keep]
            vals = cube[si, wi, vi]
            stage_lab = np.array(stage_ids + [ALL], dtype=object)
            wave_lab = np.array(wave_labels + [_MISSING, ALL], dtype=object)
            seg_lab = np.array(labels + [_MISSING], dtype=object)
            frame = pd.DataFrame(
                {
                    "metric": m,
                    "stage": stage_lab[si],
                    "segment": seg,
                    "segment_value": seg_lab[vi],
                    "wave": wave_lab[wi],
                }
            )
            for j, name in enumerate(_SUMS):
                frame[name] = vals[:, j]
            frame["n"] = frame["n"].astype(np.int64)
            frame["shift"] = shift
            frames.append(frame)
    if not frames:
        cols = ["metric", "stage", "segment", "segment_value", "wave", *_SUMS, "shift"]
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in _SUMS or c == "shift" else object) for c in cols}
        )
    return pd.concat(frames, ignore_index=True)


def _estimates(
    sums: pd.DataFrame, pack: Pack, conf: float, nps_method: str = "wald", stats: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per cell and statistic: keys + stat + value, ci_low, ci_high, se, n, n_eff."""
    out = []
    for m, sub in sums.groupby("metric", sort=False):
        scale = pack.kpis[m].scale
        cols = {k: sub[k].to_numpy() for k in (*_SUMS, "shift")}
        for stat in _stats_for(scale):
            if stats is not None and stat not in stats:
                continue
            est = STAT_ESTIMATORS[stat](
                cols, conf, nps_method if stat == "nps" else STAT_DEFAULT_METHOD[stat]
            )
            frame = sub[["metric", "stage", "segment", "segment_value", "wave", "n"]].copy()
            frame.insert(1, "stat", stat)
            for k in ("value", "ci_low", "ci_high", "se", "n_eff"):
                frame[k] = est[k]
            out.append(frame)
    if not out:
        return pd.DataFrame(
            columns=[
                "metric",
                "stat",
                "stage",
                "segment",
                "segment_value",
                "wave",
                "n",
                "value",
                "ci_low",
                "ci_high",
                "se",
                "n_eff",
            ]
        )
    return pd.concat(out, ignore_index=True)


def base_flag(n_eff: Any, pack: Pack) -> np.ndarray:
    """Base rule flag per cell from the effective base: ``low_base`` below ``rules.suppress_below``,
    ``caution`` below ``rules.caution_below``, else ``ok``."""
    n_eff = np.asarray(n_eff, dtype=float)
    return np.where(
        n_eff < pack.rules.suppress_below,
        "low_base",
        np.where(n_eff < pack.rules.caution_below, "caution", "ok"),
    )


def _apply_flags(t: pd.DataFrame, pack: Pack) -> pd.DataFrame:
    t["flag"] = base_flag(t["n_eff"].to_numpy(dtype=float), pack)
    low = t["flag"].to_numpy() == "low_base"
    for c in ("value", "ci_low", "ci_high", "se"):
        t[c] = np.where(low, np.nan, t[c].to_numpy(dtype=float))
    return t


def _stage_cat(values: Iterable[str], pack: Pack) -> pd.Categorical:
    return pd.Categorical(list(values), categories=[ALL, *pack.stage_ids], ordered=True)


# ==================================================================================================
# Journey table
# ==================================================================================================
def journey_table(
    df: pd.DataFrame,
    pack: Pack,
    by: str | Sequence[str] | None = None,
    waves: bool = True,
    weights: str | ArrayLike | None = "weight",
    conf: float = 0.95,
    nps_method: Literal["wald", "adjusted_wald"] = "wald",
) -> pd.DataFrame:
    """Every KPI by stage, segment and wave, with intervals, bases and base-rule flags.

    ``df`` is the clean response table (docs/architecture.md). Returns one tidy row per cell with columns
    ``metric, stat, stage, segment, segment_value, wave, value, ci_low, ci_high, se, n, n_eff, flag``:

    * ``stat``: the KPI's headline (``nps`` points or ``top_box`` %) and its ``mean`` (scale units);
    * ``stage``: stage id or ``"__all__"`` (all stages that ask the KPI), categorical in journey order with
      ``"__all__"`` first; a KPI appears only at the stages where the pack asks it (other answers ignored);
    * ``segment``: ``"__all__"`` or one of the ``by`` columns, ``segment_value`` its value (rows with a
      missing segment value count in the ``"__all__"`` rows only);
    * ``wave``: ``"__all__"`` (all rows) or each wave label (``waves=True``), in sorted (time) order;
    * ``flag``: ``low_base`` if ``n_eff < rules.suppress_below`` (value, interval and se set to NaN:
      suppressed, never shown or ranked), ``caution`` if ``n_eff < rules.caution_below``, else ``ok``.

    Rows are sorted by metric (pack order), stat, segment, segment_value, wave, stage. Cells without any
    response are absent. ``weights`` is a column name (default ``"weight"``, optional), an array or None.
    """
    sums = _sums_frame(df, pack, by=by, waves=waves, weights=weights)
    t = _estimates(sums, pack, conf, nps_method)
    t = _apply_flags(t, pack)
    return _sort_table(t, pack, _as_list(by))


def _sort_table(t: pd.DataFrame, pack: Pack, by: list[str]) -> pd.DataFrame:
    metric_order = {m: i for i, m in enumerate(pack.kpis)}
    stat_order = {"nps": 0, "top_box": 0, "mean": 1}
    seg_order = {s: i for i, s in enumerate([ALL, *by])}
    t["stage"] = _stage_cat(t["stage"], pack)
    key = pd.DataFrame(
        {
            "m": t["metric"].map(metric_order),
            "st": t["stat"].map(stat_order),
            "sg": t["segment"].map(seg_order),
            "sv0": t["segment_value"] != ALL,
            "sv": t["segment_value"],
            "w0": t["wave"] != ALL,
            "w": t["wave"],
            "s": t["stage"].cat.codes,
        }
    )
    order = key.sort_values(list(key.columns), kind="stable").index
    cols = [
        "metric",
        "stat",
        "stage",
        "segment",
        "segment_value",
        "wave",
        "value",
        "ci_low",
        "ci_high",
        "se",
        "n",
        "n_eff",
        "flag",
    ]
    return t.loc[order, cols].reset_index(drop=True)


# ==================================================================================================
# Significance
# ==================================================================================================
def _diff_test(
    m: pd.DataFrame, se: tuple[str, str], n_eff: tuple[str, str], tested: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided test of ``diff / sqrt(se₁² + se₂²)`` for the rows of ``m``; NaN where not tested.

    Shares (NPS, top-box) use the normal distribution (z test). Means use Welch's t test: the same statistic
    on Welch-Satterthwaite df ``(se₁² + se₂²)² / (se₁⁴/(n_eff₁ - 1) + se₂⁴/(n_eff₂ - 1))`` (unweighted this is
    ``scipy.stats.ttest_ind(equal_var=False)``). A zero SE gives p = 0 (diff ≠ 0) or 1."""
    diff = m["diff"].to_numpy(float)
    s1, s2 = (m[c].to_numpy(float) for c in se)
    n1, n2 = (m[c].to_numpy(float) for c in n_eff)
    se_diff = np.hypot(s1, s2)
    is_mean = (m["stat"] == "mean").to_numpy(dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(
            se_diff > 0,
            diff / np.where(se_diff > 0, se_diff, 1),
            np.where(diff == 0, 0.0, np.sign(diff) * np.inf),
        )
        v1, v2 = s1 * s1, s2 * s2
        df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
        welch = is_mean & (se_diff > 0) & (df > 0)
        p = np.where(welch, 2 * _st.t.sf(np.abs(z), np.where(welch, df, 1.0)), 2 * _st.norm.sf(np.abs(z)))
    return np.where(tested, z, np.nan), np.where(tested, p, np.nan)


def p_adjust(p_values: ArrayLike, method: str = "holm", groups: ArrayLike | None = None) -> np.ndarray:
    """Multiple-comparison adjusted p-values, computed within each family of ``groups`` at once.

    ``method="holm"``: Holm (1979) step-down, ``p̃_(i) = min(1, max_{j≤i} (m - j + 1) p_(j))``;
    ``method="fdr_bh"``: Benjamini & Hochberg (1995), ``p̃_(i) = min(1, min_{j≥i} m p_(j) / j)``, where
    ``p_(1) ≤ … ≤ p_(m)`` are the family's sorted p-values. The numbers are those of
    ``statsmodels.stats.multitest.multipletests(p, method=...)[1]`` applied family by family (the tests check
    this); the grouped computation avoids one ``multipletests`` call per family, which is slow because its
    Holm branch runs a full ``gc.collect()`` on every call (60 ms each with a large heap, statsmodels 0.15).
    NaN p-values must be removed by the caller.
    """
    p = np.asarray(p_values, dtype=float).ravel()
    if np.isnan(p).any():
        raise ValueError("p_adjust got NaN p-values")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p_adjust got p-values outside [0, 1]")
    g = (
        np.zeros(p.size, np.int64)
        if groups is None
        else pd.factorize(pd.Series(np.asarray(groups, dtype=object)))[0]
    )
    if not p.size:
        return p.copy()
    order = np.lexsort((p, g))
    ps, gs = p[order], g[order]
    starts = np.r_[0, np.flatnonzero(np.diff(gs)) + 1]
    sizes = np.diff(np.r_[starts, p.size])
    m = np.repeat(sizes, sizes).astype(float)
    rank = np.arange(p.size) - np.repeat(starts, sizes) + 1.0  # 1-based position within the family
    if method == "holm":
        raw = pd.Series(ps * (m - rank + 1))
        adj = raw.groupby(gs).cummax().to_numpy()
    elif method == "fdr_bh":
        raw = pd.Series((ps * m / rank)[::-1])
        adj = raw.groupby(gs[::-1]).cummin().to_numpy()[::-1]
    else:
        raise ValueError(f"correction must be 'holm' or 'fdr_bh', got {method!r}")
    out = np.empty(p.size)
    out[order] = np.minimum(adj, 1.0)
    return out


def _adjust(frame: pd.DataFrame, family_by: Sequence[str], alpha: float, correction: str) -> pd.DataFrame:
    """Adjusted p (:func:`p_adjust`), significance and marker within each family of tested cells."""
    frame["p_adj"] = np.nan
    tested = frame["tested"].to_numpy(dtype=bool)
    if tested.any():
        sub = frame.loc[tested]
        groups = (
            sub.groupby(list(family_by), sort=False, observed=True).ngroup().to_numpy() if family_by else None
        )
        frame.loc[tested, "p_adj"] = p_adjust(sub["p_value"].to_numpy(dtype=float), correction, groups)
    sig = tested & (frame["p_adj"].to_numpy(dtype=float) < alpha)
    frame["significant"] = sig
    diff = frame["diff"].to_numpy(dtype=float)
    frame["marker"] = np.where(sig & (diff > 0), "↑", np.where(sig & (diff < 0), "↓", ""))
    return frame


def _rules(pack: Pack, alpha: float | None, correction: str | None) -> tuple[float, str]:
    alpha = pack.rules.alpha if alpha is None else float(alpha)
    correction = pack.rules.correction if correction is None else correction
    if correction not in ("holm", "fdr_bh"):
        raise ValueError(f"correction must be 'holm' or 'fdr_bh', got {correction!r}")
    return alpha, correction


def wave_change(
    table: pd.DataFrame,
    pack: Pack,
    waves: tuple[str, str] | None = None,
    family_by: Sequence[str] = ("metric", "stat", "segment"),
    alpha: float | None = None,
    correction: str | None = None,
) -> pd.DataFrame:
    """Last wave vs the previous one for every cell (metric, stat, stage, segment, segment_value) of a
    :func:`journey_table` built with ``waves=True``.

    Test: two-sided test on the difference of two independent estimates, ``z = diff / sqrt(se₁² + se₂²)``
    using each cell's own SE — for NPS a z test on the NPS variance above, for top-box shares the standard
    two-proportion z test with *unpooled* SEs ``sqrt(p(1-p)/n_eff)``, for means Welch's t test (``z`` holds
    the t statistic; p on the Welch-Satterthwaite df from each cell's ``n_eff - 1``, so unweighted it is
    ``scipy.stats.ttest_ind(equal_var=False)``). Cells where either wave has a low base are listed but not
    tested (``tested`` False, p NaN, no marker).

    ``p_adj`` applies the pack's correction (``rules.correction``: Holm or Benjamini-Hochberg; the values of
    ``statsmodels.stats.multitest.multipletests``, see :func:`p_adjust`) across each family of tested cells.
    A family is the cells sharing ``family_by`` (default: one family per metric, statistic and segment
    column, e.g. the stages plus the total of the overall NPS, or all dealer × stage cells; pass ``()`` for one
    family across everything). ``significant = p_adj < alpha``; ``marker`` is "↑"/"↓" for significant
    rises/falls, else "". ``waves=(previous, last)`` overrides the default (the last two wave labels in
    sorted order).
    """
    alpha, correction = _rules(pack, alpha, correction)
    cols = [
        "metric",
        "stat",
        "stage",
        "segment",
        "segment_value",
        "wave_prev",
        "wave_last",
        "value_prev",
        "value_last",
        "diff",
        "se_diff",
        "z",
        "p_value",
        "p_adj",
        "significant",
        "marker",
        "n_prev",
        "n_last",
        "n_eff_prev",
        "n_eff_last",
        "flag_prev",
        "flag_last",
        "tested",
    ]
    t = table.assign(stage=table["stage"].astype(str), wave=table["wave"].astype(str))
    labels = sorted(w for w in t["wave"].unique() if w != ALL)
    if waves is None:
        if len(labels) < 2:
            return pd.DataFrame(columns=cols)
        waves = (labels[-2], labels[-1])
    prev_w, last_w = waves
    keep = ["metric", "stat", "stage", "segment", "segment_value", "value", "se", "n", "n_eff", "flag"]
    a = t.loc[t["wave"] == prev_w, keep]
    b = t.loc[t["wave"] == last_w, keep]
    m = b.merge(a, on=_KEYS, how="inner", suffixes=("_last", "_prev"))
    m["wave_prev"], m["wave_last"] = prev_w, last_w
    m["diff"] = m["value_last"] - m["value_prev"]
    m["se_diff"] = np.hypot(m["se_last"], m["se_prev"])
    tested = (
        (m["flag_last"] != "low_base")
        & (m["flag_prev"] != "low_base")
        & m["diff"].notna()
        & m["se_diff"].notna()
    ).to_numpy(dtype=bool)
    m["tested"] = tested
    m["z"], m["p_value"] = _diff_test(m, ("se_last", "se_prev"), ("n_eff_last", "n_eff_prev"), tested)
    m = _adjust(m, family_by, alpha, correction)
    m["stage"] = _stage_cat(m["stage"], pack)
    order = {k: i for i, k in enumerate(pack.kpis)}
    seg_first = (m["segment"] != ALL).astype(int)
    stat_order = {"nps": 0, "top_box": 0, "mean": 1}
    m = m.assign(_m=m["metric"].map(order), _s=m["stat"].map(stat_order), _g=seg_first)
    m = m.sort_values(["_m", "_s", "_g", "segment", "segment_value", "stage"], kind="stable")
    return m[cols].reset_index(drop=True)


def segment_vs_rest(
    df: pd.DataFrame,
    pack: Pack,
    segment: str,
    metrics: Sequence[str] | None = None,
    wave: str | None = None,
    weights: str | ArrayLike | None = "weight",
    conf: float = 0.95,
    family_by: Sequence[str] = ("metric", "stat", "stage"),
    alpha: float | None = None,
    correction: str | None = None,
) -> pd.DataFrame:
    """Each value of ``segment`` vs all other rows, for every KPI statistic at every stage and ``"__all__"``.

    "Rest" is computed from the totals minus the cell's sufficient statistics (vectorised), so it includes
    rows whose segment value is missing. The cell and its rest are disjoint, hence independent samples: the
    same two-sided tests as :func:`wave_change` (z tests with unpooled SEs for NPS and top-box, Welch's t
    test for means), corrected with the pack's method within
    each family (default: per metric, statistic and stage, i.e. across the segment's values). Cells where
    the unit or its rest has a low base are not tested. ``wave``: None = all waves pooled, ``"last"`` = the
    latest wave, or a wave label.
    """
    alpha, correction = _rules(pack, alpha, correction)
    d, weights = _filter_wave(df, wave, weights)
    sums = _sums_frame(d, pack, by=segment, waves=False, weights=weights, metrics=metrics)
    cells = sums[sums["segment"] == segment].reset_index(drop=True)
    tot = sums[sums["segment"] == ALL].set_index(["metric", "stage"])
    totals = tot.loc[pd.MultiIndex.from_frame(cells[["metric", "stage"]]), list(_SUMS)].to_numpy()
    rest = cells.copy()
    rest[list(_SUMS)] = totals - cells[list(_SUMS)].to_numpy()
    rest["n"] = rest["n"].round().astype(np.int64)  # counts are exact in float64
    for c in ("sw", "sw2", "w_prom", "w_det", "w_good"):  # non-negative sums: clip rounding residue
        rest[c] = rest[c].clip(lower=0.0)
    rest = rest[rest["n"] > 0]
    e_cell = _apply_flags(_estimates(cells, pack, conf), pack)
    e_rest = _apply_flags(_estimates(rest, pack, conf), pack)
    m = e_cell.merge(
        e_rest[[*_KEYS, "value", "se", "n", "n_eff", "flag"]], on=_KEYS, how="left", suffixes=("", "_rest")
    )
    m["n_rest"] = m["n_rest"].fillna(0).astype(np.int64)
    m["flag_rest"] = m["flag_rest"].fillna("low_base")
    m["diff"] = m["value"] - m["value_rest"]
    m["se_diff"] = np.hypot(m["se"], m["se_rest"])
    tested = (
        (m["flag"] != "low_base") & (m["flag_rest"] != "low_base") & m["diff"].notna() & m["se_diff"].notna()
    ).to_numpy(dtype=bool)
    m["tested"] = tested
    m["z"], m["p_value"] = _diff_test(m, ("se", "se_rest"), ("n_eff", "n_eff_rest"), tested)
    m = _adjust(m, family_by, alpha, correction)
    m["wave"] = ALL if wave is None else _resolve_wave(df, wave)
    cols = [
        "metric",
        "stat",
        "stage",
        "segment",
        "segment_value",
        "wave",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "n_eff",
        "flag",
        "value_rest",
        "n_rest",
        "n_eff_rest",
        "flag_rest",
        "diff",
        "se_diff",
        "z",
        "p_value",
        "p_adj",
        "significant",
        "marker",
        "tested",
    ]
    m["stage"] = _stage_cat(m["stage"], pack)
    metric_order = {k: i for i, k in enumerate(pack.kpis)}
    stat_order = {"nps": 0, "top_box": 0, "mean": 1}
    m = m.assign(_m=m["metric"].map(metric_order), _s=m["stat"].map(stat_order))
    m = m.sort_values(["_m", "_s", "stage", "segment_value"], kind="stable")
    return m[cols].reset_index(drop=True)


def _resolve_wave(df: pd.DataFrame, wave: str) -> str:
    if wave == "last":
        labels = _wave_labels(df)
        if not labels:
            raise ValueError("wave='last' but the data have no wave labels")
        return labels[-1]
    return str(wave)


def _filter_wave(
    df: pd.DataFrame, wave: str | None, weights: str | ArrayLike | None
) -> tuple[pd.DataFrame, str | ArrayLike | None]:
    """Rows of one wave (None or ``"__all__"``: all rows) and the matching weights argument."""
    if wave is None or wave == ALL:
        return df, weights
    keep = (df["wave"].astype("string") == _resolve_wave(df, wave)).fillna(False).to_numpy(dtype=bool)
    if weights is not None and not isinstance(weights, str):
        weights = np.asarray(weights, dtype=float).ravel()[keep]
    return df[keep], weights


# ==================================================================================================
# Views the renderers draw
# ==================================================================================================
def _stage_name(pack: Pack, stage_id: str, lang: str) -> str:
    if stage_id == ALL:
        from .i18n import label  # the catalogue may name the overall row (key "__all__")

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
) -> pd.DataFrame:
    """Promoter / passive / detractor shares (%) with the NPS (points), its interval and base per stage
    (``by="stage"``, journey order) or per value of a segment column (sorted by NPS, highest first).

    Columns ``unit, name, detractors, passives, promoters, nps, ci_low, ci_high, n, n_eff, flag``; ``unit`` is
    the stage id / segment value, ``name`` the stage name in ``lang`` (the value itself for segments). With
    ``overall`` a last row ``unit="__all__"`` gives the total. Low-base rows have NaN shares and NPS.
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
    e = _nps_from_sums({k: rows[k].to_numpy(dtype=float) for k in (*_SUMS, "shift")}, conf)
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
) -> pd.DataFrame:
    """Units of ``segment`` (e.g. dealers) ranked by a KPI with intervals, bases, ties and greyed low bases.

    Columns ``rank, unit, value, ci_low, ci_high, n, n_eff, flag, greyed, tier, tied, tied_with_leader``.
    ``rank`` is the competition rank by value (1 = best; equal values share the better rank); low-base
    units are ``greyed``, have NaN value/interval, NaN ``rank`` and ``tier`` and come last (by base).
    Tiers (see :func:`_tiers`): the top unit leads tier 1 and every unit whose interval overlaps the leader's
    joins it; the best remaining unit leads tier 2, and so on. ``tied`` means the unit shares its tier with
    another; ``tied_with_leader`` that it is in tier 1 but is not the leader.
    """
    stat = stat or headline_stat(pack, metric)
    d, weights = _filter_wave(df, wave, weights)
    sums = _sums_frame(d, pack, by=segment, waves=False, weights=weights, metrics=[metric])
    sums = sums[(sums["segment"] == segment) & (sums["stage"] == stage)]
    e = _apply_flags(_estimates(sums, pack, conf, stats=[stat]), pack)
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
) -> dict[str, Any]:
    """Facts for the journey slides' titles, from :func:`journey_curve` and :func:`wave_change`.

    Keys: ``worst_stage`` (name in ``lang``), ``worst_stage_id``, ``worst_value``, ``worst_change`` (vs the
    previous wave, None if untested), ``worst_change_significant``, ``peak_stage``/``_id``/``peak_value``,
    ``end_stage``/``_id``/``end_value``, ``gap`` (peak − worst), ``overall`` (from ``table``, else None),
    ``overall_change``/``overall_change_significant``, and for the trend slide ``has_change``,
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
    facts["overall"] = None
    if table is not None:
        o = _select(table, metric=metric, stat=stat, stage=ALL, segment=ALL, segment_value=ALL, wave=ALL)
        facts["overall"] = _num(o["value"].iloc[0]) if len(o) else None

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
