"""The merchant agent's rule-based parser: intent, time range, SKU and budget from colloquial,
typo-ridden questions; and the guard that keeps an LLM's numbers the tools' numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from agents.forecaster.merchant import (
    Intent,
    MerchantAnswer,
    numbers_grounded,
    parse,
    parse_budget,
    parse_range,
)

TODAY = date(2025, 12, 3)  # a Wednesday
CATALOG = [
    ("ST-771", "清居 316不锈钢保温杯 500ml"),
    ("ST-772", "清居 316不锈钢保温杯 750ml"),
    ("MB-101", "小鹿贝贝 轻薄透气纸尿裤 M码 64片"),
    ("MB-104", "小鹿贝贝 新生儿纸尿裤 NB码 84片"),
    ("MB-111", "山谷牧场 有机婴儿配方奶粉 1段 800g"),
    ("MB-121", "棉柔时光 婴儿手口湿巾 80抽×6包"),
    ("MZ-209", "柔光 持妆粉底液 30ml"),
    ("FS-512", "暖冬 摇粒绒外套 男女同款"),
]

CASES: list[tuple[str, Intent, int | None, str | None, str | None]] = [
    # question, intent, days (None: not checked), sku, budget
    ("下周哪些商品要补货？", Intent.restock_list, 7, None, None),
    ("下周那些商品要补货", Intent.restock_list, 7, None, None),
    ("下礼拜要补啥货", Intent.restock_list, 7, None, None),
    ("下星期该进点什么货啊", Intent.restock_list, 7, None, None),
    ("这周有啥要补获的吗", Intent.restock_list, 5, None, None),
    ("本周需要采购哪些", Intent.restock_list, 5, None, None),
    ("未来10天会缺货的有哪些", Intent.restock_list, 10, None, None),
    ("接下来两周要备货的商品", Intent.restock_list, 14, None, None),
    ("月底前哪些要补货", Intent.restock_list, 29, None, None),
    ("到月末会断货的东西列一下，需要补货吗", Intent.restock_list, 29, None, None),
    ("最近要下单的货有哪些", Intent.restock_list, 14, None, None),
    ("帮我看看要订货的", Intent.restock_list, 14, None, None),
    ("保温杯还能卖几天？", Intent.days_left, None, "ST-771", None),
    ("保温杯还能卖几填", Intent.days_left, None, "ST-771", None),
    ("保温杯库存够卖多久", Intent.days_left, None, "ST-771", None),
    ("st772还能撑几天", Intent.days_left, None, "ST-772", None),
    ("ST-771 什么时候卖完", Intent.days_left, None, "ST-771", None),
    ("纸尿裤啥时候卖完啊", Intent.days_left, None, "MB-101", None),
    ("新生儿纸尿裤还剩几天的货", Intent.days_left, None, "MB-104", None),
    ("奶粉够卖到月底吗", Intent.days_left, 29, "MB-111", None),
    ("湿巾要补货吗", Intent.days_left, None, "MB-121", None),
    ("粉底液要不要进货", Intent.days_left, None, "MZ-209", None),
    ("预算5000先补什么？", Intent.budget_plan, None, None, "5000"),
    ("预箅五千先补啥", Intent.budget_plan, None, None, "5000"),
    ("只有5k，先进哪些货", Intent.budget_plan, None, None, "5000"),
    ("手头就2万块钱，怎么补货划算", Intent.budget_plan, None, None, "20000"),
    ("我有三千五块，先补哪个", Intent.budget_plan, None, None, "3500"),
    ("预算1.5万，下周先补什么", Intent.budget_plan, 7, None, "15000"),
    ("8000元能补哪些货", Intent.budget_plan, None, None, "8000"),
    ("预算 一万 补货优先级", Intent.budget_plan, None, None, "10000"),
    ("MB-101 下个月能卖多少", Intent.forecast_for_sku, 30, "MB-101", None),
    ("摇粒绒外套未来7天销量预测", Intent.forecast_for_sku, 7, "FS-512", None),
    ("mb104下周卖几件", Intent.forecast_for_sku, 7, "MB-104", None),
    ("保温杯这周能卖多小", Intent.forecast_for_sku, 5, "ST-771", None),
    ("你好", Intent.unknown, None, None, None),
    ("店铺名称怎么改", Intent.unknown, None, None, None),
    ("今天天气怎么样", Intent.unknown, None, None, None),
]


@pytest.mark.parametrize(("question", "intent", "days", "sku", "budget"), CASES, ids=[c[0] for c in CASES])
def test_parse_colloquial_questions(
    question: str, intent: Intent, days: int | None, sku: str | None, budget: str | None
) -> None:
    parsed = parse(question, CATALOG, TODAY)
    assert parsed.intent is intent, parsed
    if days is not None:
        assert parsed.days == days, parsed
    assert parsed.sku == sku, parsed
    assert parsed.budget == (Decimal(budget) if budget else None), parsed


def test_there_are_at_least_30_phrasings() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("question", "budget"),
    [
        ("预算5000", "5000"),
        ("预算五千", "5000"),
        ("预算三千五补什么", "3500"),
        ("手上只有两万", "20000"),
        ("预算两百块", "200"),
        ("预算1万2", "12000"),
        ("预算一万二", "12000"),
        ("预算1.5万", "15000"),
    ],
)
def test_budgets_in_chinese_arabic_and_mixed_numerals(question: str, budget: str) -> None:
    assert parse_budget(question) == Decimal(budget)


def test_small_counts_are_not_budgets() -> None:
    assert parse_budget("有3个要补") is None
    assert parse_budget("预算2w") == Decimal("20000")


def test_ranges() -> None:
    assert parse_range("下周", TODAY) == (7, "下周")
    assert parse_range("这周", TODAY) == (5, "本周")  # Wed..Sun
    assert parse_range("月底", TODAY) == (29, "月底前")
    assert parse_range("未来三十天", TODAY) == (30, "未来30天")
    assert parse_range("还能卖几天", TODAY) == (14, "未来14天")


def test_ambiguous_titles_keep_every_candidate() -> None:
    parsed = parse("保温杯还能卖几天", CATALOG, TODAY)
    assert parsed.sku_candidates == ("ST-771", "ST-772")
    assert parse("750ml保温杯还能卖几天", CATALOG, TODAY).sku == "ST-772"  # the size decides


def _offline(answer: str, rows: list[dict[str, object]]) -> MerchantAnswer:
    return MerchantAnswer("预算5000先补什么", Intent.budget_plan, "offline", answer, ["sku"], rows)


def test_llm_numbers_must_come_from_the_tools() -> None:
    offline = _offline(
        "预算 ¥5,000.00：先补 粉底液 24 件（¥1,392.00）", [{"sku": "MZ-209", "cost": "1392.00"}]
    )
    assert numbers_grounded("先补粉底液24件，花1392元，预算5000够用", offline)
    assert numbers_grounded("先补粉底液 24 件，约 ¥1,392.00", offline)
    assert not numbers_grounded("先补粉底液30件", offline)
    assert not numbers_grounded("大概要花1500元", offline)
