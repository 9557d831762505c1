"""Write the platform-export fixtures of tests/data/exports (see README.md there): small files written for
cemkit that imitate the *layout* of what Chinese CX projects receive from survey platforms (问卷星, 腾讯问卷,
金数据, 麦客, SurveyMonkey, Qualtrics, SPSS). Every person, phone number, IP address and answer is invented.

Run from anywhere: ``python tests/data/exports/make_exports.py``. Deterministic; does not import cemkit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd

HERE = Path(__file__).resolve().parent

STAGES_TEXT = ["到店看车", "试驾", "交车提车", "首次保养"]
LIKERT = ["非常不满意", "不满意", "一般", "满意", "非常满意"]  # 1..5
COMMENTS = ["顾问很专业", "(跳过)", "交车等了两个小时", "(空)", "展厅很干净，茶水不错", "", "价格不透明",
            "(跳过)", "首保预约很方便", "试驾车没电了"]
# 20 respondents: (nps 0-10, satisfaction 1-5, three attribute ratings 1-10, stage index, minutes:seconds)
BASE = [
    (10, 5, (10, 9, 10), 0, 125), (9, 4, (9, 9, 8), 1, 98), (8, 4, (8, 7, 8), 2, 301), (3, 2, (4, 5, 3), 2, 64),
    (10, 5, (10, 10, 9), 3, 77), (7, 3, (7, 8, 7), 0, 210), (9, 5, (9, 8, 9), 1, 45), (6, 3, (6, 6, 5), 3, 150),
    (0, 1, (2, 3, 1), 2, 33), (9, 4, (9, 9, 9), 0, 88), (10, 5, (10, 9, 10), 1, 190), (5, 2, (5, 4, 6), 3, 71),
    (8, 4, (8, 8, 7), 0, 123), (9, 5, (9, 10, 9), 2, 99), (2, 1, (3, 2, 2), 3, 58), (7, 3, (7, 7, 8), 1, 142),
    (10, 5, (10, 10, 10), 0, 66), (9, 4, (8, 9, 9), 2, 81), (4, 2, (4, 4, 5), 3, 112), (8, 4, (8, 7, 8), 1, 95),
]
PHONES = [f"138{i:04d}{(i * 7919) % 10000:04d}" for i in range(1, 21)]  # invented, 11 digits
T0 = dt.datetime(2024, 3, 5, 9, 12, 5)


def when(i: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=7 * i, minutes=13 * i, seconds=11 * i)


def ip(i: int) -> str:
    places = ["广东-深圳", "上海-上海", "北京-北京", "四川-成都", "浙江-杭州"]
    return f"116.{i}.{(i * 37) % 256}.{(i * 11) % 256}({places[i % 5]})"


def xlsx(path: Path, sheets: dict[str, list[list]]) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)


def csv_text(rows: list[list], path: Path, encoding: str) -> None:
    def cell(v) -> str:
        s = "" if v is None else str(v)
        return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

    path.write_bytes(("\r\n".join(",".join(cell(v) for v in r) for r in rows) + "\r\n").encode(encoding))


# ------------------------------------------------------------------------------------------------ 问卷星
WJX_META = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
WJX_Q = [
    "1、您本次体验的是哪个环节？",
    "2、您向亲友推荐本品牌的可能性有多大？",
    "3、您对本次服务的总体满意度如何？",
    "4、(接待热情主动)",
    "4、(展厅环境舒适)",
    "4、(销售顾问专业度)",
    "5、(价格优惠)",
    "5、(服务周到)",
    "5、(其他)",
    "6、您对我们还有哪些意见或建议？",
    "7、您的手机号码",
]


def wjx_text() -> None:
    """问卷星 按选项文本, xlsx: answers as option text; NPS options "0-完全不可能" … "10-极有可能" at the ends."""
    rows = [WJX_META + WJX_Q]
    for i, (nps, sat, att, st, secs) in enumerate(BASE):
        nps_txt = {0: "0-完全不可能", 10: "10-极有可能"}.get(nps, str(nps))
        rows.append([
            i + 1, when(i).strftime("%Y/%m/%d %H:%M:%S"), f"{secs}秒", "手机提交" if i % 3 else "微信",
            "直接访问" if i % 2 else "N/A", ip(i), STAGES_TEXT[st], nps_txt, LIKERT[sat - 1], *att,
            i % 2, (i + 1) % 2, 0, COMMENTS[i % 10], float(PHONES[i]) if i % 4 == 0 else "(跳过)",
        ])
    xlsx(HERE / "wjx_text.xlsx", {"Sheet1": rows})


def wjx_code() -> None:
    """问卷星 按选项序号, GBK CSV: single choices as option numbers (NPS 0-10 → 1-11, stage 1-4, Likert 1-5),
    matrix headers written "4(接待热情主动)", phone numbers in Excel's float notation."""
    q = [h.replace("、(", "(") for h in WJX_Q]
    rows = [WJX_META + q]
    for i, (nps, sat, att, st, secs) in enumerate(BASE):
        p = PHONES[i]
        phone = [repr(float(p)), f"{p[0]}.{p[1:]}e10", f"{p[0]}.{p[1:3]}E+10", ""][i % 4]  # E+10: digits lost
        rows.append([
            i + 1, when(i).strftime("%Y/%m/%d %H:%M:%S"), f"{secs}秒", "手机提交", "直接访问", ip(i),
            st + 1, nps + 1, sat, *att, i % 2, (i + 1) % 2, 0, COMMENTS[i % 10], phone,
        ])
    csv_text(rows, HERE / "wjx_code_gbk.csv", "gbk")


