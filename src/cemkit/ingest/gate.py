"""The privacy gate: every text value ingest passes on — to the clean table, the quarantine, the accounting,
and from there to every notebook, result, deliverable and log — goes through here once.

* Text columns of the clean work state (comment, segments such as dealer or region, wave, stage label,
  touchpoint, any other text field): control characters cleaned (:func:`cemkit.privacy.clean_controls`:
  a comment keeps its line breaks, a label becomes one line) and personal data masked
  (:func:`cemkit.privacy.mask_text`, licence plates when the pack or mapping says so). A dealer named
  ``厦门湖里店（店长13911112222）`` reaches the deck as ``厦门湖里店（店长139****2222）``.
* Id columns (``response_id``, ``customer_id``, and the O-data key): an id that holds personal data — a
  mobile number, an ID number, an e-mail — is replaced by its pseudonym (:func:`cemkit.privacy.pseudonym`,
  a keyed hash), the same in the survey and in the O-data, so joins and de-duplication still work; other
  ids are kept as they are.
* The quarantine's details and raw rows are masked where they are built (:mod:`cemkit.ingest.quality`);
  the accounting's texts (stage labels, headers, notes that quote a cell) by :func:`mask_strings`; an
  error message that quotes a cell by :func:`cemkit.ingest.flow.prepare`.

Counts: ``accounting["masked"]`` (per kind, every gated column, all input rows), ``masked_by_column``
(per column, per kind) and ``pseudonymised`` (per id column, values replaced).

Fields with ``pii: true`` (phone, name) never enter the clean table; ``keep_pii`` in the mapping is the only
way one reaches an output: the contacts table the work orders read (see :mod:`cemkit.ingest.flow`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import privacy
from ..arrowtext import arrow
from .clean import _Work

#: id columns: pseudonymised when a value holds personal data
ID_FIELDS = ("response_id", "customer_id")
#: text columns of the work state that hold no client text: the stage ids come from the pack
NOT_CLIENT_TEXT = ("stage",)


def gate(w: _Work) -> dict[str, Any]:
    """Clean and mask every text column of ``w.clean`` in place; return the counts (see the module
    docstring). Runs after the columns are cleaned and stage labels matched, before any row check builds
    a detail from them."""
    by_column: dict[str, dict[str, int]] = {}
    total: dict[str, int] = {}
    pseudonymised: dict[str, int] = {}
    for fid, col in list(w.clean.items()):
        if not isinstance(col, pd.Series) or not (isinstance(col.dtype, pd.StringDtype) or col.dtype == object):
            continue
        if fid in NOT_CLIENT_TEXT:
            continue
        if fid in ID_FIELDS:
            w.clean[fid], n = privacy.pseudonymise(col, controls="label")
            if n:
                pseudonymised[fid] = n
            continue
        if fid == "comment":
            w.clean[fid], counts = privacy.mask_text(col, plates=w.plates, controls="text")
        else:
            w.clean[fid], counts = _mask_labels(col, w.plates)
        for kind, k in counts.items():
            total[kind] = total.get(kind, 0) + k
        if any(counts.values()):
            by_column[fid] = {k: v for k, v in counts.items() if v}
    kinds = privacy.KINDS if w.plates else tuple(k for k in privacy.KINDS if k != "plate")
    return {"masked": {k: int(total.get(k, 0)) for k in kinds}, "masked_by_column": by_column,
            "pseudonymised": pseudonymised}


def _mask_labels(col: pd.Series, plates: bool) -> tuple[pd.Series, dict[str, int]]:
    """:func:`cemkit.privacy.mask_text` on a column of labels (a dealer, a region, a wave: few distinct
    values) through its distinct values: one dictionary encoding instead of a scan of every row; the counts
    are still per occurrence."""
    d = pc.dictionary_encode(arrow(col))
    if isinstance(d, pa.ChunkedArray):
        d = d.combine_chunks()
    uniq = d.dictionary.to_pandas().astype("str")
    masked, _ = privacy.mask_text(uniq, plates=plates, controls="label")
    changed = np.flatnonzero((masked != uniq).to_numpy(dtype=bool, na_value=False))
    if not changed.size:
        return col, {}
    freq = np.bincount(np.asarray(pc.drop_null(d.indices).to_numpy()), minlength=len(uniq))
    counts: dict[str, int] = {}
    for i in changed:  # per-value counts for the few values that changed, times how often each occurs
        _, c = privacy.mask_text(uniq.iloc[[i]], plates=plates)
        for kind, k in c.items():
            counts[kind] = counts.get(kind, 0) + k * int(freq[i])
    out = pa.array(masked.to_numpy(dtype=object, na_value=None), pa.large_string()).take(d.indices).to_pandas()
    out.index = col.index
    return out.astype("str"), counts


def mask_strings(obj: Any) -> Any:
    """Every string in a JSON-like structure (keys too) masked for every kind: the accounting quotes stage
    labels, headers and words from the data."""
    found: list[str] = []

    def collect(o: Any) -> None:
        if isinstance(o, str):
            found.append(o)
        elif isinstance(o, dict):
            for k, v in o.items():
                collect(k)
                collect(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                collect(v)

    collect(obj)
    if not found:
        return obj
    distinct = list(dict.fromkeys(found))
    masked, _ = privacy.mask_text(pd.Series(distinct, dtype="str"), plates=True, controls="text")
    repl = {a: b for a, b in zip(distinct, masked.tolist()) if a != b}
    if not repl:
        return obj

    def rebuild(o: Any) -> Any:
        if isinstance(o, str):
            return repl.get(o, o)
        if isinstance(o, dict):
            return {rebuild(k): rebuild(v) for k, v in o.items()}
        if isinstance(o, list):
            return [rebuild(v) for v in o]
        if isinstance(o, tuple):
            return tuple(rebuild(v) for v in o)
        return o

    return rebuild(obj)
