"""Write the ingest test fixtures: the same small, messy client export in five formats, two O-data files, and
``expected.json`` with the planted truth (row reasons, blanked cells, masks) that the tests check against.

Run from anywhere: ``python tests/data/ingest/make_fixtures.py``. Deterministic (no randomness), does not
import cemkit: the expected counts come from the rows planted here, not from the code under test.

All people, phone numbers, ID and card numbers below are invented; the ID and card numbers are built with
their check algorithms so that they are *valid-looking*, and the look-alikes are built to fail them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------ check digits (independent of cemkit)
def id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a GB 11643 ID number: (12 - Σ aᵢ·2^(17-i) mod 11) mod 11."""
    s = sum(int(a) * (2 ** (17 - i) % 11) for i, a in enumerate(first17))
    c = (12 - s % 11) % 11
    return "X" if c == 10 else str(c)


def luhn_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


VALID_ID = "11010519900307123" + id_check("11010519900307123")
VALID_CARD = "622202123456789" + luhn_digit("622202123456789")          # 16 digits
ORDER_NO = "2024030513800138000"                                          # 19 digits, not a card
if luhn_ok(ORDER_NO):
    ORDER_NO = ORDER_NO[:-1] + str((int(ORDER_NO[-1]) + 1) % 10)
assert not luhn_ok(ORDER_NO)

HEADERS = ["问卷编号", "客户编号", "提交时间", "调研环节", "推荐意愿", "满意度", "接待热情主动", "意见建议",
           "大区", "经销商", "手机号", "姓名"]

# (values in HEADERS order, expected reason or None when used, comment masks by kind)
E = None
ROWS: list[tuple[list, str | None, dict[str, int]]] = [
    (["R001", "C001", "2024-03-05", "到店看车", "9", "5", "9", "顾问很专业", "华东", "上海浦东店", "13800138000", "张三"], E, {}),
    (["R002", "C002", "2024年3月6日", "试驾", "10分", "4", "8", "试驾路线不错", "华东", "杭州西湖店", "", "李四"], E, {}),
    (["R003", "C003", "2024/3/7", "到店看车", "８", "4", "7", "还行", "华南", "广州天河店", "", ""], E, {}),
    (["R004", "C004", "2024.03.08", "报价与金融", "9 分", "5", "", "价格￥12,800还算实在", "华南", "深圳南山店", "", ""], E, {}),
    (["R005", "C005", "2024-03-09", "到店看车", "12", "3", "6", "", "华北", "北京朝阳店", "13912345678", "王五"], "score_out_of_range", {}),
    (["R006", "C006", "2024-03-10", "试驾", "不清楚", "3", "6", "", "华北", "北京海淀店", "", ""], "nps_not_numeric", {}),
    (["R007", "C007", "2024-03-11", "试驾", "", "3", "6", "没什么", "华中", "武汉光谷店", "", ""], "nps_missing", {}),
    ([""] * 12, "empty_row", {}),
    (["R009", "C009", "2024-03-12", "精品加装", "7", "4", "7", "", "华中", "长沙岳麓店", "", ""], "unknown_stage", {}),
    (["R010", "C010", "2024-03-13", "交车环节", "6", "3", "", "提车拖了两周", "西南", "成都高新店", "", ""], E, {}),
    (["R011", "C011", "2024-05-01", "交车提车", "8", "4", "", "第一次提交", "西南", "重庆渝北店", "", ""], E, {}),
    (["R011", "C011", "2024-04-01", "交车提车", "3", "2", "", "更早的日期", "西南", "重庆渝北店", "", ""], "duplicate_id", {}),
    (["R012", "C012", "2024-04-02", "首次保养", "5", "2", "", "同日第一条", "华东", "苏州园区店", "", ""], "duplicate_id", {}),
    (["R012", "C012", "2024-04-02", "首次保养", "6", "3", "", "同日第二条", "华东", "苏州园区店", "", ""], E, {}),
    (["R013", "C013", "2024-04-03", "维修保养", "2", "1", "", "请回电13912345678，谢谢", "华东", "宁波鄞州店", "", ""], E,
     {"mobile": 1}),
    (["R014", "C014", "2024-04-04", "维修保养", "4", "2", "", f"我的身份证{VALID_ID}被复印了", "华南", "佛山顺德店", "", ""], E,
     {"id_card": 1}),
    (["R015", "C015", "2024-04-05", "回厂与增购", "9", "5", "", "邮件联系 wang.wu@example.com", "华南", "东莞南城店", "", ""], E,
     {"email": 1}),
    (["R016", "C016", "2024-04-06", "回厂与增购", "10", "5", "", f"订单号{ORDER_NO}，日期20240305", "华北", "天津河西店", "", ""], E,
     {}),
    (["R017", "C017", "2024-04-07", "签约购车", "9", "7", "", f"退款到卡{VALID_CARD}", "华北", "济南历下店", "", ""], E,
     {"bank_card": 1}),
    (["R018", "C018", "2024-04-08", "到店看车", "8", "4", "很好", "座机021-62345678找李经理", "华中", "郑州金水店", "", ""], E,
     {"landline": 1}),
    (["R019", "C019", "上周", "试驾", "7", "4", "8", "", "华中", "合肥政务店", "", ""], E, {}),
    (["", "C020", "2024-04-10", "试驾", "9", "5", "9", "", "西南", "昆明官渡店", "", ""], "response_id_missing", {}),
    (["R021", "C021", "2024-04-11", "", "9", "5", "9", "", "西南", "贵阳观山湖店", "", ""], "stage_missing", {}),
    (["R022", "C022", "2024-07-15", "首次保养", "１０", "5", "", "手机 138 0013 8000 和 +86 139-1234-5678", "华东", "上海闵行店", "",
      ""], E, {"mobile": 2}),
]
CELLS_BLANKED = {"csat": {"out_of_range": 1}, "reception_greeting": {"not_numeric": 1}}
DATES_UNPARSED = 1
STAGE_LABELS = {"交车环节": "delivery"}


