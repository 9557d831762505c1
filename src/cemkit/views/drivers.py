"""Driver views: per-stage key drivers, the priority matrix, stage importance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import claims
from .. import drivers as kda
from ..engine import Dataset, q
from ..i18n import interval
from ..packs import Pack
from .common import Views, _label, base_meta, frame, weight_column
from .waves import Waves, reporting_waves

#: rows a stage's bootstrap resamples at most (m-out-of-n bootstrap, :func:`cemkit.drivers.key_drivers`)
BOOTSTRAP_ROWS = 20_000

_METHOD_NOTE = {
    "shapley": {"zh": "Shapley值（LMG）分解R²", "en": "Shapley (LMG) decomposition of R²"},
    "relative_weights": {"zh": "相对权重法（Johnson）分解R²", "en": "relative weights (Johnson) decomposition of R²"},
    "beta": {"zh": "标准化回归系数平方的占比", "en": "shares of squared standardised betas"},
    "logistic": {"zh": "逻辑回归McFadden伪R²的Shapley分解", "en": "Shapley decomposition of logistic McFadden pseudo-R²"},
}


def method_note(method: str, bootstrap: int, lang: str) -> str:
    """The footnote's words for a driver method (and its bootstrap intervals)."""
    note = _METHOD_NOTE.get(method, {"zh": method, "en": method})[lang]
    if bootstrap:
        note += {"zh": "，自助法95%区间", "en": ", bootstrap 95% intervals"}[lang]
    return note


def driver_columns(pack: Pack) -> list[str]:
    """The columns the driver models and their footnotes read (and the wave, to find the reporting wave's
    rows): what the drivers notebook reads (:func:`cemkit.views.read_responses` with ``columns``, or
    :func:`cemkit.views.frame` from a :class:`cemkit.engine.Dataset`)."""
    return list(dict.fromkeys(["wave", "stage", "customer_id", "weight", "nps", "csat", pack.rules.driver_target,
                               *(a for s in pack.stages for a in s.drivers)]))


def driver_rows(df: pd.DataFrame | Dataset, pack: Pack, waves: Waves) -> pd.DataFrame | Dataset:
    """The reporting wave's responses the driver models read: of a DataFrame, its rows with
    :func:`driver_columns`; of a :class:`~cemkit.engine.Dataset`, the wave as a Dataset — nothing is read
    here: :func:`driver_models` reads one stage at a time and :func:`driver_views` the rest through SQL."""
    if isinstance(df, Dataset):
        return waves.rows(df)
    return frame(waves.rows(df), driver_columns(pack))


def driver_models(rows: pd.DataFrame | Dataset, pack: Pack, bootstrap: int = 200,
                  seed: int = 0) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """:func:`cemkit.drivers.key_drivers_by` over the pack's stages on the reporting wave's responses
    (:func:`driver_rows`), by the pack's rules, with ``bootstrap`` resamples (at most
    :data:`BOOTSTRAP_ROWS` rows each) and ``seed``.

    A :class:`~cemkit.engine.Dataset` is read one stage at a time, only the rows of that stage and the
    columns of its model (target, its drivers, the weight): a stage's model sees exactly the rows, in the
    same order, it sees in the table in memory, so the models are the same, and a large run never holds more
    than one stage's model columns (a wave within :data:`cemkit.engine.PARTS_CELLS` is read once and split:
    :meth:`~cemkit.engine.Dataset.parts`). Each model then also carries what :func:`driver_views` needs of those rows
    (``attrs["performance"]``: each driver's mean, ``attrs["n_complete"]``: the complete answers), so the
    rows are read once."""
    target = pack.rules.driver_target
    w = weight_column(rows)
    opts = {"min_n": pack.rules.driver_min_n, "min_per_driver": pack.rules.driver_min_per_driver,
            "method": pack.rules.driver_method, "weights": w, "bootstrap": bootstrap, "seed": seed,
            "bootstrap_rows": BOOTSTRAP_ROWS}
    drivers = {s.id: s.drivers for s in pack.stages}
    if not isinstance(rows, Dataset):
        return kda.key_drivers_by(rows, target, drivers, "stage", **opts)
    models: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    present = set(rows.columns)
    wanted = {stage: [c for c in cols if c in present] for stage, cols in drivers.items()}
    read = rows.parts("stage", {s: ["stage", target, *cols, *([w] if w else [])] for s, cols in wanted.items() if cols})
    for stage, cols in wanted.items():
        part = next(read)[1] if cols else pd.DataFrame({"stage": pd.Series([], dtype=object)})
        fitted, skip = kda.key_drivers_by(part, target, {stage: cols}, "stage", **opts)
        skipped.update(skip)
        if stage in fitted:
            complete = part[[target, *cols] + ([w] if w else [])].dropna(subset=[target, *cols])
            fitted[stage].attrs.update(performance=kda.performance(complete, cols, weights=w).to_dict(),
                                       n_complete=len(complete))
            models[stage] = fitted[stage]
        del part
    return models, skipped


