"""Learned comment sentiment against the rules: the tables of docs/text.md, "Learning from labels".

Run: PYTHONPATH=src python benchmarks/bench_learn.py [--corpus /work/shared/reference/reviews_zh_dev.csv]

1. **A real review corpus as "a client's labels"** (``reviews_zh_dev.csv``; every model is built here and
   thrown away — none is shipped). A seeded split (``SEED``) holds back 800 reviews (400 positive, 400
   negative) that no choice was tuned on; the other 1,200 are the labelling pool. Models from 500 labels
   picked at random (``--draws`` draws, default 10) and by the labelling loop (200 picked by the rules'
   uncertainty, then 300 by the first model's; ``--loops`` seeds, default 5), and from the whole pool.
   Reported: the guard's cross-validated accuracy on the labels, and accuracy on the held-back 800 — each
   against the rules on the same comments; per kind the mean and minimum gain and the draws reaching +6
   points (benchmarks/learn_protocol.md; design choices are measured on the pool by tune_learn.py).
2. **The same models on survey comments**: every pack's ``eval_text.csv`` (rules and model features with
   that pack's lexicon) and the two general review sets in ``tests/data``, against the rules.
3. **Within-set**: a model learned on each pack's own ``eval_text.csv`` (three classes), its guard's 5-fold
   cross-validated accuracy against the rules' — clearly a figure on the set it learned from.
4. **Time** to learn from 2,000 labels (the whole corpus; wall and CPU seconds).

Accuracy: share of comments whose answer equals the label; a neutral answer on a positive or negative label
is wrong (for the rules and the model alike).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SEED = 20261219
POL = {"pos": 1, "neg": -1, "neutral": 0}


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def split(corpus: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pool, held-back): 400 positive and 400 negative reviews held back with ``SEED``."""
    dev = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(SEED)
    hold = np.concatenate([rng.choice(np.flatnonzero(dev["label"] == lab), 400, replace=False)
                           for lab in ("pos", "neg")])
    mask = np.zeros(len(dev), bool)
    mask[hold] = True
    return dev[~mask].reset_index(drop=True), dev[mask].reset_index(drop=True)


def accuracy(pred: np.ndarray, labels: pd.Series) -> float:
    return float((np.asarray(pred) == labels.map(POL).to_numpy()).mean())