def expected(extra_reasons: Counter | None = None, extra_rows: int = 0, rows=None) -> dict:
    rows = ROWS if rows is None else rows
    reasons = Counter(r for _, r, _ in rows if r) + (extra_reasons or Counter())
    masks = Counter()
    for _, _, m in rows:
        masks.update(m)
    used = sum(1 for _, r, _ in rows if r is None)
    return {"input_rows": len(rows) + extra_rows, "used": used, "quarantined": sum(reasons.values()),
            "by_reason": dict(sorted(reasons.items())), "comment_masks": dict(sorted(masks.items())),
            "cells_blanked": CELLS_BLANKED, "dates_unparsed": DATES_UNPARSED}


def frame(rows=None) -> pd.DataFrame:
    return pd.DataFrame([v for v, _, _ in (ROWS if rows is None else rows)], columns=HEADERS, dtype=object)


def write_gbk_csv(path: Path) -> dict:
    """GBK-encoded CSV, comma-separated, with a truly blank line as the empty row."""
    lines = [",".join(HEADERS)]
    for values, _, _ in ROWS:
        lines.append("" if not any(values) else ",".join(f'"{v}"' if "," in v or "，" in v else v for v in values))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return expected()


def write_bom_csv(path: Path) -> dict:
    """UTF-8 with BOM, semicolon-separated, a comment with a line break inside quotes, and one malformed row
    (too many fields)."""
    rows = [list(v) for v, _, _ in ROWS]
    rows[0][7] = "顾问很专业\n第二行：展厅也干净"
    out = [";".join(HEADERS)]
    for values in rows:
        out.append(";".join(f'"{v}"' if ("\n" in v or ";" in v) else v for v in values) if any(values) else ";" * 11)
    out.insert(5, "R900;C900;2024-03-09;到店看车;9;5;9;多了一列;华东;上海浦东店;;;多余")
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(out) + "\n").encode("utf-8"))
    return expected(Counter({"malformed_row": 1}), extra_rows=1)


