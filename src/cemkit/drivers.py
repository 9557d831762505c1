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
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit

from .errors import DataError

__all__ = ["METHODS", "QUADRANTS", "key_drivers", "key_drivers_by", "performance", "priority_matrix"]

MAX_SHAPLEY_DRIVERS = 24
MAX_LOGISTIC_DRIVERS = 15
QUADRANTS = (
    "high_importance_low_performance",
    "high_importance_high_performance",
    "low_importance_low_performance",
    "low_importance_high_performance",
)

_BUDGET = 2**22  # float64 elements per working array (32 MB) before a batch is split
_PIVOT_TOL = 1e-10  # a driver whose variance left after the others in a subset is below this adds nothing
_EIG_TOL = 1e-10  # eigenvalues of a correlation matrix below this count as zero (collinear drivers)
_VIF_LIMIT = 5.0
_NEWTON_MAX_ITER = 100


# --------------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------------
@dataclass
class _Prepared:
    """Rows and columns left for the analysis: ``Z`` is (n, p+1) with the target last, NaN = missing."""

    names: list[str]
    Z: np.ndarray
    w: np.ndarray
    dropped: dict[str, str]
    notes: list[str] = field(default_factory=list)
    n_min_pairwise: int | None = None


def _as_float(series: pd.Series, name: object) -> np.ndarray:
    try:
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise DataError(f"Column {name!r} must hold numbers (ratings or 0/1 codes); {exc}") from None


def _weights_vector(df: pd.DataFrame, weights: str | Sequence[float] | pd.Series | None) -> np.ndarray:
    """Row weights as floats: a column name, a Series aligned on ``df.index``, an array, or None (all 1)."""
    if weights is None:
        return np.ones(len(df))
    if isinstance(weights, str):
        return _as_float(df[weights], weights)
    if isinstance(weights, pd.Series):
        return _as_float(weights.reindex(df.index), "weights")
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(df),):
        raise DataError(f"weights has {w.size} values but the data has {len(df)} rows.")
    return w


def _check_weights(w: np.ndarray) -> None:
    """Weights may be missing (the row is left out) but not negative or infinite."""
    present = w[~np.isnan(w)]
    if np.any(present < 0):
        raise DataError("Weights must not be negative.")
    if np.isinf(present).any():
        raise DataError(f"{int(np.isinf(present).sum())} weight(s) are infinite; weights must be finite numbers.")


def _constant(col: np.ndarray) -> bool:
    """True when a column has fewer than two distinct non-missing values."""
    present = col[~np.isnan(col)]
    return present.size == 0 or bool(present.min() == present.max())


def _listwise(Z: np.ndarray, notes: list[str]) -> np.ndarray:
    keep = ~np.isnan(Z).any(axis=1)
    if not keep.all():
        notes.append(f"listwise deletion kept {int(keep.sum())} of {keep.size} rows with a target value")
    return keep


def _pairwise(Z: np.ndarray, notes: list[str]) -> np.ndarray:
    return ~np.isnan(Z[:, :-1]).all(axis=1)


def _prepare(df: pd.DataFrame, target: str, drivers: list[str], weights, missing: str) -> _Prepared:
    """Numeric matrix of usable rows and drivers; drops all-missing and constant drivers with a reason."""
    absent = [c for c in [target, *drivers] if c not in df.columns]
    if absent:
        raise DataError(f"Columns not in the data: {', '.join(map(repr, absent))}.")
    if target in drivers:
        raise DataError(f"The target {target!r} cannot also be a driver.")
    if len(set(drivers)) != len(drivers) or not drivers:
        raise DataError("Give at least one driver, each only once.")
    w = _weights_vector(df, weights)
    _check_weights(w)
    y = _as_float(df[target], target)
    rows = ~np.isnan(y) & (np.nan_to_num(w) > 0)
    if not rows.any():
        raise DataError(
            f"No usable rows: every row lacks a {target!r} value or has a missing or zero weight"
            + (" (a weights Series is aligned on the data's index)." if isinstance(weights, pd.Series) else ".")
        )
    X = np.column_stack([_as_float(df[d], d)[rows] for d in drivers])
    dropped = {d: "all missing" for d, col in zip(drivers, X.T) if np.isnan(col).all()}
    notes: list[str] = []
    names = [d for d in drivers if d not in dropped]
    Z = np.column_stack([X[:, [drivers.index(d) for d in names]], y[rows]])
    keep = _MISSING[missing].rows(Z, notes)
    Z, w = Z[keep], w[rows][keep]
    if Z.shape[0] < len(names) + 2:
        raise DataError(
            f"Too few rows: {len(names)} drivers need at least {len(names) + 2} usable rows (target "
            f"and drivers present, positive weight), but only {Z.shape[0]} remain."
        )
    dropped |= {d: "no variance" for d, col in zip(names, Z.T) if _constant(col)}
    Z = Z[:, [i for i, d in enumerate(names) if d not in dropped] + [len(names)]]
    names = [d for d in names if d not in dropped]
    notes[:0] = [f"dropped {d!r}: {why}" for d, why in dropped.items()]
    if not names:
        raise DataError("No driver is left to analyse: every driver is constant or missing.")
    if _constant(Z[:, -1]):
        raise DataError(
            f"The target {target!r} has no variance in the rows used, so nothing can explain it."
        )
    prepared = _Prepared(names, Z, w, dropped, notes)
    _MISSING[missing].check(prepared)
    return prepared


