"""Files merchants upload: their text (UTF-8, UTF-8 with BOM, GBK, detected), tables (CSV or XLSX)
as rows of strings with their line numbers, and the cell parsers every import shares. Pure: bytes
in, rows out; bad cells become `RowIssue`s, so an import can report every bad line at once and
write nothing. It lives in `store/`, beside the error tree, so that `retrieval` and `agents` can
both read uploads with it.

An XLSX row number is the row number Excel shows, so an error points at the row to fix.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from store.errors import InvalidInput, RowIssue

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "是", "t"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "否", "f"})

Row = tuple[int, list[str]]


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) first, then whatever charset-normalizer finds (GBK etc.)."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput("文件是二进制内容，不是文本", file=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "gbk", "big5", "utf_16", "utf_8"]).best()
    if best is None:
        line = data[: utf8_error.start].count(b"\n") + 1
        raise InvalidInput("无法识别文本编码，请另存为 UTF-8 后重新上传", file=name, line=line)
    return str(best)


def csv_rows(data: bytes, name: str) -> Iterator[Row]:
    """(line, cells) of every non-blank CSV record; the line is where the record starts."""
    reader = csv.reader(io.StringIO(decode_text(data, name), newline=""))
    line = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield line, [cell.strip().lstrip("\ufeff") for cell in cells]
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"CSV 格式错误: {exc}", file=name, line=reader.line_num) from exc


def xlsx_rows(data: bytes, name: str) -> Iterator[Row]:
    """(row number, cells) of every non-blank row of the first worksheet."""
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput("不是有效的 XLSX 文件，请用 Excel/WPS 另存为 .xlsx 后重新上传", file=name) from exc
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            if any(cells):
                yield number, cells
    finally:
        workbook.close()


def cell_text(value: object) -> str:
    """An XLSX cell as the text a merchant typed: 12.0 → '12', 59.9 → '59.9', empty → ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def parse_money(
    raw: str, line: int, field: str, label: str, issues: list[RowIssue], *, places: int | None = None
) -> Decimal | None:
    """'¥1,299.00' → Decimal('1299.00'); blank → None; negative, not a number or too many
    decimal places → an issue."""
    if not raw:
        return None
    try:
        value = Decimal(raw.replace(",", "").strip().lstrip("¥￥").strip())
    except InvalidOperation:
        issues.append(RowIssue(line, field, f"{label} {raw!r} 不是数字"))
        return None
    if not value.is_finite() or value < 0:
        issues.append(RowIssue(line, field, f"{label} {raw!r} 不能为负数"))
        return None
    if places is not None:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            issues.append(RowIssue(line, field, f"{label} {raw!r} 最多保留 {places} 位小数"))
            return None
        value = value.quantize(Decimal(1).scaleb(-places))
    return value


def parse_count(
    raw: str, line: int, field: str, label: str, issues: list[RowIssue], *, minimum: int = 0
) -> int | None:
    """A whole number ≥ `minimum` ('1,200' and '12.0' allowed); blank → None."""
    if not raw:
        return None
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        issues.append(RowIssue(line, field, f"{label} {raw!r} 不是数字"))
        return None
    if not math.isfinite(value) or not value.is_integer() or value < minimum:
        need = "非负整数" if minimum == 0 else f"不小于 {minimum} 的整数"
        issues.append(RowIssue(line, field, f"{label} {raw!r} 应为{need}"))
        return None
    return int(value)


def parse_flag(raw: str, line: int, field: str, label: str, issues: list[RowIssue]) -> bool | None:
    """1/0, 是/否, true/false, yes/no; blank → False."""
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    issues.append(RowIssue(line, field, f"{label} {raw!r} 无法识别，请填 1/0 或 是/否"))
    return None
