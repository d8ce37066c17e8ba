"""Parse a sales-history CSV or XLSX (`sku,date,qty[,price,promo,on_hand]`) into rows. Pure: bytes in,
rows out; the file is read by the one upload reader (`store.uploads`).

Every bad line is collected and reported together (file, line, field), and nothing is returned
unless the whole file is valid, so the caller's import is all-or-nothing.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal

from agents.forecaster.errors import CsvIssue, SalesCsvInvalid
from agents.forecaster.schemas import SalesRow
from store.models import COUNT_MAX
from store.uploads import parse_count, parse_flag, parse_money, table_rows

REQUIRED = ("sku", "date", "qty")
OPTIONAL = ("price", "promo", "on_hand")
# Merchants export from 有赞/微店/ERP with Chinese headers; accept the common ones.
ALIASES: dict[str, str] = {
    "商品编码": "sku",
    "货号": "sku",
    "sku编码": "sku",
    "日期": "date",
    "销售日期": "date",
    "销量": "qty",
    "数量": "qty",
    "销售数量": "qty",
    "价格": "price",
    "单价": "price",
    "促销": "promo",
    "是否促销": "promo",
    "库存": "on_hand",
    "现货": "on_hand",
    "onhand": "on_hand",
    "quantity": "qty",
    "day": "date",
}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$|^(\d{4})(\d{2})(\d{2})$")
MAX_SKU_LEN = 64


def parse_sales_csv(data: bytes, filename: str, *, show_errors: int = 10) -> list[SalesRow]:
    """Parse and validate the whole file (CSV, or XLSX by its suffix); raise `SalesCsvInvalid`
    listing every bad line."""
    rows_in = table_rows(data, filename)
    issues: list[CsvIssue] = []
    first = next(rows_in, None)
    if first is None:
        raise SalesCsvInvalid(filename, [CsvIssue(1, "header", "文件为空，需要表头 sku,date,qty")])
    header_line, header = first
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = raw.lower().replace(" ", "_")
        name = ALIASES.get(name, name)
        if name in REQUIRED or name in OPTIONAL:
            if name in columns:
                issues.append(CsvIssue(header_line, name, f"表头中列 {name!r} 出现了两次"))
            columns[name] = index
    for name in REQUIRED:
        if name not in columns:
            issues.append(
                CsvIssue(
                    header_line,
                    name,
                    f"表头缺少必填列 {name!r}（需要 sku,date,qty，可选 price,promo,on_hand）",
                )
            )
    if issues:
        raise SalesCsvInvalid(filename, issues, show=show_errors)

    rows: list[SalesRow] = []
    seen: dict[tuple[str, date], int] = {}
    for line, cells in rows_in:
        row = _parse_row(cells, columns, line, issues)
        if row is None:
            continue
        key = (row.sku, row.day)
        if key in seen:
            issues.append(
                CsvIssue(
                    line,
                    "date",
                    f"SKU {row.sku!r} 在 {row.day.isoformat()} 已在第 {seen[key]} 行出现，请合并为一行",
                )
            )
            continue
        seen[key] = line
        rows.append(row)
    if not rows and not issues:
        issues.append(CsvIssue(header_line, "qty", "文件只有表头，没有销售数据"))
    if issues:
        raise SalesCsvInvalid(filename, issues, show=show_errors)
    return rows


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _parse_row(
    cells: list[str], columns: dict[str, int], line: int, issues: list[CsvIssue]
) -> SalesRow | None:
    before = len(issues)
    sku = _cell(cells, columns, "sku")
    if not sku:
        issues.append(CsvIssue(line, "sku", "SKU 为空"))
    elif len(sku) > MAX_SKU_LEN:
        issues.append(CsvIssue(line, "sku", f"SKU 超过 {MAX_SKU_LEN} 个字符: {sku[:20]!r}…"))
    day = _parse_date(_cell(cells, columns, "date"), line, issues)
    qty = _parse_qty(_cell(cells, columns, "qty"), line, issues)
    price = _parse_price(_cell(cells, columns, "price"), line, issues)
    promo = _parse_promo(_cell(cells, columns, "promo"), line, issues)
    on_hand = _parse_on_hand(_cell(cells, columns, "on_hand"), line, issues)
    if len(issues) > before or day is None or qty is None:
        return None
    return SalesRow(sku=sku, day=day, qty=qty, price=price, promo=promo, on_hand=on_hand, line=line)


def _parse_date(raw: str, line: int, issues: list[CsvIssue]) -> date | None:
    match = _DATE.match(raw)
    if match is None:
        issues.append(CsvIssue(line, "date", f"日期 {raw!r} 无法识别，请用 2025-03-08 这样的格式"))
        return None
    groups = [g for g in match.groups() if g is not None]
    try:
        return date(int(groups[0]), int(groups[1]), int(groups[2]))
    except ValueError:
        issues.append(CsvIssue(line, "date", f"日期 {raw!r} 不存在"))
        return None


def _parse_qty(raw: str, line: int, issues: list[CsvIssue]) -> float | None:
    try:
        qty = float(raw.replace(",", ""))
    except ValueError:
        issues.append(CsvIssue(line, "qty", f"销量 {raw!r} 不是数字"))
        return None
    if not math.isfinite(qty) or qty < 0:
        issues.append(CsvIssue(line, "qty", f"销量 {raw!r} 不能为负数（退货请单独处理）"))
        return None
    if qty > COUNT_MAX:
        # A float column holds it, but no day sells that much, and the models' sums would overflow.
        issues.append(CsvIssue(line, "qty", f"销量 {raw!r} 超出上限 {COUNT_MAX}"))
        return None
    return qty


def _parse_price(raw: str, line: int, issues: list[CsvIssue]) -> Decimal | None:
    return parse_money(raw, line, "price", "价格", issues)


def _parse_promo(raw: str, line: int, issues: list[CsvIssue]) -> bool:
    return bool(parse_flag(raw, line, "promo", "促销标记", issues))


def _parse_on_hand(raw: str, line: int, issues: list[CsvIssue]) -> int | None:
    return parse_count(raw, line, "on_hand", "库存", issues)
