"""Data-quality views: the row accounting (input = used + quarantined) and its facts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import engine
from .. import metrics as m
from ..engine import Dataset
from ..i18n import t
from ..packs import Pack
from .common import Views, base_meta
from .waves import Waves, reporting_waves


def _total(value: Any) -> int:
    """A count, or the sum of a (nested) mapping of counts."""
    if isinstance(value, dict):
        return sum(_total(v) for v in value.values())
    return int(value) if isinstance(value, (int, float, np.integer)) and not isinstance(value, bool) else 0


def data_quality_views(prep, pack: Pack, lang: str, synthetic: bool = False, wave: str | None = None,
                       compare: str | None = None) -> Views:
    """Accounting table (input = used + quarantined, reasons, masking, O-data join, responses per wave) and
    its facts, with the reporting wave's (:func:`reporting_waves`: an unknown ``wave`` label stops the run
    here, before any analysis)."""
    acc = prep.accounting
    from ..i18n import catalogue

    cat = catalogue(lang)
    rows = [(t("input_rows", lang), acc["input_rows"]), (t("used_rows", lang), acc["used"]),
            (t("quarantined_rows", lang), acc["quarantined"])]
    rows += [(f"  {cat.get('q_' + reason, reason)}", count) for reason, count in (acc.get("by_reason") or {}).items()]
    for f in acc.get("files") or []:  # several input files: each one's accounting
        rows.append((t("dq_file_rows", lang, file=f["source"], used=f"{f['used']:,}", quarantined=f"{f['quarantined']:,}"),
                     f["input_rows"]))
    files = acc.get("files") or [acc]
    made = sum(int(f.get("input_rows") or 0) for f in files if f.get("response_id_made"))
    if made:  # no response id column: said on the data-quality page (issue 17)
        rows.append((cat.get("dq_response_id_made", "response_id_made"), made))
    for key in ("cells_blanked", "dates_unparsed", "durations_unparsed", "customer_id_missing", "wave_derived",
                "wave_missing", "straightliners"):
        value = _total(acc.get(key))
        if value:
            rows.append((cat.get(f"dq_{key}", key), int(value)))
    masked = acc.get("masked") or {}
    by_column = acc.get("masked_by_column") or {}
    sep = "：" if lang == "zh" else ": "
    for kind, count in masked.items():  # per kind, then the columns it was found in
        if count:
            rows.append((f"{cat['dq_masked']}{sep}{cat.get('dq_' + kind, kind)}", count))
            rows += [(f"  {_column_name(fid, pack, lang)}", kinds[kind]) for fid, kinds in by_column.items()
                     if kinds.get(kind)]
    for fid, count in (acc.get("pseudonymised") or {}).items():
        rows.append((f"{cat['dq_pseudonymised']}{sep}{_column_name(fid, pack, lang)}", count))
    for key, value in acc.items():
        if key.startswith("odata_") and isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((cat.get(f"dq_{key}", key), value))
    df = prep.responses  # a DataFrame, or a Dataset of the file the streaming ingest wrote
    waves = reporting_waves(df, wave, compare)
    if isinstance(df, Dataset):
        per_wave = engine.counts(df, ["wave"]) if "wave" in df else pd.DataFrame({"wave": [], "n": []})
        counts = pd.Series(per_wave["n"].to_numpy(), index=per_wave["wave"].astype("string"))
        n_wave = len(waves.rows(df))
    else:
        counts = df["wave"].astype("string").value_counts() if "wave" in df else pd.Series(dtype="int64")
        n_wave = int(waves.mask(df).sum())
    rows += [(t("dq_wave_rows", lang, wave=label), int(counts.get(label, 0))) for label in waves.labels]
    table = pd.DataFrame(rows, columns=["item", "count"])
    facts = {"input_rows": acc["input_rows"], "n_used": acc["used"], "quarantined": acc["quarantined"],
             "synthetic": synthetic, **waves.facts(), "n_wave": n_wave}
    facts["wave_low_base"] = facts["n_wave"] < pack.rules.suppress_below  # the summary warns: choose --wave
    meta = base_meta(df, pack, lang, facts=facts, **Waves(waves.labels, m.ALL, None).meta())
    meta.pop("base_rule", None)
    out: Views = {"data_quality": (table, meta)}
    reasons = pd.DataFrame(sorted((acc.get("by_reason") or {}).items()), columns=["reason", "count"])
    out["quarantine_reasons"] = (reasons, {"facts": {}})
    per_column = [(_column_name(fid, pack, lang), kind, n) for fid, kinds in by_column.items()
                  for kind, n in kinds.items()]
    out["masking"] = (pd.DataFrame(per_column, columns=["column", "kind", "count"]), {"facts": {}})
    return out


def _column_name(fid: str, pack: Pack, lang: str) -> str:
    """A clean-table column as the appendix names it: the segment's name (经销商), the standard field's name
    (评论 for ``comment``), else the field id."""
    from ..i18n import catalogue

    seg = next((s for s in pack.segments if s.id == fid), None)
    return getattr(seg.name, lang) if seg is not None else catalogue(lang).get(f"field_{fid}", fid)
