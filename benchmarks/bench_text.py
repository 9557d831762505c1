"""Throughput of theme tagging + sentiment on 1,000,000 short Chinese comments.

Run: PYTHONPATH=src python benchmarks/bench_text.py [--rows N] [--jobs J ...] [--baselines]

Data: comments assembled from the clauses of the auto pack's labelled set (``industry_packs/auto/eval_text.csv``)
— one to three clauses per comment, shuffled and recombined, joined by varied punctuation, with now and then
a particle, an intensifier or a duration ("等了3个小时") added — about 18 characters on average. Two data sets:

* ``realistic``: drawn with Zipf-like frequencies from a pool of distinct comments plus the short answers real
  surveys are full of ("满意", "无", "很好" …): many exact repeats;
* ``unique``: every comment distinct (dedupe cannot help).

Both are written to Parquet and read back (pandas' default Arrow-backed ``str`` column, as after ingest).
Each scenario runs in a fresh process so its peak RSS is its own. Besides wall-clock throughput the table
shows CPU seconds (process + workers) and characters per CPU second, which other load on the machine
affects far less; the last column is the 1-minute load average when the scenario finished. Timed: ``cemkit.text.analyze`` (dedupe,
matching, sentiment, mentions) plus ``TextAnalysis.tags()`` (the (comment, theme) DataFrame), best of
``--repeat`` runs. ``--baselines`` also times plain ``jieba.lcut`` (on a sample) and ``rjieba.cut`` for scale.

``--model-from CSV`` (``text`` and ``label`` or ``sentiment`` columns, e.g. the shared review corpus as "a
client's labels") learns a sentiment model at benchmark time (:func:`cemkit.text.learn_sentiment`; never
saved anywhere but the temporary folder) and times ``analyze(..., model=…)`` as well: rules + n-gram model.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHORT = ["满意", "无", "很好", "没有", "非常满意", "还行", "好", "挺好的", "一般", "没意见", "服务很好", "满意满意",
         "谢谢", "不满意", "很满意", "还可以", "不错", "暂无", "都挺好", "服务好"]
PUNCT = ["，", "，", "，", "。", "！", " ", "；", ","]
EXTRA = ["了", "啊", "呢", "吧", "！！", "。"]
INTENS = ["真的", "确实", "实在是", "总体"]


def clause_pool() -> list[str]:
    ev = pd.read_csv(REPO / "industry_packs/auto/eval_text.csv", dtype=str, keep_default_na=False)
    return sorted({c for t in ev["text"] for c in re.split(r"[，。！？,.!?；;\s]+", t) if len(c) >= 2})


def generate(n: int, rng: np.random.Generator, pool: list[str]) -> list[str]:
    """n comments (not necessarily distinct) recombined from the clause pool."""
    k = rng.choice([1, 2, 3], size=n, p=[0.45, 0.45, 0.10])
    idx = rng.integers(0, len(pool), (n, 3))
    punct = rng.integers(0, len(PUNCT), (n, 2))
    extra = rng.random(n)
    ex = rng.integers(0, len(EXTRA), n)
    it = rng.integers(0, len(INTENS), n)
    hours = rng.integers(1, 9, n)
    out = []
    for i in range(n):
        parts = [pool[j] for j in idx[i, :k[i]]]
        text = parts[0]
        for m, p in enumerate(parts[1:]):
            text += PUNCT[punct[i, m]] + p
        e = extra[i]
        if e < 0.08:
            text += EXTRA[ex[i]]
        elif e < 0.12:
            text = INTENS[it[i]] + text
        elif e < 0.15:
            text += f"，等了{hours[i]}个小时"
        out.append(text)
    return out


def unique_comments(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    pool = clause_pool()
    seen: dict[str, None] = {}
    while len(seen) < n:
        for t in generate(max(n // 2, 10_000), rng, pool):
            seen.setdefault(t, None)
    return list(seen)[:n]


def realistic_comments(n: int, seed: int = 1) -> list[str]:
    """30 % Zipf-like draws (s = 1.1) over 20 short answers followed by a pool of n/3 distinct comments, 70 %
    uniform draws from the pool."""
    rng = np.random.default_rng(seed)
    distinct = SHORT + unique_comments(max(n // 3, 1000), seed + 1)
    ranks = np.arange(1, len(distinct) + 1, dtype=float)
    p = ranks ** -1.1
    p /= p.sum()
    draw = np.where(rng.random(n) < 0.3, rng.choice(len(distinct), n, p=p), rng.integers(0, len(distinct), n))
    return [distinct[i] for i in draw]


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker pool)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_mb() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def run_scenario(path: str, jobs: int, repeat: int, model_path: str = "") -> dict:
    from cemkit.packs import load_pack
    from cemkit.text import analyze, load_sentiment_model

    pack = load_pack("auto")
    model = load_sentiment_model(model_path) if model_path else None
    s = pd.read_parquet(path)["comment"]
    chars = int(s.str.len().sum())
    analyze(s.head(2000), pack, model=model)  # build the automaton and lexicon cache outside the timing
    base, _ = peak_mb()
    best = None
    for _ in range(repeat):
        c0 = cpu_seconds()
        t0 = time.perf_counter()
        a = analyze(s, pack, n_jobs=jobs, model=model)
        t1 = time.perf_counter()
        tags = a.tags()
        t2 = time.perf_counter()
        cpu = cpu_seconds() - c0
        if best is None or t2 - t0 < best[0]:
            best = (t2 - t0, t1 - t0, t2 - t1, cpu)
    me, kids = peak_mb()
    return {"rows": len(s), "distinct": int(s.nunique()), "chars": chars, "seconds": best[0],
            "analyze_s": best[1], "tags_s": best[2], "mchars_per_s": chars / best[0] / 1e6,
            "cpu_s": best[3], "mchars_per_cpu_s": chars / best[3] / 1e6, "load": os.getloadavg()[0],
            "tag_rows": len(tags), "deduped": a.codes is not None, "rss_before_mb": base, "peak_rss_mb": me,
            "peak_worker_rss_mb": kids, "neg_share": float((a.sentiment < 0).mean())}


def baselines(path: str, sample: int = 50_000) -> dict:
    s = pd.read_parquet(path)["comment"].tolist()
    out = {}
    import jieba

    jieba.setLogLevel(60)
    jieba.lcut("预热")
    sub = s[:sample]
    t = time.perf_counter()
    for x in sub:
        jieba.lcut(x)
    out["jieba_lcut_mchars_per_s"] = sum(map(len, sub)) / (time.perf_counter() - t) / 1e6
    try:
        import rjieba

        t = time.perf_counter()
        for x in s:
            rjieba.cut(x)
        out["rjieba_cut_mchars_per_s"] = sum(map(len, s)) / (time.perf_counter() - t) / 1e6
    except ImportError:
        pass
    return out


def learn_model(csv: str, out: str) -> str:
    """Learn a sentiment model from a labelled CSV at benchmark time, save it to ``out`` (a temporary file)."""
    from cemkit.packs import load_pack
    from cemkit.text import learn_sentiment

    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    col = "label" if "label" in df else "sentiment"
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    model = learn_sentiment(df["text"], df[col], load_pack("auto"))
    print(f"model learned from {len(df):,} labels of {csv}: {time.perf_counter() - t0:.2f} s, "
          f"{cpu_seconds() - c0:.2f} CPU s; {model.space.size:,} n-grams; kept: {model.kept}")
    if not model.kept:
        raise SystemExit("the learned model did not beat the rules: nothing to time")
    return str(model.save(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, nargs="*", help="worker counts to time (default: 1 and all cores)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--baselines", action="store_true")
    ap.add_argument("--model-from", help="labelled CSV to learn a sentiment model from (timed with it too)")
    ap.add_argument("--scenario", help=argparse.SUPPRESS)  # internal: run one scenario, print JSON
    ap.add_argument("--model", help=argparse.SUPPRESS)  # internal: the learned model file
    args = ap.parse_args()
    if args.scenario:
        path, jobs = args.scenario.rsplit(":", 1)
        print(json.dumps(run_scenario(path, int(jobs), args.repeat, args.model or "")))
        return
    cores = len(os.sched_getaffinity(0))
    jobs = args.jobs or sorted({1, cores})
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        files = {}
        for name, make in (("realistic", realistic_comments), ("unique", unique_comments)):
            comments = make(args.rows)
            files[name] = f"{tmp}/{name}.parquet"
            pd.DataFrame({"comment": comments}).to_parquet(files[name])
        print(f"data built in {time.perf_counter() - t:.1f}s on {cores} cores "
              f"(load average {os.getloadavg()[0]:.2f})")
        models = [""]
        if args.model_from:
            models.append(learn_model(args.model_from, f"{tmp}/model.json"))
        print(f"{'data':<10} {'jobs':>4} {'rows':>9} {'distinct':>9} {'avg chars':>9} {'seconds':>8} "
              f"{'analyze':>8} {'tags()':>7} {'M chars/s':>9} {'CPU s':>6} {'M ch/CPU s':>10} "
              f"{'peak RSS MB':>11} {'worker MB':>9} {'load':>5}")
        env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for (name, path), model in itertools.product(files.items(), models):
            for j in jobs:
                res = subprocess.run([sys.executable, __file__, "--scenario", f"{path}:{j}", "--repeat",
                                      str(args.repeat), "--model", model], capture_output=True, text=True,
                                     env=env, check=True)
                r = json.loads(res.stdout.strip().splitlines()[-1])
                label = name + ("+model" if model else "")
                print(f"{label:<10} {j:>4} {r['rows']:>9,} {r['distinct']:>9,} {r['chars'] / r['rows']:>9.1f} "
                      f"{r['seconds']:>8.2f} {r['analyze_s']:>8.2f} {r['tags_s']:>7.2f} {r['mchars_per_s']:>9.2f} "
                      f"{r['cpu_s']:>6.2f} {r['mchars_per_cpu_s']:>10.2f} "
                      f"{r['peak_rss_mb']:>11.0f} {r['peak_worker_rss_mb']:>9.0f} {r['load']:>5.2f}", flush=True)
        if args.baselines:
            b = baselines(files["unique"])
            print("baselines (unique data): " + ", ".join(f"{k} {v:.2f}" for k, v in b.items()))


if __name__ == "__main__":
    main()
