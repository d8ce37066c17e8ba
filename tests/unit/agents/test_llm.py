from __future__ import annotations

import logging
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from agents.llm import LLMCallRecord, LLMGateway, ToolCall, build_gateway
from evals.doubles.llm import ScriptedChatModel, scripted_gateway
from prompts import RenderedPrompt
from store.errors import LLMBadOutput, LLMTimeout, LLMUnavailable
from store.settings import Settings

PROMPT = RenderedPrompt(
    id="customer_service/answer", version="2", system="你是客服。", user="顾客问：运费多少？"
)


class Intent(BaseModel):
    label: Literal["order_status", "refund", "other"]
    confidence: float = Field(ge=0, le=1)


class Sink:
    def __init__(self) -> None:
        self.records: list[LLMCallRecord] = []

    def __call__(self, record: LLMCallRecord) -> None:
        self.records.append(record)


class Clock:
    """Advances 0.25 s on every read, so latency is deterministic."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def gateway(scripted_llm: ScriptedChatModel, sink: Sink) -> LLMGateway:
    gw = scripted_gateway(scripted_llm, sink=sink)
    gw.clock = Clock()
    return gw


def test_complete_returns_text_and_a_usage_record(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, sink: Sink
) -> None:
    scripted_llm.add("满99包邮哦 [S1]")
    result = gateway.complete(PROMPT, agent="customer_service", shop_id=7)
    assert result.output == result.text == "满99包邮哦 [S1]"
    assert result.record == LLMCallRecord(
        agent="customer_service",
        prompt_id="customer_service/answer",
        prompt_version="2",
        model="scripted-model",
        input_tokens=len("你是客服。") + len("顾客问：运费多少？"),
        output_tokens=len("满99包邮哦 [S1]"),
        latency_ms=250.0,
        ok=True,
        error_code=None,
        shop_id=7,
    )
    assert sink.records == [result.record]


@pytest.mark.parametrize(
    ("agent", "temperature"),
    [("customer_service", 0.2), ("copywriter", 0.8), ("recommender", 0.1), ("forecaster", 0.1)],
)
def test_temperature_comes_from_the_agent_setting(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, agent: str, temperature: float
) -> None:
    scripted_llm.add("好的")
    gateway.complete(PROMPT, agent=agent)
    assert scripted_llm.last_request.temperature == temperature


def test_unknown_agent_is_a_programming_error(gateway: LLMGateway) -> None:
    with pytest.raises(ValueError, match="unknown agent 'sales'"):
        gateway.complete(PROMPT, agent="sales")


def test_pii_is_masked_before_it_leaves_the_process(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel
) -> None:
    scripted_llm.add("收到")
    prompt = PROMPT.model_copy(update={"user": "手机13800138000，寄到杭州市西湖区文三路100号301室"})
    gateway.complete(prompt, agent="customer_service")
    sent = " ".join(m["content"] for m in scripted_llm.last_request.messages)
    assert "13800138000" not in sent
    assert "文三路" not in sent
    assert "手机[手机号]，寄到杭州市西湖区[地址]" in sent


def test_structured_output_is_validated_into_the_schema(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel
) -> None:
    scripted_llm.add('```json\n{"label": "refund", "confidence": 0.9}\n```')
    result = gateway.complete(PROMPT, agent="customer_service", schema=Intent)
    assert result.output == Intent(label="refund", confidence=0.9)
    request = scripted_llm.last_request
    assert request.schema is Intent
    assert '"confidence"' in request.messages[0]["content"]  # the schema is in the system prompt


def test_structured_output_gets_one_repair_round(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, sink: Sink
) -> None:
    scripted_llm.add('{"label": "complaint", "confidence": 0.9}', {"label": "other", "confidence": 0.4})
    result = gateway.complete(PROMPT, agent="customer_service", schema=Intent)
    assert result.output == Intent(label="other", confidence=0.4)
    assert len(result.records) == len(sink.records) == 2
    repair = scripted_llm.calls[1].messages
    assert repair[-2] == {"role": "assistant", "content": '{"label": "complaint", "confidence": 0.9}'}
    assert "label" in repair[-1]["content"]
    assert repair[-1]["role"] == "user"


def test_structured_output_fails_after_the_repair_round(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel
) -> None:
    scripted_llm.add("抱歉，我无法回答", '{"label": "refund"}')
    with pytest.raises(LLMBadOutput, match="两次"):
        gateway.complete(PROMPT, agent="customer_service", schema=Intent)


def test_choose_returns_one_of_the_labels(gateway: LLMGateway, scripted_llm: ScriptedChatModel) -> None:
    scripted_llm.add({"label": "order_status"})
    result = gateway.choose(PROMPT, agent="customer_service", choices=["order_status", "refund"])
    assert result.output == "order_status"
    assert '["order_status", "refund"]' in scripted_llm.last_request.messages[0]["content"]


def test_choose_rejects_labels_outside_the_set(gateway: LLMGateway, scripted_llm: ScriptedChatModel) -> None:
    scripted_llm.add({"label": "投诉"}, {"label": "complaint"})
    with pytest.raises(LLMBadOutput, match="不在可选范围"):
        gateway.choose(PROMPT, agent="customer_service", choices=["order_status", "refund"])


@pytest.mark.parametrize("error", [LLMTimeout(), LLMUnavailable()])
def test_model_errors_are_raised_recorded_and_logged(
    gateway: LLMGateway,
    scripted_llm: ScriptedChatModel,
    sink: Sink,
    error: LLMTimeout | LLMUnavailable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scripted_llm.add(error)
    with caplog.at_level(logging.WARNING, logger="siyu.llm"), pytest.raises(type(error)):
        gateway.complete(PROMPT, agent="customer_service")
    [record] = sink.records
    assert (record.ok, record.error_code, record.output_tokens) == (False, error.code, 0)
    [log] = [r for r in caplog.records if r.getMessage() == "llm.call.failed"]
    assert log.__dict__["error_code"] == error.code
    assert log.__dict__["prompt_id"] == "customer_service/answer"


def test_success_is_logged_as_a_structured_event(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    scripted_llm.add("好的")
    with caplog.at_level(logging.INFO, logger="siyu.llm"):
        gateway.complete(PROMPT, agent="copywriter")
    [log] = [r for r in caplog.records if r.getMessage() == "llm.call.ok"]
    assert (log.__dict__["agent"], log.__dict__["prompt_version"], log.__dict__["latency_ms"]) == (
        "copywriter",
        "2",
        250.0,
    )


def test_stream_yields_deltas_and_records_the_call(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, sink: Sink
) -> None:
    scripted_llm.add("您好，满99包邮 [S1]")
    chunks = list(gateway.stream(PROMPT, agent="customer_service"))
    assert len(chunks) > 1
    assert "".join(chunks) == "您好，满99包邮 [S1]"
    [record] = sink.records
    assert (record.ok, record.output_tokens) == (True, len("您好，满99包邮 [S1]"))


def test_stream_failure_is_raised_and_recorded(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, sink: Sink
) -> None:
    scripted_llm.add(LLMUnavailable())
    with pytest.raises(LLMUnavailable):
        list(gateway.stream(PROMPT, agent="customer_service"))
    assert [r.error_code for r in sink.records] == ["llm_unavailable"]


def test_a_failing_sink_does_not_fail_the_call(
    scripted_llm: ScriptedChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(record: LLMCallRecord) -> None:
        raise RuntimeError("db down")

    scripted_llm.add("好的")
    gateway = scripted_gateway(scripted_llm, sink=broken)
    assert gateway.complete(PROMPT, agent="customer_service").output == "好的"
    assert any(r.getMessage() == "llm.usage.record_failed" for r in caplog.records)


def test_build_gateway_is_none_without_a_base_url() -> None:
    assert build_gateway(Settings(llm_base_url=None)) is None


def test_build_gateway_uses_the_settings() -> None:
    gateway = build_gateway(
        Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen-plus", llm_temperature_copy=0.95)
    )
    assert gateway is not None
    assert gateway.model_name == "qwen-plus"
    assert gateway.temperatures["copywriter"] == 0.95


def test_a_stream_closed_early_is_still_recorded(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, sink: Sink
) -> None:
    scripted_llm.add("一二三四五六七八九十")
    chunks = gateway.stream(PROMPT, agent="customer_service")
    assert next(chunks) == "一二三四"
    chunks.close()
    [record] = sink.records
    assert record.ok


class Lookup(BaseModel):
    """查一个订单。"""

    order_no: str = Field(min_length=4)


def test_call_tools_returns_the_chosen_tools_arguments_and_records_the_call(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, sink: Sink
) -> None:
    scripted_llm.add(ToolCall("Lookup", {"order_no": "SY2025"}))
    prompt = PROMPT.model_copy(update={"user": "我手机13800138000，查下订单SY2025"})
    result = gateway.call_tools(prompt, agent="customer_service", tools=[Lookup], shop_id=3)
    assert result.output == Lookup(order_no="SY2025")
    assert scripted_llm.last_request.tools == (Lookup,)
    assert "13800138000" not in scripted_llm.last_request.messages[-1]["content"]
    assert [(r.ok, r.shop_id) for r in sink.records] == [(True, 3)]


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("好的，我来查", "没有调用任何工具"),
        (ToolCall("Refund", {"order_no": "SY2025"}), "不存在的工具 'Refund'"),
        (ToolCall("Lookup", {"order_no": "1"}), "参数不合法: order_no"),
    ],
)
def test_call_tools_rejects_no_call_an_unknown_tool_and_bad_arguments(
    gateway: LLMGateway, scripted_llm: ScriptedChatModel, reply: str | ToolCall, problem: str
) -> None:
    scripted_llm.add(reply)
    with pytest.raises(LLMBadOutput, match=problem):
        gateway.call_tools(PROMPT, agent="customer_service", tools=[Lookup])
