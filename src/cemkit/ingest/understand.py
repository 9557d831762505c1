"""Understanding a client's question and its answers, for :mod:`cemkit.ingest.match`.

- :func:`read_question`: a header (or its SPSS / Qualtrics label) reduced to the words that carry its meaning:
  numbering (``2.``, ``Q07-``, ``A3_``, ``Q5|``), a tag (``[NPS]``), brackets, full-width forms and a scale hint
  (``（0~10）``, ``(1-5分)``, ``（1=很难，5=很容易）``, ``(1 = poor, 10 = excellent)``, ``on a scale of 0 to 10``)
  removed; the hint is kept as the question's ``scale``, a matrix row (``4、(服务态度)``, ``请评价 - 服务态度``) as
  one more key.
- :func:`concept_score`: how plainly a question asks for a kind of field in everyday words
  (``data/concepts.yaml``: 推荐 / recommend → nps, 满意 → csat, 麻烦 / 顺利 / easy → ces, 意见 / anything else →
  comment, 时间 with start and event times against → date …).
- :func:`similarity`: a question against one of a pack target's names: equal, contained, or the share of the
  name's characters (Chinese) or word stems (English) the question holds (rapidfuzz scores the near-equal).
- :class:`Answers`: what a column's values are (numbers on which scale, dates, ids unique per row, free text,
  phone numbers, a few labels), for :meth:`Answers.fits` (can they be a field's answers?).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml
from rapidfuzz import fuzz

from .cells import DATA_DIR, _key, _normalise_text
from .values import _clean_dates, parse_score

# ------------------------------------------------------------------------------------------- the question
_TAG = re.compile(r"^\s*[\[【]\s*([^\]】]{1,16})\s*[\]】]\s*")
_NUMBER = re.compile(
    r"^\s*(?:[a-z]{1,3}\d+[a-z]?(?:[_.\-]\d+[a-z]?)*|\d+(?:[_.\-]\d+)*)"
    r"(?:\s*[._、:：)\]|\-]+\s*|\s+|(?=[(（\u4e00-\u9fff])|$)",
    re.IGNORECASE,
)
_BRACKET = re.compile(r"[(（\[【]([^()（）\[\]【】]*)[)）\]】]")
_RANGE = re.compile(r"(\d{1,2})\s*(?:分|星|points?|pts)?\s*(?:-|~|～|—|–|－|至|到|to)\s*(\d{1,2})(?!\d)")
_ENDS = re.compile(r"(\d{1,2})\s*(?:=|:|：|分?代表|分?表示|是)\s*[^,，;；/、\d]*[,，;；/、]\s*(?:…|\.{2,3})?\s*"
                   r"(\d{1,2})\s*(?:=|:|：|分?代表|分?表示|是)")
_HINT_WORD = re.compile(r"分|星|选填|必填|单选|多选|最多|至少|请|填写|注明|optional|required|select|choose|check|"
                        r"scale|points?", re.IGNORECASE)
_YES_NO = re.compile(r"(\d\s*[=:：]\s*(是|否|有|没有|yes|no)\b)|(是\s*/\s*否)|(\by\s*/\s*n\b)|(\byes\s*/\s*no\b)",
                     re.IGNORECASE)
_SPLIT = re.compile(r"\s+-\s+|\s*[|｜]\s*|\s*—+\s*")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Question:
    """A header understood: ``text`` (NFKC, case-folded, numbering, tag and hints removed, spaces kept),
    ``keys`` (comparison keys: the text, the matrix row, the tag), ``scale`` (the stated answer scale)."""

    header: str
    text: str
    keys: tuple[str, ...]
    scale: tuple[float, float] | None = None
    tag: str = ""
    binary: bool = False  # the header says its answers are yes / no (（1=是，2=否）, (Y/N)): not a rating


def scale_hint(text: str) -> tuple[float, float] | None:
    """The answer scale a header states, or None: ``（0~10）``, ``(1-5分)``, ``【1-7】``,
    ``（1=很难，5=很容易）``, ``(1 = poor, 10 = excellent)``, ``on a scale of 0 to 10``. Only scales that start at
    0 or 1 and end above their start, at 11 at most, count."""
    s = unicodedata.normalize("NFKC", str(text))
    for rx in (_ENDS, _RANGE):
        for m in rx.finditer(s):
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo in (0, 1) and lo + 1 < hi <= 11:
                return float(lo), float(hi)
    return None


def _strip_number(s: str) -> str:
    out = _NUMBER.sub("", s, count=1)
    return out if out.strip() else s


@functools.lru_cache(maxsize=4096)
def read_question(header: str) -> Question:
    """See the module docstring."""
    s = _SPACES.sub(" ", unicodedata.normalize("NFKC", str(header))).strip().casefold()
    s = re.sub(r"\.\d+$", "", s) if re.search(r"\D\.\d+$", s) else s  # a repeated header "来源.1"
    tag = ""
    m = _TAG.match(s)
    if m and _TAG.sub("", s, count=1).strip():
        tag, s = m.group(1).strip(), _TAG.sub("", s, count=1)
    s = _strip_number(s).replace("_", " ")  # Resp_ID, Survey_Type: words, as the header means them
    scale = scale_hint(s)
    rows: list[str] = []
    binary = False

    def bracket(mm: re.Match) -> str:
        nonlocal binary
        inner = mm.group(1)
        if _YES_NO.search(inner):
            binary = True
            return " "
        if _RANGE.search(inner) or _ENDS.search(inner) or _HINT_WORD.search(inner) or not inner.strip():
            return " "
        rows.append(inner)
        return " " + inner + " "

    text = _BRACKET.sub(bracket, s)
    text = _RANGE.sub(" ", text) if scale else text
    text = _SPACES.sub(" ", text).strip(" :：-—|,，。?？!！")
    parts = [p for p in _SPLIT.split(text) if _key(p)]
    keys = [_key(text), *(_key(r) for r in rows)]
    if len(parts) > 1:
        keys.append(_key(_strip_number(parts[-1])))
        text = " ".join(parts)
    if tag:
        keys.append(_key(tag))
    return Question(str(header), text, tuple(dict.fromkeys(k for k in keys if k)), scale, tag, binary)


# ------------------------------------------------------------------------------------------- concepts
@functools.cache
def concepts() -> dict[str, dict[str, Any]]:
    """data/concepts.yaml, compiled: id → {cues, against, values, score}."""
    data = yaml.safe_load((DATA_DIR / "concepts.yaml").read_text(encoding="utf-8")) or {}
    out = {}
    for fid, c in (data.get("concepts") or {}).items():
        out[str(fid)] = {
            "cues": [re.compile(p, re.ASCII) for p in c.get("cues") or ()],
            "against": [re.compile(p, re.ASCII) for p in c.get("against") or ()],
            "values": str(c.get("values") or "any"),
            "score": float(c.get("score") or 0.9),
            "names_against": bool(c.get("names_against")),
        }
    return out


def concept_against(q: Question, fid: str) -> bool:
    """Do the question's words say it is not ``fid`` even when a pack name matches (``names_against``)?"""
    c = concepts().get(fid)
    return bool(c and c["names_against"] and any(rx.search(q.text) for rx in c["against"]))


