"""THE gateway to chat models. No other module talks to an LLM.

    LLMGateway(ChatModel)                 masks PII, picks the agent's temperature, parses
      ├── complete(prompt, agent, schema) text, or a pydantic object (JSON + one repair retry)
      ├── choose(prompt, agent, choices)  one label out of a fixed set
      └── stream(prompt, agent)           text deltas for SSE
    ChatModel (Protocol)
      ├── OpenAIChatModel                 the `openai` client: any OpenAI-compatible server
      └── ScriptedChatModel               tests and evals (`evals.doubles.llm`)

Every call to the model produces one `LLMCallRecord` (prompt id/version, model, tokens,
latency, outcome); results carry theirs, and a pluggable sink persists them. Failures raise
`LLMTimeout`, `LLMUnavailable` or `LLMBadOutput` (store.errors); callers degrade to the
offline path on `LLMError`. The model never sees unmasked personal data.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar, overload

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from agents.privacy import mask_pii
from prompts.loader import RenderedPrompt
from store.errors import LLMBadOutput, LLMError, LLMTimeout, LLMUnavailable
from store.repositories.llm_calls import LlmCallRepository
from store.settings import Settings

log = logging.getLogger("siyu.llm")

M = TypeVar("M", bound=BaseModel)
OutT = TypeVar("OutT")


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Mapping[str, str], ...]
    model: str
    temperature: float
    json_mode: bool = False


@dataclass(frozen=True)
class ChatResponse:
    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0


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


class OpenAIChatModel:
    """Any OpenAI-compatible server through the official client, with explicit timeouts."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        max_retries: int,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self.client = openai.OpenAI(
            base_url=base_url,
            # Local servers ignore the key, but the client insists on one.
            api_key=api_key or "not-needed",
            timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            max_retries=max_retries,
            http_client=http_client,
        )

    def chat(self, request: ChatRequest) -> ChatResponse:
        try:
            completion = self.client.chat.completions.create(
                model=request.model,
                messages=_messages(request),
                temperature=request.temperature,
                stream=False,
                response_format={"type": "json_object"} if request.json_mode else openai.omit,
            )
        except Exception as exc:
            raise _map_error(exc) from exc
        if not completion.choices or completion.choices[0].message.content is None:
            raise LLMBadOutput("语言模型返回了空回复")
        usage = completion.usage
        return ChatResponse(
            text=completion.choices[0].message.content,
            model=completion.model or request.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
        )

    def stream(self, request: ChatRequest, usage: dict[str, int]) -> Iterator[str]:
        try:
            chunks = self.client.chat.completions.create(
                model=request.model,
                messages=_messages(request),
                temperature=request.temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            with chunks:
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage["input_tokens"] = chunk.usage.prompt_tokens
                        usage["output_tokens"] = chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield choice.delta.content
        except LLMError:
            raise
        except Exception as exc:
            raise _map_error(exc) from exc


def _messages(request: ChatRequest) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = []
    for message in request.messages:
        role, content = message["role"], message["content"]
        if role == "system":
            out.append({"role": "system", "content": content})
        elif role == "assistant":
            out.append({"role": "assistant", "content": content})
        else:
            out.append({"role": "user", "content": content})
    return out


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
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError | ValidationError):
        return LLMBadOutput(f"语言模型返回的内容无法解析: {type(exc).__name__}")
    if isinstance(exc, openai.OpenAIError):
        return LLMError(f"语言模型调用失败: {exc}")
    raise exc


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def extract_json(text: str) -> str:
    """The JSON object in a reply, tolerating code fences and chatter around it."""
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end < start:
        raise LLMBadOutput("语言模型没有输出 JSON 对象")
    return text[start : end + 1]


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
        """Text, or an instance of `schema` (JSON mode, validated, one repair round)."""
        if schema is None:
            request = self._request(prompt, agent, json_mode=False)
            response, record = self._call(request, prompt, agent, shop_id)
            return LLMResult(output=response.text, text=response.text, record=record, records=(record,))
        instruction = "只输出一个 JSON 对象，不要输出其他文字。它必须符合这个 JSON Schema：\n" + json.dumps(
            schema.model_json_schema(), ensure_ascii=False
        )
        return self._structured(
            prompt, agent, shop_id, instruction, lambda text: schema.model_validate_json(text)
        )

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

        def parse(text: str) -> str:
            label = _Label.model_validate_json(text).label.strip()
            if label not in labels:
                raise LLMBadOutput(f"标签 {label!r} 不在可选范围 {labels!r} 内")
            return label

        return self._structured(prompt, agent, shop_id, instruction, parse)

    def stream(
        self, prompt: RenderedPrompt, *, agent: str, shop_id: int | None = None
    ) -> Generator[str, None, None]:
        """Text deltas; the call is recorded when the stream ends or fails."""
        request = self._request(prompt, agent, json_mode=False)
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
        parse: Callable[[str], OutT],
    ) -> LLMResult[OutT]:
        request = self._request(prompt, agent, json_mode=True, instruction=instruction)
        records: list[LLMCallRecord] = []
        for attempt in (1, 2):
            response, record = self._call(request, prompt, agent, shop_id)
            records.append(record)
            try:
                output = parse(extract_json(response.text))
            except (LLMBadOutput, ValidationError) as exc:
                problem = exc.detail if isinstance(exc, LLMBadOutput) else _validation_summary(exc)
                log.warning(
                    "llm.output.invalid",
                    extra={"agent": agent, "prompt_id": prompt.id, "attempt": attempt, "problem": problem},
                )
                if attempt == 2:
                    raise LLMBadOutput(f"语言模型两次输出都不符合要求: {problem}") from exc
                repair = (
                    {"role": "assistant", "content": mask_pii(response.text)},
                    {
                        "role": "user",
                        "content": f"上面的输出不符合要求（{problem}）。请只输出符合要求的 JSON 对象。",
                    },
                )
                request = replace(request, messages=request.messages + repair)
                continue
            return LLMResult(output=output, text=response.text, record=record, records=tuple(records))
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(
        self, prompt: RenderedPrompt, agent: str, *, json_mode: bool, instruction: str | None = None
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
            json_mode=json_mode,
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
    model = OpenAIChatModel(
        base_url=str(settings.llm_base_url),
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        http_client=http_client,
    )
    return LLMGateway(
        model, model_name=settings.llm_model, temperatures=temperatures_from(settings), sink=sink
    )
