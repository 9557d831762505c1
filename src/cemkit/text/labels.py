"""The labelling loop's data side: which comments to ask a consultant about, reading the filled sheet back,
and theme keywords proposed from the comments the dictionary missed.

``select_for_labelling`` ranks the distinct comments by how much a label would teach:

* **uncertainty** — with a kept learned model, 1 where its answer differs from the rules' (the two
  disagree: a label settles which is right — query by committee) and else ``(1 − p) / (1 − 1/k)`` for the
  class it chose (``p`` its probability, ``k`` classes: 1 when all classes are equally likely); with the
  rules only,
  ``(1 − |score|)²`` (a comment the rules find nothing in scores 1, a clear 满意 almost 0), plus
  0.5 when the rules' polarity contradicts the respondent's own score (praise from a detractor (0–6) or blame
  from a promoter (9–10)) — the comments where the rules are most likely wrong;
* **frequency** — × ``1 + ln(count)``: a comment a hundred customers wrote weighs more than a one-off;
* **diversity** — the top ``pool_factor × n`` candidates are clustered (k-means over character n-gram
  TF-IDF, scikit-learn) into as many clusters as uncertain picks are wanted, and each cluster gives its
  highest-ranked comment, so the sheet does not ask twenty times about 还行 and its variants.

A share ``random_share`` of the picks is drawn at random (weighted by frequency) from the other comments:
labels on them measure accuracy on ordinary comments, not only on hard ones.

``read_label_sheet`` reads a labelling workbook (any sheet with a comment and a label column, headers in
Chinese or English) and ``propose_theme_keywords`` turns theme labels on comments the dictionary missed
into candidate keywords for the pack's themes: the fewest words that cover the theme's labelled comments
and are typical of them (log-odds against the other labelled comments), that no theme already has — a
YAML patch the analyst reviews, like ``discovery_candidates.yaml``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .learn import parse_labels
from .matching import join_texts
from .ngrams import NgramSpace
from .themes import analyze, as_series

__all__ = ["HEADERS", "propose_theme_keywords", "read_label_sheet", "select_for_labelling",
           "write_theme_patch_yaml"]

#: sheet columns: canonical name → header in each language (read back in either)
HEADERS: dict[str, dict[str, str]] = {
    "item": {"zh": "编号", "en": "item"},
    "comment": {"zh": "评论", "en": "comment"},
    "label": {"zh": "情感标注", "en": "label"},
    "theme_label": {"zh": "主题标注", "en": "theme_label"},
    "stage": {"zh": "环节", "en": "stage"},
    "nps": {"zh": "NPS评分", "en": "nps"},
    "reading": {"zh": "当前判断", "en": "current_reading"},
    "themes": {"zh": "当前主题", "en": "current_themes"},
    "count": {"zh": "出现次数", "en": "count"},
    "picked_by": {"zh": "抽样方式", "en": "picked_by"},
}
READING = {"zh": {1: "正面", -1: "负面", 0: "中性"}, "en": {1: "positive", -1: "negative", 0: "neutral"}}
PICKED = {"zh": {"uncertain": "不确定", "random": "随机"}, "en": {"uncertain": "uncertain", "random": "random"}}


def select_for_labelling(comments: Any, pack: Any = None, *, n: int = 200, model: Any = None,
                         nps: Any = None, exclude: Sequence[str] = (), random_share: float = 0.2,
                         pool_factor: int = 4, min_chars: int = 2, seed: int = 0) -> pd.DataFrame:
    """The ``n`` comments whose labels would teach most (see the module docstring).

    ``comments``: the run's (masked) comments; ``nps``: the respondents' 0–10 scores aligned with them
    (optional); ``exclude``: comments already labelled. Returns one row per pick: ``text``, ``count`` (times
    it occurs), ``first`` (position of its first occurrence in ``comments``), ``polarity`` (the current
    reading: the model's when kept, else the rules'), ``score`` (the rules' score), ``uncertainty``,
    ``picked_by`` (``uncertain`` / ``random``), most uncertain first."""
    s = as_series(comments).reset_index(drop=True)
    txt = s.astype("string").str.strip()
    ok = txt.notna() & (txt.str.len() >= min_chars)
    if len(exclude):
        ok &= ~txt.isin([str(e).strip() for e in exclude])
    pos = np.flatnonzero(ok.to_numpy(bool))
    cols = ["text", "count", "first", "polarity", "score", "uncertainty", "picked_by"]
    if pos.size == 0 or n <= 0:
        return pd.DataFrame(columns=cols)
    codes, uniq = pd.factorize(txt.iloc[pos])
    count = np.bincount(codes)
    first = np.full(len(uniq), -1, np.int64)
    first[codes[::-1]] = pos[::-1]  # first occurrence of each distinct comment
    texts = [str(u) for u in uniq]
    a = analyze(texts, pack, model=model)
    score = a.sentiment.to_numpy(np.float64)
    polarity = a.polarity().to_numpy(np.int64)
    if a.learned is not None:
        k = len(model.classes)
        unc = (1.0 - a.learned_conf) / (1.0 - 1.0 / k)  # 1 when the classes are equally likely
        unc = np.where(a.learned != np.sign(score), 1.0, unc)  # model and rules disagree: a label settles it
    else:
        unc = (1.0 - np.abs(score)) ** 2
        if nps is not None:
            x = pd.to_numeric(as_series(nps).reset_index(drop=True), errors="coerce").to_numpy(float)
            xs = x[pos]
            det = np.bincount(codes, weights=(xs <= 6).astype(float), minlength=len(uniq)) / count
            pro = np.bincount(codes, weights=(xs >= 9).astype(float), minlength=len(uniq)) / count
            unc = unc + 0.5 * np.where(polarity > 0, det, np.where(polarity < 0, pro, 0.0))
    rank = unc * (1.0 + np.log(count))
    n = min(n, len(texts))
    n_random = min(round(n * random_share), n)
    n_uncertain = n - n_random
    rng = np.random.default_rng(seed)
    order = np.argsort(-rank, kind="stable")
    picked = _diverse(texts, order[: max(n_uncertain * pool_factor, n_uncertain)], n_uncertain, seed)
    rest = np.setdiff1d(np.arange(len(texts)), picked)
    if n_random and rest.size:
        w = count[rest] / count[rest].sum()
        rnd = rng.choice(rest, size=min(n_random, rest.size), replace=False, p=w)
    else:
        rnd = np.zeros(0, np.int64)
    out = pd.DataFrame({
        "text": [texts[i] for i in np.concatenate([picked, rnd])],
        "count": count[np.concatenate([picked, rnd])],
        "first": first[np.concatenate([picked, rnd])],
        "polarity": polarity[np.concatenate([picked, rnd])],
        "score": score[np.concatenate([picked, rnd])],
        "uncertainty": unc[np.concatenate([picked, rnd])],
        "picked_by": ["uncertain"] * picked.size + ["random"] * rnd.size,
    })
    return out.reset_index(drop=True)


def _diverse(texts: list[str], cand: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` of the candidates ``cand`` (best first): the best of each of ``k`` k-means clusters of their
    character 1–2-gram TF-IDF rows."""
    if k <= 0:
        return np.zeros(0, np.int64)
    if cand.size <= k:
        return cand
    from sklearn.cluster import KMeans

    big, starts = join_texts([texts[i] for i in cand])
    space = NgramSpace.fit(big, starts, (1, 2))
    X = space.transform(big, cand.size)
    labels = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=50).fit_predict(X)
    best: dict[int, int] = {}
    for j, lab in enumerate(labels):  # cand is best first: the first member of a cluster is its best
        best.setdefault(int(lab), j)
    chosen = sorted(best.values())
    if len(chosen) < k:  # empty clusters: fill with the best candidates not yet chosen
        taken = set(chosen)
        chosen += [j for j in range(cand.size) if j not in taken][: k - len(chosen)]
        chosen.sort()
    return cand[np.asarray(chosen, np.int64)]


