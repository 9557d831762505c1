"""Tracking: what a run takes over from the engagement's previous run, so a tracker's next delivery gets work
orders for its new responses only and a "since the last report" slide.

The previous good run (``cemkit run --previous RUN``, or the engagement's last good run) tells this one:

* **which responses were already seen**: ``data/seen_responses.parquet`` in each run folder holds the response
  ids of that run and of every run it built on. Alerts are raised only for responses not seen before, so a
  re-delivered export (both waves again) does not re-issue last month's work orders.
* **which alerts were already issued**: ``data/alerts_issued.parquet`` holds every alert of the engagement so
  far with the run that issued it. A customer who already has an alert that is still open and was raised
  within the alert window (default 30 days) before the new one gets no second work order: the new alert is
  listed in ``alerts_repeat.csv`` with the id of the open alert, for its owner to add to the file.
* **which of those alerts the client has closed**: a closed-alerts file (CSV/XLSX as the client returns it:
  the alert ids under ``alert_id`` / ``预警编号`` / ``Alert ID``, optionally a status column ``status`` /
  ``状态`` / ``处理状态`` whose closed values are 已关闭, 已完成, 已处理, 已解决, 已结案, closed, done, resolved …;
  without a status column every listed id counts as closed). The other issued alerts are still open, and
  overdue once past their SLA due time.

Anonymous responses (no customer id) are never merged with another customer's alert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["CLOSED_VALUES", "ISSUED_COLUMNS", "Previous", "closed_alert_ids", "dedupe_alerts", "issued_log",
           "load_previous", "open_alerts", "seen_log"]

ISSUED_COLUMNS = ["alert_id", "customer_id", "response_id", "stage", "wave", "priority", "owner", "created", "due",
                  "issued"]
#: status values (normalised: lower case, no spaces) that mean the client closed the alert
CLOSED_VALUES = frozenset({"closed", "close", "done", "resolved", "completed", "complete", "finished", "yes", "y",
                           "true", "1", "已关闭", "关闭", "已完成", "完成", "已处理", "处理完成", "已解决", "解决",
                           "已结案", "结案", "已回访", "是"})
_ID_HEADERS = ("alertid", "预警编号", "预警id", "工单编号", "工单号")
_STATUS_HEADERS = ("status", "状态", "处理状态", "工单状态", "closed", "是否关闭", "是否已关闭")


@dataclass
class Previous:
    """The run a new run builds on: its folder, its run.json, the response ids it had seen (with those of the
    runs before it) and every alert issued so far."""

    run_dir: Path
    info: dict[str, Any]
    seen: pd.Index
    issued: pd.DataFrame
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def report_wave(self) -> str | None:
        return (self.info.get("wave") or {}).get("report")


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip()


def load_previous(run_dir: str | Path) -> Previous:
    """The previous run's seen responses, issued alerts and headline facts. Raises :class:`InputError` when
    the folder is not a finished cemkit run."""
    run_dir = Path(run_dir).resolve()
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise InputError(f"--previous {run_dir}: not a finished cemkit run (no run.json in the folder)")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    data = run_dir / "data"
    seen_path = data / "seen_responses.parquet"
    if seen_path.exists():
        seen = pd.read_parquet(seen_path, columns=["response_id"])["response_id"]
    elif (data / "responses.parquet").exists():  # a run made before tracking: its own responses
        seen = pd.read_parquet(data / "responses.parquet", columns=["response_id"])["response_id"]
    else:
        raise InputError(f"--previous {run_dir}: the run has no data/responses.parquet")
    issued_path = data / "alerts_issued.parquet"
    if issued_path.exists():
        issued = pd.read_parquet(issued_path)
    elif (run_dir / "alerts.csv").exists():
        issued = _issued_from_csv(run_dir / "alerts.csv")
    else:
        issued = _empty_issued()
    facts = {}
    curve = run_dir / "results" / "journey_curve.json"
    if curve.exists():
        facts = json.loads(curve.read_text(encoding="utf-8")).get("facts") or {}
    return Previous(run_dir, info, pd.Index(_text(seen).dropna().unique()), issued, facts)


def _empty_issued() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in ISSUED_COLUMNS})
    for c in ("created", "due", "issued"):
        frame[c] = pd.Series(dtype="datetime64[ns]")
    return frame


def _issued_from_csv(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    out = _empty_issued()
    if not len(raw):
        return out
    frame = pd.DataFrame({c: raw.get(c, pd.NA) for c in ISSUED_COLUMNS if c != "issued"})
    frame["issued"] = pd.NaT  # a run made before tracking: when it issued them is not recorded
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[ISSUED_COLUMNS].copy()
    for c in ISSUED_COLUMNS:
        if c in ("created", "due", "issued"):
            t = pd.to_datetime(out[c], errors="coerce")
            out[c] = (t.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(t.dt, "tz", None) is not None else t
                      ).astype("datetime64[ns]")
        else:
            out[c] = _text(out[c]).replace("", pd.NA)
    return out.reset_index(drop=True)


def seen_log(previous: Previous | None, response_ids: pd.Series) -> pd.DataFrame:
    """Every response id seen so far: the previous runs' and this run's (one column ``response_id``)."""
    ids = _text(response_ids).dropna()
    if previous is not None:
        ids = pd.concat([pd.Series(previous.seen, dtype="string"), ids], ignore_index=True)
    return pd.DataFrame({"response_id": pd.unique(ids.to_numpy())}).astype("string")


def issued_log(previous: Previous | None, alerts: pd.DataFrame, issued: Any = None) -> pd.DataFrame:
    """Every alert issued so far: the previous runs' and this run's new alerts, with when each was issued
    (``issued``: this run's time, default now)."""
    when = pd.Timestamp.now().floor("s") if issued is None else pd.Timestamp(issued)
    new = alerts.reindex(columns=[c for c in ISSUED_COLUMNS if c != "issued"]).assign(issued=when)
    new = _typed(new)
    if previous is None or not len(previous.issued):
        return new
    return pd.concat([_typed(previous.issued.reindex(columns=ISSUED_COLUMNS)), new], ignore_index=True)


def closed_alert_ids(path: str | Path) -> tuple[set[str], dict[str, Any]]:
    """Alert ids the client closed, from the file they returned, and what was read (``rows``, ``closed``,
    ``id_column``, ``status_column``). Raises :class:`InputError` naming the file when no column holds ids."""
    from .ingest import normalise_header, read_table

    table = read_table(path)
    heads = {normalise_header(str(h)).replace(" ", "").replace("_", "").lower(): h for h in table.columns}
    id_col = next((heads[k] for k in _ID_HEADERS if k in heads), None)
    if id_col is None:
        raise InputError(f"{Path(path).name}: no column of alert ids (expected one of alert_id, 预警编号, "
                         f"Alert ID; the file has {', '.join(map(str, table.columns[:12]))})")
    ids = _text(table[id_col])
    status_col = next((heads[k] for k in _STATUS_HEADERS if k in heads), None)
    keep = ids.notna() & ids.ne("")
    if status_col is not None:
        status = _text(table[status_col]).str.lower()
        status = status.str.replace(r"\s+", "", regex=True)
        keep &= status.isin(CLOSED_VALUES).fillna(False)
    closed = set(ids[keep].tolist())
    return closed, {"file": Path(path).name, "rows": len(table), "closed": len(closed),
                    "id_column": str(id_col), "status_column": None if status_col is None else str(status_col)}


def _who(frame: pd.DataFrame) -> pd.Series:
    """The customer an alert follows up (anonymous alerts: their own response, never merged)."""
    cust = _text(frame["customer_id"]) if "customer_id" in frame else pd.Series(pd.NA, index=frame.index,
                                                                               dtype="string")
    return cust.fillna("R:" + _text(frame["response_id"]))


def dedupe_alerts(alerts: pd.DataFrame, issued: pd.DataFrame, closed: set[str] | None = None,
                  window_days: float = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split new ``alerts`` into those to issue and repeats. A repeat is an alert whose id (customer, stage,
    wave) was issued before and is not closed, or whose customer has another issued, not closed alert
    created within ``window_days`` before or after it; it is returned with ``open_alert_id`` (that alert, the
    most recent one). An alert whose id was issued and closed is a new work order: its id gets a suffix
    (``-2``, ``-3`` …). Returns ``(issue, repeat)``."""
    if not len(alerts) or not len(issued):
        return alerts, alerts.iloc[:0].assign(open_alert_id=pd.Series(dtype="string"))
    closed = closed or set()
    ids = _text(alerts["alert_id"])
    old_ids = set(_text(issued["alert_id"]).dropna())
    same = ids.isin(old_ids - closed).to_numpy(dtype=bool)
    reopened = ids.isin(old_ids & closed).to_numpy(dtype=bool)
    if reopened.any():  # a new complaint after the client closed the last one: a new work order, a new id
        alerts = alerts.copy()
        fresh = []
        for i in ids[reopened]:
            k = 2
            while f"{i}-{k}" in old_ids:
                k += 1
            fresh.append(f"{i}-{k}")
        alerts.loc[reopened, "alert_id"] = fresh
    hit, open_id = _window_repeats(alerts, issued, closed, window_days)
    hit |= same
    open_id = np.where(same, ids.to_numpy(dtype=object), open_id)
    repeat = alerts[hit].copy()
    repeat["open_alert_id"] = pd.array(open_id[hit], dtype="string")
    return alerts[~hit].reset_index(drop=True), repeat.reset_index(drop=True)


def _window_repeats(alerts: pd.DataFrame, issued: pd.DataFrame, closed: set[str],
                    window_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Per alert: does its customer have an open issued alert within the window, and which (the latest)."""
    hit = np.zeros(len(alerts), dtype=bool)
    open_id = np.full(len(alerts), None, dtype=object)
    if window_days <= 0:
        return hit, open_id
    prior = issued[~_text(issued["alert_id"]).isin(closed)]
    prior = prior.assign(__who=_who(prior), __t=pd.to_datetime(prior["created"], errors="coerce"))
    prior = prior.dropna(subset=["__t"]).sort_values("__t", kind="stable")
    cand = alerts.assign(__who=_who(alerts).to_numpy(), __t=pd.to_datetime(alerts["created"], errors="coerce"),
                         __i=np.arange(len(alerts)))
    if getattr(cand["__t"].dt, "tz", None) is not None:
        cand["__t"] = cand["__t"].dt.tz_convert("UTC").dt.tz_localize(None)
    pairs = cand[["__i", "__who", "__t"]].merge(prior[["__who", "__t", "alert_id"]], on="__who",
                                                 suffixes=("", "_prior"))
    window = pd.Timedelta(days=float(window_days))
    pairs = pairs[(pairs["__t"] - pairs["__t_prior"]).abs() <= window]
    pairs = pairs.sort_values(["__i", "__t_prior"], kind="stable").drop_duplicates("__i", keep="last")
    at = pairs["__i"].to_numpy(dtype=np.int64)
    hit[at] = True
    open_id[at] = pairs["alert_id"].to_numpy(dtype=object)
    return hit, open_id


def open_alerts(issued: pd.DataFrame, closed: set[str], now: Any = None) -> pd.DataFrame:
    """The issued alerts the client has not closed, with ``overdue`` (due time passed at ``now``)."""
    now_ts = pd.Timestamp.now() if now is None else pd.Timestamp(now)
    out = issued[~_text(issued["alert_id"]).isin(closed)].copy()
    out["overdue"] = pd.to_datetime(out["due"], errors="coerce") < now_ts
    return out.reset_index(drop=True)
