"""Action views: alerts, playbooks and the detractor-risk prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import metrics as m
from ..engine import Dataset
from ..packs import Pack
from .common import Views, base_meta, odata_customers, write_csv
from .waves import Waves, reporting_waves, wave_labels


def _rows_tags(tags: pd.DataFrame | None, rows: pd.Index) -> pd.DataFrame | None:
    """Theme tags of the responses at index labels ``rows``, renumbered 0…len(rows)-1 as the rows are."""
    if tags is None:
        return None
    pos = rows.get_indexer(pd.to_numeric(tags["row"], errors="coerce"))
    return tags[pos >= 0].assign(row=pos[pos >= 0])


def action_views(df: pd.DataFrame, pack: Pack, lang: str, run_dir: str | Path,
                 tags: pd.DataFrame | None = None, max_xlsx_rows: int = 5_000, wave: str | None = None,
                 compare: str | None = None, previous: str | Path | None = None,
                 closed_alerts: str | Path | None = None, alert_window: float = 30, now=None) -> Views:
    """Alerts (alerts.csv, alerts.xlsx) and segment playbooks (playbooks.xlsx) for the reporting wave's
    responses (:func:`reporting_waves`; ``tags`` rows are positions in ``df``), each with its facts.

    With the ``previous`` run (:mod:`cemkit.tracking`): alerts only for responses no earlier run had seen;
    an alert whose customer has an open one from within ``alert_window`` days is listed in
    ``alerts_repeat.csv`` with that alert's id instead of being issued again; with the client's
    ``closed_alerts`` file, the earlier alerts still open go to ``alerts_open.csv``. Every run writes
    ``data/seen_responses.parquet`` and ``data/alerts_issued.parquet`` for the next one.

    Every alert is in alerts.csv and every customer's play in playbooks.csv (UTF-8 with BOM, open in Excel).
    The workbooks hold the summaries and, above ``max_xlsx_rows`` rows, the highest priorities / detractors
    first (openpyxl writes ~2k formatted rows/s: a 300k-row workbook would take minutes and is no way to
    work a list)."""
    from .. import alerts as al
    from .. import playbooks as pb
    from .. import tracking as tr

    run_dir = Path(run_dir)
    out: Views = {}
    prev = tr.load_previous(previous) if previous else None
    closed, closed_info = tr.closed_alert_ids(closed_alerts) if closed_alerts else (None, None)
    (run_dir / "data").mkdir(parents=True, exist_ok=True)
    waves = reporting_waves(df, wave, compare)
    if isinstance(df, Dataset):  # a large run: the rows that raise alerts, read batch by batch
        _write_seen_log(prev, df, run_dir / "data" / "seen_responses.parquet")
        cur = waves.rows(df)
        new_rows, n_seen = _alert_rows(cur, pack, tags, prev) if pack.section("alerts") else (None, 0)
    else:
        df = df.reset_index(drop=True)
        tr.seen_log(prev, df["response_id"]).to_parquet(run_dir / "data" / "seen_responses.parquet", index=False)
        cur = waves.rows(df)
        seen = cur["response_id"].astype("string").isin(prev.seen).to_numpy(dtype=bool) if prev else \
            np.zeros(len(cur), dtype=bool)
        new_rows, n_seen = cur[~seen], int(seen.sum())
    if pack.section("alerts"):
        alerts = _with_contacts(al.evaluate_alerts(new_rows.reset_index(drop=True), pack,
                                                   themes=_rows_tags(tags, new_rows.index), lang=lang, now=now),
                                run_dir)
        repeat = alerts.iloc[:0]
        if prev is not None:
            alerts, repeat = tr.dedupe_alerts(alerts, prev.issued, closed, alert_window)
            write_csv(repeat, run_dir / "alerts_repeat.csv")
        write_csv(alerts, run_dir / "alerts.csv")
        tr.issued_log(prev, alerts, now).to_parquet(run_dir / "data" / "alerts_issued.parquet", index=False)
        book = alerts
        if len(alerts) > max_xlsx_rows:
            book = alerts.sort_values(["priority", "created"], kind="stable").head(max_xlsx_rows)
        al.write_alerts_xlsx(book, run_dir / "alerts.xlsx", lang)
        table, facts = al.alerts_summary(alerts, lang)
        facts["in_xlsx"] = len(book)
        facts.update(has_previous=prev is not None, previous_run=prev.run_id if prev else None,
                     n_seen=n_seen, n_repeat=len(repeat), has_closed=closed is not None,
                     n_prev_alerts=None, n_closed=None, n_open=None, n_overdue=None, closed_unknown=None)
        if prev is not None and closed is not None:
            still = tr.open_alerts(prev.issued, closed, now=now)
            write_csv(still, run_dir / "alerts_open.csv")
            facts.update(n_prev_alerts=len(prev.issued), n_closed=len(prev.issued) - len(still),
                         n_open=len(still), n_overdue=int(still["overdue"].sum()),
                         closed_unknown=len(closed - set(prev.issued["alert_id"].dropna())))
        meta = base_meta(cur, pack, lang, facts={**facts, **waves.facts()}, **waves.meta())
        if closed_info:
            meta["closed_alerts"] = closed_info
        out["alerts_summary"] = (table, meta)
        del alerts, repeat, book  # written: let them go before the playbooks read the wave
    del new_rows
    if pack.section("playbooks"):
        rows = cur.to_pandas(playbook_columns(pack)) if isinstance(cur, Dataset) else cur
        assigned = pb.assign(rows.reset_index(drop=True), pack, lang)
        del rows
        write_csv(assigned, run_dir / "playbooks.csv")
        book = assigned
        if len(assigned) > max_xlsx_rows:  # the full list is in playbooks.csv; the workbook keeps detractors first
            order = {"detractor": 0, "passive": 1, "promoter": 2}
            key = assigned["group"].map(order) if "group" in assigned else pd.Series(0, index=assigned.index)
            book = assigned.loc[key.sort_values(kind="stable").index].head(max_xlsx_rows)
        pb.write_playbooks_xlsx(book, pack, run_dir / "playbooks.xlsx", lang)
        table, facts = pb.summary(assigned, pack, lang)
        out["playbooks"] = (table, base_meta(cur, pack, lang, facts={**facts, **waves.facts()}, **waves.meta()))
    return out


def alert_columns(pack: Pack) -> list[str]:
    """The response columns the alert rules and the work orders read (:func:`cemkit.alerts.evaluate_alerts`)."""
    return ["response_id", "customer_id", "stage", "wave", "date", "comment", "touchpoint", *pack.kpis,
            *pack.segment_ids]


def playbook_columns(pack: Pack) -> list[str]:
    """The response columns a customer's play reads (:func:`cemkit.playbooks.assign`)."""
    return ["customer_id", "response_id", "wave", "stage", "date", "nps", *pack.segment_ids]


