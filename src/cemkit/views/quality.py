"""Data-quality views: the row accounting (input = used + quarantined) and its facts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..i18n import t
from ..packs import Pack
from .common import Views, base_meta, period_of


def _total(value: Any) -> int:
    """A count, or the sum of a (nested) mapping of counts."""
    if isinstance(value, dict):
        return sum(_total(v) for v in value.values())
    return int(value) if isinstance(value, (int, float, np.integer)) and not isinstance(value, bool) else 0


def data_quality_views(prep, pack: Pack, lang: str, synthetic: bool = False) -> Views:
    """Accounting table (input = used + quarantined, reasons, masking, O-data join) and its facts."""
    acc = prep.accounting
    from ..i18n import catalogue

    cat = catalogue(lang)
    rows = [(t("input_rows", lang), acc["input_rows"]), (t("used_rows", lang), acc["used"]),
            (t("quarantined_rows", lang), acc["quarantined"])]
    rows += [(f"  {cat.get('q_' + reason, reason)}", count) for reason, count in (acc.get("by_reason") or {}).items()]
    for key in ("cells_blanked", "dates_unparsed", "durations_unparsed", "customer_id_missing", "wave_derived",
                "wave_missing", "straightliners"):
        value = _total(acc.get(key))
        if value:
            rows.append((cat.get(f"dq_{key}", key), int(value)))
    masked = acc.get("masked") or {}
    rows += [(f"{cat['dq_masked']}：{cat.get('dq_' + kind, kind)}" if lang == "zh" else
              f"{cat['dq_masked']}: {cat.get('dq_' + kind, kind)}", count) for kind, count in masked.items() if count]
    for key, value in acc.items():
        if key.startswith("odata_") and isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((cat.get(f"dq_{key}", key), value))
    table = pd.DataFrame(rows, columns=["item", "count"])
    df = prep.responses
    facts = {"input_rows": acc["input_rows"], "n_used": acc["used"], "quarantined": acc["quarantined"],
             "period": period_of(df), "waves": sorted(df["wave"].dropna().astype(str).unique().tolist()),
             "synthetic": synthetic}
    meta = base_meta(df, pack, lang, facts=facts)
    meta.pop("base_rule", None)
    out: Views = {"data_quality": (table, meta)}
    reasons = pd.DataFrame(sorted((acc.get("by_reason") or {}).items()), columns=["reason", "count"])
    out["quarantine_reasons"] = (reasons, {"facts": {}})
    out["masking"] = (pd.DataFrame(sorted(masked.items()), columns=["kind", "count"]), {"facts": {}})
    return out
