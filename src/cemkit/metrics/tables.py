"""The journey table: sufficient statistics per (metric, stage, segment, wave) cell summed with
``np.bincount`` (no loop over respondents), margins by addition, estimates and base-rule flags per cell."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DataError
from ..packs import Pack
from .estimates import (
    DETRACTOR_MAX,
    PROMOTER_MIN,
    STAT_DEFAULT_METHOD,
    STAT_ESTIMATORS,
    ArrayLike,
    _stats_for,
)

ALL = "__all__"
FLAGS = ("ok", "caution", "low_base")
_SUMS = ("n", "sw", "sw2", "swx", "swxx", "w_prom", "w_det", "w_good")
_KEYS = ["metric", "stat", "stage", "segment", "segment_value"]
_MISSING = "\x00missing"  # internal slot for rows with a missing wave / segment value (never emitted)


# ==================================================================================================
# Sufficient statistics per cell
# ==================================================================================================
def _row_weights(df: pd.DataFrame, weights: str | ArrayLike | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(df))
    if isinstance(weights, str):
        if weights not in df.columns:
            if weights == "weight":  # the contract's optional column: absent means unweighted
                return np.ones(len(df))
            raise KeyError(f"weight column {weights!r} is not in the data")
        return pd.to_numeric(df[weights]).to_numpy(dtype=float, na_value=np.nan)
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != len(df):
        raise DataError(f"weights ({w.size}) and data ({len(df)}) differ in length")
    return w


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _codes(series: pd.Series, labels: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 = missing) and their labels; labels sorted unless given."""
    if labels is None:
        codes, uniq = pd.factorize(series, sort=True)
        return codes.astype(np.int64), [str(u) for u in uniq]
    codes, uniq = pd.factorize(series)  # hash the column once, then map its few distinct values to labels
    pos = {str(lab): i for i, lab in enumerate(labels)}
    lookup = np.array([pos.get(str(u), -1) for u in uniq] + [-1], dtype=np.int64)  # loop over distinct values
    return lookup[codes], list(labels)  # code -1 (missing) picks the trailing -1


def _wave_labels(df: pd.DataFrame) -> list[str]:
    if not isinstance(df, pd.DataFrame):  # a cemkit.engine.Dataset
        return df.wave_labels()
    if "wave" not in df.columns:
        return []
    return sorted({str(v) for v in df["wave"].dropna().unique()})


