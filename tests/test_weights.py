"""Tests for cemkit.weights: raking against the tips.csv reference (shared/reference/README.md) and Kish."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cemkit.errors import InputError
from cemkit.weights import kish, normalise_margins, rake

DATA = Path(__file__).parent / "data"
MARGINS = {
    "sex": {"Female": 0.50, "Male": 0.50},
    "smoker": {"No": 0.60, "Yes": 0.40},
    "day": {"Thur": 0.25, "Fri": 0.10, "Sat": 0.35, "Sun": 0.30},
}


@pytest.fixture(scope="module")
def tips() -> pd.DataFrame:
    return pd.read_csv(DATA / "tips.csv")


@pytest.fixture(scope="module")
def tips_w(tips) -> pd.Series:
    return rake(tips, MARGINS, tol=1e-13)


def test_rake_reproduces_reference_values(tips, tips_w):
    w = tips_w
    assert w.min() == pytest.approx(0.677370, abs=5e-7)
    assert w.max() == pytest.approx(1.708218, abs=5e-7)
    assert w.round(9).nunique() == 16
    assert np.average(tips["tip"], weights=w) == pytest.approx(2.969371, abs=5e-7)
    assert np.average(tips["total_bill"], weights=w) == pytest.approx(19.438314, abs=5e-7)
    k = kish(w)
    assert k["n"] == 244
    assert k["deff"] == pytest.approx(1.098367, abs=5e-7)
    assert k["n_eff"] == pytest.approx(222.148, abs=5e-4)
    assert k["efficiency"] == pytest.approx(0.9104, abs=5e-5)


def test_rake_hits_every_margin_and_mean_one(tips, tips_w):
    assert tips_w.mean() == pytest.approx(1.0, abs=1e-12)
    assert tips_w.index.equals(tips.index)
    for var, targets in MARGINS.items():
        shares = tips_w.groupby(tips[var]).sum() / tips_w.sum()
        for cat, p in targets.items():
            assert shares[cat] == pytest.approx(p, abs=1e-12)
    assert tips_w.attrs["iterations"] > 1 and tips_w.attrs["max_gap"] < 1e-13


def test_rake_agrees_with_independent_calibration(tips, tips_w):
    """Raking ratio = calibration with w_i = exp(x_i'λ); solve for λ by Newton's method (no IPF)."""
    cols = []
    for var, targets in MARGINS.items():
        cats = list(targets)[1:]  # drop one level per variable (the intercept carries it)
        cols += [(tips[var] == c).to_numpy(float) for c in cats]
    X = np.column_stack([np.ones(len(tips)), *cols])
    totals = np.array(
        [len(tips)] + [len(tips) * MARGINS[v][c] for v in MARGINS for c in list(MARGINS[v])[1:]]
    )
    lam = np.zeros(X.shape[1])
    for _ in range(100):
        w = np.exp(X @ lam)
        grad = X.T @ w - totals
        lam -= np.linalg.solve(X.T @ (X * w[:, None]), grad)
        if np.abs(grad).max() < 1e-12:
            break
    w = np.exp(X @ lam)
    np.testing.assert_allclose(tips_w.to_numpy(), w / w.mean(), atol=1e-10)


def test_rake_agrees_with_weightipy_when_installed(tips, tips_w):
    wp = pytest.importorskip("weightipy")
    scheme = wp.scheme_from_dict({v: {c: 100 * p for c, p in t.items()} for v, t in MARGINS.items()})
    other = wp.weight(tips, scheme)
    np.testing.assert_allclose(tips_w.to_numpy(), (other / other.mean()).to_numpy(), atol=1e-6)


def test_percentages_and_numeric_keys_are_accepted():
    df = pd.DataFrame({"g": ["1", "2", "2", "2"]})
    w = rake(df, {"g": {1: 50, 2: 50}})
    assert w.tolist() == pytest.approx([2.0, 2 / 3, 2 / 3, 2 / 3])


def test_rake_problems_are_listed_together(tips):
    bad = {
        "sex": {"Female": 1.0},  # Male has no target
        "smoker": {"No": 0.6, "Yes": 0.3, "Maybe": 0.1},  # Maybe: nobody has it
        "weekday": {"Mon": 1.0},  # not a column
        "day": {"Thur": 0.7, "Fri": 0.7, "Sat": 0.1, "Sun": 0.1},  # adds up to 1.6
    }
    with pytest.raises(InputError) as exc:
        rake(tips, bad)
    msg = str(exc.value)
    assert "no target for 'Male'" in msg
    assert "'Maybe', which no row has" in msg
    assert "'weekday' is not a column" in msg
    assert "add up to 1.6" in msg


def test_rake_missing_values_and_no_convergence():
    df = pd.DataFrame({"a": ["x", None, "y"]})
    with pytest.raises(InputError, match="1 row\\(s\\) have no 'a' value"):
        rake(df, {"a": {"x": 0.5, "y": 0.5}})
    # x only ever appears with p, y with q: margins a and b contradict each other
    df = pd.DataFrame({"a": ["x", "x", "y"], "b": ["p", "p", "q"]})
    with pytest.raises(InputError, match="did not converge"):
        rake(df, {"a": {"x": 0.5, "y": 0.5}, "b": {"p": 0.9, "q": 0.1}}, max_iter=50)


def test_normalise_margins():
    m, problems = normalise_margins({"r": {"华东": 30, "华南": 70}})
    assert m == {"r": {"华东": 0.3, "华南": 0.7}} and problems == []
    assert normalise_margins({})[1]


def test_kish_edge_cases():
    assert kish(np.ones(10)) == {"n": 10, "n_eff": 10.0, "deff": 1.0, "efficiency": 1.0}
    assert kish([])["n"] == 0
    k = kish([1.0, np.nan, 3.0, 0.0])  # NaN and 0 are not weights
    assert k["n"] == 2 and k["n_eff"] == pytest.approx(16 / 10)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=60))
def test_kish_properties(ws):
    k = kish(ws)
    assert 1 - 1e-9 <= k["deff"]
    assert 0 < k["n_eff"] <= k["n"] + 1e-9
    assert k["efficiency"] == pytest.approx(k["n_eff"] / k["n"])
    assert kish(np.asarray(ws) * 7.5)["n_eff"] == pytest.approx(k["n_eff"])  # scale-free


def calibrate(X: np.ndarray, totals: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Raking-ratio calibration w = base·exp(Xλ) hitting ``totals`` (Newton's method, no IPF)."""
    lam = np.zeros(X.shape[1])
    for _ in range(200):
        w = base * np.exp(X @ lam)
        grad = X.T @ w - totals
        if np.abs(grad).max() < 1e-10:
            break
        lam -= np.linalg.solve(X.T @ (X * w[:, None]), grad)
    return base * np.exp(X @ lam)


def test_rake_on_anes96_with_base_weights_matches_calibration():
    """944 ANES 1996 voters, margins on party id (7 levels), education (7) and vote (2) with integer
    categories, starting from unequal design weights."""
    sm = pytest.importorskip("statsmodels.api")
    anes = sm.datasets.anes96.load_pandas().data
    df = pd.DataFrame({v: anes[v].astype(int) for v in ("PID", "educ", "vote")})
    rng = np.random.default_rng(7)
    margins = {}
    for v in df.columns:
        cats = sorted(df[v].unique())
        share = rng.uniform(0.5, 1.5, len(cats))
        margins[v] = {int(c): s for c, s in zip(cats, share / share.sum())}  # int keys, int column
    base = rng.uniform(0.5, 2.0, len(df))
    w = rake(df, margins, tol=1e-12, base_weights=base)
    cols, totals = [np.ones(len(df))], [len(df)]
    for v, targets in margins.items():
        for c in list(targets)[1:]:
            cols.append((df[v] == c).to_numpy(float))
            totals.append(len(df) * targets[c])
    ref = calibrate(np.column_stack(cols), np.array(totals), base)
    np.testing.assert_allclose(w.to_numpy(), ref / ref.mean(), atol=1e-9)
    for v, targets in margins.items():
        shares = w.groupby(df[v]).sum() / w.sum()
        np.testing.assert_allclose(shares.loc[list(targets)].to_numpy(), list(targets.values()), atol=1e-11)
    k = kish(w)
    assert k["n_eff"] == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)


def test_kish_refuses_negative_and_infinite_weights():
    """A negative or infinite weight used to be dropped silently, changing n and n_eff."""
    for bad in ([1.0, -1.0, 2.0], [1.0, np.inf, 2.0]):
        with pytest.raises(InputError, match="negative or infinite"):
            kish(bad)
    assert kish([2.0, np.nan, 0.0, 2.0])["n_eff"] == 2.0  # missing and zero still mean "no weight"
