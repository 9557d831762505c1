"""What each theme does to NPS: mention rates, negativity, NPS of mentioners vs the other commenters, and the
theme's net contribution to the overall NPS — overall and by stage and wave — plus top keywords and quotes.

Definitions (per cell = stage × wave, each also ``"__all__"``; weights from the ``weight`` column when present;
"commenters" = responses with a non-empty comment):

* ``mention_rate`` — weighted % of commenters whose comment mentions the theme;
* ``neg_share`` / ``pos_share`` — weighted % of those mentions with negative / positive polarity;
* ``nps_m`` — NPS of mentioners; ``nps_o`` — NPS of the commenters who do not mention the theme (both with
  Wald 95 % intervals on Kish's effective base, the formula of :func:`cemkit.metrics.nps`);
  ``gap = nps_m - nps_o`` with the interval of a difference of independent estimates;
* ``contribution = (W_m / W) × (nps_m − nps_o)`` — NPS points the theme adds to (or, negative, takes from) the
  cell's overall NPS, where ``W`` is the weight of all respondents with an NPS answer in the cell and ``W_m``
  that of the mentioners: how much the overall NPS would move if the mentioners had scored like the other
  commenters (the standard "gap × mention share" decomposition);
* ``neg_contribution = (W_neg / W) × (nps_neg − nps_not_neg)`` — the same for the theme's *negative* mentions
  against the commenters without a negative mention: the points lost to the theme's complaints.

Everything is computed from weighted sufficient statistics per (cell, theme) with ``np.bincount``: no loop
over respondents or cells.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from .lexicon import load_lexicon, load_stopwords
from .themes import analyze

__all__ = ["ALL", "ThemeImpact", "distinctive_words", "nps_from_sums", "theme_impact", "theme_keywords",
           "theme_quotes"]

ALL = "__all__"
PROMOTER_MIN, DETRACTOR_MAX = 9.0, 6.0


@dataclass
class ThemeImpact:
    """Result of :func:`theme_impact`: the impact table, keywords and quotes per theme, headline facts."""

    table: pd.DataFrame
    keywords: pd.DataFrame = field(default_factory=pd.DataFrame)
    quotes: pd.DataFrame = field(default_factory=pd.DataFrame)
    facts: dict[str, Any] = field(default_factory=dict)

    def overall(self) -> pd.DataFrame:
        """Rows of the all-stages, all-waves cell, most harmful contribution first."""
        t = self.table
        return t[(t["stage"] == ALL) & (t["wave"] == ALL)].sort_values("contribution").reset_index(drop=True)


def nps_from_sums(sw: np.ndarray, sw2: np.ndarray, w_prom: np.ndarray, w_det: np.ndarray,
                  conf: float = 0.95) -> dict[str, np.ndarray]:
    """Vectorised NPS in points with a Wald interval on Kish's n_eff — the formula of
    :func:`cemkit.metrics.nps` (``var = (p + d) − (p − d)²``, ``SE = sqrt(var / n_eff)``), applied to arrays
    of weighted sums. Empty groups give NaN."""
    z = float(_st.norm.ppf(0.5 + conf / 2))
    sw, sw2 = np.asarray(sw, float), np.asarray(sw2, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (sw > 0) & (sw2 > 0)
        n_eff = np.where(ok, sw * sw / np.where(ok, sw2, 1), 0.0)
        p = np.where(ok, w_prom / np.where(ok, sw, 1), np.nan)
        d = np.where(ok, w_det / np.where(ok, sw, 1), np.nan)
        c = p - d
        se = np.sqrt(np.maximum(p + d - c * c, 0.0) / np.where(ok, n_eff, np.nan))
    return {"value": 100 * c, "ci_low": 100 * np.clip(c - z * se, -1, 1), "ci_high": 100 * np.clip(c + z * se, -1, 1),
            "se": 100 * se, "n_eff": n_eff}


def _codes(values: pd.Series, order: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for missing) and labels: ``order`` first (those present), then others sorted."""
    v = values.astype("string")
    present = set(pd.unique(v.dropna()).tolist())
    first = [x for x in (order or []) if x in present]
    labels = first + sorted(present - set(first))
    return np.asarray(pd.Categorical(v, categories=labels).codes, np.int64), labels


