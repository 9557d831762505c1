"""Predicted experience of silent customers: a detractor-risk model on operational (O-data) features.

Most customers never answer a survey. :func:`fit_predict` learns, on the customers who did, how their
O-data (DMS / CRM fields the pack declares under ``odata.features``) relates to being a detractor, checks
honestly whether that relation is strong enough to act on, and only then scores the silent customers.

Method
------
* **Target**: one row per *respondent customer*, from the customer's **latest** response with an NPS answer
  (latest wave, then date, then row; see :func:`cemkit.playbooks.latest_responses`): 1 when that NPS is a
  detractor score (0-6), else 0. One row per customer keeps customers who answered several stages from
  being counted (and cross-validated) several times.
* **Sample**: above 20,000 labelled customers (``max_train``) both models are fitted and cross-validated on
  a random sample of 20,000, stratified by the target (each class in proportion to its share;
  ``facts["n_labelled"]`` is the sample, ``n_respondents`` all labelled customers with O-data, and the
  notes say so): the AUC's standard error at that size is well under 0.01, and fitting on millions would
  only cost time. Every silent customer is scored, in batches (:mod:`cemkit.predict_data`).
* **Features**: the pack's ``odata.features`` only, joined by ``odata.key`` (default ``customer_id``);
  features with ``kind: category`` are one-hot encoded, numeric ones median-imputed.
  **Leakage guard**: a feature that is a survey field (a pack KPI, attribute or field id, ``comment``,
  ``wave``, ``stage`` …) or that the pack marks ``post_survey: true`` (recorded after the survey, e.g. a
  complaint logged because of the answer) is refused with :class:`LeakageError` (a ``ValueError``).
* **Models**: an L2-regularised logistic regression on standardised features (the baseline; scikit-learn
  ``LogisticRegression(C=1)``) and a gradient-boosting model (``HistGradientBoostingClassifier``: 100 trees
  of depth ≤ 3, learning rate 0.05, ≥ 100 customers per leaf, L2 1.0 — shallow and slow-learning, because
  survey-sized samples of a few thousand customers overfit deeper trees). Both are
  scored by 5-fold stratified cross-validated ROC AUC on out-of-fold probabilities (``cross_val_predict``).
  The boosting model is chosen only when it beats the baseline by at least 0.01 AUC; otherwise the baseline
  is kept and the facts say so. Calibration of the chosen model: Brier score and a 10-bin reliability table
  (equal-width bins of predicted probability) on the out-of-fold probabilities. What a call list gains:
  :func:`lift_table` ranks the labelled customers by their out-of-fold risk into deciles — the detractor
  rate of the riskiest tenth (``hit_rate``, %), its ratio to the overall rate (``lift``) and the share of all
  detractors it holds (``capture``, %; the table's ``gains`` of group 1).
* **Refusal**: with fewer than ``min_rows`` labelled customers, fewer than 5 of either class, or a chosen
  model whose cross-validated AUC is below ``min_auc`` (0.60 by default), the result is a
  :class:`Prediction` with ``refused=True`` and the reason — not an exception — and nobody is scored.
  Hosmer & Lemeshow call 0.5-0.7 "poor", 0.7-0.8 "acceptable", 0.8-0.9 "excellent" discrimination; the
  band is reported in ``facts["discrimination"]`` so a deck never oversells a 0.6x model.
* **Explanations**: global importance is the permutation importance (mean drop in ROC AUC when one
  original feature is shuffled, 5 repeats, on the labelled data) of the chosen model. Per customer, a
  feature's contribution is, for the logistic model, coefficient × standardised value (log-odds, relative
  to the average customer; one-hot columns summed per feature) and, for the boosting model, the change in
  predicted risk (probability) when that feature is set to its median (mode for a category). The top three
  positive contributions are the customer's ``top_reasons``.

References: Hosmer, Lemeshow & Sturdivant (2013) *Applied Logistic Regression*, 3rd ed., §5.2.4 (AUC bands);
Brier (1950) *Monthly Weather Review* 78(1); Breiman (2001) *Machine Learning* 45 (permutation importance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import predict_explain as explain
from .alerts import joiner
from .engine import Dataset
from .errors import InputError
from .packs import Pack
from .workbook import write_workbook

__all__ = [
    "MIN_UPLIFT",
    "N_SPLITS",
    "LeakageError",
    "Prediction",
    "check_leakage",
    "discrimination",
    "fit_predict",
    "lift_table",
    "reliability_table",
    "survey_fields",
    "write_top_risk_xlsx",
]

N_SPLITS = 5
MIN_UPLIFT = 0.01  # AUC the boosting model must add over the baseline to be chosen
_NOT_FEATURES = ("comment", "wave", "stage", "response_id", "date", "touchpoint", "weight", "responded")


class LeakageError(InputError, ValueError):
    """An O-data feature would leak the survey answer into the model (survey field or post-survey data)."""


def _txt(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


@dataclass
class Prediction:
    """Result of :func:`fit_predict`.

    ``auc_baseline``: cross-validated ROC AUC of the logistic baseline; ``auc_model``: that of the
    gradient-boosting model; ``model_name``: the model chosen (``"logistic"`` or ``"gbm"``; "" when not
    fitted); :attr:`auc`: the chosen model's AUC. ``brier``: Brier score of the chosen model's out-of-fold
    probabilities (0 = perfect; a constant base-rate forecast scores p(1-p)). ``calibration``: reliability
    table (``bin, p_low, p_high, n, mean_predicted, observed_rate``). ``lift``: :func:`lift_table` of the same
    out-of-fold probabilities. ``importance``: ``feature,
    feature_name, importance, importance_sd, direction`` (permutation AUC drop; direction +1 when higher
    values raise the risk), most important first. ``top_risk``: the silent customers, riskiest first:
    ``rank, customer_id, risk`` (predicted probability of being a detractor, 0-1), ``top_reasons``.
    ``contributions``: per scored customer and feature (same order as ``top_risk``). ``facts``: the values
    slide titles use (``auc, top_feature {zh, en}, refused, reason {zh, en}, uplift, verdict {zh, en}`` …).
    """

    refused: bool
    reason: str
    n_labelled: int = 0
    auc_baseline: float = float("nan")
    auc_model: float = float("nan")
    model_name: str = ""
    brier: float = float("nan")
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    lift: pd.DataFrame = field(default_factory=pd.DataFrame)
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)
    top_risk: pd.DataFrame = field(default_factory=pd.DataFrame)
    facts: dict[str, Any] = field(default_factory=dict)
    n_scored: int = 0
    features: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    contributions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    model: Any = field(default=None, repr=False)

    @property
    def auc(self) -> float:
        """Cross-validated AUC of the chosen model (NaN when no model was cross-validated)."""
        if self.model_name == "gbm":
            return self.auc_model
        return self.auc_baseline


# ============================================================================================ leakage
def survey_fields(pack: Pack) -> dict[str, str]:
    """Names that belong to the survey, never to O-data features: name → what it is."""
    out = {c: "survey column" for c in _NOT_FEATURES}
    out.update({f: "survey field (pack fields)" for f in pack.fields})
    out.update({a: "survey attribute rating" for a in pack.attributes})
    out.update({k: "survey KPI" for k in pack.kpis})
    return out


def check_leakage(pack: Pack, features: dict[str, Any] | None = None) -> None:
    """Raise :class:`LeakageError` naming every feature (default: the pack's ``odata.features``) that is a
    survey field or is marked ``post_survey: true``. Returns None when the features are clean."""
    features = (pack.odata or {}).get("features") or {} if features is None else features
    survey = survey_fields(pack)
    bad = []
    for name, spec in features.items():
        if name in survey:
            bad.append(f"{name!r} is a {survey[name]}")
        elif isinstance(spec, dict) and spec.get("post_survey"):
            bad.append(f"{name!r} is marked post_survey: true (recorded after the survey)")
    if bad:
        raise LeakageError("O-data features would leak the survey answer into the prediction model: "
                           + "; ".join(bad) + ". Remove them from odata.features in pack.yaml.")


# ========================================================================================== modelling
def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability (calibration) table: equal-width bins of predicted probability with the number of
    customers, mean predicted probability and observed detractor rate per bin (NaN for empty bins)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    b = np.clip((p * bins).astype(int), 0, bins - 1)
    n = np.bincount(b, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(b, weights=p, minlength=bins) / n
        obs = np.bincount(b, weights=y, minlength=bins) / n
    edges = np.linspace(0, 1, bins + 1)
    return pd.DataFrame({"bin": np.arange(1, bins + 1), "p_low": edges[:-1], "p_high": edges[1:], "n": n,
                         "mean_predicted": mean_p, "observed_rate": obs})


def lift_table(y: np.ndarray, p: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Lift of a risk score: customers sorted by predicted probability, riskiest first (ties in input order),
    cut into ``groups`` groups of equal size (± 1; deciles by default). Per group: ``n``, ``mean_predicted``,
    ``observed_rate`` (share of detractors), ``lift`` = observed rate / overall rate, and ``gains`` = share of
    all detractors found in this and the riskier groups (the cumulative gains curve). ``attrs["base_rate"]``
    is the overall rate."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n = len(y)
    order = np.argsort(-p, kind="stable")
    g = np.arange(n) * groups // max(n, 1)  # group of each position in risk order
    size = np.bincount(g, minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = np.bincount(g, weights=y[order], minlength=groups)
        rate = det / size
        base = y.mean() if n else np.nan
        out = pd.DataFrame({"group": np.arange(1, groups + 1), "n": size,
                            "mean_predicted": np.bincount(g, weights=p[order], minlength=groups) / size,
                            "observed_rate": rate, "lift": rate / base, "gains": np.cumsum(det) / det.sum()})
    out.attrs["base_rate"] = float(base)
    return out


def _models(num: list[str], cat: list[str], seed: int) -> dict[str, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def prep() -> ColumnTransformer:
        return ColumnTransformer(
            [("num", SimpleImputer(strategy="median", keep_empty_features=True), num),
             ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat)],
            verbose_feature_names_out=False)

    logistic = Pipeline([("prep", prep()), ("scale", StandardScaler()),
                         ("model", LogisticRegression(C=1.0, max_iter=2000))])
    gbm = Pipeline([("prep", prep()),
                    ("model", HistGradientBoostingClassifier(
                        learning_rate=0.05, max_iter=100, max_depth=3, min_samples_leaf=100,
                        l2_regularization=1.0, early_stopping=False, random_state=seed))])
    return {"logistic": logistic, "gbm": gbm}


#: silent customers scored at a time (the scores are row by row: the same in any batch size)
SCORE_BATCH = 200_000


def _design(frame: pd.DataFrame, num: list[str], cat: list[str]) -> pd.DataFrame:
    """The model input: numeric features as float, categorical ones as strings (missing → "(missing)")."""
    cols = {}
    for f in num:
        s = frame[f]
        if pd.api.types.is_bool_dtype(s):
            s = s.astype(float)
        try:
            cols[f] = pd.to_numeric(s).astype(float)
        except (ValueError, TypeError):
            raise InputError(f"O-data feature {f!r} is not numeric; mark it `kind: category` under "
                             f"odata.features in pack.yaml if it is a category") from None
    for f in cat:
        cols[f] = frame[f].astype("string").fillna("(missing)").astype(object)
    return pd.DataFrame(cols, index=frame.index)[num + cat]


def discrimination(auc: float | None) -> dict[str, str]:
    """Hosmer & Lemeshow's (2013, §5.2.4) verbal band for a ROC AUC, in both languages."""
    if auc is None or np.isnan(auc):
        return _txt("–", "–")
    for lo, zh, en in ((0.9, "极好", "outstanding"), (0.8, "优秀", "excellent"), (0.7, "可接受", "acceptable"),
                       (0.5, "较弱", "poor")):
        if auc >= lo:
            return _txt(zh, en)
    return _txt("无区分力", "none")


MAX_LISTED = 20_000  # riskiest silent customers listed with reasons when top_n is None


def _refuse(reason: dict[str, str], lang: str, **kw: Any) -> Prediction:
    pred = Prediction(refused=True, reason=reason[lang], **kw)
    pred.facts = {
        "refused": True, "reason": reason, "auc": None if np.isnan(pred.auc) else float(pred.auc),
        "auc_baseline": None if np.isnan(pred.auc_baseline) else float(pred.auc_baseline),
        "auc_gbm": None if np.isnan(pred.auc_model) else float(pred.auc_model),
        "uplift": (None if np.isnan(pred.auc_model) or np.isnan(pred.auc_baseline)
                   else float(pred.auc_model - pred.auc_baseline)),
        "model_name": pred.model_name, "top_feature": _txt("–", "–"), "n_labelled": pred.n_labelled,
        "discrimination": discrimination(None if np.isnan(pred.auc) else float(pred.auc)),
        "n_scored": 0, "brier": None if np.isnan(pred.brier) else float(pred.brier),
        "verdict": None,
    }
    return pred


def fit_predict(responses: pd.DataFrame | Dataset, odata: pd.DataFrame | str | Path, pack: Pack, seed: int = 0,
                min_rows: int = 200, min_auc: float = 0.60, lang: str | None = None, top_n: int | None = None,
                min_uplift: float = MIN_UPLIFT, max_train: int | None = 20_000) -> Prediction:
    """Fit the detractor-risk model on respondents' O-data and score the silent customers.

    ``responses``: the clean response table, or a :class:`~cemkit.engine.Dataset` of it; ``odata``: one row
    per customer (respondents and not) with the pack's ``odata.key`` and ``odata.features`` — a DataFrame,
    or the path of its parquet file (read batch by batch: :mod:`cemkit.predict_data`; the same result).
    Silent customers are the O-data customers who do not appear in ``responses`` (this covers
    ``responded == False``). ``lang``: language of feature names and reasons (default: the pack's).
    ``top_n``: keep only the riskiest ``top_n`` customers in ``top_risk`` (default: :data:`MAX_LISTED`).
    ``max_train``: above this many labelled customers the models are fitted on a random sample of that
    size (the notes and ``facts["n_train"]`` say so). See the module docstring for the method; raises
    :class:`LeakageError` (ValueError) when a feature would leak the survey answer,
    :class:`~cemkit.errors.InputError` for unusable O-data.
    """
    from . import predict_data

    lang = lang or pack.language
    spec = pack.odata or {}
    declared: dict[str, Any] = dict(spec.get("features") or {})
    check_leakage(pack, declared)
    key = str(spec.get("key", "customer_id"))
    if not declared:
        return _refuse(_txt("行业包未声明运营数据特征（odata.features）",
                            "the pack declares no O-data features (odata.features)"), lang)
    in_memory = isinstance(odata, pd.DataFrame)
    if not in_memory:
        import pyarrow.parquet as pq

        od_columns = list(pq.read_schema(odata).names)
    else:
        od_columns = list(odata.columns)
    if key not in od_columns:
        raise InputError(f"the O-data has no key column {key!r} (odata.key in pack.yaml)")
    if "customer_id" not in responses:
        raise InputError("the response table has no customer_id column")
    if in_memory:
        table = responses.to_pandas(["customer_id", "response_id", "wave", "date", "nps"]) \
            if isinstance(responses, Dataset) else responses
        data = predict_data.from_frames(table, odata, key, max_train, seed, SCORE_BATCH)
    else:
        if not isinstance(responses, Dataset):
            raise TypeError("O-data given as a parquet file needs the responses as a cemkit.engine.Dataset")
        data = predict_data.from_files(responses, odata, key, max_train, seed, SCORE_BATCH)
    feats = [f for f in declared if f in od_columns]
    notes = []
    missing = [f for f in declared if f not in od_columns]
    if missing:
        notes.append(f"O-data lacks declared feature(s) {', '.join(missing)}: modelled without them")
    if not feats:
        return _refuse(_txt("运营数据中没有行业包声明的任何特征", "the O-data has none of the pack's declared features"),
                       lang, notes=notes)
    cat = [f for f in feats if (declared[f] or {}).get("kind") == "category"]
    num = [f for f in feats if f not in cat]

    if not data.n_last:
        return _refuse(_txt("问卷数据没有客户编号（匿名问卷），无法与运营数据关联",
                            "the survey has no customer ids (anonymous): nothing joins it to the O-data"),
                       lang, features=feats, notes=notes)
    not_joined = int(data.n_last - data.n_joined)
    if not_joined:
        notes.append(f"{not_joined} respondent customer(s) have no O-data row and are not used")
    if len(data.lab) < data.n_joined:  # fitted on a sample of labelled customers; all silent ones are scored
        notes.append(f"model fitted on a random sample of {len(data.lab):,} of the {data.n_joined:,} labelled "
                     f"customers, stratified by detractor or not")
    lab = data.lab
    y = (lab["nps"].to_numpy(dtype=float) <= 6).astype(int)
    n = len(lab)
    name_of = {f: (declared[f] or {}).get("name", f) for f in feats}

    def fname(f: str, lg: str) -> str:
        nm = name_of[f]
        return str(nm.get(lg) or nm.get("zh") or f) if isinstance(nm, dict) else str(nm)

    if n < min_rows:
        return _refuse(_txt(f"有效样本仅{n}个客户，少于{min_rows}个", f"only {n} labelled customers, fewer than {min_rows}"),
                       lang, n_labelled=n, features=feats, notes=notes)
    k_det, k_other = int(y.sum()), int(n - y.sum())
    if min(k_det, k_other) < N_SPLITS:
        return _refuse(_txt(f"贬损者{k_det}个、非贬损者{k_other}个，无法交叉验证",
                            f"{k_det} detractors and {k_other} others: too few to cross-validate"),
                       lang, n_labelled=n, features=feats, notes=notes)

    # OpenMP threads cost more than they save on survey-sized data (sklearn's boosting spends most of a
    # small fit synchronising threads): fit single-threaded below 50,000 customers.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1 if n < 50_000 else None, user_api="openmp"):
        return _fit_score(data, lab, y, key, num, cat, fname, seed, min_auc, min_uplift, lang, top_n, notes)


def _fit_score(data: Any, lab: pd.DataFrame, y: np.ndarray, key: str, num: list[str], cat: list[str], fname: Any,
               seed: int, min_auc: float, min_uplift: float, lang: str, top_n: int | None,
               notes: list[str]) -> Prediction:
    """Cross-validate both models, choose, refuse or score the silent customers of ``data``
    (:class:`cemkit.predict_data.Rows`; the second half of :func:`fit_predict`)."""
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    n = len(lab)
    feats = num + cat
    X = _design(lab, num, cat)
    models = _models(num, cat, seed)
    cv = StratifiedKFold(n_splits=N_SPLITS, shuffle=True, random_state=seed)
    oof = {m: cross_val_predict(pipe, X, y, cv=cv, method="predict_proba")[:, 1] for m, pipe in models.items()}
    auc_b, auc_g = float(roc_auc_score(y, oof["logistic"])), float(roc_auc_score(y, oof["gbm"]))
    uplift = auc_g - auc_b
    chosen = "gbm" if uplift >= min_uplift else "logistic"
    auc = auc_g if chosen == "gbm" else auc_b
    brier = float(brier_score_loss(y, oof[chosen]))
    calib = reliability_table(y, oof[chosen])
    lift = lift_table(y, oof[chosen])
    if chosen == "gbm":
        verdict = _txt(f"梯度提升模型AUC {auc_g:.3f}，比逻辑回归基线（{auc_b:.3f}）高{uplift:.3f}，采用梯度提升模型",
                       f"gradient boosting (AUC {auc_g:.3f}) beats the logistic baseline ({auc_b:.3f}) by "
                       f"{uplift:.3f}: boosting is used")
    else:
        word = ("高", "higher") if uplift >= 0 else ("低", "lower")
        verdict = _txt(f"梯度提升模型AUC {auc_g:.3f}，比逻辑回归基线（{auc_b:.3f}）{word[0]}{abs(uplift):.3f}，"
                       f"提升不足{min_uplift:.2f}，保留逻辑回归基线",
                       f"gradient boosting (AUC {auc_g:.3f}) is {abs(uplift):.3f} {word[1]} than the logistic "
                       f"baseline ({auc_b:.3f}), less than {min_uplift:.2f} better: the baseline is kept")
    common: dict[str, Any] = {"n_labelled": n, "auc_baseline": auc_b, "auc_model": auc_g, "model_name": chosen,
                              "brier": brier, "calibration": calib, "lift": lift, "features": feats, "notes": notes}
    if auc < min_auc:
        pred = _refuse(_txt(f"交叉验证AUC仅{auc:.2f}，低于{min_auc:.2f}",
                            f"cross-validated AUC {auc:.2f} is below {min_auc:.2f}"), lang, **common)
        pred.facts["verdict"] = verdict
        return pred

    pipe = models[chosen].fit(X, y)
    perm = permutation_importance(pipe, X, y, scoring="roc_auc", n_repeats=5, random_state=seed)
    contrib_lab = explain.contributions(chosen, pipe, X, X, num, cat)
    direction = np.full(len(feats), np.nan)
    for j, f in enumerate(num):  # sign of the relation between a feature's value and its contribution
        xv = X[f].to_numpy(dtype=float)
        ok = ~np.isnan(xv)
        if ok.sum() > 2 and np.std(xv[ok]) > 0 and np.std(contrib_lab[ok, j]) > 0:
            direction[j] = np.sign(np.corrcoef(xv[ok], contrib_lab[ok, j])[0, 1])
    importance = pd.DataFrame({
        "feature": num + cat, "feature_name": [fname(f, lang) for f in num + cat],
        "importance": perm.importances_mean, "importance_sd": perm.importances_std, "direction": direction,
    })
    importance = importance.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)

    # every silent customer is scored, batch by batch; the list (and its per-customer reasons, which cost one
    # prediction per feature) covers the riskiest ``top_n``, at most MAX_LISTED: riskiest first, ties in
    # O-data order (a stable sort of all the scores, merged batch by batch)
    k = int(top_n) if top_n is not None else MAX_LISTED
    top, top_risk, top_at, scored = lab.iloc[:0], np.empty(0), np.empty(0, dtype=np.int64), 0
    for rows in data.silent():
        risk = pipe.predict_proba(_design(rows, num, cat))[:, 1]
        at = np.arange(scored, scored + len(rows), dtype=np.int64)
        scored += len(rows)
        cand, cand_risk, cand_at = pd.concat([top, rows]), np.concatenate([top_risk, risk]), np.concatenate([top_at, at])
        keep = np.lexsort((cand_at, -cand_risk))[:k]
        top, top_risk, top_at = cand.iloc[keep], cand_risk[keep], cand_at[keep]
    Xt = _design(top, num, cat)
    contrib = (explain.contributions(chosen, pipe, Xt, X, num, cat) if len(Xt) else np.empty((0, len(feats))))
    reasons = explain.reasons(contrib, explain.value_text(Xt, num), [fname(f, lang) for f in num + cat], joiner(lang))
    top = pd.DataFrame({
        "rank": np.arange(1, len(top) + 1),
        "customer_id": top[key].astype("string").to_numpy(),
        "risk": top_risk,
        "top_reasons": pd.array(reasons, dtype="string"),
    })
    contributions = pd.DataFrame(contrib, columns=num + cat)
    contributions.insert(0, "customer_id", top["customer_id"].to_numpy())

    top_f = importance["feature"].iloc[0]
    facts = {
        "refused": False, "reason": _txt("", ""), "auc": auc, "auc_baseline": auc_b, "auc_gbm": auc_g,
        "uplift": uplift, "model_name": chosen, "verdict": verdict, "discrimination": discrimination(auc),
        "top_feature": {"zh": fname(top_f, "zh"), "en": fname(top_f, "en")},
        "n_labelled": n, "n_respondents": data.n_joined, "n_scored": scored, "detractor_rate": float(y.mean() * 100), "brier": brier,
        "hit_rate": float(100 * lift["observed_rate"].iloc[0]), "lift": float(lift["lift"].iloc[0]),
        "capture": float(100 * lift["gains"].iloc[0]), "top_decile_n": int(lift["n"].iloc[0]),
        "calibration_gap": float(100 * (lift["mean_predicted"] - lift["observed_rate"]).abs().max()),
    }
    return Prediction(refused=False, reason="", importance=importance, top_risk=top, facts=facts,
                      n_scored=scored, contributions=contributions, model=pipe, **common)