# ------------------------------------------------------------------------------------------------ 腾讯问卷
def tencent() -> None:
    """腾讯问卷, xlsx: 编号 / 开始答题时间 / 结束答题时间 / 答题时长 / 答题者IP / 地理位置…, questions "Q1:…",
    matrix rows "Q4:销售顾问专业度" and "Q5|展厅环境舒适", star ratings "4星", "—" for unanswered."""
    head = ["编号", "开始答题时间", "结束答题时间", "答题时长", "答题者IP", "地理位置（国家）", "地理位置（省）",
            "地理位置（市）", "Q1:您本次调研的环节", "Q2:您向朋友或同事推荐我们的可能性有多大？",
            "Q3:请为本次服务的满意程度打星", "Q4:接待热情主动", "Q4:销售顾问专业度", "Q5|展厅环境舒适",
            "Q6:您还有什么意见或建议？"]
    rows = [head]
    for i, (nps, sat, att, st, secs) in enumerate(BASE):
        start = when(i)
        rows.append([
            1000 + i, start.strftime("%Y-%m-%d %H:%M:%S"),
            (start + dt.timedelta(seconds=secs)).strftime("%Y-%m-%d %H:%M:%S"),
            f"{secs // 60}分{secs % 60}秒" if secs >= 60 else f"{secs}秒", ip(i).split("(")[0], "中国",
            "广东", "深圳", STAGES_TEXT[st], nps, f"{sat}星", att[0], att[2] if i != 4 else "—", att[1],
            COMMENTS[i % 10] or "—",
        ])
    xlsx(HERE / "tencent.xlsx", {"答卷数据": rows})


# ------------------------------------------------------------------------------------------------ 金数据
def jinshuju() -> None:
    """金数据-style xlsx as a consultant receives it: a merged title row above the header, a duplicated
    header (备注), star ratings "★★★★☆", customer ids with leading zeros, phones "+86 138 …", dates written
    three ways (text, Chinese, an Excel serial number), then blank rows, a "合计" and a "平均值" row, and a
    second sheet with a summary."""
    head = ["序号", "客户编号", "购车环节", "推荐指数（0-10分）", "满意度评价", "销售顾问专业度", "备注", "手机",
            "备注", "提交人", "提交时间", "修改时间", "填写设备"]
    rows: list[list] = [["2024年Q2 客户体验调研 数据导出"], [None], head]
    for i, (nps, sat, att, st, _secs) in enumerate(BASE[:16]):
        t = when(i)
        date = [t.strftime("%Y-%m-%d %H:%M:%S"), f"{t.year}年{t.month}月{t.day}日",
                (t - dt.datetime(1899, 12, 30)).days][i % 3]
        rows.append([
            i + 1, f"{i + 1:06d}", STAGES_TEXT[st], nps, "★" * sat + "☆" * (5 - sat), att[2],
            COMMENTS[(i + 3) % 10] or None, "+86 " + PHONES[i][:3] + " " + PHONES[i][3:7] + " " + PHONES[i][7:],
            "VIP" if i % 5 == 0 else None, "匿名用户", date, None, "手机",
        ])
    rows += [[None] * len(head), [None] * len(head)]
    rows.append(["合计", None, None, sum(b[0] for b in BASE[:16]), None, sum(b[2][2] for b in BASE[:16])])
    rows.append(["平均值", None, None, round(sum(b[0] for b in BASE[:16]) / 16, 2), None, 7])
    summary = [["指标", "数值"], ["有效答卷", 16], ["NPS", "31.25%"]]
    wb_rows = {"数据": rows, "汇总": summary}
    xlsx(HERE / "jinshuju.xlsx", wb_rows)
    wb = openpyxl.load_workbook(HERE / "jinshuju.xlsx")
    wb["数据"].merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(head))
    wb.save(HERE / "jinshuju.xlsx")


# ------------------------------------------------------------------------------------------------ 麦客
def maike() -> None:
    """麦客-style UTF-8 (BOM) CSV: labelled NPS points "9 (极有可能)" / "0-完全不可能", Likert "5-非常满意",
    missing written "/", "N/A", "(空)"; a trailing "平均值" row and blank lines."""
    head = ["序号", "姓名", "手机", "提交时间", "更新时间", "来源渠道", "服务环节", "推荐可能性",
            "总体满意度", "意见建议"]
    rows = [head]
    nps_lab = {0: "0-完全不可能", 9: "9 (极有可能)", 10: "10 (极有可能)"}
    for i, (nps, sat, _att, st, _secs) in enumerate(BASE[:12]):
        t = when(i)
        rows.append([
            i + 1, "王" + "一二三四五六七八九十甲乙"[i], PHONES[i], t.strftime("%Y-%m-%d %H:%M"), "/",
            "短信链接", STAGES_TEXT[st], nps_lab.get(nps, str(nps)),
            f"{sat}-{LIKERT[sat - 1]}" if i != 3 else "N/A", COMMENTS[(i + 2) % 10] or "(空)",
        ])
    rows += [[""] * len(head), ["平均值", "", "", "", "", "", "", "7.2", "3.8", ""], [""] * len(head)]
    csv_text(rows, HERE / "maike.csv", "utf-8-sig")