def driver_views(df: pd.DataFrame, pack: Pack, lang: str, bootstrap: int = 200, seed: int = 0,
                 wave: str | None = None, compare: str | None = None, *, models=None,
                 rows: pd.DataFrame | Dataset | None = None) -> Views:
    """Per-stage key drivers (with bootstrap intervals), the priority matrix of the weakest stage, and
    which stage's satisfaction matters most for customers' overall NPS — on the reporting wave's responses
    (:func:`reporting_waves`), by the pack's rules (``rules.drivers``: method, target, minimum bases; change
    them with :meth:`Pack.with_rules`). ``models``: the ``(models, skipped)`` of
    :func:`cemkit.drivers.key_drivers_by` over the pack's stages on those responses, when the notebook has
    fitted them already; else they are fitted here with ``bootstrap`` and ``seed``. ``rows``: the reporting
    wave's rows (:func:`driver_rows`) when the notebook has them already — a large run's rows are then not held
    twice. From a :class:`~cemkit.engine.Dataset` nothing but one stage's model columns is ever read into
    memory (:func:`driver_models`); the stage NPS, the bases and the customers' stage scores come from SQL
    aggregates."""
    waves = reporting_waves(df, wave, compare)
    df = rows if rows is not None else driver_rows(df, pack, waves)
    w = weight_column(df)
    if models is None:
        models = driver_models(df, pack, bootstrap=bootstrap, seed=seed)
    fitted, skip = models
    rows = []
    skipped = [s.id for s in pack.stages if s.id in skip]
    for stage in pack.stages:
        if stage.id not in fitted:
            continue
        res = fitted[stage.id].copy()
        cols = list(res["driver"])
        perf, n_complete = res.attrs.pop("performance", None), res.attrs.pop("n_complete", None)
        if perf is None:  # rows in memory (the Dataset path's models carry them: driver_models)
            complete = df.loc[df["stage"] == stage.id, [pack.rules.driver_target, *cols] + ([w] if w else [])]
            complete = complete.dropna(subset=[pack.rules.driver_target, *cols])
            perf, n_complete = kda.performance(complete, cols, weights=w), len(complete)
        names = {k: v.get(lang) for k, v in pack.rules.quadrant_names.items()}
        pm = kda.priority_matrix(res, perf, pack.rules.quadrant_split, quadrant_names=names)
        r2 = res.attrs.get("r2", np.nan)
        res = res.merge(pm[["driver", "performance", "quadrant", "quadrant_label"]], on="driver", how="left")
        res["x_split"], res["y_split"] = pm.attrs["x_split"], pm.attrs["y_split"]
        res["below"] = res["performance"] < pm.attrs["y_split"]
        res["perf_colour"] = np.where(res["below"], "red", "")
        res.insert(0, "stage", stage.id)
        res.insert(1, "stage_name", stage.name.get(lang))
        res["driver_name"] = res["driver"].map(lambda a: pack.attributes[a].short.get(lang))
        res["r2"] = r2
        res["n"] = n_complete
        rows.append(res)
    out: Views = {}
    if not rows:
        return out
    table = pd.concat(rows, ignore_index=True)
    table["share_pct"] = table["share"] * 100
    if "ci_low" not in table:
        table["ci_low"] = table["ci_high"] = np.nan
    table["ci_low_pct"], table["ci_high_pct"] = table["ci_low"] * 100, table["ci_high"] * 100
    table["ci"] = interval_texts(table["ci_low_pct"], table["ci_high_pct"])
    fix = table[table["quadrant"] == "high_importance_low_performance"]
    # the priority slide shows the stage with the lowest NPS among stages with a driver model
    nps_by_stage = _stage_nps(df)
    modelled = table["stage"].unique().tolist()
    focus = min(modelled, key=lambda s: nps_by_stage.get(s, np.inf))
    pm = table[table["stage"] == focus].sort_values("share", ascending=False, kind="stable").reset_index(drop=True)
    facts = {**_fix_facts(pm, pack), "focus_stage": focus, "n_fix": len(fix), "n_stages": len(modelled),
             "skipped_stages": skipped,
             "skipped_stage_names": ({lg: ("、" if lg == "zh" else ", ").join(pack.stage_name(s, lg) for s in skipped)
                                      for lg in ("zh", "en")} if skipped else None),
             "n_attributes": len(pm), "matrix": len(pm) >= MIN_MATRIX_ATTRIBUTES, **waves.facts()}
    note = method_note(pack.rules.driver_method, int(fitted[modelled[0]].attrs.get("bootstrap") or 0), lang)
    meta = base_meta(_stages(df, modelled), pack, lang, facts=facts, test=note, **waves.meta())
    meta["base"]["n"] = int(table.groupby("stage")["n"].first().sum())
    out["stage_drivers"] = (table, meta)
    pm_meta = base_meta(_stages(df, [focus]), pack, lang, facts=facts, test=note, **waves.meta())
    pm_meta["base"]["n"] = int(pm["n"].iloc[0])
    pm_meta.update(x_split=float(pm["x_split"].iloc[0]), y_split=float(pm["y_split"].iloc[0]),
                   quadrant_labels={k: v.get(lang) for k, v in pack.rules.quadrant_names.items()},
                   x_name={"zh": "重要性", "en": "Importance"}[lang], y_name={"zh": "表现", "en": "Performance"}[lang])
    out["priority_matrix"] = (pm, pm_meta)
    imp = stage_importance(df, pack, lang, waves, bootstrap=bootstrap, seed=seed)
    if imp is not None:
        out["stage_importance"] = imp
    return out


