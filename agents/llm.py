"""THE gateway to chat models. No other module talks to an LLM.

    LLMGateway(ChatModel)                      masks PII, picks the agent's temperature, records
      ├── complete(prompt, agent, schema)      text, or a pydantic object (one repair retry)
      ├── choose(prompt, agent, choices)       one label out of a fixed set
      ├── call_tools(prompt, agent, tools)     the one tool the model picked, its arguments validated
      └── stream(prompt, agent)                text deltas for SSE
    ChatModel (Protocol)
      ├── LangChainChatModel                   langchain-openai `ChatOpenAI`: any OpenAI-compatible server
      └── ScriptedChatModel                    tests and evals (`evals.doubles.llm`)

Every call to the model produces one `LLMCallRecord` (prompt id/version, model, tokens,
latency, outcome); results carry theirs, and a pluggable sink persists them. Failures raise
`LLMTimeout`, `LLMUnavailable` or `LLMBadOutput` (store.errors); callers degrade to the
offline path on `LLMError`. The model never sees unmasked personal data.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar, overload

import httpx2
import openai
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from agents.privacy import mask_pii
from prompts.loader import RenderedPrompt
from store.errors import LLMBadOutput, LLMError, LLMTimeout, LLMUnavailable
from store.repositories.llm_calls import LlmCallRepository
from store.settings import Settings, StructuredMethod

log = logging.getLogger("siyu.llm")

M = TypeVar("M", bound=BaseModel)
OutT = TypeVar("OutT")


@dataclass(frozen=True)
class ChatRequest:
    """`schema` asks for structured output; `tools` offers argument models to call instead."""

    messages: tuple[Mapping[str, str], ...]
    model: str
    temperature: float
    schema: type[BaseModel] | None = None
    tools: tuple[type[BaseModel], ...] = ()


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class ChatResponse:
    """`parsed` or `parse_error` answer a request with a schema; `tool_calls` one with tools."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    parsed: BaseModel | None = None
    parse_error: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


class ChatModel(Protocol):
    """One chat completion. Implementations raise only `LLMError` subclasses."""

    def chat(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest, usage: dict[str, int]) -> Iterator[str]:
        """Yield text deltas; fill `usage` with input_tokens/output_tokens when known."""
        ...


@dataclass(frozen=True)
class LLMCallRecord:
    agent: str
    prompt_id: str
    prompt_version: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    ok: bool
    error_code: str | None = None
    shop_id: int | None = None


@dataclass(frozen=True)
class LLMResult(Generic[OutT]):
    """`output` is the text, the validated pydantic object, or the chosen label."""

    output: OutT
    text: str
    record: LLMCallRecord
    records: tuple[LLMCallRecord, ...] = field(default=())


class LLMCallSink(Protocol):
    def __call__(self, record: LLMCallRecord, /) -> None: ...


