"""Test doubles for the chat model. Real model calls never run in tests.

- `ScriptedChatModel`: a strict in-process `ChatModel`. Replies come from a queue (text, a
  JSON-able object, a pydantic model, a `ToolCall`, or an exception to raise); every request is
  recorded; one call too many is an `AssertionError`, and `assert_exhausted()` fails on unused
  replies. A request with a schema is parsed by LangChain's `PydanticOutputParser`, the parser
  `ChatOpenAI` uses in json_mode.
- `StubOpenAIServer`: a real HTTP server on 127.0.0.1 speaking `/v1/chat/completions` (JSON,
  SSE and tool calls), driven by a script of behaviours, so the real `ChatOpenAI` and `openai`
  client are exercised.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import PydanticOutputParser
from pydantic import BaseModel

from agents.llm import (
    ChatRequest,
    ChatResponse,
    LLMCallSink,
    LLMGateway,
    ToolCall,
    parse_problem,
    temperatures_from,
)
from evals.doubles.local_server import LocalServer
from store.settings import Settings

Scripted = str | Mapping[str, Any] | list[Any] | BaseModel | BaseException | ChatResponse | ToolCall


def _as_text(reply: str | Mapping[str, Any] | list[Any] | BaseModel) -> str:
    if isinstance(reply, str):
        return reply
    if isinstance(reply, BaseModel):
        return reply.model_dump_json()
    return json.dumps(reply, ensure_ascii=False)


def _count(messages: Iterable[Mapping[str, str]]) -> int:
    return sum(len(m.get("content", "")) for m in messages)


class ScriptedChatModel:
    """A strict scripted `ChatModel`: exactly the scripted number of calls, in order."""

    def __init__(
        self, replies: Iterable[Scripted] = (), *, model: str = "scripted-model", chunk_chars: int = 4
    ):
        self._queue: deque[Scripted] = deque(replies)
        self.model = model
        self.chunk_chars = chunk_chars
        self.calls: list[ChatRequest] = []
        self.overused = 0

    def add(self, *replies: Scripted) -> ScriptedChatModel:
        self._queue.extend(replies)
        return self

    @property
    def remaining(self) -> int:
        return len(self._queue)

    def _next(self, request: ChatRequest) -> str | ChatResponse | ToolCall:
        self.calls.append(request)
        if not self._queue:
            self.overused += 1
            raise AssertionError(
                f"ScriptedChatModel called {len(self.calls)} times but only "
                f"{len(self.calls) - self.overused} replies were scripted; last user message: "
                f"{request.messages[-1].get('content', '')[:200]!r}"
            )
        reply = self._queue.popleft()
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, ChatResponse | ToolCall):
            return reply
        return _as_text(reply)

    def chat(self, request: ChatRequest) -> ChatResponse:
        reply = self._next(request)
        if isinstance(reply, ChatResponse):
            return reply
        sent = _count(request.messages)
        if isinstance(reply, ToolCall):
            if not request.tools:
                raise AssertionError(f"a tool call {reply!r} was scripted for a request without tools")
            return ChatResponse("", self.model, sent, len(str(reply.args)), tool_calls=(reply,))
        response = ChatResponse(reply, self.model, sent, len(reply))
        if request.schema is None:
            return response
        parser: PydanticOutputParser[BaseModel] = PydanticOutputParser(pydantic_object=request.schema)
        try:
            return replace(response, parsed=parser.parse(reply))
        except OutputParserException as exc:
            return replace(response, parse_error=parse_problem(exc))

    def stream(self, request: ChatRequest, usage: dict[str, int]) -> Iterator[str]:
        reply = self._next(request)
        if isinstance(reply, ToolCall):
            raise AssertionError(f"a tool call {reply!r} was scripted for a streamed request")
        text = reply.text if isinstance(reply, ChatResponse) else reply
        for start in range(0, len(text), self.chunk_chars):
            yield text[start : start + self.chunk_chars]
        usage["input_tokens"] = _count(request.messages)
        usage["output_tokens"] = len(text)

    @property
    def last_request(self) -> ChatRequest:
        if not self.calls:
            raise AssertionError("ScriptedChatModel was never called")
        return self.calls[-1]

    def assert_exhausted(self) -> None:
        if self.overused:
            raise AssertionError(f"ScriptedChatModel was called {self.overused} time(s) more than scripted")
        if self._queue:
            unused = [repr(r)[:80] for r in self._queue]
            raise AssertionError(f"{len(unused)} scripted replies were never used: {unused}")


# ---- the HTTP stub ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A normal completion (or SSE stream, when the request asks for one)."""

    text: str
    chunk_chars: int = 4


@dataclass(frozen=True)
class ReplyJSON:
    payload: Mapping[str, Any] | list[Any]


@dataclass(frozen=True)
class ReplyToolCall:
    """An assistant message that calls one tool (for `bind_tools` and function_calling)."""

    name: str
    arguments: Mapping[str, Any] | str


@dataclass(frozen=True)
class Delay:
    """Sleep before answering, to trigger the client's timeout."""

    seconds: float
    then: Behaviour = field(default_factory=lambda: Reply("太慢了"))


