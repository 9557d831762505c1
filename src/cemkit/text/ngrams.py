"""Character n-grams of comments in numpy: TF-IDF rows for training, and dot products with a linear model's
weights at millions of characters per second for prediction.

The comments come joined with ``\\n`` (as :func:`cemkit.text.themes.prepare` joins them). Every character is
read as its Unicode code point, after a light normalisation: ASCII letters lower-cased, full-width ASCII
(``ＡＢＣ１２３！``) read as ASCII, every digit read as ``0`` (等了3个小时 and 等了5个小时 share their n-grams)
and the ideographic space as a space. An n-gram (n = 1 … 3) is a window of n *word* characters (letters,
digits, CJK characters, emoji) inside one comment — punctuation and spaces break it; it is keyed by its code
points packed into one 64-bit integer (21 bits each), so no Python string is made per n-gram.

Features (fixed by :class:`NgramSpace`, the training vocabulary): for comment ``r`` and vocabulary n-gram
``j`` with ``tf`` occurrences, ``x_rj = tf · idf_j / sqrt(Σ_o idf_{j(o)}²)``, the sum over every occurrence
``o`` of a vocabulary n-gram in the comment. ``idf_j = ln((1 + n_docs) / (1 + df_j)) + 1`` (scikit-learn's
smoothed idf). When no n-gram repeats inside a comment the norm is the rows' Euclidean norm, as in
scikit-learn's ``TfidfVectorizer(analyzer="char")``; with repeats the divisor is smaller than the Euclidean
norm (the row is a little longer than 1) — the price of a divisor that is a plain sum over occurrences, so
prediction needs no sort or grouping per comment (``np.bincount`` does it). ``tests/test_learn.py`` checks the n-grams against scikit-learn's analyzer.

Vocabulary look-up is a hash table in arrays: a multiplicative hash of the key picks a slot that holds one
vocabulary key and its index; the few slots that two keys share fall back to a binary search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_N", "NgramSpace", "clause_breaks", "code_points", "decode_key", "encode_key", "is_word",
           "ngram_occurrences", "word_chars"]

MAX_N = 3
BITS = 21  # code points are below 0x110000 = 2**21
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # Knuth's multiplicative constant (2**64 / golden ratio, odd)
NEWLINE = 10


def code_points(big: str) -> np.ndarray:
    """The normalised code points of ``big`` (one uint32 per character; see the module docstring)."""
    cp = np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32).copy()
    wide = (cp >= 0xFF01) & (cp <= 0xFF5E)  # full-width ASCII
    cp[wide] -= 0xFEE0
    cp[(cp >= 65) & (cp <= 90)] += 32  # A-Z
    cp[(cp >= 48) & (cp <= 57)] = 48  # digits
    cp[cp == 0x3000] = 32  # ideographic space
    return cp


def encode_key(gram: str) -> tuple[int, int]:
    """(n, key) of an n-gram written as text (already normalised)."""
    key = 0
    for ch in gram:
        key = (key << BITS) | ord(ch)
    return len(gram), key


def decode_key(n: int, key: int) -> str:
    """The text of n-gram ``key`` of length ``n``."""
    mask = (1 << BITS) - 1
    return "".join(chr((int(key) >> (BITS * (n - 1 - i))) & mask) for i in range(n))


def is_word(cp: np.ndarray) -> np.ndarray:
    """Letters, digits, CJK characters and emoji (after :func:`code_points`); not spaces or punctuation."""
    return ((cp >= 48) & (cp <= 57)) | ((cp >= 97) & (cp <= 122)) | (
        (cp >= 0x3400) & ~((cp >= 0xFE30) & (cp <= 0xFE4F)) & ~((cp >= 0xFF00) & (cp <= 0xFFEF)))


def ngram_occurrences(cp: np.ndarray, n: int, word: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(start position, key) of every n-gram of length ``n`` of word characters (:func:`is_word`) in ``cp``:
    punctuation, spaces and the comment separator break n-grams (a comma says nothing about a comment, and
    a model that learns it from a few hundred labels misreads the next comment). ``word``: is_word(cp),
    when already computed."""
    N = cp.size
    if N < n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    c = cp.astype(np.int64)
    key = c[: N - n + 1].copy()
    nl = ~(is_word(cp) if word is None else word)
    bad = nl[: N - n + 1].copy()
    for i in range(1, n):
        key <<= BITS
        key |= c[i: N - n + 1 + i]
        bad |= nl[i: N - n + 1 + i]
    pos = np.flatnonzero(~bad)
    return pos, key[pos]


