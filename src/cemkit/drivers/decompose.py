"""How the explained variance is split among the drivers, for a stack of correlation matrices (one per
weight vector): Shapley values of R² over every subset (LMG), Johnson's relative weights, standardized betas,
and the Shapley value of McFadden's pseudo-R² for a binary target (logistic fits on every subset of drivers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

import numpy as np
from scipy.special import expit

from ..errors import DataError
from . import correlation
from .correlation import _EIG_TOL, _clean_corr, _weighted_corr

_PIVOT_TOL = 1e-10  # a driver whose variance left after the others in a subset is below this adds nothing
_NEWTON_MAX_ITER = 100


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
    if 2 * cur.size > correlation._BUDGET and B * K > 1:
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
        chunk = max(1, correlation._BUDGET // (n * (s + 1)))
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