def write_xlsx(path: Path) -> dict:
    """Excel: a small notes sheet first, then the data sheet with two title rows and a blank row above the
    header; dates as real dates, one as an Excel serial number; scores as numbers where numeric."""
    from openpyxl import Workbook

    wb = Workbook()
    notes = wb.active
    notes.title = "说明"
    notes.append(["本文件为调研数据导出"])
    ws = wb.create_sheet("数据")
    ws.append(["2024年客户体验调研明细"])
    ws.append(["导出时间：2024-12-31"])
    ws.append([])
    ws.append(HEADERS)
    for i, (values, _, _) in enumerate(ROWS):
        cells: list = []
        for h, v in zip(HEADERS, values):
            if v == "":
                cells.append(None)
            elif h == "提交时间" and len(v) == 10 and v[4] == "-":
                cells.append(dt.datetime.strptime(v, "%Y-%m-%d"))
            elif h in ("推荐意愿", "满意度", "接待热情主动") and v.isascii() and v.isdigit():
                cells.append(int(v))
            else:
                cells.append(v)
        if i == 1:  # R002: the date as an Excel serial number (2024-03-06)
            cells[2] = (dt.datetime(2024, 3, 6) - dt.datetime(1899, 12, 30)).days
        ws.append(cells)
    wb.save(path)
    return expected()


def write_sav(path: Path) -> dict:
    """SPSS: coded variables with Chinese variable labels, value labels for stage, region and the NPS
    end points (0 完全不可能, 10 极有可能). NPS text cells become missing or out-of-range codes."""
    import pyreadstat

    stages = ["到店看车", "试驾", "报价与金融", "签约购车", "交车提车", "首次保养", "维修保养", "回厂与增购", "精品加装", "交车环节"]
    regions = ["华东", "华南", "华北", "华中", "西南"]
    nps_code = {"10分": 10, "８": 8, "9 分": 9, "１０": 10, "不清楚": 99}
    rows, reasons = [], []
    for values, reason, _ in ROWS:
        if not any(values):
            continue  # SPSS files have no blank records
        v = dict(zip(HEADERS, values))
        nps = nps_code.get(v["推荐意愿"], v["推荐意愿"])
        date = pd.to_datetime(v["提交时间"], errors="coerce", format="mixed")
        rows.append({
            "ID": v["问卷编号"], "CUST": v["客户编号"], "DATE": date,
            "STAGE": float(stages.index(v["调研环节"]) + 1) if v["调研环节"] else float("nan"),
            "Q1": float(nps) if nps != "" else float("nan"),
            "Q2": float(v["满意度"]), "Q3_1": float(v["接待热情主动"]) if v["接待热情主动"].isdigit() else float("nan"),
            "COMMENT": v["意见建议"], "REGION": float(regions.index(v["大区"]) + 1), "DEALER": v["经销商"],
        })
        # 不清楚 was coded 99 (out of range); the attribute text 很好 became missing (not blanked)
        reasons.append("score_out_of_range" if v["推荐意愿"] == "不清楚" else reason)
    df = pd.DataFrame(rows)
    df["DATE"] = df["DATE"].astype("datetime64[ns]")
    labels = ["问卷编号", "客户编号", "提交时间", "调研环节", "您有多大可能向朋友推荐我们", "满意度", "接待热情主动",
              "意见建议", "大区", "经销商"]
    pyreadstat.write_sav(
        df, str(path), column_labels=labels,
        variable_value_labels={"STAGE": {float(i + 1): s for i, s in enumerate(stages)},
                               "REGION": {float(i + 1): r for i, r in enumerate(regions)},
                               "Q1": {0.0: "完全不可能", 10.0: "极有可能"}},
    )
    kept = [(v, r2, m) for (v, _, m), r2 in zip([x for x in ROWS if any(x[0])], reasons)]
    exp = expected(rows=kept)
    exp["cells_blanked"] = {"csat": {"out_of_range": 1}}
    exp["dates_unparsed"] = 0  # 上周 is not a date SPSS can store: it is simply missing
    return exp


