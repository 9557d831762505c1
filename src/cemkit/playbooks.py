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

from .alerts import follow_up_key, joiner, write_workbook
from .errors import InputError, PackError, Problem
from .packs import Checker, Label, Pack

__all__ = ["GROUPS", "assign", "latest_responses", "nps_group", "summary", "validate", "write_playbooks_xlsx"]

GROUPS = ("detractor", "passive", "promoter")  # display order: act on detractors first
_TOP_KEYS = ("groups", "segments")
_GROUP_KEYS = ("name", "goal", "actions")


def _file(pack: Pack) -> Path:
    return pack.file("playbooks") or Path("playbooks.yaml")


def validate(pack: Pack) -> list[Problem]:
    """Problems in the pack's playbooks.yaml (file, dotted key, line): missing or unknown groups, names,
    goals or actions; segment extras for a segment the pack does not define or for an unknown group."""
    spec = pack.section("playbooks")
    if spec is None:
        return []
    problems: list[Problem] = []
    c = Checker(_file(pack), pack.raw.get("playbooks.__lines__", {}), problems)
    if not isinstance(spec, dict):
        c.add((), "playbooks.yaml must be a mapping with groups (and optional segments)")
        return problems
    for key in spec:
        if key not in _TOP_KEYS:
            c.add((key,), f"unknown key {key!r} (use {', '.join(_TOP_KEYS)})")
    groups = c.mapping(spec.get("groups"), ("groups",))
    for g in GROUPS:
        if g not in groups:
            c.add(("groups",), f"group {g!r} is missing (every NPS group needs a play: {', '.join(GROUPS)})")
    for g, play in groups.items():
        kp: tuple = ("groups", g)
        if g not in GROUPS:
            c.add(kp, f"unknown group {g!r} (use {', '.join(GROUPS)})")
            continue
        play = c.mapping(play, kp)
        for key in play:
            if key not in _GROUP_KEYS:
                c.add(kp + (key,), f"unknown key {key!r} (use {', '.join(_GROUP_KEYS)})")
        for key in ("name", "goal"):
            if key not in play:
                c.add(kp, f"needs a {key}: a string or {{zh: ..., en: ...}}")
            else:
                c.label(play[key], kp + (key,))
        _check_actions(c, play.get("actions"), kp + ("actions",), required=True)
    segs = c.mapping(spec.get("segments"), ("segments",))
    for seg, values in segs.items():
        kp = ("segments", seg)
        if seg not in pack.segment_ids:
            c.add(kp, f"unknown segment {seg!r} (pack segments: {', '.join(pack.segment_ids) or 'none'})")
        for value, by_group in c.mapping(values, kp).items():
            vkp = kp + (value,)
            for g, actions in c.mapping(by_group, vkp).items():
                if g not in GROUPS:
                    c.add(vkp + (g,), f"unknown group {g!r} (use {', '.join(GROUPS)})")
                else:
                    _check_actions(c, actions, vkp + (g,), required=True)
    return problems


def _check_actions(c: Checker, actions: Any, kp: tuple, required: bool) -> None:
    if actions is None:
        if required:
            c.add(kp, "needs a non-empty list of actions")
        return
    if not isinstance(actions, list) or not actions:
        c.add(kp, "must be a non-empty list of actions (each a string or {zh: ..., en: ...})")
        return
    for i, a in enumerate(actions):
        c.label(a, kp + (i,))


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
    sub = df.loc[score.notna()]
    if sub.empty:
        out = sub.copy()
        out["n_responses"] = pd.Series(dtype="int64")
        return out
    # waves sort lexically (NaN → -1, the earliest); customers by factorised code: no string work per row
    wave = (pd.factorize(sub["wave"].astype("string"), sort=True)[0] if "wave" in sub
            else np.zeros(len(sub), dtype=np.int8))
    if "date" in sub:
        d = pd.to_datetime(sub["date"])
        d = d.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(d.dt, "tz", None) is not None else d
        date = d.to_numpy(dtype="datetime64[ns]").astype("int64")  # NaT → the smallest int64 (earliest)
    else:
        date = np.zeros(len(sub), dtype=np.int64)
    cust = pd.factorize(follow_up_key(sub))[0]
    order = np.lexsort((np.arange(len(sub)), date, wave))  # all rows in time order
    keep = order[~pd.Series(cust[order]).duplicated(keep="last").to_numpy()]  # each customer's last row
    out = sub.iloc[keep]
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
    (the segment extras alone, "" when none) and the pack's segment columns present in ``df``.
    """
    lang = lang or pack.language
    cfg = _config(pack)
    sep = joiner(lang)
    last = latest_responses(df, "nps")
    group = pd.Series(nps_group(last["nps"]), index=last.index, dtype="object")
    groups = cfg["groups"]
    base_actions = group.map({g: sep.join(a.get(lang) for a in p["actions"]) for g, p in groups.items()})

    extra = pd.Series("", index=last.index, dtype="object")
    by_segment: dict[str, dict[str, str]] = {}
    for seg, value, g, actions in cfg["extras"]:  # a loop over playbook entries, not rows
        by_segment.setdefault(seg, {})[f"{value}\x1f{g}"] = sep.join(a.get(lang) for a in actions)
    for seg, table in by_segment.items():
        if seg not in last:
            continue
        key = last[seg].astype("string") + "\x1f" + group.astype("string")
        add = key.map(table).astype(object).fillna("")
        extra = extra.where(add == "", extra.where(extra == "", extra + sep) + add)

    cols = {c: last[c] for c in ("customer_id", "response_id", "wave", "stage") if c in last}
    out = pd.DataFrame({
        **cols,
        "nps": last["nps"].astype(float),
        "n_responses": last["n_responses"],
        "group": group.astype("string"),
        "group_name": group.map({g: p["name"].get(lang) for g, p in groups.items()}).astype("string"),
        "goal": group.map({g: p["goal"].get(lang) for g, p in groups.items()}).astype("string"),
        "actions": base_actions.where(extra == "", base_actions + sep + extra).astype("string"),
        "extra_actions": extra.astype("string"),
    })
    for seg in pack.segment_ids:
        if seg in last:
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
    for g in GROUPS:
        sheets[str(names[g])] = assigned.loc[assigned["group"] == g].drop(columns=["group"])
    return write_workbook(path, sheets, _HEADERS.get(lang, _HEADERS["en"]))
