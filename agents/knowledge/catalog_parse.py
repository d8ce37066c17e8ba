"""Products from a merchant's file (CSV, XLSX or JSON) → validated records → a plan against the
shop's catalog. This is the pure core of `catalog_import`, which does the writing: bytes and a
snapshot of the stored products in, records and a plan out. Every bad cell is collected
(`ImportInvalid` names file, line and field) and nothing is planned unless the whole file is
valid, so the caller's write is all-or-nothing. The file is read by `store.uploads`.

CSV / XLSX: a header row, then one row per product, or one row per SKU (variant) of a product.
Column names are English or the usual Chinese ones (货号, 商品名称, 类目, 价格, 库存, 款式 …):

    sku,title,category,brand,price,floor_price,stock,specs,variant,variant_sku
    ST-771,清居 真空保温杯,家居日用,清居,89,69,8,容量=500ml;材质=316不锈钢,黑色,BK
    ST-771,,,,89,,12,,白色,ST-771-WH

- `sku` is the product code (`Product.sku`), the key of the upsert. Required.
- A row with `variant` (or `variant_sku`) is one SKU of the product: its `price` and `stock` are
  the variant's, `variant_sku` its code (the suffix `BK` or the full `ST-771-BK`). The product's
  price is then the lowest variant price and its stock the sum, unless a row without a variant
  gives the price. A file with variant rows for a product replaces that product's variants; a
  file without any leaves them as stored.
- Product fields may repeat on every row of a product or sit on one row; two rows giving
  different values is an error.
- Specs: `specs` as `容量=500ml;材质=316不锈钢` (`:` `：` `；` also work) and/or one column per
  spec named `spec:容量` or `规格:容量`. Given specs replace the stored ones.
- A blank cell keeps the stored value. A new product needs `title`, `category` and a price;
  `floor_price` defaults to the price and may not exceed it.

JSON: `[{...}]` or `{"products": [{...}]}` with the same field names, `specs` (or `attributes`)
as an object, and `variants` as a list of `{name, sku_suffix, price, stock}`. Errors name the
line where the product's (or variant's) object starts.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from store.errors import ImportInvalid, InvalidInput, RowIssue
from store.models import COUNT_MAX
from store.uploads import decode_text, parse_count, parse_flag, parse_money, table_rows

ImportFormat = Literal["csv", "xlsx", "json"]
SUFFIXES: dict[str, ImportFormat] = {".csv": "csv", ".xlsx": "xlsx", ".json": "json"}

TEXT_FIELDS: dict[str, tuple[str, int | None]] = {
    "title": ("商品名称", 200),
    "category": ("类目", 50),
    "subcategory": ("子类目", 50),
    "brand": ("品牌", 100),
    "description": ("描述", None),
}
MONEY_FIELDS = {"price": "价格", "floor_price": "底价", "unit_cost": "成本价"}
# (label, minimum)
COUNT_FIELDS: dict[str, tuple[str, int]] = {
    "stock": ("库存", 0),
    "lead_time_days": ("采购周期", 0),
    "moq": ("起订量", 1),
    "case_pack": ("箱规", 1),
    "repurchase_cycle_days": ("复购周期", 1),
}
PRODUCT_FIELDS = (*TEXT_FIELDS, *MONEY_FIELDS, *COUNT_FIELDS, "active")
VARIANT_FIELDS = ("variant", "variant_sku")
COLUMNS = ("sku", *PRODUCT_FIELDS, "specs", *VARIANT_FIELDS)
MAX_SKU_LEN = 64
SPEC_PREFIXES = ("spec:", "spec.", "规格:", "规格：", "参数:", "参数：")
HEADER_HELP = (
    "需要 sku 列；可选 title,category,subcategory,brand,description,price,floor_price,"
    "unit_cost,stock,specs,variant,variant_sku 等"
)

# Merchants export from 有赞/微店/ERP with Chinese headers; accept the common ones.
ALIASES: dict[str, str] = {
    "货号": "sku",
    "商品编码": "sku",
    "商品货号": "sku",
    "款号": "sku",
    "spu": "sku",
    "product_sku": "sku",
    "商品名称": "title",
    "商品名": "title",
    "标题": "title",
    "名称": "title",
    "name": "title",
    "类目": "category",
    "分类": "category",
    "一级类目": "category",
    "子类目": "subcategory",
    "二级类目": "subcategory",
    "品牌": "brand",
    "描述": "description",
    "简介": "description",
    "商品描述": "description",
    "价格": "price",
    "售价": "price",
    "单价": "price",
    "底价": "floor_price",
    "最低价": "floor_price",
    "成本": "unit_cost",
    "成本价": "unit_cost",
    "cost": "unit_cost",
    "库存": "stock",
    "库存数量": "stock",
    "采购周期": "lead_time_days",
    "交期": "lead_time_days",
    "lead_time": "lead_time_days",
    "起订量": "moq",
    "箱规": "case_pack",
    "复购周期": "repurchase_cycle_days",
    "上架": "active",
    "是否上架": "active",
    "规格": "specs",
    "参数": "specs",
    "attributes": "specs",
    "款式": "variant",
    "规格名称": "variant",
    "variant_name": "variant",
    "款式货号": "variant_sku",
    "sku编码": "variant_sku",
    "sku_suffix": "variant_sku",
    "variant_code": "variant_sku",
}
_SPEC_SPLIT = re.compile(r"[;；\n]+")
_SPEC_PAIR = re.compile(r"^\s*([^=:：]+?)\s*[=:：]\s*(.+?)\s*$")


@dataclass(frozen=True)
class VariantRecord:
    name: str
    suffix: str
    price: Decimal | None
    stock: int | None
    line: int


@dataclass
class ProductRecord:
    """One product of the file: only the fields the file gives (a blank keeps the stored value)."""

    sku: str
    line: int
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    attributes: dict[str, str] | None = None
    variants: list[VariantRecord] | None = None


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]
    specs: dict[str, str] = field(default_factory=dict)
    # JSON `"variants": []`: the product has no variants any more.
    clears_variants: bool = False


# --- reading ----------------------------------------------------------------------------------


def detect_import_format(name: str) -> ImportFormat:
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"不支持的商品文件类型 {suffix or '(无扩展名)'!r}，支持: .csv, .xlsx, .json", file=name
        )
    return SUFFIXES[suffix]


def parse_products(name: str, data: bytes, *, show_errors: int = 10) -> list[ProductRecord]:
    """Read and validate a whole product file; `ImportInvalid` lists every bad cell."""
    fmt = detect_import_format(name)
    if not data.strip():
        raise InvalidInput("文件为空", file=name)
    issues: list[RowIssue] = []
    rows = _json_rows(data, name, issues) if fmt == "json" else _table_rows(table_rows(data, name), issues)
    records = _records(rows, issues)
    if not records and not issues:
        issues.append(RowIssue(1, "sku", "文件里没有任何商品"))
    if issues:
        raise ImportInvalid(name, issues, show=show_errors)
    return records


def column_name(raw: str) -> str | None:
    """A header cell → its field ('货号' → 'sku', '规格:容量' → 'spec:容量'); None if unknown."""
    text = raw.strip().lstrip("\ufeff")
    for prefix in SPEC_PREFIXES:
        if text.lower().startswith(prefix) and text[len(prefix) :].strip():
            return "spec:" + text[len(prefix) :].strip()
    key = text.lower().replace(" ", "_")
    key = ALIASES.get(key, key)
    return key if key in COLUMNS else None


def _table_rows(source: Iterator[tuple[int, list[str]]], issues: list[RowIssue]) -> list[_Row]:
    first = next(source, None)
    if first is None:
        issues.append(RowIssue(1, "header", f"文件为空，{HEADER_HELP}"))
        return []
    header_line, header = first
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = column_name(raw)
        if name is None:
            continue
        if name in columns:
            issues.append(RowIssue(header_line, name, f"表头中列 {name!r} 出现了两次"))
        columns[name] = index
    if "sku" not in columns:
        issues.append(RowIssue(header_line, "sku", f"表头缺少必填列 'sku'（{HEADER_HELP}）"))
    if issues:
        return []
    rows = []
    for line, cells in source:
        values = {c: cells[i] if i < len(cells) else "" for c, i in columns.items()}
        specs = {c[5:]: v for c, v in values.items() if c.startswith("spec:") and v}
        plain = {c: v for c, v in values.items() if not c.startswith("spec:")}
        rows.append(_Row(line, plain, specs))
    return rows


# The pure-Python scanner and object parser: typeshed leaves them out, the stdlib has them.
_JSONObject: Callable[..., tuple[dict[str, Any], int]] = vars(json.decoder)["JSONObject"]
_py_make_scanner: Callable[[json.JSONDecoder], Callable[[str, int], tuple[Any, int]]] = vars(json.scanner)[
    "py_make_scanner"
]


class _LineDecoder(json.JSONDecoder):
    """json with exact decimals whose objects remember the line they start on."""

    def __init__(self, text: str) -> None:
        super().__init__(parse_float=Decimal)
        self._newlines = [m.start() for m in re.finditer("\n", text)]

        def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
            obj, end = _JSONObject(s_and_end, *args)
            located = _Located(obj)
            located.line = bisect.bisect_left(self._newlines, s_and_end[1]) + 1
            return located, end

        self.parse_object = parse_object
        # The C scanner ignores an overridden parse_object; the Python one calls it.
        self.scan_once = _py_make_scanner(self)


class _Located(dict[str, Any]):
    line: int = 1


def _json_rows(data: bytes, name: str, issues: list[RowIssue]) -> list[_Row]:
    text = decode_text(data, name)
    try:
        parsed = _LineDecoder(text).decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"JSON 格式错误: {exc.msg}", file=name, line=exc.lineno) from None
    products = parsed.get("products") if isinstance(parsed, dict) else parsed
    if not isinstance(products, list):
        raise InvalidInput('JSON 应为商品列表 [...] 或 {"products": [...]}', file=name, line=1)
    rows: list[_Row] = []
    for index, item in enumerate(products, 1):
        if not isinstance(item, _Located):
            issues.append(RowIssue(1, f"products[{index}]", "每个商品应为一个对象 {...}"))
            continue
        rows.extend(_json_product(item, issues))
    return rows


def _json_product(item: _Located, issues: list[RowIssue]) -> Iterator[_Row]:
    cells: dict[str, str] = {}
    specs: dict[str, str] = {}
    variants: list[Any] | None = None
    for key, value in item.items():
        name = "variants" if key == "variants" else column_name(key)
        if name == "variants":
            if not isinstance(value, list):
                issues.append(RowIssue(item.line, "variants", "variants 应为列表 [...]"))
            else:
                variants = value
        elif name == "specs" and isinstance(value, dict):
            specs.update({str(k).strip(): _json_text(v) for k, v in value.items() if _json_text(v)})
        elif name is not None and name not in VARIANT_FIELDS:
            text = _json_scalar(value, item.line, name, issues)
            if text is not None:
                cells[name] = text
    yield _Row(item.line, cells, specs, clears_variants=variants == [])
    for index, raw in enumerate(variants or [], 1):
        if not isinstance(raw, _Located):
            issues.append(RowIssue(item.line, f"variants[{index}]", "每个款式应为一个对象 {...}"))
            continue
        row = {"sku": cells.get("sku", "")}
        for key, value in raw.items():
            target = {"name": "variant", "sku_suffix": "variant_sku", "sku": "variant_sku"}.get(key, key)
            target = column_name(target) or target
            if target in ("variant", "variant_sku", "price", "stock"):
                text = _json_scalar(value, raw.line, target, issues)
                if text is not None:
                    row[target] = text
        if not row.get("variant") and not row.get("variant_sku"):
            issues.append(RowIssue(raw.line, "variant", "款式缺少名称 (name)"))
            continue
        yield _Row(raw.line, row)


def _json_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _json_scalar(value: Any, line: int, name: str, issues: list[RowIssue]) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None or isinstance(value, str | int | Decimal):
        return _json_text(value)
    issues.append(RowIssue(line, name, f"{name} 应为文本或数字，收到 {type(value).__name__}"))
    return None


# --- validating -------------------------------------------------------------------------------


def parse_specs(raw: str, line: int, issues: list[RowIssue]) -> dict[str, str]:
    """'容量=500ml;材质=316不锈钢' → {'容量': '500ml', '材质': '316不锈钢'}."""
    specs: dict[str, str] = {}
    for part in _SPEC_SPLIT.split(raw):
        if not part.strip():
            continue
        match = _SPEC_PAIR.match(part)
        if match is None:
            issues.append(RowIssue(line, "specs", f"规格 {part.strip()!r} 应写成 名称=值，多项用 ; 分隔"))
            continue
        specs[match.group(1)] = match.group(2)
    return specs


def _parse_field(name: str, raw: str, line: int, issues: list[RowIssue]) -> Any:
    if name in TEXT_FIELDS:
        label, limit = TEXT_FIELDS[name]
        if limit is not None and len(raw) > limit:
            issues.append(RowIssue(line, name, f"{label}超过 {limit} 个字符: {raw[:20]!r}…"))
            return None
        return raw
    if name in MONEY_FIELDS:
        return parse_money(raw, line, name, MONEY_FIELDS[name], issues, places=2)
    if name in COUNT_FIELDS:
        label, minimum = COUNT_FIELDS[name]
        return parse_count(raw, line, name, label, issues, minimum=minimum)
    return parse_flag(raw, line, name, "上架标记", issues)


def _suffix(sku: str, code: str) -> str:
    """'ST-771-BK' of product 'ST-771' → 'BK'; a bare suffix stays as it is."""
    if code.upper().startswith(sku.upper() + "-") and len(code) > len(sku) + 1:
        return code[len(sku) + 1 :]
    return code


def _records(rows: Iterable[_Row], issues: list[RowIssue]) -> list[ProductRecord]:
    records: dict[str, ProductRecord] = {}
    for row in rows:
        sku = row.cells.get("sku", "")
        if not sku:
            issues.append(RowIssue(row.line, "sku", "货号 (sku) 为空"))
            continue
        if len(sku) > MAX_SKU_LEN:
            issues.append(RowIssue(row.line, "sku", f"货号超过 {MAX_SKU_LEN} 个字符: {sku[:20]!r}…"))
            continue
        record = records.setdefault(sku, ProductRecord(sku, row.line))
        variant_name = row.cells.get("variant", "")
        variant_code = _suffix(sku, row.cells.get("variant_sku", ""))
        is_variant = bool(variant_name or variant_code)
        for name in PRODUCT_FIELDS:
            raw = row.cells.get(name, "")
            if not raw or (is_variant and name in ("price", "stock")):
                continue
            value = _parse_field(name, raw, row.line, issues)
            if value is None:
                continue
            if name in record.values and record.values[name] != value:
                issues.append(
                    RowIssue(
                        row.line,
                        name,
                        f"与第 {record.lines[name]} 行的 {record.values[name]!s} 不一致："
                        "同一商品只能有一个值",
                    )
                )
                continue
            record.values[name], record.lines[name] = value, row.line
        specs = dict(row.specs)
        if row.cells.get("specs"):
            specs = parse_specs(row.cells["specs"], row.line, issues) | specs
        if specs:
            merged = record.attributes if record.attributes is not None else {}
            for key, value in specs.items():
                if merged.get(key, value) != value:
                    message = f"规格 {key!r} 与前面行的 {merged[key]!r} 不一致"
                    issues.append(RowIssue(row.line, "specs", message))
                merged[key] = value
            record.attributes = merged
        if row.clears_variants:
            record.variants = []
        if is_variant:
            _add_variant(record, row, variant_name or variant_code, variant_code, issues)
    return list(records.values())


def _add_variant(record: ProductRecord, row: _Row, name: str, code: str, issues: list[RowIssue]) -> None:
    variants = record.variants if record.variants is not None else []
    record.variants = variants
    for other in variants:
        if other.name == name or (code and other.suffix == code):
            issues.append(
                RowIssue(row.line, "variant", f"款式 {name!r} 在第 {other.line} 行已出现，同一款式只能一行")
            )
            return
    before = len(issues)
    price = parse_money(row.cells.get("price", ""), row.line, "price", "款式价格", issues, places=2)
    stock = parse_count(row.cells.get("stock", ""), row.line, "stock", "款式库存", issues)
    if len(issues) == before:
        variants.append(VariantRecord(name, code, price, stock, row.line))


# --- planning against the catalog ---------------------------------------------------------------


@dataclass(frozen=True)
class ProductChange:
    sku: str
    line: int
    # A new product: every column. An update: only the columns whose value changes.
    values: dict[str, Any]


@dataclass(frozen=True)
class ImportPlan:
    create: list[ProductChange]
    update: list[ProductChange]
    unchanged: list[str]

    @property
    def changed_skus(self) -> list[str]:
        return [c.sku for c in (*self.create, *self.update)]


def plan_import(
    name: str,
    records: Iterable[ProductRecord],
    existing: Mapping[str, Mapping[str, Any]],
    *,
    show_errors: int = 10,
) -> ImportPlan:
    """What to create and update so the catalog holds the file's products; `existing` maps the
    shop's stored SKUs to their column values. Raises `ImportInvalid` when any product cannot be
    stored (a new product without title, a floor price above the price, …)."""
    issues: list[RowIssue] = []
    plan = ImportPlan([], [], [])
    for record in records:
        stored = existing.get(record.sku)
        values = _merge(record, stored, issues)
        if values is None:
            continue
        if stored is None:
            plan.create.append(ProductChange(record.sku, record.line, values))
            continue
        changed = {k: v for k, v in values.items() if not _same(k, stored.get(k), v)}
        if changed:
            plan.update.append(ProductChange(record.sku, record.line, changed))
        else:
            plan.unchanged.append(record.sku)
    if issues:
        raise ImportInvalid(name, issues, show=show_errors)
    return plan


def _merge(
    record: ProductRecord, stored: Mapping[str, Any] | None, issues: list[RowIssue]
) -> dict[str, Any] | None:
    before = len(issues)
    given = record.values
    old: Mapping[str, Any] = stored or {}
    if stored is None:
        for required in ("title", "category"):
            if not given.get(required):
                label = TEXT_FIELDS[required][0]
                message = f"新商品 {record.sku!r} 需要{label} ({required})"
                issues.append(RowIssue(record.line, required, message))
    values: dict[str, Any] = {k: v for k, v in given.items() if k not in ("price", "stock")}
    price: Decimal | None = given.get("price")
    stock: int | None = given.get("stock")
    if record.variants is not None:
        variants = _merge_variants(record, old, price, issues)
        if variants is not None:
            values["variants"] = variants
            prices = [Decimal(v["price"]) for v in variants]
            if price is None and prices:
                price = min(prices)
            total = sum(int(v["stock"]) for v in variants)
            if total > COUNT_MAX:
                message = f"各款式库存之和 {total} 超出上限 {COUNT_MAX}"
                issues.append(RowIssue(record.lines.get("stock", record.line), "stock", message))
            elif stock is not None and variants and stock != total:
                issues.append(
                    RowIssue(
                        record.lines["stock"],
                        "stock",
                        f"商品库存 {stock} 与各款式库存之和 {total} 不一致（有款式时可留空，自动求和）",
                    )
                )
            stock = total if variants else stock
    price = price if price is not None else old.get("price")
    if len(issues) > before:
        return None  # a variant without a price already says what is missing
    if price is None:
        issues.append(RowIssue(record.line, "price", f"新商品 {record.sku!r} 需要价格 (price)"))
    else:
        values["price"] = price
        floor = given.get("floor_price", old.get("floor_price", price))
        values["floor_price"] = floor
        if floor > price:
            which = "floor_price" if "floor_price" in given else "price"
            issues.append(
                RowIssue(
                    record.lines.get(which, record.line),
                    which,
                    f"底价 {floor} 高于售价 {price}，请调整价格或同时填写 floor_price",
                )
            )
    if stock is not None:
        values["stock"] = stock
    elif stored is None:
        values["stock"] = 0
    if record.attributes is not None:
        values["attributes"] = dict(record.attributes)
    if stored is None:
        values.setdefault("attributes", {})
        values.setdefault("variants", [])
    return values if len(issues) == before else None


def _merge_variants(
    record: ProductRecord, old: Mapping[str, Any], product_price: Decimal | None, issues: list[RowIssue]
) -> list[dict[str, Any]] | None:
    stored = [v for v in old.get("variants") or [] if isinstance(v, Mapping)]
    out: list[dict[str, Any]] = []
    ok = True
    for variant in record.variants or []:
        match = next(
            (
                v
                for v in stored
                if (variant.suffix and str(v.get("sku_suffix") or "") == variant.suffix)
                or str(v.get("name", "")) == variant.name
            ),
            None,
        )
        price = variant.price
        if price is None and match is not None and match.get("price") is not None:
            price = Decimal(str(match["price"]))
        price = price if price is not None else product_price
        if price is None:
            price = old.get("price")
        if price is None:
            issues.append(RowIssue(variant.line, "price", f"新款式 {variant.name!r} 需要价格 (price)"))
            ok = False
            continue
        stock = variant.stock
        if stock is None:
            stock = int(match.get("stock", 0)) if match is not None else 0
        out.append(
            {
                "name": variant.name,
                "sku_suffix": variant.suffix,
                "price": f"{Decimal(price).quantize(Decimal('0.01'))}",
                "stock": stock,
            }
        )
    return out if ok else None


def _variant_key(variants: Any) -> list[tuple[str, str, Decimal, int]]:
    out = []
    for v in variants or []:
        if isinstance(v, Mapping):
            out.append(
                (
                    str(v.get("name", "")),
                    str(v.get("sku_suffix") or ""),
                    Decimal(str(v.get("price", "0"))),
                    int(v.get("stock", 0)),
                )
            )
    return out


def _same(column: str, old: Any, new: Any) -> bool:
    if column == "variants":
        return _variant_key(old) == _variant_key(new)
    if column == "attributes":
        return {str(k): str(v) for k, v in (old or {}).items()} == {str(k): str(v) for k, v in new.items()}
    if isinstance(new, Decimal) and old is not None:
        return Decimal(str(old)) == new
    return bool(old == new)