def _check_pairwise(prep: _Prepared) -> None:
    """Every pairwise correlation must exist (>= 3 shared rows, both vary); note a non-PD matrix."""
    m = prep.Z.shape[1]
    counts = np.zeros((m, m))
    for a, b in _row_blocks(prep.Z.shape[0], m):  # rows both columns share, block by block
        present = (~np.isnan(prep.Z[a:b])).astype(float)
        counts += present.T @ present
    prep.n_min_pairwise = int(counts.min())
    R = _weighted_corr(prep.Z, prep.w[None])[0]
    labels = [*prep.names, "target"]
    bad = np.argwhere(np.triu((counts < 3) | np.isnan(R), 1))
    if bad.size:
        pairs = ", ".join(f"{labels[i]!r}/{labels[j]!r} ({int(counts[i, j])} rows)" for i, j in bad[:5])
        raise DataError(
            "Pairwise correlations are undefined for "
            f"{pairs}: these columns are answered together by fewer than 3 rows or do not vary there."
        )
    if np.linalg.eigvalsh(R).min() < -_EIG_TOL:
        prep.notes.append("the pairwise correlation matrix is not positive definite; results are approximate")


class _Missing(NamedTuple):
    """A missing-data rule: which rows to keep (target last in ``Z``), then a check on the result."""

    rows: Callable[[np.ndarray, list[str]], np.ndarray]
    check: Callable[[_Prepared], None]


_MISSING: dict[str, _Missing] = {
    "listwise": _Missing(_listwise, lambda prep: None),
    "pairwise": _Missing(_pairwise, _check_pairwise),
}


