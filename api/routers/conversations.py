"""Conversations over HTTP (thin: authorise, call `agents.customer_service.service`, shape).

A `service` key (a channel) posts the CUSTOMER's messages and gets the bot's reply; an `agent`
(or owner) key posts STAFF messages. The customer's message is committed before anything else runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from agents.customer_service import service
from agents.customer_service.errors import InvalidShopPolicy, InvalidTransition
from api.deps import Caller, RuntimeDep, StaffOrChannelDep
from api.errors import error_responses
from store.errors import Forbidden, NotFound, Unauthenticated
from store.models import ConversationState, Role

router = APIRouter(prefix="/v1", tags=["customer service"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


def get_now() -> datetime:
    """The request's clock; tests override it to replay silence timeouts and shop hours."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


class ConversationCreate(BaseModel):
    customer_ref: str = Field(min_length=1, max_length=64, description="The channel's id of the customer")
    channel: str = Field(default="wechat", min_length=1, max_length=30)


class ConversationPublic(BaseModel):
    id: int
    customer_ref: str
    channel: str
    state: ConversationState


class MessageCreate(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class Citation(BaseModel):
    ref: str
    kind: str = Field(description="order | product | faq | document")
    title: str
    doc_id: str = ""
    chunk_id: str = ""
    section: str = ""


class HandoffPublic(BaseModel):
    id: int
    conversation_id: int
    status: str
    reasons: list[str]
    priority: int
    brief: dict[str, Any]
    claimed_by: str | None = None
    created_at: datetime | None = None
    claimed_at: datetime | None = None
    closed_at: datetime | None = None


class ReplyPublic(BaseModel):
    reply: str | None = Field(description="The bot's reply; null while a person holds the chat")
    state: ConversationState
    role: str = Field(description="customer: a customer message was posted; human: a staff message")
    intent: str | None = None
    citations: list[Citation] = []
    engine: str | None = Field(None, description="offline | llm | safe (guard replaced it) | ack")
    handoff: HandoffPublic | None = None


class MessagePublic(BaseModel):
    id: int
    role: str
    text: str
    author: str | None
    intent: str | None
    engine: str | None
    citations: list[Citation]
    state: str | None = Field(None, description="the conversation state when the message was posted")
    created_at: datetime | None


class TranscriptPublic(BaseModel):
    id: int
    customer_ref: str
    channel: str
    state: ConversationState
    settled_reasons: list[str]
    messages: list[MessagePublic]
    handoffs: list[HandoffPublic]


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
    return ConversationPublic(
        **service.start_conversation(runtime, caller.shop_id, body.customer_ref, body.channel)
    )


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=ReplyPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound, InvalidTransition, InvalidShopPolicy),
)
def post_message(
    conversation_id: int, body: MessageCreate, caller: StaffOrChannelDep, runtime: RuntimeDep, now: NowDep
) -> ReplyPublic:
    """`service` key: a customer message → the bot's reply (or null while staff hold the chat).
    `agent`/`owner` key: a staff message (in `bot` state it moves the chat to `human`)."""
    if caller.role is Role.service:
        turn = service.handle_customer_message(runtime, caller.shop_id, conversation_id, body.text, now)
        return ReplyPublic(
            reply=turn.reply,
            state=turn.state,
            role="customer",
            intent=turn.intent,
            citations=[Citation(**c) for c in turn.citations],
            engine=turn.engine,
            handoff=HandoffPublic(**turn.handoff) if turn.handoff else None,
        )
    state = service.post_staff_message(
        runtime, caller.shop_id, conversation_id, body.text, staff_name(caller), now
    )
    return ReplyPublic(reply=None, state=state, role="human")


@router.get(
    "/conversations/{conversation_id}",
    response_model=TranscriptPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def get_conversation(
    conversation_id: int, caller: StaffOrChannelDep, runtime: RuntimeDep
) -> TranscriptPublic:
    return TranscriptPublic.model_validate(service.transcript(runtime, caller.shop_id, conversation_id))
