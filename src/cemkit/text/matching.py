"""Exact multi-pattern matching for the text engine (:mod:`.engine`): the comments joined into one string,
every occurrence of every pattern found by code-point lookups in numpy (:class:`NgramMatcher`, the same
matches as an Aho–Corasick automaton), the pattern variants matched (case, full-width forms, traditional
spellings), and the overlap rules that decide which of two overlapping matches counts (a match inside a
longer one is dropped; of two partly overlapping ones the shorter). See docs/text.md."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_TRADITIONAL", "NgramMatcher", "code_units", "contained", "join_texts", "overlapped",
           "resolve_overlaps", "traditional", "variants"]

def variants(word: str) -> set[str]:
    """The word plus its lower/upper-case and full-width forms when it holds Latin letters or digits."""
    out = {word}
    if any(c.isascii() and c.isalnum() for c in word):
        cased = {word, word.lower(), word.upper(), word.capitalize()}
        wide = {"".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in w) for w in cased}
        out = cased | wide
    return out


MAX_TRADITIONAL = 16  # traditional spellings added per lexicon entry at most


def traditional(word: str, forms: dict[str, tuple[str, ...]]) -> set[str]:
    """The traditional spellings of ``word``: every combination of its characters' forms (at most
    MAX_TRADITIONAL), without the word itself."""
    opts = [forms.get(c, (c,)) for c in word]
    if all(len(o) == 1 and o[0] == c for o, c in zip(opts, word)):
        return set()
    return {"".join(p) for p in itertools.islice(itertools.product(*opts), MAX_TRADITIONAL)} - {word}


class NgramMatcher:
    """Exact multi-pattern matching by code-point lookups in numpy, for patterns of 1 to MAX_LEN characters of
    the Basic Multilingual Plane (code points below 0x10000; text outside it is seen as 0xFFFF, which no
    pattern holds).

    Finds the same (end, pattern) pairs as an Aho–Corasick automaton over the same patterns, overlaps
    included. One-character patterns: a table indexed by code point. Two characters: the first and second
    character map to a row and a column of a dense table holding the 2-character pattern at that pair (if any)
    and whether a longer pattern starts with it. Longer patterns: at those positions, a binary search of the
    packed 3-character prefix (16 bits a character, three to a uint64), then a comparison of the remaining
    (up to two) packed keys with each pattern sharing that prefix. No Python object per match."""

    MAX_LEN = 9
    _SH = (np.uint64(0), np.uint64(16), np.uint64(32))

    @staticmethod
    def handles(word: str) -> bool:
        return 0 < len(word) <= NgramMatcher.MAX_LEN and max(map(ord, word)) < 0xFFFF

    @staticmethod
    def _pack(chars: str) -> int:
        return sum(ord(c) << (16 * k) for k, c in enumerate(chars))

    def __init__(self, words: Sequence[str]):
        """``words[i]`` is pattern i (patterns it does not :meth:`handles` are skipped)."""
        self.lut1 = np.full(0x10000, -1, np.int32)
        two: dict[str, int] = {}
        longs = []
        for i, w in enumerate(words):
            if not self.handles(w):
                continue
            if len(w) == 1:
                self.lut1[ord(w)] = i
            elif len(w) == 2:
                two[w] = i
            else:
                longs.append((self._pack(w[:3]), self._pack(w[3:6]), self._pack(w[6:9]), len(w), i, w))
        # first two characters: row / column numbers into dense tables of 2-character patterns and of the
        # 2-character prefixes of longer patterns
        pairs = set(two) | {x[5][:2] for x in longs}
        firsts = sorted({p[0] for p in pairs})
        seconds = sorted({p[1] for p in pairs})
        self.row = np.full(0x10000, -1, np.int32)
        self.col = np.full(0x10000, -1, np.int32)
        self.row[[ord(c) for c in firsts]] = np.arange(len(firsts), dtype=np.int32)
        self.col[[ord(c) for c in seconds]] = np.arange(len(seconds), dtype=np.int32)
        self.n_cols = max(len(seconds), 1)
        size = max(len(firsts), 1) * self.n_cols
        self.pair_pid = np.full(size, -1, np.int64)  # 2-character pattern at this pair
        self.pair_long = np.zeros(size, bool)  # a longer pattern starts with this pair
        for w, i in two.items():
            self.pair_pid[self.row[ord(w[0])] * self.n_cols + self.col[ord(w[1])]] = i
        for x in longs:
            self.pair_long[self.row[ord(x[5][0])] * self.n_cols + self.col[ord(x[5][1])]] = True
        longs.sort()
        self.n_long = len(longs)
        if longs:
            pre = np.asarray([x[0] for x in longs], np.uint64)
            self.prefixes, self.g_start, self.g_len = np.unique(pre, return_index=True, return_counts=True)
            self.r1 = np.asarray([x[1] for x in longs], np.uint64)
            self.r2 = np.asarray([x[2] for x in longs], np.uint64)
            self.ln = np.asarray([x[3] for x in longs], np.int64)
            self.ids = np.asarray([x[4] for x in longs], np.int64)
            # masks keeping the characters 3..5 and 6..8 that a pattern of length L has
            self.m1 = np.asarray([(1 << (16 * min(max(L - 3, 0), 3))) - 1 for L in range(self.MAX_LEN + 1)],
                                 np.uint64)
            self.m2 = np.asarray([(1 << (16 * min(max(L - 6, 0), 3))) - 1 for L in range(self.MAX_LEN + 1)],
                                 np.uint64)

    def _keys(self, cu: np.ndarray, at: np.ndarray, first: int) -> np.ndarray:
        """Packed key of the (up to) three characters ``first..first+2`` after each position (0 past the end)."""
        n = cu.size
        key = np.zeros(at.size, np.uint64)
        for k in range(3):
            j = at + first + k
            key |= np.where(j < n, cu[np.minimum(j, n - 1)], 0).astype(np.uint64) << self._SH[k]
        return key

    def find(self, cu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(end, pattern id) of every occurrence in ``cu`` (uint16 code units, astral characters as 0xFFFF)."""
        ends, pids = [], []
        p1 = self.lut1[cu]
        at = np.flatnonzero(p1 >= 0)
        ends.append(at)
        pids.append(p1[at].astype(np.int64))
        n = cu.size
        if n < 2:
            return np.concatenate(ends), np.concatenate(pids)
        r = self.row[cu[:-1]]
        c = self.col[cu[1:]]
        cand = np.flatnonzero((r >= 0) & (c >= 0))
        cell = r[cand] * self.n_cols + c[cand]
        p2 = self.pair_pid[cell]
        hit = p2 >= 0
        ends.append(cand[hit] + 1)
        pids.append(p2[hit])
        if self.n_long and n > 2:
            cand = cand[self.pair_long[cell]]
            key = self._keys(cu, cand, 0)
            g = np.minimum(np.searchsorted(self.prefixes, key), self.prefixes.size - 1)
            hit = self.prefixes[g] == key
            cand, g = cand[hit], g[hit]
            if cand.size:
                k1, k2 = self._keys(cu, cand, 3), self._keys(cu, cand, 6)
                glen, gst = self.g_len[g], self.g_start[g]
                for rr in range(int(glen.max())):
                    sel = np.flatnonzero(glen > rr)
                    it = gst[sel] + rr
                    L = self.ln[it]
                    ok = ((k1[sel] & self.m1[L]) == self.r1[it]) & ((k2[sel] & self.m2[L]) == self.r2[it]) \
                        & (cand[sel] + L <= n)
                    ends.append(cand[sel][ok] + L[ok] - 1)
                    pids.append(self.ids[it[ok]])
        return np.concatenate(ends), np.concatenate(pids)


