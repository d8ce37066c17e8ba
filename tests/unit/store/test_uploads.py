"""The one upload reader: encodings, CSV and XLSX rows with their line numbers, the size limit,
and errors that name the file, the line and the field."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from store.errors import InvalidInput, RowIssue
from store.models import COUNT_MAX
from store.settings import Settings
from store.uploads import (
    check_size,
    csv_rows,
    decode_text,
    parse_count,
    parse_money,
    read_limited,
    read_path,
    size_text,
    table_rows,
    xlsx_rows,
)

TABLE = "货号,商品名称,价格\nST-771,清居 保温杯,89\n\n顾客,王小明,12.5\n"
ROWS = [
    (1, ["货号", "商品名称", "价格"]),
    (2, ["ST-771", "清居 保温杯", "89"]),
    (4, ["顾客", "王小明", "12.5"]),
]


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_utf8() -> None:
    assert list(csv_rows(TABLE.encode("utf-8"), "a.csv")) == ROWS


def test_utf8_with_bom() -> None:
    data = TABLE.encode("utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv_rows(data, "a.csv")) == ROWS


def test_gbk() -> None:
    data = TABLE.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert list(csv_rows(data, "a.csv")) == ROWS


def test_short_gbk_text_is_not_taken_for_big5() -> None:
    # charset-normalizer alone guesses Big5 for these two characters.
    assert decode_text("顾客".encode("gbk"), "a.txt") == "顾客"


def test_utf16_with_bom() -> None:
    assert decode_text("顾客,问题\n".encode("utf-16"), "a.csv") == "顾客,问题\n"


def test_undecodable_file_names_the_file_in_chinese() -> None:
    with pytest.raises(InvalidInput) as err:
        decode_text(b"sku,qty\n" + bytes(range(0x80, 0x100)), "销售.csv")
    assert err.value.file == "销售.csv" and err.value.line == 2
    assert err.value.detail.startswith("文件 '销售.csv', 第 2 行: 无法识别文件编码")


def test_binary_file_is_not_text() -> None:
    with pytest.raises(InvalidInput, match="'x.txt'.*二进制"):
        decode_text(b"\x00\x01\x02binary", "x.txt")


def test_csv_line_is_where_a_multiline_record_starts() -> None:
    rows = list(csv_rows('q,a\n"两行\n的问题",答\nx,y\n'.encode(), "faq.csv"))
    assert [line for line, _ in rows] == [1, 2, 4]


def test_xlsx_rows_carry_excel_row_numbers_and_typed_cells() -> None:
    data = _xlsx([["sku", "date", "qty"], [], ["A-1", datetime(2025, 3, 1), 3.0], ["B-2", "2025-03-02", 2.5]])
    assert list(xlsx_rows(data, "s.xlsx")) == [
        (1, ["sku", "date", "qty"]),
        (3, ["A-1", "2025-03-01", "3"]),
        (4, ["B-2", "2025-03-02", "2.5"]),
    ]
    assert list(table_rows(data, "S.XLSX")) == list(xlsx_rows(data, "s.xlsx"))


def test_broken_xlsx_names_the_file() -> None:
    with pytest.raises(InvalidInput, match="'s.xlsx'.*XLSX"):
        list(xlsx_rows(b"PK\x03\x04 not a workbook", "s.xlsx"))


def test_other_table_types_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"'s.xls'.*\.csv 或 \.xlsx"):
        table_rows(b"x", "s.xls")


def test_bad_cell_names_line_and_field() -> None:
    issues: list[RowIssue] = []
    for line, cells in list(csv_rows(TABLE.encode("gbk"), "a.csv"))[1:]:
        parse_money(cells[2], line, "price", "价格", issues, places=0)
    assert issues == [RowIssue(4, "price", "价格 '12.5' 最多保留 0 位小数")]
    assert str(issues[0]) == "第 4 行 字段 'price': 价格 '12.5' 最多保留 0 位小数"


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1,200", 1200), ("12.0", 12), (" 7 ", 7), ("2147483647", COUNT_MAX), ("1e3", 1000)],
)
def test_count_cells_in_range(raw: str, value: int) -> None:
    issues: list[RowIssue] = []
    assert parse_count(raw, 2, "stock", "库存", issues) == value and issues == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2147483648", "库存 '2147483648' 超出上限 2147483647"),
        ("99999999999999999999", "库存 '99999999999999999999' 超出上限 2147483647"),
        ("1e400", "库存 '1e400' 超出上限 2147483647"),
        ("-1", "库存 '-1' 应为非负整数"),
        ("2.5", "库存 '2.5' 应为非负整数"),
        ("inf", "库存 'inf' 应为非负整数"),
        ("十", "库存 '十' 不是数字"),
    ],
)
def test_count_cells_out_of_range_are_bad_cells(raw: str, message: str) -> None:
    issues: list[RowIssue] = []
    assert parse_count(raw, 7, "stock", "库存", issues) is None
    assert issues == [RowIssue(7, "stock", message)]


def test_a_count_is_read_exactly_not_through_a_float() -> None:
    # float('9007199254740993') is ...992: a float parse would store a different number.
    issues: list[RowIssue] = []
    assert parse_count("9007199254740993", 2, "n", "数量", issues, maximum=2**63 - 1) == 9007199254740993


def test_money_beyond_the_column_is_a_bad_cell() -> None:
    issues: list[RowIssue] = []
    assert parse_money("9999999999.99", 3, "price", "价格", issues) == Decimal("9999999999.99")
    assert parse_money("10000000000", 3, "price", "价格", issues) is None
    assert issues == [RowIssue(3, "price", "价格 '10000000000' 超出上限 9999999999.99")]


def test_size_limit_names_file_and_limit() -> None:
    limit = Settings().max_upload_bytes
    assert limit == 20 * 1024 * 1024 and size_text(limit) == "20 MB"
    check_size("a.csv", limit, limit)
    with pytest.raises(InvalidInput) as err:
        check_size("a.csv", limit + 1, limit)
    assert err.value.detail == "文件 'a.csv': 文件超过上传上限 20 MB，请拆分后分批导入"
    assert size_text(1536) == "1.5 KB"


def test_read_limited_reads_one_byte_past_the_limit() -> None:
    assert read_limited(io.BytesIO(b"x" * 1024), "a.csv", 1024) == b"x" * 1024
    with pytest.raises(InvalidInput, match="'a.csv'.*1 KB"):
        read_limited(io.BytesIO(b"x" * 1025), "a.csv", 1024)


def test_read_path_checks_the_size_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "商品.csv"
    path.write_bytes(b"x" * 2048)
    assert read_path(path, 2048) == b"x" * 2048
    with pytest.raises(InvalidInput, match="'商品.csv'.*上传上限 1 KB"):
        read_path(path, 1024)
    with pytest.raises(InvalidInput, match="无法读取文件"):
        read_path(tmp_path / "missing.csv", 1024)