def concept_score(q: Question, fid: str) -> float:
    """The confidence the question's own words give that it asks for ``fid`` (0 when they do not)."""
    c = concepts().get(fid)
    if c is None:
        return 0.0
    texts = [q.text, q.tag] if q.tag else [q.text]
    if not any(rx.search(t) for rx in c["cues"] for t in texts):
        return 0.0
    if any(rx.search(q.text) for rx in c["against"]):
        return 0.0
    return c["score"]


# ------------------------------------------------------------------------------------------- similarity
_STOP_CHARS = set("的了是否吗呢吧啊您你我们他她它这那个本次请对在和与及或得很都也就还有没不把被给让向为之其所能会要可以")
_STOP_WORDS = {
    "the", "a", "an", "of", "to", "with", "your", "my", "our", "was", "were", "is", "are", "be", "been", "how",
    "did", "do", "does", "you", "we", "us", "in", "on", "for", "and", "or", "this", "that", "it", "i", "me", "by",
    "at", "from", "as", "about", "please", "rate", "following", "would", "what", "which", "today", "s", "t",
}
_LATIN = re.compile(r"[a-z][a-z0-9']*")


def _stem(w: str) -> str:
    for suf in ("ations", "ation", "ness", "ments", "ment", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: len(w) - len(suf)][:6]
    return w[:6]


