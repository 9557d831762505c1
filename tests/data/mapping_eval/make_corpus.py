"""Write the mapping-evaluation corpus (see README.md here): for every export described in
``dev/_specs.py`` and ``holdout/_specs.py``, a small invented data file and ``<name>.truth.yaml`` beside it.

The specs hold, column by column, the header as the imitated platform, agency or DMS would word it, the pack
field a careful consultant would map it to (None: not a pack field) and how its invented values are drawn;
then the stage labels with their stage ids and the answer scales the headers state. The truth files are
written from the specs, never from what cemkit's matcher proposes.

Run from anywhere: ``python tests/data/mapping_eval/make_corpus.py [dev|holdout ...]``. Deterministic (one
seed per file); does not import cemkit. Every person, phone number, VIN, IP address, id and answer is
invented: phones are ``1380000`` + four digits (or masked ``138****0001``), VINs contain ``FAKE``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
SPLITS = ("dev", "holdout")


@dataclass(frozen=True)
class C:
    """One column: ``header`` as the export words it (the variable name for SPSS and Qualtrics, the first
    header row for SurveyMonkey), the pack ``truth`` (None: not a pack field), the value ``gen``erator;
    ``label``: SPSS variable label / Qualtrics question text; ``sub``: SurveyMonkey's second header row."""

    header: str
    truth: str | None
    gen: str
    label: str | None = None
    sub: str | None = None


@dataclass(frozen=True)
class Export:
    name: str
    pack: str
    fmt: str  # csv | csv-bom | csv-gbk | xlsx | qualtrics | surveymonkey | sav
    imitates: str
    kinds: tuple[str, ...]
    cols: tuple[C, ...]
    stages: dict[str, str | None]
    scales: dict[str, tuple[int, int]] = field(default_factory=dict)
    rows: int = 20
    title: str | None = None  # xlsx: a title row above the header (then a blank row)
    wave: tuple[int, int] = (2024, 4)  # year, first month of the fieldwork


# ------------------------------------------- what each platform puts before the questions (same in every file)
WJX_META = (  # 问卷星 按选项文本
    C("序号", "response_id", "seq"),
    C("提交答卷时间", "date", "end"),
    C("所用时间", "duration", "dur:sec"),
    C("来源", None, "choice:手机提交|微信|链接"),
    C("来源详情", None, "choice:N/A|直接访问|https://wj.example.com/vm/demo.aspx"),
    C("来自IP", None, "ip:wjx"),
)
TENCENT_META = (  # 腾讯问卷
    C("编号", "response_id", "seq"),
    C("开始答题时间", None, "start"),
    C("结束答题时间", "date", "end"),
    C("答题时长", "duration", "dur:ms"),
    C("答题者IP", None, "ip"),
    C("地理位置(国家)", None, "const:中国"),
    C("地理位置(省)", None, "choice:广东|上海|北京|四川|浙江"),
    C("地理位置(市)", None, "choice:深圳|上海|北京|成都|杭州"),
)
QUALTRICS_META = (  # Qualtrics "legacy" CSV: names, then their labels, then ImportIds
    C("StartDate", None, "start:%Y-%m-%d %H:%M:%S", label="Start Date"),
    C("EndDate", "date", "end:%Y-%m-%d %H:%M:%S", label="End Date"),
    C("Status", None, "const:IP Address", label="Response Type"),
    C("IPAddress", None, "ip", label="IP Address"),
    C("Progress", None, "const:100", label="Progress"),
    C("Duration (in seconds)", "duration", "dur:num", label="Duration (in seconds)"),
    C("Finished", None, "const:True", label="Finished"),
    C("RecordedDate", "date", "end:%Y-%m-%d %H:%M:%S", label="Recorded Date"),
    C("ResponseId", "response_id", "id:R_{r}x{i:03d}", label="Response ID"),
)
QUALTRICS_TAIL = (
    C("LocationLatitude", None, "choice:31.2304|22.5431|39.9042", label="Location Latitude"),
    C("LocationLongitude", None, "choice:121.4737|114.0579|116.4074", label="Location Longitude"),
    C("DistributionChannel", None, "choice:email|anonymous", label="Distribution Channel"),
    C("UserLanguage", None, "const:EN", label="User Language"),
)

