"""Tests for cemkit.drivers: each statistic against published values or an independent computation."""

from __future__ import annotations

import warnings
from itertools import combinations, permutations
from math import factorial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.stats.weightstats import DescrStatsW

from cemkit import drivers as kd
from cemkit.drivers import QUADRANTS, key_drivers, performance, priority_matrix, resample_counts

DATA = Path(__file__).parent / "data"
SWISS_X = ["Agriculture", "Examination", "Education", "Catholic", "Infant.Mortality"]
MTCARS_X = ["cyl", "disp", "hp", "gear"]
LABELS = {
    "high_importance_low_performance": "Fix first",
    "high_importance_high_performance": "Keep up",
    "low_importance_low_performance": "Watch",
    "low_importance_high_performance": "Possible overkill",
}


@pytest.fixture(scope="module")
def swiss() -> pd.DataFrame:
    return pd.read_csv(DATA / "swiss.csv")


@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(DATA / "mtcars.csv")


def by_driver(result: pd.DataFrame, drivers: list[str]) -> pd.DataFrame:
    return result.set_index("driver").loc[drivers]


def correlated(rng: np.random.Generator, n: int, p: int, noise: float = 1.0) -> pd.DataFrame:
    """Random correlated drivers x0..x{p-1} and a target y linear in them plus noise."""
    mix = rng.normal(size=(p, p)) * 0.6 + np.eye(p)
    X = rng.normal(size=(n, p)) @ mix
    y = X @ rng.normal(size=p) + noise * rng.normal(size=n) * X.std()
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    frame["y"] = y
    return frame


# ------------------------------------------------------------------------------------------------
# Independent computations
# ------------------------------------------------------------------------------------------------
def wls_r2(frame: pd.DataFrame, target: str, cols: tuple[str, ...], w: np.ndarray | None) -> float:
    """R² of a (weighted) OLS fit on the raw data with statsmodels."""
    if not cols:
        return 0.0
    design = sm.add_constant(frame[list(cols)].to_numpy(), has_constant="add")
    weights = np.ones(len(frame)) if w is None else w
    return float(sm.WLS(frame[target].to_numpy(), design, weights=weights).fit().rsquared)


def brute_shapley(value, names: list[str]) -> np.ndarray:
    """Shapley values by the subset formula with s!(p-s-1)!/p! weights; ``value(tuple_of_names)``."""
    p = len(names)
    v = {S: value(S) for s in range(p + 1) for S in combinations(names, s)}
    phi = np.zeros(p)
    for j, name in enumerate(names):
        others = [d for d in names if d != name]
        for s in range(p):
            for S in combinations(others, s):
                with_j = tuple(d for d in names if d in S or d == name)
                phi[j] += factorial(s) * factorial(p - s - 1) / factorial(p) * (v[with_j] - v[S])
    return phi


def permutation_shapley(value, names: list[str]) -> np.ndarray:
    """Shapley values as the average marginal contribution over all orderings (small p only)."""
    phi = np.zeros(len(names))
    orders = list(permutations(range(len(names))))
    for order in orders:
        chosen: list[int] = []
        before = value(())
        for j in order:
            chosen.append(j)
            after = value(tuple(names[k] for k in sorted(chosen)))
            phi[j] += after - before
            before = after
    return phi / len(orders)


def johnson_weights_svd(frame: pd.DataFrame, target: str, cols: list[str], w: np.ndarray) -> np.ndarray:
    """Johnson (2000) from the raw data: SVD of weighted z-scores, Z = P Q', regress y on Z and X on Z."""
    sw = np.sqrt(w / w.sum())
    X = frame[cols].to_numpy()
    y = frame[target].to_numpy()
    Xs = (X - np.average(X, axis=0, weights=w)) * sw[:, None]
    Xs /= np.sqrt((Xs**2).sum(axis=0))
    ys = (y - np.average(y, weights=w)) * sw
    ys /= np.sqrt((ys**2).sum())
    P, _delta, Qt = np.linalg.svd(Xs, full_matrices=False)
    Zorth = P @ Qt
    beta = np.linalg.lstsq(Zorth, ys, rcond=None)[0]
    lam = np.linalg.lstsq(Zorth, Xs, rcond=None)[0]  # lam[k, j]: loading of x_j on z_k
    return (lam.T**2) @ beta**2


def logit_llf(frame: pd.DataFrame, target: str, cols: tuple[str, ...], w: np.ndarray | None) -> float:
    design = (
        sm.add_constant(frame[list(cols)].to_numpy(), has_constant="add")
        if cols
        else np.ones((len(frame), 1))
    )
    model = sm.GLM(frame[target].to_numpy(), design, family=sm.families.Binomial(), freq_weights=w)
    return float(model.fit(tol=1e-12, maxiter=200).llf)


def population_lmg(R: np.ndarray) -> np.ndarray:
    """LMG of the target (last) from a population correlation matrix, via one solve per subset."""
    p = R.shape[0] - 1
    names = list(range(p))

    def r2(S):
        idx = list(S)
        return float(R[-1, idx] @ np.linalg.solve(R[np.ix_(idx, idx)], R[idx, -1])) if idx else 0.0

    return brute_shapley(r2, names)


# ------------------------------------------------------------------------------------------------
# Published values
# ------------------------------------------------------------------------------------------------
SWISS_LMG = [0.0570912, 0.1711730, 0.2601347, 0.1055702, 0.1127659]
SWISS_LMG_SHARE = [0.08078, 0.24220, 0.36808, 0.14938, 0.15956]
SWISS_RW = [0.0484169, 0.1547082, 0.2719641, 0.1146800, 0.1169657]
SWISS_BETA = [-0.3129213, -0.1647782, -0.6704008, 0.3476000, 0.2511360]
MTCARS_LMG = [0.2470520, 0.2434996, 0.2109129, 0.0777251]
MTCARS_RW = [0.2284797, 0.2221469, 0.2321744, 0.0963886]
MTCARS_RW_SHARE = [0.2932, 0.2851, 0.2980, 0.1237]


