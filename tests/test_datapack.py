"""The client's data pack: headers in the deck's language, names not codes, numbers stored as numbers with the
deck's formats (NPS one decimal, shares %), and the methodology and sample table."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest
from render_fixtures import write_run

from cemkit import views
from cemkit.render.xlsx import build_datapack, client_table


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_datapack_headers_formats_and_numbers(auto_pack, tmp_path, lang):
    run, _ = write_run(tmp_path / "run", auto_pack, lang)
    out = build_datapack(run, auto_pack, tmp_path / "dp.xlsx", lang=lang)
    wb = openpyxl.load_workbook(out)
    for ws in wb.worksheets:
        headers = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]
        assert all(h and "_" not in str(h) for h in headers), (ws.title, headers)  # no snake_case ids
        for row in ws.iter_rows(min_row=2, values_only=True):
            assert "__all__" not in row and "showroom" not in row, ws.title  # names, not codes
    sheet = wb[{"zh": "各环节NPS", "en": "NPS by stage"}[lang]]
    header = [c.value for c in sheet[1]]
    value = sheet.cell(2, header.index({"zh": "数值", "en": "Value"}[lang]) + 1)
    assert isinstance(value.value, float) and value.number_format == "0.0"
    comp = wb[{"zh": "NPS构成", "en": "NPS make-up"}[lang]]
    header = [c.value for c in comp[1]]
    det = comp.cell(2, header.index({"zh": "贬损者(%)", "en": "Detractors (%)"}[lang]) + 1)
    assert isinstance(det.value, float) and det.number_format == '0.0"%"'


def test_client_table_drops_drawing_helpers_and_translates_flags(auto_pack):
    import pandas as pd

    t = pd.DataFrame({"stage": ["showroom"], "stage_name": ["到店看车"], "value": [12.3], "highlight": [True],
                      "significant": [True], "colour": ["red"], "wave": ["__all__"]})
    table, formats = client_table("journey_curve", t, auto_pack, "zh")
    assert list(table.columns) == ["环节", "波次", "数值", "显著"]
    assert table.iloc[0].tolist() == ["到店看车", "整体", 12.3, "是"]
    assert formats == {"数值": "0.0"}


def test_sample_page_counts(demo_auto, auto_pack):
    df = demo_auto.responses
    acc = {"quarantined": 7, "by_reason": {"nps_missing": 5, "unknown_stage": 2}}
    table = views.sample_views(df, acc, auto_pack, "zh")["sample"][0].set_index("item")["detail"]
    for w in sorted(df["wave"].unique()):
        assert table[f"波次 {w}"].startswith(f"n={int((df['wave'] == w).sum()):,}")
    assert table["有效样本"] == f"{len(df):,}"
    assert table["隔离"].startswith("7（") and "缺少推荐意愿分 5" in table["隔离"]
    assert table["经销商"].startswith(f"{df['dealer'].nunique()}家")


def test_sample_page_is_the_same_from_the_streamed_dataset(demo_auto, auto_pack, tmp_path):
    """The methodology page of a large run counts through DuckDB (no rows in memory): the same table and facts
    as from the DataFrame — weighted, with a missing wave and date, ties between segment values."""
    from cemkit.engine import Dataset

    df = demo_auto.responses.copy()
    df["weight"] = np.where(np.arange(len(df)) % 3 == 0, 2.0, 1.0)
    df.loc[df.index[:5], "wave"] = None
    df.loc[df.index[5:9], "date"] = pd.NaT
    df.to_parquet(tmp_path / "responses.parquet")
    acc = {"quarantined": 3, "by_reason": {"nps_missing": 3}}
    for lang in ("zh", "en"):
        a = views.sample_views(df, acc, auto_pack, lang)["sample"]
        b = views.sample_views(Dataset(tmp_path / "responses.parquet"), acc, auto_pack, lang)["sample"]
        pd.testing.assert_frame_equal(a[0], b[0])
        assert a[1]["facts"] == b[1]["facts"]
    w = df["weight"]
    assert f"n={w.sum() ** 2 / (w ** 2).sum():,.0f}" in a[0].set_index("item").loc["Weighting", "detail"]
