"""The product-file parser and the import plan: CSV in three encodings, XLSX, JSON with nested
variants, every bad cell named by line and field, and the upsert plan against a stored catalog."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook

from agents.knowledge.catalog_parse import ProductRecord, column_name, parse_products, plan_import
from store.errors import ImportInvalid, InvalidInput

CSV_CN = (
    "货号,商品名称,类目,品牌,价格,底价,库存,规格,款式,款式货号\n"
    "ST-771,清居 真空保温杯 500ml,家居日用,清居,89,69,,容量=500ml；材质=316不锈钢,黑色,BK\n"
    "ST-771,,,,99,,4,,白色,ST-771-WH\n"
    "TEA-01,明前龙井 250g,茶叶,,128.5,99,30,,,\n"
)


def _by_sku(records: list[ProductRecord]) -> dict[str, ProductRecord]:
    return {r.sku: r for r in records}


def _check_cn(records: list[ProductRecord]) -> None:
    cup, tea = _by_sku(records)["ST-771"], _by_sku(records)["TEA-01"]
    assert [r.sku for r in records] == ["ST-771", "TEA-01"]
    assert cup.values == {
        "title": "清居 真空保温杯 500ml",
        "category": "家居日用",
        "brand": "清居",
        "floor_price": Decimal("69.00"),
    }
    assert cup.attributes == {"容量": "500ml", "材质": "316不锈钢"}
    assert cup.variants is not None
    assert [(v.name, v.suffix, v.price, v.stock, v.line) for v in cup.variants] == [
        ("黑色", "BK", Decimal("89.00"), None, 2),
        ("白色", "WH", Decimal("99.00"), 4, 3),
    ]
    assert tea.values["price"] == Decimal("128.50") and tea.values["stock"] == 30
    assert tea.variants is None and tea.attributes is None and tea.line == 4


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_each_encoding(encoding: str) -> None:
    _check_cn(parse_products("商品.csv", CSV_CN.encode(encoding)))


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_numeric_cells() -> None:
    data = _xlsx(
        [
            ["货号", "商品名称", "类目", "品牌", "价格", "底价", "库存", "规格", "款式", "款式货号"],
            [
                "ST-771",
                "清居 真空保温杯 500ml",
                "家居日用",
                "清居",
                89,
                69.0,
                None,
                "容量=500ml；材质=316不锈钢",
                "黑色",
                "BK",
            ],
            ["ST-771", None, None, None, 99, None, 4.0, None, "白色", "ST-771-WH"],
            ["TEA-01", "明前龙井 250g", "茶叶", None, 128.5, 99, 30, None, None, None],
        ]
    )
    _check_cn(parse_products("商品.xlsx", data))


def test_xlsx_errors_name_the_excel_row() -> None:
    data = _xlsx([["sku", "title", "category", "price"], [], ["A-1", "杯子", "家居", "九块九"]])
    with pytest.raises(ImportInvalid) as info:
        parse_products("p.xlsx", data)
    assert [(i.line, i.field) for i in info.value.issues] == [(3, "price")]


def test_not_an_xlsx() -> None:
    with pytest.raises(InvalidInput, match="不是有效的 XLSX"):
        parse_products("p.xlsx", b"sku,title\nA,B\n")


JSON_DOC = """{
  "products": [
    {
      "sku": "ST-771",
      "title": "清居 真空保温杯 500ml",
      "category": "家居日用",
      "specs": {"容量": "500ml", "材质": "316不锈钢"},
      "floor_price": 69,
      "variants": [
        {"name": "黑色", "sku_suffix": "BK", "price": 89},
        {"name": "白色", "sku": "ST-771-WH", "price": "99.00", "stock": 4}
      ]
    },
    {"sku": "TEA-01", "title": "明前龙井 250g", "category": "茶叶", "price": 128.5, "stock": 30}
  ]
}"""


def test_json_with_nested_variants() -> None:
    records = parse_products("p.json", JSON_DOC.encode())
    cup = _by_sku(records)["ST-771"]
    assert cup.line == 3 and cup.attributes == {"容量": "500ml", "材质": "316不锈钢"}
    assert cup.variants is not None
    assert [(v.name, v.suffix, v.price, v.stock, v.line) for v in cup.variants] == [
        ("黑色", "BK", Decimal("89.00"), None, 10),
        ("白色", "WH", Decimal("99.00"), 4, 11),
    ]
    assert _by_sku(records)["TEA-01"].values["price"] == Decimal("128.50")
    assert parse_products("p.json", json.dumps([{"sku": "A", "price": 1}]).encode())[0].values == {
        "price": Decimal("1.00")
    }


def test_json_errors_name_the_object_line() -> None:
    broken = JSON_DOC.replace('"price": "99.00"', '"price": "九十九"').replace('"stock": 30', '"stock": -3')
    with pytest.raises(ImportInvalid) as info:
        parse_products("p.json", broken.encode())
    assert [(i.line, i.field) for i in info.value.issues] == [(11, "price"), (14, "stock")]
    with pytest.raises(InvalidInput) as syntax:
        parse_products("p.json", b'[\n  {"sku": "A",\n  "price": }\n]')
    assert syntax.value.line == 3


def test_every_bad_cell_is_reported_with_line_and_field() -> None:
    text = (
        "sku,title,category,price,floor_price,stock,moq,active,specs\n"
        "A-1,杯子,家居,19.9,15,10,1,是,容量=300ml\n"
        ",没货号,家居,9,9,1,1,1,\n"  # 3: sku empty
        "A-2,碗,家居,-1,,1,1,1,\n"  # 4: negative price
        "A-3,盘,家居,9.999,,1,1,1,\n"  # 5: three decimals
        "A-4,勺,家居,9,,2.5,1,1,\n"  # 6: stock not whole
        "A-5,筷,家居,9,,1,0,1,\n"  # 7: moq below 1
        "A-6,锅,家居,9,,1,1,也许,\n"  # 8: flag
        "A-7,壶,家居,9,,1,1,1,容量500ml\n"  # 9: spec without '='
        "A-1,杯子 大号,家居,19.9,15,10,1,是,\n"  # 10: title contradicts line 2
    )
    with pytest.raises(ImportInvalid) as info:
        parse_products("bad.csv", text.encode())
    err = info.value
    assert [(i.line, i.field) for i in err.issues] == [
        (3, "sku"),
        (4, "price"),
        (5, "price"),
        (6, "stock"),
        (7, "moq"),
        (8, "active"),
        (9, "specs"),
        (10, "title"),
    ]
    assert (err.file, err.line, err.field) == ("bad.csv", 3, "sku")
    assert err.detail.startswith("文件 'bad.csv', 第 3 行, 字段 'sku': 共 8 处错误，未导入任何数据。")
    assert "第 10 行 字段 'title': 与第 2 行的 杯子 不一致" in err.detail


@pytest.mark.parametrize("suffix", ["csv", "json", "xlsx"])
def test_numbers_beyond_their_columns_are_bad_cells(suffix: str) -> None:
    """The cells are valid numbers, but no database column holds them: before, the import
    answered 500 when the write overflowed; now each is an issue naming its line and field."""
    rows = [
        ["sku", "title", "category", "price", "stock", "moq"],
        ["A-1", "杯子", "家居", "9", "99999999999999999999", "1"],
        ["A-2", "碗", "家居", "12345678901", "1", "2147483648"],
    ]
    if suffix == "csv":
        data = "\n".join(",".join(row) for row in rows).encode()
    elif suffix == "xlsx":
        data = _xlsx([rows[0], *[[int(c) if c.isdigit() else c for c in row] for row in rows[1:]]])
    else:
        items = [
            {k: (int(v) if v.isdigit() else v) for k, v in zip(rows[0], row, strict=True)} for row in rows[1:]
        ]
        data = ("[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]").encode()
    with pytest.raises(ImportInvalid) as info:
        parse_products(f"big.{suffix}", data)
    assert [(i.line, i.field) for i in info.value.issues] == [(2, "stock"), (3, "price"), (3, "moq")]
    assert info.value.detail.startswith(f"文件 'big.{suffix}', 第 2 行, 字段 'stock': 共 3 处错误")
    # Excel keeps 20 digits as a float, so the XLSX cell reads '100000000000000000000'.
    assert re.search(r"第 2 行 字段 'stock': 库存 '\d{20,21}' 超出上限 2147483647", info.value.detail)


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("title,price\n杯子,9\n", "sku", 1),
        ("\n\nsku,sku\nA,B\n", "sku", 3),
        ("sku,title\n", "sku", 1),
        ("sku,variant\nA,红\nA,红\n", "variant", 3),
    ],
)
def test_header_and_structure_problems(text: str, field: str, line: int) -> None:
    with pytest.raises(ImportInvalid) as info:
        parse_products("x.csv", text.encode())
    assert (info.value.field, info.value.line) == (field, line)


def test_unsupported_suffix_and_empty_file() -> None:
    with pytest.raises(InvalidInput, match="不支持的商品文件类型"):
        parse_products("p.xls", b"x")
    with pytest.raises(InvalidInput, match="文件为空"):
        parse_products("p.csv", b"  \n")


def test_column_names() -> None:
    assert [column_name(c) for c in ("货号", " Price ", "规格:容量", "spec:颜色", "备注")] == [
        "sku",
        "price",
        "spec:容量",
        "spec:颜色",
        None,
    ]


# --- the plan -------------------------------------------------------------------------------


STORED: dict[str, dict[str, Any]] = {
    "ST-771": {
        "title": "清居 真空保温杯 500ml",
        "category": "家居日用",
        "subcategory": None,
        "brand": "清居",
        "description": "",
        "attributes": {"容量": "500ml", "材质": "316不锈钢"},
        "variants": [
            {"name": "黑色", "sku_suffix": "BK", "price": "89.00", "stock": 0},
            {"name": "白色", "sku_suffix": "WH", "price": "99.00", "stock": 4},
        ],
        "price": Decimal("89.00"),
        "floor_price": Decimal("69.00"),
        "unit_cost": None,
        "stock": 4,
        "lead_time_days": 7,
        "moq": 1,
        "case_pack": 1,
        "repurchase_cycle_days": None,
        "active": True,
    }
}


def _plan_csv(text: str, stored: dict[str, dict[str, Any]] | None = None) -> Any:
    return plan_import("p.csv", parse_products("p.csv", text.encode()), stored or {})


def test_plan_creates_with_derived_price_stock_and_floor() -> None:
    plan = plan_import("p.csv", parse_products("p.csv", CSV_CN.encode()), {})
    assert [c.sku for c in plan.create] == ["ST-771", "TEA-01"] and not plan.update
    cup = plan.create[0].values
    assert cup["price"] == Decimal("89.00") and cup["stock"] == 4  # lowest variant price, summed stock
    assert cup["variants"] == [
        {"name": "黑色", "sku_suffix": "BK", "price": "89.00", "stock": 0},
        {"name": "白色", "sku_suffix": "WH", "price": "99.00", "stock": 4},
    ]
    tea = plan.create[1].values
    assert (tea["floor_price"], tea["attributes"], tea["variants"]) == (Decimal("99.00"), {}, [])
    only_price = _plan_csv("sku,title,category,price\nN-1,新品,杂货,20\n").create[0].values
    assert only_price["floor_price"] == Decimal("20.00") and only_price["stock"] == 0


def test_plan_reimport_is_unchanged_and_a_price_change_updates_only_that() -> None:
    again = plan_import("p.csv", parse_products("p.csv", CSV_CN.encode()), STORED)
    assert again.unchanged == ["ST-771"] and [c.sku for c in again.create] == ["TEA-01"]
    cheaper = _plan_csv("sku,variant,variant_sku,price\nST-771,黑色,BK,79\nST-771,白色,WH,99\n", STORED)
    assert [c.sku for c in cheaper.update] == ["ST-771"]
    assert cheaper.update[0].values == {
        "price": Decimal("79.00"),
        "variants": [
            {"name": "黑色", "sku_suffix": "BK", "price": "79.00", "stock": 0},
            {"name": "白色", "sku_suffix": "WH", "price": "99.00", "stock": 4},
        ],
    }
    titled = _plan_csv("sku,title\nST-771,清居 真空保温杯 500ml 新款\n", STORED)
    assert titled.update[0].values == {"title": "清居 真空保温杯 500ml 新款"}, (
        "blank cells keep stored values"
    )


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("sku,category,price\nNEW-1,家居,10\n", 2, "title"),
        ("sku,title,category\nNEW-1,杯,家居\n", 2, "price"),
        ("sku,title,category,price,floor_price\nNEW-1,杯,家居,10,12\n", 2, "floor_price"),
        ("sku,price\nST-771,50\n", 2, "price"),  # below the stored floor 69
        ("sku,stock,variant,price\nST-771,,黑色,89\nST-771,9,,\n", 3, "stock"),  # 9 != 0 + 0
        ("sku,title,category,variant\nNEW-2,杯,家居,红色\n", 2, "price"),
        # Each variant's stock fits a column; their sum, the product's stock, does not.
        ("sku,variant,stock\nST-771,黑色,2000000000\nST-771,白色,2000000000\n", 2, "stock"),
    ],
)
def test_plan_rejects_products_that_cannot_be_stored(text: str, line: int, field: str) -> None:
    with pytest.raises(ImportInvalid) as info:
        _plan_csv(text, STORED)
    assert (info.value.line, info.value.field) == (line, field)
    assert len(info.value.issues) == 1


def test_a_quoted_multiline_description_keeps_later_line_numbers() -> None:
    text = 'sku,title,category,price,description\nA-1,杯,家居,9,"第一行\n第二行"\n\nA-2,碗,家居,九,\n'
    with pytest.raises(ImportInvalid) as info:
        parse_products("p.csv", text.encode())
    assert [(i.line, i.field) for i in info.value.issues] == [(5, "price")]
    ok = parse_products("p.csv", text.replace("九", "9").encode())
    assert ok[0].values["description"] == "第一行\n第二行" and ok[1].line == 5