def _stages(df: pd.DataFrame | Dataset, stages: list[str]) -> pd.DataFrame | Dataset:
    """The rows of these stages."""
    if isinstance(df, Dataset):
        return df.where("stage", stages)
    return df[df["stage"].isin(stages)]


def _stage_nps(df: pd.DataFrame | Dataset) -> pd.Series:
    """Each stage's unweighted NPS over all its rows (a row without an answer counts in the base): which
    stage the priority slide shows. Of a Dataset, from SQL counts — the same quotients as the means of
    pandas' booleans."""
    if not isinstance(df, Dataset):
        return df.groupby("stage")["nps"].apply(lambda s: ((s >= 9).mean() - (s <= 6).mean()) * 100)
    x = _number("nps")
    c = df.sql(f"CAST(stage AS VARCHAR) AS stage, count(*) AS n, count(*) FILTER (WHERE {x} >= 9) AS p, "
               f"count(*) FILTER (WHERE {x} <= 6) AS d", df.cond("stage IS NOT NULL") + " GROUP BY 1")
    n = c["n"].to_numpy(float)
    return pd.Series((c["p"].to_numpy(float) / n - c["d"].to_numpy(float) / n) * 100, index=c["stage"].to_numpy())


def _number(column: str) -> str:
    """A numeric column in SQL with NaN as NULL (as pandas skips it)."""
    x = f"CAST({q(column)} AS DOUBLE)"
    return f"(CASE WHEN isnan({x}) THEN NULL ELSE {x} END)"