def test_swiss_lmg_matches_relaimpo(swiss):
    result = key_drivers(swiss, "Fertility", SWISS_X, method="shapley")
    got = by_driver(result, SWISS_X)
    np.testing.assert_allclose(got["importance"], SWISS_LMG, atol=1e-6)
    np.testing.assert_allclose(got["share"], SWISS_LMG_SHARE, atol=5e-6)
    assert result.attrs["r2"] == pytest.approx(0.7067350016, abs=1e-9)
    assert result.attrs["n"] == 47 and result.attrs["method"] == "shapley"
    assert list(result["driver"]) == [
        "Education",
        "Examination",
        "Infant.Mortality",
        "Catholic",
        "Agriculture",
    ]
    assert list(result["rank"]) == [1, 2, 3, 4, 5]


def test_swiss_relative_weights_match_relaimpo(swiss):
    result = key_drivers(swiss, "Fertility", SWISS_X, method="relative_weights")
    got = by_driver(result, SWISS_X)
    np.testing.assert_allclose(got["importance"], SWISS_RW, atol=1e-6)
    assert got["share"].sum() == pytest.approx(1.0)
    assert result.attrs["r2"] == pytest.approx(0.7067350016, abs=1e-9)


def test_swiss_standardized_betas(swiss):
    result = key_drivers(swiss, "Fertility", SWISS_X, method="beta")
    got = by_driver(result, SWISS_X)
    np.testing.assert_allclose(got["importance"], SWISS_BETA, atol=1e-6)
    beta2 = np.square(SWISS_BETA)
    np.testing.assert_allclose(got["share"], beta2 / beta2.sum(), atol=1e-6)
    assert result.attrs["r2"] == pytest.approx(0.7067350016, abs=1e-9)


def test_mtcars_lmg_and_relative_weights_match_published(mtcars):
    lmg = by_driver(key_drivers(mtcars, "mpg", MTCARS_X), MTCARS_X)
    np.testing.assert_allclose(lmg["importance"], MTCARS_LMG, atol=1e-6)
    rw_result = key_drivers(mtcars, "mpg", MTCARS_X, method="relative_weights")
    rw = by_driver(rw_result, MTCARS_X)
    np.testing.assert_allclose(rw["importance"], MTCARS_RW, atol=1e-6)
    np.testing.assert_allclose(rw["share"], MTCARS_RW_SHARE, atol=5e-5)
    assert rw_result.attrs["r2"] == pytest.approx(0.7791896, abs=1e-7)


# ------------------------------------------------------------------------------------------------
# Brute force on random data
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_shapley_matches_all_subsets_regressions(p, weighted):
    rng = np.random.default_rng(100 + p)
    frame = correlated(rng, 80, p)
    w = rng.uniform(0.2, 3.0, size=len(frame)) if weighted else None
    names = [f"x{j}" for j in range(p)]
    expected = brute_shapley(lambda S: wls_r2(frame, "y", S, w), names)
    result = by_driver(key_drivers(frame, "y", names, weights=w), names)
    np.testing.assert_allclose(result["importance"], expected, rtol=1e-9, atol=1e-12)
    assert result["importance"].sum() == pytest.approx(wls_r2(frame, "y", tuple(names), w), rel=1e-10)


def test_shapley_listwise_matches_regressions_on_complete_rows():
    rng = np.random.default_rng(7)
    frame = correlated(rng, 120, 4)
    frame.loc[rng.choice(120, 25, replace=False), "x1"] = np.nan
    frame.loc[rng.choice(120, 10, replace=False), "y"] = np.nan
    names = ["x0", "x1", "x2", "x3"]
    complete = frame.dropna()
    expected = brute_shapley(lambda S: wls_r2(complete, "y", S, None), names)
    result = key_drivers(frame, "y", names)
    np.testing.assert_allclose(by_driver(result, names)["importance"], expected, rtol=1e-9)
    assert result.attrs["n"] == len(complete)


def test_shapley_at_ten_drivers_matches_subset_solves():
    rng = np.random.default_rng(3)
    frame = correlated(rng, 300, 10)
    names = [f"x{j}" for j in range(10)]
    R = frame[[*names, "y"]].corr().to_numpy()
    expected = population_lmg(R)
    got = by_driver(key_drivers(frame, "y", names), names)["importance"]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_shapley_with_exactly_collinear_drivers_matches_lstsq():
    rng = np.random.default_rng(11)
    frame = correlated(rng, 100, 3)
    frame["x3"] = frame["x0"] + 2 * frame["x1"]
    names = ["x0", "x1", "x2", "x3"]

    def r2(S):
        if not S:
            return 0.0
        design = np.column_stack([np.ones(len(frame)), frame[list(S)].to_numpy()])
        resid = frame["y"] - design @ np.linalg.lstsq(design, frame["y"], rcond=None)[0]
        return 1 - (resid**2).sum() / ((frame["y"] - frame["y"].mean()) ** 2).sum()

    got = by_driver(key_drivers(frame, "y", names), names)["importance"]
    np.testing.assert_allclose(got, brute_shapley(r2, names), atol=1e-8)