def _alert_rows(cur: Dataset, pack: Pack, tags: pd.DataFrame | None, prev) -> tuple[pd.DataFrame, int]:
    """The reporting wave's responses not seen by an earlier run on which an alert rule fires (their index:
    positions in the file, as the theme tags' rows), read batch by batch with :func:`alert_columns` only,
    and how many responses an earlier run had seen. Whether a rule fires depends on its row alone
    (:func:`cemkit.alerts.firing`), so the alerts raised from these rows are those of the whole wave."""
    from .. import alerts as al

    if tags is not None:  # sorted by row once: each batch takes its slice
        tags = tags.assign(row=pd.to_numeric(tags["row"], errors="coerce")).dropna(subset=["row"])
        tags = tags.sort_values("row", kind="stable")
        tag_rows = tags["row"].to_numpy()
    parts, n_seen = [], 0
    for batch in cur.batches(alert_columns(pack)):
        if prev is not None:
            seen = batch["response_id"].astype("string").isin(prev.seen).to_numpy(dtype=bool)
            n_seen += int(seen.sum())
            batch = batch[~seen]
        part = None
        if tags is not None and len(batch):
            lo, hi = np.searchsorted(tag_rows, [batch.index[0], batch.index[-1] + 1])
            part = _rows_tags(tags.iloc[lo:hi], batch.index)
        parts.append(batch[al.firing(batch.reset_index(drop=True), pack, themes=part)])
    return pd.concat(parts), n_seen