MIN_MATRIX_ATTRIBUTES = 6  # below this, quadrants are rank artefacts: the slide shows a ranked bar instead


def interval_texts(lo: pd.Series, hi: pd.Series, decimals: int = 0) -> list[str]:
    """Interval cells "[11, 19]" ('–' when missing), never '-0'."""
    return [interval(a, b, decimals) for a, b in zip(lo, hi)]


def _fix_facts(pm: pd.DataFrame, pack: Pack) -> dict:
    """The first thing to fix at the focus stage: the most important attribute performing below the split,
    named as *the* first only when its importance interval clears the next such attribute's."""
    below = pm[pm["below"]].reset_index(drop=True)
    pool = below if len(below) else pm
    top = pool.iloc[0]
    ld = claims.lead(pool["share"].to_numpy(float), highest=True, lo=pool["ci_low"], hi=pool["ci_high"],
                     method="overlap")
    second = pool.iloc[1] if len(pool) > 1 else None
    return {"top_fix": _label(pack.attributes[top["driver"]].short), "top_fix_stage": _label(pack.stage(top["stage"]).name),
            "top_fix_share": float(top["share"] * 100), "top_fix_in_quadrant": bool(len(below)),
            "top_fix_clear": bool(ld.clear) and bool(len(below)),
            "top_fix_perf_rank_from_bottom": int(pm["performance"].rank(method="min").loc[pm["driver"] == top["driver"]].iloc[0]),
            "second_fix": _label(pack.attributes[second["driver"]].short) if second is not None else None,
            "second_fix_share": float(second["share"] * 100) if second is not None else None,
            "n_below": len(below)}


def stage_importance(df: pd.DataFrame, pack: Pack, lang: str, waves: Waves | None = None, bootstrap: int = 200,
                     seed: int = 0):
    """Which stage's satisfaction explains most of customers' NPS: one row per customer, stage CSAT as
    drivers (missing by design: pairwise-complete correlations), customer mean NPS as the target; bootstrap
    intervals on each share. When customers did not rate the stages together (some pair of stages shares
    fewer customers than the pack's driver base) or the pairwise matrix gives no valid R², one regression
    cannot be fitted: each stage's squared correlation with NPS is used instead (:func:`separate_importance`,
    fact ``joint_model`` false, said in the footnote). The title names the top stage only when its interval
    clears the next stage's."""
    score = "csat" if "csat" in pack.kpis and "csat" in df else None
    if score is None or "customer_id" not in df:
        return None
    wide = customer_scores(df, pack, score)
    stages = [s for s in pack.stage_ids if s in wide and wide[s].notna().sum() >= pack.rules.driver_min_n]
    if len(stages) < 2:
        return None
    joint = _can_model_jointly(wide, stages, pack)
    if joint:
        fit = {"method": "shapley", "missing": "pairwise"}
        try:  # the point estimate first: an implausible fit is not shown, so its bootstrap would be wasted
            res = kda.key_drivers(wide, "__nps", stages, **fit)
            joint = not _implausible(res)
            if joint and bootstrap:
                res = kda.key_drivers(wide, "__nps", stages, **fit, bootstrap=bootstrap, seed=seed,
                                      bootstrap_rows=BOOTSTRAP_ROWS)
        except ValueError:
            return None
    if not joint:
        res = separate_importance(wide, "__nps", stages, bootstrap=bootstrap, seed=seed)
        if res is None:
            return None
    res = res.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)
    res["stage_name"] = res["driver"].map(lambda s: pack.stage_name(s, lang))
    res["share_pct"] = res["share"] * 100
    if "ci_low" not in res:
        res["ci_low"] = res["ci_high"] = np.nan
    res["ci_low_pct"], res["ci_high_pct"] = res["ci_low"] * 100, res["ci_high"] * 100
    ld = claims.lead(res["share"].to_numpy(float), highest=True, lo=res["ci_low"], hi=res["ci_high"],
                     method="overlap")
    res["is_top"] = (res.index == 0) & ld.clear
    top = res.iloc[0]
    facts = {"top_stage": _label(pack.stage(top["driver"]).name), "top_share": float(top["share"] * 100),
             "top_clear": bool(ld.clear), "low_share": float(res["share_pct"].min()),
             "high_share": float(res["share_pct"].max()), "n_stages_modelled": len(res), "joint_model": joint,
             **(waves.facts() if waves else {})}
    test = ({"zh": "Shapley值分解R²（成对完整相关），自助法95%区间",
             "en": "Shapley decomposition of R² (pairwise-complete), bootstrap 95% intervals"} if joint else
            {"zh": "各环节受访客户不同，无法联合建模：各环节满意度与NPS相关系数的平方（负相关记0）占总和的份额，"
                   "自助法95%区间",
             "en": "stages rated by different customers cannot be modelled jointly: each stage's squared correlation "
                   "of satisfaction with NPS (0 if negative) as a share of the total, bootstrap 95% intervals"})[lang]
    meta = base_meta(df, pack, lang, facts=facts, **(waves.meta() if waves else {}), test=test)
    meta["base"]["n"] = int(wide["__nps"].notna().sum())
    return res, meta