def test_results_do_not_depend_on_memory_budget(monkeypatch):
    """A tiny budget forces the split subset tree, one-by-one bootstrap batches and one-model logit fits."""
    frame = logistic_frame(40, n=80, p=7)
    names = [f"x{j}" for j in range(7)]
    calls = [
        {"target": "y", "method": "shapley", "bootstrap": 6},
        {"target": "y", "method": "relative_weights", "bootstrap": 6},
        {"target": "detractor", "method": "logistic", "bootstrap": 2},
    ]
    before = [key_drivers(frame, drivers=names, **kw) for kw in calls]
    monkeypatch.setattr(kd.correlation, "_BUDGET", 40)
    after = [key_drivers(frame, drivers=names, **kw) for kw in calls]
    for one, two in zip(before, after):
        pd.testing.assert_frame_equal(one, two, check_exact=False, rtol=1e-10)


def test_twenty_drivers_exact():
    """Speed is measured in benchmarks/bench_shapley.py, not asserted here (CI machines vary)."""
    frame = correlated(np.random.default_rng(19), 20_000, 20)
    names = [f"x{j}" for j in range(20)]
    result = key_drivers(frame, "y", names)
    assert result["importance"].sum() == pytest.approx(wls_r2(frame, "y", tuple(names), None), rel=1e-9)
    # 2^20 brute-force regressions are out of reach here; relative weights are an independent
    # computation known to track LMG closely, so a gross error in any value would show
    rw = by_driver(key_drivers(frame, "y", names, method="relative_weights"), names)["share"]
    assert np.abs(by_driver(result, names)["share"] - rw).max() < 0.05