# ============================================================================================== excel
_HEADERS = {
    "zh": {"rank": "排名", "customer_id": "客户编号", "risk": "贬损风险", "top_reasons": "主要风险信号",
           "feature": "特征ID", "feature_name": "特征", "importance": "重要性（AUC下降）",
           "importance_sd": "标准差", "direction": "方向", "bin": "分箱", "p_low": "下限", "p_high": "上限",
           "n": "客户数", "mean_predicted": "平均预测概率", "observed_rate": "实际贬损率", "item": "项目",
           "value": "数值"},
    "en": {"rank": "Rank", "customer_id": "Customer", "risk": "Detractor risk", "top_reasons": "Top signals",
           "feature": "Feature ID", "feature_name": "Feature", "importance": "Importance (AUC drop)",
           "importance_sd": "SD", "direction": "Direction", "bin": "Bin", "p_low": "From", "p_high": "To",
           "n": "Customers", "mean_predicted": "Mean predicted", "observed_rate": "Observed rate",
           "item": "Item", "value": "Value"},
}


def write_top_risk_xlsx(prediction: Prediction, path: str | Path, lang: str = "zh", top_n: int | None = 1000) -> Path:
    """The silent-customer workbook: the riskiest ``top_n`` customers with their top signals (all when
    None), the model summary (AUCs, uplift verdict, Brier, refusal reason), feature importance and the
    reliability table. Header rows frozen, autofilters, readable widths."""
    p = prediction
    f = p.facts or {}

    def show(v: Any) -> Any:
        if isinstance(v, bool):
            return _txt("是", "yes")[lang] if v else _txt("否", "no")[lang]
        if isinstance(v, (int, np.integer)):
            return int(v)  # a number stays a number in the workbook
        if isinstance(v, dict):
            return str(v.get(lang, ""))
        if isinstance(v, float):
            return "–" if np.isnan(v) else f"{v:.3f}"
        return "–" if v is None else str(v)

    rows = [
        (_txt("是否拒绝预测", "Refused")[lang], show(p.refused)),
        (_txt("拒绝原因", "Reason")[lang], p.reason or "–"),
        (_txt("有效样本（客户）", "Labelled customers")[lang], show(p.n_labelled)),
        (_txt("逻辑回归AUC（交叉验证）", "Logistic AUC (cross-validated)")[lang], show(p.auc_baseline)),
        (_txt("梯度提升AUC（交叉验证）", "Boosting AUC (cross-validated)")[lang], show(p.auc_model)),
        (_txt("采用模型", "Model used")[lang], p.model_name or "–"),
        (_txt("模型比较", "Model comparison")[lang], show(f.get("verdict"))),
        (_txt("Brier分数", "Brier score")[lang], show(p.brier)),
        (_txt("评分客户数", "Customers scored")[lang], show(p.n_scored)),
    ]
    summary = pd.DataFrame(rows, columns=["item", "value"])
    sheets: dict[str, Any] = {}
    if not p.refused:
        top = p.top_risk.head(top_n) if top_n is not None else p.top_risk
        sheets[_txt("高风险沉默客户", "At-risk silent customers")[lang]] = top
    sheets[_txt("模型说明", "Model")[lang]] = summary
    if not p.importance.empty:
        sheets[_txt("特征重要性", "Importance")[lang]] = p.importance
    if not p.calibration.empty:
        sheets[_txt("校准", "Calibration")[lang]] = p.calibration
    return write_workbook(path, sheets, _HEADERS.get(lang, _HEADERS["en"]),
                          formats={"risk": "0.0%", "importance": "0.000", "importance_sd": "0.000",
                                   "mean_predicted": "0.0%", "observed_rate": "0.0%", "p_low": "0%", "p_high": "0%"})