def theme_impact(df: pd.DataFrame, pack: Any, tags: pd.DataFrame | None = None, *, conf: float = 0.95,
                 keywords: bool = True, quotes: bool = True, n_keywords: int = 10, n_quotes: int = 3,
                 sample: int = 5000, seed: int = 0) -> ThemeImpact:
    """Impact of every theme of ``pack`` on NPS, from the clean response table ``df`` (columns ``comment``,
    ``nps``, ``stage``, ``wave``, optional ``weight``) and its comment-level ``tags`` (from
    :func:`tag_themes` on ``df["comment"]``; computed when None). ``tags.row`` must be labels of ``df.index``.

    Returns :class:`ThemeImpact`: ``table`` (one row per stage × wave × theme, ``"__all__"`` margins included,
    columns described in the module docstring plus ``n_comments``, ``mentions``, ``n_m``, ``n_o``, ``flag``),
    ``keywords`` (TF-IDF top words per theme, all and negative mentions) and ``quotes``."""
    if "comment" not in df.columns or "nps" not in df.columns:
        raise ValueError("theme_impact needs the columns 'comment' and 'nps'")
    if not df.index.is_unique:
        raise ValueError("the response table's index must be unique (tags refer to it)")
    n = len(df)
    if tags is None:
        tags = analyze(df["comment"], pack).tags()
    pos = df.index.get_indexer(tags["row"])
    if (pos < 0).any():
        raise ValueError("tags.row holds labels that are not in the response table's index")
    ids = [t.id for t in pack.themes]
    T = len(ids)
    th = pd.Categorical(tags["theme"], categories=ids).codes.astype(np.int64)
    pol = tags["polarity"].to_numpy(np.int64)

    w = pd.to_numeric(df["weight"], errors="coerce").to_numpy(float) if "weight" in df.columns else np.ones(n)
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    x = pd.to_numeric(df["nps"], errors="coerce").to_numpy(float)
    valid = ~np.isnan(x) & (w > 0)
    com = df["comment"]
    commenter = com.notna().to_numpy() & (com.astype(str).str.strip().str.len().to_numpy() > 0)
    prom = valid & (x >= PROMOTER_MIN)
    det = valid & (x <= DETRACTOR_MAX)

    st_codes, st_labels = _codes(df["stage"], list(pack.stage_ids)) if "stage" in df.columns else \
        (np.full(n, -1), [])
    wv_codes, wv_labels = _codes(df["wave"]) if "wave" in df.columns else (np.full(n, -1), [])
    S, V = len(st_labels) + 1, len(wv_labels) + 1  # code S-1 / V-1 = "__all__"
    st_all, wv_all = S - 1, V - 1

    def cells(rows: np.ndarray):
        """Each row in its own cell and in the three margins, one margin at a time: (rows, cell code, index
        into ``rows``). The margins' cell codes are disjoint, so sums taken margin by margin and added are the
        sums over all four at once, to the bit — with a quarter of the working arrays."""
        s, v = st_codes[rows], wv_codes[rows]
        for margin in range(4):
            keep = ((s >= 0) & (v >= 0), v >= 0, s >= 0, None)[margin]
            sel = np.arange(rows.size) if keep is None else np.flatnonzero(keep)
            a = s[sel] if margin in (0, 2) else st_all
            b = v[sel] if margin in (0, 1) else wv_all
            yield rows[sel], np.broadcast_to(np.asarray(a * V + b, dtype=np.int64), sel.shape), sel

    C = S * V

    def sums(rr: np.ndarray, key: np.ndarray, size: int, mask: np.ndarray) -> dict[str, np.ndarray]:
        m = mask[rr]
        k, ww = key[m], w[rr][m]
        return {"n": np.bincount(k, minlength=size).astype(float),
                "sw": np.bincount(k, weights=ww, minlength=size),
                "sw2": np.bincount(k, weights=ww * ww, minlength=size),
                "w_prom": np.bincount(k, weights=ww * prom[rr][m], minlength=size),
                "w_det": np.bincount(k, weights=ww * det[rr][m], minlength=size)}

    def add(total: dict | None, part: dict) -> dict:
        return part if total is None else {k: total[k] + part[k] for k in total}

    valid_com = valid & commenter
    tot_valid = tot_com = tot_cv = None  # all respondents with an NPS answer; all commenters; commenters with one
    for r, c, _ in cells(np.arange(n)):
        tot_valid, tot_com = add(tot_valid, sums(r, c, C, valid)), add(tot_com, sums(r, c, C, commenter))
        tot_cv = add(tot_cv, sums(r, c, C, valid_com))

    # mention rows (position, theme, polarity) in their cells
    K = C * T
    m_com = m_cv = neg_cv = None
    neg_com, pos_com = np.zeros(K), np.zeros(K)
    for mr, mc, idx in cells(pos):
        mpol = pol[idx]
        key = mc * T + th[idx]
        m_com, m_cv = add(m_com, sums(mr, key, K, commenter)), add(m_cv, sums(mr, key, K, valid_com))
        neg_sel = mpol < 0
        neg_cv = add(neg_cv, sums(mr[neg_sel], key[neg_sel], K, valid_com))
        neg_com += np.bincount(key[neg_sel], weights=w[mr[neg_sel]], minlength=K)
        pos_com += np.bincount(key[mpol > 0], weights=w[mr[mpol > 0]], minlength=K)

    rep = np.repeat(np.arange(C), T)  # cell of each (cell, theme) slot

    def minus(a: dict, b: dict) -> dict:
        return {k: np.maximum(a[k][rep] - b[k], 0.0) for k in a}

    nm = nps_from_sums(m_cv["sw"], m_cv["sw2"], m_cv["w_prom"], m_cv["w_det"], conf)
    o = minus(tot_cv, m_cv)
    no = nps_from_sums(o["sw"], o["sw2"], o["w_prom"], o["w_det"], conf)
    nn = nps_from_sums(neg_cv["sw"], neg_cv["sw2"], neg_cv["w_prom"], neg_cv["w_det"], conf)
    onn = minus(tot_cv, neg_cv)
    non = nps_from_sums(onn["sw"], onn["sw2"], onn["w_prom"], onn["w_det"], conf)
    z = float(_st.norm.ppf(0.5 + conf / 2))
    gap = nm["value"] - no["value"]
    gse = np.sqrt(nm["se"] ** 2 + no["se"] ** 2)
    W = tot_valid["sw"][rep]
    with np.errstate(invalid="ignore", divide="ignore"):
        share_m = np.where(W > 0, m_cv["sw"] / W, np.nan)
        share_neg = np.where(W > 0, neg_cv["sw"] / W, np.nan)
        mention_rate = np.where(tot_com["sw"][rep] > 0, 100 * m_com["sw"] / tot_com["sw"][rep], np.nan)
        neg_share = np.where(m_com["sw"] > 0, 100 * neg_com / m_com["sw"], np.nan)
        pos_share = np.where(m_com["sw"] > 0, 100 * pos_com / m_com["sw"], np.nan)
    contribution = np.where(m_cv["sw"] > 0, share_m * gap, 0.0)
    neg_contribution = np.where(neg_cv["sw"] > 0, share_neg * (nn["value"] - non["value"]), 0.0)

    stage_lab = np.array(st_labels + [ALL], dtype=object)
    wave_lab = np.array(wv_labels + [ALL], dtype=object)
    themes = {t.id: t for t in pack.themes}
    tid = np.tile(np.arange(T), C)
    table = pd.DataFrame({
        "stage": stage_lab[rep // V],
        "wave": wave_lab[rep % V],
        "theme": np.array(ids, dtype=object)[tid],
        "level1": np.array([str(themes[i].level1) for i in ids], dtype=object)[tid],
        "name": np.array([str(themes[i].name) for i in ids], dtype=object)[tid],
        "n_comments": tot_com["n"][rep].astype(np.int64),
        "mentions": m_com["n"].astype(np.int64),
        "mention_rate": mention_rate,
        "neg_share": neg_share,
        "pos_share": pos_share,
        "nps_m": nm["value"], "ci_low_m": nm["ci_low"], "ci_high_m": nm["ci_high"],
        "n_m": m_cv["n"].astype(np.int64), "n_eff_m": nm["n_eff"],
        "nps_o": no["value"], "ci_low_o": no["ci_low"], "ci_high_o": no["ci_high"],
        "n_o": o["n"].astype(np.int64),
        "gap": gap, "gap_low": gap - z * gse, "gap_high": gap + z * gse,
        "significant": np.abs(gap) > z * gse,
        "contribution": contribution,
        "neg_contribution": neg_contribution,
    })
    table["flag"] = _flag(table["n_eff_m"].to_numpy(), pack)
    table = table[table["n_comments"] > 0].reset_index(drop=True)
    order_stage = {s: i for i, s in enumerate([ALL] + st_labels)}
    order_wave = {s: i for i, s in enumerate([ALL] + wv_labels)}
    table = table.sort_values(["stage", "wave", "theme"], key=lambda s: s.map(
        order_stage if s.name == "stage" else order_wave if s.name == "wave" else {t: i for i, t in enumerate(ids)}),
        kind="stable").reset_index(drop=True)

    out = ThemeImpact(table=table)
    ov = out.overall()
    if len(ov):
        worst = ov.iloc[0]
        out.facts = {"n_comments": int(ov["n_comments"].iloc[0]), "worst_theme": worst["theme"],
                     "worst_theme_name": worst["name"], "worst_contribution": float(worst["contribution"]),
                     "most_mentioned": ov.sort_values("mention_rate", ascending=False)["theme"].iloc[0]}
    if keywords or quotes:
        texts = df["comment"]
        if keywords:
            out.keywords = theme_keywords(texts, pack, tags, n_keywords=n_keywords, sample=sample, seed=seed)
        if quotes:
            out.quotes = theme_quotes(texts, tags, n_quotes=n_quotes)
    return out


def _flag(n_eff: np.ndarray, pack: Any) -> np.ndarray:
    try:
        from ..metrics import base_flag

        return np.asarray(base_flag(n_eff, pack), dtype=object)
    except (ImportError, AttributeError):  # pragma: no cover - metrics not there
        rules = pack.rules
        return np.where(n_eff < rules.suppress_below, "low_base",
                        np.where(n_eff < rules.caution_below, "caution", "ok")).astype(object)


# ---------------------------------------------------------------------------------------- keywords
@functools.cache
def _idf_table() -> tuple[pd.Series, float]:
    """jieba's IDF table (``jieba/analyse/idf.txt``, the one ``jieba.analyse.extract_tags`` uses) as a Series
    word → IDF, and its median (jieba's rule: the middle of the sorted values, the IDF of unseen words). Read
    with Arrow rather than through ``jieba.analyse``, whose import also loads the part-of-speech dictionary
    (about 1.5 s we do not need)."""
    import jieba
    from pyarrow import csv as pacsv

    path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    tab = pacsv.read_csv(path, read_options=pacsv.ReadOptions(column_names=["word", "idf"]),
                         parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False),
                         convert_options=pacsv.ConvertOptions(column_types={"word": "string", "idf": "float64"}))
    idf = pd.Series(tab["idf"].to_numpy(), index=pd.Index(tab["word"].to_pylist(), dtype=object))
    idf = idf[~idf.index.duplicated(keep="last")]  # as jieba's dict: a repeated word keeps its last value
    values = np.sort(idf.to_numpy())
    return idf, float(values[len(values) // 2])


def _idf(words: np.ndarray) -> np.ndarray:
    """IDF of each word; unseen words get the median IDF (as in jieba.analyse)."""
    table, median = _idf_table()
    return table.reindex(words).fillna(median).to_numpy(dtype=float)


def theme_keywords(texts: pd.Series, pack: Any, tags: pd.DataFrame, *, n_keywords: int = 10,
                   sample: int = 5000, seed: int = 0, backend: str = "auto") -> pd.DataFrame:
    """Top words per theme by TF-IDF — term frequency over (a sample of at most ``sample`` distinct) comments
    mentioning the theme, times jieba.analyse's IDF table — for all mentions (``scope="all"``) and for negative
    mentions (``scope="neg"``). Tokens come from :func:`tokenize` (pack dictionary kept whole, stop words out);
    single characters, the lexicon's sentiment, negation and degree words and the keywords of *other* themes
    (co-mentions) are left out, so the words name what customers say about this theme. Columns: ``theme, scope, rank, word, score, count``."""
    from .segment import tokenize

    cols = ["theme", "scope", "rank", "word", "score", "count"]
    if tags is None or len(tags) == 0:
        return pd.DataFrame(columns=cols)
    t = pd.DataFrame({"theme": tags["theme"].astype(str).to_numpy(), "polarity": tags["polarity"].to_numpy(),
                      "text": texts.loc[tags["row"]].astype(str).to_numpy()})
    t = t.drop_duplicates(["theme", "text"])
    t = t.sample(frac=1.0, random_state=seed).groupby("theme", sort=False).head(sample)
    uniq = pd.unique(t["text"])
    toks = dict(zip(uniq, tokenize(pd.Series(uniq), pack, backend)))
    drop = _word_drop(pack)
    # one long table (theme, negative?, word) over all sampled mentions, counted with groupby: no Python
    # loop per text and theme
    lists = [toks[x] for x in t["text"]]
    sizes = np.fromiter((len(ws) for ws in lists), dtype=np.int64, count=len(lists))
    long = pd.DataFrame({"theme": np.repeat(t["theme"].to_numpy(), sizes),
                         "neg": np.repeat(t["polarity"].to_numpy() < 0, sizes),
                         "word": pd.Series([w for ws in lists for w in ws], dtype=object)})  # none: still text
    ok = _keyword_like(long["word"], drop)
    long = long[ok]
    # a keyword of *another* theme is a co-mention, not a word about this theme
    listed = pd.DataFrame([(th.id, kw) for th in pack.themes for kw in set(th.keywords)], columns=["theme", "word"])
    n_listing = listed.groupby("word").size()
    in_own = pd.MultiIndex.from_frame(long[["theme", "word"]]).isin(pd.MultiIndex.from_frame(listed))
    others = n_listing.reindex(long["word"]).fillna(0).to_numpy() - in_own
    long = long[others <= 0]
    frames = []
    for scope, sub in (("all", long), ("neg", long[long["neg"]])):
        counts = sub.groupby(["theme", "word"], sort=False).size().rename("count").reset_index()
        if counts.empty:
            continue
        total = counts.groupby("theme")["count"].transform("sum")
        words = counts["word"].to_numpy(dtype=object)
        counts["score"] = counts["count"] / total * _idf(words)
        counts = counts.sort_values(["theme", "score", "word"], ascending=[True, False, False], kind="stable")
        counts["rank"] = counts.groupby("theme", sort=False).cumcount() + 1
        frames.append(counts[counts["rank"] <= n_keywords].assign(scope=scope))
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)[cols]
    order = {tid: i for i, tid in enumerate(t_.id for t_ in pack.themes)}
    return out.sort_values(["theme", "scope", "rank"], key=lambda s: s.map(order) if s.name == "theme" else s,
                           kind="stable").reset_index(drop=True)


def _word_drop(pack: Any) -> set[str]:
    """Words that never make a keyword: the lexicon's sentiment, negation, degree and contrast words and the
    stop words (keywords name *what* customers talk about; how they feel is the sentiment's job)."""
    lex = load_lexicon(pack)
    return set(lex.words) | set(lex.negations) | set(lex.degrees) | set(lex.contrasts) | load_stopwords(pack)


# counts and quantities ("三次", "几次", "2次", "半年", "每天"): how often, not what about
_QUANTITY = r"^[0-9０-９一二两三四五六七八九十百千万几多数半每]+[次个遍回趟天日周月年分钟小时块元台辆位家种件项号]*$"


def _keyword_like(words: pd.Series, drop: set[str]) -> pd.Series:
    """Tokens that can name a topic: two characters or more, not a lexicon / stop word (:func:`_word_drop`),
    not a count or quantity, not a masked span."""
    return ((words.str.len() > 1) & ~words.isin(drop) & ~words.str.match(_QUANTITY)
            & ~words.str.contains("*", regex=False))


def distinctive_words(texts: pd.Series, nps: pd.Series, pack: Any, *, n_words: int = 8, sample: int = 20_000,
                      prior: float = 500.0, min_count: int = 5, seed: int = 0,
                      backend: str = "auto") -> pd.DataFrame:
    """Words that set detractors' comments apart from promoters' (and the reverse): the log-odds ratio with an
    informative Dirichlet prior, z-scored — Monroe, Colaresi & Quinn (2008), "Fightin' Words", *Political
    Analysis* 16(4), eqs. 16–22.

    Counts are comments containing the word (a long rant counts once; every copy of a repeated comment
    counts), over a random sample of at most ``sample`` comments per group (detractors 0–6, promoters 9–10). With ``y_w`` the count of word w in one group and
    ``n`` that group's total count, the prior is ``α_w = prior × π_w`` with ``π_w`` the word's share of both
    groups together (``α_0 = prior``), and

        δ_w = log((y_wD + α_w) / (n_D + α_0 − y_wD − α_w)) − log((y_wP + α_w) / (n_P + α_0 − y_wP − α_w))
        σ²_w ≈ 1 / (y_wD + α_w) + 1 / (y_wP + α_w),   z_w = δ_w / σ_w.

    The prior shrinks words seen a few times towards no difference (a word in 3 comments cannot top the list);
    |z| ≥ 1.96 is a difference at the 5 % level for that word (no correction over words: a ranking, not a
    test of each). Tokens come from :func:`tokenize` (pack dictionary kept whole); single characters, words
    seen fewer than ``min_count`` times and the lexicon / stop words are left out (:func:`_word_drop`).

    Returns up to ``n_words`` words per side with ``|z| ≥ 1.96``: columns ``word, group`` ("detractor" /
    "promoter"), ``z`` (positive: more typical of detractors), ``delta``, ``n_detractor, n_promoter``
    (comments holding the word), ``share_detractor, share_promoter`` (% of the group's comments). Detractor
    words first (largest z first), then promoter words (most negative z first).
    """
    from .segment import tokenize

    cols = ["word", "group", "z", "delta", "n_detractor", "n_promoter", "share_detractor", "share_promoter"]
    score = pd.to_numeric(pd.Series(np.asarray(nps, dtype=object)), errors="coerce").to_numpy(dtype=float)
    text = pd.Series(np.asarray(texts, dtype=object)).astype("string").str.strip()
    ok = text.notna().to_numpy() & (text.str.len().fillna(0).to_numpy() > 0)
    frame = pd.DataFrame({"text": text, "group": np.where(score >= PROMOTER_MIN, "promoter",
                                                           np.where(score <= DETRACTOR_MAX, "detractor", ""))})
    frame = frame[ok & (frame["group"] != "")]
    frame = frame.sample(frac=1.0, random_state=seed).groupby("group", sort=False).head(sample)
    n_docs = frame["group"].value_counts()
    if n_docs.get("detractor", 0) == 0 or n_docs.get("promoter", 0) == 0:
        return pd.DataFrame(columns=cols)
    # every comment counts (1,000 promoters writing 服务很好 is 1,000 mentions); each distinct text is
    # segmented once and its words counted once per comment
    docs = frame.value_counts(["group", "text"], sort=False).reset_index(name="copies")
    uniq, code = np.unique(docs["text"].to_numpy(dtype=object), return_inverse=True)
    toks = [set(ws) for ws in tokenize(pd.Series(uniq), pack, backend)]
    drop = _word_drop(pack)
    per_doc = [toks[c] for c in code]
    sizes = np.fromiter((len(ws) for ws in per_doc), dtype=np.int64, count=len(per_doc))
    long = pd.DataFrame({"group": np.repeat(docs["group"].to_numpy(), sizes),
                         "copies": np.repeat(docs["copies"].to_numpy(), sizes),
                         "word": pd.Series([w for ws in per_doc for w in ws], dtype=object)})  # text when empty
    long = long[_keyword_like(long["word"], drop)]
    counts = long.groupby(["word", "group"])["copies"].sum().unstack(fill_value=0)
    counts = counts.reindex(columns=["detractor", "promoter"], fill_value=0)
    counts = counts[counts.sum(axis=1) >= min_count]
    if counts.empty:
        return pd.DataFrame(columns=cols)
    yd, yp = counts["detractor"].to_numpy(float), counts["promoter"].to_numpy(float)
    nd, n_p = yd.sum(), yp.sum()
    alpha = prior * (yd + yp) / (nd + n_p)
    delta = (np.log((yd + alpha) / (nd + prior - yd - alpha)) - np.log((yp + alpha) / (n_p + prior - yp - alpha)))
    z = delta / np.sqrt(1.0 / (yd + alpha) + 1.0 / (yp + alpha))
    res = pd.DataFrame({"word": counts.index.astype(str), "z": z, "delta": delta,
                        "n_detractor": yd.astype(int), "n_promoter": yp.astype(int),
                        "share_detractor": yd / n_docs["detractor"] * 100,
                        "share_promoter": yp / n_docs["promoter"] * 100})
    crit = float(_st.norm.ppf(0.975))
    det = res[res["z"] >= crit].sort_values(["z", "word"], ascending=[False, True]).head(n_words)
    pro = res[res["z"] <= -crit].sort_values(["z", "word"], ascending=[True, True]).head(n_words)
    out = pd.concat([det.assign(group="detractor"), pro.assign(group="promoter")], ignore_index=True)
    return out[cols]


# ------------------------------------------------------------------------------------------ quotes
def theme_quotes(texts: pd.Series, tags: pd.DataFrame, *, n_quotes: int = 3, max_len: int = 60,
                 min_len: int = 6) -> pd.DataFrame:
    """Representative verbatims per theme and polarity: distinct comments (already masked upstream) of
    ``min_len``..``max_len`` characters, clearest polarity first (largest |score|), then comments about fewer
    themes, then shorter ones; comments holding masked PII last. Falls back to longer comments cut at ``max_len`` (with "…")
    when a theme has too few short ones. Columns: ``theme, polarity, text, score, row`` (``row``: the
    comment's label in ``texts``, to look up who said it)."""
    cols = ["theme", "polarity", "text", "score", "row"]
    if tags is None or len(tags) == 0:
        return pd.DataFrame(columns=cols)
    q = pd.DataFrame({"theme": tags["theme"].astype(str).to_numpy(), "polarity": tags["polarity"].to_numpy(),
                      "score": tags["score"].to_numpy(), "row": tags["row"].to_numpy(),
                      "text": texts.loc[tags["row"]].astype(str).str.strip().to_numpy()})
    q = q[q["text"].str.len() >= min_len].drop_duplicates(["theme", "text"])
    q["len"] = q["text"].str.len()
    q["long"] = q["len"] > max_len
    q["masked"] = q["text"].str.contains("*", regex=False)
    q["strength"] = -q["score"].abs().round(2)
    n_themes = tags.groupby("row", sort=False).size()
    q["n_themes"] = n_themes.reindex(tags["row"].to_numpy()).to_numpy()[q.index.to_numpy()]
    q = q.sort_values(["theme", "polarity", "long", "masked", "strength", "n_themes", "len"], kind="stable")
    q = q.groupby(["theme", "polarity"], sort=False).head(n_quotes)
    q.loc[q["long"], "text"] = q.loc[q["long"], "text"].str.slice(0, max_len - 1) + "…"
    q = q.sort_values(["theme", "polarity"], kind="stable")
    return q[cols].reset_index(drop=True)