@pytest.mark.parametrize("p", [3, 5, 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_relative_weights_match_svd_computation(p, weighted):
    rng = np.random.default_rng(200 + p)
    frame = correlated(rng, 90, p)
    w = rng.uniform(0.2, 3.0, size=len(frame)) if weighted else np.ones(len(frame))
    names = [f"x{j}" for j in range(p)]
    got = by_driver(key_drivers(frame, "y", names, method="relative_weights", weights=w), names)
    np.testing.assert_allclose(got["importance"], johnson_weights_svd(frame, "y", names, w), rtol=1e-9)


@pytest.mark.filterwarnings("ignore:VIF above")
@pytest.mark.parametrize("weighted", [False, True])
def test_betas_match_weighted_regression_on_zscores(weighted):
    rng = np.random.default_rng(5)
    frame = correlated(rng, 70, 4)
    names = ["x0", "x1", "x2", "x3"]
    w = rng.uniform(0.5, 2.0, size=len(frame)) if weighted else np.ones(len(frame))
    fit = sm.WLS(frame["y"], sm.add_constant(frame[names]), weights=w).fit()
    sd = {c: DescrStatsW(frame[c].to_numpy(), weights=w).std for c in [*names, "y"]}
    expected = [fit.params[c] * sd[c] / sd["y"] for c in names]
    got = by_driver(key_drivers(frame, "y", names, method="beta", weights=w), names)
    np.testing.assert_allclose(got["importance"], expected, rtol=1e-9)


def test_vif_matches_statsmodels_and_warns_when_high():
    rng = np.random.default_rng(8)
    frame = correlated(rng, 60, 3)
    frame["x3"] = frame["x0"] + 0.05 * rng.normal(size=60) * frame["x0"].std()
    names = ["x0", "x1", "x2", "x3"]
    design = sm.add_constant(frame[names]).to_numpy()
    expected = [variance_inflation_factor(design, j + 1) for j in range(4)]
    with pytest.warns(UserWarning, match="VIF above 5"):
        result = key_drivers(frame, "y", names, method="beta")
    np.testing.assert_allclose(by_driver(result, names)["vif"], expected, rtol=1e-8)
    assert any("VIF" in note for note in result.attrs["notes"])


def test_no_vif_warning_for_independent_drivers(swiss):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = key_drivers(swiss, "Fertility", SWISS_X, method="beta")
    assert (result["vif"] < 5).all()


# ------------------------------------------------------------------------------------------------
# Logistic: Shapley on McFadden's pseudo-R²
# ------------------------------------------------------------------------------------------------
def logistic_frame(seed: int, n: int = 400, p: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = correlated(rng, n, p)
    eta = frame[[f"x{j}" for j in range(p)]].to_numpy() @ np.linspace(0.8, -0.3, p) * 0.5 - 0.4
    frame["detractor"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return frame


@pytest.mark.parametrize("weighted", [False, True])
def test_logistic_matches_statsmodels_fits(weighted):
    frame = logistic_frame(21)
    names = ["x0", "x1", "x2", "x3"]
    w = np.random.default_rng(2).integers(1, 4, size=len(frame)).astype(float) if weighted else None
    ll0 = logit_llf(frame, "detractor", (), w)
    expected = permutation_shapley(lambda S: 1 - logit_llf(frame, "detractor", S, w) / ll0, names)
    result = key_drivers(frame, "detractor", names, method="logistic", weights=w)
    got = by_driver(result, names)
    np.testing.assert_allclose(got["importance"], expected, atol=1e-9)
    full = 1 - logit_llf(frame, "detractor", tuple(names), w) / ll0
    assert result.attrs["r2"] == pytest.approx(full, abs=1e-9)
    assert result.attrs["r2_kind"] == "McFadden pseudo-R²"
    assert got["share"].sum() == pytest.approx(1.0)


def test_logistic_equals_frequency_weights_as_repeated_rows():
    frame = logistic_frame(4, n=150, p=3)
    names = ["x0", "x1", "x2"]
    reps = np.random.default_rng(9).integers(1, 4, size=len(frame))
    weighted = key_drivers(frame, "detractor", names, method="logistic", weights=reps.astype(float))
    repeated = key_drivers(frame.loc[frame.index.repeat(reps)], "detractor", names, method="logistic")
    np.testing.assert_allclose(
        by_driver(weighted, names)["importance"], by_driver(repeated, names)["importance"], atol=1e-9
    )


def test_logistic_needs_binary_target_and_listwise(mtcars):
    with pytest.raises(ValueError, match="binary target coded 0/1"):
        key_drivers(mtcars, "gear", ["mpg", "hp"], method="logistic")
    with pytest.raises(ValueError, match="listwise"):
        key_drivers(mtcars, "am", ["mpg", "hp"], method="logistic", missing="pairwise")


def test_logistic_separation_is_noted_not_crashed(mtcars):
    result = key_drivers(mtcars, "am", ["cyl", "disp", "hp", "wt"], method="logistic")
    assert result["share"].sum() == pytest.approx(1.0)
    assert any("separate" in note for note in result.attrs["notes"])


# ------------------------------------------------------------------------------------------------
# Weights and missing data
# ------------------------------------------------------------------------------------------------
def test_weighted_correlation_matches_descrstatsw():
    rng = np.random.default_rng(12)
    Z = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4))
    w = rng.uniform(0.1, 5, size=50)
    W = np.stack([w, np.ones(50)])
    got = kd.correlation._weighted_corr(Z, W)
    np.testing.assert_allclose(got[0], DescrStatsW(Z, weights=w).corrcoef, atol=1e-12)
    np.testing.assert_allclose(got[1], np.corrcoef(Z, rowvar=False), atol=1e-12)


def test_pairwise_correlation_matches_pandas_and_descrstatsw():
    rng = np.random.default_rng(13)
    frame = pd.DataFrame(rng.normal(size=(60, 4)) @ rng.normal(size=(4, 4)), columns=list("abcd"))
    for col, k in zip("abc", [10, 15, 20]):
        frame.loc[rng.choice(60, k, replace=False), col] = np.nan
    Z = frame.to_numpy()
    np.testing.assert_allclose(kd.correlation._weighted_corr(Z, np.ones((1, 60)))[0], frame.corr().to_numpy(), atol=1e-12)
    w = rng.uniform(0.1, 5, size=60)
    got = kd.correlation._weighted_corr(Z, w[None])[0]
    both = frame[["a", "b"]].notna().all(axis=1).to_numpy()
    expected = DescrStatsW(Z[both][:, :2], weights=w[both]).corrcoef[0, 1]
    assert got[0, 1] == pytest.approx(expected, abs=1e-12)


def test_correlation_sums_in_blocks_of_rows(monkeypatch):
    """The pair sums are taken over blocks of rows (memory flat in the rows: a 2.5M-customer stage-importance
    table made a 1.3 GB product at once): blocks of 7 rows give pandas' pairwise correlations too."""
    rng = np.random.default_rng(14)
    frame = pd.DataFrame(rng.normal(size=(60, 4)) @ rng.normal(size=(4, 4)), columns=list("abcd"))
    frame.loc[rng.choice(60, 12, replace=False), "a"] = np.nan
    whole = kd.correlation._weighted_corr(frame.to_numpy(), np.ones((2, 60)))
    monkeypatch.setattr(kd.correlation, "_BUDGET", 7 * 16)
    blocks = kd.correlation._weighted_corr(frame.to_numpy(), np.ones((2, 60)))
    np.testing.assert_allclose(blocks[0], frame.corr().to_numpy(), atol=1e-12)
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-13)
    full = frame.dropna()  # no missing value: the other branch
    np.testing.assert_allclose(kd.correlation._weighted_corr(full.to_numpy(), np.ones((1, len(full))))[0], full.corr().to_numpy(),
                               atol=1e-12)


@pytest.mark.filterwarnings("ignore:VIF above")
@pytest.mark.parametrize("method", ["shapley", "relative_weights", "beta"])
def test_pairwise_equals_listwise_without_missing_data(method):
    frame = correlated(np.random.default_rng(14), 60, 4)
    names = ["x0", "x1", "x2", "x3"]
    w = np.random.default_rng(1).uniform(0.5, 2, size=60)
    listwise = key_drivers(frame, "y", names, method=method, weights=w)
    pairwise = key_drivers(frame, "y", names, method=method, weights=w, missing="pairwise")
    pd.testing.assert_frame_equal(listwise, pairwise, check_exact=False, rtol=1e-10)
    assert pairwise.attrs["n_min_pairwise"] == 60


def test_pairwise_shapley_uses_pairwise_complete_correlations():
    rng = np.random.default_rng(15)
    frame = correlated(rng, 300, 4)
    # stage surveys: each customer answered only some stages
    for col in ["x0", "x1", "x2", "x3"]:
        frame.loc[rng.uniform(size=300) < 0.35, col] = np.nan
    names = ["x0", "x1", "x2", "x3"]
    R = frame[[*names, "y"]].corr().to_numpy()
    result = key_drivers(frame, "y", names, missing="pairwise")
    np.testing.assert_allclose(by_driver(result, names)["importance"], population_lmg(R), rtol=1e-9)
    listwise = key_drivers(frame, "y", names)
    answered_any = frame[names].notna().any(axis=1).sum()
    assert listwise.attrs["n"] < result.attrs["n"] == answered_any


def test_pairwise_refuses_pairs_never_answered_together():
    rng = np.random.default_rng(16)
    frame = correlated(rng, 40, 3)
    frame.loc[:19, "x0"] = np.nan
    frame.loc[20:, "x1"] = np.nan
    with pytest.raises(ValueError, match="'x0'/'x1'"):
        key_drivers(frame, "y", ["x0", "x1", "x2"], missing="pairwise")


# ------------------------------------------------------------------------------------------------
# Degenerate input
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", list(kd.METHODS))
def test_constant_and_empty_drivers_are_reported_not_crashed(method):
    frame = logistic_frame(30, n=120, p=3)
    frame["flat"] = 3.0
    frame["empty"] = np.nan
    target = "detractor" if method == "logistic" else "x2"
    names = ["x0", "flat", "x1", "empty"]
    result = key_drivers(frame, target, names, method=method)
    assert set(result["driver"]) == set(names)
    dropped = result.set_index("driver").loc[["flat", "empty"]]
    assert dropped[["importance", "share", "rank"]].isna().all().all()
    assert list(result["driver"][-2:]) == ["flat", "empty"]
    assert result.attrs["dropped"] == {"empty": "all missing", "flat": "no variance"}
    assert any("flat" in note for note in result.attrs["notes"])
    alone = key_drivers(frame, target, ["x0", "x1"], method=method)
    np.testing.assert_allclose(result["importance"][:2], alone["importance"], rtol=1e-10)


def test_driver_constant_after_listwise_deletion_is_dropped():
    frame = correlated(np.random.default_rng(17), 50, 3)
    frame["z"] = 1.0
    frame.loc[:4, "z"] = 2.0
    frame.loc[:4, "x0"] = np.nan
    result = key_drivers(frame, "y", ["x0", "x1", "z"])
    assert result.attrs["dropped"] == {"z": "no variance"}
    assert result.attrs["n"] == 45


def test_too_few_rows_and_bad_arguments_raise_clear_errors(swiss):
    with pytest.raises(ValueError, match="at least 7 usable rows"):
        key_drivers(swiss.head(6), "Fertility", SWISS_X)
    with pytest.raises(ValueError, match="Unknown method 'lasso'"):
        key_drivers(swiss, "Fertility", SWISS_X, method="lasso")
    with pytest.raises(ValueError, match="not in the data"):
        key_drivers(swiss, "Fertility", ["Nope"])
    with pytest.raises(ValueError, match="must hold numbers"):
        key_drivers(swiss, "Fertility", ["Province", "Education"])
    with pytest.raises(ValueError, match="Unknown missing"):
        key_drivers(swiss, "Fertility", SWISS_X, missing="mean")


def test_more_than_24_drivers_refused_with_advice():
    frame = correlated(np.random.default_rng(18), 40, 25)
    names = [f"x{j}" for j in range(25)]
    with pytest.raises(ValueError, match="relative_weights"):
        key_drivers(frame, "y", names)
    assert key_drivers(frame, "y", names, method="relative_weights")["share"].sum() == pytest.approx(1)


# ------------------------------------------------------------------------------------------------
# Bootstrap
# ------------------------------------------------------------------------------------------------
def test_bootstrap_intervals_are_reproducible_and_bracket_the_estimate(mtcars):
    first = key_drivers(mtcars, "mpg", MTCARS_X, bootstrap=300, seed=4)
    again = key_drivers(mtcars, "mpg", MTCARS_X, bootstrap=300, seed=4)
    other = key_drivers(mtcars, "mpg", MTCARS_X, bootstrap=300, seed=5)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["ci_low"], other["ci_low"])
    assert (first["ci_low"] < first["share"]).all() and (first["share"] < first["ci_high"]).all()
    assert first.attrs["bootstrap"] == 300 and first.attrs["ci"] == 0.95