ALCHEMER_META = (  # Alchemer (SurveyGizmo) CSV export
    C("Response ID", "response_id", "seq"),
    C("Time Started", None, "start:%Y-%m-%d %H:%M:%S"),
    C("Date Submitted", "date", "end:%Y-%m-%d %H:%M:%S"),
    C("Status", None, "const:Complete"),
    C("Contact ID", "customer_id", "id:{r}"),
    C("Language", None, "const:English"),
    C("Referer", None, "const:https://www.example.com/feedback"),
    C("SessionID", None, "id:{r}_{i}"),
    C("User Agent", None, "const:Mozilla/5.0"),
)


# ------------------------------------------------------------------------------------------ invented values
COMMENTS = {
    "auto": ["顾问很耐心，讲解清楚", "交车等了快两个小时", "", "休息区咖啡不错", "保养时间比说的长", "无",
             "价格不够透明，有隐形收费", "", "试驾车当天没电了", "服务顾问主动提醒了保养", "很满意", "洗车没洗干净",
             "希望预约能在小程序上改时间", "", "没有"],
    "real_estate": ["物业管家回复很及时", "", "电梯经常坏", "小区绿化不错", "交房时墙面有裂缝，整改慢", "无",
                    "门口保安态度好", "", "车位太少，晚上停不下", "物业费有点贵", "没意见", "垃圾清运不及时",
                    "装修审批跑了三趟", "", "希望多办些社区活动"],
    "retail": ["发货很快，包装完好", "", "客服回复太慢", "尺码不全，想要的没货", "退款三天才到", "无",
               "店员很热情", "", "优惠券规则太复杂", "会员积分没什么用", "满意", "配送员没打电话就放驿站",
               "结账排队太久", "", "希望多一些会员活动"],
    "finance": ["柜员很专业", "", "热线一直转不了人工", "审批比预期快", "分期手续费没说清楚", "无", "排队等了四十分钟",
                "", "APP激活步骤太多", "客户经理很负责", "满意", "积分兑换的东西太少", "提额被拒也没说原因", "",
                "理赔材料要求太多"],
}
NAMES = ["张先生", "李女士", "王先生", "赵女士", "陈先生", "刘女士", "杨先生", "黄女士", "周先生", "吴女士"]
EN_COMMENTS = ["Great service", "", "Waited too long", "Staff were friendly", "Price was not clear", "n/a",
               "Easy process", "", "Nobody called me back", "All good"]
LIKERT5 = ["非常不满意", "不满意", "一般", "满意", "非常满意"]
EASE5 = ["非常困难", "比较困难", "一般", "比较容易", "非常容易"]
EN_SAT5 = ["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"]
PLACES = ["广东-深圳", "上海-上海", "北京-北京", "四川-成都", "浙江-杭州", "湖北-武汉", "江苏-南京"]


class Row:
    """What the columns of one response share: its number, end time, seconds taken, stage label."""

    def __init__(self, i: int, rng: random.Random, exp: Export, labels: list[str]):
        self.i = i
        y, m = exp.wave
        start = dt.datetime(y, m, 1, 8, 0, 0)
        self.end = start + dt.timedelta(days=rng.randint(0, 85), hours=rng.randint(0, 13), minutes=rng.randint(0, 59),
                                        seconds=rng.randint(0, 59))
        self.secs = rng.randint(180, 600)  # no speeders: every row with a known stage is usable
        self.start = self.end - dt.timedelta(seconds=self.secs)
        self.stage = labels[i] if i < len(labels) else rng.choice(labels)