class SessionCallSink:
    """Persists each record in its own short transaction, so failed calls are kept even
    when the caller's transaction rolls back."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def __call__(self, record: LLMCallRecord) -> None:
        with self.sessions() as session:
            LlmCallRepository(session).add(
                shop_id=record.shop_id,
                agent=record.agent,
                prompt_id=record.prompt_id,
                prompt_version=record.prompt_version,
                model=record.model,
                input_tokens=record.input_tokens,
                output_tokens=record.output_tokens,
                latency_ms=record.latency_ms,
                ok=record.ok,
                error_code=record.error_code,
            )
            session.commit()


class LangChainChatModel:
    """Any OpenAI-compatible server through langchain-openai's `ChatOpenAI`, explicit timeouts.

    Structured output goes through `with_structured_output` with the provider's `method`
    (`SIYU_LLM_STRUCTURED_METHOD`): `json_schema` where the server enforces a schema (OpenAI,
    vLLM, llama.cpp), `json_mode` or `function_calling` where it does not (DeepSeek rejects
    `json_schema`). Transport retries stay the openai client's (backoff, Retry-After).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_s: float,
        max_retries: int,
        structured_method: StructuredMethod = "json_mode",
        http_client: httpx2.Client | None = None,
    ) -> None:
        self.structured_method: StructuredMethod = structured_method
        self.llm = ChatOpenAI(
            base_url=base_url,
            # Local servers ignore the key, but the client insists on one.
            api_key=SecretStr(api_key or "not-needed"),
            model=model,
            timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            max_retries=max_retries,
            # Off by default for non-OpenAI base URLs; every server we target reports it.
            stream_usage=True,
            http_client=http_client,
        )

    def chat(self, request: ChatRequest) -> ChatResponse:
        messages = [dict(m) for m in request.messages]
        parsed: BaseModel | None = None
        problem: str | None = None
        try:
            if request.schema is not None:
                structured = self.llm.with_structured_output(
                    request.schema,
                    method=self.structured_method,
                    include_raw=True,
                    temperature=request.temperature,
                )
                out = structured.invoke(messages)
                assert isinstance(out, dict)
                raw = out["raw"]
                if out["parsing_error"] is not None:
                    problem = parse_problem(out["parsing_error"])
                elif isinstance(out["parsed"], request.schema):
                    parsed = out["parsed"]
                else:
                    problem = "没有输出结构化结果"
            elif request.tools:
                raw = self.llm.bind_tools(list(request.tools), temperature=request.temperature).invoke(
                    messages
                )
            else:
                raw = self.llm.invoke(messages, temperature=request.temperature)
        except Exception as exc:
            raise _map_error(exc) from exc
        assert isinstance(raw, AIMessage)
        calls = tuple(ToolCall(c["name"], c["args"]) for c in raw.tool_calls)
        calls += tuple(ToolCall(c["name"] or "", {}) for c in raw.invalid_tool_calls)
        text = str(raw.text)
        if not text and calls and request.schema is not None:
            # function_calling: the object is in the call's arguments, which a repair must quote.
            text = json.dumps(dict(calls[0].args), ensure_ascii=False)
        if not text and not calls and parsed is None and problem is None:
            raise LLMBadOutput("语言模型返回了空回复")
        usage = raw.usage_metadata or {"input_tokens": 0, "output_tokens": 0}
        return ChatResponse(
            text=text,
            model=str(raw.response_metadata.get("model_name") or request.model),
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            parsed=parsed,
            parse_error=problem,
            tool_calls=calls,
        )

    def stream(self, request: ChatRequest, usage: dict[str, int]) -> Iterator[str]:
        try:
            for chunk in self.llm.stream(
                [dict(m) for m in request.messages], temperature=request.temperature
            ):
                if chunk.usage_metadata:
                    usage["input_tokens"] = chunk.usage_metadata["input_tokens"]
                    usage["output_tokens"] = chunk.usage_metadata["output_tokens"]
                if chunk.text:
                    yield chunk.text
        except LLMError:
            raise
        except Exception as exc:
            raise _map_error(exc) from exc


def _map_error(exc: Exception) -> LLMError:
    # Mid-stream failures surface as the transport's own exceptions, not openai's wrappers.
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return LLMTimeout(f"语言模型响应超时: {type(exc).__name__}")
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return LLMUnavailable(f"无法连接语言模型服务: {exc}")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500 or exc.status_code in (408, 429):
            return LLMUnavailable(f"语言模型服务暂不可用 (HTTP {exc.status_code})")
        if exc.status_code in (401, 403):
            return LLMUnavailable(f"语言模型服务拒绝访问 (HTTP {exc.status_code})，请检查 SIYU_LLM_API_KEY")
        return LLMError(f"语言模型服务拒绝了请求 (HTTP {exc.status_code}): {exc.message}")
    if isinstance(
        exc,
        openai.APIResponseValidationError | json.JSONDecodeError | ValidationError | OutputParserException,
    ):
        return LLMBadOutput(f"语言模型返回的内容无法解析: {type(exc).__name__}")
    if isinstance(exc, openai.OpenAIError):
        return LLMError(f"语言模型调用失败: {exc}")
    raise exc


