"""Segment playbooks: what to do with each respondent, by NPS group and pack segment.

The plays live in the pack's ``playbooks.yaml`` (``files: {playbooks: playbooks.yaml}`` in pack.yaml)::

    groups:                       # all three NPS groups are required
      detractor:                  # NPS 0-6
        name: {zh: 贬损者, en: Detractors}
        goal: {zh: 预警+留存, en: Alert and retain}
        actions:                  # a non-empty list; each a string or {zh, en}
          - {zh: 24小时内回电致歉, en: Call back within 24 h}
      passive: {...}              # NPS 7-8
      promoter: {...}             # NPS 9-10
    segments:                     # optional: extra actions for a pack segment value, on top of the group's
      customer_type:              # a pack segment id (pack.yaml segments[].id)
        增购:                     # a value of that segment in the data
          detractor: [{zh: 由大客户专员一对一跟进, en: One-to-one follow-up by a key-account officer}]

A respondent is a **customer**: :func:`assign` classifies each customer by their *latest* response with an
NPS answer (latest wave, then latest date, then last row), so a customer who answered several stages gets
one play, matching their most recent experience. NPS groups follow the standard definition (Reichheld 2003;
Bain & Company): promoters 9-10, passives 7-8, detractors 0-6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .alerts import follow_up_codes, joiner
from .errors import InputError, PackError, Problem
from .packs import Checker, Label, Pack
from .schema.sections import GROUPS
from .workbook import write_workbook

__all__ = ["GROUPS", "assign", "latest_responses", "nps_group", "summary", "validate", "write_playbooks_xlsx"]



def _file(pack: Pack) -> Path:
    return pack.file("playbooks") or Path("playbooks.yaml")


def validate(pack: Pack) -> list[Problem]:
    """Problems in the pack's playbooks.yaml (file, dotted key, line): its schema (:class:`cemkit.schema.
    sections.PlaybooksFile`: all three groups with a name, a goal and a non-empty list of actions; extras by
    segment value and group), then segment extras for a segment the pack does not define."""
    spec = pack.section("playbooks")
    if spec is None:
        return []
    from .packs import section_problems

    lines = pack.raw.get("playbooks.__lines__", {})
    problems = section_problems("playbooks", spec, lines, _file(pack))
    c = Checker(_file(pack), lines, problems)
    segs = spec.get("segments") if isinstance(spec, dict) else None
    for seg in segs if isinstance(segs, dict) else {}:
        if seg not in pack.segment_ids:
            c.unknown(("segments", seg), seg, pack.segment_ids, "segment")
    return problems


def _config(pack: Pack) -> dict[str, Any]:
    """Parsed playbooks.yaml: groups → (name, goal, [actions]) as Labels; segment extras as Labels."""
    spec = pack.section("playbooks")
    if spec is None:
        raise PackError([Problem("pack.yaml", "files.playbooks", f"pack {pack.id!r} has no playbooks.yaml")])
    problems = validate(pack)
    if problems:
        raise PackError(problems)
    c = Checker(_file(pack), {}, [])
    groups = {g: {"name": c.label(p["name"], ()), "goal": c.label(p["goal"], ()),
                  "actions": [c.label(a, ()) for a in p["actions"]]}
              for g, p in spec["groups"].items()}
    extras: list[tuple[str, str, str, list[Label]]] = [
        (str(seg), str(value), g, [c.label(a, ()) for a in actions])
        for seg, values in (spec.get("segments") or {}).items()
        for value, by_group in (values or {}).items()
        for g, actions in (by_group or {}).items()
    ]
    return {"groups": groups, "extras": extras}


# ========================================================================================= assignment
def latest_responses(df: pd.DataFrame, value: str = "nps") -> pd.DataFrame:
    """Each customer's latest response with a non-missing ``value``: the latest wave (waves sort in time
    order, per the clean-table contract), then the latest ``date``, then the last row. Adds
    ``n_responses`` (the customer's responses with a ``value``). A response without ``customer_id`` is its
    own customer (:func:`~cemkit.alerts.follow_up_key`). Vectorised (lexsort, no row loop)."""
    need = [c for c in ("response_id", value) if c not in df]
    if need:
        raise InputError(f"the response table lacks the column(s) {', '.join(need)}")
    score = pd.to_numeric(df[value], errors="coerce")
    rows = np.flatnonzero(score.notna().to_numpy())
    if not len(rows):
        out = df.iloc[:0].copy()
        out["n_responses"] = pd.Series(dtype="int64")
        return out
    # the ordering keys are computed on the needed columns only; the whole table is taken once, at the end
    # waves sort lexically (NaN → -1, the earliest); customers by integer code: no string work per row
    wave = (pd.factorize(df["wave"].iloc[rows].astype("string"), sort=True)[0] if "wave" in df
            else np.zeros(len(rows), dtype=np.int8))
    if "date" in df:
        d = pd.to_datetime(df["date"].iloc[rows])
        d = d.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(d.dt, "tz", None) is not None else d
        date = d.to_numpy(dtype="datetime64[ns]").astype("int64")  # NaT → the smallest int64 (earliest)
    else:
        date = np.zeros(len(rows), dtype=np.int64)
    cust = follow_up_codes(df[[c for c in ("customer_id",) if c in df]].iloc[rows])  # that column only
    order = np.lexsort((np.arange(len(rows)), date, wave))  # the rows in time order
    _, first_rev = np.unique(cust[order][::-1], return_index=True)  # each customer's first from the end
    keep = order[np.sort(len(order) - 1 - first_rev)]  # each customer's last row, customers in time order
    out = df.iloc[rows[keep]]
    out = out.assign(n_responses=np.bincount(cust)[cust[keep]].astype("int64"))
    return out.reset_index(drop=True)


def nps_group(nps: pd.Series | np.ndarray) -> np.ndarray:
    """NPS group per score: ``promoter`` (9-10), ``passive`` (7-8), ``detractor`` (0-6); "" when missing."""
    x = np.asarray(pd.to_numeric(pd.Series(nps), errors="coerce"), dtype=float)
    return np.select([x >= 9, x >= 7, x >= 0], ["promoter", "passive", "detractor"], default="").astype(object)


def assign(df: pd.DataFrame, pack: Pack, lang: str | None = None) -> pd.DataFrame:
    """The play for each respondent (customer; see the module docstring).

    Returns one row per customer with an NPS answer: ``customer_id, response_id, wave, stage, nps,
    n_responses, group`` (detractor / passive / promoter), ``group_name, goal, actions`` (the group's
    actions, then the extras of the customer's segment values, joined by "；"/"; "), ``extra_actions``
    (the segment extras alone, "" when none) and the pack's segment columns present in ``df``. The four
    texts are categoricals: a few dozen distinct texts, not one copy per customer (2.5M customers).
    """
    lang = lang or pack.language
    cfg = _config(pack)
    sep = joiner(lang)
    segs = [c for c in pack.segment_ids if c in df]
    keep = [c for c in ("customer_id", "response_id", "wave", "stage", "date", "nps") if c in df]
    last = latest_responses(df[keep + [c for c in segs if c not in keep]], "nps")
    group = pd.Series(nps_group(last["nps"]), index=last.index, dtype="object")
    groups = cfg["groups"]
    by_segment: dict[str, dict[tuple[str, str], str]] = {}
    for seg, value, g, actions in cfg["extras"]:  # a loop over playbook entries, not rows
        by_segment.setdefault(seg, {})[(value, g)] = sep.join(a.get(lang) for a in actions)
    # the texts depend only on the group and the segment values that have extras: they are built once per
    # distinct combination (a few dozen) and spread to the customers by code
    cols = [c for c in by_segment if c in last]
    keys = pd.DataFrame({"group": group, **{c: last[c].astype("string") for c in cols}})
    code = keys.groupby(list(keys.columns), dropna=False, sort=False).ngroup().to_numpy()
    combos = keys.iloc[np.unique(code, return_index=True)[1]]
    names = {g: (p["name"].get(lang), p["goal"].get(lang), sep.join(a.get(lang) for a in p["actions"]))
             for g, p in groups.items()}
    extra, actions = [], []
    for combo in combos.itertuples(index=False):  # one per distinct combination
        g = combo[0]
        ex = sep.join(t for c, v in zip(cols, combo[1:], strict=True)
                      if not pd.isna(v) and (t := by_segment[c].get((v, g))))
        base = names[g][2] if g in names else None
        extra.append(ex)
        actions.append(base if not ex else (ex if base is None else base + sep + ex))
    cg = combos["group"].to_numpy()

    def spread(values: list[Any]) -> pd.Series:  # a category per distinct text: not a copy of it per customer
        cats = pd.unique(pd.array([v for v in values if v is not None], dtype="string"))
        at = pd.Index(cats).get_indexer(pd.array(values, dtype="string")).astype(np.int64)
        return pd.Series(pd.Categorical.from_codes(at[code], categories=cats), index=last.index)

    out = pd.DataFrame({
        **{c: last[c] for c in ("customer_id", "response_id", "wave", "stage") if c in last},
        "nps": last["nps"].astype(float),
        "n_responses": last["n_responses"],
        "group": group.astype("string"),
        "group_name": spread([names[g][0] if g in names else None for g in cg]),
        "goal": spread([names[g][1] if g in names else None for g in cg]),
        "actions": spread(actions),
        "extra_actions": spread(extra),
    })
    for seg in segs:
        out[seg] = last[seg].to_numpy()
    return out.reset_index(drop=True)


def summary(assigned: pd.DataFrame, pack: Pack, lang: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The playbook table for the deck and its facts.

    One row per NPS group (detractor, passive, promoter — all three, even when empty), each followed by a
    row per segment extra of that group found in the data. Columns: ``segment`` (display name, e.g.
    "贬损者" or "贬损者 · 客户类型：增购"), ``size`` (customers), ``share`` (% of all assigned customers),
    ``goal``, ``actions`` (joined by "；"/"; "; on a segment row: that segment's extra actions only),
    ``group``, ``level`` ("group" / "segment"), ``segment_id``, ``segment_value``.
    Facts: ``detractor_share``, ``passive_share``, ``promoter_share`` (% of customers, group rows) and
    ``n_customers``.
    """
    lang = lang or pack.language
    cfg = _config(pack)
    sep = joiner(lang)
    n = len(assigned)
    sizes = assigned["group"].astype(object).value_counts() if n else pd.Series(dtype="int64")
    seg_names = {s.id: s.name.get(lang) for s in pack.segments}
    rows = []
    for g in GROUPS:
        play = cfg["groups"][g]
        size = int(sizes.get(g, 0))
        rows.append({"segment": play["name"].get(lang), "size": size, "share": size / n * 100 if n else 0.0,
                     "goal": play["goal"].get(lang), "actions": sep.join(a.get(lang) for a in play["actions"]),
                     "group": g, "level": "group", "segment_id": "", "segment_value": ""})
        for seg, value, eg, actions in cfg["extras"]:
            if eg != g or seg not in assigned:
                continue
            k = int(((assigned["group"] == g) & (assigned[seg].astype("string") == value)).sum())
            if k == 0:
                continue
            colon = "：" if lang == "zh" else ": "
            rows.append({"segment": f"{play['name'].get(lang)} · {seg_names.get(seg, seg)}{colon}{value}",
                         "size": k, "share": k / n * 100, "goal": play["goal"].get(lang),
                         "actions": sep.join(a.get(lang) for a in actions), "group": g, "level": "segment",
                         "segment_id": seg, "segment_value": value})
    table = pd.DataFrame(rows, columns=["segment", "size", "share", "goal", "actions", "group", "level",
                                        "segment_id", "segment_value"])
    table["size"] = table["size"].astype("int64")
    table["share"] = table["share"].astype(float)
    top = table[table["level"] == "group"].set_index("group")["share"]
    facts = {f"{g}_share": float(top[g]) for g in GROUPS}
    facts["n_customers"] = n
    return table, facts


_HEADERS = {
    "zh": {"segment": "客群", "size": "人数", "share": "占比(%)", "goal": "目标", "actions": "建议动作",
           "group": "NPS分组ID", "level": "层级", "segment_id": "细分维度", "segment_value": "细分取值",
           "customer_id": "客户编号", "response_id": "问卷编号", "wave": "波次", "stage": "最近环节",
           "nps": "NPS打分", "n_responses": "答卷数", "group_name": "NPS分组", "extra_actions": "细分附加动作"},
    "en": {"segment": "Segment", "size": "Customers", "share": "Share (%)", "goal": "Goal",
           "actions": "Recommended actions", "group": "Group ID", "level": "Level", "segment_id": "Segment by",
           "segment_value": "Segment value", "customer_id": "Customer", "response_id": "Response", "wave": "Wave",
           "stage": "Latest stage", "nps": "NPS score", "n_responses": "Responses", "group_name": "NPS group",
           "extra_actions": "Segment extras"},
}


def write_playbooks_xlsx(assigned: pd.DataFrame, pack: Pack, path: str | Path, lang: str | None = None) -> Path:
    """The playbook workbook: a summary sheet (the :func:`summary` table) and one sheet per NPS group
    listing its customers with their actions (header rows frozen, autofilters, readable widths)."""
    lang = lang or pack.language
    table, _ = summary(assigned, pack, lang)
    sheets: dict[str, Any] = {{"zh": "汇总", "en": "Summary"}[lang]: table}
    names = table.loc[table["level"] == "group"].set_index("group")["segment"]
    sheets[{"zh": "汇总", "en": "Summary"}[lang]] = table.drop(columns=["group", "level", "segment_id", "segment_value"],
                                                             errors="ignore")
    stage_names = {s.id: s.name.get(lang) for s in pack.stages}
    for g in GROUPS:
        part = assigned.loc[assigned["group"] == g].drop(columns=["group"])
        if "stage" in part:  # a client reads stage names, not ids
            part = part.assign(stage=part["stage"].map(lambda v: stage_names.get(v, v)))
        sheets[str(names[g])] = part
    return write_workbook(path, sheets, _HEADERS.get(lang, _HEADERS["en"]),
                          formats={"share": '0.0"%"', "size": "#,##0", "nps": "0"})
