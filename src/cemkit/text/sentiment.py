"""Comment-level sentiment from the lexicons (negation, degree and contrast aware); see :mod:`.engine`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .themes import analyze

__all__ = ["NEUTRAL_BAND", "polarity_label", "sentiment"]

NEUTRAL_BAND = 0.0  # |score| <= band counts as neutral (0 = only "nothing found" or an exact balance)


def sentiment(texts: Any, pack: Any = None, *, n_jobs: int | None = None) -> pd.Series:
    """Sentiment score in [-1, 1] per comment, aligned with the input's index (0 = neutral or nothing found;
    NaN and empty comments score 0). ``pack`` adds its ``lexicon/`` overrides to the shared lexicon."""
    return analyze(texts, pack, n_jobs=n_jobs).sentiment


def polarity_label(scores: Any, band: float = NEUTRAL_BAND) -> pd.Series:
    """``pos`` / ``neg`` / ``neutral`` for sentiment scores (a Series keeps its index)."""
    s = scores if isinstance(scores, pd.Series) else pd.Series(np.asarray(scores, dtype=float))
    out = np.where(s > band, "pos", np.where(s < -band, "neg", "neutral"))
    return pd.Series(out, index=s.index, dtype=object, name="polarity")
