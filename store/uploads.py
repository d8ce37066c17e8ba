"""The one reader of merchants' files: size limit, text decoding, CSV and XLSX rows, and the cell
parsers every import shares. Pure: bytes in, text or rows out.

Every import reads through here: knowledge documents and FAQ CSVs (`retrieval.loaders`), the
product catalog (`agents.knowledge`), sales history (`agents.forecaster`), purchase logs for
`siyu rec evaluate` (`agents.recommender`) and the CLI's text inputs. It sits in `store/`, beside
`errors` and `settings`, because it is generic I/O with no retrieval or agent meaning, and
`store` is the one package every layer may import (`retrieval` must not import `agents`, and
`agents` must not import `api`).

- Size: one limit, `Settings.max_upload_bytes`; the error names the file and the limit.
- Text: UTF-8 (with or without a BOM), then GB18030, a superset of GBK and what Chinese Excel
  and WPS write, then charset-normalizer's guess (Big5, UTF-16). GB18030 is tried strictly before
  the guess because charset-normalizer takes short GBK text ('顾客') for Big5.
- Rows: `(line, cells)` with cells stripped and blank rows skipped. A CSV line is where the
  record starts; an XLSX row number is the row number Excel shows, so an error points at the
  row to fix.
- Cells: bad cells become `RowIssue`s, so an import can report every bad line at once and write
  nothing. Numbers are checked against what their columns hold (`store.models`): a count or a
  price too large for the database is a bad cell like any other, not a failed write.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

from store.errors import InvalidInput, RowIssue
from store.models import COUNT_MAX, MONEY_MAX

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "是", "t"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "否", "f"})

Row = tuple[int, list[str]]

_GUESSES = ["gb18030", "big5", "utf_16"]


# --- size ---------------------------------------------------------------------------------------


def size_text(size: int) -> str:
    """20971520 → '20 MB', 1536 → '1.5 KB': how the limit reads in an error."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} 字节"


def check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise InvalidInput(f"文件超过上传上限 {size_text(limit)}，请拆分后分批导入", file=name)


def read_limited(stream: BinaryIO, name: str, limit: int) -> bytes:
    """At most `limit` bytes of an upload; one byte more is enough to know it is too large."""
    data = stream.read(limit + 1)
    check_size(name, len(data), limit)
    return data


def read_path(path: Path, limit: int) -> bytes:
    """A file named on the command line, under the same limit as an upload."""
    try:
        check_size(path.name, path.stat().st_size, limit)
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"无法读取文件: {exc.strerror}", file=str(path)) from exc


# --- text ---------------------------------------------------------------------------------------


def decode_text(data: bytes, name: str) -> str:
    """The file's text; an undecodable file raises `InvalidInput` naming it (and the first bad line)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidInput("UTF-16 文件已损坏，请另存为 UTF-8 后重新上传", file=name) from None
    if b"\x00" in data[:4096]:
        raise InvalidInput("文件是二进制内容，不是文本", file=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_GUESSES).best()
    if best is None:
        line = data[: utf8_error.start].count(b"\n") + 1
        raise InvalidInput(
            "无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8 和 GBK），请另存为 UTF-8 后重新上传",
            file=name,
            line=line,
        )
    return str(best)


# --- rows ---------------------------------------------------------------------------------------


def table_rows(data: bytes, name: str) -> Iterator[Row]:
    """The rows of a CSV or XLSX file, chosen by its suffix."""
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return xlsx_rows(data, name)
    if suffix in ("", ".csv", ".txt"):
        return csv_rows(data, name)
    raise InvalidInput(f"不支持的表格类型 {suffix!r}，请上传 .csv 或 .xlsx", file=name)


def csv_rows(data: bytes, name: str) -> Iterator[Row]:
    return csv_text_rows(decode_text(data, name), name)


def csv_text_rows(text: str, name: str) -> Iterator[Row]:
    """(line, cells) of every non-blank CSV record of decoded text; the line is where it starts."""
    reader = csv.reader(io.StringIO(text, newline=""))
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
    if isinstance(value, datetime) and value.time() == time.min:
        return value.date().isoformat()  # Excel keeps a date as a datetime at midnight
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


# --- cells --------------------------------------------------------------------------------------


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
    if value > MONEY_MAX:
        issues.append(RowIssue(line, field, f"{label} {raw!r} 超出上限 {MONEY_MAX}"))
        return None
    if places is not None:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            issues.append(RowIssue(line, field, f"{label} {raw!r} 最多保留 {places} 位小数"))
            return None
        value = value.quantize(Decimal(1).scaleb(-places))
    return value


def parse_count(
    raw: str,
    line: int,
    field: str,
    label: str,
    issues: list[RowIssue],
    *,
    minimum: int = 0,
    maximum: int = COUNT_MAX,
) -> int | None:
    """A whole number in [`minimum`, `maximum`] ('1,200' and '12.0' allowed); blank → None.

    Read as a Decimal, not a float: a float turns '9007199254740993' into a different number and
    '1e20' into an integer no column holds."""
    if not raw:
        return None
    try:
        value = Decimal(raw.replace(",", "").strip())
    except InvalidOperation:
        issues.append(RowIssue(line, field, f"{label} {raw!r} 不是数字"))
        return None
    if not value.is_finite() or value != value.to_integral_value() or value < minimum:
        need = "非负整数" if minimum == 0 else f"不小于 {minimum} 的整数"
        issues.append(RowIssue(line, field, f"{label} {raw!r} 应为{need}"))
        return None
    if value > maximum:
        issues.append(RowIssue(line, field, f"{label} {raw!r} 超出上限 {maximum}"))
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
