from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from store.demo import calendar
from store.demo.content import load_catalog, load_documents, load_faq
from store.demo.generator import BABY_SKUS, COMPLEMENTS, CST, HISTORY_DAYS, Behaviour, DemoShop, generate
from store.errors import DateOutOfRange
from store.holidays import spring_festival

END = date(2026, 11, 22)


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return generate(7, end_date=END)


def local_day(created_at: datetime) -> date:
    return created_at.astimezone(CST).date()


def test_same_seed_and_end_date_give_the_same_shop() -> None:
    first = generate(7, end_date=END, customers=200)
    assert generate(7, end_date=END, customers=200) == first
    assert len(first.customers) == 200


def test_another_seed_or_end_date_gives_other_orders() -> None:
    base = generate(7, end_date=END, customers=100)
    other_seed = generate(8, end_date=END, customers=100)
    other_end = generate(7, end_date=END - timedelta(days=1), customers=100)
    assert other_seed.products == base.products
    assert other_seed.orders != base.orders
    assert other_end.orders != base.orders
    assert [c.behaviour for c in other_seed.customers] != [c.behaviour for c in base.customers]


def test_catalog_is_a_realistic_shop() -> None:
    products = load_catalog()
    assert len(products) >= 80
    assert {p.category for p in products} >= {
        "母婴",
        "美妆护肤",
        "食品生鲜",
        "家居日用",
        "服饰运动",
        "健康养生",
    }
    skus = [p.sku for p in products]
    assert len(set(skus)) == len(skus)
    assert all(re.fullmatch(r"[A-Z]{2}-\d{3}", s) for s in skus)
    assert {"ST-771", "MB-102"} <= set(skus)
    for p in products:
        assert p.unit_cost < p.floor_price < p.price, p.sku
        assert p.title and p.brand and p.description and p.attributes
        assert p.moq >= 1 and p.case_pack >= 1 and p.lead_time_days >= 1
        suffixes = [v.sku_suffix for v in p.variants]
        assert len(set(suffixes)) == len(suffixes)
        if p.variants:
            assert sum(v.stock for v in p.variants) == p.stock
    by_sku = {p.sku: p for p in products}
    assert by_sku["MB-102"].repurchase_cycle_days == 20  # diapers
    assert by_sku["MB-112"].repurchase_cycle_days == 25  # formula
    assert by_sku["ST-771"].attributes["容量"] == "500ml"
    assert sum(p.stock == 0 for p in products) >= 5
    assert sum(p.stock >= 1500 for p in products) >= 5  # overstocked long-tail goods


def test_policy_documents_and_faq() -> None:
    docs = load_documents()
    policies = {d.title: d for d in docs if d.doc_type == "policy"}
    assert set(policies) >= {
        "退换货政策",
        "生鲜售后说明",
        "配送与时效",
        "会员与积分",
        "优惠券使用规则",
        "售后保修",
    }
    assert len(policies) >= 8
    assert all("\n## " in d.content for d in policies.values())
    assert any("|---|" in d.content for d in policies.values())
    assert "7 天" in policies["退换货政策"].content
    assert "48 小时" in policies["生鲜售后说明"].content
    assert "99 元包邮" in policies["配送与时效"].content
    faq_doc = next(d for d in docs if d.doc_type == "faq")
    assert faq_doc.source == "faq.csv"
    assert faq_doc.content.startswith("question,answer\n")
    faq = load_faq()
    assert len(faq) >= 60
    assert all(pair.question and pair.answer for pair in faq)
    assert len({pair.question for pair in faq}) == len(faq)


def test_customers(shop: DemoShop) -> None:
    customers = shop.customers
    assert len(customers) == 1200
    refs = [c.customer_ref for c in customers]
    assert refs[0] == "wx_000001" and len(set(refs)) == len(refs)
    assert all(re.fullmatch(r"wx_\d{6}", r) for r in refs)
    assert all(re.fullmatch(r"1\d{2}\*{4}\d{4}", c.phone) for c in customers)
    assert set(Counter(c.behaviour for c in customers)) == set(Behaviour)
    assert 0.6 < sum(c.consent_marketing for c in customers) / len(customers) < 0.8
    moms = [c for c in customers if c.behaviour is Behaviour.mom]
    assert all("宝妈" in c.tags for c in moms)