# --------------------------------------------------------------------------------------------------
# Weighted correlations (one matrix per weight vector)
# --------------------------------------------------------------------------------------------------
def _row_blocks(n: int, m: int) -> list[tuple[int, int]]:
    """Blocks of rows whose (rows, m * m) products stay within :data:`_BUDGET` (one block for small data)."""
    step = max(1, _BUDGET // (m * m))
    return [(a, min(a + step, n)) for a in range(0, max(n, 1), step)]


def _weighted_corr(Z: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted Pearson correlations, pairwise-complete, for each row of ``W``: (B, n) -> (B, m, m).

    Each correlation uses the rows where both columns are present (with no missing values this is the
    ordinary weighted correlation). Undefined entries (no variance on the shared rows) are NaN.

    The columns are first centred and scaled by their mean and SD over their present values; then the sums
    S[b, i, j] = Σ_r W[b, r] · A[r, i] · C[r, j] are matrix products over blocks of rows (no B x n x m copies,
    and no n x m² product at once: memory does not grow with the rows — a 2.5M-customer stage-importance
    table made a 1.3 GB product in one piece).
    """
    n, m = Z.shape
    B = W.shape[0]
    blocks = _row_blocks(n, m)
    count, total, squares = np.zeros(m), np.zeros(m), np.zeros(m)
    for a, b in blocks:  # np.nanmean / np.nanstd, block by block
        ok = ~np.isnan(Z[a:b])
        count += ok.sum(axis=0)
        total += np.where(ok, Z[a:b], 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        center = total / count
    for a, b in blocks:
        d = np.where(np.isnan(Z[a:b]), 0.0, Z[a:b] - center)
        squares += (d * d).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt(squares / count)
    unit = np.where(scale > 0, scale, 1.0)
    complete = bool((count == n).all())  # no missing values: every pair shares every row
    S = {k: np.zeros((B, m * m)) for k in ("S0", "S1", "S2", "Sq")}
    for a, b in blocks:
        present = ~np.isnan(Z[a:b])
        X0 = np.where(present, (Z[a:b] - center) / unit, 0.0)
        Wb = W[:, a:b]

        def outer(A: np.ndarray, C: np.ndarray) -> np.ndarray:
            return (A[:, :, None] * C[:, None, :]).reshape(-1, m * m)

        S["S2"] += Wb @ outer(X0, X0)
        if complete:
            S["S0"][:, :m] += Wb.sum(axis=1)[:, None]
            S["S1"][:, :m] += Wb @ X0  # sum of w * x_i
            S["Sq"][:, :m] += Wb @ (X0 * X0)
        else:
            M = present.astype(float)
            S["S0"] += Wb @ outer(M, M)
            S["S1"] += Wb @ outer(X0, M)  # S1[i, j] = sum of w * x_i over rows where j is present
            S["Sq"] += Wb @ outer(X0 * X0, M)
    if complete:  # the per-column sums, the same for every j
        S0 = np.broadcast_to(S["S0"][:, :1, None], (B, m, m))
        S1 = np.broadcast_to(S["S1"][:, :m, None], (B, m, m))
        Sq = np.broadcast_to(S["Sq"][:, :m, None], (B, m, m))
    else:
        S0, S1, Sq = (S[k].reshape(B, m, m) for k in ("S0", "S1", "Sq"))
    S2 = S["S2"].reshape(B, m, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = S1 / S0
        cov = S2 / S0 - mean * mean.transpose(0, 2, 1)
        var = Sq / S0 - mean**2
        var = np.where(var > 1e-12, var, np.nan)
        return cov / np.sqrt(var * var.transpose(0, 2, 1))


def _clean_corr(R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace undefined correlations (a column constant in a bootstrap sample) by 0, diagonal by 1."""
    bad = np.isnan(R)
    eye = np.broadcast_to(np.eye(R.shape[-1]), R.shape)
    return np.where(bad, eye, R), bad.any(axis=(1, 2))


# --------------------------------------------------------------------------------------------------
# Decompositions
# --------------------------------------------------------------------------------------------------
@dataclass
class _Stats:
    """Output of one method for B weight vectors: importance (B, p), full-model fit (B,), extras (B, p)."""

    importance: np.ndarray
    r2: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _pivot_first(cur: np.ndarray) -> np.ndarray:
    """One elimination step on the first variable: (B, K, m, m) -> (B, 2K, m-1, m-1).

    Slot ``k`` leaves the variable out (delete its row and column); slot ``K + k`` puts it in (Schur
    complement, i.e. partial out the variable). A variable with (near) zero variance left adds nothing.
    """
    B, K, m, _ = cur.shape
    piv = cur[:, :, 0, 0]
    col = cur[:, :, 1:, 0]
    rest = cur[:, :, 1:, 1:]
    ok = piv > _PIVOT_TOL
    inv = np.where(ok, 1.0 / np.where(ok, piv, 1.0), 0.0)
    out = np.empty((B, 2 * K, m - 1, m - 1))
    out[:, :K] = rest
    np.subtract(rest, col[..., :, None] * (col * inv[..., None])[..., None, :], out=out[:, K:])
    return out


def _leaf_residuals(cur: np.ndarray) -> np.ndarray:
    """Residual variance of the last variable for every subset of the others.

    Shapes: (B, K, m, m) -> (B, 2^(m-1), K).

    Entry ``[b, h, k]``: bit ``i`` of ``h`` says whether the i-th remaining variable is in the subset.
    Splits the batch when a level would exceed the memory budget.
    """
    B, K, m, _ = cur.shape
    if m == 1:
        return cur[:, None, :, 0, 0]
    if 2 * cur.size > _BUDGET and B * K > 1:
        axis = 1 if K > 1 else 0
        parts = np.array_split(cur, 2, axis=axis)
        return np.concatenate([_leaf_residuals(part) for part in parts], axis=2 if axis == 1 else 0)
    below = _leaf_residuals(_pivot_first(cur))  # (B, H, 2K): slot k + K*c, c = in/out of this variable
    return below.reshape(B, -1, K)


def _subset_r2(R: np.ndarray) -> np.ndarray:
    """R² of the target (last) on every subset of drivers, from correlation matrices: (B, m, m) -> (B, 2^p).

    Column ``s`` is the subset whose bit j is set when driver j is in. Exact Gaussian elimination over
    the subset tree (Griffin & Tsatsomeros 2006, principal minors by Schur complements): about
    ``6 * 2^p`` flops per matrix instead of one ``s x s`` solve per subset.
    """
    return 1.0 - _leaf_residuals(R[:, None]).reshape(R.shape[0], -1)


def _shapley_values(v: np.ndarray) -> np.ndarray:
    """Shapley values of a set function given on all 2^p subsets (bitmask columns): (B, 2^p) -> (B, p).

    phi_j = sum over S not containing j of s!(p-s-1)!/p! * (v(S + j) - v(S)), with v(empty) = 0.
    """
    B, N = v.shape
    p = N.bit_length() - 1
    size = np.bitwise_count(np.arange(N, dtype=np.uint64)).astype(np.intp)
    weight = np.array([1.0 / (p * comb(p - 1, s)) for s in range(p)])
    w_in = np.concatenate([[0.0], weight])[size]  # S contains j: weight of |S| - 1
    w_out = np.concatenate([weight, [0.0]])[size]  # S lacks j: weight of |S|
    a, b = v * w_in, v * w_out
    phi = np.empty((B, p))
    for j in range(p):
        with_j = a.reshape(B, -1, 2, 2**j)[:, :, 1]  # bit j set
        without_j = b.reshape(B, -1, 2, 2**j)[:, :, 0]
        phi[:, j] = with_j.sum(axis=(1, 2)) - without_j.sum(axis=(1, 2))
    return phi


def _shapley(R: np.ndarray) -> _Stats:
    r2 = _subset_r2(R)
    return _Stats(_shapley_values(r2), r2[:, -1])


def _relative_weights(R: np.ndarray) -> _Stats:
    """Johnson (2000): w_j = sum_k (R_xx^(1/2))_jk^2 b_k^2 with b = R_xx^(-1/2) r_xy."""
    lam, V = np.linalg.eigh(R[:, :-1, :-1])
    lam = np.clip(lam, 0.0, None)
    root = np.matmul(V * np.sqrt(lam)[:, None, :], V.transpose(0, 2, 1))
    inv_root = np.where(lam > _EIG_TOL, 1.0 / np.sqrt(np.where(lam > _EIG_TOL, lam, 1.0)), 0.0)
    b = np.matmul(V * inv_root[:, None, :], np.matmul(V.transpose(0, 2, 1), R[:, :-1, -1:]))[..., 0]
    eps = np.matmul(root**2, (b**2)[..., None])[..., 0]
    return _Stats(eps, eps.sum(axis=1))


def _betas(R: np.ndarray) -> _Stats:
    """Standardized OLS slopes beta = R_xx^-1 r_xy, with VIF_j = (R_xx^-1)_jj (minimum norm if singular)."""
    Rxx, rxy = R[:, :-1, :-1], R[:, :-1, -1]
    inv = np.linalg.pinv(Rxx, hermitian=True)
    beta = np.einsum("bij,bj->bi", inv, rxy)
    lam, V = np.linalg.eigh(Rxx)
    collinear = ((np.abs(V) > 1e-8) & (lam[:, None, :] <= _EIG_TOL)).any(axis=2)
    vif = np.where(collinear, np.inf, np.diagonal(inv, axis1=1, axis2=2))
    stats = _Stats(beta, np.einsum("bi,bi->b", beta, rxy), extra={"vif": vif})
    if collinear.any():
        stats.notes.append("some drivers are perfectly collinear; their betas are minimum-norm values")
    return stats


def _via_correlation(decompose: Callable[[np.ndarray], _Stats]) -> Callable[[np.ndarray, np.ndarray], _Stats]:
    """Lift a decomposition of correlation matrices to a method on data ``Z`` and weight vectors ``W``."""

    def stats(Z: np.ndarray, W: np.ndarray) -> _Stats:
        R, degenerate = _clean_corr(_weighted_corr(Z, W))
        result = decompose(R)
        if degenerate.any():
            result.notes.append(
                f"{int(degenerate.sum())} bootstrap sample(s) had a constant column, counted as importance 0"
            )
        return result

    return stats


# --------------------------------------------------------------------------------------------------
# Logistic: Shapley value of McFadden's pseudo-R² (dominance analysis, Azen & Traxel 2009)
# --------------------------------------------------------------------------------------------------
def _loglik(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Bernoulli log-likelihood of each row of linear predictors ``eta`` (K, n)."""
    return (w * (y * eta - np.logaddexp(0.0, eta))).sum(axis=-1)


def _logit_fits(X: np.ndarray, y: np.ndarray, w: np.ndarray, cols: np.ndarray, start: float) -> np.ndarray:
    """Maximised weighted log-likelihood of K logistic models at once (Newton-Raphson with step halving).

    ``cols`` is (K, s): the driver columns of each model; every model also has an intercept.
    """
    K, s = cols.shape
    Dt = np.concatenate([np.ones((K, 1, X.shape[0])), X.T[cols]], axis=1)  # (K, s+1, n)
    beta = np.zeros((K, s + 1))
    beta[:, 0] = start
    eta = np.full((K, X.shape[0]), start)
    ll = _loglik(eta, y, w)
    ridge = 1e-10 * w.sum() * np.eye(s + 1)
    for _ in range(_NEWTON_MAX_ITER):
        mu = expit(eta)
        grad = np.matmul(Dt, (w * (y - mu))[..., None])
        hess = np.matmul(Dt * (w * mu * (1 - mu))[:, None, :], Dt.transpose(0, 2, 1)) + ridge
        step = np.linalg.solve(hess, grad)[..., 0]
        t = np.ones((K, 1))
        for _ in range(30):  # halve the step of any model whose likelihood would drop
            new = beta + t * step
            eta_new = np.matmul(new[:, None, :], Dt)[:, 0]
            ll_new = _loglik(eta_new, y, w)
            worse = ll_new < ll - 1e-12 * np.abs(ll)
            if not worse.any():
                break
            t = np.where(worse[:, None], t / 2, t)
        gain = ll_new - ll
        beta, eta, ll = new, eta_new, ll_new
        if np.all(np.abs(gain) <= 1e-11 * (1 + np.abs(ll))):
            break
    return ll


def _mcfadden_all_subsets(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """McFadden pseudo-R² = 1 - LL(S)/LL(intercept only) for every subset S (bitmask order)."""
    keep = w > 0
    X, y, w = X[keep], y[keep], w[keep] / w[keep].mean()
    n, p = X.shape
    ybar = float((w * y).sum() / w.sum())
    if not 0 < ybar < 1:
        return np.full(2**p, np.nan)
    ll0 = float((w * (y * np.log(ybar) + (1 - y) * np.log1p(-ybar))).sum())
    ll = np.empty(2**p)
    ll[0] = ll0
    for s in range(1, p + 1):
        cols = np.array(list(combinations(range(p), s)))
        masks = (1 << cols).sum(axis=1)
        chunk = max(1, _BUDGET // (n * (s + 1)))
        for start in range(0, len(cols), chunk):
            part = slice(start, start + chunk)
            ll[masks[part]] = _logit_fits(X, y, w, cols[part], np.log(ybar / (1 - ybar)))
    return 1.0 - ll / ll0


def _logistic(Z: np.ndarray, W: np.ndarray) -> _Stats:
    X = Z[:, :-1]
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # conditioning only: the likelihood does not change
    r2 = np.stack([_mcfadden_all_subsets(X, Z[:, -1], w) for w in W])
    stats = _Stats(_shapley_values(r2), r2[:, -1])
    if np.nanmax(r2, initial=0.0) > 1 - 1e-6:
        stats.notes.append(
            "some driver subsets separate the target perfectly (pseudo-R² = 1); their logistic fits diverge"
        )
    return stats


def _check_binary(y: np.ndarray) -> None:
    values = set(np.unique(y[~np.isnan(y)]).tolist())
    if not values <= {0.0, 1.0}:
        raise DataError(
            "method='logistic' needs a binary target coded 0/1 (e.g. detractor = 1); "
            f"found values {sorted(values)[:6]}."
        )


def _no_check(y: np.ndarray) -> None:
    return None


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
    batch = max(1, _BUDGET // (4 * n))
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