@functools.cache
def _word_classes() -> tuple[dict[str, str], dict[str, str]]:
    """data/concepts.yaml ``word_classes``: (English stem → class, Chinese word → class)."""
    data = yaml.safe_load((DATA_DIR / "concepts.yaml").read_text(encoding="utf-8")) or {}
    en: dict[str, str] = {}
    zh: dict[str, str] = {}
    for cls, ws in (data.get("word_classes") or {}).items():
        for w in ws:
            if str(w).isascii():
                en[_stem(str(w).casefold())] = f"<{cls}>"
            else:
                zh[str(w)] = f"<{cls}>"
    return en, zh


def _words(text: str) -> set[str]:
    """A text's English word stems, a word of a class (courtesy, polite, friendly …) read as its class."""
    classes = _word_classes()[0]
    stems = (_stem(w) for w in _LATIN.findall(text.casefold()) if w not in _STOP_WORDS)
    return {classes.get(w, w) for w in stems}


def _chars(key: str) -> set[str]:
    return {ch for ch in key if "\u4e00" <= ch <= "\u9fff" and ch not in _STOP_CHARS}


def _bigrams(key: str) -> set[str]:
    k = "".join(ch for ch in key if ch not in _STOP_CHARS)
    return {k[i : i + 2] for i in range(len(k) - 1)}


def coverage(question: str, name: str, loose: bool = False) -> float:
    """The share of a name's meaning the question holds: for Chinese, the mean of the shares of its characters
    and of its character pairs found in the question (particles left out); for English, the share of its word
    stems (``loose``: stems of one word count too, :func:`_same_word`). 0 when the name has neither."""
    nk, qk = _key(name), _key(question)
    nc = _chars(nk)
    if len(nc) == 1 and not _words(name):
        return 0.0  # one character of meaning (有货: 货) is no share of anything: matched whole or not at all
    if nc:
        qc = _chars(qk)
        nb = _bigrams(nk)
        share_c = len(nc & qc) / len(nc)
        share_b = len(nb & _bigrams(qk)) / len(nb) if nb else share_c
        return (share_c + share_b) / 2
    nw = _words(name)
    if nw:
        qw = _words(question)
        if not loose:
            return len(nw & qw) / len(nw)
        return sum(any(_same_word(w, x) for x in qw) for w in nw) / len(nw)
    return 0.0


def _same_word(a: str, b: str) -> bool:
    """Two word stems of one word: equal, or sharing a beginning of at least 4 letters that is all but one
    letter of the shorter (apply / applic, deliv / delive); not card / care, contact / contract."""
    if a == b:
        return True
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n >= 4 and n >= min(len(a), len(b)) - 1


