"""Pure helpers of the agent's tools."""

from __future__ import annotations

import pytest

from agents.customer_service.errors import InvalidShopPolicy
from agents.customer_service.normalize import fold
from agents.customer_service.schemas import OrderNumberFormat, ShopPolicy
from agents.customer_service.tools import asks_order_status, card_skus, find_order_no
from retrieval.search import Hit, MatchedBy


@pytest.mark.parametrize(
    "text",
    [
        "我买的东西到哪了",
        "查下物流 急用",
        "kd到了没",
        "昨天下的单 发货了没",
        "帮我催一下快递呗",
        "包裹还在路上吗",
    ],
)
def test_questions_about_the_customers_own_order(text: str) -> None:
    assert asks_order_status(fold(text))


@pytest.mark.parametrize(
    "text",
    [
        "不满99要运费吗 多少",
        "能指定发顺丰吗",
        "江浙沪一般几天到",
        "今天下单啥时候发",
        "能寄到香港吗",
        "快递显示签收了但我没收到",
    ],
)
def test_shipping_policy_questions_are_not_about_an_order(text: str) -> None:
    assert not asks_order_status(fold(text))


def _card(sku: str, matched_by: MatchedBy, score: float) -> Hit:
    return Hit(f"c-{sku}", f"product:{sku}", "product", sku, "", "商品卡", score, matched_by, sku=sku)


def test_a_literally_matched_top_card_keeps_only_literal_matches() -> None:
    # 一段奶粉: the 1段 card matched on its stage; the 3段 card only sounds alike.
    faq = Hit("f1", "faq:faq.csv", "faq", "常见问题", "", "问：奶粉1段和2段能混着吃吗？", 0.028, "dense")
    hits = [
        _card("MB-111", "exact", 0.045),
        _card("MB-113", "dense", 0.029),
        faq,
        _card("MB-112", "exact", 0.02),
    ]
    assert card_skus(hits) == ["MB-111"]
    hits = [_card("MB-111", "exact", 0.045), _card("MB-112", "exact", 0.04), _card("MB-113", "dense", 0.03)]
    assert card_skus(hits) == ["MB-111", "MB-112"]


def test_without_a_literal_top_match_the_top_cards_are_kept() -> None:
    faq = Hit("f1", "faq:faq.csv", "faq", "常见问题", "", "问：跑鞋偏大还是偏小？", 0.03, "dense")
    hits = [
        _card("FS-503", "dense", 0.029),
        _card("MB-103", "lexical", 0.027),
        _card("FS-504", "exact", 0.02),
    ]
    assert card_skus(hits) == ["FS-503", "MB-103", "FS-504"]
    # an FAQ on top: the literal match below it does not narrow the cards either
    assert card_skus([faq, _card("FS-504", "exact", 0.02), _card("FS-503", "dense", 0.01)]) == [
        "FS-504",
        "FS-503",
    ]


# -- the shop's order-number format ------------------------------------------------------------


def _format(order_number: dict[str, str]) -> OrderNumberFormat:
    return ShopPolicy.from_shop_settings({"cs": {"order_number": order_number}}).order_number


def test_the_default_format_asks_without_an_example() -> None:
    assert find_order_no("订单号是ab12345678") == "AB12345678"
    assert OrderNumberFormat().request == "麻烦发一下订单号"


def test_a_shop_with_digit_order_numbers_finds_them_and_asks_by_its_example() -> None:
    digits = _format({"pattern": r"\d{18,19}", "example": "2401151234567890123"})
    assert find_order_no("单号 240115123456789012 怎么还没发", digits) == "240115123456789012"
    # Not inside a longer run of digits, and not another shop's LM number.
    assert find_order_no("卡号 62284801234567890123", digits) is None
    assert find_order_no("订单LM2026112000001", digits) is None
    assert digits.request == "麻烦发一下订单号（例如 2401151234567890123）"


def test_the_demo_format_wants_its_exact_length() -> None:
    demo = _format({"pattern": r"LM\d{13}", "example": "LM2026112000001"})
    assert find_order_no("lm2026112000001 到哪了", demo) == "LM2026112000001"
    assert find_order_no("LM20261120001", demo) is None


@pytest.mark.parametrize(
    ("order_number", "field", "says"),
    [
        ({"pattern": "LM(\\d"}, "cs.order_number.pattern", "不是合法的正则"),
        ({"pattern": "\\d*"}, "cs.order_number.pattern", "能匹配空字符串"),
        ({"pattern": "LM\\d{13}", "example": "2024112012345"}, "cs.order_number", "不符合订单号格式"),
        ({"pattern": "LM\\d{13}", "prefix": "LM"}, "cs.order_number.prefix", ""),
    ],
)
def test_a_bad_order_number_format_is_refused_with_its_field(
    order_number: dict[str, str], field: str, says: str
) -> None:
    with pytest.raises(InvalidShopPolicy) as exc:
        _format(order_number)
    assert exc.value.field == field and says in exc.value.detail
