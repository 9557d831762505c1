"""Key driver analysis: which survey items move the overall score, and where to act first.

Four public functions work on plain pandas objects:

- :func:`key_drivers` splits the explained variance of a target (e.g. overall satisfaction, likelihood to
  recommend, or a 0/1 detractor flag) among driver ratings. The method is picked by name from
  ``METHODS``: ``"shapley"`` (LMG), ``"relative_weights"`` (Johnson 2000), ``"beta"`` (standardized OLS
  slopes) and ``"logistic"`` (Shapley value of McFadden's pseudo-R² for binary targets).
- :func:`key_drivers_by` fits it once per group (e.g. per journey stage, each with its own drivers), skipping
  groups with too few complete answers.
- :func:`performance` gives each driver's mean rating or top-box share.
- :func:`priority_matrix` crosses importance with performance into the four classic quadrants.

Units: ``importance`` is in R² units (proportion of target variance, 0-1) for ``shapley`` and
``relative_weights``, in McFadden pseudo-R² units for ``logistic``, and in target SDs per driver SD for
``beta``. ``share`` is a fraction (0-1) that sums to 1 over the drivers kept.

Every correlation-based method starts from one (weighted) correlation matrix with the target last, so
listwise and pairwise deletion, weights and the bootstrap are handled once for all of them. The bootstrap
resamples rows as multinomial counts that multiply the weights, so a whole batch of replicates is one
stack of weighted correlation matrices.

The data preparation and correlations are in :mod:`cemkit.drivers.correlation`, the decompositions in
:mod:`cemkit.drivers.decompose`; this module holds the method registry and the public functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from . import correlation
from .correlation import _MISSING, _as_float, _check_weights, _prepare, _Prepared, _weights_vector
from .decompose import (
    _betas,
    _check_binary,
    _logistic,
    _no_check,
    _relative_weights,
    _shapley,
    _Stats,
    _via_correlation,
)

__all__ = ["METHODS", "QUADRANTS", "key_drivers", "key_drivers_by", "performance", "priority_matrix"]

MAX_SHAPLEY_DRIVERS = 24
MAX_LOGISTIC_DRIVERS = 15
QUADRANTS = (
    "high_importance_low_performance",
    "high_importance_high_performance",
    "low_importance_low_performance",
    "low_importance_high_performance",
)

_VIF_LIMIT = 5.0

# --------------------------------------------------------------------------------------------------
# Method registry
# --------------------------------------------------------------------------------------------------
def _normalise(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / x.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class _Method:
    """One key-driver method: how to compute importance from data and how importance becomes a share."""

    stats: Callable[[np.ndarray, np.ndarray], _Stats]
    share: Callable[[np.ndarray], np.ndarray]
    fit_label: str
    max_drivers: int | None = None
    pairwise: bool = True
    check_target: Callable[[np.ndarray], None] = _no_check


METHODS: dict[str, _Method] = {
    "shapley": _Method(_via_correlation(_shapley), _normalise, "R²", max_drivers=MAX_SHAPLEY_DRIVERS),
    "relative_weights": _Method(_via_correlation(_relative_weights), _normalise, "R²"),
    "beta": _Method(_via_correlation(_betas), lambda beta: _normalise(beta**2), "R²"),
    "logistic": _Method(
        _logistic,
        _normalise,
        "McFadden pseudo-R²",
        max_drivers=MAX_LOGISTIC_DRIVERS,
        pairwise=False,
        check_target=_check_binary,
    ),
}

_TOO_MANY = {
    "shapley": "exact Shapley needs all 2^p subsets; use method='relative_weights' (Johnson 2000), "
    "which is close to Shapley and fast for any number of drivers",
    "logistic": "it fits a logistic model for each of the 2^p subsets; group drivers or screen them first",
}


def _method(name: str, p: int, missing: str) -> _Method:
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}; choose one of {', '.join(METHODS)}.")
    if missing not in _MISSING:
        raise ValueError(f"Unknown missing={missing!r}; choose one of {', '.join(_MISSING)}.")
    method = METHODS[name]
    if missing == "pairwise" and not method.pairwise:
        raise ValueError(f"method={name!r} fits models on raw rows; use missing='listwise'.")
    if method.max_drivers is not None and p > method.max_drivers:
        raise DataError(
            f"method={name!r} handles at most {method.max_drivers} drivers, got {p}: {_TOO_MANY[name]}."
        )
    return method


def _vif_warnings(names: list[str], extra: dict[str, np.ndarray]) -> list[str]:
    vif = extra.get("vif")
    if vif is None:
        return []
    high = [f"{d} ({v:.1f})" for d, v in zip(names, vif[0]) if v > _VIF_LIMIT]
    return (
        [f"VIF above {_VIF_LIMIT:g} for {', '.join(high)}: betas are unstable (collinear drivers)"]
        if high
        else []
    )


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def key_drivers(
    df: pd.DataFrame,
    target: str,
    drivers: Sequence[str],
    method: str = "shapley",
    weights: str | Sequence[float] | pd.Series | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    missing: str = "listwise",
    ci: float = 0.95,
    bootstrap_rows: int | None = None,
) -> pd.DataFrame:
    """Relative importance of each driver for ``target``, one row per driver, sorted by rank.

    Methods (``METHODS``):

    - ``"shapley"``: exact Shapley value of R² over all 2^p driver subsets, i.e. the LMG decomposition
      (Lindeman, Merenda & Gold 1980; Grömping 2006, *J. Stat. Software* 17(1), relaimpo type "lmg").
      ``importance`` is in R² units and sums to the full-model R². At most 24 drivers.
    - ``"relative_weights"``: Johnson (2000), *Multivariate Behavioral Research* 35(1): R² split through
      the best orthogonal approximation of the drivers. Sums to R²; close to Shapley, any number of drivers.
    - ``"beta"``: standardized OLS slopes (target SDs per driver SD); ``share`` = beta² / sum(beta²).
      Adds a ``vif`` column and warns when a VIF exceeds 5.
    - ``"logistic"`` for a 0/1 target (e.g. detractor yes/no): Shapley value of McFadden's pseudo-R²
      1 - LL(S)/LL(null) over all subsets of weighted logistic regressions, i.e. general dominance
      (Azen & Traxel 2009, *J. Educ. Behav. Stat.* 34(3)). ``importance`` sums to the full model's
      McFadden R². Fits 2^p models, so at most 15 drivers. Listwise only.

    The correlation methods work from the (weighted) Pearson correlation matrix. ``missing="listwise"``
    (default) keeps rows where the target and all drivers are present; ``missing="pairwise"`` uses, for
    each pair of columns, the rows where both are present (for drivers missing by design, e.g. stage
    scores from different stage surveys); rows without the target are always left out.

    Drivers that are all missing or constant are dropped: they stay in the output with NaN importance,
    share and rank, and ``attrs["notes"]`` says why. Bad data raise :class:`~cemkit.errors.DataError` (an
    ``InputError`` and a ``ValueError``): fewer than p + 2 usable rows, no usable row at all, a target
    without variance, negative or infinite weights, text in a numeric column. Unknown ``method`` /
    ``missing`` or a bad ``ci`` / ``bootstrap`` argument raise plain ``ValueError``.

    ``weights`` (column name, Series aligned on the index, or array) give weighted correlations /
    likelihoods; rows with a missing or zero weight are left out. ``bootstrap=B`` resamples rows B times
    with ``numpy.random.default_rng(seed)`` (each row keeps its weight) and adds ``ci_low``/``ci_high``:
    percentile interval of ``share`` at level ``ci``.

    ``bootstrap_rows=m`` (large data): when more rows than m are used, the bootstrap resamples a random
    subset of m rows and the interval's distances from that subset's estimate are scaled by sqrt(m / n)
    (the m-out-of-n bootstrap for a sqrt(n)-consistent estimate; Bickel, Götze & van Zwet 1997).

    Returns columns ``driver, importance, share, rank`` (+ ``ci_low, ci_high``; + ``vif`` for beta), and
    ``attrs``: ``r2`` (full-model fit), ``r2_kind``, ``n`` (rows used), ``n_effective`` (Kish),
    ``n_min_pairwise`` (pairwise only), ``method``, ``missing``, ``target``, ``dropped``, ``notes``,
    ``bootstrap`` and ``ci``.

    Run time: the correlation methods read the data once per (bootstrap) sample; exact Shapley then
    takes about 0.2 s at 20 drivers and milliseconds at 15 (``benchmarks/bench_shapley.py``). The
    logistic method fits 2^p models: about 1 s at 10 drivers and 2,000 rows, doubling per extra driver
    and growing with rows, times B + 1 with a bootstrap.
    """
    drivers = list(drivers)
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, got {ci}.")
    if int(bootstrap) != bootstrap or bootstrap < 0:
        raise ValueError(f"bootstrap must be a whole number >= 0, got {bootstrap}.")
    _method(method, 0, missing)
    prep = _prepare(df, target, drivers, weights, missing)
    spec = _method(method, len(prep.names), missing)
    spec.check_target(prep.Z[:, -1])

    point = spec.stats(prep.Z, prep.w[None])
    share = spec.share(point.importance)[0]
    notes = [*prep.notes, *point.notes]
    warn = _vif_warnings(prep.names, point.extra)
    for message in warn:
        warnings.warn(message, UserWarning, stacklevel=2)

    columns = {"importance": point.importance[0], "share": share}
    columns |= {name: values[0] for name, values in point.extra.items()}
    if bootstrap:
        n_rows = prep.Z.shape[0]
        if bootstrap_rows and n_rows > bootstrap_rows:
            # m-out-of-n bootstrap: resample a random subset of m rows, then shrink the interval's
            # distances from the subset's estimate by sqrt(m / n) (shares are sqrt(n)-consistent).
            rng = np.random.default_rng(seed)
            keep = np.sort(rng.choice(n_rows, size=int(bootstrap_rows), replace=False))
            sub = _Prepared(**{**prep.__dict__, "Z": prep.Z[keep], "w": prep.w[keep]})
            sub_share = spec.share(spec.stats(sub.Z, sub.w[None, :]).importance)[0]
            low, high, boot_notes = _bootstrap_ci(spec, sub, int(bootstrap), seed, ci)
            factor = np.sqrt(bootstrap_rows / n_rows)
            low, high = share - (sub_share - low) * factor, share + (high - sub_share) * factor
            boot_notes.append(f"bootstrap on {bootstrap_rows:,} of {n_rows:,} rows, interval rescaled by sqrt(m/n)")
        else:
            low, high, boot_notes = _bootstrap_ci(spec, prep, int(bootstrap), seed, ci)
        columns |= {"ci_low": low, "ci_high": high}
        notes += boot_notes

    kept = pd.DataFrame(columns, index=prep.names)
    out = kept.reindex(drivers).rename_axis("driver").reset_index()
    out.insert(3, "rank", out["share"].rank(ascending=False, method="min"))
    out = out.sort_values("rank", kind="stable", na_position="last").reset_index(drop=True)
    out.attrs.update(
        r2=float(point.r2[0]),
        r2_kind=spec.fit_label,
        n=int(prep.Z.shape[0]),
        n_effective=float(prep.w.sum() ** 2 / (prep.w**2).sum()),
        n_min_pairwise=prep.n_min_pairwise,
        method=method,
        missing=missing,
        target=target,
        dropped=dict(prep.dropped),
        notes=notes + warn,
        bootstrap=int(bootstrap),
        ci=ci if bootstrap else None,
    )
    return out


def key_drivers_by(
    df: pd.DataFrame,
    target: str,
    drivers: Mapping[str, Sequence[str]],
    by: str,
    *,
    min_n: int = 100,
    min_per_driver: int = 10,
    **options,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """:func:`key_drivers` for each group of column ``by`` (e.g. each journey stage), each with its own
    drivers: ``drivers`` maps a group value to its driver columns (columns absent from ``df`` are left out).

    A group is modelled on its rows where the target and every driver are present (listwise), and only when
    there are at least ``min_n`` such rows and ``min_per_driver`` per driver (the pack's
    ``rules.drivers.min_n`` / ``min_per_driver``). ``options`` go to :func:`key_drivers` (``method``,
    ``weights``, ``bootstrap``, ``seed``, ``bootstrap_rows`` …).

    Returns ``(models, skipped)``: ``models`` maps each modelled group to its :func:`key_drivers` table
    (``attrs`` as there; the group's rows keep their order), ``skipped`` maps every other group to why
    (``"no drivers"``, ``"n=… below …"``, or the :class:`~cemkit.errors.DataError` that stopped it, e.g. a
    target every customer gave the same score). Groups appear in the order of ``drivers``."""
    weights = options.get("weights")
    extra = [weights] if isinstance(weights, str) else []
    models: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    groups = df[by]
    for group, cols in drivers.items():
        cols = [c for c in cols if c in df.columns]
        if not cols:
            skipped[group] = "no drivers"
            continue
        complete = df.loc[groups == group, [target, *cols, *extra]].dropna(subset=[target, *cols])
        need = max(min_n, min_per_driver * len(cols))
        if len(complete) < need:
            skipped[group] = f"n={len(complete)} below {need}"
            continue
        try:
            models[group] = key_drivers(complete, target, cols, **options)
        except DataError as exc:
            skipped[group] = str(exc)
    return models, skipped


def resample_counts(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """How often each of ``n`` rows is drawn in each of ``b`` bootstrap resamples (rows drawn uniformly
    with replacement, i.e. multinomial counts), as a (b, n) array; one vectorised draw and bincount."""
    idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(float)


def _bootstrap_ci(spec: _Method, prep: _Prepared, B: int, seed: int, ci: float):
    """Percentile interval of ``share`` over B row resamples, done in batches of count-weight vectors."""
    n = prep.Z.shape[0]
    rng = np.random.default_rng(seed)
    batch = max(1, correlation._BUDGET // (4 * n))
    shares, notes = [], []
    for start in range(0, B, batch):
        counts = resample_counts(rng, n, min(batch, B - start))
        stats = spec.stats(prep.Z, counts * prep.w)
        shares.append(spec.share(stats.importance))
        notes += stats.notes
    shares = np.concatenate(shares)
    failed = int(np.isnan(shares).any(axis=1).sum())
    if failed:
        notes.append(f"{failed} of {B} bootstrap samples gave no estimate and were skipped")
    alpha = (1 - ci) / 2
    low, high = np.nanquantile(shares, [alpha, 1 - alpha], axis=0)
    return low, high, list(dict.fromkeys(notes))


_SPLITS: dict[str, Callable[[pd.Series], float]] = {"median": pd.Series.median, "mean": pd.Series.mean}


def _split_rule(split: str | Mapping[str, float]) -> tuple[Mapping[str, float], Callable[[pd.Series], float]]:
    """Fixed cuts given by the user (``{"x": .., "y": ..}``) and the rule for any axis without one."""
    if isinstance(split, Mapping):
        return split, _SPLITS["median"]
    if split not in _SPLITS:
        raise ValueError(
            f"split must be one of {', '.join(_SPLITS)} or a dict with keys x and y, got {split!r}."
        )
    return {}, _SPLITS[split]


def priority_matrix(
    drivers_df: pd.DataFrame,
    performance: pd.Series,
    split: str | Mapping[str, float] = "median",
    *,
    quadrant_names: Mapping[str, str],
) -> pd.DataFrame:
    """Importance x performance quadrants ("fix first", "keep up", ...) for each driver.

    ``drivers_df`` is the output of :func:`key_drivers` (importance = its ``share`` column, 0-1) and
    ``performance`` a Series indexed by driver name (e.g. from :func:`performance`). The x axis is
    importance, the y axis performance. ``split`` is ``"median"`` (default) or ``"mean"`` of the drivers
    shown, or ``{"x": share_cut, "y": performance_cut}`` (a missing key falls back to the median).
    A value equal to the cut counts as high. ``quadrant_names`` maps each key in ``QUADRANTS`` to a
    display string. Drivers without a share or a performance get no quadrant (NA).

    Returns columns ``driver, share, performance, quadrant, quadrant_label`` in the input order, and
    ``attrs`` ``x_split`` and ``y_split``.
    """
    absent = [key for key in QUADRANTS if key not in quadrant_names]
    if absent:
        raise ValueError(f"quadrant_names lacks labels for: {', '.join(absent)}.")
    out = drivers_df[["driver", "share"]].copy()
    out["performance"] = out["driver"].map(performance).astype(float)
    valid = out["share"].notna() & out["performance"].notna()
    cuts = {"x": "share", "y": "performance"}
    rule, how = _split_rule(split)
    at = {
        axis: float(rule[axis]) if axis in rule else float(how(out.loc[valid, col]))
        for axis, col in cuts.items()
    }
    level = {axis: np.where(out[col] >= at[axis], "high", "low") for axis, col in cuts.items()}
    quadrant = pd.Series(
        np.char.add(np.char.add(level["x"], "_importance_"), np.char.add(level["y"], "_performance")),
        index=out.index,
        dtype="string",
    )
    out["quadrant"] = quadrant.where(valid)
    out["quadrant_label"] = out["quadrant"].map(dict(quadrant_names)).astype("string")
    out.attrs.update(x_split=at["x"], y_split=at["y"])
    return out


def performance(
    df: pd.DataFrame,
    drivers: Sequence[str],
    good: Sequence[object] | None = None,
    weights: str | Sequence[float] | pd.Series | None = None,
) -> pd.Series:
    """Performance of each driver: (weighted) mean rating, or top-box share in % when ``good`` is given.

    ``good`` lists the answer values that count as good (e.g. ``[9, 10]`` or ``["Satisfied", "Very
    satisfied"]``); the share is 100 * weighted count of good answers / weighted count of answers.
    Missing answers and rows with a missing or zero weight are left out. Returns a float Series indexed
    by driver, named ``"performance"``, with ``attrs["unit"]`` ("mean" or "%") and ``attrs["n"]``
    (answers per driver).
    """
    w = _weights_vector(df, weights)
    _check_weights(w)
    w = np.nan_to_num(w)
    values, counts = {}, {}
    for d in drivers:
        answered = df[d].notna().to_numpy() & (w > 0)
        score = (
            df[d].isin(list(good)).to_numpy(dtype=float) * 100.0 if good is not None else _as_float(df[d], d)
        )
        total = w[answered].sum()
        values[d] = float((w[answered] * score[answered]).sum() / total) if total > 0 else np.nan
        counts[d] = int(answered.sum())
    out = pd.Series(values, name="performance", dtype=float)
    out.index.name = "driver"
    out.attrs.update(unit="mean" if good is None else "%", n=counts)
    return out
