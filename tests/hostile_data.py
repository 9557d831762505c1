"""Hostile client exports and a scanner for every file a run writes (shared by tests/test_hostile.py and
benchmarks/fuzz_hostile.py).

:func:`random_spec` draws an export from a seed: a CSV (UTF-8, UTF-8 with BOM, GBK, or GBK with UTF-8
records appended — a merged export) or an xlsx, with personal data in random spellings in random columns
(comment, dealer, region, customer type, wave, customer id, stage label), formula prefixes, control and
separator characters, ragged lines, embedded line breaks in quoted cells, blank lines and title rows.
:func:`write_export` writes it and returns what a correct ingest must find: the number of records, the
spreadsheet row and editor line of every response id, the rows of the ragged lines, and the secrets (the
personal data, normalised) that must not appear in any output.

:func:`scan_outputs` opens every file under a folder — pptx/xlsx (with the chart workbooks embedded in the
deck), parquet, ipynb, json, html, csv, yaml, log — and lists each secret it finds and each formula: a
workbook cell with ``<f>``, a CSV cell starting with ``= + @``, tab, CR or ``-`` (not a number).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

# ----------------------------------------------------------------------------------------- personal data
SEPARATORS = [" ", "\u3000", "-", "—", "–", ".", "·", " - ", "\u00a0", "－"]
FORMULAS = ["=1+2", "=HYPERLINK(\"http://evil.example\",\"点此\")", "+1+2", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=cmd|' /C notepad'!'A1'"]
CONTROLS = ["\x00", "\x01", "\x1f", "\u2028", "\u2029", "\u0085", "\u3000", "\x0b", "\u200b", "\ufeff"]
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}
_SEP_RE = re.compile(r"[\s\u3000\-—–‐‑‒―−－﹣.．·・•。()（）:：+＋]+")


def normalise(text: str) -> str:
    """What a leak check compares: NFKC (full-width → ASCII), lower case, separators and punctuation removed."""
    return _SEP_RE.sub("", unicodedata.normalize("NFKC", str(text)).lower())


def id_check(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2), written independently of cemkit.privacy."""
    s = sum(int(a) * pow(2, 17 - i, 11) for i, a in enumerate(first17))
    c = (12 - s % 11) % 11
    return "X" if c == 10 else str(c)


