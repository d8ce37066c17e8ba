"""Conversations and the staff queue (api/routers/conversations.py and handoffs.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from agents.customer_service.service import TurnResult
from api.schemas.base import Schema, overlay
from store.models import ConversationState


class ConversationCreate(Schema):
    customer_ref: str = Field(min_length=1, max_length=64, description="The channel's id of the customer")
    channel: str = Field(default="wechat", min_length=1, max_length=30)


class ConversationPublic(Schema):
    id: int
    customer_ref: str
    channel: str
    state: ConversationState


class MessageCreate(Schema):
    text: str = Field(min_length=1, max_length=2000)


class Citation(Schema):
    ref: str
    kind: str = Field(description="order | product | faq | document")
    title: str
    doc_id: str = ""
    chunk_id: str = ""
    section: str = ""


class HandoffPublic(Schema):
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


class ReplyPublic(Schema):
    reply: str | None = Field(description="The bot's reply; null while a person holds the chat")
    state: ConversationState
    role: str = Field(description="customer: a customer message was posted; human: a staff message")
    intent: str | None = None
    citations: list[Citation] = []
    engine: str | None = Field(None, description="offline | llm | safe (guard replaced it) | ack")
    handoff: HandoffPublic | None = None
    degraded: bool = Field(
        False, description="The LLM engine is configured but failed (or was blocked); the offline answer"
    )

    @classmethod
    def of(cls, turn: TurnResult) -> ReplyPublic:
        """The bot's side of a customer's turn."""
        return cls.model_validate(overlay(turn, role="customer"))


class MessagePublic(Schema):
    id: int
    role: str
    text: str
    author: str | None
    intent: str | None
    engine: str | None
    citations: list[Citation]
    state: str | None = Field(None, description="the conversation state when the message was posted")
    created_at: datetime | None


class TranscriptPublic(Schema):
    id: int
    customer_ref: str
    channel: str
    state: ConversationState
    settled_reasons: list[str]
    messages: list[MessagePublic]
    handoffs: list[HandoffPublic]
