"""Customers of one shop, addressed by the channel's `customer_ref` (e.g. a WeChat openid)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import AlreadyExists, NotFound
from store.models import Customer


@dataclass(frozen=True)
class CustomerPage:
    items: Sequence[Customer]
    total: int
    limit: int
    offset: int


class CustomerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, shop_id: int, customer_id: int) -> Customer:
        customer = self.session.scalar(
            select(Customer).where(Customer.shop_id == shop_id, Customer.id == customer_id)
        )
        if customer is None:
            raise NotFound(f"顾客 {customer_id!r} 不存在")
        return customer

    def get_by_ref(self, shop_id: int, customer_ref: str) -> Customer | None:
        return self.session.scalar(
            select(Customer).where(Customer.shop_id == shop_id, Customer.customer_ref == customer_ref)
        )

    def require_by_ref(self, shop_id: int, customer_ref: str) -> Customer:
        customer = self.get_by_ref(shop_id, customer_ref)
        if customer is None:
            raise NotFound(f"顾客 {customer_ref!r} 不存在")
        return customer

    def create(
        self,
        shop_id: int,
        customer_ref: str,
        *,
        nickname: str | None = None,
        phone: str | None = None,
        city: str | None = None,
        consent_marketing: bool = False,
        consent_profiling: bool = True,
    ) -> Customer:
        if self.get_by_ref(shop_id, customer_ref) is not None:
            raise AlreadyExists(f"顾客 {customer_ref!r} 已存在")
        customer = Customer(
            shop_id=shop_id,
            customer_ref=customer_ref,
            nickname=nickname,
            phone=phone,
            city=city,
            consent_marketing=consent_marketing,
            consent_profiling=consent_profiling,
        )
        self.session.add(customer)
        self.session.flush()
        return customer

    def get_or_create(
        self, shop_id: int, customer_ref: str, *, nickname: str | None = None
    ) -> tuple[Customer, bool]:
        """(customer, created). Safe when two messages of a new customer arrive at once:
        the loser of the unique-constraint race reads the winner's row."""
        existing = self.get_by_ref(shop_id, customer_ref)
        if existing is not None:
            return existing, False
        customer = Customer(shop_id=shop_id, customer_ref=customer_ref, nickname=nickname)
        try:
            with self.session.begin_nested():
                self.session.add(customer)
        except IntegrityError:
            winner = self.get_by_ref(shop_id, customer_ref)
            if winner is None:
                raise
            return winner, False
        return customer, True

    def list(self, shop_id: int, *, limit: int = 50, offset: int = 0) -> CustomerPage:
        """One page, oldest customers first (stable under inserts at the end)."""
        items = self.session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop_id)
            .order_by(Customer.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return CustomerPage(items=items, total=self.count(shop_id), limit=limit, offset=offset)

    def count(self, shop_id: int) -> int:
        return (
            self.session.scalar(select(func.count()).select_from(Customer).where(Customer.shop_id == shop_id))
            or 0
        )