def _group(digits: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for k in sizes:
        out.append(digits[i:i + k])
        i += k
    return sep.join(out)


def mobile(rng: random.Random) -> tuple[str, str]:
    """A mainland mobile number in one of the spellings people type; returns (text, secret)."""
    num = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    sep = rng.choice(SEPARATORS)
    text = rng.choice([num, _group(num, [3, 4, 4], sep), _group(num, [3, 8], sep), _group(num, [4, 3, 4], sep)])
    if rng.random() < 0.2:
        text = text.translate(_FULLWIDTH)
    prefix = rng.choice(["", "", "vx", "wx", "VX", "微信", "微信：", "+86 ", "+86", "0086 ", "电话", "tel:", "手机 "])
    return prefix + text, num


def id_number(rng: random.Random) -> tuple[str, str]:
    area = rng.choice(["110105", "310104", "440305", "510107", "330106"])
    born = f"{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = area + born + f"{rng.randint(0, 999):03d}"
    num = first17 + id_check(first17)
    sep = rng.choice([" ", "\u3000", "-", " "])
    text = rng.choice([num, _group(num, [6, 8, 4], sep), _group(num, [6, 4, 4, 4], sep)])
    return text, num


def email(rng: random.Random) -> tuple[str, str]:
    local = rng.choice(["zhangsan", "li.lei", "wang_wu88", "张三", "李雷", "88886666"])
    domain = rng.choice(["example.com", "163.com", "qq.com", "mail.example.cn", "例子.中国"])
    at = rng.choice(["@", "@", "＠"])
    text = f"{local}{at}{domain}"
    return text, f"{local}@{domain}"


def landline(rng: random.Random) -> tuple[str, str]:
    area = rng.choice(["010", "021", "0571", "0755", "020"])
    local = rng.choice("2345678") + "".join(rng.choice("0123456789") for _ in range(rng.choice([6, 7])))
    sep = rng.choice(["-", " ", "—", "\u3000"])
    inner = rng.choice([local, _group(local, [len(local) - 4, 4], rng.choice([" ", "-", "\u3000"]))])
    text = rng.choice([f"{area}{sep}{inner}", f"({area}){inner}"])
    return text, local


def plate(rng: random.Random) -> tuple[str, str]:
    letter = rng.choice("ABCDEFGHJKLMN")
    tail = "".join(rng.choice("0123456789") for _ in range(5))
    sep = rng.choice(["", " ", "·", "\u3000", "-"])
    return f"{rng.choice(PROVINCES)}{sep}{letter}{tail}", f"{letter}{tail}"


PII_KINDS = {"mobile": mobile, "id_card": id_number, "email": email, "landline": landline, "plate": plate}


def pii(rng: random.Random, kinds: tuple[str, ...] = tuple(PII_KINDS)) -> tuple[str, str]:
    return PII_KINDS[rng.choice(kinds)](rng)


# ------------------------------------------------------------------------------------------------ exports
#: columns that may receive hostile values, and the kind of harm each may receive
TEXT_COLUMNS = ["comment", "dealer", "region", "customer_type", "wave", "customer_id", "stage", "channel"]


@dataclass
class ExportSpec:
    seed: int
    n: int = 60
    fmt: str = "csv"  # csv | xlsx
    encoding: str = "utf-8"  # utf-8 | utf-8-sig | gbk | mixed
    title_rows: int = 0
    crlf: bool = False
    injections: list[tuple[int, str, str]] = field(default_factory=list)  # (record, column, value)
    ragged: list[int] = field(default_factory=list)  # records written with a wrong number of fields
    blank_after: list[int] = field(default_factory=list)  # a blank line after these records
    newline_cells: list[int] = field(default_factory=list)  # records whose comment holds a line break
    phone_ids: list[int] = field(default_factory=list)  # records whose customer id is a mobile number
    secrets: list[str] = field(default_factory=list)
    drop_id: bool = False  # no response id column (ids are then made from file and line)


@dataclass
class Export:
    path: Path
    odata: Path
    spec: ExportSpec
    records: int  # data records (rows a spreadsheet shows under the header), ragged and blank ones included
    row_of_id: dict[str, int]  # response id → spreadsheet row (header row counted from 1, title rows too)
    line_of_id: dict[str, int]  # response id → editor line where its record starts
    malformed_rows: set[int]  # spreadsheet rows of the ragged records
    secrets: list[str]  # normalised personal data that no output may contain
    phone_ids: list[str]  # the mobile numbers used as customer ids (in the survey and the O-data)
    chars: set[str]  # every character written into the export (decoding must not invent others)


def random_spec(seed: int, n: int | None = None) -> ExportSpec:
    """Draw a hostile export from ``seed`` (the same seed gives the same export everywhere)."""
    rng = random.Random(seed)
    n = n or rng.randint(25, 120)
    fmt = "xlsx" if rng.random() < 0.2 else "csv"
    spec = ExportSpec(seed=seed, n=n, fmt=fmt)
    if fmt == "csv":
        spec.encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "gbk", "mixed"])
        spec.crlf = rng.random() < 0.3
        spec.ragged = sorted(rng.sample(range(n), rng.randint(0, 3)))
        spec.blank_after = sorted(rng.sample(range(n - 1), rng.randint(0, 2)))
    spec.title_rows = rng.choice([0, 0, 0, 1, 2])
    spec.newline_cells = sorted(rng.sample(range(n), rng.randint(0, 3)))
    for _ in range(rng.randint(1, 12)):
        r, col = rng.randrange(n), rng.choice(TEXT_COLUMNS)
        roll = rng.random()
        if roll < 0.55:
            text, secret = pii(rng)
            spec.secrets.append(secret)
            value = rng.choice(["{}", "联系我{}", "{}谢谢", "店长{}", "（{}）"]).format(text)
        elif roll < 0.85:
            value = rng.choice(FORMULAS)
        else:
            value = rng.choice(["好", "A", "2024H1", "服务"]) + rng.choice(CONTROLS) + rng.choice(["店", "x", "", "差"])
        spec.injections.append((r, col, value))
    spec.phone_ids = sorted(rng.sample(range(n), rng.randint(0, 3)))
    return spec


