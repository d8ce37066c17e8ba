"""The real `ChatOpenAI` and `openai` client against a stub OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Protocol

import httpx2
import pytest
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from agents.llm import LLMCallRecord, LLMCallSink, LLMGateway, SessionCallSink, build_gateway
from agents.runtime import Runtime
from evals.doubles.llm import Delay, Malformed, Reply, ReplyJSON, ReplyToolCall, Status, StubOpenAIServer
from prompts import RenderedPrompt, load_prompt, render
from store.errors import LLMBadOutput, LLMTimeout, LLMUnavailable
from store.repositories.llm_calls import LlmCallRepository
from store.settings import Settings, StructuredMethod
from tests.conftest import ShopKeys

pytestmark = pytest.mark.integration


class Intent(BaseModel):
    label: Literal["order_status", "refund", "other"]


def answer_prompt(question: str = "运费怎么算？") -> RenderedPrompt:
    return render(
        load_prompt("customer_service/answer"),
        {"shop_name": "小鹿母婴", "question": question, "sources": [{"ref": "S1", "text": "满99元包邮"}]},
    )


@pytest.fixture
def http_client() -> Iterator[httpx2.Client]:
    """Closed at teardown: a failed call's traceback keeps the client alive past the test, and
    its pooled sockets would otherwise be finalised unclosed at interpreter exit."""
    with httpx2.Client() as client:
        yield client


@pytest.fixture
def gateway_for(http_client: httpx2.Client) -> GatewayFactory:
    def build(
        stub: StubOpenAIServer,
        *,
        timeout_s: float = 5.0,
        retries: int = 0,
        sink: LLMCallSink | None = None,
        method: StructuredMethod = "json_mode",
    ) -> LLMGateway:
        settings = Settings(
            llm_base_url=stub.base_url,
            llm_timeout_s=timeout_s,
            llm_max_retries=retries,
            llm_structured_method=method,
        )
        gateway = build_gateway(settings, sink=sink, http_client=http_client)
        assert gateway is not None
        return gateway

    return build


class GatewayFactory(Protocol):
    def __call__(
        self,
        stub: StubOpenAIServer,
        *,
        timeout_s: float = ...,
        retries: int = ...,
        sink: LLMCallSink | None = ...,
        method: StructuredMethod = ...,
    ) -> LLMGateway: ...


def test_json_reply_is_parsed_into_the_schema(gateway_for: GatewayFactory) -> None:
    with StubOpenAIServer([ReplyJSON({"label": "refund"})]) as stub:
        result = gateway_for(stub).complete(answer_prompt(), agent="customer_service", schema=Intent)
        stub.assert_exhausted()
    assert result.output == Intent(label="refund")
    [body] = stub.requests
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.2
    assert body["model"] == "qwen2.5-coder-1.5b-instruct"


def test_sse_stream_is_assembled_with_usage(gateway_for: GatewayFactory) -> None:
    records: list[LLMCallRecord] = []
    with StubOpenAIServer([Reply("您好！满99元包邮 [S1]", chunk_chars=3)]) as stub:
        gateway = gateway_for(stub, sink=records.append)
        chunks = list(gateway.stream(answer_prompt(), agent="customer_service"))
        stub.assert_exhausted()
    assert len(chunks) == 5
    assert "".join(chunks) == "您好！满99元包邮 [S1]"
    assert stub.requests[0]["stream"] is True
    [record] = records
    assert record.ok
    assert record.output_tokens == len("您好！满99元包邮 [S1]")
    assert record.input_tokens > 0


def test_a_slow_server_raises_llm_timeout(gateway_for: GatewayFactory) -> None:
    records: list[LLMCallRecord] = []
    with StubOpenAIServer([Delay(1.5, then=Reply("迟到的回复"))]) as stub:
        with pytest.raises(LLMTimeout):
            gateway_for(stub, timeout_s=0.3, sink=records.append).complete(
                answer_prompt(), agent="customer_service"
            )
        stub.assert_exhausted()
    assert [(r.ok, r.error_code) for r in records] == [(False, "llm_timeout")]


def test_http_500_raises_llm_unavailable_after_the_retries(gateway_for: GatewayFactory) -> None:
    with StubOpenAIServer([Status(500), Status(503)]) as stub:
        with pytest.raises(LLMUnavailable):
            gateway_for(stub, retries=1).complete(answer_prompt(), agent="customer_service")
        stub.assert_exhausted()
    assert len(stub.requests) == 2


def test_one_500_then_success_is_retried_transparently(gateway_for: GatewayFactory) -> None:
    with StubOpenAIServer([Status(502), Reply("好的")]) as stub:
        result = gateway_for(stub, retries=1).complete(answer_prompt(), agent="customer_service")
        stub.assert_exhausted()
    assert result.output == "好的"


def test_malformed_body_raises_llm_bad_output(gateway_for: GatewayFactory) -> None:
    with StubOpenAIServer([Malformed()]) as stub:
        with pytest.raises(LLMBadOutput):
            gateway_for(stub).complete(answer_prompt(), agent="customer_service")
        stub.assert_exhausted()


def test_non_json_reply_to_a_schema_request_is_repaired_once_then_bad_output(
    gateway_for: GatewayFactory,
) -> None:
    with StubOpenAIServer([Reply("我觉得是退款"), Reply('{"label": "退款"}')]) as stub:
        with pytest.raises(LLMBadOutput):
            gateway_for(stub).complete(answer_prompt(), agent="customer_service", schema=Intent)
        stub.assert_exhausted()
    assert stub.requests[1]["messages"][-2] == {"role": "assistant", "content": "我觉得是退款"}


def test_request_body_has_pii_masked(gateway_for: GatewayFactory) -> None:
    question = "我手机13800138000，身份证11010519491231002X，寄到浙江省杭州市西湖区文三路100号3栋301室"
    with StubOpenAIServer([Reply("收到")]) as stub:
        gateway_for(stub).complete(answer_prompt(question), agent="customer_service")
        stub.assert_exhausted()
    sent = str(stub.requests[0]["messages"])
    for secret in ("13800138000", "11010519491231002X", "文三路", "301室"):
        assert secret not in sent
    assert "浙江省杭州市西湖区[地址]" in sent
    assert "[手机号]" in sent
    assert "[身份证号]" in sent


def test_usage_record_is_persisted(
    session_factory: sessionmaker[Session], session: Session, shop_a: ShopKeys, gateway_for: GatewayFactory
) -> None:
    with StubOpenAIServer([Reply("满99元包邮 [S1]"), Status(500)]) as stub:
        gateway = gateway_for(stub, sink=SessionCallSink(session_factory))
        result = gateway.complete(answer_prompt(), agent="customer_service", shop_id=shop_a.shop_id)
        with pytest.raises(LLMUnavailable):
            gateway.complete(answer_prompt(), agent="customer_service", shop_id=shop_a.shop_id)
        stub.assert_exhausted()
    rows = sorted(LlmCallRepository(session).list_for_shop(shop_a.shop_id), key=lambda row: row.id)
    assert [(r.agent, r.prompt_id, r.prompt_version, r.ok, r.error_code) for r in rows] == [
        ("customer_service", "customer_service/answer", "1", True, None),
        ("customer_service", "customer_service/answer", "1", False, "llm_unavailable"),
    ]
    assert rows[0].output_tokens == result.record.output_tokens == len("满99元包邮 [S1]")
    assert rows[0].input_tokens == result.record.input_tokens > 0
    assert rows[0].latency_ms == result.record.latency_ms > 0


def test_runtime_llm_accessor(runtime: Runtime, settings: Settings) -> None:
    assert runtime.llm() is None  # no base URL: the offline engine
    online = Runtime(
        settings=settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"}),
        engine=runtime.engine,
        sessions=runtime.sessions,
    )
    gateway = online.llm()
    assert gateway is not None
    assert online.llm() is gateway


def test_json_schema_method_sends_the_schema_as_response_format(gateway_for: GatewayFactory) -> None:
    with StubOpenAIServer([ReplyJSON({"label": "order_status"})]) as stub:
        result = gateway_for(stub, method="json_schema").complete(
            answer_prompt(), agent="customer_service", schema=Intent
        )
        stub.assert_exhausted()
    assert result.output == Intent(label="order_status")
    response_format = stub.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"]["properties"]["label"]["enum"] == [
        "order_status",
        "refund",
        "other",
    ]


def test_function_calling_method_reads_the_object_from_the_tool_call(gateway_for: GatewayFactory) -> None:
    """DeepSeek's path: no response_format at all, the schema goes out as a forced tool."""
    with StubOpenAIServer([ReplyToolCall("Intent", {"label": "refund"})]) as stub:
        result = gateway_for(stub, method="function_calling").complete(
            answer_prompt(), agent="customer_service", schema=Intent
        )
        stub.assert_exhausted()
    assert result.output == Intent(label="refund")
    [body] = stub.requests
    assert "response_format" not in body
    assert body["tool_choice"]["function"]["name"] == "Intent"


class RestockList(BaseModel):
    """哪些商品要补货。"""

    period: str


def test_call_tools_returns_the_validated_arguments(gateway_for: GatewayFactory) -> None:
    records: list[LLMCallRecord] = []
    with StubOpenAIServer([ReplyToolCall("RestockList", {"period": "下周"})]) as stub:
        result = gateway_for(stub, sink=records.append).call_tools(
            answer_prompt(), agent="forecaster", tools=[RestockList]
        )
        stub.assert_exhausted()
    assert result.output == RestockList(period="下周")
    [body] = stub.requests
    assert [t["function"]["name"] for t in body["tools"]] == ["RestockList"]
    assert body["temperature"] == 0.1
    [record] = records
    assert record.ok and record.input_tokens > 0 and record.output_tokens == len('{"period": "下周"}')


def test_call_tools_with_unparseable_arguments_is_bad_output(gateway_for: GatewayFactory) -> None:
    with StubOpenAIServer([ReplyToolCall("RestockList", '{"period": ')]) as stub:
        with pytest.raises(LLMBadOutput, match="参数不合法"):
            gateway_for(stub).call_tools(answer_prompt(), agent="forecaster", tools=[RestockList])
        stub.assert_exhausted()