def test_bootstrap_matches_explicit_resampling(mtcars):
    """The count-weight batches equal refitting on resampled rows drawn from the same multinomial counts."""
    B, n = 40, len(mtcars)
    result = key_drivers(mtcars, "mpg", MTCARS_X, method="relative_weights", bootstrap=B, seed=9, ci=0.8)
    counts = resample_counts(np.random.default_rng(9), n, B)
    assert (counts.sum(axis=1) == n).all()
    shares = [
        by_driver(
            key_drivers(mtcars.loc[mtcars.index.repeat(c)], "mpg", MTCARS_X, "relative_weights"), MTCARS_X
        )["share"]
        for c in counts
    ]
    low, high = np.quantile(np.array(shares), [0.1, 0.9], axis=0)
    np.testing.assert_allclose(by_driver(result, MTCARS_X)["ci_low"], low, rtol=1e-9)
    np.testing.assert_allclose(by_driver(result, MTCARS_X)["ci_high"], high, rtol=1e-9)


def test_bootstrap_logistic_runs_with_weights():
    frame = logistic_frame(31, n=200, p=3)
    w = np.random.default_rng(3).uniform(0.5, 2, size=200)
    result = key_drivers(frame, "detractor", ["x0", "x1", "x2"], method="logistic", weights=w, bootstrap=20)
    assert (result["ci_low"] <= result["ci_high"]).all()


@pytest.mark.parametrize("method", ["shapley", "relative_weights"])
def test_bootstrap_interval_coverage_near_nominal(method):
    """Over repeated samples from a known population, the 80% intervals cover the true shares ~80%."""
    R = np.array(
        [
            [1.0, 0.3, 0.2, 0.50],
            [0.3, 1.0, 0.4, 0.40],
            [0.2, 0.4, 1.0, 0.25],
            [0.50, 0.40, 0.25, 1.0],
        ]
    )
    truth_imp = population_lmg(R) if method == "shapley" else johnson_population(R)
    truth = truth_imp / truth_imp.sum()
    L = np.linalg.cholesky(R)
    rng = np.random.default_rng(2024)
    hits, reps = [], 120
    for rep in range(reps):
        sample = pd.DataFrame(rng.normal(size=(250, 4)) @ L.T, columns=["a", "b", "c", "y"])
        out = by_driver(
            key_drivers(sample, "y", ["a", "b", "c"], method, bootstrap=200, seed=rep, ci=0.8), list("abc")
        )
        hits.append((out["ci_low"] <= truth) & (truth <= out["ci_high"]))
    coverage = np.mean(hits)
    assert 0.72 <= coverage <= 0.88, coverage