# ------------------------------------------------------------------------------------------- reading
def read_label_sheet(path: str | Path) -> pd.DataFrame:
    """The labelled rows of a labelling workbook: ``text``, ``label`` (pos / neg / neutral or None),
    ``theme_label`` (str or None), ``sheet``, ``line``. Every sheet whose first row holds a comment and a
    label header (Chinese or English, see ``HEADERS``) is read; other sheets are skipped. Cells are read as
    values (a formula's cached result, never evaluated). Raises InputError when no sheet has the columns or
    a label cannot be read (with its sheet and line)."""
    from openpyxl import load_workbook

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: labelling sheet not found")
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is bad input
        raise InputError(f"{p}: cannot read the workbook ({type(exc).__name__}: {str(exc)[:80]})") from None
    names = {h[lang].strip().lower(): key for key, h in HEADERS.items() for lang in h}
    frames = []
    try:
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            head = next(rows, None)
            if head is None:
                continue
            cols = {names.get(str(h).strip().lower()): j for j, h in enumerate(head) if h is not None}
            if "comment" not in cols or "label" not in cols:
                continue
            want = [cols.get(k) for k in ("comment", "label", "theme_label")]
            recs = [(*(r[j] if j is not None and j < len(r) else None for j in want), i)
                    for i, r in enumerate(rows, start=2)]
            if not recs:
                continue
            where = f"{p.name}, sheet {ws.title!r}"
            df = pd.DataFrame({
                "text": pd.Series([None if v is None else str(v) for v, _, _, _ in recs], dtype=object),
                "label": pd.Series(_labels_by_line([(v, line) for _, v, _, line in recs], where), dtype=object),
                "theme_label": pd.Series([None if v is None or not str(v).strip() else str(v).strip()
                                          for _, _, v, _ in recs], dtype=object),
                "line": [line for *_, line in recs],
            })
            df["sheet"] = ws.title
            frames.append(df)
    finally:
        wb.close()
    if not frames:
        raise InputError(f"{p}: no sheet has a comment and a label column "
                         f"({HEADERS['comment']['zh']}/{HEADERS['comment']['en']}, "
                         f"{HEADERS['label']['zh']}/{HEADERS['label']['en']})")
    out = pd.concat(frames, ignore_index=True)
    out = out[out["text"].notna() & (out["label"].notna() | out["theme_label"].notna())]
    return out[["text", "label", "theme_label", "sheet", "line"]].reset_index(drop=True)