def _sums_frame(
    df: pd.DataFrame,
    pack: Pack,
    by: str | Sequence[str] | None = None,
    waves: bool = True,
    weights: str | ArrayLike | None = "weight",
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Sufficient statistics for every (metric, stage, segment, segment_value, wave) cell with responses.

    Includes the margins: stage ``ALL`` (summed over the stages that ask the KPI), wave ``ALL`` (all rows,
    also those without a wave) and segment ``ALL``. ``swx``/``swxx`` are taken about ``shift``, the
    midpoint of the KPI's scale (a per-KPI constant, so cells can be added and subtracted).

    ``df`` may also be a :class:`cemkit.engine.Dataset` (parquet files read by DuckDB): the same sums come
    from SQL aggregates, so every table built on them is the same."""
    if not isinstance(df, pd.DataFrame):
        return df.sums_frame(pack, by=by, waves=waves, weights=weights, metrics=metrics)
    if "stage" not in df.columns:
        raise KeyError("the response table has no 'stage' column")
    by = _as_list(by)
    for col in by:
        if col not in df.columns:
            raise KeyError(f"segment column {col!r} is not in the data")
    stage_ids = pack.stage_ids
    S = len(stage_ids)
    stage_c, _ = _codes(df["stage"], stage_ids)
    unknown = (stage_c < 0) & df["stage"].notna().to_numpy()
    if unknown.any():
        bad = sorted({str(v) for v in df.loc[unknown, "stage"].unique()})[:5]
        warnings.warn(
            f"{int(unknown.sum())} response(s) name a stage the pack does not have ({', '.join(bad)}); "
            "they are left out of the journey metrics",
            stacklevel=3,
        )
    wave_labels = _wave_labels(df) if waves else []
    W = len(wave_labels)
    if W:
        wave_c, _ = _codes(df["wave"], wave_labels)
        wave_c[wave_c < 0] = W
    else:
        wave_c = np.full(len(df), W, dtype=np.int64)
    seg_codes: list[tuple[str, np.ndarray, list[str]]] = [(ALL, np.zeros(len(df), np.int64), [ALL])]
    for col in by:
        codes, labels = _codes(df[col])
        codes[codes < 0] = len(labels)
        seg_codes.append((col, codes, labels))
    w_all = _row_weights(df, weights)

    metrics = [m for m in (metrics or pack.kpis) if m in df.columns and m in pack.kpis]
    frames = []
    for m in metrics:
        scale = pack.kpis[m].scale
        asked = np.array([m in s.kpis for s in pack.stages] + [False])  # last entry: unknown stage (-1)
        x = pd.to_numeric(df[m]).to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(x) & asked[stage_c]
        bad = present & ~(np.isfinite(w_all) & (w_all >= 0))
        if bad.any():
            raise DataError(
                f"{int(bad.sum())} response(s) with a {m!r} score have a missing or negative weight"
            )
        idx = np.flatnonzero(present & (w_all > 0))
        if not idx.size:
            continue
        xs, ws = x[idx], w_all[idx]
        if ((xs < scale.min) | (xs > scale.max)).any():
            raise DataError(f"{m!r} has scores outside its scale {scale.min:g}..{scale.max:g}")
        shift = (scale.min + scale.max) / 2
        xc = xs - shift
        contrib: dict[str, np.ndarray | None] = {
            "n": None,
            "sw": ws,
            "sw2": ws * ws,
            "swx": ws * xc,
            "swxx": ws * xc * xc,
            "w_prom": None,
            "w_det": None,
            "w_good": None,
        }
        if scale.kind == "nps":
            contrib["w_prom"] = np.where(xs >= PROMOTER_MIN, ws, 0.0)
            contrib["w_det"] = np.where(xs <= DETRACTOR_MAX, ws, 0.0)
        elif scale.good:
            contrib["w_good"] = np.where(np.isin(xs, np.asarray(scale.good, float)), ws, 0.0)
        sc, wc = stage_c[idx], wave_c[idx]
        for seg, codes, labels in seg_codes:
            V = len(labels)
            key = (sc * (W + 1) + wc) * (V + 1) + codes[idx]
            size = S * (W + 1) * (V + 1)
            cube = np.zeros((size, len(_SUMS)))
            for j, name in enumerate(_SUMS):
                if name == "n":
                    cube[:, j] = np.bincount(key, minlength=size)
                elif contrib[name] is not None:
                    cube[:, j] = np.bincount(key, weights=contrib[name], minlength=size)
            cube = cube.reshape(S, W + 1, V + 1, len(_SUMS))
            frames.append(_cube_frame(cube, m, seg, stage_ids, wave_labels, labels, shift))
    return _concat_sums(frames)


def _concat_sums(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The cells of every (metric, segment) cube in one frame (an empty frame with the columns if none)."""
    if not frames:
        cols = ["metric", "stage", "segment", "segment_value", "wave", *_SUMS, "shift"]
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in _SUMS or c == "shift" else object) for c in cols}
        )
    return pd.concat(frames, ignore_index=True)


def _cube_frame(
    cube: np.ndarray,
    metric: str,
    seg: str,
    stage_ids: list[str],
    wave_labels: list[str],
    labels: list[str],
    shift: float,
) -> pd.DataFrame:
    """The cells of one (metric, segment) cube of sums, shape (stages, waves + 1, values + 1, len(_SUMS))
    (the last wave slot holds rows without a wave, the last value slot rows without a segment value), with
    the margins added: wave ``ALL`` and stage ``ALL``. Cells without a response are left out. Shared by the
    in-memory path (:func:`_sums_frame`) and the SQL path (:mod:`cemkit.engine`): the same cube gives the
    same cells in the same order."""
    W, V = len(wave_labels), len(labels)
    cube = np.concatenate([cube, cube.sum(axis=1, keepdims=True)], axis=1)  # wave ALL at W + 1
    cube = np.concatenate([cube, cube.sum(axis=0, keepdims=True)], axis=0)  # stage ALL at S
    si, wi, vi = np.nonzero(cube[..., 0] > 0)
    keep = (wi != W) & (vi != V)
    si, wi, vi = si[keep], wi[keep], vi[keep]
    vals = cube[si, wi, vi]
    stage_lab = np.array(stage_ids + [ALL], dtype=object)
    wave_lab = np.array(wave_labels + [_MISSING, ALL], dtype=object)
    seg_lab = np.array(labels + [_MISSING], dtype=object)
    frame = pd.DataFrame(
        {
            "metric": metric,
            "stage": stage_lab[si],
            "segment": seg,
            "segment_value": seg_lab[vi],
            "wave": wave_lab[wi],
        }
    )
    for j, name in enumerate(_SUMS):
        frame[name] = vals[:, j]
    frame["n"] = frame["n"].astype(np.int64)
    frame["shift"] = shift
    return frame