def customer_scores(df: pd.DataFrame | Dataset, pack: Pack, score: str = "csat") -> pd.DataFrame:
    """One row per customer who gave ``score`` at some stage, in customer-id order: the customer's mean
    ``score`` at each stage (a column per stage) and mean NPS over all their responses (``__nps``) — what
    :func:`stage_importance` models. Of a Dataset, one SQL aggregate (the customer ids are not read into
    memory); in memory, ``pivot_table``: the same rows in the same order."""
    if not isinstance(df, Dataset):
        wide = df.pivot_table(index="customer_id", columns="stage", values=score, aggfunc="mean")
        wide["__nps"] = df.groupby("customer_id")["nps"].mean()
        return wide.reset_index(drop=True)
    x, stage = _number(score), "CAST(stage AS VARCHAR)"
    have = df.sql(f"DISTINCT {stage} AS s", df.cond(f"stage IS NOT NULL AND {x} IS NOT NULL"))["s"].tolist()
    stages = [s for s in pack.stage_ids if s in set(have)]
    cols = [f"avg(CASE WHEN {stage} = ? THEN {x} END) AS {q(s)}" for s in stages]
    wide = df.sql(", ".join([*cols, f"avg({_number('nps')}) AS __nps"]),
                  df.cond("customer_id IS NOT NULL") + " GROUP BY customer_id HAVING "
                  f"count(CASE WHEN stage IS NOT NULL THEN {x} END) > 0 ORDER BY customer_id",
                  select_params=stages)
    return wide.astype(float)


def _can_model_jointly(wide: pd.DataFrame, stages: list[str], pack: Pack) -> bool:
    """One regression of NPS on every stage's score needs customers who rated the stages together: every pair
    of stages shares at least the pack's minimum driver base."""
    rated = wide[stages].notna().to_numpy(dtype=float)
    both = rated.T @ rated
    return bool(both.min() >= pack.rules.driver_min_n)


def _implausible(res: pd.DataFrame) -> bool:
    """A pairwise-complete correlation matrix that is not positive definite can give an R² above 1 and
    negative shares: no decomposition to show."""
    r2 = float(res.attrs.get("r2", np.nan))
    notes = " ".join(map(str, res.attrs.get("notes", [])))
    return not (0 <= r2 <= 1) or "positive definite" in notes or bool((res["share"] < -0.01).any())


