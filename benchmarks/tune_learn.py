"""Design measurements for learned sentiment on the labelling pool only (benchmarks/learn_protocol.md).

Run: PYTHONPATH=src python benchmarks/tune_learn.py [--draws 10] [--loop 3] [--set KEY=VALUE ...]

Models from 500 labels of the 1,200-review pool (bench_learn.split: the held-back 800 are never read here),
each scored on the other 700 of the pool against the rules; ``--set`` passes keyword arguments to
``learn_sentiment`` (e.g. ``--set c=8 --set ngrams=1,2,3``). Prints per-draw gains (points), their mean and
minimum, the draws reaching +6, and the worst change on the design pack sets (auto eval_text.csv,
general_reviews_dev.csv).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_learn import REPO, accuracy, cpu, loop_labels, split


def parse_set(items: list[str]) -> dict:
    kw = {}
    for it in items:
        k, v = it.split("=", 1)
        if "," in v:
            kw[k] = tuple(ast.literal_eval(x) for x in v.split(","))
        else:
            try:
                kw[k] = ast.literal_eval(v)
            except (ValueError, SyntaxError):
                kw[k] = v
    return kw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/shared/reference/reviews_zh_dev.csv")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--loop", type=int, default=0)
    ap.add_argument("--packs", action="store_true", help="also the design pack sets")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--flips", help="candidate flip_conf values, e.g. 0.9,0.7,0.5 (default: learn.POLICIES)")
    ap.add_argument("--fills", help="candidate fill_min_chars values, e.g. 1000000,12,0")
    ap.add_argument("--policy-rule", help="learn.POLICY_RULE: 1se or best")
    args = ap.parse_args()
    from cemkit.text import learn as learn_mod
    try:
        from cemkit.text import policy as policy_mod
    except ImportError:  # before session 6 the policy lived in learn.py
        policy_mod = learn_mod

    ap_ev = [x for x in args.set if x.startswith("EVIDENCE=")]
    if ap_ev:
        learn_mod.EVIDENCE = ap_ev[0].endswith("1")
        args.set.remove(ap_ev[0])
    if args.policy_rule:
        policy_mod.POLICY_RULE = args.policy_rule

    if args.flips or args.fills:
        flips = [float(x) for x in args.flips.split(",")] if args.flips else sorted(
            {f for f, _ in learn_mod.POLICIES}, reverse=True)
        fills = [int(x) for x in args.fills.split(",")] if args.fills else sorted(
            {m for _, m in learn_mod.POLICIES}, reverse=True)
        learn_mod.POLICIES = policy_mod.POLICIES = tuple((f, m) for f in flips for m in fills)
    from cemkit.packs import load_pack
    from cemkit.text import analyze, learn_sentiment

    kw = parse_set(args.set)
    pool, _held = split(Path(args.corpus))
    rules = pd.Series(np.sign(analyze(pool["text"]).sentiment.to_numpy()), index=pool.index)
    lab = dict(zip(pool["text"], pool["label"]))
    gains, models, c_learn = [], [], 0.0
    runs = [("random", 100 + i) for i in range(args.draws)] + [("loop", 100 + i) for i in range(args.loop)]
    for kind, s in runs:
        if kind == "random":
            sub = pool.sample(500, random_state=s)
            texts, labels = sub["text"].tolist(), sub["label"].tolist()
        else:
            texts = loop_labels(pool, s)
            labels = [lab[t] for t in texts]
        c0 = cpu()
        m = learn_sentiment(texts, labels, seed=s, **kw)
        c_learn += cpu() - c0
        rest = pool[~pool["text"].isin(set(texts))]
        acc = accuracy(m.polarity(rest["text"]).to_numpy(), rest["label"])
        ru = accuracy(rules[rest.index].to_numpy(), rest["label"])
        g = 100 * (acc - ru)
        gains.append((kind, g))
        models.append(m)
        pol = m.info.get("policy", {})
        print(f"{kind:<6} {s:>4} kept={m.kept!s:<5} cv={m.info.get('cv_accuracy', float('nan')):.3f} "
              f"rest model {acc:.3f} rules {ru:.3f} gain {g:+5.1f}  policy {pol.get('flip_conf')}/"
              f"{pol.get('fill_min_chars')}", flush=True)
    for kind in ("random", "loop"):
        gk = np.asarray([g for k, g in gains if k == kind])
        if gk.size:
            print(f"{kind}: mean {gk.mean():+.2f}  min {gk.min():+.1f}  max {gk.max():+.1f}  ≥+6: {(gk >= 6).sum()}"
                  f"/{gk.size}")
    print(f"learning: {c_learn / len(runs):.2f} CPU s per model (500 labels)   kwargs {kw}")
    if args.packs:
        ev = pd.read_csv(REPO / "industry_packs" / "auto" / "eval_text.csv", dtype=str, keep_default_na=False)
        gd = pd.read_csv(REPO / "tests" / "data" / "general_reviews_dev.csv", dtype=str, keep_default_na=False)
        for name, texts, labels, p in (("auto eval_text", ev["text"], ev["sentiment"], load_pack("auto")),
                                       ("general_reviews_dev", gd["text"], gd["label"], None)):
            ru = accuracy(np.sign(analyze(texts, p).sentiment.to_numpy()), labels)
            accs = [accuracy(m.polarity(texts, p).to_numpy(), labels) for m in models]
            print(f"{name:<20} rules {ru:.3f}  models {min(accs):.3f}–{max(accs):.3f}  worst "
                  f"{100 * (min(accs) - ru):+.1f}")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"{time.perf_counter() - t0:.0f} s wall")