def parse_problem(exc: BaseException) -> str:
    """What was wrong with an output, short enough to quote back to the model in a repair."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ValidationError):
            return _validation_summary(cause)
        cause = cause.__cause__ or cause.__context__
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:200]


class _Label(BaseModel):
    label: str


class LLMGateway:
    def __init__(
        self,
        model: ChatModel,
        *,
        model_name: str,
        temperatures: Mapping[str, float],
        sink: LLMCallSink | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.temperatures = dict(temperatures)
        self.sink = sink
        self.clock = clock

    @overload
    def complete(
        self, prompt: RenderedPrompt, *, agent: str, schema: None = None, shop_id: int | None = None
    ) -> LLMResult[str]: ...

    @overload
    def complete(
        self, prompt: RenderedPrompt, *, agent: str, schema: type[M], shop_id: int | None = None
    ) -> LLMResult[M]: ...

    def complete(
        self,
        prompt: RenderedPrompt,
        *,
        agent: str,
        schema: type[M] | None = None,
        shop_id: int | None = None,
    ) -> LLMResult[str] | LLMResult[M]:
        """Text, or a validated instance of `schema` (structured output, one repair round)."""
        if schema is None:
            request = self._request(prompt, agent)
            response, record = self._call(request, prompt, agent, shop_id)
            return LLMResult(output=response.text, text=response.text, record=record, records=(record,))
        # Also in the prompt: json_mode constrains only the syntax, and small local models
        # follow a schema they can read better than one they are merely held to.
        instruction = "只输出一个 JSON 对象，不要输出其他文字。它必须符合这个 JSON Schema：\n" + json.dumps(
            schema.model_json_schema(), ensure_ascii=False
        )
        return self._structured(prompt, agent, shop_id, instruction, schema, lambda parsed: parsed)

    def choose(
        self, prompt: RenderedPrompt, *, agent: str, choices: Sequence[str], shop_id: int | None = None
    ) -> LLMResult[str]:
        """Classification constrained to `choices`; anything else after one repair is `LLMBadOutput`."""
        labels = list(dict.fromkeys(choices))
        if not labels:
            raise ValueError("choose() needs at least one label")
        instruction = '只输出一个 JSON 对象 {"label": "<标签>"}，标签必须是以下之一：' + json.dumps(
            labels, ensure_ascii=False
        )

        def accept(parsed: _Label) -> str:
            label = parsed.label.strip()
            if label not in labels:
                raise LLMBadOutput(f"标签 {label!r} 不在可选范围 {labels!r} 内")
            return label

        return self._structured(prompt, agent, shop_id, instruction, _Label, accept)

    def call_tools(
        self,
        prompt: RenderedPrompt,
        *,
        agent: str,
        tools: Sequence[type[BaseModel]],
        shop_id: int | None = None,
    ) -> LLMResult[BaseModel]:
        """The first tool the model called, as an instance of that tool's argument model.

        The model only chooses; the caller runs the tool. No call, an unknown tool or arguments
        that do not validate are `LLMBadOutput`, with no repair round: callers have an offline
        answer that is cheaper than a second call.
        """
        by_name = {tool.__name__: tool for tool in tools}
        if not by_name:
            raise ValueError("call_tools() needs at least one tool")
        request = self._request(prompt, agent, tools=tuple(by_name.values()))
        response, record = self._call(request, prompt, agent, shop_id)
        if not response.tool_calls:
            raise LLMBadOutput("语言模型没有调用任何工具")
        call = response.tool_calls[0]
        tool = by_name.get(call.name)
        if tool is None:
            raise LLMBadOutput(f"语言模型调用了不存在的工具 {call.name!r}，可选 {sorted(by_name)!r}")
        try:
            args = tool.model_validate(dict(call.args))
        except ValidationError as exc:
            raise LLMBadOutput(f"工具 {call.name!r} 的参数不合法: {_validation_summary(exc)}") from exc
        return LLMResult(output=args, text=response.text, record=record, records=(record,))

    def stream(
        self, prompt: RenderedPrompt, *, agent: str, shop_id: int | None = None
    ) -> Generator[str, None, None]:
        """Text deltas; the call is recorded when the stream ends or fails."""
        request = self._request(prompt, agent)
        usage: dict[str, int] = {}
        started = self.clock()
        error: LLMError | None = None
        try:
            yield from self.model.stream(request, usage)
        except LLMError as exc:
            error = exc
            raise
        finally:
            # Also runs when the client disconnects and the SSE response closes the generator.
            self._finish(request, prompt, agent, shop_id, started, usage, error)

    def _structured(
        self,
        prompt: RenderedPrompt,
        agent: str,
        shop_id: int | None,
        instruction: str,
        schema: type[M],
        accept: Callable[[M], OutT],
    ) -> LLMResult[OutT]:
        request = self._request(prompt, agent, instruction=instruction, schema=schema)
        records: list[LLMCallRecord] = []
        for attempt in (1, 2):
            response, record = self._call(request, prompt, agent, shop_id)
            records.append(record)
            problem = response.parse_error
            if problem is None:
                if not isinstance(response.parsed, schema):
                    raise LLMBadOutput(f"语言模型没有输出 {schema.__name__} 结构")
                try:
                    output = accept(response.parsed)
                except LLMBadOutput as exc:
                    problem = exc.detail
                else:
                    return LLMResult(output=output, text=response.text, record=record, records=tuple(records))
            log.warning(
                "llm.output.invalid",
                extra={"agent": agent, "prompt_id": prompt.id, "attempt": attempt, "problem": problem},
            )
            if attempt == 2:
                raise LLMBadOutput(f"语言模型两次输出都不符合要求: {problem}")
            repair = (
                {"role": "assistant", "content": mask_pii(response.text)},
                {
                    "role": "user",
                    "content": f"上面的输出不符合要求（{problem}）。请只输出符合要求的 JSON 对象。",
                },
            )
            request = replace(request, messages=request.messages + repair)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(
        self,
        prompt: RenderedPrompt,
        agent: str,
        *,
        instruction: str | None = None,
        schema: type[BaseModel] | None = None,
        tools: tuple[type[BaseModel], ...] = (),
    ) -> ChatRequest:
        if agent not in self.temperatures:
            raise ValueError(f"unknown agent {agent!r}; expected one of {sorted(self.temperatures)!r}")
        system = prompt.system if instruction is None else f"{prompt.system}\n\n{instruction}"
        return ChatRequest(
            messages=(
                {"role": "system", "content": mask_pii(system)},
                {"role": "user", "content": mask_pii(prompt.user)},
            ),
            model=self.model_name,
            temperature=self.temperatures[agent],
            schema=schema,
            tools=tools,
        )

    def _call(
        self, request: ChatRequest, prompt: RenderedPrompt, agent: str, shop_id: int | None
    ) -> tuple[ChatResponse, LLMCallRecord]:
        started = self.clock()
        try:
            response = self.model.chat(request)
        except LLMError as exc:
            self._finish(request, prompt, agent, shop_id, started, {}, exc)
            raise
        usage = {"input_tokens": response.input_tokens, "output_tokens": response.output_tokens}
        record = self._finish(request, prompt, agent, shop_id, started, usage, None, model=response.model)
        return response, record

    def _finish(
        self,
        request: ChatRequest,
        prompt: RenderedPrompt,
        agent: str,
        shop_id: int | None,
        started: float,
        usage: Mapping[str, int],
        error: LLMError | None,
        *,
        model: str | None = None,
    ) -> LLMCallRecord:
        record = LLMCallRecord(
            agent=agent,
            prompt_id=prompt.id,
            prompt_version=prompt.version,
            model=model or request.model,
            input_tokens=usage.get("input_tokens", 0),
            output_tokens=usage.get("output_tokens", 0),
            latency_ms=round((self.clock() - started) * 1000, 1),
            ok=error is None,
            error_code=None if error is None else error.code,
            shop_id=shop_id,
        )
        fields = {
            "agent": record.agent,
            "prompt_id": record.prompt_id,
            "prompt_version": record.prompt_version,
            "model": record.model,
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "latency_ms": record.latency_ms,
        }
        if error is None:
            log.info("llm.call.ok", extra=fields)
        else:
            log.warning("llm.call.failed", extra=fields | {"error_code": error.code, "error": error.detail})
        if self.sink is not None:
            try:
                self.sink(record)
            except Exception:
                # Usage accounting must not take a customer's turn down with it; the failure is
                # logged loudly with its traceback and the call's own outcome stands.
                log.exception("llm.usage.record_failed", extra={"agent": agent, "prompt_id": prompt.id})
        return record


def _validation_summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    )


def temperatures_from(settings: Settings) -> dict[str, float]:
    return {
        "customer_service": settings.llm_temperature_cs,
        "common": settings.llm_temperature_cs,
        "copywriter": settings.llm_temperature_copy,
        "recommender": settings.llm_temperature_merchant,
        "forecaster": settings.llm_temperature_merchant,
    }


def build_gateway(
    settings: Settings, *, sink: LLMCallSink | None = None, http_client: httpx2.Client | None = None
) -> LLMGateway | None:
    """The configured gateway, or None when no `SIYU_LLM_BASE_URL` is set (the offline engine)."""
    if settings.llm_base_url is None:
        return None
    model = LangChainChatModel(
        base_url=str(settings.llm_base_url),
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        structured_method=settings.llm_structured_method,
        http_client=http_client,
    )
    return LLMGateway(
        model, model_name=settings.llm_model, temperatures=temperatures_from(settings), sink=sink
    )
