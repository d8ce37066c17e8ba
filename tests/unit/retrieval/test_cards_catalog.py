from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from retrieval.cards import arabic_numerals, extract_terms, product_card, variant_parts
from retrieval.catalog import CatalogIndex, compact, decode_terms, encode_terms, is_code


@dataclass
class P:
    sku: str
    title: str
    category: str
    subcategory: str | None = None
    brand: str | None = None
    description: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    variants: list[Any] = field(default_factory=list)


CUP = P(
    sku="ST-771",
    title="鹿鸣 316不锈钢保温杯 500ml",
    category="家居",
    subcategory="水杯",
    brand="鹿鸣",
    description="保温12小时，原价199元，现价¥99！",
    attributes={"容量": "500ml", "材质": "316不锈钢", "价格": "99"},
    variants=[
        {"name": "红色", "sku_suffix": "RD", "price": "99.00", "stock": 12},
        {"name": "黑色", "sku_suffix": "BK", "price": "109.00", "stock": 0},
    ],
)


def test_card_has_structure_and_only_price_and_stock_references() -> None:
    card = product_card(CUP)
    assert card.text.splitlines() == [
        "商品：鹿鸣 316不锈钢保温杯 500ml",
        "货号：ST-771",
        "类目：家居 / 水杯",
        "品牌：鹿鸣",
        "规格：容量：500ml；材质：316不锈钢",
        "款式：红色（货号 ST-771-RD）；黑色（货号 ST-771-BK）",
        "简介：保温12小时，，！",
        "价格：以店铺实时价格为准（查询 sku=ST-771）",
        "库存：以店铺实时库存为准（查询 sku=ST-771）",
    ]
    for number in ("99", "109", "199", "12 "):
        assert number not in card.text.replace("12小时", "")
    assert {"st-771", "st-771-rd", "500ml", "红色", "黑色"} <= set(card.terms)


def test_card_hash_is_stable_and_tracks_content() -> None:
    assert product_card(CUP).content_hash == product_card(CUP).content_hash
    changed = P(**{**CUP.__dict__, "title": "鹿鸣 保温杯 750ml"})
    assert product_card(changed).content_hash != product_card(CUP).content_hash


def test_extract_terms_finds_codes_sizes_and_colours() -> None:
    assert extract_terms("ST-771有没有红色的，XL码，1.5L") == ["st-771", "1.5l", "1.5l", "xl", "红色"]
    assert is_code("ST-771") and is_code("a3pro") and not is_code("500ml") and not is_code("xl")
    assert compact("ST 771") == compact("st-771") == "st771"


def test_terms_round_trip_through_metadata() -> None:
    assert decode_terms(encode_terms(("st-771", "红色"))) == ("st-771", "红色")
    assert decode_terms("") == () and decode_terms(None) == ()


def test_catalog_code_beats_attributes() -> None:
    catalog = CatalogIndex(
        [
            (0, ("st-771", "500ml", "红色")),
            (1, ("st-772", "500ml", "黑色")),
            (2, ("mb-101", "xl")),
        ]
    )
    matches = catalog.match("st772 红色 500ml 的")
    assert [(m.position, m.score, m.by_code) for m in matches] == [(1, 4.0, True), (0, 2.0, False)]
    assert [m.position for m in catalog.match("要XL码")] == [2]
    assert catalog.match("随便问问") == []


def test_store_products_make_cards() -> None:
    from decimal import Decimal

    from store.models import Product

    product = Product(
        shop_id=1,
        sku="FS-501",
        title="轻野 速干运动T恤 男款",
        category="服饰运动",
        subcategory=None,
        brand="轻野",
        description="",
        attributes={"材质": "聚酯纤维"},
        variants=[{"name": "黑色 XL", "sku_suffix": "BK-XL", "price": "59.00", "stock": 3}],
        price=Decimal("59.00"),
        floor_price=Decimal("45.00"),
    )
    card = product_card(product)
    assert "款式：黑色 XL（货号 FS-501-BK-XL）" in card.text
    assert "59" not in card.text
    assert {"fs-501", "fs-501-bk-xl", "xl", "黑色"} <= set(card.terms)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("一段奶粉还有吗", "1段奶粉还有吗"),
        ("四十一码的跑鞋", "41码的跑鞋"),
        ("要两包", "要2包"),
        ("一百零五片装", "105片装"),
        ("十码", "10码"),
        # 一段 as a stretch of time or road, and 一 inside a word, are not numbers of a unit
        ("用了一段时间就坏了", "用了一段时间就坏了"),
        ("走一段路", "走一段路"),
        ("统一包装吗", "统一包装吗"),
        ("四一码", "41码"),  # typed digit by digit
    ],
)
def test_chinese_numerals_before_a_unit_become_digits(text: str, digits: str) -> None:
    assert arabic_numerals(text) == digits


def test_stage_words_are_terms_and_match_chinese_numerals() -> None:
    assert "1段" in extract_terms("有机婴儿配方奶粉 1段 800g")
    catalog = CatalogIndex([(0, ("mb-111", "1段", "800g")), (1, ("mb-113", "3段", "800g"))])
    assert [m.position for m in catalog.match("一段奶粉还有吗")] == [0]
    assert [m.position for m in catalog.match("三段的呢")] == [1]
    # a digit term is not the tail of a longer number
    assert catalog.match("11段") == []


def test_bare_variant_numbers_are_sizes_but_shade_numbers_are_not() -> None:
    assert variant_parts("白灰 41") == ["白灰", "41码"]
    assert variant_parts("#12 枫叶棕") == ["枫叶棕"]
    assert variant_parts("象牙白 01") == ["象牙白"]
    shoe = P(
        sku="FS-503",
        title="轻野 轻量缓震跑鞋",
        category="服饰运动",
        attributes={"重量": "约235g (42码)"},
        variants=[{"name": "白灰 41", "sku_suffix": "WG-41"}, {"name": "黑 43", "sku_suffix": "BK-43"}],
    )
    card = product_card(shoe)
    assert {"41码", "43码", "白灰"} <= set(card.terms)
    catalog = CatalogIndex([(0, card.terms), (1, product_card(CUP).terms)])
    assert [m.position for m in catalog.match("跑鞋41码有没有")] == [0]


def test_card_hash_tracks_the_terms_read_from_it() -> None:
    # Same card text, different variant sizes read from it: the card must be re-indexed.
    a = P(sku="FS-9", title="跑鞋", category="鞋", variants=[{"name": "白 41"}])
    b = P(sku="FS-9", title="跑鞋", category="鞋", variants=[{"name": "白 #41"}])
    assert product_card(a).terms != product_card(b).terms
    assert product_card(a).content_hash != product_card(b).content_hash
