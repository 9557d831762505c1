"""The matching engine behind theme tagging and sentiment: one Aho–Corasick pass over the raw text, then numpy.

No segmentation is needed. For a batch of comments the engine

1. joins the comments with ``\\n`` into one string and finds every occurrence of every pattern — each theme
   keyword and each lexicon entry (sentiment, negation, degree, contrast, neutral, aspect and contextual
   words), with upper/lower-case and full-width variants of patterns holding Latin letters; each pattern has
   a row in a small table of roles. The matching is exact multi-pattern matching over the raw text, as an
   Aho–Corasick automaton does it; by default it runs as code-point table lookups in numpy
   (:class:`NgramMatcher`: the same matches, no Python object per match); ``matcher="ac"`` runs a pyahocorasick
   automaton instead;
2. resolves overlaps in two independent *layers*: theme keywords, and lexicon entries. Within a layer a match
   contained in a longer match is dropped ("服务顾问" hides "顾问", "不错" hides "不", "不满意" hides
   "满意"); in the lexicon layer, of two partly overlapping matches the shorter is dropped ("都没|没兑现"),
   and a match that lay only inside dropped ones comes back ("不是很|满意");
   Aspect words (价格, 效率, 等待时间 …) form a third layer, read only by contextual adjectives;
3. finds clause boundaries with a code-point lookup table (，。！？；,.!?; … whitespace and the line breaks
   between comments) plus the contrast words that split a clause ("但是" in "服务很好但是等太久");
4. scores sentiment per clause: each sentiment word's weight, flipped by the nearest negation and scaled by
   the nearest degree word before it in its clause (nothing else valued between them), contextual adjectives
   (价格高 vs 效率高) weighted by the nearest aspect word before them; a negation that governs no sentiment
   word but is followed by more of its clause (not just a particle) counts as a mild complaint ("没人通知");
5. weights clauses for the comment score: after a contrast word (up to the end of the sentence) ×2, the
   clauses before it in that sentence share a weight of 0.5, a concession clause ("虽然…") ×0.5; comment score = tanh(Σ weight × clause score), in [-1, 1];
6. attaches each theme mention to its clause; the mention's polarity is the clause's.

All steps after the automaton are array operations, so cost grows with the number of matches, not with Python
work per comment. See docs/text.md.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick
import numpy as np

from .lexicon import Lexicon
from .matching import NgramMatcher, code_units, contained, join_texts, resolve_overlaps, traditional, variants

__all__ = ["BOUNDARY_CHARS", "SENTENCE_CHARS", "Engine", "EngineResult", "join_texts"]

# pattern kinds in the lexicon layer
K_NONE, K_WORD, K_NEG, K_DEG, K_CONTRAST, K_SHADOW, K_CTX, K_ASPECT = range(8)
MODE = {"any": 1, "initial": 2, "concession": 3}

BOUNDARY_CHARS = "，,。.！!？?；;～~…\n\r\t \u3000\u00a0"
SENTENCE_CHARS = "。！!？?；;…\n\r"
NEG_WINDOW = 4  # max characters between a negation and the sentiment word it flips
DEG_WINDOW = 4  # max characters between a degree word and the word it scales
ASPECT_WINDOW = 8  # max characters between an aspect word and the contextual adjective describing it
NEG_OF_NEG = 0.6  # a negated negative word is milder praise ("不贵")
DEG_AFTER_NEG = 0.7  # "不是很满意": a degree word after the negation softens
BEFORE_CONTRAST = 0.5  # total weight of the clauses before a contrast word in the same sentence
PARTICLES = "了的啊吧呢吗嘛哦呀啦哈么"  # a negation followed only by one of these governs nothing ("没了")
QUESTION_CHARS = "?？"  # a clause followed by one of these (or ending in 吗) is a question
QUESTION_FINAL = "吗"
QUESTION_POS = -0.5  # praise inside a question is doubt or sarcasm: "这也叫五星级？", "这是正品吗？"
QUESTION_EMPTY = -0.3  # a question with nothing scored is a mild complaint: "什么时候才能发货？", "就这？"
# ... unless it holds an `ask` word of neutral.txt (请问): then it is a genuine question and scores 0
QUOTES = "\"'“”‘’「」『』"  # praise between quotes is ironic: 真是"好"服务
IRONY = -1.0
EPS = 1e-9

_BLUT = np.zeros(65536, dtype=bool)
_BLUT[[ord(c) for c in BOUNDARY_CHARS]] = True
_SLUT = np.zeros(65536, dtype=bool)
_SLUT[[ord(c) for c in SENTENCE_CHARS]] = True
_PLUT = np.zeros(65536, dtype=bool)
_PLUT[[ord(c) for c in PARTICLES]] = True
_QLUT = np.zeros(65536, dtype=bool)
_QLUT[[ord(c) for c in QUESTION_CHARS]] = True
_QTLUT = np.zeros(65536, dtype=bool)
_QTLUT[[ord(c) for c in QUOTES]] = True


_EMPTY = {"f": np.float32, "i": np.int64, "t": np.int16, "c": np.int32}


@dataclass
class EngineResult:
    """Output of :meth:`Engine.run` for ``n`` comments.

    ``sentiment``: comment scores in [-1, 1] (0 = nothing found). Clause-level mentions, one entry per
    (comment, clause, theme): ``m_row`` comment position, ``m_theme`` theme index, ``m_clause`` clause index
    within the comment, ``m_raw`` the clause's raw sentiment score, ``m_weight`` the clause's weight in the
    comment score (contrast). Comment-level mentions, one entry per (comment, theme): ``c_row``, ``c_theme``,
    ``c_clause`` (the clause that decides: largest weight × |score|, then the first) and ``c_score``
    (``tanh(Σ weight × clause score)``). ``evidence``: per comment, the sums of its clauses' positive and
    of their negative weighted scores (n × 2, before tanh; their sum is ``arctanh(sentiment)``): how much
    praise and how much blame the rules found, which the score alone does not tell apart from none."""

    sentiment: np.ndarray
    m_row: np.ndarray
    m_theme: np.ndarray
    m_clause: np.ndarray
    m_raw: np.ndarray
    m_weight: np.ndarray
    c_row: np.ndarray
    c_theme: np.ndarray
    c_clause: np.ndarray
    c_score: np.ndarray
    n_matches: int = 0
    evidence: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.evidence is None:
            self.evidence = np.zeros((len(self.sentiment), 2), np.float32)

    @staticmethod
    def empty(n: int = 0) -> EngineResult:
        z = [np.zeros(0, _EMPTY[k]) for k in "itcffitcf"]
        return EngineResult(np.zeros(n, np.float32), *z)

    @staticmethod
    def concat(parts: Sequence[EngineResult], offsets: Sequence[int]) -> EngineResult:
        if not parts:
            return EngineResult.empty()

        def cat(name: str, shift: bool = False) -> np.ndarray:
            return np.concatenate([getattr(p, name) + (o if shift else 0) for p, o in zip(parts, offsets)])

        return EngineResult(
            cat("sentiment"), cat("m_row", True), cat("m_theme"), cat("m_clause"), cat("m_raw"), cat("m_weight"),
            cat("c_row", True), cat("c_theme"), cat("c_clause"), cat("c_score"),
            sum(p.n_matches for p in parts), np.concatenate([p.evidence for p in parts]),
        )


def comment_level(row: np.ndarray, theme: np.ndarray, clause: np.ndarray, raw: np.ndarray,
                  weight: np.ndarray, n_themes: int) -> tuple[np.ndarray, ...]:
    """Aggregate clause-level mentions to one per (comment, theme): (row, theme, deciding clause, score)."""
    if row.size == 0:
        return (np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0, np.int32), np.zeros(0, np.float32))
    key = row * max(n_themes, 1) + theme
    wr = weight.astype(np.float64) * raw
    order = np.lexsort((clause, -np.abs(wr), key))
    key_s = key[order]
    firsts = np.flatnonzero(np.concatenate(([True], key_s[1:] != key_s[:-1])))
    sums = np.add.reduceat(wr[order], firsts)
    lead = order[firsts]
    return (row[lead].astype(np.int64), theme[lead].astype(np.int16), clause[lead].astype(np.int32),
            np.tanh(sums).astype(np.float32))


class Engine:
    """Pattern role table and matcher for one taxonomy (list of keyword tuples) and one lexicon.

    ``matcher="numpy"`` (default) finds patterns with :class:`NgramMatcher` (and the rare ones it does not
    handle with ``str.find``); ``matcher="ac"`` uses a pyahocorasick automaton for all patterns (the reference:
    the same matches, several times slower on survey text, see docs/text.md)."""

    def __init__(self, keywords: Sequence[Sequence[str]], regexes: Sequence[Sequence[str]], lex: Lexicon,
                 matcher: str = "numpy"):
        self.n_themes = len(keywords)
        table: dict[str, dict] = {}

        def row(word: str) -> dict:
            return table.setdefault(word, {"theme": -1, "kind": K_NONE, "val": 0.0, "dual": 0.0, "mode": 0,
                                           "dang": 0.0, "final": 0.0, "aspect": -1, "adj": -1, "verdict": 0.0,
                                           "ask": False})

        for t, kws in enumerate(keywords):
            for kw in kws:
                for v in variants(kw):
                    r = row(v)
                    if r["theme"] < 0:
                        r["theme"] = t
        self.classes = lex.aspect_classes
        cls_id = {c: i for i, c in enumerate(self.classes)}
        # lexicon entries are also matched in traditional script (滿意, 服務態度惡劣), except where a spelling is
        # itself an entry or a theme keyword
        taken = set(table) | set(lex.words) | set(lex.negations) | set(lex.degrees) | set(lex.contrasts) \
            | set(lex.neutral) | set(lex.aspects) | {a for a, _ in lex.contextual}

        def _lex_variants(word: str) -> set[str]:
            out = variants(word)
            if lex.traditional:
                out |= {t for t in traditional(word, lex.traditional) if t not in taken}
            return out

        self.adjectives = lex.adjectives
        adj_id = {a: i for i, a in enumerate(self.adjectives)}
        # lexicon roles; later assignments win for conflicting words (lexicon_problems reports them)
        for w, (wt, mode) in lex.contrasts.items():
            for v in _lex_variants(w):
                row(v).update(kind=K_CONTRAST, val=wt, mode=MODE[mode])
        for w, m in lex.degrees.items():
            for v in _lex_variants(w):
                row(v).update(kind=K_DEG, val=m)
        for w, (f, dang, final) in lex.negations.items():
            for v in _lex_variants(w):
                row(v).update(kind=K_NEG, val=f, dang=dang, final=final)
        for a in self.adjectives:
            for v in _lex_variants(a):
                row(v).update(kind=K_CTX, adj=adj_id[a])
        for w, wt in lex.words.items():
            for v in _lex_variants(w):
                r = row(v)
                dual = lex.degrees.get(w, 0.0)
                r.update(kind=K_WORD, val=wt, dual=dual)
        for w in lex.neutral:
            for v in _lex_variants(w):
                row(v).update(kind=K_SHADOW, val=0.0, ask=w in lex.asks)
        for w, c in lex.aspects.items():
            for v in _lex_variants(w):
                r = row(v)
                r["aspect"] = cls_id[c]
                if r["kind"] == K_NONE:
                    r["kind"] = K_ASPECT
        for w, f in lex.verdicts.items():
            for v in _lex_variants(w):
                if v in table:
                    table[v]["verdict"] = f
        ctx = np.zeros((max(len(self.adjectives), 1), max(len(self.classes), 1)), dtype=np.float64)
        for (a, c), wt in lex.contextual.items():
            if c in cls_id:
                ctx[adj_id[a], cls_id[c]] = wt
        self.ctx = ctx

        words = list(table)
        self.words = words
        n = len(words)
        self.plen = np.fromiter((len(w) for w in words), np.int64, n)
        self.ptheme = np.fromiter((table[w]["theme"] for w in words), np.int64, n)
        self.pkind = np.fromiter((table[w]["kind"] for w in words), np.int8, n)
        self.pval = np.fromiter((table[w]["val"] for w in words), np.float64, n)
        self.pdual = np.fromiter((table[w]["dual"] for w in words), np.float64, n)
        self.pmode = np.fromiter((table[w]["mode"] for w in words), np.int8, n)
        self.pdang = np.fromiter((table[w]["dang"] for w in words), np.float64, n)
        self.pfinal = np.fromiter((table[w]["final"] for w in words), np.float64, n)
        self.paspect = np.fromiter((table[w]["aspect"] for w in words), np.int64, n)
        self.padj = np.fromiter((table[w]["adj"] for w in words), np.int64, n)
        self.pverdict = np.fromiter((table[w]["verdict"] for w in words), np.float64, n)
        self.pask = np.fromiter((table[w]["ask"] for w in words), bool, n)
        self.matcher = matcher
        if matcher == "numpy":
            self.ngrams = NgramMatcher(words)
            # the few patterns it does not handle (astral characters such as 👍, more than 9 characters) are
            # found with str.find
            self.rare = [(i, w) for i, w in enumerate(words) if not NgramMatcher.handles(w)]
            ac_words: list[tuple[int, str]] = []
        elif matcher == "ac":
            self.ngrams, self.rare = None, []
            ac_words = list(enumerate(words))
        else:
            raise ValueError("matcher must be 'numpy' or 'ac'")
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for i, w in ac_words:
            self.automaton.add_word(w, i)
        self.has_ac = bool(ac_words)
        if self.has_ac:
            self.automaton.make_automaton()
        self.regexes = [(t, re.compile(r)) for t, rxs in enumerate(regexes) for r in rxs]

    # ------------------------------------------------------------------------------------------------
    def _matches(self, big: str, cu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(end position, pattern id) of every occurrence of every pattern in ``big`` (overlaps included);
        ``cu`` holds its code points as uint16 (astral characters as 0xFFFF)."""
        ends, pids = [], []
        if self.has_ac:
            flat = np.fromiter(itertools.chain.from_iterable(self.automaton.iter(big)), np.int64)
            ends.append(flat[0::2])
            pids.append(flat[1::2])
        if self.ngrams is not None:
            e, p = self.ngrams.find(cu)
            ends.append(e)
            pids.append(p)
        astral = None
        for i, w in self.rare:
            if max(map(ord, w)) >= 0xFFFF:  # emoji: only in batches that hold an astral character at all
                if astral is None:
                    astral = bool((cu == 0xFFFF).any())
                if not astral:
                    continue
            hits = []
            at = big.find(w)
            while at >= 0:
                hits.append(at + len(w) - 1)
                at = big.find(w, at + 1)
            if hits:
                ends.append(np.asarray(hits, np.int64))
                pids.append(np.full(len(hits), i, np.int64))
        if not ends:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(ends), np.concatenate(pids)

    def run(self, texts: Sequence[str]) -> EngineResult:
        """Score a list of strings (no NaN: callers pass "" for missing comments)."""
        big, starts = join_texts(texts)
        return self.run_joined(big, starts)

    def run_joined(self, big: str, starts: np.ndarray) -> EngineResult:
        """Score comments given as one string joined with ``\n`` (no other line breaks) and the position of
        each comment's first character."""
        n = len(starts)
        if n == 0:
            return EngineResult.empty()
        N = len(big)
        if N == 0:
            return EngineResult.empty(n)

        cp16 = code_units(big)
        end, pid = self._matches(big, cp16)
        start = end - self.plen[pid] + 1

        # clause boundaries ------------------------------------------------------------------------
        isb = _BLUT[cp16]
        prev_b = np.empty(N + 1, bool)  # prev_b[p]: position p opens a clause (start of text or after a boundary)
        prev_b[0] = True
        prev_b[1:] = isb

        # lexicon layer --------------------------------------------------------------------------------
        kind_all = self.pkind[pid]
        sm = (kind_all > 0) & (kind_all != K_ASPECT)
        s_s, s_e, s_p = start[sm], end[sm], pid[sm]
        keep = resolve_overlaps(s_s, s_e)
        s_s, s_e, s_p = s_s[keep], s_e[keep], s_p[keep]
        order = np.argsort(s_s, kind="stable")
        s_s, s_e, s_p = s_s[order], s_e[order], s_p[order]
        kind = self.pkind[s_p].copy()
        val = self.pval[s_p].copy()

        # contrast words: valid ones and the clause splits they add
        is_c = kind == K_CONTRAST
        mode = self.pmode[s_p]
        at_clause_start = prev_b[s_s]
        valid_c = is_c & ((mode != MODE["initial"]) | at_clause_start)
        split = valid_c & (mode == MODE["any"]) & ~at_clause_start
        bmask = isb & ~prev_b[:-1]  # first character of each run of boundary characters
        bmask[s_s[split]] = True  # a contrast word opens a clause
        B = np.flatnonzero(bmask)
        sflag = _SLUT[cp16[B]]  # boundary runs that end a sentence (contrast words do not)
        G = B.size + 1  # clauses are numbered 0..G-1 (global over the batch)
        sid = np.zeros(G, np.int64)
        np.cumsum(sflag, out=sid[1:])
        Bs = np.append(B, N)  # with a sentinel: the boundary after the last clause
        clause_at = np.cumsum(bmask, dtype=np.int32)  # clause number of every character
        row_at = np.cumsum(cp16 == 10, dtype=np.int32)  # comment number of every character ("\n" separates)

        def gid(pos: np.ndarray) -> np.ndarray:
            return clause_at[np.minimum(pos, N - 1)]  # an empty last comment starts at N

        g = gid(s_s)

        # clause weights from contrast / concession
        w = np.ones(G)
        cg = g[valid_c & (mode != MODE["concession"])]
        if cg.size:
            cw = np.zeros(G)
            np.maximum.at(cw, cg, val[valid_c & (mode != MODE["concession"])])
            ar = np.arange(G)
            last = np.maximum.accumulate(np.where(cw > 0, ar, -1))
            after = (last >= 0) & (sid[np.maximum(last, 0)] == sid)
            nxt = np.minimum.accumulate(np.where(cw > 0, ar, G)[::-1])[::-1]
            before = (nxt < G) & (sid[np.minimum(nxt, G - 1)] == sid) & ~after
            # the clauses before a contrast share BEFORE_CONTRAST: 3 praised clauses do not outweigh the
            # complaint after "就是"
            new_sent = np.empty(G, bool)
            new_sent[0] = True
            new_sent[1:] = sid[1:] != sid[:-1]
            first_of_sent = np.maximum.accumulate(np.where(new_sent, np.arange(G), 0))
            n_before = np.maximum(np.minimum(nxt, G - 1) - first_of_sent, 1)
            w = np.where(after, cw[np.maximum(last, 0)], np.where(before, BEFORE_CONTRAST / n_before, 1.0))
        conc = valid_c & (mode == MODE["concession"])
        if conc.any():
            cgc = g[conc]
            w[cgc] = np.minimum(w[cgc], val[conc])

        # dual words ("好" in "好慢"): degree words when a valued/degree word follows directly
        m = len(s_s)
        idx = np.arange(m)
        if m:
            dual = (kind == K_WORD) & (self.pdual[s_p] > 0)
            if dual.any():
                nxt_i = np.minimum(idx + 1, m - 1)
                follows = (idx + 1 < m) & (s_s[nxt_i] == s_e + 1) & (g[nxt_i] == g) & \
                    np.isin(kind[nxt_i], (K_WORD, K_CTX, K_DEG))
                conv = dual & follows
                kind[conv] = K_DEG
                val[conv] = self.pdual[s_p][conv]
            # contextual adjectives take their weight from the nearest aspect word before them (aspect words
            # are a layer of their own: "等待时间" stays an aspect even where "时间长" is a sentiment word)
            is_ctx = kind == K_CTX
            if is_ctx.any():
                asp = self.paspect[pid]
                am = asp >= 0
                a_s, a_e, a_c = start[am], end[am], asp[am]
                keep_a = ~contained(a_s, a_e)
                a_s, a_e, a_c = a_s[keep_a], a_e[keep_a], a_c[keep_a]
                o_a = np.argsort(a_e, kind="stable")
                a_s, a_e, a_c = a_s[o_a], a_e[o_a], a_c[o_a]
                val[is_ctx] = 0.0
                ci = np.flatnonzero(is_ctx)
                if a_e.size:
                    j = np.searchsorted(a_e, s_s[ci], side="left") - 1  # last aspect ending before it
                    j0 = np.maximum(j, 0)
                    ok = (j >= 0) & (gid(a_s[j0]) == g[ci]) & (s_s[ci] - a_e[j0] - 1 <= ASPECT_WINDOW)
                    val[ci[ok]] = self.ctx[self.padj[s_p[ci[ok]]], a_c[j0[ok]]]
                    # an aspect word that is also a sentiment word (噪音, 色差) yields to the adjective that
                    # describes it: 噪音小 is praise, not 噪音 (−) plus 小 (+)
                    used_a = j0[ok][val[ci[ok]] != 0]
                    both = np.flatnonzero((kind == K_WORD) & (self.paspect[s_p] >= 0))  # few: 噪音, 色差 …
                    if used_a.size and both.size:
                        key = s_s[both] * (1 << 24) + (s_e - s_s)[both]
                        val[both[np.isin(key, a_s[used_a] * (1 << 24) + (a_e - a_s)[used_a])]] = 0.0
            valued = ((kind == K_WORD) | (is_ctx & (val != 0))) & (val != 0)

            # negation and degree: nearest before, same clause, no valued word between
            last_v = np.maximum.accumulate(np.where(valued, idx, -1))
            prev_v = np.concatenate(([-1], last_v[:-1]))
            last_n = np.maximum.accumulate(np.where(kind == K_NEG, idx, -1))
            last_d = np.maximum.accumulate(np.where(kind == K_DEG, idx, -1))
            ln0, ld0 = np.maximum(last_n, 0), np.maximum(last_d, 0)
            negd = valued & (last_n > prev_v) & (last_n >= 0) & (g[ln0] == g) & (s_s - s_e[ln0] - 1 <= NEG_WINDOW)
            degd = valued & (last_d > prev_v) & (last_d >= 0) & (g[ld0] == g) & (s_s - s_e[ld0] - 1 <= DEG_WINDOW)
            value = np.where(valued, val, 0.0)
            soft = degd & negd & (s_s[ln0] < s_s[ld0])
            value = np.where(degd & ~soft, value * val[ld0], value)
            value = np.where(soft, value * DEG_AFTER_NEG, value)
            f = val[ln0]
            value = np.where(negd, np.where(value > 0, value * f, value * f * NEG_OF_NEG), value)
            # praise between quotes is irony: 真是"好"服务, 太“贴心”了
            qi = np.flatnonzero(value > 0)
            qi = qi[(s_s[qi] >= 1) & (s_e[qi] + 1 < N)]
            qi = qi[_QTLUT[cp16[s_s[qi] - 1]]]  # rare: an opening quote right before the praise
            qi = qi[_QTLUT[cp16[s_e[qi] + 1]]]
            value[qi] *= IRONY

            # negations that govern no sentiment word
            used = np.zeros(m, bool)
            used[last_n[negd]] = True
            free = (kind == K_NEG) & ~used
            if free.any():
                nb = Bs[clause_at[s_e]]
                after_chars = nb - s_e - 1
                before2 = (s_s >= 2) & ~prev_b[s_s] & ~prev_b[np.maximum(s_s - 1, 0)]
                nxt_char = cp16[np.minimum(s_e + 1, N - 1)]
                governs = (after_chars >= 2) | ((after_chars == 1) & ~_PLUT[nxt_char])
                dang = np.where(governs, self.pdang[s_p], np.where((after_chars == 0) & before2,
                                                                  self.pfinal[s_p], 0.0))
                value = np.where(free, dang, value)
            scored = value != 0
            gv, vv = g[scored], value[scored]
            # verdict words (推荐, 不会再来, 差评 …) and summary words (总的来说): their clause weighs more
            vf = self.pverdict[s_p]
            vm = (scored | (kind == K_SHADOW)) & (vf > 0)
            if vm.any():
                vw = np.ones(G)
                np.maximum.at(vw, g[vm], vf[vm])
                w = w * vw
        else:
            gv, vv = np.zeros(0, np.int64), np.zeros(0)
        raw = np.bincount(gv, weights=vv, minlength=G)
        row_of = row_at[s_s[scored]] if m else np.zeros(0, np.int64)
        tot = np.bincount(row_of, weights=vv * w[gv], minlength=n)

        # questions: a clause followed by ？/? (in the same comment) or ending in 吗
        q = np.zeros(G, bool)
        qpos = np.flatnonzero(_QLUT[cp16])
        if qpos.size:
            qc = clause_at[qpos] - 1  # the ? lies in the boundary run after clause qc
            lastc = Bs[np.maximum(qc, 0)] - 1
            okq = (qc >= 0) & (lastc >= 0) & (row_at[np.maximum(lastc, 0)] == row_at[qpos])
            q[qc[okq]] = True
        lastc = Bs[:G] - 1
        q |= (lastc >= 0) & (cp16[np.maximum(lastc, 0)] == ord(QUESTION_FINAL))
        if q.any():
            ask = np.zeros(G, bool)
            if m:
                ask[g[self.pask[s_p]]] = True
            span = lastc - np.concatenate(([-1], Bs[:G - 1]))  # clause length plus the rest of the run before it
            new_raw = np.where(q & ask, 0.0, np.where(q & (raw > EPS), raw * QUESTION_POS,
                               np.where(q & (np.abs(raw) <= EPS) & (span >= 2), QUESTION_EMPTY, raw)))
            ci = np.flatnonzero(new_raw != raw)
            if ci.size:
                tot = tot + np.bincount(row_at[lastc[ci]], weights=(new_raw - raw)[ci] * w[ci], minlength=n)
                raw = new_raw
        sentiment = np.tanh(tot).astype(np.float32)
        contrib = raw * w[:G]
        cz = np.flatnonzero(contrib)
        c_row = row_at[lastc[cz]]
        evidence = np.column_stack([np.bincount(c_row, weights=np.maximum(contrib[cz], 0), minlength=n),
                                    np.bincount(c_row, weights=np.minimum(contrib[cz], 0), minlength=n)])

        # theme layer ----------------------------------------------------------------------------------
        tm = self.ptheme[pid] >= 0
        t_s, t_e, t_t = start[tm], end[tm], self.ptheme[pid][tm]
        keep = ~contained(t_s, t_e)
        t_s, t_t = t_s[keep], t_t[keep]
        if self.regexes:
            rs, rt = [], []
            for t, rx in self.regexes:
                for mt in rx.finditer(big):
                    a, b = mt.span()
                    if b > a and "\n" not in big[a:b]:
                        rs.append(a)
                        rt.append(t)
            if rs:
                t_s = np.concatenate([t_s, np.asarray(rs, np.int64)])
                t_t = np.concatenate([t_t, np.asarray(rt, np.int64)])
        tg = gid(t_s)
        T = max(self.n_themes, 1)
        key, first = np.unique(tg * T + t_t, return_index=True)
        tg, t_t = key // T, key % T
        t_row = row_at[t_s[first]].astype(np.int64)
        g_start = gid(starts)  # clause number of each comment's first clause
        clause = tg - g_start[t_row]
        m_raw, m_w = raw[tg].astype(np.float32), w[tg].astype(np.float32)
        clause = clause.astype(np.int32)
        t_t = t_t.astype(np.int16)
        return EngineResult(sentiment, t_row, t_t, clause, m_raw, m_w,
                            *comment_level(t_row, t_t, clause, m_raw, m_w, self.n_themes), n_matches=int(end.size),
                            evidence=evidence.astype(np.float32))

