"""Load the generated demo shop into the database: idempotent, one transaction, bulk inserts.

The shop gets one owner, one agent and one service key. Keys are stored hashed, so the raw
keys written to `keys_path` (var/demo-keys.json, mode 600) are the only copy: delete that file
and the next load issues fresh keys.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from store.demo.generator import DEFAULT_CUSTOMERS, ORDER_NUMBER_FORMAT, DemoShop, generate
from store.models import (
    Base,
    Customer,
    DocType,
    Document,
    LogisticsEvent,
    Order,
    OrderItem,
    Product,
    Role,
)
from store.repositories.catalog import ProductRepository
from store.repositories.customers import CustomerRepository
from store.repositories.orders import OrderRepository
from store.repositories.shops import ApiKeyRepository, ShopRepository

log = logging.getLogger("siyu.demo")

DEMO_SHOP_NAME = "鹿鸣优选"
DEMO_SEED = 7
DEFAULT_KEYS_PATH = Path("var") / "demo-keys.json"
KEY_ROLES = (Role.owner, Role.agent, Role.service)


@dataclass(frozen=True)
class DemoKeys:
    shop_id: int
    shop_name: str
    owner: str
    agent: str
    service: str

    def for_role(self, role: Role) -> str:
        return {Role.owner: self.owner, Role.agent: self.agent, Role.service: self.service}[role]


@dataclass(frozen=True)
class LoadReport:
    shop_id: int
    shop_name: str
    created: bool  # False: the shop and its data were already there
    counts: dict[str, int]
    seconds: float
    keys: DemoKeys
    keys_path: Path
    keys_issued: bool  # True when new keys were written (a first load, or the keys file was lost)


def load_demo(
    session_factory: sessionmaker[Session],
    *,
    shop_name: str = DEMO_SHOP_NAME,
    end_date: date | None = None,
    keys_path: Path = DEFAULT_KEYS_PATH,
    seed: int = DEMO_SEED,
    customers: int = DEFAULT_CUSTOMERS,
) -> LoadReport:
    """Create the demo shop with its catalog, documents, customers and orders, unless it has them.

    `end_date` is the last day of order history (default: today)."""
    started = time.perf_counter()
    with session_factory() as session:
        shop = ShopRepository(session).get_by_name(shop_name)
        if shop is not None and ProductRepository(session).count(shop.id) > 0:
            keys, issued = _ensure_keys(session, shop.id, shop_name, keys_path)
            session.commit()
            return LoadReport(
                shop_id=shop.id,
                shop_name=shop_name,
                created=False,
                counts=_counts(session, shop.id),
                seconds=time.perf_counter() - started,
                keys=keys,
                keys_path=keys_path,
                keys_issued=issued,
            )

    demo = generate(seed, end_date=end_date or date.today(), customers=customers)
    with session_factory() as session:
        shops = ShopRepository(session)
        shop = shops.get_by_name(shop_name) or shops.create(shop_name)
        shop.settings = {
            **shop.settings,
            "demo": {"seed": seed, "end_date": demo.end_date.isoformat(), "as_of": demo.as_of.isoformat()},
            "cs": {**shop.settings.get("cs", {}), "order_number": ORDER_NUMBER_FORMAT},
        }
        _insert_all(session, shop.id, demo)
        keys = _issue_keys(session, shop.id, shop_name)
        session.commit()
        _write_keys(keys_path, keys)
        counts = _counts(session, shop.id)
    seconds = time.perf_counter() - started
    log.info("demo.loaded", extra={"shop_id": shop.id, "seconds": round(seconds, 2), **counts})
    return LoadReport(
        shop_id=shop.id,
        shop_name=shop_name,
        created=True,
        counts=counts,
        seconds=seconds,
        keys=keys,
        keys_path=keys_path,
        keys_issued=True,
    )


def read_keys(keys_path: Path) -> DemoKeys | None:
    """The keys file, or None if it is missing or unreadable."""
    try:
        raw = json.loads(keys_path.read_text(encoding="utf-8"))
        return DemoKeys(
            shop_id=int(raw["shop_id"]),
            shop_name=str(raw["shop_name"]),
            owner=str(raw["owner"]),
            agent=str(raw["agent"]),
            service=str(raw["service"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ensure_keys(session: Session, shop_id: int, shop_name: str, keys_path: Path) -> tuple[DemoKeys, bool]:
    """Keep the keys file if its keys still open this shop; otherwise issue and write new ones."""
    existing = read_keys(keys_path)
    if existing is not None and existing.shop_id == shop_id:
        repo = ApiKeyRepository(session)
        principals = [repo.authenticate(existing.for_role(role)) for role in KEY_ROLES]
        if all(
            p is not None and p.shop_id == shop_id and p.role is role
            for p, role in zip(principals, KEY_ROLES, strict=True)
        ):
            return existing, False
    keys = _issue_keys(session, shop_id, shop_name)
    session.flush()
    _write_keys(keys_path, keys)
    return keys, True


def _issue_keys(session: Session, shop_id: int, shop_name: str) -> DemoKeys:
    repo = ApiKeyRepository(session)
    raw = {role: repo.issue(shop_id, role, name=f"demo-{role.value}").raw for role in KEY_ROLES}
    return DemoKeys(
        shop_id=shop_id,
        shop_name=shop_name,
        owner=raw[Role.owner],
        agent=raw[Role.agent],
        service=raw[Role.service],
    )


def _write_keys(keys_path: Path, keys: DemoKeys) -> None:
    """Write atomically with mode 600: this file is the only copy of the raw keys."""
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "shop_id": keys.shop_id,
        "shop_name": keys.shop_name,
        "owner": keys.owner,
        "agent": keys.agent,
        "service": keys.service,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "Raw API keys of the demo shop. The database keeps only their hashes: this is the only copy.",
    }
    tmp = keys_path.with_name(keys_path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=False, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, keys_path)


def _insert_all(session: Session, shop_id: int, demo: DemoShop) -> None:
    """Bulk inserts (executemany), then read back the ids the child rows need.

    Core table inserts, not ORM bulk: the ORM path spends more time than SQLite does."""
    session.execute(
        insert(_table(Product)),
        [
            {
                "shop_id": shop_id,
                "sku": p.sku,
                "title": p.title,
                "category": p.category,
                "subcategory": p.subcategory,
                "brand": p.brand,
                "description": p.description,
                "attributes": p.attributes,
                "variants": [
                    {"name": v.name, "sku_suffix": v.sku_suffix, "price": str(v.price), "stock": v.stock}
                    for v in p.variants
                ],
                "price": p.price,
                "floor_price": p.floor_price,
                "unit_cost": p.unit_cost,
                "stock": p.stock,
                "lead_time_days": p.lead_time_days,
                "moq": p.moq,
                "case_pack": p.case_pack,
                "repurchase_cycle_days": p.repurchase_cycle_days,
            }
            for p in demo.products
        ],
    )
    session.execute(
        insert(_table(Document)),
        [
            {
                "shop_id": shop_id,
                "doc_type": DocType(d.doc_type),
                "title": d.title,
                "source": d.source,
                "content": d.content,
                "content_hash": d.content_hash,
            }
            for d in demo.documents
        ],
    )
    session.execute(
        insert(_table(Customer)),
        [
            {
                "shop_id": shop_id,
                "customer_ref": c.customer_ref,
                "nickname": c.nickname,
                "phone": c.phone,
                "address": c.address,
                "city": c.city,
                "tags": list(c.tags),
                "consent_marketing": c.consent_marketing,
                "consent_profiling": c.consent_profiling,
                "created_at": c.created_at,
            }
            for c in demo.customers
        ],
    )
    product_ids = _ids(session, Product.sku, Product.id, Product.shop_id, shop_id)
    customer_ids = _ids(session, Customer.customer_ref, Customer.id, Customer.shop_id, shop_id)
    session.execute(
        insert(_table(Order)),
        [
            {
                "shop_id": shop_id,
                "order_no": o.order_no,
                "customer_id": customer_ids[o.customer_ref],
                "status": o.status,
                "total_amount": o.total_amount,
                "discount_amount": o.discount_amount,
                "created_at": o.created_at,
                "paid_at": o.paid_at,
                "shipped_at": o.shipped_at,
                "delivered_at": o.delivered_at,
                "carrier": o.carrier,
                "tracking_no": o.tracking_no,
                "ship_address": o.ship_address,
            }
            for o in demo.orders
        ],
    )
    order_ids = _ids(session, Order.order_no, Order.id, Order.shop_id, shop_id)
    items: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for o in demo.orders:
        order_id = order_ids[o.order_no]
        items.extend(
            {
                "shop_id": shop_id,
                "order_id": order_id,
                "product_id": product_ids[i.sku],
                "sku": i.sku,
                "variant": i.variant,
                "qty": i.qty,
                "unit_price": i.unit_price,
            }
            for i in o.items
        )
        events.extend(
            {
                "shop_id": shop_id,
                "order_id": order_id,
                "occurred_at": e.occurred_at,
                "status": e.status,
                "location": e.location,
                "description": e.description,
            }
            for e in o.events
        )
    session.execute(insert(_table(OrderItem)), items)
    session.execute(insert(_table(LogisticsEvent)), events)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _ids(session: Session, key: Any, id_col: Any, shop_col: Any, shop_id: int) -> dict[str, int]:
    return {k: v for k, v in session.execute(select(key, id_col).where(shop_col == shop_id))}


def _counts(session: Session, shop_id: int) -> dict[str, int]:
    orders = OrderRepository(session)
    documents = select(func.count()).select_from(Document).where(Document.shop_id == shop_id)
    return {
        "products": ProductRepository(session).count(shop_id),
        "documents": session.scalar(documents) or 0,
        "customers": CustomerRepository(session).count(shop_id),
        "orders": orders.count(shop_id),
        "order_lines": orders.count_lines(shop_id),
        "events": orders.count_events(shop_id),
    }
