"""Operational data (O-data): read, aggregate per customer, join to the responses.

O-data (pack ``odata``)
-----------------------
Each file is read with :func:`read_table`. Its key column is ``odata.key`` (default ``customer_id``) or a
header matching that field's synonyms; feature columns are the pack's ``odata.features`` ids or names (or
``odata_columns`` in the mapping). A file with one row per customer is used as it is. A file where the key
repeats (visits, invoices) is aggregated by the rules in the pack:

.. code-block:: yaml

    odata:
      key: customer_id
      aggregate:                       # output feature: {from: source column, agg: ...}
        visits_12m: {from: visit_id, agg: count}          # non-missing values per customer
        spend_12m: {from: amount, agg: sum}               # numbers ("¥12,800" reads as 12800)
        last_service_date: {from: service_date, agg: max} # numbers or dates
        days_since_visit: {from: service_date, agg: days_since, as_of: 2024-12-31}

``agg`` is one of :data:`AGGREGATES` (count, sum, mean, min, max, nunique, first, last, days_since;
``days_since`` = days from the latest date to ``as_of``, default the latest date in that column). ``from``
defaults to the output name. A declared feature without a rule in such a file must be constant within a
customer. Files are joined on the key (outer); a feature in two files is an error. Numeric features are
converted to numbers. ``odata`` has one row per customer: the key, the declared features and aggregate
outputs present, and ``responded`` (the customer has a used response). Counted both ways:
``odata_matched_responses`` / ``odata_unmatched_responses`` (responses whose customer has / has no O-data
row) and ``odata_customers_without_response``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import privacy
from ..arrowtext import factorize
from ..errors import InputError, PackError, Problem
from ..packs import Pack
from .cells import _distinct, _key, _normalise_text, _strip_text, _take
from .clean import _clean_text_col
from .headers import _closest, normalise_header
from .mapping import ColumnMapping
from .readers import read_table
from .values import _clean_dates, parse_date, parse_score


def _agg_numeric(g: Any, col: str, how: str) -> pd.Series:
    return getattr(g[col], how)()


def _agg_days_since(df: pd.DataFrame, key: str, col: str, rule: dict) -> pd.Series:
    dates = df[col]
    as_of = pd.Timestamp(rule["as_of"]) if rule.get("as_of") else dates.max()
    return (as_of - dates.groupby(df[key], sort=False).max()).dt.days.astype(float)


#: O-data aggregation rules: ``agg`` name → fn(frame, key, source column, rule) → Series by key
AGGREGATES: dict[str, Callable[[pd.DataFrame, str, str, dict], pd.Series]] = {
    "count": lambda df, key, col, rule: df.groupby(key, sort=False)[col].count().astype(float),
    "sum": lambda df, key, col, rule: df.groupby(key, sort=False)[col].sum(min_count=1),
    "mean": lambda df, key, col, rule: df.groupby(key, sort=False)[col].mean(),
    "min": lambda df, key, col, rule: df.groupby(key, sort=False)[col].min(),
    "max": lambda df, key, col, rule: df.groupby(key, sort=False)[col].max(),
    "nunique": lambda df, key, col, rule: df.groupby(key, sort=False)[col].nunique().astype(float),
    "first": lambda df, key, col, rule: df.groupby(key, sort=False)[col].first(),
    "last": lambda df, key, col, rule: df.groupby(key, sort=False)[col].last(),
    "days_since": _agg_days_since,
}
_NUMERIC_AGGS = {"sum", "mean"}
_ORDER_AGGS = {"min", "max", "days_since"}


def _to_number(v: Any) -> float:
    """An O-data number: ``"¥12,800"`` → 12800, ``"3次"`` → 3; NaN when not a number."""
    t = _normalise_text(v)
    if t is None:
        return np.nan
    t = re.sub(r"[,，\s¥￥$元]|RMB|CNY", "", t)
    x = parse_score(t)
    return np.nan if x is None else x


def _numbers(s: pd.Series) -> pd.Series:
    codes, uniq = _distinct(s)
    return pd.Series(_take([_to_number(u) for u in uniq], codes, np.nan, float), index=s.index)


def _numbers_or_dates(s: pd.Series) -> pd.Series:
    """Dates when most distinct values read as dates, else numbers."""
    codes, uniq = _distinct(s)
    dates = [parse_date(u) for u in uniq]
    if uniq and sum(pd.notna(d) for d in dates) >= 0.8 * len(uniq):
        return _clean_dates(s)
    return pd.Series(_take([_to_number(u) for u in uniq], codes, np.nan, float), index=s.index)


def _odata_rules(pack: Pack) -> dict[str, dict[str, Any]]:
    spec = pack.odata or {}
    rules = spec.get("aggregate") or {}
    problems = []
    out = {}
    for name, rule in rules.items():
        rule = rule or {}
        if not isinstance(rule, dict) or rule.get("agg") not in AGGREGATES:
            problems.append(
                Problem("pack.yaml", f"odata.aggregate.{name}", f"needs agg: one of {', '.join(AGGREGATES)}")
            )
            continue
        out[str(name)] = {**rule, "from": str(rule.get("from", name))}
    if problems:
        raise PackError(problems)
    return out


def _odata_columns(
    table: pd.DataFrame, pack: Pack, mp: ColumnMapping, key: str, fname: str, rules: dict[str, dict]
) -> pd.DataFrame:
    """Rename an O-data file's headers to the key / feature ids / aggregate sources."""
    feats = (pack.odata or {}).get("features") or {}
    rename: dict[str, str] = {}
    for h in table.columns:
        if h in mp.odata_columns:
            rename[h] = mp.odata_columns[h]
    known: dict[str, str] = {}
    for fid, spec in feats.items():
        names = [fid]
        nm = (spec or {}).get("name")
        names += [nm.get("zh"), nm.get("en")] if isinstance(nm, dict) else [nm]
        for n in names:
            if n:
                known[_key(str(n))] = fid
    key_names = [key, *(pack.fields[key].synonyms if key in pack.fields else ())]
    for n in key_names:
        known.setdefault(_key(n), key)
    sources = {r["from"] for r in rules.values()}
    for h in table.columns:
        if h in rename or h in sources or h == key or h in feats:
            continue
        target = known.get(_key(h)) or known.get(normalise_header(h))
        if target and target not in rename.values() and target not in table.columns:
            rename[h] = target
    out = table.rename(columns=rename)
    if key not in out.columns:
        close = _closest(key, table.columns)
        raise InputError(
            f"{fname}: the O-data file has no key column {key!r} (looked for {', '.join(key_names[:4])})"
            + (f"; the closest header is {close!r}" if close else "")
            + "."
        )
    return out


