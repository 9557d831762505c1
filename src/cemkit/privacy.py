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
import re
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import arrow, flat

__all__ = ["KINDS", "MASKS", "id_number_valid", "luhn_valid", "mask_name", "mask_text"]

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
#: RE2- and Python-compatible pre-filter: texts that might hold a number, an address or a plate
_CANDIDATE = rf"[{_D}]{{7}}|[{_D}]{{3,4}}[ \-－][{_D}]{{3,4}}|[@＠]"
_CANDIDATE_PLATE = rf"[{_PROVINCES}][A-Za-zＡ-Ｚａ-ｚ]"

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
    }
)

_L = r"(?<![0-9A-Za-z])"  # left boundary: no ASCII letter/digit before
_R = r"(?![0-9A-Za-z])"  # right boundary
_PATTERNS: dict[str, re.Pattern] = {
    "email": re.compile(
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}" + _R,
        re.ASCII,
    ),
    "id_card": re.compile(
        _L + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]" + _R, re.ASCII
    ),
    "bank_card": re.compile(_L + r"(?:\d{16,19}|\d{4}(?:[ \-]\d{4}){3}(?:[ \-]?\d{1,3})?)" + _R, re.ASCII),
    "mobile": re.compile(
        r"(?<![0-9A-Za-z+])(?P<cc>(?:\+|00)?86[ \-]?)?(?P<num>1[3-9]\d(?:[ \-]?\d{4}){2})" + _R, re.ASCII
    ),
    "landline": re.compile(
        _L + r"(?:\((?P<a1>0(?:10|2\d|[3-9]\d{2}))\)[ ]?|(?P<a2>0(?:10|2\d|[3-9]\d{2}))[ \-]?)"
        r"(?P<local>[2-9]\d{6,7})" + _R,
        re.ASCII,
    ),
    "plate": re.compile(
        rf"(?P<head>[{_PROVINCES}][A-HJ-NP-Z])[·•・. \-]?(?P<tail>[A-HJ-NP-Z0-9]{{5,6}})" + _R
    ),
}

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
    return MASKS["id_card"] if id_number_valid(m.group(0)) else None


def _bank_card(m: re.Match) -> str | None:
    digits = re.sub(r"[ \-]", "", m.group(0))
    return MASKS["bank_card"] if 16 <= len(digits) <= 19 and luhn_valid(digits) else None


def _mobile(m: re.Match) -> str | None:
    num = re.sub(r"[ \-]", "", m.group("num"))
    cc = m.group("cc") or ""
    return f"{cc}{num[:3]}****{num[-4:]}"


def _landline(m: re.Match) -> str | None:
    area = m.group("a1") or m.group("a2")
    return f"{area}-****{m.group('local')[-4:]}"


def _plate(m: re.Match) -> str | None:
    tail = m.group("tail")
    if not any(c.isdigit() for c in tail):  # real plates carry digits; 粤BABCDE is more likely a word
        return None
    return f"{m.group('head')}·{'*' * len(tail)}"


_REPLACERS: dict[str, Callable[[re.Match], str | None]] = {
    "email": _email,
    "id_card": _id_card,
    "bank_card": _bank_card,
    "mobile": _mobile,
    "landline": _landline,
    "plate": _plate,
}


def _mask_one(text: str, kinds: tuple[str, ...]) -> tuple[str, dict[str, int]]:
    """Mask one candidate text; return it and the number of masks per kind."""
    counts = dict.fromkeys(kinds, 0)
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
    texts: pd.Series, plates: bool = False, kinds: Iterable[str] | None = None
) -> tuple[pd.Series, dict[str, int]]:
    """Mask personal data in a text column; return ``(masked, counts)`` where ``counts[kind]`` is the number
    of masks applied (occurrences, not rows) for every kind in ``kinds`` (default: all of :data:`KINDS`,
    ``plate`` only when ``plates`` is true). Missing values stay missing; the index is kept.

    Only distinct texts that pass a cheap pre-filter are searched with the validating patterns (see the
    module docstring), so the cost is one dictionary encoding plus work on the few candidates."""
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
    pattern = _CANDIDATE + ("|" + _CANDIDATE_PLATE if "plate" in chosen else "")
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    rows = np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))
    if not rows.size:
        return s, counts
    memo: dict[str, tuple[str, dict[str, int]]] = {}  # repeated texts are masked once
    new: list[str] = []
    for text in arr.take(pa.array(rows)).to_pylist():
        if text not in memo:
            memo[text] = _mask_one(text, chosen)
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