def word_chars(cp: np.ndarray, n_rows: int, rows: np.ndarray | None = None,
               word: np.ndarray | None = None) -> np.ndarray:
    """Word characters (:func:`is_word`) per comment (``rows``, ``word``: row_of(cp), is_word(cp) when
    already computed)."""
    rows = row_of(cp) if rows is None else rows
    return np.bincount(rows[is_word(cp) if word is None else word], minlength=n_rows)


# the rule engine's clause boundaries (engine.BOUNDARY_CHARS) as they read after code_points()
_BOUNDARY = np.zeros(0x10000, bool)
_BOUNDARY[[ord(c) for c in ",.!?;~。…\r\t \u00a0"]] = True


def clause_breaks(cp: np.ndarray, n_rows: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Per comment, the punctuation or space runs with text on both sides (0: the comment is one clause,
    leading and trailing punctuation aside)."""
    if cp.size == 0:
        return np.zeros(n_rows, np.int64)
    b = _BOUNDARY[np.minimum(cp, 0xFFFF)]
    text = ~b & (cp != NEWLINE)
    rows = row_of(cp) if rows is None else rows
    seen = np.cumsum(text)  # text characters up to and including each position, over the whole batch
    first = np.zeros(n_rows, np.int64)  # text characters before each comment
    starts = np.flatnonzero(np.concatenate(([True], cp[:-1] == NEWLINE)))
    first[rows[starts]] = seen[starts] - text[starts]
    # a run of boundaries ends at j - 1 when position j is text and j - 1 a boundary; it breaks the comment
    # when text came before the run in the same comment
    j = np.flatnonzero(text[1:] & b[:-1]) + 1
    before = seen[j - 1] - first[rows[j]]
    return np.bincount(rows[j][before > 0], minlength=n_rows)


def row_of(cp: np.ndarray) -> np.ndarray:
    """Comment number of every character (comments are separated by ``\\n``)."""
    r = np.cumsum(cp == NEWLINE, dtype=np.int64)
    return r


class _KeyIndex:
    """Index of each key in ``keys`` (sorted, distinct int64), looked up through a hash table."""

    def __init__(self, keys: np.ndarray, bits: int | None = None):
        self.keys = np.asarray(keys, np.int64)
        m = len(self.keys)
        self.bits = bits or max(10, int(np.ceil(np.log2(max(m, 1) * 4))))  # ≥ 4 slots per key
        size = 1 << self.bits
        slot = self._slot(self.keys)
        count = np.bincount(slot, minlength=size)
        self.slot_idx = np.full(size, -1, np.int64)
        self.slot_key = np.zeros(size, np.int64)
        one = count[slot] == 1
        self.slot_idx[slot[one]] = np.flatnonzero(one)
        self.slot_key[slot[one]] = self.keys[one]
        self.slot_idx[count > 1] = -2  # shared slot: binary search

    def _slot(self, q: np.ndarray) -> np.ndarray:
        h = q.view(np.uint64) * _HASH_MUL  # wraps modulo 2**64
        return (h >> np.uint64(64 - self.bits)).astype(np.int64)

    def lookup(self, q: np.ndarray) -> np.ndarray:
        """Index of each query key in ``keys``, −1 when absent."""
        if q.size == 0 or self.keys.size == 0:
            return np.full(q.size, -1, np.int64)
        s = self._slot(q)
        idx = self.slot_idx[s]
        out = np.where((idx >= 0) & (self.slot_key[s] == q), idx, -1)
        shared = np.flatnonzero(idx == -2)
        if shared.size:
            qs = q[shared]
            j = np.minimum(np.searchsorted(self.keys, qs), self.keys.size - 1)
            out[shared] = np.where(self.keys[j] == qs, j, -1)
        return out


@dataclass
class NgramSpace:
    """A fitted vocabulary: per n-gram length ``ns[i]`` the sorted keys ``keys[i]``; feature ``j`` of the
    concatenation has inverse document frequency ``idf[j]``."""

    ns: tuple[int, ...]
    keys: tuple[np.ndarray, ...]
    idf: np.ndarray

    def __post_init__(self) -> None:
        self._index = [_KeyIndex(k) for k in self.keys]
        self._offset = np.concatenate(([0], np.cumsum([len(k) for k in self.keys]))).astype(np.int64)

    @property
    def size(self) -> int:
        return int(self._offset[-1])

    @staticmethod
    def fit(big: str, starts: np.ndarray, ns: Sequence[int] = (1, 2, 3), min_df: int = 1,
            max_features: int | None = None) -> NgramSpace:
        """The vocabulary of the comments in ``big``: n-grams of the lengths ``ns`` found in at least ``min_df``
        comments; at most ``max_features`` (the most frequent by document frequency, ties by key)."""
        cp = code_points(big)
        rows = row_of(cp)
        n_docs = len(starts)
        keys, dfs, lens = [], [], []
        for n in ns:
            if not 1 <= n <= MAX_N:
                raise ValueError(f"n-gram length must be 1 … {MAX_N}, not {n}")
            pos, key = ngram_occurrences(cp, n)
            r = rows[pos]
            order = np.lexsort((r, key))
            key, r = key[order], r[order]
            first = np.ones(key.size, bool)  # (key, row) once per comment
            first[1:] = (key[1:] != key[:-1]) | (r[1:] != r[:-1])
            k, df = np.unique(key[first], return_counts=True)
            keep = df >= min_df
            keys.append(k[keep])
            dfs.append(df[keep])
            lens.append(np.full(int(keep.sum()), n, np.int64))
        allk, alldf, alln = np.concatenate(keys), np.concatenate(dfs), np.concatenate(lens)
        if max_features is not None and allk.size > max_features:
            top = np.lexsort((allk, alln, -alldf))[:max_features]
            sel = np.zeros(allk.size, bool)
            sel[top] = True
            allk, alldf, alln = allk[sel], alldf[sel], alln[sel]
        by_n = tuple(np.sort(allk[alln == n]) for n in ns)
        df_by_n = []
        for n, k in zip(ns, by_n):
            order = np.argsort(allk[alln == n], kind="stable")
            df_by_n.append(alldf[alln == n][order])
            assert np.array_equal(allk[alln == n][order], k)
        df_all = np.concatenate(df_by_n) if df_by_n else np.zeros(0, np.int64)
        idf = np.log((1.0 + n_docs) / (1.0 + df_all)) + 1.0
        return NgramSpace(tuple(int(n) for n in ns), by_n, idf)

    def occurrences(self, big: str) -> tuple[np.ndarray, np.ndarray]:
        """(comment number, feature index) of every vocabulary n-gram occurrence in ``big``."""
        return self._occurrences(code_points(big))

    def _occurrences(self, cp: np.ndarray, rows: np.ndarray | None = None,
                     word: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        rows = row_of(cp) if rows is None else rows
        word = is_word(cp) if word is None else word
        rr, jj = [], []
        for i, _n in enumerate(self.ns):
            pos, key = ngram_occurrences(cp, _n, word)
            idx = self._index[i].lookup(key)
            hit = idx >= 0
            rr.append(rows[pos[hit]])
            jj.append(idx[hit] + self._offset[i])
        if not rr:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rr), np.concatenate(jj)

    def transform(self, big: str, n_rows: int):
        """TF-IDF rows (scipy CSR, ``n_rows`` × ``size``) of the comments joined in ``big``."""
        import scipy.sparse as sp

        r, j = self.occurrences(big)
        w = self.idf[j]
        norm = np.sqrt(np.bincount(r, weights=w * w, minlength=n_rows))
        vals = w / np.where(norm > 0, norm, 1.0)[r]
        return sp.csr_matrix((vals, (r, j)), shape=(n_rows, self.size))  # repeats add up: tf · idf / norm

    def scores(self, big: str, n_rows: int, weights: np.ndarray) -> np.ndarray:
        """``X @ weights.T`` for the TF-IDF rows of ``big`` without building them (``weights`` is (k, size)),
        then two columns: the comments' word characters (:func:`word_chars`) and clause breaks
        (:func:`clause_breaks`): (n_rows, k + 2)."""
        cp = code_points(big)
        rows, word = row_of(cp), is_word(cp)
        r, j = self._occurrences(cp, rows, word)
        w = self.idf[j]
        norm = np.sqrt(np.bincount(r, weights=w * w, minlength=n_rows))
        inv = np.where(norm > 0, 1.0 / np.where(norm > 0, norm, 1.0), 0.0)
        out = np.empty((n_rows, weights.shape[0] + 2))
        for c in range(weights.shape[0]):
            out[:, c] = np.bincount(r, weights=weights[c, j] * w, minlength=n_rows) * inv
        out[:, -2] = word_chars(cp, n_rows, rows, word)
        out[:, -1] = clause_breaks(cp, n_rows, rows)
        return out

    def grams(self) -> list[str]:
        """The vocabulary as text, in feature order."""
        return [decode_key(n, k) for n, keys in zip(self.ns, self.keys) for k in keys.tolist()]

    @staticmethod
    def from_grams(grams: Sequence[str], idf: Sequence[float]) -> NgramSpace:
        """The space of a saved vocabulary (``grams`` grouped by length, each group sorted by key)."""
        enc = [encode_key(g) for g in grams]
        ns = tuple(dict.fromkeys(n for n, _ in enc))
        keys = tuple(np.asarray([k for n2, k in enc if n2 == n], np.int64) for n in ns)
        return NgramSpace(ns, keys, np.asarray(idf, np.float64))
