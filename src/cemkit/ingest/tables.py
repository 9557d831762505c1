"""The used rows of one file into the tables ingest returns (:mod:`cemkit.ingest.flow`): the clean response
table (:func:`_responses`), its weights (:func:`_weigh`), the kept contacts (:func:`_contacts`, phones by
:func:`clean_phone`) and the cell-level counts of the accounting (:func:`_notes`)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import weights as wt
from ..arrowtext import arrow
from .cells import _THREADS, _map_text, _nfkc, _series, _strip_text
from .clean import _Work
from .headers import DURATION


def _notes(w: _Work, used: np.ndarray) -> dict[str, Any]:
    """Cell-level counts over the used rows: blanked scores, unreadable dates, derived/missing waves."""
    count = {k: int((v & used).sum()) for k, v in w.flags.items()}
    blanked: dict[str, dict[str, int]] = {}
    for k, v in count.items():
        if k.startswith("blanked:") and v:
            _, fid, why = k.split(":")
            blanked.setdefault(fid, {})[why] = v
    return {
        "customer_id_missing": count.get("customer_id_missing", 0),
        "cells_blanked": blanked,
        "dates_unparsed": count.get("dates_unparsed", 0),
        **({"durations_unparsed": count["durations_unparsed"]} if "durations_unparsed" in count else {}),
        "wave_derived": count.get("wave_derived", 0),
        "wave_missing": count.get("wave_missing", 0),
        **({"phone_unreadable": count["phone_unreadable"]} if "phone_unreadable" in count else {}),
    }


def _responses(w: _Work, used: np.ndarray) -> pd.DataFrame:
    """The clean response table (contract order) for the used rows (columns subset on the thread pool)."""
    pk, c = w.pack, w.clean
    every = bool(used.all())
    keep = pa.array(used)

    def col(v: Any) -> Any:
        if isinstance(v, pd.Series):
            if every:
                return v.reset_index(drop=True)
            if isinstance(v.array, pd.arrays.ArrowStringArray):  # Arrow's filter: far cheaper than .iloc here
                return _series(arrow(v).filter(keep))
            return v[used].reset_index(drop=True)
        v = np.asarray(v)
        return v if every else np.compress(used, v)

    order = [
        "response_id",
        "customer_id",
        "wave",
        "date",
        "stage",
        *(["touchpoint"] if "touchpoint" in c else []),
        *pk.kpis,
        *pk.attributes,
        "comment",
        *(s for s in pk.segment_ids if s in c),
        *([DURATION] if DURATION in c else []),
        "straightliner",
    ]
    order += [
        f
        for f in c
        if f not in order and f not in ("stage_label", "weight") and f in pk.fields and not pk.fields[f].pii
    ]
    n_used = int(used.sum())
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        jobs = {k: pool.submit(col, c[k]) for k in order if k in c}
        data: dict[str, Any] = {
            k: jobs[k].result() if k in jobs else pd.Series(pd.NA, index=range(n_used), dtype="str")
            for k in order
        }
    for k in [*pk.kpis, *pk.attributes]:
        data[k] = np.asarray(data[k], dtype=float)
    data["weight"] = np.ones(n_used)
    return pd.DataFrame(data, copy=False)  # no block consolidation: a million rows × 30 floats is 0.2 s


def _weigh(w: _Work, responses: pd.DataFrame, used: np.ndarray) -> dict[str, Any]:
    """Fill ``responses.weight`` (mean 1) from the weight column or by raking; return the Kish summary."""
    mp = w.mapping
    method = "none"
    if "weight" in w.clean and w.clean["weight"] is not None and len(responses):
        x = np.asarray(w.clean["weight"])[used]
        responses["weight"] = x / x.mean()
        method = "column"
    elif (mp.weights or {}).get("rake") and len(responses):
        kw = {k: mp.weights[k] for k in ("max_iter", "tol") if k in mp.weights}
        r = wt.rake(responses, mp.weights["rake"], **kw)
        responses["weight"] = r.to_numpy()
        method = "rake"
    k = (
        wt.kish(responses["weight"])
        if len(responses)
        else {"n": 0, "n_eff": 0.0, "deff": None, "efficiency": None}
    )
    out = {"method": method, **k}
    if len(responses):
        out.update(min=float(responses["weight"].min()), max=float(responses["weight"].max()))
    return out


def _contacts(w: _Work, used: np.ndarray) -> pd.DataFrame | None:
    """Kept PII fields (``keep_pii``) of the used rows, by response and customer id."""
    keep = [f for f in w.mapping.keep_pii if f in w.cols]
    if not keep:
        return None
    data = {"response_id": w.clean["response_id"][used], "customer_id": w.clean["customer_id"][used]}
    for f in keep:
        col = _strip_text(w.raw[w.cols[f]])
        if f == "phone":
            phone = _map_text(col, clean_phone)
            w.flags["phone_unreadable"] = (col.notna() & phone.isna()).to_numpy()
            col = phone
        data[f] = col[used]
    return pd.DataFrame(data).reset_index(drop=True)


_PHONE_FLOAT = re.compile(r"^(\d)(?:\.(\d+))?[eE]\+?(\d{1,2})$")


def clean_phone(value: str | None) -> str | None:
    """A phone cell as digits: ``+86 138 0013 8000`` / ``0086-13800138000`` → ``13800138000``; a number a
    spreadsheet stored as a float, ``13800138000.0`` or ``1.3800138000e10``, back to its digits. A float that
    lost digits (``1.38E+10``) cannot be called: None. Anything else is returned as it is."""
    if value is None:
        return None
    s = _nfkc(str(value))
    m = _PHONE_FLOAT.match(s)
    if m:
        frac = m.group(2) or ""
        exp = int(m.group(3))
        return m.group(1) + frac if len(frac) == exp else None  # fewer digits: rounded away, unknowable
    s = re.sub(r"\.0+$", "", s)
    digits = re.sub(r"[\s\-()（）]", "", s)
    if re.fullmatch(r"(?:\+?86|0086)1[3-9]\d{9}", digits):
        return digits[-11:]
    return digits if re.fullmatch(r"\+?\d{5,15}", digits) else s
