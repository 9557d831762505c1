"""Tests for cemkit.privacy: masking positives and look-alike negatives for every kind, the GB 11643 and Luhn
validators (known published examples and numbers built with an independent implementation here)."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cemkit.privacy import KINDS, id_number_valid, luhn_valid, mask_name, mask_text


# ------------------------------------------------------------ independent check-digit builders
def id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2, written as (12 - S mod 11) mod 11 with 10 → X (not the lookup-table form)."""
    s = sum(int(a) * pow(2, 17 - i, 11) for i, a in enumerate(first17))
    c = (12 - s % 11) % 11
    return "X" if c == 10 else str(c)


def luhn_complete(body: str) -> str:
    """``body`` + the Luhn check digit, found by trying all ten (no shared code with the validator)."""
    for d in "0123456789":
        n = body + d
        s = 0
        for i, ch in enumerate(n[::-1]):
            x = int(ch) * (2 if i % 2 else 1)
            s += x // 10 + x % 10
        if s % 10 == 0:
            return n
    raise AssertionError


def luhn_fail(body: str) -> str:
    good = luhn_complete(body)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


VALID_IDS = [
    "11010519491231002X",  # the example printed in GB 11643-1999
    "440524188001010014",  # a widely published valid example (born 1880-01-01)
    "11010519900307123" + id_check("11010519900307123"),
    "31010420000229456" + id_check("31010420000229456"),  # born on a leap day
]
INVALID_IDS = [
    "110105194912310021",  # the GB example with a wrong check character
    "11010519900307123" + ("0" if id_check("11010519900307123") != "0" else "1"),
    "31010419990229456" + id_check("31010419990229456"),  # right checksum, 1999-02-29 does not exist
    "1101051949123100",  # too short
]
VALID_CARDS = [
    "4111111111111111",
    "5500000000000004",
    "6011111111111117",
    luhn_complete("622202123456789"),
    luhn_complete("62148301234567890"),
    luhn_complete("621700123456789012"),
]
INVALID_CARDS = ["4111111111111112", luhn_fail("622202123456789"), luhn_fail("621700123456789012")]


def masked(text: str, **kw) -> tuple[str, dict[str, int]]:
    out, counts = mask_text(pd.Series([text], dtype="str"), **kw)
    return out.iloc[0], counts


@pytest.mark.parametrize("number", VALID_IDS)
def test_id_checksum_valid(number):
    assert id_number_valid(number)
    assert id_number_valid(number.lower())


@pytest.mark.parametrize("number", INVALID_IDS)
def test_id_checksum_invalid(number):
    assert not id_number_valid(number)


@pytest.mark.parametrize("number", [*VALID_CARDS, "79927398713"])  # 79927398713: the textbook Luhn example
def test_luhn_valid(number):
    assert luhn_valid(number)
    assert luhn_valid(" ".join(number[i : i + 4] for i in range(0, len(number), 4)))


@pytest.mark.parametrize("number", [*INVALID_CARDS, "79927398710", "", "12ab"])
def test_luhn_invalid(number):
    assert not luhn_valid(number)


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=15, max_size=18))
def test_luhn_matches_independent_builder(body):
    assert luhn_valid(luhn_complete(body))
    assert not luhn_valid(luhn_fail(body))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(100000, 999999),
    st.dates(min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2020-12-31").date()),
    st.integers(0, 999),
)
def test_id_checksum_matches_independent_builder(area, born, seq):
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    good = first17 + id_check(first17)
    assert id_number_valid(good)
    wrong = first17 + random.Random(seq).choice([c for c in "0123456789X" if c != good[-1]])
    assert not id_number_valid(wrong)


# ----------------------------------------------------------------------------------- positives
@pytest.mark.parametrize(
    "text, expect, kind",
    [
        ("电话13800138000谢谢", "电话138****8000谢谢", "mobile"),
        ("手机 138 0013 8000", "手机 138****8000", "mobile"),
        ("打+86 139-1234-5678", "打+86 139****5678", "mobile"),
        ("8613912345678", "86139****5678", "mobile"),
        ("１３８００１３８０００", "138****8000", "mobile"),  # full-width digits
        ("座机021-62345678", "座机021-****5678", "landline"),
        ("(0571)88889999转", "0571-****9999转", "landline"),
        ("010 82345678", "010-****5678", "landline"),
        ("邮箱 zhang.san@163.com 谢谢", "邮箱 [邮箱] 谢谢", "email"),
        ("QQ邮箱12345678@qq.com", "QQ邮箱[邮箱]", "email"),
        ("zhang＠example.cn", "[邮箱]", "email"),  # full-width @
        (f"身份证{VALID_IDS[0]}", "身份证[身份证]", "id_card"),
        (f"证件号{VALID_IDS[2]}，", "证件号[身份证]，", "id_card"),
        (f"卡号{VALID_CARDS[3]}", "卡号[银行卡]", "bank_card"),
        ("卡号 4111 1111 1111 1111 退款", "卡号 [银行卡] 退款", "bank_card"),
        (f"尾号{VALID_CARDS[5]}", "尾号[银行卡]", "bank_card"),  # 19 digits
    ],
)
def test_masks_positive(text, expect, kind):
    out, counts = masked(text)
    assert out == expect
    assert counts[kind] == 1
    assert sum(counts.values()) == 1