def value(gen: str, row: Row, rng: random.Random, pack: str) -> Any:
    """One invented cell drawn by the generator `gen` (`kind:arg`, see the specs)."""
    kind, _, arg = gen.partition(":")
    i = row.i
    if kind == "blank":
        return None
    if kind == "const":
        return arg
    if kind == "seq":
        return i + 1
    if kind == "id":  # a format with {i} (1-based) and {r} (random digits)
        return arg.format(i=i + 1, r=rng.randint(100000, 999999))
    if kind == "end":
        return row.end.strftime(arg or "%Y/%m/%d %H:%M:%S")
    if kind == "start":
        return row.start.strftime(arg or "%Y/%m/%d %H:%M:%S")
    if kind == "before":  # a DMS event some days before the survey (service date, handover date …)
        return (row.end - dt.timedelta(days=rng.randint(1, 6))).strftime(arg or "%Y-%m-%d")
    if kind == "dur":
        s = row.secs
        return {"sec": f"{s}秒", "num": s, "ms": f"{s // 60}分{s % 60}秒", "clock": f"00:{s // 60:02d}:{s % 60:02d}",
                "min": round(s / 60, 1)}[arg]
    if kind == "ip":
        a, b, c = rng.randint(1, 223), rng.randint(0, 255), rng.randint(1, 254)
        return f"{a}.{b}.0.{c}({rng.choice(PLACES)})" if arg == "wjx" else f"{a}.{b}.0.{c}"
    if kind == "choice":
        return rng.choice(arg.split("|"))
    if kind == "cycle":
        opts = arg.split("|")
        return opts[i % len(opts)]
    if kind == "stage":
        return row.stage
    if kind == "int":  # int:1-5, int:0-10?0.2 (a share left blank)
        rng_part, _, blank = arg.partition("?")
        if blank and rng.random() < float(blank):
            return None
        lo, hi = (int(x) for x in rng_part.split("-"))
        top = max(lo, hi - 3)  # mostly good answers, as in real surveys
        return rng.randint(top, hi) if rng.random() < 0.7 else rng.randint(lo, hi)
    if kind == "nps":  # plain 0-10, or with the ends labelled as some platforms write them
        x = rng.choice([10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 0, 10, 9])
        if arg == "ends":
            return {0: "0-完全不可能", 10: "10-极有可能"}.get(x, str(x))
        if arg == "fen":
            return f"{x}分"
        return x
    if kind == "words":
        scale = {"likert5": LIKERT5, "ease5": EASE5, "en_sat5": EN_SAT5}[arg]
        return scale[min(4, max(0, rng.choice([4, 4, 3, 3, 3, 2, 1, 0, 4, 3])))]
    if kind == "text":
        pool = EN_COMMENTS if arg == "en" else COMMENTS[pack]
        return rng.choice(pool) or None
    if kind == "phone":
        n = 1000 + i * 37 % 9000
        return f"138****{n:04d}" if arg == "masked" else f"1380000{n:04d}"
    if kind == "name":
        return rng.choice(NAMES)
    if kind == "email":
        return f"user{i + 1:03d}@example.com"
    if kind == "vin":
        return f"LFAKE{rng.randint(0, 999):03d}0{i + 1:08d}"
    if kind == "plate":
        return f"测A·{i + 1:04d}"
    if kind == "num":  # num:lo-hi integers
        lo, hi = (int(x) for x in arg.split("-"))
        return rng.randint(lo, hi)
    if kind == "bool01":
        return rng.choice([0, 1])
    if kind == "weight":
        return rng.choice([0.8, 1.0, 1.2])
    raise ValueError(f"unknown generator {gen!r}")


# -------------------------------------------------------------------------------------------------- writing
def _cell(v: Any) -> str:
    s = "" if v is None else str(v)
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n\r') else s


def _csv(path: Path, rows: list[list[Any]], encoding: str) -> None:
    path.write_bytes(("\r\n".join(",".join(_cell(v) for v in r) for r in rows) + "\r\n").encode(encoding))


def read_key(col: C, prev_top: str | None) -> str:
    """The header cemkit's reader gives a SurveyMonkey column: ``question - row``, or the question alone under
    a generic second-row label (Response / Open-Ended Response); a blank question continues the one before."""
    top = col.header or prev_top or ""
    sub = col.sub or ""
    return top if not sub or sub in ("Response", "Open-Ended Response") else f"{top} - {sub}"


def truth_keys(exp: Export) -> list[str]:
    if exp.fmt != "surveymonkey":
        return [c.header for c in exp.cols]
    keys, top = [], None
    for c in exp.cols:
        keys.append(read_key(c, top))
        top = c.header or top
    return keys


