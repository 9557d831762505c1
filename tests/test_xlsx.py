"""The one workbook writer (cemkit.workbook.write_workbook): values, layout, safety."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from cemkit.workbook import write_workbook


def test_values_round_trip_and_missing_cells_stay_empty(tmp_path):
    t = pd.DataFrame({
        "n": pd.array([1, None, 3], dtype="Int64"),
        "x": [0.5, np.nan, np.inf],
        "flag": [True, False, None],
        "when": pd.to_datetime(["2024-03-01 08:30", None, "2024-03-02 00:00"]).tz_localize("Asia/Shanghai"),
        "text": pd.array(["好", None, "客户"], dtype="str"),
    })
    path = write_workbook(tmp_path / "a.xlsx", {"表": t}, headers={"n": "数量"})
    ws = openpyxl.load_workbook(path)["表"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("数量", "x", "flag", "when", "text")
    assert rows[1] == (1, 0.5, True, dt.datetime(2024, 3, 1, 8, 30), "好")
    assert rows[2] == (None, None, False, None, None)
    assert rows[3][:2] == (3, None)  # inf is no number in Excel: left empty
    assert ws["D2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E4"


def test_client_text_is_never_a_formula_or_link(tmp_path):
    evil = ["=HYPERLINK(\"http://x\",\"点我\")", "+1+1", "http://example.com", "00123"]
    path = write_workbook(tmp_path / "b.xlsx", {"s": pd.DataFrame({"verbatim": evil})})
    ws = openpyxl.load_workbook(path)["s"]
    cells = [ws.cell(row=i + 2, column=1) for i in range(len(evil))]
    assert [c.value for c in cells] == evil
    assert all(c.data_type == "s" for c in cells)  # strings, not formulas ("f") or numbers


def test_blocks_titles_unique_sheet_names_and_wide_columns(tmp_path):
    a = pd.DataFrame({"k": ["一二三四五六七八九十一二三四五"], "v": [1]})
    b = pd.DataFrame({"k": ["x"], "v": [2]})
    b.attrs["title"] = "第二块"
    path = write_workbook(tmp_path / "c.xlsx", {"a/b": [a, b], "A/B": a})
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["a_b", "A_B(2)"]
    rows = list(wb["a_b"].iter_rows(values_only=True))
    assert rows[4][0] == "第二块" and rows[5] == ("k", "v") and rows[6] == ("x", 2)  # one blank row between
    assert wb["a_b"].column_dimensions["A"].width >= 30  # 15 wide characters count double


def test_a_failed_write_leaves_the_last_good_file(tmp_path):
    path = write_workbook(tmp_path / "d.xlsx", {"s": pd.DataFrame({"v": [1]})})
    before = path.read_bytes()

    class Boom(pd.DataFrame):
        @property
        def columns(self):  # fails while the workbook is being written
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_workbook(path, {"s": pd.DataFrame({"v": [2]}), "t": Boom({"v": [3]})})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.xlsx"]