def similarity(q: Question, name: str, by_coverage: bool = True, loose: bool = False) -> float:
    """A question against one name of a target, 0-1: 1 equal (after normalising); 0.8-0.95 when one holds
    the other; else 0.45 + 0.4 × :func:`coverage` when that is at least a half (``by_coverage``: names of
    questions, not of identifiers), or 0.9 × rapidfuzz's ratio when that is ≥ 0.8 (a near-equal spelling)."""
    nk = _key(name)
    if not nk:
        return 0.0
    best = 0.0
    for k in q.keys:
        if k == nk:
            return 1.0
        if len(nk) >= 2 and nk in k:
            best = max(best, 0.8 + 0.15 * len(nk) / len(k))
        elif len(k) >= 2 and k in nk and 2 * len(k) >= len(nk):
            best = max(best, 0.7 + 0.2 * len(k) / len(nk))
        r = fuzz.ratio(k, nk) / 100
        if r >= 0.8:
            best = max(best, 0.9 * r)
    if not by_coverage:
        return best
    cov = max(coverage(q.text, name, loose), *(coverage(k, name, loose) for k in q.keys[1:]), 0.0) if q.keys else 0.0
    if cov >= 0.5:
        best = max(best, 0.45 + 0.4 * cov)
    return best


def terms(text: str) -> set[str]:
    """The units in which :class:`TermWeights` weighs a text: English word stems (first five letters, so
    activating / activation are one term) and pairs of Chinese characters (not two particles: 有货 is
    a term, 的是 is not)."""
    k = _key(text)
    pairs = {k[i : i + 2] for i in range(len(k) - 1)} | _bigrams(k)  # with and without the particles
    zh = _word_classes()[1]
    return {w if w.startswith("<") else _stem(w)[:5] for w in _words(text)} | {
        zh.get(b, b) for b in pairs if all("\u4e00" <= c <= "\u9fff" for c in b) and not set(b) <= _STOP_CHARS}


class TermWeights:
    """How distinctive each term of a pack's attribute names is among the pack's attributes (an inverse
    document frequency: ``service``, ``time``, ``staff``, 服务 occur in the names of many attributes and tell
    them apart little; ``teller``, 报修 occur in one). :meth:`explained` is the share of a question's
    distinctive weight an attribute's names account for: "Time it took to service my vehicle" is explained
    more by a service-waiting-time attribute (time, service) than by an on-time-delivery one (time)."""

    def __init__(self, names: dict[str, list[str]]):
        self.terms = {fid: set().union(*(terms(n) for n in ns)) for fid, ns in names.items()}
        df: dict[str, int] = {}
        for ts in self.terms.values():
            for t in ts:
                df[t] = df.get(t, 0) + 1
        n = len(names)
        self.idf = {t: math.log((n + 1) / c) for t, c in df.items()}

    def explained(self, questions: list[Question]) -> dict[str, float]:
        """Attribute id → the share (0-1) of the questions' distinctive weight its names hold; {} when the
        questions hold no term of any attribute."""
        q = set().union(*(terms(x.text) for x in questions)) & self.idf.keys()
        mass = sum(self.idf[t] for t in q)
        if mass <= 0:
            return {}
        return {fid: sum(self.idf[t] for t in q & ts) / mass for fid, ts in self.terms.items()}


# ------------------------------------------------------------------------------------------- the answers
def _date_count(values: list[str]) -> int:
    """How many of the values read as dates (a number that reads as a date beyond 2262 does not)."""
    if not values:
        return 0
    try:
        return int(_clean_dates(pd.Series(values, dtype="str")).notna().sum())
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        return 0


VALUE_KINDS = ("any", "score", "text", "short_text", "date", "id", "phone", "label", "number", "stage")
_PHONE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$|^1\d{2}\*{4}\d{4}$|^[\d\-\s()+*]{7,20}$")
FIT_SAMPLE_ROWS = 5000
_MEDIA = re.compile(r"^\s*(短信|彩信|二维码|扫码|邮件|电子邮件|邮箱|链接|网页链接|问卷链接|sms|text message|qr(\s*code)?|e-?mail"
                    r"|(web )?link|anonymous|embed)\s*$", re.IGNORECASE)
_WECHAT = re.compile(r"微信|公众号|wechat|weixin", re.IGNORECASE)


