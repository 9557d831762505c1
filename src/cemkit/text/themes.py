"""Theme tagging and comment sentiment in one pass: dedupe, run the engine (in parallel for large inputs),
aggregate per (comment, theme), expand back to every input row.

``analyze`` is the workhorse; :func:`tag_themes` and :func:`cemkit.text.sentiment` are thin views of its
result. Call ``analyze`` once when you need both (the impact analysis does).
"""

from __future__ import annotations

import codecs
import functools
import gc
import itertools
import math
import multiprocessing as mp
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import arrowtext
from .engine import EPS, Engine, EngineResult
from .lexicon import _signature, lexicon_dirs
from .matching import join_texts

__all__ = ["TAG_COLUMNS", "TextAnalysis", "analyze", "get_engine", "map_chunks", "tag_themes"]

TAG_COLUMNS = ["row", "theme", "level1", "clause", "polarity", "score"]
CHUNK_CHARS = 2_000_000  # characters per engine call (bounds memory; the unit of parallel work)
PARALLEL_MIN_CHARS = 4_000_000  # below this a worker pool costs more than it saves


# ------------------------------------------------------------------------------------------ engine cache
def get_engine(pack: Any = None) -> Engine:
    """The engine (automaton + role tables) of ``pack``; built once per pack and lexicon version."""
    themes = tuple(pack.themes) if pack is not None else ()
    dirs = lexicon_dirs(pack)
    return _engine(str(pack.root) if pack is not None else None, themes, tuple(dirs), _signature(dirs))


@functools.lru_cache(maxsize=8)
def _engine(_root: str | None, themes: tuple, dirs: tuple, sig: tuple) -> Engine:
    from .lexicon import _load

    lex = _load(dirs, sig)
    return Engine([t.keywords for t in themes], [t.regex for t in themes], lex)


# ---------------------------------------------------------------------------------------------- input
def as_series(texts: Any) -> pd.Series:
    """Comments as a Series (a str becomes a one-row Series; lists, arrays and Index keep their order)."""
    if isinstance(texts, pd.Series):
        return texts
    if isinstance(texts, pd.DataFrame):
        raise TypeError("pass the comment column (a Series), not a DataFrame")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple, np.ndarray, pd.Index)):
        texts = list(texts)
    return pd.Series(np.asarray(texts, dtype=object) if len(texts) else np.zeros(0, object), dtype=object)


def _clean(values: Iterable[Any]) -> list[str]:
    return [v if isinstance(v, str) else ("" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                                          else str(v)) for v in values]


DEDUPE_SAMPLE = 20_000
DEDUPE_MIN_SHARE = 0.10  # dedupe="auto": factorise when a sample holds at least this share of repeats


def _arrow(s: pd.Series) -> Any:
    """The pyarrow array behind a pandas string Series (pandas 3's default ``str`` dtype), else None."""
    arr = arrowtext.arrow(s, build=False)
    return None if arr is None else arrowtext.flat(arr)


def _repeat_share(sample: list) -> float:
    return 1.0 - len(set(sample)) / len(sample) if sample else 0.0


def _want_dedupe(dedupe: bool | str, n: int, sample_fn) -> bool:
    if dedupe == "auto":
        if n <= DEDUPE_SAMPLE:
            return True  # cheap either way
        return _repeat_share(sample_fn()) >= DEDUPE_MIN_SHARE
    return bool(dedupe)