def separate_importance(wide: pd.DataFrame, target: str, stages: list[str], bootstrap: int = 200,
                        seed: int = 0, ci: float = 0.95) -> pd.DataFrame | None:
    """Stage importance when each customer rated different stages (the usual stage-survey design): for each
    stage, the squared Pearson correlation of its score with ``target`` over the customers who rated it (0 when
    the correlation is negative), and its share of the total. Bootstrap: customers resampled ``bootstrap``
    times (``numpy.random.default_rng(seed)``, one draw of n customers with replacement per resample), percentile
    interval of each share. Same columns as :func:`cemkit.drivers.key_drivers`.

    Every resample's correlations come from count-weighted sums over the customers (:func:`_stage_r2`): a batch
    of resamples is one matrix product, not a loop over copies of the table (at 1M responses 0.5 CPU-s
    instead of 11)."""
    X = wide[stages].to_numpy(float)
    y = wide[target].to_numpy(float)
    n = len(wide)
    imp = _stage_r2(X, y, np.ones((1, n)))[0]
    total = imp.sum()
    if not total > 0:
        return None
    out = pd.DataFrame({"driver": stages, "importance": imp, "share": imp / total})
    out["rank"] = out["share"].rank(ascending=False, method="min")
    if bootstrap:
        rng = np.random.default_rng(seed)
        batch = max(1, _BATCH_CELLS // max(n, 1))
        boot = []
        for start in range(0, int(bootstrap), batch):
            # one draw of n rows per resample, as counts: the same resamples as indexing the table row by row
            counts = np.vstack([kda.resample_counts(rng, n, 1) for _ in range(min(batch, int(bootstrap) - start))])
            r2 = _stage_r2(X, y, counts)
            sums = r2.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                boot.append(np.where(sums > 0, r2 / sums, np.nan))
        boot = np.concatenate(boot)
        a = (1 - ci) / 2
        out["ci_low"] = np.nanquantile(boot, a, axis=0)
        out["ci_high"] = np.nanquantile(boot, 1 - a, axis=0)
    out.attrs.update(method="separate", n=n)
    return out


_BATCH_CELLS = 2**22  # count-vector elements per bootstrap batch (32 MB)


def _stage_r2(X: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each row of ``counts`` (how often each customer is drawn: (B, n)) and each column of ``X``, the
    squared Pearson correlation with ``y`` over the drawn customers who have both values, 0 when negative or
    undefined (fewer than 3 drawn, or either side constant): (B, p).

    Sums of the count-weighted products of the values, centred on and scaled by the whole sample's, so a
    resample costs one matrix product over the customers who rated the stage."""
    B, p = counts.shape[0], X.shape[1]
    r2 = np.zeros((B, p))
    for j in range(p):
        rows = np.flatnonzero(~np.isnan(X[:, j]) & ~np.isnan(y))
        if rows.size < 3:
            continue
        x, t = X[rows, j], y[rows]
        sx, st = x.std(), t.std()
        if not (sx > 0 and st > 0):
            continue
        x, t = (x - x.mean()) / sx, (t - t.mean()) / st
        c = counts[:, rows]
        S = c @ np.column_stack([np.ones_like(x), x, t, x * x, t * t, x * t])  # (B, 6)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx, mt = S[:, 1] / S[:, 0], S[:, 2] / S[:, 0]
            vx, vt = S[:, 3] / S[:, 0] - mx * mx, S[:, 4] / S[:, 0] - mt * mt
            r = np.clip((S[:, 5] / S[:, 0] - mx * mt) / np.sqrt(vx * vt), -1.0, 1.0)
        # a resample with fewer than 3 raters, or one where the stage's or the target's values are all equal
        # (variance at rounding level on the standardised scale), has no correlation
        ok = (S[:, 0] >= 3) & (vx > 1e-12) & (vt > 1e-12)
        r2[:, j] = np.where(ok, np.maximum(np.nan_to_num(r), 0.0) ** 2, 0.0)
    return r2
