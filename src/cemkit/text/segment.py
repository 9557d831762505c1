"""Word segmentation for keyword extraction and topic discovery (theme tagging and sentiment do not need it).

``tokenize`` uses jieba, or rjieba (a Rust port of jieba, ~20× faster) when it is installed and
``backend="auto"``. Either way the pack's user dictionary (``files: dictionary`` in pack.yaml) is added to the
segmenter, and its terms are *guaranteed* whole: an Aho–Corasick pass finds them first (leftmost-longest) and
only the text between them is segmented, so "试驾车" never becomes "试 / 驾车". Masked PII
(``138****5678``, ``沪A****5``) is kept as one token. Stop words (``industry_packs/_shared/stopwords.txt`` plus
the pack's ``stopwords.txt``), punctuation, whitespace and bare numbers are dropped unless asked otherwise.

Large inputs on the jieba backend are segmented by a fork pool over all cores; rjieba is fast enough in one
process. docs/text.md lists the measured differences between the two backends.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing as mp
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import ahocorasick

from .lexicon import load_stopwords
from .themes import as_series, n_jobs_default

__all__ = ["backend_available", "compare_backends", "pack_dictionary", "segmenter", "tokenize"]

Backend = Literal["auto", "jieba", "rjieba"]
MASK_RE = re.compile(r"[0-9A-Za-z·]*[*＊]{2,}[0-9A-Za-z]*")
_DROP_RE = re.compile(r"^[\W_]+$|^\d+(\.\d+)?$")  # punctuation/whitespace-only or a bare number
PARALLEL_MIN_TEXTS = 20_000


def backend_available(name: str) -> bool:
    """Whether a segmentation backend can be imported."""
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def _resolve(backend: Backend) -> str:
    if backend == "auto":
        return "rjieba" if backend_available("rjieba") else "jieba"
    if backend not in ("jieba", "rjieba"):
        raise ValueError("backend must be 'auto', 'jieba' or 'rjieba'")
    if not backend_available(backend):
        raise ImportError(f"segmentation backend {backend!r} is not installed (pip install {backend})")
    return backend


def pack_dictionary(pack: Any) -> list[tuple[str, int | None, str | None]]:
    """Entries ``(word, freq, tag)`` of the pack's jieba user dictionary (empty without a pack)."""
    path = pack.file("dictionary") if pack is not None else None
    if path is None or not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[2] if len(parts) > 2 else None
        out.append((parts[0], freq, tag))
    return out


class Segmenter:
    """A backend tokenizer with the pack's dictionary added, plus the protection automaton."""

    def __init__(self, backend: str, entries: Sequence[tuple[str, int | None, str | None]]):
        self.backend = backend
        if backend == "jieba":
            import jieba

            logging.getLogger("jieba").setLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            for w, f, t in entries:
                tk.add_word(w, f, t)
            self._cut: Callable[[str], list[str]] = lambda s: tk.lcut(s, HMM=True)
        else:
            import rjieba

            tk = rjieba.Jieba()
            for w, f, t in entries:
                tk.add_word(w, f if f is not None else 1000, t)
            self._cut = lambda s: tk.cut(s, True)
        self.automaton = None
        words = {w for w, _, _ in entries if len(w) > 1}
        if words:
            a = ahocorasick.Automaton()
            for w in words:
                a.add_word(w, len(w))
            a.make_automaton()
            self.automaton = a

    def cut(self, text: str) -> list[str]:
        """Tokens of one text, dictionary terms and masked spans kept whole (no filtering)."""
        if not text:
            return []
        spans: list[tuple[int, int]] = []
        if self.automaton is not None:
            spans = [(end - n + 1, end + 1) for end, n in self.automaton.iter_long(text)]
        if "*" in text or "＊" in text:
            spans = _merge_spans(spans, [m.span() for m in MASK_RE.finditer(text)])
        if not spans:
            return self._cut(text)
        out: list[str] = []
        pos = 0
        for a, b in spans:
            if a > pos:
                out.extend(self._cut(text[pos:a]))
            out.append(text[a:b])
            pos = b
        if pos < len(text):
            out.extend(self._cut(text[pos:]))
        return out