def johnson_population(R: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(R[:-1, :-1])
    root = V @ np.diag(np.sqrt(lam)) @ V.T
    b = np.linalg.solve(root, R[:-1, -1])
    return root**2 @ b**2


# ------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:VIF above")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    p=st.integers(2, 6),
    method=st.sampled_from(["shapley", "relative_weights", "beta"]),
    scale=st.floats(0.001, 1000) | st.floats(-1000, -0.001),
    shift=st.floats(-100, 100),
)
def test_properties_sum_row_order_and_rescaling(seed, p, method, scale, shift):
    rng = np.random.default_rng(seed)
    frame = correlated(rng, 30 + 5 * p, p)
    names = [f"x{j}" for j in range(p)]
    base = by_driver(key_drivers(frame, "y", names, method=method), names)
    assert base["share"].sum() == pytest.approx(1.0, abs=1e-12)
    if method != "beta":
        assert base["importance"].sum() == pytest.approx(wls_r2(frame, "y", tuple(names), None), rel=1e-8)
    shuffled = frame.sample(frac=1.0, random_state=seed)
    np.testing.assert_allclose(
        by_driver(key_drivers(shuffled, "y", names, method=method), names)["share"],
        base["share"],
        rtol=1e-8,
        atol=1e-12,
    )
    rescaled = frame.assign(x0=frame["x0"] * scale + shift)
    moved = by_driver(key_drivers(rescaled, "y", names, method=method), names)
    np.testing.assert_allclose(moved["share"], base["share"], rtol=1e-7, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# Priority matrix and performance
# ------------------------------------------------------------------------------------------------
def hand_drivers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver": ["price", "speed", "staff", "app", "parking"],
            "importance": [0.30, 0.20, 0.10, 0.05, np.nan],
            "share": [0.46, 0.31, 0.15, 0.08, np.nan],
            "rank": [1.0, 2.0, 3.0, 4.0, np.nan],
        }
    )


def test_priority_matrix_median_split():
    perf = pd.Series({"price": 6.0, "speed": 8.5, "staff": 9.0, "app": 5.0, "parking": 7.0})
    out = priority_matrix(hand_drivers(), perf, quadrant_names=LABELS)
    assert list(out.columns) == ["driver", "share", "performance", "quadrant", "quadrant_label"]
    # medians over the four drivers with a share: share (0.31+0.15)/2, performance (6+8.5)/2
    assert out.attrs["x_split"] == pytest.approx(0.23)
    assert out.attrs["y_split"] == pytest.approx(7.25)
    got = dict(zip(out["driver"], out["quadrant"]))
    assert got["price"] == "high_importance_low_performance"
    assert got["speed"] == "high_importance_high_performance"
    assert got["staff"] == "low_importance_high_performance"
    assert got["app"] == "low_importance_low_performance"
    assert pd.isna(got["parking"])
    assert dict(zip(out["driver"], out["quadrant_label"]))["price"] == "Fix first"
    assert set(out["quadrant"].dropna()) <= set(QUADRANTS)


def test_priority_matrix_explicit_split_and_validation():
    perf = pd.Series({"price": 6.0, "speed": 8.5, "staff": 9.0, "app": 5.0})
    out = priority_matrix(hand_drivers(), perf, split={"x": 0.1, "y": 8.5}, quadrant_names=LABELS)
    got = dict(zip(out["driver"], out["quadrant"]))
    assert got["staff"] == "high_importance_high_performance"  # equal to the cut counts as high
    assert got["app"] == "low_importance_low_performance"
    assert got["price"] == "high_importance_low_performance"
    assert (out.attrs["x_split"], out.attrs["y_split"]) == (0.1, 8.5)
    with pytest.raises(ValueError, match="high_importance_high_performance"):
        priority_matrix(hand_drivers(), perf, quadrant_names={"high_importance_low_performance": "x"})
    with pytest.raises(ValueError, match="split"):
        priority_matrix(hand_drivers(), perf, split="tertile", quadrant_names=LABELS)


def test_priority_matrix_from_key_drivers_output(swiss):
    result = key_drivers(swiss, "Fertility", SWISS_X)
    perf = performance(swiss, SWISS_X)
    out = priority_matrix(result, perf, quadrant_names=LABELS)
    high = out["share"] >= out["share"].median()
    assert out["quadrant"].str.startswith("high").tolist() == high.tolist()


def test_performance_mean_and_top_box_with_weights():
    frame = pd.DataFrame(
        {
            "q1": [10, 9, 6, np.nan, 8],
            "q2": ["Very good", "Good", "Poor", "Good", None],
            "w": [1.0, 2.0, 1.0, 4.0, 2.0],
        }
    )
    means = performance(frame, ["q1"])
    assert means["q1"] == pytest.approx((10 + 9 + 6 + 8) / 4)
    assert means.attrs["unit"] == "mean" and means.attrs["n"] == {"q1": 4}
    weighted = performance(frame, ["q1"], weights="w")
    assert weighted["q1"] == pytest.approx((10 * 1 + 9 * 2 + 6 * 1 + 8 * 2) / 6)
    top = performance(frame, ["q1", "q2"], good=[9, 10, "Very good", "Good"], weights="w")
    assert top["q1"] == pytest.approx(100 * 3 / 6)
    assert top["q2"] == pytest.approx(100 * 7 / 8)
    assert top.attrs["unit"] == "%"
    with pytest.raises(ValueError, match="must hold numbers"):
        performance(frame, ["q2"])


def test_bootstrap_rows_rescaled_interval_matches_full_bootstrap():
    """m-out-of-n bootstrap with sqrt(m/n) rescaling gives intervals of about the full bootstrap's width."""
    frame = correlated(np.random.default_rng(77), 40_000, 4)
    names = [f"x{j}" for j in range(4)]
    full = by_driver(key_drivers(frame, "y", names, bootstrap=100, seed=1), names)
    sub = by_driver(key_drivers(frame, "y", names, bootstrap=100, seed=1, bootstrap_rows=4_000), names)
    np.testing.assert_allclose(sub["share"], full["share"])
    ratio = (sub["ci_high"] - sub["ci_low"]) / (full["ci_high"] - full["ci_low"])
    assert ratio.between(0.6, 1.6).all(), ratio
    assert ((sub["ci_low"] < sub["share"]) & (sub["share"] < sub["ci_high"])).all()


