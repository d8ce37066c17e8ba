from __future__ import annotations

from decimal import Decimal

import pytest

from agents.copywriter.facts import FactKind, ProductFacts, check_facts

CUP = ProductFacts.from_mapping(
    {
        "sku": "CUP-316-500",
        "title": "316不锈钢保温杯 500ml",
        "price": "89.00",
        "floor_price": "79.00",
        "attributes": {"容量": "500ml", "材质": "316不锈钢", "保温时长": "12小时", "重量": "0.35kg"},
        "variants": [{"name": "大号", "price": "109.00"}],
    }
)


def kinds(text: str, product: ProductFacts = CUP) -> list[tuple[FactKind, str]]:
    return [(m.kind, m.claimed) for m in check_facts(text, product).mismatches]


def test_copy_that_states_the_record_passes() -> None:
    report = check_facts("316不锈钢内胆，500ml刚好放包里，保温12小时，到手价¥89", CUP)
    assert report.ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("到手价¥69", [("price", "¥69")]),
        ("今天只要59元", [("price", "只要59")]),
        ("600ml大容量", [("capacity", "600ml")]),
        ("0.6L大容量", [("capacity", "0.6L")]),
        ("保温24小时", [("duration", "24小时")]),
        ("净重500g", [("weight", "500g")]),
        ("304不锈钢内胆", [("material", "304不锈钢")]),
        ("食品级硅胶杯盖", [("material", "食品级硅胶")]),
    ],
)
def test_each_kind_of_mismatch_is_found(text: str, expected: list[tuple[FactKind, str]]) -> None:
    assert kinds(text) == expected


def test_units_are_compared_after_conversion() -> None:
    assert kinds("0.5L，350克，约0.7斤") == []


def test_floor_variant_and_stated_promo_prices_are_known() -> None:
    assert kinds("大号¥109，活动价79元") == []
    assert check_facts("秒杀价 66元", CUP, allowed_prices=[Decimal("66")]).ok


def test_discounts_thresholds_and_service_promises_are_not_product_facts() -> None:
    assert kinds("满199减30，立减10元，24小时内发货，5G手机也能扫码") == []


def test_generic_material_matches_a_specific_record() -> None:
    assert kinds("不锈钢内胆") == []


def test_mismatch_says_what_the_record_holds() -> None:
    (mismatch,) = check_facts("304不锈钢，", CUP).mismatches
    assert mismatch.expected == ("316不锈钢",)
    assert (mismatch.start, mismatch.end) == (0, 6)
    assert "316不锈钢" in mismatch.detail


def test_claims_the_record_does_not_cover_are_flagged() -> None:
    towel = ProductFacts(sku="T1", title="纯棉毛巾", price=Decimal("19.9"))
    (mismatch,) = check_facts("吸水快，续航10小时", towel).mismatches
    assert (mismatch.kind, mismatch.expected) == ("duration", ())
    assert "没有时长信息" in mismatch.detail