def _write_seen_log(prev, ds: Dataset, path: Path) -> None:
    """:func:`cemkit.tracking.seen_log` of every response id in ``ds`` written batch by batch: the previous
    runs' ids, then this run's not among them (ids are unique in the clean table: ingest quarantines a
    repeated id)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .. import tracking as tr

    schema = pa.schema([("response_id", pa.string())])
    with pq.ParquetWriter(path, schema) as out:
        if prev is not None:
            out.write_table(pa.Table.from_pandas(tr.seen_log(prev, pd.Series([], dtype="string")),
                                                 schema=schema, preserve_index=False))
        for batch in ds.batches(["response_id"]):
            log = tr.seen_log(None, batch["response_id"])
            if prev is not None:
                log = log[~log["response_id"].isin(prev.seen).to_numpy(dtype=bool)]
            out.write_table(pa.Table.from_pandas(log, schema=schema, preserve_index=False))


def _with_contacts(alerts: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    """Work orders with the contact the mapping kept (``keep_pii``: ``data/contacts.parquet``), after the
    customer id: the only way a real phone number or name reaches an output. Without ``keep_pii`` the
    work orders carry the (pseudonymised) customer id only."""
    path = run_dir / "data" / "contacts.parquet"
    if not path.exists() or not len(alerts) or "response_id" not in alerts:
        return alerts
    contacts = pd.read_parquet(path).drop(columns=["customer_id"], errors="ignore")
    contacts = contacts.drop_duplicates("response_id").astype({"response_id": "str"})
    kept = [c for c in contacts.columns if c != "response_id"]
    out = alerts.merge(contacts, on="response_id", how="left", sort=False)
    at = list(alerts.columns).index("customer_id") + 1 if "customer_id" in alerts else 1
    order = [*list(alerts.columns)[:at], *kept, *list(alerts.columns)[at:]]
    return out[order]


CLAIM_AUC = 0.70  # Hosmer & Lemeshow's "acceptable": below it the deck says the model ranks, not identifies
#: the response columns the detractor-risk model and its footnote read (:func:`cemkit.views.frame`)
PREDICTION_COLUMNS = ("response_id", "customer_id", "wave", "date", "nps", "weight")


def prediction_views(df: pd.DataFrame | Dataset, pack: Pack, lang: str, run_dir: str | Path,
                     odata: pd.DataFrame | str | Path | None = None, seed: int = 0, *, prediction=None) -> Views:
    """The detractor-risk model from O-data (refused with its reason when it cannot be trusted), its lift
    and calibration by risk decile (``prediction_lift``) and the ranked list of silent customers
    (top_risk.xlsx). Silent customers: the O-data customers without a survey response in the data.
    ``prediction``: :func:`cemkit.predict.fit_predict` of ``df`` and ``odata`` when the notebook has fitted
    it already."""
    from .. import predict as pr

    run_dir = Path(run_dir)
    out: Views = {}
    spec = pack.odata or {}
    if odata is not None and odata_customers(odata) and spec.get("features"):
        min_auc = float(spec.get("min_auc", 0.60))
        pred = (prediction if prediction is not None
                else pr.fit_predict(df, odata, pack, seed=seed, lang=lang, min_auc=min_auc))
        facts = {**pred.facts, "refused": bool(pred.refused), "min_auc": min_auc, "claim_auc": CLAIM_AUC,
                 "claim": (not pred.refused) and float(pred.facts.get("auc") or 0) >= CLAIM_AUC}
        labels = tuple(wave_labels(df))  # the model learns from the respondents of every wave: said in the footnote
        meta = base_meta(df, pack, lang, facts=facts, **Waves(labels, m.ALL, None).meta(),
                         test={"zh": "5折交叉验证AUC（样本外预测）", "en": "5-fold cross-validated AUC (out-of-fold)"}[lang])
        meta["base"]["n"] = int(pred.n_labelled)
        if pred.refused:
            reason = facts.get("reason") or {}
            lines = [reason.get(lang, str(reason)) if isinstance(reason, dict) else str(reason),
                     {"zh": f"有评分的客户：{pred.n_labelled:,}", "en": f"labelled customers: {pred.n_labelled:,}"}[lang],
                     {"zh": "需要：更多可关联运营数据的已作答客户，或更能区分体验的运营字段（如投诉、返修、等待时长记录）",
                      "en": "needed: more respondents joined to O-data, or O-data fields that track the experience "
                            "(complaints, repeat repairs, waiting times)"}[lang]]
            out["prediction"] = (pd.DataFrame({"finding": lines}), meta)
        else:
            pr.write_top_risk_xlsx(pred, run_dir / "top_risk.xlsx", lang)
            out["prediction"] = (pred.importance, meta)
            # predict.lift_table's groups (fractions) as the slide reads them: deciles, rates and capture in %
            g = pred.lift
            lift = pd.DataFrame({"decile": g["group"].to_numpy(), "n": g["n"].to_numpy(),
                                 "observed_rate": 100 * g["observed_rate"].to_numpy(),
                                 "mean_predicted": 100 * g["mean_predicted"].to_numpy(),
                                 "lift": g["lift"].to_numpy(), "capture": 100 * g["gains"].to_numpy()})
            lift["band"] = [_band(d, len(lift), lang) for d in lift["decile"]]
            lift["base_rate"] = float(pred.facts["detractor_rate"])
            lift["is_top"] = lift["decile"] == 1
            out["prediction_lift"] = (lift, meta)
    return out


def _band(decile: int, groups: int, lang: str) -> str:
    """Risk band of a decile: 前10% / Top 10%, then 10–20% …"""
    step = 100 // groups
    if decile == 1:
        return f"前{step}%" if lang == "zh" else f"Top {step}%"
    return f"{(decile - 1) * step}–{decile * step}%"
