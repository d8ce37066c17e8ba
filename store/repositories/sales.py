"""Sales history of one shop (imported records, or daily sums of its orders), the forecaster's
runs (Forecast, RestockSuggestion rows) and the customer messages hidden demand reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store.models import (
    Conversation,
    Customer,
    Forecast,
    Message,
    MessageRole,
    RestockSuggestion,
    SalesRecord,
)
from store.repositories.orders import OrderRepository

# Shops sell in China: a "day" of sales is a local (Asia/Shanghai) calendar day.
CST = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class DailySales:
    sku: str
    day: date
    qty: float
    price: Decimal | None = None
    promo: bool = False
    on_hand: int | None = None


@dataclass(frozen=True)
class CustomerMessage:
    customer_id: int
    created_at: datetime  # UTC-aware
    text: str


class SalesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- imported records -------------------------------------------------------------

    def upsert_records(self, shop_id: int, rows: Sequence[DailySales]) -> tuple[int, int]:
        """Insert or update by (shop, sku, day) in the caller's transaction; (inserted, updated)."""
        if not rows:
            return 0, 0
        skus = sorted({r.sku for r in rows})
        lo, hi = min(r.day for r in rows), max(r.day for r in rows)
        existing: dict[tuple[str, date], SalesRecord] = {}
        for start in range(0, len(skus), 500):
            chunk = skus[start : start + 500]
            query = select(SalesRecord).where(
                SalesRecord.shop_id == shop_id,
                SalesRecord.sku.in_(chunk),
                SalesRecord.day >= lo,
                SalesRecord.day <= hi,
            )
            for record in self.session.scalars(query):
                existing[(record.sku, record.day)] = record
        inserted = updated = 0
        for r in rows:
            found = existing.get((r.sku, r.day))
            if found is None:
                self.session.add(
                    SalesRecord(
                        shop_id=shop_id,
                        sku=r.sku,
                        day=r.day,
                        qty=r.qty,
                        price=r.price,
                        promo=r.promo,
                        on_hand=r.on_hand,
                    )
                )
                inserted += 1
            else:
                found.qty, found.price, found.promo, found.on_hand = r.qty, r.price, r.promo, r.on_hand
                updated += 1
        self.session.flush()
        return inserted, updated

    def count_records(self, shop_id: int) -> int:
        query = select(func.count()).select_from(SalesRecord).where(SalesRecord.shop_id == shop_id)
        return self.session.scalar(query) or 0

    def records(self, shop_id: int) -> list[DailySales]:
        query = (
            select(SalesRecord)
            .where(SalesRecord.shop_id == shop_id)
            .order_by(SalesRecord.sku, SalesRecord.day)
        )
        return [
            DailySales(r.sku, r.day, r.qty, r.price, r.promo, r.on_hand) for r in self.session.scalars(query)
        ]

    # ---- history derived from orders ----------------------------------------------------

    def daily_from_orders(self, shop_id: int) -> list[DailySales]:
        """Units per SKU per local day over the shop's demand orders (not cancelled/unpaid/refunded)."""
        totals: dict[tuple[str, date], float] = defaultdict(float)
        for line in OrderRepository(self.session).iter_lines(shop_id):
            totals[(line.sku, line.created_at.astimezone(CST).date())] += line.qty
        return [DailySales(sku, day, qty) for (sku, day), qty in sorted(totals.items())]

    # ---- customer messages (read-only; hidden demand) -----------------------------------

    def customer_messages(self, shop_id: int, since: datetime | None = None) -> list[CustomerMessage]:
        query = (
            select(Conversation.customer_id, Message.created_at, Message.text)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(
                Message.shop_id == shop_id,
                Conversation.shop_id == shop_id,
                Message.role == MessageRole.customer,
            )
            .order_by(Message.created_at, Message.id)
        )
        if since is not None:
            query = query.where(Message.created_at >= since.astimezone(UTC))
        return [
            CustomerMessage(customer_id, _aware(created_at), text)
            for customer_id, created_at, text in self.session.execute(query)
        ]

    def add_customer_message(
        self, shop_id: int, customer_id: int, text: str, created_at: datetime
    ) -> Message:
        """A one-message conversation (test and import helper until the conversations API lands)."""
        customer = self.session.scalar(
            select(Customer).where(Customer.shop_id == shop_id, Customer.id == customer_id)
        )
        if customer is None:
            raise ValueError(f"customer {customer_id} is not in shop {shop_id}")
        # SQLite keeps UTC wall-clock strings: store UTC whatever zone the caller used.
        created_at = created_at.astimezone(UTC)
        conversation = Conversation(shop_id=shop_id, customer_id=customer_id, created_at=created_at)
        self.session.add(conversation)
        self.session.flush()
        message = Message(
            shop_id=shop_id,
            conversation_id=conversation.id,
            role=MessageRole.customer,
            text=text,
            created_at=created_at,
        )
        self.session.add(message)
        self.session.flush()
        return message

    # ---- forecast runs --------------------------------------------------------------------

    def save_run(
        self,
        shop_id: int,
        run_id: str,
        forecasts: Iterable[dict[str, Any]],
        suggestions: Iterable[dict[str, Any]],
    ) -> None:
        """Write one run's Forecast and RestockSuggestion rows (dicts of column values)."""
        self.session.add_all(Forecast(shop_id=shop_id, run_id=run_id, **f) for f in forecasts)
        self.session.add_all(RestockSuggestion(shop_id=shop_id, run_id=run_id, **s) for s in suggestions)
        self.session.flush()

    def latest_run_id(self, shop_id: int) -> str | None:
        query = (
            select(Forecast.run_id).where(Forecast.shop_id == shop_id).order_by(Forecast.id.desc()).limit(1)
        )
        return self.session.scalar(query)

    def forecast(self, shop_id: int, run_id: str, sku: str) -> Forecast | None:
        return self.session.scalar(
            select(Forecast).where(
                Forecast.shop_id == shop_id, Forecast.run_id == run_id, Forecast.sku == sku
            )
        )

    def forecasts(self, shop_id: int, run_id: str) -> list[Forecast]:
        query = (
            select(Forecast)
            .where(Forecast.shop_id == shop_id, Forecast.run_id == run_id)
            .order_by(Forecast.sku)
        )
        return list(self.session.scalars(query))

    def suggestions(self, shop_id: int, run_id: str) -> list[RestockSuggestion]:
        query = (
            select(RestockSuggestion)
            .where(RestockSuggestion.shop_id == shop_id, RestockSuggestion.run_id == run_id)
            .order_by(RestockSuggestion.priority, RestockSuggestion.sku)
        )
        return list(self.session.scalars(query))

    def delete_runs_except(self, shop_id: int, keep: Sequence[str]) -> None:
        """Drop older runs' rows (forecasts are recomputed nightly; only recent ones matter)."""
        self.session.execute(
            delete(Forecast).where(Forecast.shop_id == shop_id, Forecast.run_id.not_in(list(keep)))
        )
        self.session.execute(
            delete(RestockSuggestion).where(
                RestockSuggestion.shop_id == shop_id, RestockSuggestion.run_id.not_in(list(keep))
            )
        )

    def recent_run_ids(self, shop_id: int, limit: int) -> list[str]:
        query = (
            select(Forecast.run_id, func.max(Forecast.id).label("last"))
            .where(Forecast.shop_id == shop_id)
            .group_by(Forecast.run_id)
            .order_by(func.max(Forecast.id).desc())
            .limit(limit)
        )
        return [run_id for run_id, _ in self.session.execute(query)]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
