"""Sentiment lexicons and stop words: plain-text data files, loaded and merged per pack.

The shared files live in ``industry_packs/_shared/lexicon/`` (see the README there for their format and
provenance); a pack may add or override entries with files of the same names in ``<pack>/lexicon/``. Nothing
here is hard-coded in Python: the code only knows the file names and their column layout.

======================  =============================================  ==========================================
file                    one line                                       meaning
======================  =============================================  ==========================================
``positive.txt``        ``word [weight]``                              praise, weight > 0 (default 1)
``negative.txt``        ``word [weight]``                              blame, stored as -weight
``negation.txt``        ``word [factor] [dangling] [final]``           flips the next sentiment word
``degree.txt``          ``word multiplier``                            scales the next sentiment word
``contrast.txt``        ``word weight any|initial|concession``         re-weights clauses (但是, 虽然 …)
``neutral.txt``         ``word [ask]``                                 hides the sentiment words it contains
``contextual.txt``      ``@class word…`` / ``adjective class weight``  高/低/长/短 … by the aspect they describe
``verdict.txt``         ``word weight``                                its clause weighs more (推荐, 不会再来 …)
``traditional.txt``     ``简 繁 [繁 …]``                               entries are also matched in traditional script
======================  =============================================  ==========================================

A pack file overrides the shared entry of the same word; a weight of 0 in a pack's ``positive.txt`` or
``negative.txt`` removes the word.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..paths import REPO_DIR, packs_dir

__all__ = ["Lexicon", "lexicon_dirs", "lexicon_problems", "load_lexicon", "load_stopwords", "shared_dir"]

FILES = ("positive", "negative", "negation", "degree", "contrast", "neutral", "contextual", "verdict",
         "traditional")
CONTRAST_MODES = ("any", "initial", "concession")


@dataclass(frozen=True)
class Lexicon:
    """All sentiment word lists of one pack (shared files merged with the pack's ``lexicon/`` folder).

    ``words`` maps a sentiment word to its signed weight; ``negations`` a negation word to
    ``(factor, dangling, final)``; ``degrees`` a degree word to its multiplier; ``contrasts`` a contrast word to
    ``(weight, mode)``; ``aspects`` an aspect word to its class and ``contextual`` an ``(adjective, class)`` pair
    to its weight; ``verdicts`` a verdict word (recommendation, return or repeat intent, rating; or a summary
    word such as 总的来说, listed as neutral) to the factor its clause's weight is multiplied by; ``asks`` the neutral words marked ``ask`` (请问: a question
    holding one is a genuine question, not a complaint or sarcasm); ``traditional`` a simplified character to
    its traditional form(s), used to match every entry in traditional script too."""

    words: dict[str, float]
    negations: dict[str, tuple[float, float, float]]
    degrees: dict[str, float]
    contrasts: dict[str, tuple[float, str]]
    neutral: frozenset[str]
    aspects: dict[str, str]
    contextual: dict[tuple[str, str], float]
    verdicts: dict[str, float] = field(default_factory=dict)
    asks: frozenset[str] = field(default=frozenset())
    traditional: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = field(default=())

    @property
    def adjectives(self) -> list[str]:
        """The context-dependent adjectives, in a fixed order."""
        return sorted({a for a, _ in self.contextual})

    @property
    def aspect_classes(self) -> list[str]:
        return sorted(set(self.aspects.values()) | {c for _, c in self.contextual})


def shared_dir(pack: Any = None) -> Path:
    """``industry_packs/_shared``: next to the pack when the pack folder has one, else under packs_dir(),
    else the repository's (a packs folder of one's own, ``CEMKIT_PACKS``, need not copy the lexicons)."""
    candidates = [Path(pack.root).parent / "_shared"] if pack is not None else []
    for folder in (*candidates, packs_dir() / "_shared", REPO_DIR / "industry_packs" / "_shared"):
        if (folder / "lexicon").is_dir():
            return folder
    return packs_dir() / "_shared"


def lexicon_dirs(pack: Any = None) -> list[Path]:
    """Folders read for ``pack``'s lexicon, in override order: the shared one, then ``<pack>/lexicon``."""
    dirs = [shared_dir(pack) / "lexicon"]
    if pack is not None and (Path(pack.root) / "lexicon").is_dir():
        dirs.append(Path(pack.root) / "lexicon")
    return dirs


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    out = []
    if not path.exists():
        return out
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        out.append((n, line.split()))
    return out


def _num(parts: list[str], i: int, default: float, path: Path, n: int) -> float:
    if len(parts) <= i:
        return default
    try:
        return float(parts[i])
    except ValueError:
        raise ValueError(f"{path}:{n}: {parts[i]!r} is not a number") from None


def _signature(dirs: list[Path]) -> tuple:
    sig = []
    for d in dirs:
        for name in FILES:
            p = d / f"{name}.txt"
            sig.append((str(p), p.stat().st_mtime_ns if p.exists() else 0))
    return tuple(sig)


