"""What a client's stage label says the customer *did*: the verb of a Chinese verb–object label and of an English
sentence, read for :class:`cemkit.ingest.stages.StageMatcher` (words in ``data/stage_words.yaml``).

In a Chinese compound noun the head is the last word (账单分期 is an instalment), but a verb–object label is
headed by its verb: 激活新卡 is an activation whatever stage 新卡 names, 还信用卡 a repayment, 买奶粉 a purchase.
A verb that only says "did it" (办理, 申请, 做 …) leaves the stage to its object (办理车贷 → 车贷). In an English
sentence ("I activated my new card", "I returned something I bought") the verb after the subject decides the
same way; everything after it is context. A one-character verb counts only where it and the next character
are not a word of their own (退出, 还是, 修改: jieba's dictionary).
"""

from __future__ import annotations

import functools
import re
from itertools import pairwise
from typing import Any

import yaml

from .cells import DATA_DIR

# English names read by their words: determiners and pronouns dropped, each word by its stem (picked → pick)
EN_STOP = frozenset({"a", "an", "the", "my", "our", "your", "their", "his", "her", "its", "of", "for", "to", "in",
                     "on", "at", "with", "i", "we", "me", "us", "was", "were", "is", "be"})
_JIEBA_WORD_MIN = 20  # a one-character verb and the next character are a word of their own above this frequency


@functools.lru_cache(maxsize=1)
def words() -> dict[str, Any]:
    """data/stage_words.yaml."""
    return yaml.safe_load((DATA_DIR / "stage_words.yaml").read_text(encoding="utf-8")) or {}


def stem(word: str) -> str:
    """An English word's stem: irregular past forms as their verb (paid → pay), -ied → -y, then -ing / -ed / -es /
    -s and a final e dropped (activated, activate, activating → activat)."""
    w = str(words()["en"]["irregular"].get(word, word))
    if w.endswith("ied") and len(w) > 4:
        return w[:-3] + "y"
    for suf in ("ing", "ed", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)]
            break
    return w[:-1] if w.endswith("e") and len(w) > 3 else w


def stems(text: str, pairs: bool = False) -> frozenset[str]:
    """The stems of a text's English words, stop words dropped (with ``pairs``, adjacent words joined too: pick
    up → pickup)."""
    raw = [w for w in re.findall(r"[a-z]+", str(text).lower()) if w not in EN_STOP]
    return frozenset(stem(w) for w in raw + ([a + b for a, b in pairwise(raw)] if pairs else []))


def first_stem(name: str) -> str | None:
    """The stem of an English name's first word that is no stop word (``picking up my car`` → pick)."""
    ws = [w for w in re.findall(r"[a-z]+", str(name).lower()) if w not in EN_STOP]
    return stem(ws[0]) if ws else None


def en_verb(label: str, bare: bool = False) -> str | None:
    """The stem of the verb of a customer's sentence (``I just returned …`` → return); None unless the label
    opens with a subject (I, we) or, with ``bare``, with a verb in the past (``Returned a jacket``: the subject
    left out)."""
    en = words()["en"]
    toks = re.findall(r"[a-z]+", str(label).lower())
    if len(toks) >= 3 and toks[0] in en["subjects"]:
        i = 1
    elif bare and len(toks) >= 2 and _past(toks[0]):
        i = 0  # a sentence without its subject ("Returned a jacket", "Came in to look at …"): the same verb
    else:
        return None
    # skip only the run of auxiliaries and adverbs right after the subject ("I have lived", "I just looked")
    while i < len(toks) and toks[i] in en["skip"]:
        i += 1
    rest = toks[i:]
    if not rest:
        return None
    # a phrasal verb is another verb (signed up, picked up): read with its particle, as names are (pickup)
    return stem(rest[0]) + (rest[1] if len(rest) > 1 and rest[1] in en["particles"] else "")


def _past(word: str) -> bool:
    """Is an English word a verb's past form (an irregular one of the lexicon, or a word in -ed)?"""
    return word in words()["en"]["irregular"] or (word.endswith("ed") and len(word) >= 5)


def en_verb_stems(verb: str) -> list[str]:
    """The stems a sentence's verb is read as: its own, then the verbs it is the same as (look → browse, view)."""
    return [verb, *(s for s in words()["en"].get("same_as", {}).get(verb, ()) if s != verb)]


def expand_abbrev(label: str) -> str:
    """A label with the industry abbreviations of the lexicon (``RO``, ``EMI``, ``BOPIS`` …) read as their words,
    Chinese words when the label holds Chinese (RO结算 → 维修结算, EMI plan → instalment plan)."""
    table = words().get("abbrev") or {}
    if not table or not re.search(r"[A-Za-z]{2}", str(label)):
        return str(label)
    lang = "zh" if re.search(r"[\u4e00-\u9fff]", str(label)) else "en"

    def sub(m: re.Match) -> str:
        e = table.get(m.group(0)) if m.group(0).isupper() else None  # RO, not ro or Ro
        return m.group(0) if e is None else (f" {e[lang]} " if lang == "en" else e[lang])

    return re.sub(r"\s+", " ", re.sub(r"(?<![A-Za-z])[A-Za-z]{2,6}(?![A-Za-z])", sub, str(label))).strip()


def _is_word(two: str) -> bool:
    """Is ``two`` a word of jieba's dictionary (frequency ≥ 20)?"""
    import logging

    import jieba

    if not jieba.dt.initialized:
        jieba.setLogLevel(logging.ERROR)
        jieba.dt.initialize()
    return (jieba.dt.FREQ.get(two) or 0) >= _JIEBA_WORD_MIN


def zh_verb(key: str) -> tuple[str | list[str] | None, str] | None:
    """For a label key opening with a verb of the lexicon and holding an object after it: (the word stage names
    use for the verb — or, for a verb of taking possession, the words they use for the hand-over —, or None for
    a verb that only says "did it"; the object). None otherwise."""
    zh = words()["zh"]
    verbs: dict[str, str] = zh["verbs"]
    light = set(zh["light"])
    for n in (2, 1):
        v = key[:n]
        if len(key) <= n or not (v in verbs or v in light):
            continue
        if n == 1 and (len(key) < 3 or (key[:2] not in verbs and key[:2] not in light and _is_word(key[:2]))):
            return None  # 退出, 还是, 修改: the first character starts another word; 还车: too short to tell
        return (None if v in light and v not in verbs else verbs[v]), key[n:]
    return None


def zh_around(key: str) -> tuple[str, str] | None:
    """A label key with a two-character verb that only says "did it" inside it (热线咨询保单, 售楼处了解楼盘): the
    words before it (a channel, a place) and after it (the object); None otherwise."""
    light = [v for v in words()["zh"]["light"] if len(v) == 2]
    for i in range(1, len(key) - 2):
        if key[i:i + 2] in light:
            return key[:i], key[i + 2:]
    return None
