"""The merchant agent's tool calling: the model picks a tool and copies its arguments; code
resolves them (period, product, a budget the merchant said) or hands the question to the rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.forecaster.merchant import (
    TOOLS,
    BudgetPlan,
    DaysLeft,
    Intent,
    Parsed,
    RestockList,
    parse,
    resolve_tool_call,
    understand,
)
from agents.llm import LLMGateway, ToolCall
from evals.doubles.llm import ScriptedChatModel, scripted_gateway
from store.errors import LLMTimeout, LLMUnavailable
from tests.unit.agents.forecaster.test_merchant import CATALOG, TODAY


@pytest.fixture
def gateway(scripted_llm: ScriptedChatModel) -> LLMGateway:
    return scripted_gateway(scripted_llm)


def test_the_model_picks_the_tool_and_code_resolves_the_product(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel
) -> None:
    scripted_llm.add(ToolCall("DaysLeft", {"product": "保温杯"}))
    parsed = understand(gateway, 1, "保温杯还能撑多久啊", CATALOG, TODAY)
    assert parsed == Parsed(
        Intent.days_left, 14, "未来14天", "ST-771", ("ST-771", "ST-772"), source="llm_tool"
    )
    request = scripted_llm.last_request
    assert request.tools == TOOLS and request.temperature == 0.1
    assert "<merchant_question>\n保温杯还能撑多久啊\n</merchant_question>" in request.messages[-1]["content"]


def test_a_question_the_rules_miss_is_understood_through_the_tool(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel
) -> None:
    question = "仓库里下周快见底的货有哪些"
    assert parse(question, CATALOG, TODAY).intent is Intent.unknown
    scripted_llm.add(ToolCall("RestockList", {"period": "下周"}))
    assert understand(gateway, 1, question, CATALOG, TODAY) == Parsed(
        Intent.restock_list, 7, "下周", source="llm_tool"
    )


def test_the_tools_period_goes_through_the_rule_parsers_calendar() -> None:
    # 2025-12-03 is a Wednesday: 月底前 is the 29 days left in December, as the rules count it.
    parsed = resolve_tool_call(RestockList(period="月底前"), "月底前补啥", CATALOG, TODAY)
    assert parsed is not None and (parsed.days, parsed.range_label) == (29, "月底前")
    assert parsed.days == parse("月底前补啥", CATALOG, TODAY).days


@pytest.mark.parametrize(
    ("question", "budget"),
    [("预算5000先补什么", 5000), ("手上有八千，先弄点啥", 8000), ("有1.5万块钱先进哪些", 15000)],
)
def test_a_budget_the_merchant_said_is_accepted(question: str, budget: float) -> None:
    parsed = resolve_tool_call(BudgetPlan(budget_yuan=budget), question, CATALOG, TODAY)
    assert parsed is not None
    assert (parsed.intent, parsed.budget) == (Intent.budget_plan, Decimal(budget).quantize(Decimal("0.01")))


@pytest.mark.parametrize(
    ("call", "question"),
    [
        (BudgetPlan(budget_yuan=8000), "预算不多，先补什么"),  # a budget the merchant never said
        (BudgetPlan(budget_yuan=500), "预算5000先补什么"),
        (DaysLeft(product="电饭煲"), "电饭煲还能卖几天"),  # not in the catalog
    ],
)
def test_arguments_code_cannot_stand_behind_are_rejected(call: DaysLeft | BudgetPlan, question: str) -> None:
    assert resolve_tool_call(call, question, CATALOG, TODAY) is None


@pytest.mark.parametrize(
    "reply",
    [
        ToolCall("DaysLeft", {}),  # arguments that do not validate
        ToolCall("DeleteAllStock", {"sku": "ST-771"}),  # a tool nobody offered
        "下周要补保温杯 20 件",  # an answer instead of a tool call
        ToolCall("BudgetPlan", {"budget_yuan": 99999}),  # valid, but never said
    ],
)
def test_a_bad_tool_call_hands_the_question_to_the_rules(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, reply: ToolCall | str
) -> None:
    scripted_llm.add(reply)
    assert understand(gateway, 1, "下周哪些要补货", CATALOG, TODAY) is None


@pytest.mark.parametrize("error", [LLMTimeout(), LLMUnavailable()])
def test_a_model_that_is_down_is_raised_so_it_is_not_asked_twice(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, error: LLMTimeout | LLMUnavailable
) -> None:
    scripted_llm.add(error)
    with pytest.raises(type(error)):
        understand(gateway, 1, "下周哪些要补货", CATALOG, TODAY)