def load_lexicon(pack: Any = None) -> Lexicon:
    """The merged lexicon of ``pack`` (None: the shared files only). Cached until a file changes."""
    dirs = lexicon_dirs(pack)
    return _load(tuple(dirs), _signature(dirs))


@functools.lru_cache(maxsize=16)
def _load(dirs: tuple[Path, ...], _sig: tuple) -> Lexicon:
    words: dict[str, float] = {}
    negations: dict[str, tuple[float, float, float]] = {}
    degrees: dict[str, float] = {}
    contrasts: dict[str, tuple[float, str]] = {}
    verdicts: dict[str, float] = {}
    asks: set[str] = set()
    traditional: dict[str, tuple[str, ...]] = {}
    neutral: set[str] = set()
    aspects: dict[str, str] = {}
    contextual: dict[tuple[str, str], float] = {}
    sources = []
    for d in dirs:
        for name in FILES:
            path = d / f"{name}.txt"
            if not path.exists():
                continue
            sources.append(str(path))
            for n, parts in _lines(path):
                word = parts[0]
                if name in ("positive", "negative"):
                    w = abs(_num(parts, 1, 1.0, path, n))
                    if w == 0:
                        words.pop(word, None)
                    else:
                        words[word] = w if name == "positive" else -w
                elif name == "negation":
                    negations[word] = (_num(parts, 1, -1.0, path, n), _num(parts, 2, -0.5, path, n),
                                       _num(parts, 3, 0.0, path, n))
                elif name == "degree":
                    degrees[word] = _num(parts, 1, 1.5, path, n)
                elif name == "contrast":
                    mode = parts[2] if len(parts) > 2 else "any"
                    if mode not in CONTRAST_MODES:
                        raise ValueError(f"{path}:{n}: contrast mode must be one of {CONTRAST_MODES}")
                    contrasts[word] = (_num(parts, 1, 2.0, path, n), mode)
                elif name == "verdict":
                    verdicts[word] = _num(parts, 1, 1.5, path, n)
                elif name == "traditional":
                    if len(word) != 1 or len(parts) < 2 or any(len(t) != 1 for t in parts[1:]):
                        raise ValueError(f"{path}:{n}: expected 'simplified traditional [traditional ...]' characters")
                    traditional[word] = tuple(parts[1:])
                elif name == "neutral":
                    neutral.add(word)
                    if len(parts) > 1 and parts[1] == "ask":
                        asks.add(word)
                elif name == "contextual":
                    if word.startswith("@"):
                        for a in parts[1:]:
                            aspects[a] = word[1:]
                    elif len(parts) != 3:
                        raise ValueError(f"{path}:{n}: expected 'adjective class weight' or '@class word ...'")
                    else:
                        contextual[(word, parts[1])] = _num(parts, 2, 0.0, path, n)
    return Lexicon(words, negations, degrees, contrasts, frozenset(neutral), aspects, contextual, verdicts,
                   frozenset(asks), traditional, tuple(sources))


def lexicon_problems(lex: Lexicon) -> list[str]:
    """Words given conflicting roles (a word may be a sentiment word and a degree word, and an aspect word
    besides any role; any other overlap is ambiguous), contextual adjectives with an unknown class and verdict
    words that are no sentiment word or negation."""
    roles: dict[str, list[str]] = {}
    for w in lex.words:
        roles.setdefault(w, []).append("sentiment")
    for w in lex.negations:
        roles.setdefault(w, []).append("negation")
    for w in lex.degrees:
        roles.setdefault(w, []).append("degree")
    for w in lex.contrasts:
        roles.setdefault(w, []).append("contrast")
    for w in lex.neutral:
        roles.setdefault(w, []).append("neutral")
    for a in lex.adjectives:
        roles.setdefault(a, []).append("contextual")
    problems = []
    for w, r in sorted(roles.items()):
        if len(r) > 1 and sorted(r) != ["degree", "sentiment"]:
            problems.append(f"{w!r} has several roles: {', '.join(r)}")
    for w in sorted(lex.verdicts):
        if w not in lex.words and w not in lex.negations and w not in lex.neutral:
            problems.append(f"verdict word {w!r} is no sentiment, negation or neutral word: it is never matched")
    classes = set(lex.aspects.values())
    for (a, c) in lex.contextual:
        if c not in classes:
            problems.append(f"contextual adjective {a!r} names class {c!r}, which has no aspect words")
    return problems


def load_stopwords(pack: Any = None) -> frozenset[str]:
    """Stop words for keyword extraction and discovery: ``_shared/stopwords.txt`` plus the pack's own
    ``stopwords.txt`` when it has one."""
    paths = [shared_dir(pack) / "stopwords.txt"]
    if pack is not None:
        paths.append(Path(pack.root) / "stopwords.txt")
    return _stopwords(tuple(paths), tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths))


@functools.lru_cache(maxsize=16)
def _stopwords(paths: tuple[Path, ...], _sig: tuple) -> frozenset[str]:
    out: set[str] = set()
    for p in paths:
        out.update(parts[0] for _, parts in _lines(p))
    return frozenset(out)
