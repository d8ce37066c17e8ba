from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from store.models import Customer, LogisticsEvent, Order, OrderItem, Product
from store.repositories.orders import OrderLine, OrderRepository
from store.repositories.shops import ShopRepository

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def add_order(
    session: Session,
    shop_id: int,
    customer: Customer,
    product: Product,
    order_no: str,
    created_at: datetime,
    *,
    status: str = "completed",
    qty: int = 1,
) -> Order:
    order = Order(
        shop_id=shop_id,
        order_no=order_no,
        customer_id=customer.id,
        status=status,
        total_amount=product.price * qty,
        created_at=created_at,
        carrier="顺丰",
        tracking_no="SF1234567890123",
    )
    order.items.append(
        OrderItem(shop_id=shop_id, product_id=product.id, sku=product.sku, qty=qty, unit_price=product.price)
    )
    session.add(order)
    session.flush()
    return order


@pytest.fixture
def data(session: Session) -> dict[str, int]:
    a = ShopRepository(session).create("小鹿母婴").id
    b = ShopRepository(session).create("山野生鲜").id
    ids = {"a": a, "b": b}
    for shop_id, ref in ((a, "wx_000001"), (a, "wx_000002"), (b, "wx_000001")):
        session.add(Customer(shop_id=shop_id, customer_ref=ref))
    for shop_id, sku in ((a, "MB-102"), (a, "ST-771"), (b, "SX-301")):
        session.add(
            Product(
                shop_id=shop_id,
                sku=sku,
                title=sku,
                category="x",
                price=Decimal("129.00"),
                floor_price=Decimal("99"),
            )
        )
    session.flush()
    c1, c2, cb = session.query(Customer).order_by(Customer.id).all()
    p1, p2, pb = session.query(Product).order_by(Product.id).all()
    o1 = add_order(session, a, c1, p1, "LM2026110100001", T0, qty=2)
    o1.items.append(OrderItem(shop_id=a, product_id=p2.id, sku="ST-771", qty=1, unit_price=Decimal("99.00")))
    add_order(session, a, c1, p1, "LM2026110500001", T0 + timedelta(days=4))
    add_order(session, a, c1, p2, "LM2026110600001", T0 + timedelta(days=5), status="cancelled")
    add_order(session, a, c2, p2, "LM2026110700001", T0 + timedelta(days=6), status="shipped")
    add_order(session, a, c1, p1, "LM2026110800001", T0 + timedelta(days=7), status="refunded")
    add_order(session, b, cb, pb, "LM2026110100001", T0)
    shipped = session.query(Order).filter_by(order_no="LM2026110700001").one()
    for hours, status, text in ((30, "in_transit", "快件已到达【杭州转运中心】"), (2, "picked_up", "已揽收")):
        session.add(
            LogisticsEvent(
                shop_id=a,
                order_id=shipped.id,
                occurred_at=shipped.created_at + timedelta(hours=hours),
                status=status,
                description=text,
            )
        )
    session.commit()
    ids.update(c1=c1.id, c2=c2.id, cb=cb.id)
    return ids


def test_get_by_no_with_items_and_events_is_shop_scoped(session: Session, data: dict[str, int]) -> None:
    repo = OrderRepository(session)
    order = repo.get_by_no(data["a"], "LM2026110700001")
    assert order is not None
    assert [(i.sku, i.qty) for i in order.items] == [("ST-771", 1)]
    assert [e.status for e in order.events] == ["picked_up", "in_transit"]  # oldest first
    mine = repo.get_by_no(data["a"], "LM2026110100001")
    theirs = repo.get_by_no(data["b"], "LM2026110100001")
    assert mine is not None and theirs is not None and mine.id != theirs.id
    assert sorted(i.sku for i in mine.items) == ["MB-102", "ST-771"]
    assert repo.get_by_no(data["b"], "LM2026110700001") is None


def test_recent_for_customer_newest_first(session: Session, data: dict[str, int]) -> None:
    repo = OrderRepository(session)
    recent = repo.recent_for_customer(data["a"], data["c1"], limit=3)
    assert [o.order_no for o in recent] == ["LM2026110800001", "LM2026110600001", "LM2026110500001"]
    assert all(o.items for o in recent)
    assert repo.recent_for_customer(data["b"], data["c1"]) == []


def test_lifetime_value_adds_what_was_spent_in_this_shop(session: Session, data: dict[str, int]) -> None:
    repo = OrderRepository(session)
    # 258 + 129; the cancelled and the refunded orders were not spent.
    assert repo.lifetime_value(data["a"], data["c1"]) == Decimal("387.00")
    assert repo.lifetime_value(data["a"], data["c2"]) == Decimal("129.00")
    assert repo.lifetime_value(data["b"], data["c1"]) == Decimal("0.00")  # another shop's customer id
    assert repo.lifetime_value(data["a"], data["cb"]) == Decimal("0.00")


def test_iter_lines_skips_non_demand_and_other_shops(session: Session, data: dict[str, int]) -> None:
    lines = list(OrderRepository(session).iter_lines(data["a"]))
    assert lines == [
        OrderLine(data["c1"], "wx_000001", "MB-102", 2, Decimal("129.00"), T0),
        OrderLine(data["c1"], "wx_000001", "ST-771", 1, Decimal("99.00"), T0),
        OrderLine(data["c1"], "wx_000001", "MB-102", 1, Decimal("129.00"), T0 + timedelta(days=4)),
        OrderLine(data["c2"], "wx_000002", "ST-771", 1, Decimal("129.00"), T0 + timedelta(days=6)),
    ]
    assert all(line.created_at.tzinfo is not None for line in lines)


def test_iter_lines_since_and_all_statuses(session: Session, data: dict[str, int]) -> None:
    repo = OrderRepository(session)
    since_local = (T0 + timedelta(days=4)).astimezone(timezone(timedelta(hours=8)))
    assert [line.sku for line in repo.iter_lines(data["a"], since=since_local)] == ["MB-102", "ST-771"]
    everything = list(repo.iter_lines(data["a"], include_all_statuses=True, batch_size=2))
    assert len(everything) == 6
    assert [line.created_at for line in everything] == sorted(line.created_at for line in everything)


def test_counts(session: Session, data: dict[str, int]) -> None:
    repo = OrderRepository(session)
    assert (repo.count(data["a"]), repo.count_lines(data["a"]), repo.count_events(data["a"])) == (5, 6, 2)
    assert (repo.count(data["b"]), repo.count_lines(data["b"]), repo.count_events(data["b"])) == (1, 1, 0)