def _merge_spans(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of two span lists, overlapping spans dropped in favour of the earlier/longer one."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(a + b, key=lambda x: (x[0], -x[1])):
        if out and s < out[-1][1]:
            if e > out[-1][1] and e - s > out[-1][1] - out[-1][0]:
                out[-1] = (s, e)
            continue
        out.append((s, e))
    return out


def segmenter(pack: Any = None, backend: Backend = "auto") -> Segmenter:
    """The cached segmenter of ``pack`` for ``backend``."""
    name = _resolve(backend)
    entries = tuple(pack_dictionary(pack))
    return _segmenter(name, entries)


@functools.lru_cache(maxsize=8)
def _segmenter(name: str, entries: tuple) -> Segmenter:
    return Segmenter(name, entries)


class _Memo(dict):
    """dict that fills itself from a function on first access."""

    def __init__(self, fn: Callable[[str], bool]):
        super().__init__()
        self.fn = fn

    def __missing__(self, key: str) -> bool:
        value = self[key] = self.fn(key)
        return value


_POOL_STATE: tuple | None = None


def _cut_chunk(bounds: tuple[int, int]) -> list[list[str]]:
    seg, texts, keep = _POOL_STATE
    return [[w for w in seg.cut(t) if keep(w)] for t in texts[bounds[0]:bounds[1]]]


def tokenize(texts: Any, pack: Any = None, backend: Backend = "auto", *, stopwords: bool = True,
             keep_punct: bool = False, n_jobs: int | None = None) -> list[list[str]]:
    """Tokens of each comment (a list per comment, in input order; NaN/empty → []).

    ``backend``: "auto" (rjieba when installed, else jieba), "jieba" or "rjieba". The pack's dictionary terms
    and masked PII spans are kept whole. ``stopwords`` drops the pack's stop words, ``keep_punct=False`` drops
    punctuation, whitespace and bare numbers. With the jieba backend, inputs of 20,000 comments or more are
    split over ``n_jobs`` processes (default: all cores)."""
    global _POOL_STATE
    s = as_series(texts)
    vals = [v if isinstance(v, str) else "" for v in s.tolist()]
    seg = segmenter(pack, backend)
    stop = load_stopwords(pack) if stopwords else frozenset()

    def decide(w: str) -> bool:
        if w in stop or not w.strip():
            return False
        return keep_punct or not _DROP_RE.match(w) or "*" in w

    keep = _Memo(decide).__getitem__  # tokens repeat: decide each distinct token once

    jobs = n_jobs_default() if n_jobs is None else max(1, int(n_jobs))
    if seg.backend == "jieba" and jobs > 1 and len(vals) >= PARALLEL_MIN_TEXTS \
            and "fork" in mp.get_all_start_methods() and not mp.current_process().daemon:
        step = -(-len(vals) // (jobs * 4))
        bounds = [(i, min(i + step, len(vals))) for i in range(0, len(vals), step)]
        _POOL_STATE = (seg, vals, keep)
        try:
            with mp.get_context("fork").Pool(jobs) as pool:
                parts = pool.map(_cut_chunk, bounds, chunksize=1)
            return [toks for part in parts for toks in part]
        finally:
            _POOL_STATE = None
    return [[w for w in seg.cut(t) if keep(w)] for t in vals]


def compare_backends(texts: Any, pack: Any = None) -> dict[str, float]:
    """How rjieba's segmentation differs from jieba's on ``texts`` (both with the pack's dictionary, no
    filtering): share of comments segmented identically, and token-level precision/recall/F1 of rjieba's
    token spans against jieba's. Needs both backends."""
    s = as_series(texts)
    vals = [v for v in s.tolist() if isinstance(v, str) and v]
    a = [segmenter(pack, "jieba").cut(t) for t in vals]
    b = [segmenter(pack, "rjieba").cut(t) for t in vals]
    same = sum(x == y for x, y in zip(a, b))
    tp = na = nb = 0
    diffs: dict[tuple[str, str], int] = {}
    for x, y in zip(a, b):
        sx, sy = _spans(x), _spans(y)
        tp += len(sx & sy)
        na += len(sx)
        nb += len(sy)
        if x != y:
            k = (" ".join(x), " ".join(y))
            diffs[k] = diffs.get(k, 0) + 1
    p = tp / nb if nb else 1.0
    r = tp / na if na else 1.0
    return {"comments": len(vals), "identical": same / len(vals) if vals else 1.0, "token_precision": p,
            "token_recall": r, "token_f1": 2 * p * r / (p + r) if p + r else 1.0,
            "examples": sorted(diffs.items(), key=lambda kv: -kv[1])[:10]}


def _spans(tokens: list[str]) -> set[tuple[int, int]]:
    out, pos = set(), 0
    for t in tokens:
        out.add((pos, pos + len(t)))
        pos += len(t)
    return out