def _arrow_join(values: Any) -> str:
    """The strings of an Arrow string array joined with "\\n", as one Python str (no per-row objects)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sep = pa.scalar("\n", values.type)
    joined = pc.binary_join_element_wise(values, sep, pa.scalar("", values.type))
    off_type = np.int64 if pa.types.is_large_string(joined.type) else np.int32
    offsets = np.frombuffer(joined.buffers()[1], off_type)[joined.offset:joined.offset + len(joined) + 1]
    data = memoryview(joined.buffers()[2])[int(offsets[0]):int(offsets[-1]) - 1]  # without the last "\n"
    return codecs.utf_8_decode(data, "strict", True)[0]


@dataclass
class Prepared:
    """Comments ready for the engine: distinct (or all) texts joined with ``\\n``, their start positions, and
    ``codes`` mapping every input row to its text (None: one text per row, in order)."""

    big: str
    starts: np.ndarray
    codes: np.ndarray | None


def prepare(s: pd.Series, dedupe: bool | str = "auto", seed: int = 0) -> Prepared:
    """Dedupe (see ``dedupe``), clean (NaN → "", line breaks → spaces) and join the comments of ``s``."""
    n = len(s)
    rng = np.random.default_rng(seed)
    arr = _arrow(s)
    if arr is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        def sample() -> list:
            return arr.take(pa.array(rng.integers(0, n, DEDUPE_SAMPLE))).to_pylist()

        if _want_dedupe(dedupe, n, sample):
            enc = pc.dictionary_encode(arr)
            codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            values = enc.dictionary
        else:
            codes, values = None, pc.fill_null(arr, "")
        if len(values) == 0:
            return Prepared("", np.zeros(0, np.int64), codes)
        big = _arrow_join(values)
        if big.count("\n") != len(values) - 1 or "\r" in big:  # line breaks inside comments: make them spaces
            values = pc.replace_substring_regex(values, "[\r\n]", " ")
            big = _arrow_join(values)
        lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
        starts = np.zeros(len(values), np.int64)
        if len(values) > 1:
            np.cumsum(lengths[:-1] + 1, out=starts[1:])
        return Prepared(big, starts, codes)
    vals = s.to_numpy(dtype=object, na_value=None) if len(s) else np.zeros(0, object)
    if _want_dedupe(dedupe, n, lambda: [vals[i] for i in rng.integers(0, n, DEDUPE_SAMPLE)]):
        codes, uniques = pd.factorize(vals, use_na_sentinel=True)
        texts = _clean(uniques.tolist() if hasattr(uniques, "tolist") else list(uniques))
        codes = np.asarray(codes, np.int64)
    else:
        codes, texts = None, _clean(vals.tolist())
    big, starts = join_texts(texts)
    return Prepared(big, starts, codes)


# ------------------------------------------------------------------------------------------- running
_SHARED: tuple | None = None


def _work(bounds: tuple[int, int]) -> Any:
    fn, big, starts = _SHARED  # inherited from the parent by fork
    return _run_slice(fn, big, starts, *bounds)


def _run_slice(fn: Any, big: str, starts: np.ndarray, a: int, b: int) -> Any:
    lo = int(starts[a])
    hi = int(starts[b]) - 1 if b < len(starts) else len(big)
    return fn(big[lo:hi], starts[a:b] - lo)


def _chunks(starts: np.ndarray, total: int, chunk_chars: int) -> list[tuple[int, int]]:
    n = len(starts)
    if n == 0:
        return []
    cuts = np.searchsorted(starts, np.arange(chunk_chars, total, chunk_chars))
    edges = np.unique(np.concatenate(([0], cuts, [n])))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def n_jobs_default() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def map_chunks(fn: Any, prepared: Prepared, n_jobs: int | None = None,
               chunk_chars: int | None = None) -> tuple[list[Any], list[int]]:
    """``fn(text, starts)`` over the prepared comments in chunks of ``chunk_chars`` characters — over a fork
    pool of ``n_jobs`` workers (default: all cores) when the input is large enough to gain from it. Returns
    the parts in order and the index of each part's first comment."""
    global _SHARED
    big, starts = prepared.big, prepared.starts
    jobs = n_jobs_default() if n_jobs is None else max(1, int(n_jobs))
    parallel = jobs > 1 and len(big) >= PARALLEL_MIN_CHARS and "fork" in mp.get_all_start_methods() \
        and not mp.current_process().daemon
    size = chunk_chars or (max(len(big) // (4 * jobs), 200_000) if parallel else CHUNK_CHARS)
    bounds = _chunks(starts, len(big), min(size, CHUNK_CHARS))
    parts = None
    if parallel and len(bounds) > 1:
        _SHARED = (fn, big, starts)
        gc.freeze()  # children inherit the heap: keep their garbage collector off it (no copy-on-write storm)
        try:
            with mp.get_context("fork").Pool(min(jobs, len(bounds))) as pool:
                parts = pool.map(_work, bounds, chunksize=1)
        except (OSError, RuntimeError):  # pragma: no cover - no fork here: fall back to one process
            parts = None
        finally:
            gc.unfreeze()
            _SHARED = None
    if parts is None:
        parts = [_run_slice(fn, big, starts, a, b) for a, b in bounds]
    return parts, [a for a, _ in bounds]


def run_engine(engine: Engine, prepared: Prepared | list[str], n_jobs: int | None = None,
               chunk_chars: int | None = None) -> EngineResult:
    """Run the engine over prepared comments in chunks (see :func:`map_chunks`)."""
    if not isinstance(prepared, Prepared):
        prepared = Prepared(*join_texts(prepared), None)
    parts, firsts = map_chunks(engine.run_joined, prepared, n_jobs, chunk_chars)
    return EngineResult.concat(parts, firsts)


# ------------------------------------------------------------------------------------------- result
@dataclass
class TextAnalysis:
    """Sentiment and theme mentions of a batch of comments.

    ``sentiment`` (the rules' score) is aligned with the input index. ``engine_result`` holds the mentions
    per analysed text; ``codes`` maps each input row to its distinct text (-1 for missing), or is None when
    every row was analysed on its own. ``learned`` / ``learned_conf``: the polarity (−1/0/+1) and its
    probability from a kept learned sentiment model, per analysed text, and ``one_clause`` whether the text
    has no punctuation inside (None without a model)."""

    index: pd.Index
    codes: np.ndarray | None
    sentiment: pd.Series
    engine_result: EngineResult
    theme_ids: tuple[str, ...]
    level1: tuple[str, ...]
    learned: np.ndarray | None = None
    learned_conf: np.ndarray | None = None
    one_clause: np.ndarray | None = None

    def _per_row(self, values: np.ndarray, fill: Any) -> np.ndarray:
        if self.codes is None:
            return values
        return np.where(self.codes >= 0, values[np.maximum(self.codes, 0)] if values.size else fill, fill)

    def polarity(self) -> pd.Series:
        """Comment polarity −1/0/+1 aligned with the input: the learned model's when there is one, else the
        sign of the rules' score."""
        if self.learned is None:
            pol = np.sign(self.sentiment.to_numpy(np.float64)).astype(np.int8)
        else:
            pol = self._per_row(self.learned, 0).astype(np.int8)
        return pd.Series(pol, index=self.index, name="polarity")

    def _mention_polarity(self, u: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Mention scores after the learned model (see docs/text.md, "Learning from labels"). The model reads
        whole comments, the rules clauses: the model's answer goes to a theme mention only in a comment of
        one clause (no punctuation inside) that the model reads differently from the rules, where the mention
        followed the rules' verdict or had none, and the rules did not read its themes both ways. Anywhere
        else the rules' clause reading stays (in "小哥人很好，充电桩一直装不上" the salesman was praised, whatever
        the comment's verdict)."""
        if self.learned is None or u.size == 0:
            return score
        r = self.engine_result
        rules = np.sign(r.sentiment.astype(np.float64)).astype(np.int8)
        c_pol = np.where(r.c_score > EPS, 1, np.where(r.c_score < -EPS, -1, 0))
        n = rules.size
        mixed = (np.bincount(r.c_row[c_pol > 0], minlength=n) > 0) & (np.bincount(r.c_row[c_pol < 0], minlength=n) > 0)
        pol = np.where(score > EPS, 1, np.where(score < -EPS, -1, 0))
        L = self.learned[u]
        change = (L != rules[u]) & ~mixed[u] & self.one_clause[u] & ((pol == rules[u]) | (pol == 0)) \
            & (pol != L)
        return np.where(change, L * self.learned_conf[u], score)

    def _expand(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For mention rows of distinct texts ``u`` (sorted by text): (index into u, input position) of every
        copy, in input order (and, within a row, in the order of ``u``'s rows)."""
        if self.codes is None:  # one text per input row
            return np.arange(u.size), u
        n_texts = max(1, int(max(self.codes.max(initial=-1), u.max(initial=-1))) + 1)  # ≥ 1: no comment at all
        count = np.bincount(u, minlength=n_texts)
        first = np.zeros(n_texts, np.int64)
        if n_texts > 1:
            np.cumsum(count[:-1], out=first[1:])
        valid = self.codes >= 0
        c = np.where(valid, self.codes, 0)
        per_row = np.where(valid, count[c], 0)
        total = int(per_row.sum())
        pos = np.repeat(np.arange(self.codes.size), per_row)
        within = np.arange(total) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        src = np.repeat(first[c], per_row) + within
        return src, pos

    def tags(self, granularity: Literal["comment", "clause"] = "comment") -> pd.DataFrame:
        """One row per (comment, theme) — or per (comment, clause, theme) with ``granularity="clause"``.

        Columns: ``row`` (index label of the comment in the input), ``theme`` (id), ``level1`` (level-1 area,
        the pack's Chinese label), ``clause`` (0-based clause index within the comment; at comment level the
        clause that decides the polarity: the heaviest, e.g. the one after 但是), ``polarity`` (-1/0/+1) and
        ``score`` (float in [-1, 1]). At comment level a theme named in several clauses gets
        ``tanh(Σ clause weight × clause score)``."""
        r = self.engine_result
        if granularity == "clause":
            u, th, cl = r.m_row, r.m_theme.astype(np.int64), r.m_clause.astype(np.int64)
            score = np.tanh(r.m_raw.astype(np.float64))
        elif granularity == "comment":
            u, th, cl = r.c_row, r.c_theme.astype(np.int64), r.c_clause.astype(np.int64)
            score = r.c_score.astype(np.float64)
        else:
            raise ValueError("granularity must be 'comment' or 'clause'")
        score = self._mention_polarity(u, score)
        src, pos = self._expand(u)
        th, cl, score = th[src], cl[src], score[src]
        polarity = np.where(score > EPS, 1, np.where(score < -EPS, -1, 0)).astype(np.int8)
        theme_cat = pd.Categorical.from_codes(th, categories=list(self.theme_ids)) if self.theme_ids else \
            pd.Categorical([], categories=[])
        lv_names = list(dict.fromkeys(self.level1))
        lv_code = np.asarray([lv_names.index(x) for x in self.level1], np.int64)
        level_cat = pd.Categorical.from_codes(lv_code[th], categories=lv_names) if self.theme_ids else \
            pd.Categorical([], categories=[])
        return pd.DataFrame({
            "row": self.index.take(pos),
            "theme": theme_cat,
            "level1": level_cat,
            "clause": cl.astype(np.int32),
            "polarity": polarity,
            "score": score.astype(np.float64),
        })


def analyze(texts: Any, pack: Any = None, *, n_jobs: int | None = None, dedupe: bool | str = "auto",
            model: Any = None) -> TextAnalysis:
    """Tag themes and score sentiment for ``texts`` (Series, list or array of str; NaN/None/"" allowed).

    ``dedupe``: True analyses each distinct comment once and copies the result to its repeats; False analyses
    every row; "auto" (default) dedupes when a sample of 20,000 comments holds 10 % repeats or more (real
    survey data, with its many "满意" and "无", always does; on all-distinct text the factorisation would be
    pure overhead). Inputs of more than 4 million characters run on ``n_jobs`` processes (default: all cores;
    1 = in this process). pandas string columns backed by pyarrow are read from their Arrow buffers.

    ``model``: a learned :class:`~cemkit.text.learn.SentimentModel`; when it was kept, its polarity is
    :meth:`TextAnalysis.polarity` and theme mentions follow it where the rules' reading of the comment was
    one-sided (see :meth:`TextAnalysis.tags`). ``sentiment`` stays the rules' score."""
    s = as_series(texts)
    engine = get_engine(pack)
    prep = prepare(s, dedupe)
    res = run_engine(engine, prep, n_jobs=n_jobs)
    sent_u = res.sentiment.astype(np.float64)
    learned = conf = one_clause = None
    if model is not None and model.kept:
        parts, _ = map_chunks(model.ngram_scores, prep, n_jobs)
        z = np.concatenate(parts) if parts else np.zeros((0, model.coef.shape[0] + 2))
        learned, conf = model.decide(sent_u, z, res.evidence)
        one_clause = z[:, -1] == 0
    if prep.codes is None:
        sent = sent_u
    else:
        sent = np.where(prep.codes >= 0, sent_u[np.maximum(prep.codes, 0)] if sent_u.size else 0.0, 0.0)
    themes = tuple(pack.themes) if pack is not None else ()
    return TextAnalysis(
        index=s.index,
        codes=prep.codes,
        sentiment=pd.Series(sent, index=s.index, name="sentiment"),
        engine_result=res,
        theme_ids=tuple(t.id for t in themes),
        level1=tuple(str(t.level1) for t in themes),
        learned=learned,
        learned_conf=conf,
        one_clause=one_clause,
    )


def tag_themes(texts: Any, pack: Any, *, granularity: Literal["comment", "clause"] = "comment",
               n_jobs: int | None = None, model: Any = None) -> pd.DataFrame:
    """Theme mentions of each comment: one row per (comment, theme) with columns ``row, theme, level1,
    clause, polarity, score`` (see :meth:`TextAnalysis.tags`). Comments with no theme have no row.
    ``model``: a learned sentiment model (see :func:`analyze`)."""
    return analyze(texts, pack, n_jobs=n_jobs, model=model).tags(granularity)