def code_units(big: str) -> np.ndarray:
    """One uint16 per character of ``big``: its code point, or 0xFFFF outside the Basic Multilingual Plane."""
    raw = big.encode("utf-16-le", "surrogatepass")
    if len(raw) == 2 * len(big):  # no astral characters: UTF-16 is one unit per character
        return np.frombuffer(raw, np.uint16)
    cp = np.frombuffer(big.encode("utf-32-le", "surrogatepass"), np.uint32)
    return np.minimum(cp, 0xFFFF).astype(np.uint16)


def join_texts(texts: Sequence[str]) -> tuple[str, np.ndarray]:
    """``"\\n".join(texts)`` with line breaks inside a comment turned into spaces, and the comments' start
    positions."""
    n = len(texts)
    big = "\n".join(texts)
    if big.count("\n") != max(n - 1, 0) or "\r" in big:
        texts = [t.replace("\r", " ").replace("\n", " ") for t in texts]
        big = "\n".join(texts)
    lengths = np.fromiter(map(len, texts), np.int64, n)
    starts = np.zeros(n, np.int64)
    if n > 1:
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return big, starts


def resolve_overlaps(start: np.ndarray, end: np.ndarray, passes: int = 2) -> np.ndarray:
    """Mask of the lexicon matches kept: matches inside a longer one are dropped, then the shorter of two
    partly overlapping ones (:func:`contained`, :func:`overlapped`). A second pass gives back the matches
    that lay only inside dropped ones and overlap no kept match: in 不是很满意, 很满意 loses to 不是很 (equal
    length, later) and its 满意 is kept again; in 没人情味, 没人 loses to 人情味 and its 没 is kept again."""
    keep = np.zeros(start.size, bool)
    cand = np.arange(start.size)
    for p in range(passes):
        cand = cand[~contained(start[cand], end[cand])]
        cand = cand[np.argsort(start[cand], kind="stable")]
        cand = cand[~overlapped(start[cand], end[cand])]
        keep[cand] = True
        if p == passes - 1:
            break
        # kept matches do not overlap, so sorted by start their ends are sorted too: a dropped match is clear
        # of them when the last kept match starting at or before its end finishes before it starts
        kept = np.flatnonzero(keep)
        kept = kept[np.argsort(start[kept], kind="stable")]
        rest = np.flatnonzero(~keep)
        j = np.searchsorted(start[kept], end[rest], side="right") - 1
        clear = (j < 0) | (end[kept][np.maximum(j, 0)] < start[rest])
        cand = rest[clear]
        if cand.size == 0:
            break
    return keep


def overlapped(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Mask of the shorter of two partly overlapping matches (sorted by start, none contained in another):
    "都没" loses to "没兑现" in "都没兑现". Equal lengths: the later one loses (reading order)."""
    if start.size < 2:
        return np.zeros(start.size, bool)
    ov = start[1:] <= end[:-1]
    drop = np.zeros(start.size, bool)
    if ov.any():
        i = np.flatnonzero(ov)
        len_a, len_b = end[i] - start[i], end[i + 1] - start[i + 1]
        drop[np.where(len_a >= len_b, i + 1, i)] = True
    return drop


def contained(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Mask of matches lying inside another, longer match (start/end inclusive)."""
    if start.size == 0:
        return np.zeros(0, bool)
    # sort by start, longer first: one int64 key (patterns are far shorter than 4096 characters)
    order = np.argsort(start * 4096 + (4095 - np.minimum(end - start, 4095)))
    e = end[order]
    prev_max = np.empty_like(e)
    prev_max[0] = -1
    np.maximum.accumulate(e[:-1], out=prev_max[1:])
    cont = np.empty(start.size, bool)
    cont[order] = prev_max >= e
    return cont