# ------------------------------------------------------------------------------------------------
# Independent checks on other real datasets (statsmodels' and scikit-learn's bundled data)
# ------------------------------------------------------------------------------------------------
def real_case(name: str) -> tuple[pd.DataFrame, str, list[str]]:
    """(data, target, drivers) from bundled public datasets: collinear macro series (longley), tiny n
    (stackloss, cpunish: 8 rows for 6 drivers), 1-7 ordinal survey scales (ANES 1996), integer survey
    answers on 6,366 rows (Fair), standardized clinical measures (diabetes)."""
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        frame = load_diabetes(as_frame=True).frame
        return frame, "target", [c for c in frame.columns if c != "target"]
    load = {
        "longley": ("longley", "TOTEMP", None),
        "stackloss_1": ("stackloss", "STACKLOSS", ["AIRFLOW"]),
        "stackloss_2": ("stackloss", "STACKLOSS", ["AIRFLOW", "WATERTEMP"]),
        "stackloss_3": ("stackloss", "STACKLOSS", None),
        "cpunish_n8": ("cpunish", "EXECUTIONS", None),
        "anes96": ("anes96", "DoleLR", ["popul", "TVnews", "selfLR", "ClinLR", "PID", "age", "educ", "income"]),
        "fair": ("fair", "affairs", None),
    }[name]
    frame = getattr(sm.datasets, load[0]).load_pandas().data
    if name == "cpunish_n8":
        frame = frame.iloc[:8].reset_index(drop=True)
    cols = load[2] or [c for c in frame.columns if c != load[1]]
    return frame, load[1], cols


REAL_CASES = ["longley", "stackloss_1", "stackloss_2", "stackloss_3", "cpunish_n8", "anes96", "fair", "diabetes"]


@pytest.mark.filterwarnings("ignore:VIF above")
@pytest.mark.parametrize("name", REAL_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_correlation_methods_on_real_datasets(name, weighted):
    frame, target, cols = real_case(name)
    w = np.random.default_rng(len(name)).uniform(0.2, 4.0, len(frame)) if weighted else None
    ww = np.ones(len(frame)) if w is None else w
    # LMG: all 2^p subsets fitted with statsmodels WLS on the raw data
    got = by_driver(key_drivers(frame, target, cols, weights=w), cols)
    ref = brute_shapley(lambda S: wls_r2(frame, target, S, ww), cols)
    np.testing.assert_allclose(got["importance"], ref, atol=1e-9)
    assert got.attrs["r2"] == pytest.approx(wls_r2(frame, target, tuple(cols), ww), abs=1e-9)
    # Johnson's relative weights from the SVD of the weighted z-scores
    got = by_driver(key_drivers(frame, target, cols, method="relative_weights", weights=w), cols)
    np.testing.assert_allclose(got["importance"], johnson_weights_svd(frame, target, cols, ww), atol=1e-9)
    # standardized betas: WLS on z-scores; VIF from statsmodels (unweighted)
    got = by_driver(key_drivers(frame, target, cols, method="beta", weights=w), cols)
    d = DescrStatsW(frame[[*cols, target]].to_numpy(float), weights=ww)
    Z = (frame[[*cols, target]].to_numpy(float) - d.mean) / d.std
    beta = sm.WLS(Z[:, -1], sm.add_constant(Z[:, :-1]), weights=ww).fit().params[1:]
    np.testing.assert_allclose(got["importance"], beta, atol=1e-8)
    if w is None:
        X = sm.add_constant(frame[cols].to_numpy(float))
        vif = [variance_inflation_factor(X, j + 1) for j in range(len(cols))]
        np.testing.assert_allclose(got["vif"], vif, rtol=1e-8)


@pytest.mark.slow
def test_twenty_drivers_on_star98_match_one_solve_per_subset():
    """20 collinear school-district predictors (STAR98, with interaction terms): every one of the 2^20
    subset R² by a direct linear solve on the correlation matrix, then the Shapley subset formula."""
    st98 = sm.datasets.star98.load_pandas().data
    st98["rate"] = st98["NABOVE"] / (st98["NABOVE"] + st98["NBELOW"])
    cols = [c for c in st98.columns if c not in ("NABOVE", "NBELOW", "rate")]
    p = len(cols)
    assert p == 20
    got = by_driver(key_drivers(st98, "rate", cols), cols)["importance"].to_numpy()
    R = np.corrcoef(st98[[*cols, "rate"]].to_numpy(float), rowvar=False)
    v = np.zeros(2**p)
    for s in range(1, p + 1):
        subsets = np.array(list(combinations(range(p), s)))
        masks = (1 << subsets).sum(axis=1)
        for start in range(0, len(subsets), 20000):
            c = subsets[start : start + 20000]
            rxy = R[c, -1]
            sol = np.linalg.solve(R[c[:, :, None], c[:, None, :]], rxy[..., None])[..., 0]
            v[masks[start : start + 20000]] = np.einsum("ki,ki->k", rxy, sol)
    size = np.bitwise_count(np.arange(2**p, dtype=np.uint64)).astype(int)
    weight = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)])
    masks = np.arange(2**p)
    ref = np.empty(p)
    for j in range(p):
        out = masks[(masks >> j) & 1 == 0]
        ref[j] = (weight[size[out]] * (v[out | (1 << j)] - v[out])).sum()
    np.testing.assert_allclose(got, ref, atol=1e-10)


