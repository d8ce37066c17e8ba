"""Conversations over HTTP (thin: authorise, call `agents.customer_service.service`, shape).

A `service` key (a channel) posts the CUSTOMER's messages and gets the bot's reply; an `agent`
(or owner) key posts STAFF messages. The customer's message is committed before anything else runs.

`?stream=true` answers as server-sent events: `event: delta` `{"text": "..."}` chunks, then one
`event: done` carrying exactly the JSON the plain endpoint returns (or `event: error`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from agents.customer_service import service
from agents.customer_service.errors import InvalidShopPolicy, InvalidTransition
from agents.customer_service.suggest import SuggestDispatch
from agents.customer_service.tasks import SUGGEST_TASK
from agents.customer_service.webhooks import WebhookDispatch
from agents.runtime import Runtime
from api.celery_app import runtime_celery
from api.deps import Caller, RuntimeDep, SessionDep, StaffOrChannelDep
from api.errors import error_responses
from api.params import IdPath
from api.routers.webhooks import WebhookDispatchDep
from api.schemas.conversations import (
    ConversationCreate,
    ConversationPublic,
    MessageCreate,
    ReplyPublic,
    TranscriptPublic,
)
from store.errors import Forbidden, NotFound, SiyuError, Unauthenticated
from store.models import Role

router = APIRouter(prefix="/v1", tags=["customer service"])
AUTH_ERRORS = (Unauthenticated, Forbidden)
log = logging.getLogger("siyu.api.conversations")
DELTA_CHARS = 8
STREAM_PING_S = 15


def get_now() -> datetime:
    """The request's clock; tests override it to replay silence timeouts and shop hours."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


def celery_suggest(runtime: Runtime) -> SuggestDispatch:
    """Sends `siyu.cs.suggest_reply` (a handoff's LLM suggested reply) over the runtime's Celery app."""

    def suggest(shop_id: int, handoff_id: int) -> None:
        runtime_celery(runtime).send_task(SUGGEST_TASK, args=[shop_id, handoff_id])

    return suggest


def get_suggest_dispatch(runtime: RuntimeDep) -> SuggestDispatch:
    """Tests override it (run the task inline, or record the call)."""
    return celery_suggest(runtime)


SuggestDispatchDep = Annotated[SuggestDispatch, Depends(get_suggest_dispatch)]


def staff_name(caller: Caller) -> str:
    return f"{caller.role.value}:{caller.key_id}"


@router.post(
    "/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationPublic,
    responses=error_responses(*AUTH_ERRORS),
)
def create_conversation(
    body: ConversationCreate, caller: StaffOrChannelDep, runtime: RuntimeDep
) -> ConversationPublic:
    return ConversationPublic.model_validate(
        service.start_conversation(runtime, caller.shop_id, body.customer_ref, body.channel)
    )


def reply_chunks(text: str, size: int = DELTA_CHARS) -> list[str]:
    """The reply cut into `delta` events; joined they are exactly the stored reply."""
    return [text[i : i + size] for i in range(0, len(text), size)]


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=ReplyPublic,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "With `?stream=true`: `delta` events `{text}`, then one `done` (this body).",
        },
        **error_responses(*AUTH_ERRORS, NotFound, InvalidTransition, InvalidShopPolicy),
    },
)
def post_message(
    conversation_id: IdPath,
    body: MessageCreate,
    caller: StaffOrChannelDep,
    runtime: RuntimeDep,
    now: NowDep,
    notify: WebhookDispatchDep,
    suggest: SuggestDispatchDep,
    session: SessionDep,
    stream: Annotated[bool, Query(description="Answer as server-sent events")] = False,
) -> ReplyPublic | Response:
    """`service` key: a customer message → the bot's reply (or null while staff hold the chat).
    `agent`/`owner` key: a staff message (in `bot` state it moves the chat to `human`)."""
    if caller.role is Role.service:
        # Committed here, before the stream starts: a wrong id is a plain 404, and the customer's
        # words are stored whatever happens to the model or the connection afterwards.
        message_id = service.record_customer_message(runtime, caller.shop_id, conversation_id, body.text, now)
        if stream:
            # As in the job events stream: the request's session (the key lookup) would otherwise
            # hold a pooled connection for the whole stream; the turn opens its own.
            session.close()
            turn_stream = _turn_stream(
                runtime, caller.shop_id, conversation_id, message_id, body.text, now, notify, suggest
            )
            return EventSourceResponse(turn_stream, ping=STREAM_PING_S)
        return ReplyPublic.of(
            service.answer_customer_message(
                runtime,
                caller.shop_id,
                conversation_id,
                message_id,
                body.text,
                now,
                notify=notify,
                suggest=suggest,
            )
        )
    state = service.post_staff_message(
        runtime, caller.shop_id, conversation_id, body.text, staff_name(caller), now, notify=notify
    )
    staff = ReplyPublic(reply=None, state=state, role="human")
    if stream:
        return EventSourceResponse(_single(staff))
    return staff


async def _single(reply: ReplyPublic) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(data=reply.model_dump_json(), event="done")


async def _turn_stream(
    runtime: Runtime,
    shop_id: int,
    conversation_id: int,
    message_id: int,
    text: str,
    now: datetime,
    notify: WebhookDispatch,
    suggest: SuggestDispatch,
) -> AsyncIterator[ServerSentEvent]:
    """Why the deltas come only after the whole turn is decided: every bot reply must pass the
    commitment guard COMPLETE before the customer sees any of it. Forwarding the model's tokens
    live would show "给您打五折…" before the guard could block it, and a promise on screen cannot
    be taken back; a stream that breaks half-way would leave half a sentence the stored
    transcript does not contain. So the model's stream is buffered server-side, guarded (or
    replaced by the offline answer when it fails), stored, and only then sent in chunks. The
    deltas always join to exactly the stored reply; the offline engine is chunked the same way."""
    try:
        turn = await anyio.to_thread.run_sync(
            lambda: service.answer_customer_message(
                runtime,
                shop_id,
                conversation_id,
                message_id,
                text,
                now,
                stream_llm=True,
                notify=notify,
                suggest=suggest,
            )
        )
    except Exception as exc:
        # Headers are already sent: the failure goes in the stream, in the usual error shape.
        # The customer's message was committed before the stream began.
        log.exception("cs.stream_failed", extra={"shop_id": shop_id, "conversation_id": conversation_id})
        code = exc.code if isinstance(exc, SiyuError) else "internal_error"
        detail = exc.detail if isinstance(exc, SiyuError) else "服务内部错误，请稍后重试"
        yield ServerSentEvent(
            data=json.dumps({"error": code, "detail": detail}, ensure_ascii=False), event="error"
        )
        return
    for chunk in reply_chunks(turn.reply or ""):
        yield ServerSentEvent(data=json.dumps({"text": chunk}, ensure_ascii=False), event="delta")
    yield ServerSentEvent(data=ReplyPublic.of(turn).model_dump_json(), event="done")


@router.get(
    "/conversations/{conversation_id}",
    response_model=TranscriptPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def get_conversation(
    conversation_id: IdPath, caller: StaffOrChannelDep, runtime: RuntimeDep
) -> TranscriptPublic:
    return TranscriptPublic.model_validate(service.transcript(runtime, caller.shop_id, conversation_id))
