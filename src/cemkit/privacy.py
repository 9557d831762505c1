"""Masking of personal data in free text: phone numbers, ID numbers, e-mails, bank cards, licence plates.

``mask_text(series)`` returns the masked texts and the number of masks applied per kind. It is vectorised:

1. one cheap regular expression, run by Arrow's RE2 kernel over the whole column, picks the *candidates*:
   texts with a run of 7+ digits, two digit groups joined by a space or dash, an ``@``, or (plates on) a
   province character followed by a letter. Only these go on;
2. the candidates (a few percent of a real survey's comments; a repeated text is done once) pass through one
   ``re.sub`` per kind with a callable replacement that validates the match (checksum, Luhn) first;
3. the masked texts are put back with one Arrow ``replace_with_mask``.

Kinds, in the order they are applied, and their masks:

=============  ======================================================================  =====================
kind           what is masked                                                          mask
=============  ======================================================================  =====================
``email``      ``name@domain.tld`` (QQ-style all-digit names too)                       ``[邮箱]``
``id_card``    18-character resident ID numbers (GB 11643-1999) whose birth date is      ``[身份证]``
               a real date **and** whose check character is right (ISO 7064 MOD 11-2)
``bank_card``  16-19 digits, contiguous or in groups of four, passing the Luhn check    ``[银行卡]``
``mobile``     mainland mobile numbers ``1[3-9]`` + 9 digits, optionally ``+86``/``86``  ``138****5678``
               and spaces or dashes (``138 0013 8000``)
``landline``   ``0`` + a real area-code shape (010, 02x, 0[3-9]xx) + a 7-8 digit local  ``021-****5678``
               number starting 2-9, optionally ``(021)`` or a space/dash
``plate``      Chinese licence plates, 7 characters (``京A12345``) or 8 (new energy,     ``粤B·*****``
               ``粤B·D12345``); only with ``plates=True`` (pack option ``privacy.plates``)
=============  ======================================================================  =====================

Every pattern is bounded: no ASCII letter or digit may touch it on either side, so digits inside a longer
number or a code (order numbers, VINs such as ``LSVAU2180N2183294``) are never masked piecewise. Look-alikes
that stay as they are: prices (``¥12,800``), dates (``2024-03-05``, ``20240305``), 11-digit numbers that do
not start ``1[3-9]``, 18-digit numbers that fail the ID checksum *and* Luhn, 16-19 digit numbers that fail
Luhn. Full-width digits and letters (``１３８…``) are read as their ASCII forms in candidate texts (and come
out ASCII). Old 15-digit ID numbers carry no check digit and are not masked (they are indistinguishable from
order numbers).

Sources: GB 11643-1999 *Citizen identification number* (check character by ISO 7064:1983 MOD 11-2);
ISO/IEC 7812-1 Annex B (Luhn); GA 36-2018 (motor vehicle plates); MIIT numbering plan (mobile prefixes).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable
from pathlib import PurePath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import arrow, flat

__all__ = [
    "KINDS",
    "MASKS",
    "clean_controls",
    "file_name",
    "id_number_valid",
    "luhn_valid",
    "mask_message",
    "mask_name",
    "mask_text",
    "pseudonym",
    "pseudonym_key",
    "pseudonymise",
]

#: kinds in the order they are applied (an e-mail made of digits is masked before any number rule sees it)
KINDS: tuple[str, ...] = ("email", "id_card", "bank_card", "mobile", "landline", "plate")
MASKS: dict[str, str] = {
    "email": "[邮箱]",
    "id_card": "[身份证]",
    "bank_card": "[银行卡]",
    "mobile": "138****5678",
    "landline": "021-****5678",
    "plate": "粤B·*****",
}

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_D = "0-9０-９"
#: what people put between digit groups: spaces of any width (ASCII, no-break, thin, ideographic), dashes of
#: any kind (hyphen, en/em dash, minus, full-width), dots (full stop, middle dot, katakana dot, bullet)
_SEP_CHARS = (" \t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
              "\u3000" "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d" ".\u00b7\u2022\u2027\u30fb\uff0e\uff65")
_SEP = "[" + _SEP_CHARS + "-]"  # a literal "-" last; the same class text in RE2 and Python
_GAP = _SEP + "{1,3}"
#: RE2- and Python-compatible pre-filter: texts that might hold a number, an address or a plate
_CANDIDATE = rf"[{_D}]{{7}}|[{_D}]{{3,4}}{_GAP}[{_D}]{{3,4}}|[@＠]"
_CANDIDATE_PLATE = rf"[{_PROVINCES}]{_SEP}{{0,2}}[A-Za-zＡ-Ｚａ-ｚ]"

#: full-width digits, letters, @ + - . → ASCII (only inside candidate texts)
_FULLWIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
        "＠": "@",
        "＋": "+",
        "－": "-",
        "．": ".",
        "（": "(",
        "）": ")",
    }
)

_L = r"(?<![0-9A-Za-z])"  # left boundary: no ASCII letter/digit before
_R = r"(?![0-9A-Za-z])"  # right boundary
_G = f"(?:{_GAP})?"  # an optional separator between digit groups
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_LOCAL = r"A-Za-z0-9._%+\-"
#: Chinese top-level domains in use (an e-mail ending in one is an address, not the text after it)
_HAN_TLD = "中国|中國|公司|网络|網絡|在线|集团|商城|网址|网店|手机|企业|游戏|政务|公益"
_PATTERNS: dict[str, re.Pattern] = {
    # a local part in ASCII, or of up to 4 Chinese characters (a name: 张三@example.com; the characters
    # before a name cannot be told from it, so up to 4 are masked); the domain may be internationalised
    "email": re.compile(
        rf"(?<![{_LOCAL}])(?:[{_LOCAL}]{{1,64}}|[{_HAN}]{{1,4}})"
        rf"@(?:[A-Za-z0-9\-]+|[{_HAN}]+)(?:\.(?:[A-Za-z0-9\-]+|[{_HAN}]+))*\.(?:[A-Za-z]{{2,}}{_R}|{_HAN_TLD})"
    ),
    # 6 (area) + 8 (birth date) + 3 + check, contiguous or in groups (110105 19491231 002X, 6-4-4-4)
    "id_card": re.compile(
        _L + rf"[1-9][0-9]{{5}}{_G}(?:18|19|20)[0-9]{{2}}{_G}(?:0[1-9]|1[0-2]){_G}(?:0[1-9]|[12][0-9]|3[01])"
        rf"{_G}[0-9]{{3}}{_G}[0-9Xx]" + _R
    ),
    "bank_card": re.compile(_L + rf"(?:[0-9]{{16,19}}|[0-9]{{4}}(?:{_GAP}[0-9]{{4}}){{3}}(?:{_G}[0-9]{{1,3}})?)" + _R),
    # 11 digits 1[3-9]…, contiguous or 3-4-4 / 3-8 / 7-4 / 4-3-4, after +86/0086/86 or a word such as
    # vx/wx/tel (letters may touch it: "vx13800138000"; digits may not)
    "mobile": re.compile(
        rf"(?<![0-9])(?P<cc>(?:\+|00)?86{_G})?"
        rf"(?P<num>1[3-9][0-9](?:{_G}[0-9]{{4}}){{2}}|1[3-9][0-9]{{2}}{_GAP}[0-9]{{3}}{_GAP}[0-9]{{4}})(?![0-9])"
    ),
    "landline": re.compile(
        _L + rf"(?:\((?P<a1>0(?:10|2[0-9]|[3-9][0-9]{{2}}))\){_SEP}?|(?P<a2>0(?:10|2[0-9]|[3-9][0-9]{{2}})){_G})"
        rf"(?P<local>[2-9][0-9]{{2,3}}{_G}[0-9]{{4}})" + _R
    ),
    "plate": re.compile(
        rf"(?P<head>[{_PROVINCES}]){_SEP}{{0,2}}(?P<letter>[A-HJ-NP-Za-hj-np-z]){_SEP}{{0,2}}"
        rf"(?P<tail>[A-HJ-NP-Z0-9]{{5,6}})" + _R
    ),
}
_DIGITS_ONLY = re.compile(r"[^0-9Xx]")

# ------------------------------------------------------------------------------------------ validators
_ID_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_ID_CHECK = "10X98765432"  # check character for S mod 11 = 0..10


def id_number_valid(number: str) -> bool:
    """True when ``number`` is an 18-character resident ID number with a real birth date and the right
    check character: S = Σ aᵢ·Wᵢ with Wᵢ = 2^(17−i) mod 11, check = "10X98765432"[S mod 11]
    (GB 11643-1999, ISO 7064 MOD 11-2)."""
    n = str(number).strip().upper()
    if len(n) != 18 or not n[:17].isascii() or not n[:17].isdigit() or n[17] not in "0123456789X":
        return False
    try:
        dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return False
    return _ID_CHECK[sum(int(d) * w for d, w in zip(n[:17], _ID_WEIGHTS)) % 11] == n[17]


def luhn_valid(number: str) -> bool:
    """Luhn (mod 10) check of a digit string; spaces and dashes are ignored (ISO/IEC 7812-1 Annex B)."""
    digits = re.sub(r"[ \-]", "", str(number))
    if not digits.isascii() or not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# ------------------------------------------------------------------------------------ replacements
def _email(m: re.Match) -> str | None:
    return MASKS["email"]


def _id_card(m: re.Match) -> str | None:
    return MASKS["id_card"] if id_number_valid(_DIGITS_ONLY.sub("", m.group(0))) else None


def _bank_card(m: re.Match) -> str | None:
    digits = _DIGITS_ONLY.sub("", m.group(0))
    return MASKS["bank_card"] if 16 <= len(digits) <= 19 and luhn_valid(digits) else None


def _mobile(m: re.Match) -> str | None:
    num = _DIGITS_ONLY.sub("", m.group("num"))
    cc = m.group("cc") or ""
    return f"{cc}{num[:3]}****{num[-4:]}"


def _landline(m: re.Match) -> str | None:
    area = m.group("a1") or m.group("a2")
    return f"{area}-****{_DIGITS_ONLY.sub('', m.group('local'))[-4:]}"


def _plate(m: re.Match) -> str | None:
    tail = m.group("tail")
    if not any(c.isdigit() for c in tail):  # real plates carry digits; 粤BABCDE is more likely a word
        return None
    return f"{m.group('head')}{m.group('letter').upper()}·{'*' * len(tail)}"


_REPLACERS: dict[str, Callable[[re.Match], str | None]] = {
    "email": _email,
    "id_card": _id_card,
    "bank_card": _bank_card,
    "mobile": _mobile,
    "landline": _landline,
    "plate": _plate,
}


#: control characters (C0 but TAB/LF/CR, DEL, C1), line and paragraph separators, zero-width space and BOM:
#: invisible, and several are not allowed in the XML of a deck or workbook. RE2 and Python spellings.
_CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{2028}\x{2029}\x{200b}\x{feff}]"
_CONTROL_LABEL_RE2 = r"[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}\x{200b}\x{feff}]"
_BREAKS = re.compile("[\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\ufeff]")
_LABEL_SPACE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean_controls(text: str, mode: str) -> str:
    """``mode="text"`` (comments): NEL, U+2028 and U+2029 become line breaks, other control characters,
    zero-width spaces and BOMs go. ``mode="label"`` (a dealer, a segment, a wave, an id): line breaks and
    tabs too become one space, and the ends are trimmed."""
    if mode == "label":
        return _LABEL_SPACE.sub(" ", _CONTROLS.sub("", text)).strip()
    return _CONTROLS.sub("", _BREAKS.sub("\n", text))


def _mask_one(text: str, kinds: tuple[str, ...], controls: str | None = None) -> tuple[str, dict[str, int]]:
    """Mask one candidate text (control characters cleaned first with ``controls``); return it and the
    number of masks per kind."""
    counts = dict.fromkeys(kinds, 0)
    if controls:
        text = clean_controls(text, controls)
    out = text.translate(_FULLWIDTH)
    for kind in kinds:
        if kind == "email" and "@" not in out:
            continue
        fn = _REPLACERS[kind]

        def sub(m: re.Match, fn=fn, kind=kind) -> str:
            masked = fn(m)
            if masked is None:
                return m.group(0)
            counts[kind] += 1
            return masked

        out = _PATTERNS[kind].sub(sub, out)
    return (out if any(counts.values()) else text), counts


# --------------------------------------------------------------------------------------------- public
def mask_text(
    texts: pd.Series, plates: bool = False, kinds: Iterable[str] | None = None, controls: str | None = None
) -> tuple[pd.Series, dict[str, int]]:
    """Mask personal data in a text column; return ``(masked, counts)`` where ``counts[kind]`` is the number
    of masks applied (occurrences, not rows) for every kind in ``kinds`` (default: all of :data:`KINDS`,
    ``plate`` only when ``plates`` is true). Missing values stay missing; the index is kept.
    ``controls="text"`` or ``"label"`` also cleans control characters (:func:`clean_controls`).

    Only distinct texts that pass a cheap pre-filter are searched with the validating patterns (see the
    module docstring), so the cost is one Arrow (RE2) scan of the column plus work on the few candidates."""
    wanted = {k for k in KINDS if k != "plate" or plates} if kinds is None else set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown PII kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}")
    chosen = tuple(k for k in KINDS if k in wanted)
    counts = dict.fromkeys(chosen, 0)
    s = texts if isinstance(texts.dtype, pd.StringDtype) else texts.astype("str")
    if not len(s):
        return s, counts
    arr = arrow(s)
    parts = [_CANDIDATE] if chosen else []
    if "plate" in chosen:
        parts.append(_CANDIDATE_PLATE)
    if controls:
        parts.append(_CONTROL_LABEL_RE2 if controls == "label" else _CONTROL_RE2)
        if controls == "label":  # a label's ends are trimmed too
            parts.append(r"^\s|\s$")
    if not parts:
        return s, counts
    pattern = "|".join(parts)
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    rows = np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))
    if not rows.size:
        return s, counts
    memo: dict[str, tuple[str, dict[str, int]]] = {}  # repeated texts are masked once
    new: list[str] = []
    for text in arr.take(pa.array(rows)).to_pylist():
        if text not in memo:
            memo[text] = _mask_one(text, chosen, controls)
        masked, c = memo[text]
        new.append(masked)
        for kind, k in c.items():
            counts[kind] += k
    whole = flat(arr)
    out = pc.replace_with_mask(whole, flat(hit), pa.array(new, whole.type)).to_pandas()
    out.index = s.index
    return out.astype("str"), counts


def mask_name(names: pd.Series) -> pd.Series:
    """Mask person names, keeping the first character as a hint: 张三丰 → 张**, Li Lei → L*****."""
    s = names.astype("str")
    first = s.str.slice(0, 1)
    return first + s.str.slice(1).str.replace(r"\S", "*", regex=True)


def mask_message(text: str) -> str:
    """One string masked for every kind (plates too): error messages, log lines, notes that quote a cell."""
    return mask_text(pd.Series([str(text)], dtype="str"), plates=True)[0].iloc[0]


def file_name(path: str | os.PathLike) -> str:
    """A file's name as the outputs show it (``source_file``, the quarantine's ``file``, the accounting): personal
    data in it masked — a client export may be named after a customer (``张三13800138000回访.csv``)."""
    return mask_message(PurePath(path).name)


# ------------------------------------------------------------------------------------------- pseudonyms
#: texts that might be personal data used as an id: a mobile-shaped 11-digit run, an ID-number-shaped run,
#: grouped digits, an @ (RE2 pre-filter; ordinary ids such as R0000001 or C0000241 do not pass it)
_ID_CANDIDATE = (rf"(?:^|[^{_D}])[1１][3-9３-９][{_D}]{{9}}(?:[^{_D}]|$)|[1-9１-９][{_D}]{{15}}|"
                 rf"(?:^|[^{_D}])[0０][1-9１-９][{_D}]{{8,10}}(?:[^{_D}]|$)|[(（][0０][1-9１-９]|"
                 rf"[{_D}]{{3,4}}{_GAP}[{_D}]{{3,4}}|[@＠]|{_CANDIDATE_PLATE}")
_KEY_ENV = "CEMKIT_PSEUDONYM_KEY"
_key_cache: list[bytes] = []


def pseudonym_key() -> bytes:
    """The secret key of :func:`pseudonym`: ``$CEMKIT_PSEUDONYM_KEY`` when set, else 32 random bytes kept in
    ``$XDG_CONFIG_HOME/cemkit/pseudonym.key`` (default ``~/.config/cemkit/``, mode 600), made on first use, so
    that the same person gets the same pseudonym in every run on this machine (waves join) while nobody
    holding the reports can recompute it. Where that file cannot be written, a key for this process only."""
    if _key_cache:
        return _key_cache[0]
    import os
    import secrets
    from pathlib import Path

    env = os.environ.get(_KEY_ENV)
    if env:
        key = env.encode("utf-8")
    else:
        home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "cemkit"
        path = home / "pseudonym.key"
        try:
            key = path.read_bytes()
        except OSError:
            key = secrets.token_bytes(32)
            try:
                home.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key)
            except FileExistsError:  # another process made it first: use theirs
                key = path.read_bytes()
            except OSError:
                pass
    _key_cache.append(key)
    return key


def _canonical_id(value: str) -> str:
    """The form a pseudonym is computed from: NFKC, trimmed; a mobile number written with +86, spaces or
    dashes becomes its 11 digits, so 138-0013-8000 in the survey and 13800138000 in the O-data agree."""
    import unicodedata

    v = clean_controls(unicodedata.normalize("NFKC", value), "label")
    digits = _DIGITS_ONLY.sub("", v)
    if _PATTERNS["mobile"].fullmatch(v) and len(digits) >= 11:
        return digits[-11:]
    return v


def pseudonym(value: str) -> str:
    """``P`` + 12 base-32 characters of HMAC-SHA256(key, canonical value) (:func:`pseudonym_key`): the same
    value gives the same pseudonym everywhere it is computed with the same key; 60 bits, so two people
    share one with probability ≈ n²/2⁶¹ (10⁻⁶ for 1.5 million ids)."""
    import base64
    import hashlib
    import hmac

    digest = hmac.new(pseudonym_key(), _canonical_id(str(value)).encode("utf-8"), hashlib.sha256).digest()
    return "P" + base64.b32encode(digest)[:12].decode("ascii")


def pseudonymise(ids: pd.Series, controls: str | None = None) -> tuple[pd.Series, int]:
    """Ids that hold personal data (any kind :func:`mask_text` finds, licence plates included, in any
    spelling it knows) replaced by :func:`pseudonym`; other ids unchanged (``controls="label"``: cleaned of
    control characters, :func:`clean_controls`, in the same pass). Returns the ids and how many values were
    replaced. Joins and de-duplication keep working: equal ids stay equal."""
    s = ids if isinstance(ids.dtype, pd.StringDtype) else ids.astype("str")
    if not len(s):
        return s, 0
    arr = arrow(s)
    pattern = _ID_CANDIDATE + (f"|{_CONTROL_LABEL_RE2}|^\\s|\\s$" if controls == "label" else "")
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    rows = np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))
    if not rows.size:
        return s, 0
    memo: dict[str, tuple[str, int]] = {}
    new: list[str] = []
    n = 0
    n_changed = 0
    for text in arr.take(pa.array(rows)).to_pylist():
        if text not in memo:
            _, counts = _mask_one(text, KINDS)
            memo[text] = (pseudonym(text), 1) if any(counts.values()) else (
                clean_controls(text, controls) if controls else text, 0)
        value, is_pii = memo[text]
        new.append(value)
        n += is_pii
        n_changed += value != text
    if not n_changed:
        return s, 0
    whole = flat(arr)
    out = pc.replace_with_mask(whole, flat(hit), pa.array(new, whole.type)).to_pandas()
    out.index = s.index
    return out.astype("str"), n
