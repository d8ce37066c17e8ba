"""Conversations, their messages and the handoff queue of one shop; customer erasure.

The claim is ONE conditional UPDATE (`... WHERE status = 'waiting'`) whose rowcount says who
won: of any number of concurrent claims exactly one sees rowcount 1, on SQLite and Postgres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from store.db import WRITE_INTENT
from store.errors import NotFound
from store.models import (
    AuditLog,
    Conversation,
    ConversationState,
    Customer,
    Handoff,
    HandoffStatus,
    Message,
    MessageRole,
    Order,
)

OPEN_STATUSES = (HandoffStatus.waiting, HandoffStatus.claimed)
ERASED_TEXT = "[已删除]"


@dataclass(frozen=True)
class ErasureCounts:
    messages: int
    conversations: int
    orders: int
    handoffs: int


class ConversationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- conversations ------------------------------------------------------------------

    def create(self, shop_id: int, customer_id: int, channel: str) -> Conversation:
        conv = Conversation(shop_id=shop_id, customer_id=customer_id, channel=channel)
        self.session.add(conv)
        self.session.flush()
        return conv

    def get(self, shop_id: int, conversation_id: int, *, for_update: bool = False) -> Conversation:
        query = select(Conversation).where(
            Conversation.shop_id == shop_id, Conversation.id == conversation_id
        )
        if for_update:
            # Locked AND re-read: with expire_on_commit off, the session would otherwise hand back
            # the object it loaded earlier, state and all, however the row has changed since.
            query = query.with_for_update().execution_options(populate_existing=True, **{WRITE_INTENT: True})
        conv = self.session.scalar(query)
        if conv is None:
            raise NotFound(f"会话 {conversation_id} 不存在")
        return conv

    # -- messages -----------------------------------------------------------------------

    def add_message(
        self,
        conv: Conversation,
        role: MessageRole,
        text: str,
        *,
        author: str | None = None,
        intent: str | None = None,
        engine: str | None = None,
        citations: Sequence[dict[str, Any]] = (),
        meta: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Message:
        msg = Message(
            shop_id=conv.shop_id,
            conversation_id=conv.id,
            role=role,
            text=text,
            author=author,
            intent=intent,
            engine=engine,
            citations=list(citations),
            meta=meta or {},
        )
        if now is not None:
            msg.created_at = now
        self.session.add(msg)
        self.session.flush()
        return msg

    def messages(self, shop_id: int, conversation_id: int, *, last: int | None = None) -> list[Message]:
        """Oldest first; with `last`, only the newest `last` messages."""
        query = select(Message).where(Message.shop_id == shop_id, Message.conversation_id == conversation_id)
        if last is None:
            return list(self.session.scalars(query.order_by(Message.id)))
        newest = list(self.session.scalars(query.order_by(Message.id.desc()).limit(last)))
        return newest[::-1]

    # -- handoffs -----------------------------------------------------------------------

    def open_handoff(
        self,
        conv: Conversation,
        reasons: Sequence[str],
        priority: int,
        brief: dict[str, Any],
        now: datetime,
    ) -> Handoff:
        item = Handoff(
            shop_id=conv.shop_id,
            conversation_id=conv.id,
            reasons=list(reasons),
            priority=priority,
            brief=brief,
            status=HandoffStatus.waiting,
            created_at=now,
        )
        self.session.add(item)
        self.session.flush()
        return item

    def get_handoff(self, shop_id: int, handoff_id: int, *, for_update: bool = False) -> Handoff:
        query = select(Handoff).where(Handoff.shop_id == shop_id, Handoff.id == handoff_id)
        if for_update:  # locked and re-read, as in `get`
            query = query.with_for_update().execution_options(populate_existing=True, **{WRITE_INTENT: True})
        item = self.session.scalar(query)
        if item is None:
            raise NotFound(f"转人工工单 {handoff_id} 不存在")
        return item

    def open_handoff_of(self, shop_id: int, conversation_id: int) -> Handoff | None:
        return self.session.scalar(
            select(Handoff)
            .where(
                Handoff.shop_id == shop_id,
                Handoff.conversation_id == conversation_id,
                Handoff.status.in_(OPEN_STATUSES),
            )
            .order_by(Handoff.id.desc())
            .limit(1)
        )

    def handoffs_of(self, shop_id: int, conversation_id: int) -> list[Handoff]:
        return list(
            self.session.scalars(
                select(Handoff)
                .where(Handoff.shop_id == shop_id, Handoff.conversation_id == conversation_id)
                .order_by(Handoff.id)
            )
        )

    def queue(self, shop_id: int, status: HandoffStatus, *, limit: int = 100) -> list[Handoff]:
        """Highest priority first, then the longest wait."""
        return list(
            self.session.scalars(
                select(Handoff)
                .where(Handoff.shop_id == shop_id, Handoff.status == status)
                .order_by(Handoff.priority.desc(), Handoff.created_at, Handoff.id)
                .limit(limit)
            )
        )

    def count_waiting(self, shop_id: int) -> int:
        query = (
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.shop_id == shop_id, Handoff.status == HandoffStatus.waiting)
        )
        return self.session.scalar(query) or 0

    def claim(self, shop_id: int, handoff_id: int, staff: str, now: datetime) -> bool:
        """Atomically take a waiting handoff. True for exactly one of any concurrent callers."""
        result = self.session.execute(
            update(Handoff)
            .where(
                Handoff.shop_id == shop_id,
                Handoff.id == handoff_id,
                Handoff.status == HandoffStatus.waiting,
            )
            .values(status=HandoffStatus.claimed, claimed_by=staff, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def close_open_handoffs(
        self, shop_id: int, conversation_id: int, status: HandoffStatus, now: datetime
    ) -> int:
        result = self.session.execute(
            update(Handoff)
            .where(
                Handoff.shop_id == shop_id,
                Handoff.conversation_id == conversation_id,
                Handoff.status.in_(OPEN_STATUSES),
            )
            .values(status=status, closed_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount

    # -- erasure ------------------------------------------------------------------------

    def erase_customer(self, shop_id: int, customer: Customer, actor: str, now: datetime) -> ErasureCounts:
        """Blank the customer's message texts, personal fields, ship addresses and briefs; audit it."""
        conv_ids = select(Conversation.id).where(
            Conversation.shop_id == shop_id, Conversation.customer_id == customer.id
        )
        conversations = self.session.scalar(select(func.count()).select_from(conv_ids.subquery())) or 0
        msgs = self.session.execute(
            update(Message)
            .where(
                Message.shop_id == shop_id,
                Message.conversation_id.in_(conv_ids),
                Message.role.in_((MessageRole.customer, MessageRole.bot, MessageRole.human)),
            )
            .values(text=ERASED_TEXT, meta={}, citations=[])
            .execution_options(synchronize_session=False)
        )
        handoffs = self.session.execute(
            update(Handoff)
            .where(Handoff.shop_id == shop_id, Handoff.conversation_id.in_(conv_ids))
            .values(brief={"erased": True})
            .execution_options(synchronize_session=False)
        )
        orders = self.session.execute(
            update(Order)
            .where(Order.shop_id == shop_id, Order.customer_id == customer.id)
            .values(ship_address=None)
            .execution_options(synchronize_session=False)
        )
        customer.nickname = None
        customer.phone = None
        customer.address = None
        customer.erased_at = now
        assert isinstance(msgs, CursorResult)
        assert isinstance(handoffs, CursorResult)
        assert isinstance(orders, CursorResult)
        counts = ErasureCounts(
            messages=msgs.rowcount,
            conversations=int(conversations),
            orders=orders.rowcount,
            handoffs=handoffs.rowcount,
        )
        self.session.add(
            AuditLog(
                shop_id=shop_id,
                action="customer.erase",
                actor=actor,
                subject=f"customer:{customer.id}",
                details={
                    "messages": counts.messages,
                    "conversations": counts.conversations,
                    "orders": counts.orders,
                    "handoffs": counts.handoffs,
                },
            )
        )
        self.session.flush()
        return counts


__all__ = ["ConversationRepository", "ConversationState", "ErasureCounts"]
