"""Accuracy of theme tagging and sentiment on a pack's hand-labelled set (``<pack>/eval_text.csv``) and of
comment sentiment on any labelled corpus (``text,label`` with pos/neg labels).

``eval_text.csv`` columns: ``text``; ``themes`` — theme ids separated by ``|`` (empty: no theme);
``sentiment`` — ``pos``, ``neg`` or ``neutral``. Backs ``cemkit eval-text --pack NAME [--corpus CSV]``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .sentiment import polarity_label
from .themes import analyze

__all__ = ["eval_text_cli", "eval_text_report", "evaluate", "evaluate_corpus", "load_eval_set"]

SENTIMENT_LABELS = ("pos", "neg", "neutral")


def load_eval_set(pack: Any, path: str | Path | None = None) -> pd.DataFrame:
    """The pack's labelled comments (``text, themes, sentiment``); raises FileNotFoundError when absent."""
    p = Path(path) if path is not None else Path(pack.root) / "eval_text.csv"
    if not p.exists():
        raise FileNotFoundError(f"{p}: the pack has no labelled evaluation set (eval_text.csv)")
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = {"text", "themes", "sentiment"} - set(df.columns)
    if missing:
        raise ValueError(f"{p}: missing column(s) {', '.join(sorted(missing))}")
    known = {t.id for t in pack.themes}
    unknown = sorted({t for ts in df["themes"] for t in ts.split("|") if t.strip() and t.strip() not in known})
    if unknown:
        raise ValueError(f"{p}: unknown theme id(s) {', '.join(unknown)}")
    bad = sorted(set(df["sentiment"]) - set(SENTIMENT_LABELS))
    if bad:
        raise ValueError(f"{p}: sentiment must be one of {SENTIMENT_LABELS}, found {bad}")
    return df


def evaluate(pack: Any, path: str | Path | None = None) -> dict[str, Any]:
    """Theme precision/recall/F1 per theme, macro-F1 (over themes present in the labels or predictions),
    micro-F1, and comment sentiment accuracy with its confusion table, on the pack's labelled set.

    Returns a dict: ``n``, ``themes`` (DataFrame: theme, support, predicted, tp, precision, recall, f1),
    ``macro_f1``, ``micro_f1``, ``sentiment_accuracy``, ``sentiment_confusion`` (DataFrame, labels × predicted),
    ``errors`` (DataFrame of the comments with a theme or sentiment error)."""
    df = load_eval_set(pack, path)
    n = len(df)
    a = analyze(df["text"], pack)
    tags = a.tags()
    ids = [t.id for t in pack.themes]
    truth = np.zeros((n, len(ids)), bool)
    col = {t: i for i, t in enumerate(ids)}
    for r, ts in enumerate(df["themes"]):
        for t in ts.split("|"):
            if t.strip():
                truth[r, col[t.strip()]] = True
    pred = np.zeros_like(truth)
    if len(tags):
        pred[tags["row"].to_numpy(np.int64), tags["theme"].cat.codes.to_numpy(np.int64)] = True
    tp = (truth & pred).sum(0)
    sup = truth.sum(0)
    npred = pred.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(npred > 0, tp / np.maximum(npred, 1), np.where(sup > 0, 0.0, np.nan))
        rec = np.where(sup > 0, tp / np.maximum(sup, 1), np.nan)
        f1 = np.where((sup + npred) > 0, 2 * tp / np.maximum(sup + npred, 1), np.nan)
    per = pd.DataFrame({"theme": ids, "support": sup, "predicted": npred, "tp": tp,
                        "precision": prec, "recall": rec, "f1": f1})
    used = (sup + npred) > 0
    macro = float(np.nanmean(f1[used])) if used.any() else float("nan")
    micro = float(2 * tp.sum() / max(sup.sum() + npred.sum(), 1))

    pol = polarity_label(a.sentiment).to_numpy()
    lab = df["sentiment"].to_numpy()
    acc = float((pol == lab).mean()) if n else float("nan")
    conf = pd.crosstab(pd.Categorical(lab, SENTIMENT_LABELS), pd.Categorical(pol, SENTIMENT_LABELS),
                       rownames=["label"], colnames=["predicted"], dropna=False)

    pred_str = ["|".join(ids[j] for j in np.flatnonzero(pred[i])) for i in range(n)]
    wrong = (truth != pred).any(1) | (pol != lab)
    errors = pd.DataFrame({"text": df["text"], "themes": df["themes"], "predicted_themes": pred_str,
                           "sentiment": lab, "predicted_sentiment": pol,
                           "score": a.sentiment.round(3).to_numpy()})[wrong]
    return {"pack": pack.id, "n": n, "themes": per, "macro_f1": macro, "micro_f1": micro,
            "sentiment_accuracy": acc, "sentiment_confusion": conf, "errors": errors}