def _phone_like(t: str) -> bool:
    """A phone number as exports write it: digits with separators, masked (138****0001), or a spreadsheet's
    float (13800138000.0, 1.38E+10)."""
    u = re.sub(r"\.0+$", "", t.replace(" ", ""))
    if re.fullmatch(r"\d(?:\.\d+)?e\+?\d{1,2}", u, re.IGNORECASE):
        return True
    return bool(_PHONE.match(u)) and sum(ch.isdigit() for ch in u) >= 7


@dataclass
class Answers:
    """What one column's values are (first :data:`FIT_SAMPLE_ROWS` rows, SPSS codes read as their labels)."""

    n: int  # rows with a value
    rows: int
    distinct: list[str]
    numbers: list[float]  # the distinct values that read as numbers
    dates: int  # distinct values that read as dates
    mean_len: float
    phones: int

    @classmethod
    def of(cls, col: pd.Series, codes: dict[str, str] | None = None) -> Answers:
        col = col.iloc[:FIT_SAMPLE_ROWS]
        texts = [t for t in (_normalise_text(v) for v in col.dropna().tolist()) if t is not None]
        texts = [(codes or {}).get(t, t) for t in texts]
        distinct = list(dict.fromkeys(texts))
        nums = [x for t in distinct if (x := parse_score(t)) is not None]
        dates = _date_count(distinct[:500])
        mean_len = sum(len(t) for t in texts) / len(texts) if texts else 0.0
        phones = sum(_phone_like(t) for t in distinct)
        return cls(len(texts), len(col), distinct, nums, dates, mean_len, phones)

    @property
    def unique(self) -> bool:
        """One value per row, every row (an id)."""
        return self.n >= 3 and self.n == self.rows and len(self.distinct) == self.n

    @property
    def invitation_media(self) -> bool:
        """Are the values the media a survey invitation went out by (短信, 二维码, 邮件, SMS, QR code, email link,
        微信): at least half of them, one at least not 微信 / WeChat (which is also a shop)?"""
        if not self.distinct:
            return False
        strict = sum(bool(_MEDIA.search(t)) for t in self.distinct)
        loose = strict + sum(bool(_WECHAT.fullmatch(t.strip())) for t in self.distinct)
        return strict >= 1 and loose >= 0.5 * len(self.distinct)

    @property
    def numeric(self) -> float:
        return len(self.numbers) / len(self.distinct) if self.distinct else 0.0

    def fits(self, kind: str) -> bool:
        """Can these values be the answers of a field whose values are of ``kind`` (VALUE_KINDS)? An empty
        column fits everything; scores are judged by :func:`cemkit.ingest.match.value_fit` on the scale."""
        if not self.distinct or kind in ("any", "score"):
            return True
        d = len(self.distinct)
        if kind == "date":
            return self.dates >= 0.8 * d
        if kind == "id":
            return self.unique and self.dates < 0.5 * d
        if kind == "phone":
            return self.phones >= 0.6 * d
        if kind == "number":
            return self.numeric >= 0.8
        if kind == "text":
            digits = sum(any(ch.isdigit() for ch in t) for t in self.distinct)
            return self.numeric < 0.5 and self.dates < 0.5 * d and self.phones < 0.5 * d and digits < 0.5 * d
        if kind == "short_text":
            return self.numeric < 0.5 and self.mean_len <= 12 and self.phones < 0.5 * d
        if kind in ("label", "stage"):
            few = d <= max(3, 0.6 * self.n) or d <= 12
            links = sum("://" in t or t.startswith("/") for t in self.distinct)
            plain = self.dates < 0.5 * d and self.phones < 0.5 * d and self.mean_len <= 40 and links < 0.5 * d
            if kind == "stage":
                return few and plain
            # a unit or segment: a few labels, or (a small file) names rather than numbers or free text; not
            # numbers only (a rating, a code)
            digits = sum(any(ch.isdigit() for ch in t) for t in self.distinct)
            return plain and self.numeric < 0.8 and (few or (self.mean_len <= 16 and digits < 0.5 * d))
        return True