def _labels_by_line(cells: list[tuple[Any, int]], where: str) -> list:
    bad = []
    out = []
    for v, line in cells:
        try:
            out.append(parse_labels([v])[0])
        except InputError:
            bad.append(f"line {line}: {str(v)[:20]!r}")
            out.append(None)
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise InputError(f"{where}: label(s) not understood — {'; '.join(bad[:5])}{more}; use 正面 / 负面 / 中性 "
                         f"(or positive / negative / neutral, pos / neg)")
    return out


# -------------------------------------------------------------------------------------------- themes
def parse_theme_labels(values: Sequence[Any], pack: Any, where: str = "theme labels") -> list[list[str]]:
    """Theme ids for each theme-label cell: ids or names (Chinese or English), several separated by
    | 、 , ， ; or ；. Raises InputError listing the names no theme of ``pack`` has."""
    import re

    lookup: dict[str, str] = {}
    for t in pack.themes:
        lookup[t.id.lower()] = t.id
        for name in (t.name.zh, t.name.en):
            if name:
                lookup[str(name).strip().lower()] = t.id
    out, bad = [], []
    for v in values:
        ids = []
        if v is not None and str(v).strip():
            for part in re.split(r"[|、,，;；/]+", str(v)):
                part = part.strip()
                if not part:
                    continue
                tid = lookup.get(part.lower())
                if tid is None:
                    bad.append(part[:20])
                elif tid not in ids:
                    ids.append(tid)
        out.append(ids)
    if bad:
        raise InputError(f"{where}: no theme of pack {pack.id} is called {', '.join(repr(b) for b in sorted(set(bad))[:8])}"
                         " — use a theme id or name from the sheet 主题/themes")
    return out


