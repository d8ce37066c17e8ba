"""Pure helpers of the agent's tools."""

from __future__ import annotations

import pytest

from agents.customer_service.normalize import fold
from agents.customer_service.tools import asks_order_status


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