def _estimates(
    sums: pd.DataFrame, pack: Pack, conf: float, nps_method: str = "wald", stats: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per cell and statistic: keys + stat + value, ci_low, ci_high, se, n, n_eff."""
    out = []
    for m, sub in sums.groupby("metric", sort=False):
        scale = pack.kpis[m].scale
        cols = {k: sub[k].to_numpy() for k in (*_SUMS, "shift")}
        for stat in _stats_for(scale):
            if stats is not None and stat not in stats:
                continue
            est = STAT_ESTIMATORS[stat](
                cols, conf, nps_method if stat == "nps" else STAT_DEFAULT_METHOD[stat]
            )
            frame = sub[["metric", "stage", "segment", "segment_value", "wave", "n"]].copy()
            frame.insert(1, "stat", stat)
            for k in ("value", "ci_low", "ci_high", "se", "n_eff"):
                frame[k] = est[k]
            out.append(frame)
    if not out:
        return pd.DataFrame(
            columns=[
                "metric",
                "stat",
                "stage",
                "segment",
                "segment_value",
                "wave",
                "n",
                "value",
                "ci_low",
                "ci_high",
                "se",
                "n_eff",
            ]
        )
    return pd.concat(out, ignore_index=True)


def base_flag(n_eff: Any, pack: Pack) -> np.ndarray:
    """Base rule flag per cell from the effective base: ``low_base`` below ``rules.suppress_below``,
    ``caution`` below ``rules.caution_below``, else ``ok``."""
    n_eff = np.asarray(n_eff, dtype=float)
    return np.where(
        n_eff < pack.rules.suppress_below,
        "low_base",
        np.where(n_eff < pack.rules.caution_below, "caution", "ok"),
    )


def _apply_flags(t: pd.DataFrame, pack: Pack) -> pd.DataFrame:
    t["flag"] = base_flag(t["n_eff"].to_numpy(dtype=float), pack)
    low = t["flag"].to_numpy() == "low_base"
    for c in ("value", "ci_low", "ci_high", "se"):
        t[c] = np.where(low, np.nan, t[c].to_numpy(dtype=float))
    return t


def _stage_cat(values: Iterable[str], pack: Pack) -> pd.Categorical:
    return pd.Categorical(list(values), categories=[ALL, *pack.stage_ids], ordered=True)


# ==================================================================================================
# Journey table
# ==================================================================================================
def journey_table(
    df: pd.DataFrame,
    pack: Pack,
    by: str | Sequence[str] | None = None,
    waves: bool = True,
    weights: str | ArrayLike | None = "weight",
    conf: float = 0.95,
    nps_method: Literal["wald", "adjusted_wald"] = "wald",
) -> pd.DataFrame:
    """Every KPI by stage, segment and wave, with intervals, bases and base-rule flags.

    ``df`` is the clean response table (docs/architecture.md). Returns one tidy row per cell with columns
    ``metric, stat, stage, segment, segment_value, wave, value, ci_low, ci_high, se, n, n_eff, flag``:

    * ``stat``: the KPI's headline (``nps`` points or ``top_box`` %) and its ``mean`` (scale units);
    * ``stage``: stage id or ``"__all__"`` (all stages that ask the KPI), categorical in journey order with
      ``"__all__"`` first; a KPI appears only at the stages where the pack asks it (other answers ignored);
    * ``segment``: ``"__all__"`` or one of the ``by`` columns, ``segment_value`` its value (rows with a
      missing segment value count in the ``"__all__"`` rows only);
    * ``wave``: ``"__all__"`` (all rows) or each wave label (``waves=True``), in sorted (time) order;
    * ``flag``: ``low_base`` if ``n_eff < rules.suppress_below`` (value, interval and se set to NaN:
      suppressed, never shown or ranked), ``caution`` if ``n_eff < rules.caution_below``, else ``ok``.

    Rows are sorted by metric (pack order), stat, segment, segment_value, wave, stage. Cells without any
    response are absent. ``weights`` is a column name (default ``"weight"``, optional), an array or None.
    """
    sums = _sums_frame(df, pack, by=by, waves=waves, weights=weights)
    t = _estimates(sums, pack, conf, nps_method)
    t = _apply_flags(t, pack)
    return _sort_table(t, pack, _as_list(by))


def _sort_table(t: pd.DataFrame, pack: Pack, by: list[str]) -> pd.DataFrame:
    metric_order = {m: i for i, m in enumerate(pack.kpis)}
    stat_order = {"nps": 0, "top_box": 0, "mean": 1}
    seg_order = {s: i for i, s in enumerate([ALL, *by])}
    t["stage"] = _stage_cat(t["stage"], pack)
    key = pd.DataFrame(
        {
            "m": t["metric"].map(metric_order),
            "st": t["stat"].map(stat_order),
            "sg": t["segment"].map(seg_order),
            "sv0": t["segment_value"] != ALL,
            "sv": t["segment_value"],
            "w0": t["wave"] != ALL,
            "w": t["wave"],
            "s": t["stage"].cat.codes,
        }
    )
    order = key.sort_values(list(key.columns), kind="stable").index
    cols = [
        "metric",
        "stat",
        "stage",
        "segment",
        "segment_value",
        "wave",
        "value",
        "ci_low",
        "ci_high",
        "se",
        "n",
        "n_eff",
        "flag",
    ]
    return t.loc[order, cols].reset_index(drop=True)