def test_orders_cover_18_months_and_stop_at_as_of(shop: DemoShop) -> None:
    orders = shop.orders
    first, last = local_day(orders[0].created_at), local_day(orders[-1].created_at)
    assert first >= END - timedelta(days=HISTORY_DAYS - 1)
    assert first <= END - timedelta(days=HISTORY_DAYS - 10)
    assert last == END
    assert all(o.created_at < shop.as_of for o in orders)
    assert len({o.order_no for o in orders}) == len(orders)
    assert all(re.fullmatch(r"LM\d{8}\d{5}", o.order_no) for o in orders)
    assert 10_000 < len(orders) < 30_000


def test_customers_order_only_after_joining(shop: DemoShop) -> None:
    joined = {c.customer_ref: c.created_at for c in shop.customers}
    assert all(o.created_at > joined[o.customer_ref] for o in shop.orders)
    buyers = {o.customer_ref for o in shop.orders}
    assert len(buyers) > 0.9 * len(shop.customers)


def test_order_money_adds_up(shop: DemoShop) -> None:
    for o in shop.orders:
        goods = sum((i.unit_price * i.qty for i in o.items), Decimal("0"))
        shipping = o.total_amount - goods + o.discount_amount
        assert shipping in (Decimal("0"), Decimal("8")), o.order_no
        assert (shipping == 8) == (goods - o.discount_amount < 99), o.order_no


def test_statuses_carriers_and_logistics(shop: DemoShop) -> None:
    statuses = Counter(o.status for o in shop.orders)
    assert {"completed", "delivered", "shipped", "cancelled", "refunded"} <= set(statuses)
    assert {o.carrier for o in shop.orders} == {"顺丰", "中通", "圆通", "京东", None}
    recent = [o for o in shop.orders if shop.as_of - o.created_at < timedelta(days=3)]
    assert any(o.status == "shipped" for o in recent)
    assert all(o.status in ("completed", "refunded", "cancelled") for o in shop.orders[:1000])
    shipped = [o for o in shop.orders if o.status == "shipped"]
    assert all(o.tracking_no and o.events and o.delivered_at is None for o in shipped)
    assert all(o.events[-1].status != "delivered" for o in shipped)
    events = [e for o in shop.orders for e in o.events]
    kinds = Counter(e.status for e in events)
    assert {"picked_up", "in_transit", "out_for_delivery", "delivered", "exception"} <= set(kinds)
    for o in shop.orders:
        times = [e.occurred_at for e in o.events]
        assert times == sorted(times), o.order_no
        assert all(t <= shop.as_of for t in times)
        if o.events:
            assert o.events[0].status == "picked_up"
    cold = [o for o in shop.orders if o.carrier and any(i.sku.startswith("SX-") for i in o.items)]
    assert cold and all(o.carrier == "顺丰" for o in cold)
    sf = [o.tracking_no for o in shop.orders if o.carrier == "顺丰"]
    assert all(t and re.fullmatch(r"SF\d{13}", t) for t in sf)


def test_retail_calendar_shows_in_the_orders(shop: DemoShop) -> None:
    per_day = Counter(local_day(o.created_at) for o in shop.orders)
    october = [per_day[date(2026, 10, d)] for d in range(1, 32)]
    assert per_day[date(2026, 11, 11)] > 1.8 * statistics.mean(october)
    assert per_day[date(2026, 6, 18)] > 1.8 * statistics.mean(per_day[date(2026, 5, d)] for d in range(1, 32))
    cny = spring_festival(2026)
    dip = [per_day[cny + timedelta(days=k)] for k in range(-2, 6)]
    before = [per_day[cny - timedelta(days=k)] for k in range(30, 45)]
    assert statistics.mean(dip) < 0.4 * statistics.mean(before)
    weekday = defaultdict(list)
    for d, n in per_day.items():
        weekday[d.weekday() >= 5].append(n)
    assert statistics.mean(weekday[True]) > 1.05 * statistics.mean(weekday[False])