def test_pairwise_weighted_on_survey_data_with_holes():
    """ANES 1996 scales with a quarter of each driver blanked: every pairwise-complete weighted correlation
    from DescrStatsW, then LMG by one solve per subset; listwise equals the complete-case computation."""
    anes = sm.datasets.anes96.load_pandas().data
    cols = ["TVnews", "selfLR", "ClinLR", "PID", "educ", "income"]
    rng = np.random.default_rng(3)
    df = anes[[*cols, "DoleLR"]].astype(float)
    for c in cols:
        df.loc[rng.random(len(df)) < 0.25, c] = np.nan
    w = rng.uniform(0.2, 4, len(df))
    names = [*cols, "DoleLR"]
    R = np.eye(len(names))
    for i, j in combinations(range(len(names)), 2):
        ok = (df[names[i]].notna() & df[names[j]].notna()).to_numpy()
        R[i, j] = R[j, i] = DescrStatsW(df.loc[ok, [names[i], names[j]]].to_numpy(), weights=w[ok]).corrcoef[0, 1]
    got = by_driver(key_drivers(df, "DoleLR", cols, weights=w, missing="pairwise"), cols)
    np.testing.assert_allclose(got["importance"], population_lmg(R), atol=1e-12)
    complete = df.notna().all(axis=1).to_numpy()
    got = by_driver(key_drivers(df, "DoleLR", cols, weights=w), cols)
    ref = population_lmg(DescrStatsW(df[complete].to_numpy(), weights=w[complete]).corrcoef)
    np.testing.assert_allclose(got["importance"], ref, atol=1e-12)
    assert got.attrs["n"] == int(complete.sum())


@pytest.mark.parametrize("weighted", [False, True])
def test_logistic_on_real_binary_targets(weighted):
    anes = sm.datasets.anes96.load_pandas().data
    spector = sm.datasets.spector.load_pandas().data
    for frame, target, cols in (
        (spector, "GRADE", ["GPA", "TUCE", "PSI"]),
        (anes, "vote", ["TVnews", "selfLR", "ClinLR", "educ", "income"]),
    ):
        w = np.random.default_rng(4).uniform(0.3, 3, len(frame)) if weighted else None
        got = by_driver(key_drivers(frame, target, cols, method="logistic", weights=w), cols)
        null = logit_llf(frame, target, (), w)

        def mcfadden(S, frame=frame, target=target, w=w, null=null):
            return 1 - logit_llf(frame, target, S, w) / null

        ref = brute_shapley(mcfadden, cols)
        np.testing.assert_allclose(got["importance"], ref, atol=1e-8)


def test_nullable_dtypes_equal_floats():
    frame, target, cols = real_case("anes96")
    frame = frame[[*cols, target]].copy()
    frame.loc[frame.index % 9 == 0, "educ"] = np.nan
    nullable = frame.astype({c: "Int64" for c in ("TVnews", "PID", "educ", "income")}).astype({target: "Float64"})
    for method in ("shapley", "relative_weights", "beta", "logistic"):
        t = target if method != "logistic" else "binary"
        a, b = (f.assign(binary=(frame[target] > 3).astype(int)) for f in (frame, nullable))
        if method == "logistic":
            b = b.astype({"binary": "Int64"})
        np.testing.assert_allclose(
            by_driver(key_drivers(b, t, cols, method=method), cols)["importance"],
            by_driver(key_drivers(a, t, cols, method=method), cols)["importance"],
            atol=1e-13,
        )


def test_bad_weights_and_empty_data_raise_data_error(mtcars):
    from cemkit.errors import DataError, InputError

    n = len(mtcars)
    cases = [
        ({"weights": np.r_[np.inf, np.ones(n - 1)]}, "infinite"),  # was: importance 0, share NaN, no error
        ({"weights": np.r_[-1.0, np.ones(n - 1)]}, "negative"),
        ({"weights": np.zeros(n)}, "No usable rows"),  # was: "0 drivers need at least 2 usable rows"
        ({"weights": pd.Series(1.0, index=range(100, 100 + n))}, "aligned on the data's index"),
    ]
    for kwargs, message in cases:
        with pytest.raises(DataError, match=message) as err:
            key_drivers(mtcars, "mpg", MTCARS_X, **kwargs)
        assert isinstance(err.value, InputError)
    with pytest.raises(DataError, match="no variance"):
        key_drivers(mtcars.assign(mpg=1.0), "mpg", MTCARS_X)
    with pytest.raises(DataError, match="at least 6 usable rows"):
        key_drivers(mtcars.iloc[:5], "mpg", MTCARS_X)


def test_driver_views_skip_a_stage_whose_nps_does_not_vary(auto_pack, demo_auto):
    """A stage where every customer gave the same score has nothing to explain: it is listed as skipped and
    the other stages are still modelled (the run goes on instead of stopping on that stage)."""
    from cemkit import views

    df = demo_auto.responses.copy()
    df.loc[df["stage"] == "delivery", "nps"] = 10.0
    table, meta = views.driver_views(df, auto_pack, "zh", bootstrap=0)["stage_drivers"]
    assert "delivery" in meta["facts"]["skipped_stages"]
    assert "delivery" not in set(table["stage"]) and table["stage"].nunique() >= 3


def test_read_responses_leaves_out_only_the_verbatims(tmp_path, demo_auto):
    """The notebooks that need no comments read the run's clean table without that column, and nothing else
    is lost."""
    from cemkit import views

    (tmp_path / "data").mkdir()
    demo_auto.responses.to_parquet(tmp_path / "data" / "responses.parquet", index=False)
    full = views.read_responses(tmp_path)
    slim = views.read_responses(tmp_path, comments=False)
    assert "comment" in full and "comment" not in slim
    pd.testing.assert_frame_equal(slim, full.drop(columns="comment"))
