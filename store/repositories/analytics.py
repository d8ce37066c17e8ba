"""Read-only queries the recommender and segments need: order totals, who may be profiled,
and customers by reference."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.models import Customer, Order
from store.repositories.orders import NOT_DEMAND_STATUSES


@dataclass(frozen=True)
class OrderTotal:
    customer_ref: str
    order_no: str
    created_at: datetime  # UTC-aware
    total_amount: Decimal


@dataclass(frozen=True)
class CustomerBrief:
    customer_ref: str
    nickname: str | None
    consent_profiling: bool
    erased: bool


class AnalyticsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def no_profiling_refs(self, shop_id: int) -> set[str]:
        """Customers who were erased or withdrew consent to profiling: never scored or segmented."""
        query = select(Customer.customer_ref).where(
            Customer.shop_id == shop_id,
            or_(Customer.erased_at.is_not(None), Customer.consent_profiling.is_(False)),
        )
        return set(self.session.scalars(query))

    def iter_order_totals(self, shop_id: int, *, batch_size: int = 5000) -> Iterator[OrderTotal]:
        """One row per demand order (not cancelled, unpaid or refunded) of customers who may be
        profiled, oldest first."""
        query = (
            select(Customer.customer_ref, Order.order_no, Order.created_at, Order.total_amount)
            .join(Customer, Order.customer_id == Customer.id)
            .where(
                Order.shop_id == shop_id,
                Customer.shop_id == shop_id,
                Order.status.not_in(NOT_DEMAND_STATUSES),
                Customer.erased_at.is_(None),
                Customer.consent_profiling.is_(True),
            )
            .order_by(Order.created_at, Order.id)
        )
        for ref, order_no, created_at, total in self.session.execute(
            query.execution_options(yield_per=batch_size)
        ):
            aware = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at
            yield OrderTotal(ref, order_no, aware, total)

    def customers_by_refs(self, shop_id: int, refs: Iterable[str]) -> dict[str, CustomerBrief]:
        wanted = list(dict.fromkeys(refs))
        out: dict[str, CustomerBrief] = {}
        for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start : start + 500]
            rows = self.session.execute(
                select(
                    Customer.customer_ref, Customer.nickname, Customer.consent_profiling, Customer.erased_at
                ).where(Customer.shop_id == shop_id, Customer.customer_ref.in_(chunk))
            )
            for ref, nickname, consent, erased_at in rows:
                out[ref] = CustomerBrief(ref, nickname, bool(consent), erased_at is not None)
        return out