def test_moms_rebuy_diapers_on_a_cycle(shop: DemoShop) -> None:
    moms = {c.customer_ref for c in shop.customers if c.behaviour is Behaviour.mom}
    days: dict[str, list[date]] = defaultdict(list)
    for o in shop.orders:
        diapers = any(i.sku in ("MB-101", "MB-102", "MB-103") and i.qty == 1 for i in o.items)
        if o.customer_ref in moms and o.status != "cancelled" and diapers:
            days[o.customer_ref].append(local_day(o.created_at))
    gaps = [(b - a).days for ds in days.values() for a, b in zip(ds, ds[1:], strict=False)]
    assert len(gaps) > 500
    assert 16 <= statistics.median(gaps) <= 30


def test_customers_stick_to_their_usual_consumables(shop: DemoShop) -> None:
    # Regular customers have no staple cycle: what they come back for is brand loyalty.
    by_sku = {p.sku: p for p in shop.products}
    regular = {c.customer_ref for c in shop.customers if c.behaviour is Behaviour.regular}
    picks: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for o in shop.orders:
        for i in o.items:
            p = by_sku[i.sku]
            if o.customer_ref in regular and p.repurchase_cycle_days and i.sku not in BABY_SKUS:
                picks[(o.customer_ref, p.category)][i.sku] += 1
    shares = [sum(n for _, n in c.most_common(2)) / c.total() for c in picks.values() if c.total() >= 4]
    assert len(shares) > 100
    # With draws by popularity alone the two most bought SKUs of a category take about 64%.
    assert statistics.mean(shares) > 0.72


def test_a_purchase_is_followed_by_its_complement(shop: DemoShop) -> None:
    bought: dict[str, set[str]] = defaultdict(set)
    for o in shop.orders:
        bought[o.customer_ref].update(i.sku for i in o.items)
    for first, then in (("MB-131", "MB-132"), ("MZ-204", "MZ-203"), ("FS-503", "FS-504")):
        assert COMPLEMENTS[first] == then
        after_first = [skus for skus in bought.values() if first in skus]
        rate_after = sum(then in skus for skus in after_first) / len(after_first)
        rate_all = sum(then in skus for skus in bought.values()) / len(bought)
        assert len(after_first) > 50
        assert rate_after > 3 * rate_all, (first, rate_after, rate_all)


def test_seasonal_goods_only_sell_in_season(shop: DemoShop) -> None:
    months = {local_day(o.created_at).month for o in shop.orders for i in o.items if i.sku == "SX-302"}
    assert months and months <= {11, 12, 1, 2}


def test_remote_customers_get_no_cold_chain(shop: DemoShop) -> None:
    remote = {c.customer_ref for c in shop.customers if c.region == "remote"}
    assert remote
    for o in shop.orders:
        if o.customer_ref in remote:
            assert not any(i.sku.startswith("SX-") for i in o.items), o.order_no


def test_calendar_functions() -> None:
    assert calendar.promo_factor(date(2026, 11, 11)) == 4.0
    assert calendar.promo_factor(date(2026, 6, 18)) == 3.2
    assert calendar.promo_factor(date(2026, 3, 3)) == 1.0
    assert calendar.spring_festival_offset(date(2026, 2, 17)) == 0
    assert calendar.spring_festival_offset(date(2026, 2, 10)) == -7
    assert calendar.spring_festival_offset(date(2025, 12, 31)) is None
    assert calendar.spring_festival_offset(date(2026, 1, 20)) == -28
    assert calendar.spring_festival_factor(date(2026, 2, 18)) == 0.22
    assert calendar.spring_festival_factor(date(2026, 2, 5), "食品生鲜") == 1.6
    assert calendar.season_factor("SX-302", date(2026, 7, 1)) == 0.0
    assert calendar.season_factor("ST-771", date(2026, 7, 1)) == 1.0
    assert calendar.spring_festival_offset(date(2040, 2, 10)) == -2  # past the former table's 2032
    with pytest.raises(DateOutOfRange):
        calendar.spring_festival_factor(date(2100, 1, 31))
