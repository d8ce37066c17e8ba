from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pytest
from openpyxl import Workbook

from agents.forecaster.errors import SalesCsvInvalid
from agents.forecaster.panel import densify
from agents.forecaster.sales_import import parse_sales_csv
from agents.forecaster.schemas import SalesRow
from store.errors import InvalidInput

GOOD = (
    "sku,date,qty,price,promo,on_hand\n"
    "BWB-500,2025-03-01,3,59.00,1,12\n"
    "BWB-500,2025/3/3,0,,否,0\n"
    "TEA-01,20250302,2,,,\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_encodings(encoding: str) -> None:
    text = "商品编码,日期,销量\n保温杯-白,2025-03-01,3\n"
    rows = parse_sales_csv(text.encode(encoding), "sales.csv")
    assert rows == [SalesRow(sku="保温杯-白", day=date(2025, 3, 1), qty=3.0, line=2)]


def test_all_fields() -> None:
    rows = parse_sales_csv(GOOD.encode(), "sales.csv")
    assert rows == [
        SalesRow("BWB-500", date(2025, 3, 1), 3.0, Decimal("59.00"), True, 12, line=2),
        SalesRow("BWB-500", date(2025, 3, 3), 0.0, None, False, 0, line=3),
        SalesRow("TEA-01", date(2025, 3, 2), 2.0, None, False, None, line=4),
    ]


def test_every_bad_line_is_reported_and_nothing_returned() -> None:
    text = (
        "sku,date,qty,on_hand\n"
        "A,2025-03-01,3,\n"
        ",2025-03-02,1,\n"  # line 3: empty sku
        "A,2025-02-30,1,\n"  # line 4: no such date
        "A,2025-03-03,三,\n"  # line 5: qty not a number
        "A,2025-03-04,-2,\n"  # line 6: negative
        "A,2025-03-01,1,\n"  # line 7: duplicate of line 2
        "A,2025-03-05,1,1.5\n"  # line 8: on_hand not an integer
    )
    with pytest.raises(SalesCsvInvalid) as info:
        parse_sales_csv(text.encode(), "march.csv")
    err = info.value
    assert [(i.line, i.field) for i in err.issues] == [
        (3, "sku"),
        (4, "date"),
        (5, "qty"),
        (6, "qty"),
        (7, "date"),
        (8, "on_hand"),
    ]
    assert (err.file, err.line, err.field) == ("march.csv", 3, "sku")
    assert err.detail.startswith("文件 'march.csv', 第 3 行, 字段 'sku': 共 6 处错误，未导入任何数据。")
    assert "第 7 行 字段 'date': SKU 'A' 在 2025-03-01 已在第 2 行出现" in err.detail


def test_numbers_beyond_their_columns_name_file_line_and_field() -> None:
    text = (
        "sku,date,qty,price,on_hand\n"
        "A,2025-03-01,3,9.9,99999999999999999999\n"  # on_hand: a 32-bit column
        "A,2025-03-02,1e300,,\n"  # qty: no day sells that much
        "A,2025-03-03,1,12345678901,\n"  # price: NUMERIC(12, 2)
    )
    with pytest.raises(SalesCsvInvalid) as info:
        parse_sales_csv(text.encode(), "big.csv")
    err = info.value
    assert [(i.line, i.field) for i in err.issues] == [(2, "on_hand"), (3, "qty"), (4, "price")]
    assert err.detail.startswith("文件 'big.csv', 第 2 行, 字段 'on_hand': 共 3 处错误，未导入任何数据。")
    assert "库存 '99999999999999999999' 超出上限 2147483647" in err.detail


def test_first_n_errors_shown() -> None:
    text = "sku,date,qty\n" + "".join(f"A,bad{i},1\n" for i in range(15))
    with pytest.raises(SalesCsvInvalid) as info:
        parse_sales_csv(text.encode(), "x.csv", show_errors=3)
    assert len(info.value.issues) == 15
    assert "另有 12 处错误未列出" in info.value.detail


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "header"),
        ("sku,qty\nA,1\n", "date"),
        ("sku,date,qty\n", "qty"),
        ("sku,date,qty,qty\nA,2025-01-01,1,1\n", "qty"),
    ],
)
def test_header_problems(text: str, field: str) -> None:
    with pytest.raises(SalesCsvInvalid) as info:
        parse_sales_csv(text.encode(), "x.csv")
    assert info.value.field == field
    assert info.value.line == 1


def test_undecodable_bytes_name_the_file_and_line() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_sales_csv(b"sku,date,qty\n\x81\xff\xfe\x81,2025-01-01,1\n" * 3, "x.csv")
    assert (info.value.file, info.value.line) == ("x.csv", 2)
    assert "无法识别文件编码" in info.value.detail


def test_xlsx_sales() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["商品编码", "日期", "销量", "促销"], ["BWB-500", datetime(2025, 3, 1), 3, "是"]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    rows = parse_sales_csv(out.getvalue(), "sales.xlsx")
    assert rows == [SalesRow("BWB-500", date(2025, 3, 1), 3.0, None, True, None, line=2)]


def test_densify_fills_missing_days_and_marks_stockouts() -> None:
    rows = parse_sales_csv(GOOD.encode(), "sales.csv")
    panel = densify(rows)
    assert panel.skus == ["BWB-500", "TEA-01"]
    assert panel.start == date(2025, 3, 1)
    assert panel.end == date(2025, 3, 3)
    np.testing.assert_array_equal(panel.qty[0], [3.0, 0.0, 0.0])  # 3/2 missing → 0 sales
    np.testing.assert_array_equal(panel.censored[0], [False, False, True])  # on_hand 0 → censored
    np.testing.assert_array_equal(panel.qty[1], [np.nan, 2.0, 0.0])  # TEA-01 starts on 3/2
    assert panel.first_day.tolist() == [0, 1]


def test_densify_to_a_later_end_and_head() -> None:
    panel = densify([SalesRow("A", date(2025, 1, 1), 1.0)], end=date(2025, 1, 4))
    np.testing.assert_array_equal(panel.qty[0], [1.0, 0.0, 0.0, 0.0])
    head = panel.head(2)
    assert head.n_days == 2
    assert head.end == date(2025, 1, 2)
