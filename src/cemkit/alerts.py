"""Closed-loop alerts: turn poor survey responses into work orders for the department that can fix them.

The rules live in the pack's ``alerts.yaml`` (``files: {alerts: alerts.yaml}`` in pack.yaml)::

    default_owner: {zh: 客户体验部, en: CX office}   # owner when the stage names no touchpoint owner
    sla:
      business_days: true          # optional, default false: the SLA clock only runs on working days
      calendar: china              # china (default): official holidays and 调休 make-up workdays; weekdays: Mon-Fri
      hours: {P1: 24, P2: 48, P3: 72}   # hours to close an alert, per priority (defaults shown)
      holidays: [2024-12-31, ...]  # optional: the client's own extra days off
      workdays: [2024-10-05, ...]  # optional: the client's own extra working days
    rules:
      - id: complaint_words                        # unique id
        name: {zh: 投诉类关键词, en: Complaint words}  # a string or {zh, en}: the alert's reason
        priority: P1                               # P1 (most urgent), P2 or P3
        when: {comment_contains: [投诉, 12315]}     # conditions; a rule fires when ALL of them hold

Conditions (``when``):

* ``<kpi>_max: x`` — the response's score on pack KPI ``<kpi>`` is ≤ x (``nps_max``, ``csat_max``,
  ``ces_max`` …; a missing score never fires);
* ``key_stage: true|false`` — the response is (is not) about a stage marked ``key: true`` in pack.yaml;
* ``comment_contains: [word, …]`` — the masked verbatim contains one of the words (literal,
  case-insensitive substring match);
* ``negative_critical_theme: true|false`` — the comment has (has not) a negative (polarity −1) tag of a
  theme marked ``critical: true`` in the pack's themes.yaml (needs the ``themes`` tags).

Output (:func:`evaluate_alerts`): **one alert per customer, stage and wave**. When several rules fire for
the same customer, stage and wave (on one or several responses), the highest priority wins and every
matching rule is listed in ``rules``/``reason`` (in priority order, then file order). The alert carries the
response that raised the winning priority (the earliest such response).

Owner: the owner of the response's ``touchpoint`` when the data has that column and names a touchpoint of
the stage; else the owner of the stage's first touchpoint (pack.yaml ``stages[].touchpoints[].owner``);
else ``default_owner``.

SLA: ``due = created + hours[priority]``. With ``business_days: true`` only working-day hours count: by
default China's official calendar (:mod:`cemkit.workdays`: public holidays off, 调休 make-up weekend days
worked; a day outside the years the installed ``chinesecalendar`` covers counts Monday–Friday, and the
result says so in ``attrs["calendar_note"]``, the summary facts and the workbook), or
Monday-Friday with ``calendar: weekdays``; the pack's ``holidays`` are taken off and its ``workdays`` added.
24 h from Friday 10:00 is Monday 10:00 (on an ordinary week), an alert raised on a Saturday starts its
clock on the next working day at 00:00, and a deadline never lands inside National Day. ``created`` is the response ``date`` (the survey timestamp), or ``now``
when the response has no date.

Everything is vectorised over responses (numpy masks, one pass per rule); there is no Python loop over rows.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, PackError, Problem
from .packs import Checker, Label, Pack
from .schema.sections import PRIORITIES
from .workbook import write_workbook
from .workdays import sla_due

__all__ = [
    "ALERT_COLUMNS",
    "CONDITIONS",
    "DEFAULT_HOURS",
    "PRIORITIES",
    "AlertConfig",
    "AlertRule",
    "alert_config",
    "alerts_summary",
    "evaluate_alerts",
    "firing",
    "follow_up_codes",
    "follow_up_key",
    "joiner",
    "reason_counts",
    "sla_due",
    "validate",
    "write_alerts_xlsx",
]

DEFAULT_HOURS = {"P1": 24.0, "P2": 48.0, "P3": 72.0}
#: condition key → description (``<kpi>_max`` stands for every pack KPI id + "_max")
CONDITIONS = {
    "<kpi>_max": "score on pack KPI <kpi> at most this value",
    "key_stage": "response is about a stage marked key: true (or not, with false)",
    "comment_contains": "masked comment contains one of these words",
    "negative_critical_theme": "comment has a negative tag of a critical theme (or not, with false)",
}
ALERT_COLUMNS = ["alert_id", "customer_id", "response_id", "stage", "stage_name", "wave", "priority",
                 "rules", "reason", "owner", "created", "due", "verbatim"]
_DEFAULT_OWNER = Label("客户体验部", "CX office")


def follow_up_key(df: pd.DataFrame) -> pd.Series:
    """Whom a follow-up is for: the ``customer_id``, or for a response without one (anonymous surveys, a
    blank cell) the response itself, as ``R:<response_id>``. Anonymous responses are never merged."""
    rid = "R:" + df["response_id"].astype("string")
    if "customer_id" not in df:
        return rid
    return df["customer_id"].astype("string").fillna(rid)


def follow_up_codes(df: pd.DataFrame) -> np.ndarray:
    """:func:`follow_up_key` as integer codes (0 … k−1), without building a string per row: equal customer
    ids share a code, and each response without one gets a code of its own."""
    from .arrowtext import factorize

    if "customer_id" in df:
        (codes,), n = factorize(df["customer_id"])
    else:
        codes, n = np.full(len(df), -1, dtype=np.int64), 0
    anon = codes < 0
    codes[anon] = n + np.arange(int(anon.sum()))
    return codes


def joiner(lang: str) -> str:
    """The separator for lists inside one cell: "；" in Chinese reports, "; " in English ones."""
    return "；" if lang == "zh" else "; "


# ============================================================================================= config
@dataclass(frozen=True)
class AlertRule:
    """One rule of alerts.yaml: fires when every condition in ``when`` holds."""

    id: str
    name: Label
    priority: str
    when: Mapping[str, Any]

    @property
    def rank(self) -> int:
        """1 for P1 (most urgent) … 3 for P3."""
        return PRIORITIES.index(self.priority) + 1


@dataclass(frozen=True)
class AlertConfig:
    """The parsed alerts.yaml of a pack."""

    rules: tuple[AlertRule, ...]
    default_owner: Label
    business_days: bool
    hours: Mapping[str, float]
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()
    calendar: str = "china"                # working days when business_days: china (调休 included) or weekdays


def _alerts_file(pack: Pack) -> Path:
    return pack.file("alerts") or Path("alerts.yaml")


def validate(pack: Pack) -> list[Problem]:
    """Problems in the pack's alerts.yaml (file, dotted key, line): its schema (:class:`cemkit.schema.sections.
    AlertsFile`: unknown keys or conditions, bad priority / name / id, condition values of the wrong type,
    SLA hours that are not positive, dates that are not dates), then what refers to the pack: ``<kpi>_max``
    for a KPI the pack has and a threshold on its scale, duplicate rule ids, and rules that can never fire
    (no key stage, no critical theme)."""
    spec = pack.section("alerts")
    if spec is None:
        return []
    from .packs import section_problems

    lines = pack.raw.get("alerts.__lines__", {})
    problems = section_problems("alerts", spec, lines, _alerts_file(pack))
    c = Checker(_alerts_file(pack), lines, problems)
    rules = spec.get("rules") if isinstance(spec, dict) else None
    c.duplicate_ids(("rules",), rules, "rule")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, dict) and isinstance(rule.get("when"), dict):
            _check_when(c, pack, rule["when"], ("rules", i, "when"))
    return problems


def _check_when(c: Checker, pack: Pack, when: dict, kp: tuple) -> None:
    """The conditions' references to the pack (their shapes are the schema's)."""
    kpi_keys = [f"{k}_max" for k in pack.kpis]
    for key, value in when.items():
        ckp = kp + (key,)
        if isinstance(key, str) and key.endswith("_max") and key not in CONDITIONS:
            if key not in kpi_keys:
                c.unknown(ckp, key, kpi_keys, "KPI condition")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                scale = pack.kpis[key[: -len("_max")]].scale
                if not scale.min <= value <= scale.max:
                    c.add(ckp, f"{value} lies outside the KPI's scale {scale.min:g}..{scale.max:g}")
        elif key == "key_stage" and value is True and not any(s.key for s in pack.stages):
            c.add(ckp, "no stage in pack.yaml is marked key: true, so this rule can never fire")
        elif key == "negative_critical_theme" and value is True and not any(t.critical for t in pack.themes):
            c.add(ckp, "no theme in the pack's themes is marked critical: true, so this rule can never fire")


def alert_config(pack: Pack) -> AlertConfig:
    """Parse the pack's alerts.yaml (validated: raises PackError listing every problem). A pack without
    alerts.yaml gets a config with no rules."""
    spec = pack.section("alerts")
    if spec is None:
        return AlertConfig((), _DEFAULT_OWNER, False, dict(DEFAULT_HOURS))
    problems = validate(pack)
    if problems:
        raise PackError(problems)
    c = Checker(_alerts_file(pack), {}, [])
    rules = tuple(
        AlertRule(str(r["id"]), c.label(r["name"], ()), r["priority"], dict(r["when"]))
        for r in spec.get("rules") or []
    )
    owner = c.label(spec["default_owner"], ()) if spec.get("default_owner") is not None else _DEFAULT_OWNER
    sla = spec.get("sla") or {}
    hours = {**DEFAULT_HOURS, **{k: float(v) for k, v in (sla.get("hours") or {}).items()}}
    holidays = tuple(str(np.datetime64(str(d), "D")) for d in sla.get("holidays") or [])
    workdays = tuple(str(np.datetime64(str(d), "D")) for d in sla.get("workdays") or [])
    return AlertConfig(rules, owner, bool(sla.get("business_days", False)), hours, holidays, workdays,
                       str(sla.get("calendar", "china")))


# ========================================================================================= evaluation
def _empty_alerts(extra: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in ALERT_COLUMNS})
    frame["created"] = pd.Series(dtype="datetime64[ns]")
    frame["due"] = pd.Series(dtype="datetime64[ns]")
    for col in extra:
        frame[col] = pd.Series(dtype="object")
    return frame


def _critical_negative_rows(themes: pd.DataFrame, pack: Pack, n: int) -> np.ndarray:
    """Boolean per df row: the comment has a negative tag (polarity −1) of a theme marked critical."""
    missing = {"row", "theme", "polarity"} - set(themes.columns)
    if missing:
        raise InputError(f"theme tags need the columns row, theme and polarity (missing: {', '.join(sorted(missing))})")
    critical = [t.id for t in pack.themes if t.critical]
    pol = pd.to_numeric(themes["polarity"], errors="coerce").to_numpy(dtype=float)
    sel = themes["theme"].isin(critical).to_numpy(dtype=bool) & (pol == -1)
    rows = pd.to_numeric(themes["row"], errors="coerce").to_numpy(dtype=float)[sel]
    if np.isnan(rows).any() or (rows < 0).any() or (rows >= n).any() or (rows % 1 != 0).any():
        raise InputError(f"theme tags: 'row' must be the 0-based position of the comment in the responses "
                         f"(0..{n - 1}); found values outside that range")
    out = np.zeros(n, dtype=bool)
    out[rows.astype(np.int64)] = True
    return out


def _rule_mask(rule: AlertRule, df: pd.DataFrame, pack: Pack, crit: np.ndarray | None,
               skipped: dict[str, str]) -> np.ndarray:
    n = len(df)
    mask = np.ones(n, dtype=bool)
    for key, value in rule.when.items():
        if key.endswith("_max"):
            col = key[: -len("_max")]
            if col not in df:
                skipped[rule.id] = f"the data has no {col!r} column"
                return np.zeros(n, dtype=bool)
            score = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            mask &= score <= float(value)  # NaN compares False: a missing score never fires
        elif key == "key_stage":
            keys = [s.id for s in pack.stages if s.key]
            mask &= df["stage"].isin(keys).to_numpy(dtype=bool) == bool(value)
        elif key == "comment_contains":
            if "comment" not in df:
                skipped[rule.id] = "the data has no 'comment' column"
                return np.zeros(n, dtype=bool)
            pattern = "|".join(re.escape(str(w).strip()) for w in value)
            hit = df["comment"].astype("string").str.contains(pattern, case=False, regex=True, na=False)
            mask &= hit.to_numpy(dtype=bool)
        elif key == "negative_critical_theme":
            if crit is None:
                skipped[rule.id] = "no theme tags were given (themes=None)"
                return np.zeros(n, dtype=bool)
            mask &= crit == bool(value)
        else:  # alert_config validated the file: this is a programming error
            raise PackError(f"alerts.yaml: unknown condition {key!r} in rule {rule.id!r}")
    return mask


def _owner_of(df: pd.DataFrame, pack: Pack, default: Label, lang: str) -> np.ndarray:
    stage_owner = {s.id: (s.owner.get(lang) if s.owner else default.get(lang)) for s in pack.stages}
    owner = df["stage"].map(stage_owner).astype(object).fillna(default.get(lang))
    if "touchpoint" in df:
        tp_owner = {f"{s.id}\x1f{tp.id}": tp.owner.get(lang) for s in pack.stages for tp in s.touchpoints}
        key = df["stage"].astype("string") + "\x1f" + df["touchpoint"].astype("string")
        owner = key.map(tp_owner).astype(object).fillna(owner)
    return owner.to_numpy(dtype=object)


def _join_flags(flags: np.ndarray, labels: Sequence[str], sep: str) -> np.ndarray:
    """Per row, the labels whose flag is set, joined by ``sep``. Rows are coded by their flag pattern (a
    bit mask), each distinct pattern (at most 2^rules, a handful in practice) is joined once, and the
    strings are broadcast back by index: no loop over rows."""
    bits = flags.astype(np.int64) @ (np.int64(1) << np.arange(flags.shape[1], dtype=np.int64))
    patterns, inverse = np.unique(bits, return_inverse=True)
    text = np.array([sep.join(lab for j, lab in enumerate(labels) if (int(p) >> j) & 1) for p in patterns],
                    dtype=object)
    return text[inverse.reshape(-1)]


def _flags(df: pd.DataFrame, pack: Pack, cfg: AlertConfig, themes: pd.DataFrame | None,
           skipped: dict[str, str]) -> tuple[list[AlertRule], np.ndarray]:
    """The rules in priority order (then file order) and, per row of ``df``, which of them fire."""
    crit = _critical_negative_rows(themes, pack, len(df)) if themes is not None else None
    rules = sorted(cfg.rules, key=lambda r: r.rank)  # priority order, then file order (stable sort)
    return rules, np.column_stack([_rule_mask(r, df, pack, crit, skipped) for r in rules])


def firing(df: pd.DataFrame, pack: Pack, themes: pd.DataFrame | None = None) -> np.ndarray:
    """Per row of ``df``, whether any of the pack's alert rules fires on it (``themes`` as for
    :func:`evaluate_alerts`). Whether a rule fires depends on its row alone, so ``evaluate_alerts`` of the
    firing rows (in their order, theme tags renumbered) equals ``evaluate_alerts`` of ``df``: a large table
    is filtered batch by batch and only the rows that raise alerts are held (``cemkit.views.action_views``)."""
    cfg = alert_config(pack)
    if not cfg.rules or not len(df):
        return np.zeros(len(df), dtype=bool)
    return _flags(df, pack, cfg, themes, {})[1].any(axis=1)


def evaluate_alerts(df: pd.DataFrame, pack: Pack, themes: pd.DataFrame | None = None,
                    now: Any = None, lang: str | None = None) -> pd.DataFrame:
    """Alerts (work orders) raised by the pack's alert rules on the clean response table ``df``.

    ``themes``: optional theme tags, one row per (comment, theme) with ``row`` (0-based position of the
    response in ``df``), ``theme`` (pack theme id) and ``polarity`` (−1/0/1); needed by the
    ``negative_critical_theme`` condition (rules that need missing inputs fire for nobody and are listed in
    ``result.attrs["skipped_rules"]`` with a warning). ``now``: the evaluation time, used as ``created``
    for responses without a date (default: the current time). ``lang``: language of ``stage_name``,
    ``reason`` and ``owner`` (default: the pack's language).

    Returns one row per alert (one per customer, stage and wave; see the module docstring) with columns
    ``alert_id`` (``<wave>-<stage>-<customer_id>``, stable across re-runs; ``R:<response_id>`` in place of a
    missing customer id), ``customer_id, response_id,
    stage, stage_name, wave, priority`` (P1-P3), ``rules`` (rule ids, comma-separated), ``reason`` (rule
    names joined by "；"/"; "), ``owner``, ``created``, ``due`` (SLA deadline), ``verbatim`` (the masked
    comment), then ``touchpoint`` and the KPI scores when present, then the pack's segment columns.
    Sorted by priority, due time, then input order.
    """
    lang = lang or pack.language
    cfg = alert_config(pack)
    need = [c for c in ("response_id", "stage", "wave") if c not in df]
    if need:
        raise InputError(f"the response table lacks the column(s) {', '.join(need)} needed for alerts")
    segs = [s for s in pack.segment_ids if s in df]
    extra = (["touchpoint"] if "touchpoint" in df else []) + [k for k in pack.kpis if k in df] + segs
    skipped: dict[str, str] = {}
    n = len(df)
    if not cfg.rules or n == 0:
        out = _empty_alerts(extra)
        out.attrs["skipped_rules"] = skipped
        return out

    rules, flags = _flags(df, pack, cfg, themes, skipped)
    for rid, why in skipped.items():
        warnings.warn(f"alert rule {rid!r} fires for nobody: {why}", stacklevel=2)
    hit = np.flatnonzero(flags.any(axis=1))
    if hit.size == 0:
        out = _empty_alerts(extra)
        out.attrs["skipped_rules"] = skipped
        return out

    ranks = np.array([r.rank for r in rules])
    flags = flags[hit]
    best = np.where(flags, ranks, 99).min(axis=1)
    keep = ["response_id", "customer_id", "stage", "wave"] + [c for c in ("date", "comment") if c in df] + extra
    keep = [c for c in keep if c in df]
    sub = df[list(dict.fromkeys(keep))].iloc[hit].reset_index(drop=True)

    # created: response date, else `now`
    now_ts = pd.Timestamp.now().floor("s") if now is None else pd.Timestamp(now)
    if "date" in sub:
        created = pd.to_datetime(sub["date"])
        tz = getattr(created.dt, "tz", None)
        if tz is not None and now_ts.tzinfo is None:
            now_ts = now_ts.tz_localize(tz)
        created = created.fillna(now_ts)
    else:
        created = pd.Series(now_ts, index=sub.index)
    created = created.astype("datetime64[ns]" if getattr(created.dt, "tz", None) is None
                              else pd.DatetimeTZDtype("ns", created.dt.tz))

    # one alert per customer × stage × wave (a response without customer id is its own customer): the
    # group's highest priority, earliest such response
    sub["__who"] = follow_up_codes(sub)
    group = sub.groupby(["__who", "stage", "wave"], dropna=False, sort=False).ngroup().to_numpy()
    t_ns = created.to_numpy(dtype="datetime64[ns]").astype("int64") if created.dt.tz is None else \
        created.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("int64")
    order = np.lexsort((np.arange(len(sub)), t_ns, best, group))
    first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    merged = pd.DataFrame(flags).groupby(group).max().to_numpy(dtype=bool)  # rows = groups 0..G-1
    merged = merged[group[first]]  # aligned with `first`

    # output order: priority, then due time, then input order (sorted before any string column is built)
    rank_first = best[first]
    hours_first = np.array([cfg.hours[p] for p in PRIORITIES])[rank_first - 1]
    due_first = sla_due(created.iloc[first].reset_index(drop=True), hours_first, cfg.business_days, cfg.holidays,
                        cfg.workdays, cfg.calendar)
    due_key = (due_first.dt.tz_convert("UTC").dt.tz_localize(None) if due_first.dt.tz is not None else due_first)
    sort = np.lexsort((first, due_key.to_numpy(dtype="datetime64[ns]").astype("int64"), rank_first))
    pick = first[sort]
    rep = sub.iloc[pick].reset_index(drop=True)
    merged = merged[sort]
    sep = joiner(lang)
    stage_names = {s.id: s.name.get(lang) for s in pack.stages}
    stage = rep["stage"].astype("string")
    out = pd.DataFrame({
        "alert_id": (rep["wave"].astype("string").fillna("-") + "-" + stage.fillna("-") + "-"
                     + follow_up_key(rep)),
        "customer_id": (rep["customer_id"].astype("string") if "customer_id" in rep
                        else pd.Series(pd.NA, index=rep.index, dtype="string")),
        "response_id": rep["response_id"].astype("string"),
        "stage": stage,
        "stage_name": stage.map(stage_names).fillna(stage),
        "wave": rep["wave"].astype("string"),
        "priority": pd.array(np.array(PRIORITIES, dtype=object)[rank_first[sort] - 1], dtype="string"),
        "rules": pd.array(_join_flags(merged, [r.id for r in rules], ","), dtype="string"),
        "reason": pd.array(_join_flags(merged, [r.name.get(lang) for r in rules], sep), dtype="string"),
        "owner": pd.array(_owner_of(rep, pack, cfg.default_owner, lang), dtype="string"),
        "created": created.iloc[pick].reset_index(drop=True),
        "due": due_first.iloc[sort].reset_index(drop=True),
        "verbatim": (rep["comment"].astype("string") if "comment" in rep
                     else pd.array([pd.NA] * len(rep), dtype="string")),
    })
    for col in extra:
        out[col] = rep[col].to_numpy()
    out.attrs["skipped_rules"] = skipped
    if "calendar_note" in due_first.attrs:
        out.attrs["calendar_note"] = due_first.attrs["calendar_note"]
    return out


# ============================================================================================ summary
def alerts_summary(alerts: pd.DataFrame, lang: str = "zh") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Alerts by owner and priority: columns ``owner, P1, P2, P3, total`` (counts; sorted by total,
    largest first) and the facts the storyline title uses: ``n_alerts``, ``p1_share`` (% of alerts that
    are P1), ``top_owner`` (the owner with most alerts; "–" when there are none) and ``top_owner_n``."""
    cols = ["owner", *PRIORITIES, "total"]
    if alerts.empty:
        table = pd.DataFrame({c: pd.Series(dtype="string" if c == "owner" else "int64") for c in cols})
        return table, {"n_alerts": 0, "p1_share": 0.0, "top_owner": "–", "top_owner_n": 0}
    tab = pd.crosstab(alerts["owner"].astype(object), alerts["priority"].astype(object))
    tab = tab.reindex(columns=list(PRIORITIES), fill_value=0)
    tab["total"] = tab.sum(axis=1)
    tab = tab.rename_axis(index="owner", columns=None).reset_index()
    tab = tab.sort_values(["total", "owner"], ascending=[False, True], kind="stable").reset_index(drop=True)
    tab["owner"] = tab["owner"].astype("string")
    tab[[*PRIORITIES, "total"]] = tab[[*PRIORITIES, "total"]].astype("int64")
    n = len(alerts)
    facts = {
        "n_alerts": n,
        "p1_share": float((alerts["priority"] == "P1").sum() / n * 100),
        "top_owner": str(tab["owner"].iloc[0]),
        "top_owner_n": int(tab["total"].iloc[0]),
    }
    note = alerts.attrs.get("calendar_note")
    if note:
        facts["calendar_note"] = note.get(lang, note.get("en"))
    return tab[cols], facts


def reason_counts(alerts: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """How many alerts each rule contributed to (an alert with two reasons counts for both): columns
    ``rule, reason, alerts, share`` (share: % of all alerts), most frequent first."""
    cols = ["rule", "reason", "alerts", "share"]
    if alerts.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    ids = alerts["rules"].astype("string").str.split(",", regex=False)
    names = alerts["reason"].astype("string").str.split(joiner(lang), regex=False)
    if not (ids.str.len() == names.str.len()).all():  # a rule name containing the separator
        names = ids
    long = pd.DataFrame({"rule": ids.explode().to_numpy(), "reason": names.explode().to_numpy()})
    out = long.groupby(["rule", "reason"], sort=False).size().rename("alerts").reset_index()
    out["share"] = out["alerts"] / len(alerts) * 100
    return out.sort_values("alerts", ascending=False, kind="stable").reset_index(drop=True)[cols]


# ============================================================================================== excel
_HEADERS = {
    "zh": {"alert_id": "预警编号", "customer_id": "客户编号", "response_id": "问卷编号", "stage": "环节ID",
           "stage_name": "环节", "wave": "波次", "priority": "优先级", "rules": "规则", "reason": "预警原因",
           "owner": "责任部门", "created": "创建时间", "due": "处理时限", "verbatim": "客户原声（已脱敏）",
           "touchpoint": "触点", "phone": "联系电话", "name": "姓名", "P1": "P1", "P2": "P2", "P3": "P3", "total": "合计", "rule": "规则",
           "alerts": "预警数", "share": "占比(%)", "item": "项目", "value": "数值"},
    "en": {"alert_id": "Alert ID", "customer_id": "Customer", "response_id": "Response", "stage": "Stage ID",
           "stage_name": "Stage", "wave": "Wave", "priority": "Priority", "rules": "Rules", "reason": "Reason",
           "owner": "Owner", "created": "Created", "due": "Due", "verbatim": "Verbatim (masked)",
           "touchpoint": "Touchpoint", "phone": "Phone", "name": "Name", "P1": "P1", "P2": "P2", "P3": "P3", "total": "Total", "rule": "Rule",
           "alerts": "Alerts", "share": "Share (%)", "item": "Item", "value": "Value"},
}
_SUMMARY = {"zh": "汇总", "en": "Summary"}


def write_alerts_xlsx(alerts: pd.DataFrame, path: str | Path, lang: str = "zh") -> Path:
    """The alerts workbook for the closed loop: a summary sheet (alerts by owner × priority, alerts by
    reason, the share of P1) and one sheet per owner with that owner's work orders (most urgent first).
    Header rows frozen, autofilters set, readable column widths."""
    table, facts = alerts_summary(alerts, lang)
    reasons = reason_counts(alerts, lang)
    reasons.attrs["title"] = {"zh": "按预警原因（一条预警可有多个原因）", "en": "By reason (an alert can have several)"}[lang]
    key = pd.DataFrame({
        "item": [{"zh": "预警总数", "en": "Alerts"}[lang], {"zh": "P1占比(%)", "en": "P1 share (%)"}[lang],
                 {"zh": "预警最多的部门", "en": "Owner with most alerts"}[lang]],
        "value": [facts["n_alerts"], round(facts["p1_share"], 1), f"{facts['top_owner']} ({facts['top_owner_n']})"],
    })
    if facts.get("calendar_note"):
        key.loc[len(key)] = [{"zh": "截止时间说明", "en": "Deadlines"}[lang], facts["calendar_note"]]
    key["value"] = key["value"].astype(str)
    key.attrs["title"] = {"zh": "要点", "en": "Key figures"}[lang]
    sheets: dict[str, Any] = {_SUMMARY[lang]: [table, reasons, key]}
    cols = [c for c in alerts.columns if c != "stage"]
    for owner in table["owner"].tolist():
        sheets[str(owner)] = alerts.loc[alerts["owner"] == owner, cols]
    return write_workbook(path, sheets, _HEADERS.get(lang, _HEADERS["en"]))
