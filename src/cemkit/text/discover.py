"""Candidate themes from the comments no theme catches: TF-IDF over jieba tokens, NMF topics, YAML snippet.

``discover`` samples at most ``sample`` distinct uncaught comments, segments them (:func:`tokenize`, pack
dictionary kept whole, stop words out), builds a TF-IDF matrix (scikit-learn), factorises it into ``k`` topics
with NMF and describes each topic by its top words and three sample quotes. ``write_candidates_yaml`` turns the
result into a snippet in the themes.yaml format (ids ``candidate_1`` …) that an analyst reviews, renames and
pastes into the pack. Candidate keywords never repeat a keyword the pack already has (the pack validator
rejects duplicates), nor a lexicon sentiment/negation/degree word (keywords name aspects, not feelings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .lexicon import load_lexicon
from .segment import tokenize
from .themes import analyze, as_series

__all__ = ["discover", "uncaught", "write_candidates_yaml"]

COLUMNS = ["candidate", "size", "share", "top_words", "keywords", "quotes", "head", "head_quotes"]


def uncaught(texts: Any, pack: Any, tags: pd.DataFrame | None = None, min_chars: int = 4) -> pd.Series:
    """Comments of at least ``min_chars`` characters that mention no theme of ``pack``: their counts indexed
    by the distinct text, most frequent first."""
    s = as_series(texts)
    if tags is None:
        tags = analyze(s, pack).tags()
    caught = s.index.isin(tags["row"].unique())
    t = s[~caught].dropna().astype(str).str.strip()
    t = t[t.str.len() >= min_chars]
    counts = t.value_counts()
    counts.index = counts.index.astype(object)
    return counts


def discover(texts: Any, pack: Any, tags: pd.DataFrame | None = None, *, k: int = 8, sample: int = 50_000,
             n_words: int = 10, n_quotes: int = 3, min_df: int = 2, min_docs: int = 5, seed: int = 0,
             backend: str = "auto") -> pd.DataFrame:
    """Candidate topics among the comments no theme catches.

    ``texts``: the comments (Series/list), ``tags``: their comment-level tags (computed when None). Returns one
    row per topic, largest first: ``candidate`` (candidate_1 …), ``size`` (uncaught comments in the sample
    whose strongest topic it is), ``share`` (% of those), ``top_words`` (list, best first), ``keywords`` (top
    words that are not yet keywords of the pack), ``quotes`` (``n_quotes`` short sample comments), ``head`` (the
    topic's most frequent new keyword: in the most of its comments, weighted by their number; "" when every
    top word is a pack keyword) and ``head_quotes`` (sample comments that contain the head word). A topic
    found in few distinct comments may blend two subjects (NMF has one topic per 5 documents): the head word
    names the larger one, and the quotes under it stay on that subject.
    Comments whose content words are identical count as one document (weighted by their number). Empty when
    fewer than ``min_docs`` such documents remain; ``k`` shrinks for small samples (one topic per 5 documents)."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    counts = uncaught(texts, pack, tags)
    if len(counts) > sample:
        counts = counts.sample(sample, random_state=seed)
    if len(counts) < min_docs:
        return pd.DataFrame(columns=COLUMNS)
    lex = load_lexicon(pack)
    feeling = set(lex.words) | set(lex.negations) | set(lex.degrees) | set(lex.contrasts) | set(lex.neutral) \
        | set(lex.adjectives)
    # topics are about *what* is discussed: drop the lexicon's sentiment/negation/degree words and single
    # characters, so generic verdicts ("还行吧", "挺好的") do not form topics of their own
    raw = pd.Series(counts.index, dtype=object)
    toks_all = [[w for w in t if len(w) > 1 and w not in feeling and "*" not in w]
                for t in tokenize(raw, pack, backend)]
    # comments that differ only in numbers, masks or verdict words are one document (their counts add up)
    groups: dict[tuple[str, ...], int] = {}
    weight: list[int] = []
    first: list[int] = []
    for i, t in enumerate(toks_all):
        if not t:
            continue
        sig = tuple(t)
        if sig in groups:
            weight[groups[sig]] += int(counts.iloc[i])
        else:
            groups[sig] = len(first)
            first.append(i)
            weight.append(int(counts.iloc[i]))
    if len(first) < min_docs:
        return pd.DataFrame(columns=COLUMNS)
    docs = raw.iloc[first].reset_index(drop=True)
    toks = [toks_all[i] for i in first]
    wts = np.asarray(weight, float)
    # a word in over half the documents is too common to tell topics apart — unless there are only a few
    # distinct documents, mostly of one topic: then it is that topic's name (充电桩 in 3 of 5 phrasings)
    vec = TfidfVectorizer(analyzer=lambda d: d, min_df=min(min_df, max(1, len(docs) // 50) or 1),
                          max_df=0.5 if len(docs) >= 20 else 1.0, sublinear_tf=True)
    try:
        X = vec.fit_transform(toks)
    except ValueError:  # empty vocabulary
        return pd.DataFrame(columns=COLUMNS)
    k = max(1, min(k, len(docs) // 5, X.shape[1]))
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=500)
    W = nmf.fit_transform(X)
    H = nmf.components_
    vocab = np.asarray(vec.get_feature_names_out(), dtype=object)
    best = W.argmax(1)
    strength = W.max(1)
    has = strength > 0
    taken = {kw for t in pack.themes for kw in t.keywords} if pack is not None else set()
    rows = []
    for j in range(k):
        words = [str(vocab[i]) for i in np.argsort(-H[j])[:n_words] if H[j, i] > 0]
        kws = [w for w in words if w not in taken]
        members = np.flatnonzero(has & (best == j))
        order = members[np.argsort(-W[members, j])]
        cand = docs.iloc[order]
        short = cand[cand.str.len() <= 40]
        quotes = list(dict.fromkeys((short if len(short) >= n_quotes else cand).tolist()))[:n_quotes]
        head = _head_word(toks, members, wts, taken)
        core = cand[cand.str.contains(head, regex=False)] if head else cand.iloc[:0]
        core_short = core[core.str.len() <= 40]
        head_quotes = list(dict.fromkeys((core_short if len(core_short) >= n_quotes else core).tolist()))[:n_quotes]
        rows.append({"size": int(wts[members].sum()), "top_words": words, "keywords": kws, "quotes": quotes,
                     "head": head, "head_quotes": head_quotes})
    out = pd.DataFrame(rows).sort_values("size", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "candidate", [f"candidate_{i + 1}" for i in range(len(out))])
    out.insert(2, "share", 100 * out["size"] / max(float(wts[has].sum()), 1.0))
    return out[COLUMNS]


def _head_word(toks: list[list[str]], members: np.ndarray, wts: np.ndarray, taken: set[str]) -> str:
    """The word that names the topic ('' if none), counted over the topic's documents themselves (the TF-IDF
    vocabulary drops a word in more than half of the documents — with few distinct documents, the very word
    the topic is about): among the words that are not yet pack keywords and appear in at least 60% as many
    (weighted) documents as the most frequent one, the longest — 人民币 or 充电桩 rather than a fragment such
    as 不到; a word that starts with a negation (不, 没, 无, 未) never names a topic."""
    count: dict[str, float] = {}
    for i in members:
        for w in set(toks[i]):
            if len(w) > 1 and w not in taken and not w.startswith(("不", "没", "无", "未")):
                count[w] = count.get(w, 0.0) + float(wts[i])
    if not count:
        return ""
    top = max(count.values())
    near = [w for w, c in count.items() if c >= 0.6 * top]
    return max(near, key=lambda w: (len(w), count[w], w))


def write_candidates_yaml(candidates: pd.DataFrame, path: str | Path | None = None, n_keywords: int = 6,
                          min_size: int = 1) -> str:
    """A themes.yaml snippet for the candidate topics (ids ``candidate_1`` …, keywords = top words, each word
    used by one candidate only), with each topic's size and sample quotes as comments. Written to ``path``
    when given; returned either way."""
    import yaml

    used: set[str] = set()
    lines = ["# Candidate themes found by cemkit discovery in comments that no theme caught.",
             "# Review each: rename the id and name, fix level1, prune keywords (a keyword may belong to one",
             "# theme only), then paste it under `themes:` in the pack's themes.yaml.",
             "themes:"]
    for row in candidates.itertuples():
        if row.size < min_size:
            continue
        kws = [w for w in row.keywords if w not in used][:n_keywords]
        if not kws:
            continue
        used.update(kws)
        num = row.candidate.split("_")[-1]
        lines.append(f"  # {row.size} comments ({row.share:.1f}% of the uncaught sample); top words: "
                     f"{'、'.join(row.top_words)}")
        for q in row.quotes:
            lines.append(f"  #   「{' '.join(str(q).split())}」")
        lines.append(f"  - id: {row.candidate}")
        lines.append("    level1: {zh: 待归类, en: To review}")
        lines.append(f"    name: {{zh: 候选主题{num}：{kws[0]}, en: Candidate {num}}}")
        lines.append("    keywords: " + yaml.safe_dump(kws, allow_unicode=True, default_flow_style=True).strip())
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
