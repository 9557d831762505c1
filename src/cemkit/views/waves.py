"""The reporting wave: which wave a run's headline figures are computed on, and which wave it is compared
with (:func:`reporting_waves`); the wave facts and footnote meta every wave-aware result carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import metrics as m
from ..errors import DataError
from ..i18n import t

__all__ = ["Waves", "reporting_waves", "wave_labels"]


def _span(labels: Sequence[str]) -> str:
    if not labels:
        return ""
    return labels[0] if len(labels) == 1 else f"{labels[0]}–{labels[-1]}"


def wave_labels(df: pd.DataFrame) -> list[str]:
    """The wave labels of the response table in time order (labels sort in time order: docs/architecture.md)."""
    if not isinstance(df, pd.DataFrame):  # a cemkit.engine.Dataset
        return df.wave_labels()
    if "wave" not in df:
        return []
    return sorted({str(v) for v in df["wave"].dropna().unique()})


@dataclass(frozen=True)
class Waves:
    """Which wave a run reports and which wave it compares with.

    ``labels``: every wave of the data in time order. ``report``: the wave every headline figure is computed
    on — the latest by default, or :data:`cemkit.metrics.ALL` for a pooled view of all waves (asked for with
    ``wave="all"``, or data without wave labels). ``compare``: the wave changes are measured against (by
    default the one before ``report``); None when there is none (one wave, the first wave, a pooled view).
    """

    labels: tuple[str, ...]
    report: str
    compare: str | None

    @property
    def pooled(self) -> bool:
        return self.report == m.ALL

    def mask(self, df: pd.DataFrame, with_compare: bool = False) -> np.ndarray:
        """Rows of the reporting wave (every row for a pooled view); ``with_compare``: and of the comparison
        wave."""
        if self.pooled:
            return np.ones(len(df), dtype=bool)
        keep = (df["wave"].astype("string") == self.report).fillna(False).to_numpy(dtype=bool)
        if with_compare and self.compare is not None:
            keep |= (df["wave"].astype("string") == self.compare).fillna(False).to_numpy(dtype=bool)
        return keep

    def rows(self, df: pd.DataFrame) -> pd.DataFrame:
        """The responses of the reporting wave (index labels kept)."""
        if not self.pooled and not isinstance(df, pd.DataFrame):  # a cemkit.engine.Dataset: a SQL filter
            return df.where("wave", self.report)
        return df if self.pooled else df[self.mask(df)]

    def facts(self) -> dict[str, Any]:
        """Facts every wave-aware result carries: ``wave`` (the reporting wave's label, or "all waves
        pooled (…)" in the report language), ``wave_id`` (the label or "__all__"), ``compare_wave`` (the
        label changes are measured against, None when there is none), ``pooled``, ``n_waves``, ``one_wave``
        (the data hold a single wave or none), ``has_compare`` and ``waves`` (all labels, time order)."""
        span = _span(self.labels)
        wave: Any = self.report
        if self.pooled:
            wave = {lg: t("wave_pooled", lg, n=len(self.labels), period=span) if self.labels else t("wave_none", lg)
                    for lg in ("zh", "en")}
        return {"wave": wave, "wave_id": self.report, "compare_wave": self.compare, "pooled": self.pooled,
                "n_waves": len(self.labels), "one_wave": len(self.labels) <= 1,
                "has_compare": self.compare is not None, "waves": list(self.labels), "period": span}

    def meta(self, trend: bool = False) -> dict[str, Any]:
        """What a footnote says about the waves (see :func:`cemkit.render.plan.footnote_text`)."""
        return {"wave": {"report": self.report, "compare": self.compare, "labels": list(self.labels),
                         "pooled": self.pooled, "trend": trend}}


_LATEST = ("", "latest", "last")


def reporting_waves(df: pd.DataFrame, wave: str | None = None, compare: str | None = None) -> Waves:
    """Resolve the reporting and comparison waves of a run.

    ``wave``: None / "latest" — the latest wave; "all" — every wave pooled; else a wave label of the data.
    ``compare``: None — the wave before the reporting wave; "none" — no comparison; else a wave label.
    Raises :class:`DataError` (exit 2) naming the waves the data have when a label is not among them."""
    labels = tuple(wave_labels(df))

    def find(label: str, what: str) -> str:
        hit = [w for w in labels if w == label] or [w for w in labels if w.casefold() == label.casefold()]
        if len(hit) != 1:
            have = ", ".join(labels) if labels else "none (no wave column or no wave labels)"
            raise DataError(f"{what} {label!r}: the data have no such wave (waves: {have})")
        return hit[0]

    w = (wave or "").strip()
    if w.casefold() == "all" or not labels:
        report = m.ALL
    elif w.casefold() in _LATEST:
        report = labels[-1]
    else:
        report = find(w, "--wave")
    c = (compare or "").strip()
    if c.casefold() == "none":
        cmp_wave = None
    elif c:
        cmp_wave = find(c, "--compare")
        if cmp_wave == report:
            raise DataError(f"--compare {c!r} is the reporting wave itself: choose an earlier wave")
    elif report == m.ALL:
        cmp_wave = None
    else:
        i = labels.index(report)
        cmp_wave = labels[i - 1] if i > 0 else None
    return Waves(labels, report, cmp_wave)
