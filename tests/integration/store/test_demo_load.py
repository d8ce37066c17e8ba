from __future__ import annotations

import hashlib
import json
import re
import stat
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.demo import generate, load_demo, read_keys
from store.demo.content import load_faq
from store.models import DocType, Document, Role
from store.repositories.catalog import ProductRepository
from store.repositories.customers import CustomerRepository
from store.repositories.orders import OrderRepository
from store.repositories.shops import ApiKeyRepository, ShopRepository

pytestmark = pytest.mark.integration

END = date(2026, 11, 22)


def test_load_is_complete_idempotent_and_keeps_its_keys(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    keys_path = tmp_path / "var" / "demo-keys.json"
    report = load_demo(session_factory, end_date=END, keys_path=keys_path)
    expected = generate(7, end_date=END).counts()
    assert report.created and report.keys_issued
    assert report.counts == {k: v for k, v in expected.items() if k != "faq"}
    assert report.counts["products"] >= 80 and report.counts["customers"] >= 1000

    # The keys file is the only copy of the raw keys: private, and every key opens this shop.
    assert stat.S_IMODE(keys_path.stat().st_mode) == 0o600
    keys = read_keys(keys_path)
    assert keys is not None and keys.shop_id == report.shop_id and keys.shop_name == "鹿鸣优选"
    with session_factory() as s:
        for role in (Role.owner, Role.agent, Role.service):
            principal = ApiKeyRepository(s).authenticate(keys.for_role(role))
            assert principal is not None and (principal.shop_id, principal.role) == (report.shop_id, role)

    again = load_demo(session_factory, end_date=date(2026, 12, 1), keys_path=keys_path)
    assert (again.created, again.keys_issued, again.shop_id) == (False, False, report.shop_id)
    assert again.counts == report.counts
    assert read_keys(keys_path) == keys
    with session_factory() as s:
        assert len(ShopRepository(s).list()) == 1
        assert len(ApiKeyRepository(s).list_for_shop(report.shop_id)) == 3


def test_a_lost_keys_file_gets_fresh_working_keys(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    keys_path = tmp_path / "demo-keys.json"
    first = load_demo(session_factory, end_date=END, keys_path=keys_path, customers=50)
    keys_path.unlink()
    second = load_demo(session_factory, end_date=END, keys_path=keys_path, customers=50)
    assert (second.created, second.keys_issued) == (False, True)
    assert second.keys.owner != first.keys.owner
    # A keys file from another database (a wiped var/siyu.db) is replaced too.
    keys_path.write_text(json.dumps({**json.loads(keys_path.read_text()), "owner": "sk_siyu_gone"}))
    third = load_demo(session_factory, end_date=END, keys_path=keys_path, customers=50)
    assert third.keys_issued and third.keys.owner != "sk_siyu_gone"
    with session_factory() as s:
        principal = ApiKeyRepository(s).authenticate(third.keys.owner)
        assert principal is not None and principal.role is Role.owner


def test_loaded_rows_match_the_generator(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    report = load_demo(session_factory, end_date=END, keys_path=tmp_path / "k.json", customers=300)
    demo = generate(7, end_date=END, customers=300)
    shop_id = report.shop_id
    with session_factory() as s:
        shop = ShopRepository(s).get(shop_id)
        assert shop.settings["demo"] == {"seed": 7, "end_date": "2026-11-22", "as_of": demo.as_of.isoformat()}
        # The customer-service bot looks for, and asks for, the generator's order numbers.
        pattern = shop.settings["cs"]["order_number"]["pattern"]
        assert all(re.fullmatch(pattern, o.order_no) for o in demo.orders)
        assert re.fullmatch(pattern, shop.settings["cs"]["order_number"]["example"])

        st771 = ProductRepository(s).require_by_sku(shop_id, "ST-771")
        source = next(p for p in demo.products if p.sku == "ST-771")
        assert (st771.title, st771.price, st771.floor_price, st771.stock) == (
            source.title,
            source.price,
            source.floor_price,
            source.stock,
        )
        assert st771.attributes["容量"] == "500ml"
        assert [v["sku_suffix"] for v in st771.variants] == ["WH", "BL", "BK"]

        docs = {d.source: d for d in s.scalars(select(Document).where(Document.shop_id == shop_id))}
        assert len(docs) == 9
        assert docs["faq.csv"].doc_type is DocType.faq
        assert docs["退换货政策.md"].doc_type is DocType.policy
        assert docs["退换货政策.md"].title == "退换货政策"
        for doc in docs.values():
            assert doc.content_hash == hashlib.sha256(doc.content.encode()).hexdigest()
        assert docs["faq.csv"].content.count("\n") == len(load_faq()) + 1

        customer = CustomerRepository(s).require_by_ref(shop_id, "wx_000001")
        source_customer = demo.customers[0]
        assert (customer.nickname, customer.phone, customer.city) == (
            source_customer.nickname,
            source_customer.phone,
            source_customer.city,
        )

        shipped = next(o for o in reversed(demo.orders) if o.status == "shipped")
        order = OrderRepository(s).get_by_no(shop_id, shipped.order_no)
        assert order is not None
        assert (order.status, order.carrier, order.tracking_no) == (
            "shipped",
            shipped.carrier,
            shipped.tracking_no,
        )
        assert [e.description for e in order.events] == [e.description for e in shipped.events]
        assert [(i.sku, i.qty, i.unit_price) for i in order.items] == [
            (i.sku, i.qty, i.unit_price) for i in shipped.items
        ]

        lines = list(OrderRepository(s).iter_lines(shop_id))
        counted = [o for o in demo.orders if o.status not in ("pending_payment", "cancelled", "refunded")]
        assert len(lines) == sum(len(o.items) for o in counted)
        assert lines[0].created_at == counted[0].created_at