def _read_odata(paths: list, pack: Pack, mp: ColumnMapping) -> tuple[pd.DataFrame, dict]:
    """Read, rename, aggregate and merge the O-data files into one row per customer (see the module
    docstring). Needs nothing from the survey, so :func:`prepare` runs it beside the survey's cleaning."""
    spec = pack.odata or {}
    key = str(spec.get("key", "customer_id"))
    feats: dict[str, Any] = dict(spec.get("features") or {})
    rules = _odata_rules(pack)
    acc: dict[str, Any] = {"odata_files": len(paths), "odata_rows_in": 0, "odata_rows_without_key": 0}
    unused: list[str] = []
    merged: pd.DataFrame | None = None
    origin: dict[str, str] = {}
    for p in paths:
        table = read_table(p)
        table.attrs = {}
        fname = Path(p).name
        acc["odata_rows_in"] += len(table)
        df = _odata_columns(table, pack, mp, key, fname, rules)
        df[key], n = privacy.pseudonymise(_strip_text(df[key]), controls="label")  # as the survey's ids
        acc["odata_pseudonymised"] = acc.get("odata_pseudonymised", 0) + n
        nokey = df[key].isna().to_numpy()
        acc["odata_rows_without_key"] += int(nokey.sum())
        df = df.loc[~nokey].reset_index(drop=True)
        applicable = {out: r for out, r in rules.items() if r["from"] in df.columns}
        (codes,), n_keys = factorize(df[key])
        repeats = n_keys < len(codes)
        wanted = [f for f in feats if f in df.columns and f not in applicable]
        unused += [
            f"{fname}:{h}"
            for h in df.columns
            if h != key and h not in feats and h not in {r["from"] for r in applicable.values()}
        ]
        for f in wanted:
            if (feats[f] or {}).get("kind") != "category":
                df[f] = _numbers(df[f])
            else:  # a category reaches the prediction's tables: through the privacy gate
                df[f] = privacy.mask_text(_clean_text_col(df[f]), plates=True, controls="label")[0]
        if repeats or applicable:
            parts: dict[str, pd.Series] = {}
            for out, r in applicable.items():
                src = df[r["from"]]
                if r["agg"] in _NUMERIC_AGGS:
                    src = _numbers(src)
                elif r["agg"] in _ORDER_AGGS:
                    src = _clean_dates(src) if r["agg"] == "days_since" else _numbers_or_dates(src)
                tmp = pd.DataFrame({key: df[key], "__v": src})
                parts[out] = AGGREGATES[r["agg"]](tmp, key, "__v", r)
            g = df.groupby(key, sort=False)
            varying = [f for f in wanted if repeats and len(df) and int(g[f].nunique(dropna=True).max()) > 1]
            if varying:
                raise InputError(
                    f"{fname}: {key} repeats and {', '.join(varying)} varies within a customer; declare "
                    f"how to combine it under odata.aggregate in the pack (e.g. {varying[0]}: "
                    "{agg: max})."
                )
            for f in wanted:
                parts[f] = g[f].first()
            per = pd.DataFrame(parts)
            per.index.name = key
            per = per.reset_index()
        else:
            per = df[[key, *wanted]]
        for f in per.columns:
            if f == key:
                continue
            if f in origin:
                raise InputError(
                    f"{fname}: O-data feature {f!r} is also in {origin[f]}; keep it in one file."
                )
            origin[f] = fname
        merged = per if merged is None else merged.merge(per, on=key, how="outer")
    assert merged is not None
    ordered = [key] + [f for f in [*feats, *rules] if f in merged.columns]
    merged = merged[list(dict.fromkeys(ordered))].reset_index(drop=True)
    merged[key] = merged[key].astype("str")
    acc["odata_unused_columns"] = unused
    return merged, acc


def _match_odata(merged: pd.DataFrame, acc: dict, pack: Pack, responses: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Which O-data customers answered the survey (``responded``) and how many responses found their customer."""
    key = str((pack.odata or {}).get("key", "customer_id"))
    resp_ids = responses["customer_id"].dropna() if "customer_id" in responses else pd.Series([], dtype="str")
    (od_codes, resp_codes), n_keys = factorize(merged[key], resp_ids)  # one hashing pass for both questions
    merged["responded"] = (np.bincount(resp_codes[resp_codes >= 0], minlength=n_keys + 1) > 0)[od_codes]
    matched = (np.bincount(od_codes[od_codes >= 0], minlength=n_keys + 1) > 0)[resp_codes]  # −1 → the empty slot
    acc.update(
        {
            "odata_customers": len(merged),
            "odata_matched_responses": int(matched.sum()),
            "odata_unmatched_responses": int((~matched).sum()),
            "odata_customers_without_response": int((~merged["responded"]).sum()),
        }
    )
    acc["odata_unused_columns"] = acc.pop("odata_unused_columns")  # keep the accounting's order of keys
    return merged, acc