@pytest.mark.parametrize(
    "text, expect",
    [
        ("车牌京A12345被刮了", "车牌京A·*****被刮了"),
        ("粤B·D12345新能源", "粤B·******新能源"),
        ("沪C-88888", "沪C·*****"),
    ],
)
def test_plates_only_when_asked(text, expect):
    assert masked(text, plates=True)[0] == expect
    assert masked(text, plates=True)[1]["plate"] == 1
    out, counts = masked(text)
    assert out == text and "plate" not in counts


# ----------------------------------------------------------------------------------- look-alikes
ORDER_19 = luhn_fail("202403051380013800")


@pytest.mark.parametrize(
    "text",
    [
        "价格¥12,800，优惠￥3,000",  # prices
        "日期2024-03-05，也写作20240305或2024/3/5",  # dates
        "2024年3月5日 14:30 到店",
        f"订单号{ORDER_19}",  # 19 digits failing Luhn
        "VIN码LSVAU2180N2183294",  # VIN-like code
        "车架号 LFV2A21K6G3043521",
        "工单DD202403051380013800",  # digits glued to letters
        "编号12345678901",  # 11 digits not starting 1[3-9]
        "编号10086和95588",  # service numbers
        "客服4008-123-456",  # 400 number (not 0 + area code)
        "01234567890",  # 0 + invalid area code 012
        f"证件{INVALID_IDS[0]}",  # ID failing the checksum (and Luhn, checked below)
        f"卡号{INVALID_CARDS[1]}",  # 16 digits failing Luhn
        "@销售顾问 很专业",  # a mention, not an address
        "京东ABCDE活动",  # province character + letters, no digits
        "评分9.5分，里程12345公里",
        "",
    ],
)
def test_masks_leave_look_alikes(text):
    for plates in (False, True):
        out, counts = masked(text, plates=plates)
        assert out == text, (text, out)
        assert sum(counts.values()) == 0


def test_look_alike_numbers_really_fail_their_checks():
    assert not luhn_valid(ORDER_19)
    assert not luhn_valid(INVALID_IDS[0]) and not id_number_valid(INVALID_IDS[0])
    assert not luhn_valid(INVALID_CARDS[1])


def test_several_kinds_in_one_text_and_counts_by_occurrence():
    s = pd.Series(
        [
            f"电话13800138000或13912345678，邮箱a@b.com，身份证{VALID_IDS[1]}",
            "没有个人信息",
            None,
            f"电话13800138000或13912345678，邮箱a@b.com，身份证{VALID_IDS[1]}",  # repeated text: counted twice
        ],
        dtype="str",
        index=[10, 11, 12, 13],
    )
    out, counts = mask_text(s)
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.iloc[0] == "电话138****8000或139****5678，邮箱[邮箱]，身份证[身份证]"
    assert out.iloc[1] == "没有个人信息" and pd.isna(out.iloc[2])
    assert counts == {"email": 2, "id_card": 2, "bank_card": 0, "mobile": 4, "landline": 0}


def test_kinds_argument_and_unknown_kind():
    out, counts = mask_text(pd.Series(["13800138000 a@b.com"]), kinds=["email"])
    assert out.iloc[0] == "13800138000 [邮箱]" and counts == {"email": 1}
    with pytest.raises(ValueError, match="unknown PII kind"):
        mask_text(pd.Series(["x"]), kinds=["passport"])
    assert set(mask_text(pd.Series(["x"]), plates=True)[1]) == set(KINDS)


def test_object_and_empty_series():
    out, counts = mask_text(pd.Series(["13800138000", None], dtype=object))
    assert out.iloc[0] == "138****8000" and pd.isna(out.iloc[1])
    out, counts = mask_text(pd.Series([], dtype="str"))
    assert len(out) == 0 and sum(counts.values()) == 0


def test_mask_name():
    assert mask_name(pd.Series(["张三丰", "李", None])).tolist()[:2] == ["张**", "李"]
