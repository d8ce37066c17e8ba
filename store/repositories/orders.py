"""Orders of one shop: look-up with items and logistics, a customer's recent orders, and the
order-line stream the recommender and forecaster read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from store.models import Customer, LogisticsEvent, Order, OrderItem

# Orders whose goods did not (or will not) reach the customer: they are not demand.
NOT_DEMAND_STATUSES = ("pending_payment", "cancelled", "refunded")


@dataclass(frozen=True)
class OrderLine:
    customer_id: int
    customer_ref: str
    sku: str
    qty: int
    unit_price: Decimal
    created_at: datetime  # UTC-aware


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get_by_no(self, shop_id: int, order_no: str) -> Order | None:
        """The order with its items and its logistics events (oldest first)."""
        return self.session.scalar(
            select(Order)
            .where(Order.shop_id == shop_id, Order.order_no == order_no)
            .options(selectinload(Order.items), selectinload(Order.events))
        )

    def recent_for_customer(self, shop_id: int, customer_id: int, *, limit: int = 5) -> list[Order]:
        """Newest first, with items and events loaded."""
        return list(
            self.session.scalars(
                select(Order)
                .where(Order.shop_id == shop_id, Order.customer_id == customer_id)
                .options(selectinload(Order.items), selectinload(Order.events))
                .order_by(Order.created_at.desc(), Order.id.desc())
                .limit(limit)
            )
        )

    def lifetime_value(self, shop_id: int, customer_id: int) -> Decimal:
        """What the customer has spent with the shop: every order but the unpaid, cancelled and
        refunded ones. One aggregate, so a turn does not load order rows to add them up."""
        total = self.session.scalar(
            select(func.coalesce(func.sum(Order.total_amount), 0)).where(
                Order.shop_id == shop_id,
                Order.customer_id == customer_id,
                Order.status.not_in(NOT_DEMAND_STATUSES),
            )
        )
        # SQLite sums NUMERIC as a float: back to cents.
        return Decimal(str(total or 0)).quantize(Decimal("0.01"))

    def iter_lines(
        self,
        shop_id: int,
        since: datetime | None = None,
        *,
        include_all_statuses: bool = False,
        batch_size: int = 5000,
    ) -> Iterator[OrderLine]:
        """Every order line in creation order, streamed. Cancelled, unpaid and refunded orders
        are left out unless `include_all_statuses`, since they are not demand."""
        query = (
            select(
                Order.customer_id,
                Customer.customer_ref,
                OrderItem.sku,
                OrderItem.qty,
                OrderItem.unit_price,
                Order.created_at,
            )
            .join(Order, OrderItem.order_id == Order.id)
            .join(Customer, Order.customer_id == Customer.id)
            .where(OrderItem.shop_id == shop_id, Order.shop_id == shop_id)
            .order_by(Order.created_at, Order.id, OrderItem.id)
        )
        if since is not None:
            # SQLite keeps UTC wall-clock strings: compare in UTC whatever zone the caller used.
            query = query.where(Order.created_at >= _utc(since))
        if not include_all_statuses:
            query = query.where(Order.status.not_in(NOT_DEMAND_STATUSES))
        result = self.session.execute(query.execution_options(yield_per=batch_size))
        for customer_id, customer_ref, sku, qty, unit_price, created_at in result:
            yield OrderLine(customer_id, customer_ref, sku, qty, unit_price, _aware(created_at))

    def count(self, shop_id: int) -> int:
        return (
            self.session.scalar(select(func.count()).select_from(Order).where(Order.shop_id == shop_id)) or 0
        )

    def count_lines(self, shop_id: int) -> int:
        query = select(func.count()).select_from(OrderItem).where(OrderItem.shop_id == shop_id)
        return self.session.scalar(query) or 0

    def count_events(self, shop_id: int) -> int:
        query = select(func.count()).select_from(LogisticsEvent).where(LogisticsEvent.shop_id == shop_id)
        return self.session.scalar(query) or 0


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