def loop_labels(pool: pd.DataFrame, seed: int) -> list[str]:
    """500 comments picked by the labelling loop: 200 by the rules' uncertainty, 300 by the first model's."""
    from cemkit.text import learn_sentiment
    from cemkit.text.labels import select_for_labelling

    lab = dict(zip(pool["text"], pool["label"]))
    first = select_for_labelling(pool["text"], None, n=200, seed=seed)["text"].tolist()
    m1 = learn_sentiment(first, [lab[t] for t in first])
    second = select_for_labelling(pool["text"], None, n=300, model=m1 if m1.kept else None, exclude=first,
                                  seed=seed)["text"].tolist()
    return first + second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/shared/reference/reviews_zh_dev.csv")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--loops", type=int, default=5)
    ap.add_argument("--skip-within", action="store_true", help="leave out part 3")
    args = ap.parse_args()
    from cemkit.packs import list_packs, load_pack
    from cemkit.text import analyze, learn_sentiment

    pool, held = split(Path(args.corpus))
    rules_held = np.sign(analyze(held["text"]).sentiment.to_numpy())
    lab = dict(zip(pool["text"], pool["label"]))
    models: dict[str, object] = {}
    for s in range(args.draws):
        sub = pool.sample(500, random_state=s)
        models[f"500 random (draw {s})"] = learn_sentiment(sub["text"], sub["label"], seed=s)
    for s in range(args.loops):
        picked = loop_labels(pool, s)
        models[f"500 by the loop (seed {s})"] = learn_sentiment(picked, [lab[t] for t in picked], seed=s)
    models["all 1,200 of the pool"] = learn_sentiment(pool["text"], pool["label"])

    print(f"1. Review corpus {args.corpus}: held back 800 (seed {SEED}); rules on them "
          f"{accuracy(rules_held, held['label']):.3f}")
    print(f"{'labels':<28} {'kept':>5} {'CV model':>9} {'CV rules':>9} {'held model':>11} {'held rules':>11} "
          f"{'gain':>6}")
    gains: dict[str, list[float]] = {"500 random": [], "500 by the loop": []}
    for name, m in models.items():
        acc = accuracy(m.polarity(held["text"]).to_numpy(), held["label"])
        ru = accuracy(rules_held, held["label"])
        print(f"{name:<28} {m.kept!s:>5} {m.info.get('cv_accuracy', float('nan')):>9.3f} "
              f"{m.info['rules_accuracy']:>9.3f} {acc:>11.3f} {ru:>11.3f} {100 * (acc - ru):>+6.1f}")
        for kind, g in gains.items():
            if name.startswith(kind):
                g.append(100 * (acc - ru))
    for kind, g in gains.items():
        if g:
            print(f"{kind}: mean gain {np.mean(g):+.2f}, min {min(g):+.1f}, max {max(g):+.1f}, "
                  f"{sum(x >= 6 for x in g)} of {len(g)} at +6 or more")

    print("\n2. The same models on survey comments and written reviews (accuracy; pos/neg/neutral labels)")
    sets = {}
    for name in list_packs():
        p = load_pack(name)
        if (Path(p.root) / "eval_text.csv").exists():
            ev = pd.read_csv(Path(p.root) / "eval_text.csv", dtype=str, keep_default_na=False)
            sets[f"{name} eval_text.csv"] = (ev["text"], ev["sentiment"], p)
    for f in ("general_reviews_holdout.csv", "general_reviews_dev.csv"):
        g = pd.read_csv(REPO / "tests" / "data" / f, dtype=str, keep_default_na=False)
        sets[f] = (g["text"], g["label"], None)
    names = list(models)
    print(f"{'set':<30} {'n':>4} {'rules':>6} {'models (min–max)':>17} {'worst':>6} {'best':>6}")
    for sname, (texts, labels, p) in sets.items():
        ru = accuracy(np.sign(analyze(texts, p).sentiment.to_numpy()), labels)
        accs = [accuracy(models[n].polarity(texts, p).to_numpy(), labels) for n in names]
        print(f"{sname:<30} {len(texts):>4} {ru:>6.3f} {min(accs):>8.3f}–{max(accs):.3f} "
              f"{100 * (min(accs) - ru):>+6.1f} {100 * (max(accs) - ru):>+6.1f}")
    print(f"   over the {len(names)} models of part 1")

    print("\n3. Within-set: a three-class model learned on each pack's own eval_text.csv (5-fold CV, the guard)")
    for sname, (texts, labels, p) in sets.items():
        if args.skip_within or not sname.endswith("eval_text.csv"):
            continue
        m = learn_sentiment(texts, labels, p)
        i = m.info
        print(f"{sname:<30} n={i['n']:>4}  CV model {i.get('cv_accuracy', float('nan')):.3f}  rules "
              f"{i['rules_accuracy']:.3f}  better {i.get('better')} worse {i.get('worse')}  p={i.get('p_value', 1):.3g}"
              f"  kept: {m.kept}")

    dev = pd.read_csv(args.corpus, dtype=str, keep_default_na=False)
    c0, t0 = cpu(), time.perf_counter()
    m = learn_sentiment(dev["text"], dev["label"])
    print(f"\n4. Learning from {len(dev):,} labels (5-fold guard + final fit): {time.perf_counter() - t0:.2f} s wall, "
          f"{cpu() - c0:.2f} CPU s; {m.space.size:,} n-grams")


if __name__ == "__main__":
    main()