def propose_theme_keywords(texts: Sequence[str], theme_ids: Sequence[Sequence[str]], pack: Any, *,
                           n_keywords: int = 6, min_count: int = 2, prior: float = 1.0) -> pd.DataFrame:
    """Candidate keywords for the themes labelled on comments.

    Candidates are the comments' words (:func:`tokenize`, the pack's dictionary kept whole, stop words out)
    of two or more characters and pairs of adjacent words of up to four characters (零 + 加价), without
    keywords the pack already has, words inside one of them, or lexicon sentiment words. For each theme,
    keywords are picked greedily: the candidate that appears in the most labelled comments of the theme not
    yet covered by a chosen keyword (ties: the larger log-odds of a theme comment holding it against the
    other labelled comments, add-``prior`` smoothed), until no candidate covers ``min_count`` more or
    ``n_keywords`` are chosen; candidates more frequent outside the theme (log-odds ≤ 0) never qualify.
    Returns ``theme, keyword, n_theme, n_other, log_odds``.

    Only comments the pack's themes do not already catch with the labelled theme teach anything: pass
    those (the CLI passes the labelled comments whose labelled theme the rules missed)."""
    from .lexicon import load_lexicon
    from .segment import tokenize

    texts = [str(t) for t in texts]
    taken = {kw for t in pack.themes for kw in t.keywords}
    lex = load_lexicon(pack)
    feeling = set(lex.words) | set(lex.negations) | set(lex.degrees) | set(lex.contrasts)
    cand_sets = []
    for toks in tokenize(texts, pack):
        c = {w for w in toks if len(w) >= 2}
        c |= {a + b for a, b in itertools.pairwise(toks) if len(a + b) <= 4}
        cand_sets.append({w for w in c if w not in taken and w not in feeling and "*" not in w
                          and not any(w in kw for kw in taken)})
    rows = []
    for tid in sorted({tid for ids in theme_ids for tid in ids}):
        inside = np.asarray([tid in ids for ids in theme_ids], bool)
        n_in, n_out = int(inside.sum()), int((~inside).sum())
        members: dict[str, set[int]] = {}
        outside: dict[str, int] = {}
        for i, c in enumerate(cand_sets):
            for w in c:
                if inside[i]:
                    members.setdefault(w, set()).add(i)
                else:
                    outside[w] = outside.get(w, 0) + 1
        odds = {w: math.log((len(m) + prior) / (n_in - len(m) + prior))
                - math.log((outside.get(w, 0) + prior) / (n_out - outside.get(w, 0) + prior))
                for w, m in members.items()}
        covered: set[int] = set()
        chosen: list[str] = []
        while len(chosen) < n_keywords:
            best = max((w for w in members if odds[w] > 0 and w not in chosen),
                       key=lambda w: (len(members[w] - covered), odds[w], len(w), w), default=None)
            if best is None or len(members[best] - covered) < min_count:
                break
            covered |= members[best]
            chosen.append(best)
            rows.append({"theme": tid, "keyword": best, "n_theme": len(members[best]),
                         "n_other": outside.get(best, 0), "log_odds": odds[best]})
    return pd.DataFrame(rows, columns=["theme", "keyword", "n_theme", "n_other", "log_odds"])


def write_theme_patch_yaml(proposals: pd.DataFrame, pack: Any, path: str | Path | None = None,
                           examples: dict[str, list[str]] | None = None) -> str:
    """A YAML patch for the pack's themes.yaml: per theme, the proposed keywords to add (with the counts
    behind them and up to three labelled example comments as comments). Returned, and written to ``path``
    when given. The analyst reviews it and adds the keywords they accept to the theme's ``keywords`` list."""
    import yaml

    names = {t.id: t.name.zh for t in pack.themes}
    lines = ["# Keywords proposed for the pack's themes from the consultant's theme labels on comments the",
             "# dictionary missed (cemkit learn). Review each: keep the words that name the theme, then add them",
             "# to that theme's `keywords:` in themes.yaml (a keyword may belong to one theme only).",
             "add_keywords:"]
    for tid, g in proposals.groupby("theme", sort=False):
        lines.append(f"  # {names.get(tid, tid)}: " + "; ".join(
            f"{r.keyword} ({r.n_theme} labelled comments of the theme, {r.n_other} others)" for r in g.itertuples()))
        for q in (examples or {}).get(tid, [])[:3]:
            lines.append(f"  #   「{' '.join(str(q).split())[:60]}」")
        lines.append(f"  {tid}: " + yaml.safe_dump(g["keyword"].tolist(), allow_unicode=True,
                                                   default_flow_style=True).strip())
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