# ------------------------------------------------------------------------------------------------ SurveyMonkey
def surveymonkey() -> None:
    """SurveyMonkey "all responses" CSV: two header rows (the question, then "Response" / "Open-Ended
    Response" / the matrix row under it; a matrix question's text only above its first column), US dates."""
    q_nps = "您向朋友或同事推荐我们的可能性有多大？"
    q_mat = "请为以下方面打分（1-10分）"
    r1 = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address",
          "First Name", "Last Name", "Custom Data 1", "您本次体验的环节", q_nps, q_mat, "", "",
          "您还有什么意见或建议？"]
    r2 = ["", "", "", "", "", "", "", "", "", "Response", "Response", "接待热情主动", "展厅环境舒适",
          "销售顾问专业度", "Open-Ended Response"]
    rows = [r1, r2]
    for i, (nps, _sat, att, st, secs) in enumerate(BASE[:15]):
        t = when(i)
        us = "%m/%d/%Y %I:%M:%S %p"
        rows.append([
            114000000000 + i, 431000000, t.strftime(us), (t + dt.timedelta(seconds=secs)).strftime(us),
            ip(i).split("(")[0], "", "", "", f"C{i + 1:05d}", STAGES_TEXT[st], nps, *att,
            COMMENTS[i % 10].replace("(跳过)", "").replace("(空)", ""),
        ])
    csv_text(rows, HERE / "surveymonkey.csv", "utf-8-sig")


# ------------------------------------------------------------------------------------------------ Qualtrics
def qualtrics() -> None:
    """Qualtrics CSV: header, question-text row, {"ImportId": …} row, then data (already supported)."""
    r1 = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
          "RecordedDate", "ResponseId", "ExternalReference", "Q1", "Q2", "Q3_1", "Q3_2", "Q4"]
    r2 = ["Start Date", "End Date", "Response Type", "IP Address", "Progress", "Duration (in seconds)",
          "Finished", "Recorded Date", "Response ID", "External Data Reference",
          "您本次体验的环节", "您向亲友推荐本品牌的可能性有多大？", "请评价 - 销售顾问专业度", "请评价 - 展厅环境舒适",
          "其他意见或建议"]
    r3 = ['{"ImportId":"' + k + '"}' for k in ("startDate", "endDate", "status", "ipAddress", "progress",
                                            "duration", "finished", "recordedDate", "_recordId",
                                            "externalDataReference", "QID1", "QID2", "QID3_1", "QID3_2",
                                            "QID4_TEXT")]
    rows = [r1, r2, r3]
    for i, (nps, _sat, att, st, secs) in enumerate(BASE[:10]):
        t = when(i)
        iso = t.strftime("%Y-%m-%d %H:%M:%S")
        rows.append([iso, iso, "IP Address", ip(i).split("(")[0], 100, secs, "True", iso, f"R_{i + 1:04d}abc",
                     f"C{i + 1:05d}", STAGES_TEXT[st], nps, att[2], att[1], COMMENTS[i % 10].strip("()")])
    csv_text(rows, HERE / "qualtrics.csv", "utf-8-sig")


# ------------------------------------------------------------------------------------------------ SPSS
def spss() -> None:
    """SPSS .sav as platforms export it: coded answers with value labels, questions as variable labels."""
    import pyreadstat

    df = pd.DataFrame({
        "ID": [f"{i + 1:04d}" for i in range(12)],
        "Q1": [b[3] + 1 for b in BASE[:12]],
        "Q2": [float(b[0]) for b in BASE[:12]],
        "Q3": [float(b[1]) for b in BASE[:12]],
        "Q4": [COMMENTS[i % 10] for i in range(12)],
    })
    pyreadstat.write_sav(
        df, HERE / "spss.sav",
        column_labels=["答卷编号", "您本次体验的环节", "您向亲友推荐本品牌的可能性有多大？", "总体满意度",
                       "其他意见或建议"],
        variable_value_labels={
            "Q1": {1.0: STAGES_TEXT[0], 2.0: STAGES_TEXT[1], 3.0: STAGES_TEXT[2], 4.0: STAGES_TEXT[3]},
            "Q2": {0.0: "完全不可能", 10.0: "极有可能"},
            "Q3": {float(k + 1): v for k, v in enumerate(LIKERT)},
        },
    )


if __name__ == "__main__":
    for make in (wjx_text, wjx_code, tencent, jinshuju, maike, surveymonkey, qualtrics, spss):
        make()
    print("written:", ", ".join(sorted(p.name for p in HERE.iterdir() if p.suffix in (".csv", ".xlsx", ".sav"))))