def eval_text_report(pack: Any, path: str | Path | None = None, show_errors: int = 0) -> str:
    """Printable report of :func:`evaluate`: per-theme P/R/F1, macro-F1, sentiment accuracy and confusion."""
    r = evaluate(pack, path)
    t = r["themes"].copy()
    names = {th.id: th.name.zh for th in pack.themes}
    lines = [f"Text evaluation — pack {r['pack']}, {r['n']} labelled comments", "",
             f"{'theme':<20} {'name':<12} {'support':>7} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}"]
    for row in t.itertuples():
        def f(x: float) -> str:
            return "   -  " if math.isnan(x) else f"{x:6.2f}"
        lines.append(f"{row.theme:<20} {names.get(row.theme, ''):<12} {row.support:>7} {row.predicted:>5} "
                     f"{f(row.precision)} {f(row.recall)} {f(row.f1)}")
    lines += ["", f"theme macro-F1: {r['macro_f1']:.3f}   micro-F1: {r['micro_f1']:.3f}",
              f"sentiment accuracy (pos/neg/neutral): {r['sentiment_accuracy']:.3f}", "",
              "sentiment confusion (rows: label, columns: predicted)", r["sentiment_confusion"].to_string()]
    if show_errors:
        lines += ["", f"first {show_errors} comments with an error:",
                  r["errors"].head(show_errors).to_string(index=False)]
    return "\n".join(lines)


def evaluate_corpus(path: str | Path, pack: Any = None, text_col: str = "text", label_col: str = "label",
                    pos: str = "pos", neg: str = "neg") -> dict[str, float]:
    """Comment sentiment on a labelled corpus of two classes (e.g. ``reviews_zh_dev.csv``).

    ``accuracy`` counts a neutral answer (score 0) as wrong; ``coverage`` is the share of comments given a
    polarity; ``accuracy_covered`` the accuracy among those. Use it as a check of the lexicons on text nobody
    wrote for cemkit — never tune the lexicons on it."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    lab = df[label_col].to_numpy()
    keep = np.isin(lab, (pos, neg))
    df, lab = df[keep], lab[keep]
    pol = polarity_label(analyze(df[text_col], pack).sentiment).to_numpy()
    pol = np.where(pol == "pos", pos, np.where(pol == "neg", neg, "neutral"))
    covered = pol != "neutral"
    n = len(df)
    return {
        "n": n,
        "accuracy": float((pol == lab).mean()) if n else float("nan"),
        "coverage": float(covered.mean()) if n else float("nan"),
        "accuracy_covered": float((pol[covered] == lab[covered]).mean()) if covered.any() else float("nan"),
        "accuracy_pos": float((pol[lab == pos] == pos).mean()) if (lab == pos).any() else float("nan"),
        "accuracy_neg": float((pol[lab == neg] == neg).mean()) if (lab == neg).any() else float("nan"),
    }


def eval_text_cli(args: Any) -> int:
    """``cemkit eval-text --pack NAME [--corpus CSV]``: print the report; exit 0."""
    from ..packs import load_pack

    pack = load_pack(args.pack)
    print(eval_text_report(pack, show_errors=int(getattr(args, "errors", 0) or 0)))
    corpus = getattr(args, "corpus", None)
    if corpus:
        r = evaluate_corpus(corpus, pack)
        print(f"\ncorpus {corpus}: n={r['n']}, accuracy {r['accuracy']:.3f} (neutral counts as wrong), "
              f"coverage {r['coverage']:.3f}, accuracy where decided {r['accuracy_covered']:.3f}")
    return 0