def write(exp: Export, out: Path) -> Path:
    rng = random.Random(zlib.crc32(exp.name.encode()))
    labels = list(exp.stages)
    rows = [Row(i, rng, exp, labels) for i in range(exp.rows)]
    data = [[value(c.gen, r, rng, exp.pack) for c in exp.cols] for r in rows]
    heads = [c.header for c in exp.cols]
    ext = {"xlsx": ".xlsx", "sav": ".sav"}.get(exp.fmt, ".csv")
    path = out / f"{exp.name}{ext}"
    if exp.fmt in ("csv", "csv-bom", "csv-gbk"):
        _csv(path, [heads, *data], {"csv": "utf-8", "csv-bom": "utf-8-sig", "csv-gbk": "gbk"}[exp.fmt])
    elif exp.fmt == "qualtrics":
        texts = [c.label or c.header for c in exp.cols]
        imports = ['{"ImportId":"' + (f"QID{k + 1}" if c.label else c.header) + '"}' for k, c in enumerate(exp.cols)]
        _csv(path, [heads, texts, imports, *data], "utf-8-sig")
    elif exp.fmt == "surveymonkey":
        subs = [c.sub or "" for c in exp.cols]
        _csv(path, [heads, subs, *data], "utf-8")
    elif exp.fmt == "xlsx":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Sheet1"
        if exp.title:
            ws.append([exp.title])
            ws.append([])
        ws.append(heads)
        for r in data:
            ws.append(r)
        wb.save(path)
    elif exp.fmt == "sav":
        import pyreadstat

        df = pd.DataFrame(data, columns=heads)
        value_labels: dict[str, dict[float, str]] = {}
        for c in exp.cols:
            if c.truth == "stage":  # coded, with the labels as value labels (how SPSS exports hold choices)
                codes = {lab: float(k + 1) for k, lab in enumerate(labels)}
                df[c.header] = df[c.header].map(codes)
                value_labels[c.header] = {v: k for k, v in codes.items()}
            elif df[c.header].map(lambda v: isinstance(v, (int, float)) or v is None).all():
                df[c.header] = pd.to_numeric(df[c.header])
            else:
                df[c.header] = df[c.header].map(lambda v: "" if v is None else str(v))
        pyreadstat.write_sav(df, str(path), column_labels=[c.label or c.header for c in exp.cols],
                             variable_value_labels=value_labels)
    else:
        raise ValueError(f"{exp.name}: unknown format {exp.fmt!r}")
    truth = {
        "file": path.name,
        "pack": exp.pack,
        "imitates": exp.imitates,
        "kinds": list(exp.kinds),
        "columns": dict(zip(truth_keys(exp), (c.truth for c in exp.cols), strict=True)),
        "scales": {k: list(v) for k, v in exp.scales.items()},
        "stage_values": dict(exp.stages),
    }
    body = yaml.safe_dump(truth, allow_unicode=True, sort_keys=False, width=200)
    body = re.sub(r"^(  \w+):\n  - (\d+)\n  - (\d+)$", r"\1: [\2, \3]", body, flags=re.MULTILINE)
    head = ("# Ground truth written by hand from the pack's meaning (make_corpus.py); see README.md.\n"
            "# columns: header → pack field id (null: not a pack field); scales: the answer scale a header states;\n"
            "# stage_values: every stage label in the file → stage id (null: no stage of the pack fits).\n")
    (out / f"{exp.name}.truth.yaml").write_text(
        head + body, encoding="utf-8")
    return path


def load_specs(split: str) -> list[Export]:
    spec_path = HERE / split / "_specs.py"
    sys.modules.setdefault("make_corpus", sys.modules[__name__])
    mod_spec = importlib.util.spec_from_file_location(f"_specs_{split}", spec_path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return list(mod.EXPORTS)


def main(argv: list[str]) -> None:
    for split in argv or SPLITS:
        exports = load_specs(split)
        names = [e.name for e in exports]
        if len(set(names)) != len(names):
            raise SystemExit(f"{split}: duplicate export names")
        for exp in exports:
            write(exp, HERE / split)
        print(f"{split}: {len(exports)} files")


if __name__ == "__main__":
    main(sys.argv[1:])