def write_parquet(path: Path) -> dict:
    """Parquet with the pack's ids as headers (what another system would hand over): typed date and csat,
    NPS as text (it holds 10分 and full-width digits)."""
    df = frame()
    keep = [i for i, (v, _, _) in enumerate(ROWS) if any(v)]
    out = pd.DataFrame({
        "response_id": df["问卷编号"].replace("", None),
        "customer_id": df["客户编号"],
        "date": pd.to_datetime(df["提交时间"], errors="coerce", format="mixed"),
        "stage": df["调研环节"].replace("", None),
        "nps": df["推荐意愿"].replace("", None),
        "csat": pd.to_numeric(df["满意度"], errors="coerce"),
        "reception_greeting": df["接待热情主动"].replace("", None),
        "comment": df["意见建议"].replace("", None),
        "region": df["大区"],
        "dealer": df["经销商"],
    }).iloc[keep].reset_index(drop=True)
    out.to_parquet(path, index=False)
    rows = [ROWS[i] for i in keep]
    exp = expected(rows=rows)
    exp["dates_unparsed"] = 0  # 上周 became NaT in the typed date column
    return exp


def write_odata(dir_: Path) -> dict:
    """O-data: one row per customer (Chinese headers, one unknown customer, one column nobody declared),
    and a visit log with several rows per customer (aggregated by rules the tests declare)."""
    cust = pd.DataFrame({
        "客户编号": ["C001", "C002", "C003", "C010", "C013", "C999"],
        "车龄（月）": ["12", "24个月", "３６", "6", "", "48"],
        "购车渠道": ["汽车之家", "懂车帝", "汽车之家", "到店自然客流", "懂车帝", "老客户转介绍"],
        "备注": ["", "", "", "", "", ""],
    })
    cust.to_csv(dir_ / "odata_customers.csv", index=False, encoding="utf-8")
    visits = pd.DataFrame({
        "客户编号": ["C001", "C001", "C001", "C002", "C013", "C013", "C888", ""],
        "visit_id": ["V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8"],
        "service_date": ["2024-01-05", "2024-06-01", "2024年9月1日", "2024/2/2", "2024-03-03", "2024-12-01",
                         "2024-05-05", "2024-05-06"],
        "amount": ["¥1,200", "800", "300元", "1,000.50", "", "200", "50", "60"],
    })
    visits.to_csv(dir_ / "odata_visits.csv", index=False, encoding="utf-8")
    return {
        "customers": 7,  # C001 C002 C003 C010 C013 C999 (customers file) + C888 (visits only); the blank key is dropped
        "rows_in": len(cust) + len(visits),
        "rows_without_key": 1,
        "visits_12m": {"C001": 3, "C002": 1, "C013": 2, "C888": 1},
        "spend_12m": {"C001": 2300.0, "C002": 1000.5, "C013": 200.0, "C888": 50.0},
        "days_since_visit": {"C001": 121, "C002": 333, "C013": 30, "C888": 240},  # as_of 2024-12-31
        "tenure_months": {"C001": 12.0, "C002": 24.0, "C003": 36.0, "C010": 6.0, "C999": 48.0},
    }


def main() -> None:
    exp = {
        "survey_gbk.csv": write_gbk_csv(HERE / "survey_gbk.csv"),
        "survey_bom.csv": write_bom_csv(HERE / "survey_bom.csv"),
        "survey_title.xlsx": write_xlsx(HERE / "survey_title.xlsx"),
        "survey.sav": write_sav(HERE / "survey.sav"),
        "survey.parquet": write_parquet(HERE / "survey.parquet"),
        "odata": write_odata(HERE),
        "numbers": {"valid_id": VALID_ID, "valid_card": VALID_CARD, "order_no": ORDER_NO},
    }
    (HERE / "expected.json").write_text(json.dumps(exp, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print("wrote", ", ".join(sorted(p.name for p in HERE.iterdir() if p.suffix != ".py")))


if __name__ == "__main__":
    main()