@dataclass(frozen=True)
class Status:
    code: int = 500
    message: str = "stub server error"


@dataclass(frozen=True)
class Malformed:
    """A 200 whose body is not a chat completion."""

    body: str = '{"id": "chatcmpl-broken", "choices": [{"message": '
    content_type: str = "application/json"


@dataclass(frozen=True)
class Cut:
    """A stream that sends the first `after_chars` of `text`, then drops the connection
    mid-body (no `[DONE]`, no final chunk): a provider dying half-way through a reply."""

    text: str
    after_chars: int
    chunk_chars: int = 4


class _CutConnection(Exception):
    """Raised inside the streaming body so the server aborts the connection."""


Behaviour = Reply | ReplyJSON | ReplyToolCall | Delay | Status | Malformed | Cut


class StubOpenAIServer:
    """`with StubOpenAIServer([Reply("好的")]) as stub: ... stub.base_url ...`

    Bounded: it serves only what is scripted (extra requests get a 500 and count as overuse),
    and it stops itself after `max_lifetime_s` even if the test forgets to.
    """

    def __init__(self, script: Iterable[Behaviour] = (), *, max_lifetime_s: float = 60.0) -> None:
        self._script: deque[Behaviour] = deque(script)
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.overused = 0
        self.max_lifetime_s = max_lifetime_s
        self._local: LocalServer | None = None
        self._timer: threading.Timer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def assert_exhausted(self) -> None:
        if self.overused:
            raise AssertionError(f"StubOpenAIServer got {self.overused} request(s) more than scripted")
        if self._script:
            raise AssertionError(
                f"{len(self._script)} scripted behaviours were never used: {list(self._script)}"
            )

    def _app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route

        async def completions(request: Request) -> Response:
            body = await request.json()
            with self._lock:
                self.requests.append(body)
                behaviour = self._script.popleft() if self._script else None
                if behaviour is None:
                    self.overused += 1
            if behaviour is None:
                return JSONResponse({"error": {"message": "stub script exhausted"}}, status_code=500)
            while isinstance(behaviour, Delay):
                await asyncio.sleep(behaviour.seconds)
                behaviour = behaviour.then
            if isinstance(behaviour, Status):
                return JSONResponse({"error": {"message": behaviour.message}}, status_code=behaviour.code)
            if isinstance(behaviour, Malformed):
                return Response(behaviour.body, media_type=behaviour.content_type)
            if isinstance(behaviour, Cut):
                model = str(body.get("model", "stub-model"))
                sent = behaviour.text[: behaviour.after_chars]
                return StreamingResponse(_cut_sse(sent, model, behaviour.chunk_chars))
            model = str(body.get("model", "stub-model"))
            if isinstance(behaviour, ReplyToolCall):
                return JSONResponse(_tool_call_completion(behaviour, model, body))
            text = behaviour.text if isinstance(behaviour, Reply) else _as_text(behaviour.payload)
            usage = {
                "prompt_tokens": _count(body.get("messages", [])),
                "completion_tokens": len(text),
                "total_tokens": _count(body.get("messages", [])) + len(text),
            }
            if body.get("stream"):
                step = behaviour.chunk_chars if isinstance(behaviour, Reply) else 8
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return StreamingResponse(_sse(text, model, step, usage if include_usage else None))
            return JSONResponse(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])

    def __enter__(self) -> StubOpenAIServer:
        self._local = LocalServer(
            self._app(),
            start_timeout_s=10,
            join_timeout_s=10,
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        self._local.start()
        self.port = self._local.port
        self._timer = threading.Timer(self.max_lifetime_s, self._stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _stop(self) -> None:
        if self._local is not None:
            self._local.stop()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._stop()


async def _sse(text: str, model: str, step: int, usage: Mapping[str, int] | None) -> AsyncIterator[str]:
    def chunk(delta: Mapping[str, str], finish: str | None) -> str:
        payload = {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    for start in range(0, len(text), step):
        yield chunk({"content": text[start : start + step]}, None)
        await asyncio.sleep(0)
    yield chunk({}, "stop")
    if usage is not None:
        payload = {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": dict(usage),
        }
        yield f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _tool_call_completion(call: ReplyToolCall, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
    arguments = (
        call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments, ensure_ascii=False)
    )
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_stub_1",
                            "type": "function",
                            "function": {"name": call.name, "arguments": arguments},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": _count(body.get("messages", [])),
            "completion_tokens": len(arguments),
            "total_tokens": _count(body.get("messages", [])) + len(arguments),
        },
    }


async def _cut_sse(text: str, model: str, step: int) -> AsyncIterator[str]:
    async for event in _sse(text, model, step, None):
        if '"finish_reason": "stop"' in event:
            raise _CutConnection("stub: connection dropped mid-stream")
        yield event


def scripted_gateway(
    model: ScriptedChatModel,
    *,
    sink: LLMCallSink | None = None,
    temperatures: Mapping[str, float] | None = None,
) -> LLMGateway:
    """An `LLMGateway` over a scripted model, with the default per-agent temperatures."""
    return LLMGateway(
        model,
        model_name=model.model,
        temperatures=temperatures if temperatures is not None else temperatures_from(Settings()),
        sink=sink,
    )