def _base(spec: ExportSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    from cemkit.demo import generate
    from cemkit.packs import load_pack

    demo = generate(load_pack("auto"), n=spec.n, seed=spec.seed % 1000)
    df = demo.responses.copy()
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    for c in df.columns:
        if df[c].dtype.kind == "f":
            df[c] = df[c].map(lambda v: "" if pd.isna(v) else str(int(v)))
    df = df.astype(object).where(df.notna(), "").astype(str)
    od = demo.odata.drop(columns=["responded"]).astype(str)
    return df, od


def write_export(spec: ExportSpec, folder: Path) -> Export:
    """Write the export of ``spec`` (and its O-data CSV) into ``folder``; return the expectations."""
    rng = random.Random(spec.seed + 7)
    folder.mkdir(parents=True, exist_ok=True)
    df, od = _base(spec)
    secrets = list(spec.secrets)
    phones: list[str] = []
    for r in spec.phone_ids:  # a customer id that is a phone number, in the survey and the O-data alike
        num = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        old = df.at[r, "customer_id"]
        df.loc[df["customer_id"] == old, "customer_id"] = num
        od.loc[od["customer_id"] == old, "customer_id"] = num
        phones.append(num)
        secrets.append(num)
    for r, col, value in spec.injections:
        df.at[r, col] = value
    phones = [p for p in phones if (df["customer_id"] == p).any() and (od["customer_id"] == p).any()]
    for r in spec.newline_cells:
        df.at[r, "comment"] = df.at[r, "comment"] + rng.choice(["\n", "\r\n"]) + "第二行：展厅也干净"
    if spec.drop_id:
        df = df.drop(columns=["response_id"])
    header = list(df.columns)
    rows = df.values.tolist()
    title = [["2024年客户体验调研 数据导出"], ["导出时间：2024-12-31"]][: spec.title_rows]
    odata = folder / f"odata_{spec.seed}.csv"
    od.to_csv(odata, index=False, encoding="utf-8")
    chars = set("".join(header)) | {c for row in rows for v in row for c in v} | {c for t in title for v in t for c in v}

    if spec.fmt == "xlsx":
        return _write_xlsx(spec, folder, header, rows, title, odata, secrets, phones, chars)

    nl = "\r\n" if spec.crlf else "\n"
    records: list[list[str]] = [*title, header]
    ragged_rows: set[int] = set()
    row_of_id, line_of_id = {}, {}
    data_records = 0
    body: list[tuple[list[str] | None, bool]] = []  # (fields or None for a blank line, ragged?)
    for i, row in enumerate(rows):
        if i in spec.ragged:
            cut = rng.choice([-3, -1, 2])
            row = row[:cut] if cut < 0 else row + ["多余"] * cut
        body.append((row, i in spec.ragged))
        if i in spec.blank_after:
            body.append((None, False))
    chunks: list[str] = []
    for rec in records:
        chunks.append(_csv_line(rec, nl))
    line = 1 + sum(c.count("\n") for c in chunks)
    row_no = len(records)
    for fields, is_ragged in body:
        row_no += 1
        data_records += 1
        text = nl if fields is None else _csv_line(fields, nl)
        if fields is not None and not is_ragged:
            row_of_id[fields[0]] = row_no
            line_of_id[fields[0]] = line
        if is_ragged:
            ragged_rows.add(row_no)
        chunks.append(text)
        line += text.count("\n")
    path = folder / f"export_{spec.seed}.csv"
    with open(path, "wb") as fh:
        for k, text in enumerate(chunks):
            fh.write(_encode(text, spec.encoding, k, len(chunks)))
    return Export(path, odata, spec, data_records, row_of_id, line_of_id, ragged_rows,
                  [normalise(s) for s in secrets], phones, chars)


def _csv_line(fields: list[str], nl: str) -> str:
    """One record as an exporter writes it: a field holding CR or LF is quoted (a CRLF terminator makes the
    csv module quote both), then the terminator asked for."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(fields)
    return buf.getvalue()[:-2] + nl


def _encode(text: str, encoding: str, k: int, total: int) -> bytes:
    if encoding == "utf-8-sig":
        return (b"\xef\xbb\xbf" if k == 0 else b"") + text.encode("utf-8")
    if encoding == "utf-8":
        return text.encode("utf-8")
    # GBK (GB18030 for what GBK cannot spell); "mixed": the last third of the records appended in UTF-8
    if encoding == "mixed" and k >= total * 2 // 3:
        return text.encode("utf-8")
    return text.encode("gb18030")


def _write_xlsx(spec, folder, header, rows, title, odata, secrets, phones, chars) -> Export:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("数据")
    for t in title:
        ws.append(t)
    ws.append(header)
    row_of_id = {}
    for i, row in enumerate(rows):
        clean = [ILLEGAL_CHARACTERS_RE.sub("", v) if v != "" else None for v in row]
        cells = []
        for v in clean:  # client text starting with "=" is stored as text, as a real export would
            if isinstance(v, str) and v[:1] == "=":
                from openpyxl.cell import WriteOnlyCell

                c = WriteOnlyCell(ws, value=v)
                c.data_type = "s"
                cells.append(c)
            else:
                cells.append(v)
        ws.append(cells)
        row_of_id[row[0]] = len(title) + 2 + i
    path = folder / f"export_{spec.seed}.xlsx"
    wb.save(path)
    return Export(path, odata, spec, len(rows), row_of_id, dict(row_of_id), set(),
                  [normalise(s) for s in secrets], phones, chars)


# ------------------------------------------------------------------------------------------------ scanning
_FORMULA_CELL = re.compile(rb"<(?:\w+:)?f[ >/]")


def _texts(path: Path, data: bytes | None = None, name: str | None = None):
    """(where, text) pairs of everything readable in one file (zip members recursively)."""
    name = name or str(path)
    suffix = Path(name).suffix.lower()
    data = path.read_bytes() if data is None else data
    if suffix in (".pptx", ".xlsx", ".docx", ".xlsm"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                blob = z.read(member)
                yield from _texts(path, blob, f"{name}!{member}")
        return
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        yield name, json.dumps(table.to_pylist(), ensure_ascii=False, default=str)
        yield name + "#schema", str(table.schema)
        return
    if suffix in (".png", ".jpg", ".jpeg", ".emf", ".gif", ".bin", ".ttf", ".otf"):
        return
    text = data.decode("utf-8", errors="replace")
    if suffix in (".json", ".ipynb"):
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False)  # \\u escapes back to characters
        except ValueError:
            pass
    yield name, text


def formulas(path: Path, data: bytes | None = None, name: str | None = None) -> list[str]:
    """Formula cells in a workbook (also the ones embedded in a deck) and formula-looking CSV cells."""
    name = name or str(path)
    suffix = Path(name).suffix.lower()
    data = path.read_bytes() if data is None else data
    found: list[str] = []
    if suffix in (".pptx", ".xlsx", ".xlsm"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                blob = z.read(member)
                if member.endswith((".xlsx", ".xlsm")):
                    found += formulas(path, blob, f"{name}!{member}")
                elif suffix != ".pptx" and re.match(r"xl/worksheets/.*\.xml$", member) and _FORMULA_CELL.search(blob):
                    found.append(f"{name}!{member}: formula cell")
        return found
    if suffix in (".csv", ".tsv"):
        text = data.decode("utf-8-sig", errors="replace")
        for i, row in enumerate(csv.reader(io.StringIO(text, newline=""))):
            for cell in row:
                if cell[:1] in ("=", "+", "@", "\t", "\r") or (cell[:1] == "-" and not _number(cell)):
                    found.append(f"{name} record {i + 1}: {cell[:40]!r}")
    return found


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def scan_outputs(folder: Path, secrets: list[str]) -> list[str]:
    """Every leak (a normalised secret found in a file's normalised text) and formula under ``folder``."""
    problems: list[str] = []
    wanted = [s for s in dict.fromkeys(secrets) if s]
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        if path.suffix.lower() in (".csv", ".tsv", ".xlsx", ".xlsm", ".pptx"):
            problems += formulas(path)
        for where, text in _texts(path):
            flat = normalise(text)
            for s in wanted:
                if s in flat:
                    problems.append(f"{where}: contains {s!r}")
    return problems


# ------------------------------------------------------------------------------------- in-process runs
def run_inprocess(data: Path, odata: list[Path], out: Path, pack: str = "auto") -> tuple[int, Path, str]:
    """The whole run — every pipeline notebook, then the renderers — in this process (no kernels, so a
    fuzz run of thousands of files takes hours, not days). Each cell's printed output and displayed value
    is written to ``notebook_outputs.txt`` as papermill would store it in the executed notebook. Returns
    ``(exit code, run folder, message)`` with the CLI's meaning: 0 ok, 2 bad input (a UserError), and any
    other exception propagates (a bug)."""
    import ast
    import contextlib

    import nbformat

    from cemkit import pipeline
    from cemkit.errors import UserError
    from cemkit.packs import load_pack

    run_dir = Path(out) / "run"
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    pk = load_pack(pack)
    params = {"pack": str(pk.root), "data": str(data), "odata": [str(p) for p in odata], "mapping": "",
              "run_dir": str(run_dir), "client": "", "lang": pk.language, "synthetic": False}
    shown: list[str] = []
    try:
        for nb in pipeline.notebook_list():
            ns: dict = dict(params)
            for cell in nbformat.read(str(nb), as_version=4).cells:
                if cell.cell_type != "code":
                    continue
                if "parameters" in cell.metadata.get("tags", []):  # its defaults, then ours (as papermill)
                    exec(compile(cell.source, nb.name, "exec"), ns)  # noqa: S102
                    ns.update(params)
                    continue
                tree = ast.parse(cell.source)
                last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                head = ast.Module(body=tree.body[:-1] if last else tree.body, type_ignores=[])
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    exec(compile(head, nb.name, "exec"), ns)  # noqa: S102 - the pipeline's own notebooks
                    value = eval(compile(ast.Expression(last.value), nb.name, "eval"), ns) if last else None
                shown.append(buf.getvalue())
                if value is not None:
                    shown.append(value.to_html() if hasattr(value, "to_html") else repr(value))
        pipeline.render(run_dir, pk)
    except UserError as exc:
        return 2, run_dir, str(exc)
    finally:
        (run_dir / "notebook_outputs.txt").write_text("\n".join(shown), encoding="utf-8")
    return 0, run_dir, ""


# ------------------------------------------------------------------------------------------ the properties
#: what the gate may add to a text: mask characters, ASCII (full-width digits come out ASCII), and the line
#: break a U+2028, U+2029 or NEL in a comment becomes
MASK_CHARS = set("*[]邮箱身份证银行卡·-'\n") | {chr(c) for c in range(32, 127)}


def problems(ex: Export, folder: Path, message: str = "") -> list[str]:
    """Everything wrong with what a run (or ingest alone) made of ``ex`` in ``folder`` (a run folder, or
    the ``data/`` folder ingest writes): the row accounting, the quarantine's row and line numbers,
    characters the input did not hold (a garbling decode), pseudonymised ids that no longer join, leaks
    and formulas in any file, and personal data in the error ``message``."""
    found = [f"message: contains {s!r}" for s in ex.secrets if s in normalise(message)]
    data = folder / "data" if (folder / "data" / "accounting.json").exists() else folder
    if not (data / "accounting.json").exists():
        return found + scan_outputs(folder, ex.secrets)  # refused before any output: the message is all
    acc = json.loads((data / "accounting.json").read_text(encoding="utf-8"))
    if not acc["input_rows"] == acc["used"] + acc["quarantined"] == ex.records:
        found.append(f"accounting: {acc['input_rows']} in, {acc['used']} used, {acc['quarantined']} "
                     f"quarantined; the export has {ex.records} records")
    q = pd.read_parquet(data / "quarantine.parquet")
    bad = set(q.loc[q["reason"] == "malformed_row", "row"].dropna().astype(int))
    if bad != ex.malformed_rows:
        found.append(f"malformed rows {sorted(bad)}, expected {sorted(ex.malformed_rows)}")
    for rid, row, line in q.loc[q["reason"] != "malformed_row", ["response_id", "row", "line"]].itertuples(
            index=False):
        if rid in ex.row_of_id and (row, line) != (ex.row_of_id[rid], ex.line_of_id[rid]):
            found.append(f"{rid}: row {row}, line {line}; expected {ex.row_of_id[rid]}, {ex.line_of_id[rid]}")
    responses = pd.read_parquet(data / "responses.parquet")
    for col in ("dealer", "region", "customer_type", "channel", "comment", "wave", "stage"):
        if col in responses:
            extra = set("".join(responses[col].dropna().astype(str))) - ex.chars - MASK_CHARS
            if extra:
                found.append(f"responses.{col}: characters not in the input {sorted(extra)[:8]} (garbled?)")
    if ex.phone_ids and (data / "odata.parquet").exists():
        from cemkit import privacy

        od = set(pd.read_parquet(data / "odata.parquet")["customer_id"])
        resp = set(responses["customer_id"].dropna())
        for phone in ex.phone_ids:
            alias = privacy.pseudonym(phone)
            if alias not in od:
                found.append("a phone-number customer id is not pseudonymised in the O-data")
            if resp & {phone} or (alias in resp) != (alias in resp & od):
                found.append("a phone-number customer id does not join the O-data")
    return found + scan_outputs(folder, ex.secrets)


def write_parquet_copy(ex: Export, folder: Path, seed: int) -> Path:
    """The export of ``ex`` as a client's Parquet file (what a data warehouse hands over): the records as the
    whole-file reader reads them, blank cells as nulls, some columns typed as the warehouse had them
    (integers with nulls, floats, categories, dates, booleans), blank rows at the end, pandas' index
    stored or not, small row groups — so a stream crosses row groups and batches at random places."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cemkit.ingest import read_table

    rng = random.Random(seed)
    df = read_table(ex.path).reset_index(drop=True)
    df.attrs = {}
    df = df.astype(object).where(df.notna(), None)
    for c in list(df.columns):
        vals = df[c]
        filled = vals.dropna()
        roll = rng.random()
        num = pd.to_numeric(filled, errors="coerce")
        if roll < 0.4 and len(filled) and num.notna().all():
            df[c] = pd.to_numeric(vals, errors="coerce").astype("Int64" if (num % 1 == 0).all() and
                                                                 rng.random() < 0.6 else "float64")
        elif roll < 0.55 and len(filled):
            df[c] = vals.astype("category")
        elif roll < 0.65 and len(filled) and pd.to_datetime(filled, errors="coerce", format="%Y-%m-%d").notna().all():
            df[c] = pd.to_datetime(vals, format="%Y-%m-%d")
    if rng.random() < 0.3:
        df["opted_in"] = pd.array([rng.choice([True, False, None]) for _ in range(len(df))], dtype="boolean")
    if rng.random() < 0.5:  # blank rows at the end (an export's padding): not rows
        df = pd.concat([df, pd.DataFrame([[None] * len(df.columns)] * rng.randint(1, 4), columns=df.columns)],
                       ignore_index=True)
    index = rng.choice([False, None, "shuffled"])
    if index == "shuffled":
        df.index = rng.sample(range(10 * len(df) + 1), len(df))
    table = pa.Table.from_pandas(df, preserve_index={False: False, None: None, "shuffled": True}[index])
    path = folder / f"export_{ex.spec.seed}.parquet"
    pq.write_table(table, path, row_group_size=rng.choice([5, 13, 64, 1000]))
    return path
