"""Why a silent customer is at risk (:mod:`cemkit.predict`): each feature's contribution to the chosen model's
risk and the customer's top reasons as "name=value".

For the logistic model a feature's contribution is coefficient × standardised value (log-odds, relative to the
average customer; one-hot columns summed per feature); for the boosting model, the change in predicted risk when
that feature is set to its median (mode for a category) in the labelled data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["contributions", "reasons", "value_text"]


def _column_map(pipe: Any, num: list[str], cat: list[str]) -> np.ndarray:
    """Matrix (model columns × original features) that sums one-hot columns back to their feature."""
    enc = pipe.named_steps["prep"].named_transformers_.get("cat")
    owners = list(range(len(num)))
    if cat:
        for j, cats in enumerate(enc.categories_):
            owners += [len(num) + j] * len(cats)
    m = np.zeros((len(owners), len(num) + len(cat)))
    m[np.arange(len(owners)), owners] = 1.0
    return m


def contributions(name: str, pipe: Any, X: pd.DataFrame, ref: pd.DataFrame, num: list[str],
                   cat: list[str]) -> np.ndarray:
    """Per-customer, per-feature contribution to the risk (see the module docstring). Vectorised over
    customers; loops over features only (boosting)."""
    if name == "logistic":
        z = pipe[:-1].transform(X)
        coef = pipe.named_steps["model"].coef_[0]
        return (z * coef) @ _column_map(pipe, num, cat)
    base = pipe.predict_proba(X)[:, 1]
    out = np.empty((len(X), len(num) + len(cat)))
    for j, f in enumerate(num + cat):
        typical = ref[f].median() if f in num else ref[f].mode().iloc[0]
        out[:, j] = base - pipe.predict_proba(X.assign(**{f: typical}))[:, 1]
    return out


def value_text(X: pd.DataFrame, num: list[str]) -> np.ndarray:
    """Display value of each feature per customer (integers without decimals), as an object matrix."""
    cols = []
    for f in X.columns:
        s = X[f]
        if f in num:
            integral = bool(((s.dropna() % 1) == 0).all())
            s = s.round(0).astype("Int64").astype("string") if integral else s.round(2).astype("string")
        cols.append(s.astype("string").fillna("–").to_numpy(dtype=object))
    return np.column_stack(cols) if cols else np.empty((len(X), 0), dtype=object)


def reasons(contrib: np.ndarray, values: np.ndarray, names: list[str], sep: str, k: int = 3) -> np.ndarray:
    """The ``k`` largest positive contributions per customer as "name=value" joined by ``sep``."""
    n = contrib.shape[0]
    out = np.full(n, "", dtype=object)
    if n == 0 or contrib.shape[1] == 0:
        return out
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    rows = np.arange(n)
    labels = np.array(names, dtype=object)
    for i in range(order.shape[1]):  # a loop over the k reason slots, not customers
        j = order[:, i]
        part = labels[j] + "=" + values[rows, j]
        take = contrib[rows, j] > 0
        out = np.where(take, np.where(out == "", part, out + sep + part), out)
    return out
