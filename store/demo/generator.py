"""A seeded, deterministic demo shop: customers, 18 months of orders and their logistics.

`generate(seed, end_date=...)` is pure: the same (seed, end_date) gives the same shop, and it
reads no clock. Each customer follows a behaviour (宝妈 on a diaper cycle, loyal, dormant,
churned, bargain hunter, ...) and draws from the catalog under the retail calendar in
`store.demo.calendar`, so the recommender, RFM and forecaster have real structure to find.
All datetimes are UTC-aware; the shop lives in China (UTC+8) and its hours are drawn locally.
"""

from __future__ import annotations

import enum
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from store.demo import calendar
from store.demo.content import (
    DemoDocument,
    DemoProduct,
    FaqPair,
    load_catalog,
    load_documents,
    load_faq,
)
from store.demo.people import (
    BABY_NAMES,
    CITIES,
    COMMUNITIES,
    COURIER_SURNAMES,
    MOM_SUFFIXES,
    NICKNAMES,
    PHONE_PREFIXES,
    ROADS,
    TRANSIT_DAYS,
    WAREHOUSE_CITY,
    City,
    Region,
)

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
HISTORY_DAYS = 548  # 18 months
DEFAULT_CUSTOMERS = 1200
# Carriers keep tracking for about three months; older orders keep only their timestamps.
EVENT_HISTORY_DAYS = 90
# The demo is "as of" this local time on end_date: later orders that day do not exist yet.
AS_OF_LOCAL = time(10, 0)
FREE_SHIPPING_THRESHOLD = Decimal("99")
SHIPPING_FEE = Decimal("8")
# Order numbers: LM + the local order date + a 5-digit serial of the day. The shop's `cs` setting
# tells the customer-service bot to look for (and ask for) exactly this.
ORDER_NUMBER_FORMAT = {"pattern": r"LM\d{13}", "example": "LM2026112000001"}

# Local hour of day people order: lunch break and the evening after the kids sleep.
HOUR_WEIGHTS = (
    1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.2, 2.8, 3.0, 3.2,
    4.0, 3.6, 2.8, 2.7, 2.8, 3.0, 3.2, 4.0, 5.2, 5.8, 5.0, 2.8,
)  # fmt: skip

DIAPER_BY_AGE = ((30, "MB-104"), (300, "MB-101"), (540, "MB-102"), (10_000, "MB-103"))
FORMULA_BY_AGE = ((180, "MB-111"), (365, "MB-112"), (10_000, "MB-113"))
BABY_SKUS = frozenset({"MB-101", "MB-102", "MB-103", "MB-104", "MB-111", "MB-112", "MB-113", "MB-141"})

# Brand and product loyalty: when a spontaneous pick lands on a consumable, the customer reaches
# for one of "their usual" SKUs of that category instead, this often. The swap stays inside the
# category, so what sells per category per day is unchanged; the usuals are drawn by the square
# root of popularity (tastes spread wider than the bestseller list), so per-SKU totals shift a
# little toward the long tail. What changes most is who buys what.
LOYALTY: dict[str, float] = {
    "new": 0.35,
    "loyal": 0.75,
    "regular": 0.6,
    "dormant": 0.6,
    "churned": 0.4,
    "bargain": 0.3,  # follows the deals more than the brand
    "mom": 0.6,
}
USUALS_PER_CATEGORY = 2
# A purchase that calls for a follow-up in the same category: the next pick in that category is
# the complement this often (once), e.g. after a 奶瓶 the 奶嘴, after a 面霜 the 精华.
COMPLEMENTS: dict[str, str] = {
    "MB-131": "MB-132",  # 奶瓶 → 奶嘴
    "MZ-204": "MZ-203",  # 面霜 → 精华
    "MZ-201": "MZ-202",  # 洁面 → 精华水
    "MZ-209": "MZ-210",  # 粉底液 → 卸妆油
    "MZ-211": "MZ-212",  # 洗发水 → 护发素
    "FS-502": "YD-531",  # 瑜伽裤 → 瑜伽垫
    "YD-531": "YD-533",  # 瑜伽垫 → 弹力带
    "FS-503": "FS-504",  # 跑鞋 → 运动袜
    "JJ-422": "JJ-403",  # 炒锅 → 油污净
}
COMPLEMENT_TAKE = 0.6


class Behaviour(enum.StrEnum):
    new = "new"  # joined in the last weeks
    loyal = "loyal"  # frequent, with staples on a repurchase cycle
    regular = "regular"  # now and then
    dormant = "dormant"  # used to buy, silent for months
    churned = "churned"  # bought in the first months only
    bargain = "bargain"  # buys in 618 / 双11 / 双12 and with coupons
    mom = "mom"  # 宝妈: diapers, formula and wipes on a cycle


BEHAVIOUR_SHARES: tuple[tuple[Behaviour, float], ...] = (
    (Behaviour.new, 0.08),
    (Behaviour.loyal, 0.14),
    (Behaviour.regular, 0.26),
    (Behaviour.dormant, 0.10),
    (Behaviour.churned, 0.12),
    (Behaviour.bargain, 0.12),
    (Behaviour.mom, 0.18),
)

BEHAVIOUR_TAGS: dict[Behaviour, tuple[str, ...]] = {
    Behaviour.mom: ("宝妈",),
    Behaviour.loyal: ("社群活跃",),
    Behaviour.bargain: ("活动敏感",),
}


@dataclass(frozen=True)
class DemoCustomer:
    customer_ref: str
    nickname: str
    phone: str  # masked the way staff see it: 138****5621
    city: str
    province: str
    address: str
    region: Region
    behaviour: Behaviour  # ground truth for evals; not stored in the database
    tags: tuple[str, ...]
    consent_marketing: bool
    consent_profiling: bool
    created_at: datetime


@dataclass(frozen=True)
class DemoOrderItem:
    sku: str
    variant: str | None
    qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class DemoEvent:
    occurred_at: datetime
    status: str  # picked_up | in_transit | out_for_delivery | delivered | exception
    location: str
    description: str


@dataclass(frozen=True)
class DemoOrder:
    order_no: str
    customer_ref: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    carrier: str | None
    tracking_no: str | None
    ship_address: str
    total_amount: Decimal
    discount_amount: Decimal
    items: tuple[DemoOrderItem, ...]
    events: tuple[DemoEvent, ...]


@dataclass(frozen=True)
class DemoShop:
    seed: int
    end_date: date
    as_of: datetime
    products: tuple[DemoProduct, ...]
    customers: tuple[DemoCustomer, ...]
    orders: tuple[DemoOrder, ...]
    documents: tuple[DemoDocument, ...]
    faq: tuple[FaqPair, ...]

    def counts(self) -> dict[str, int]:
        return {
            "products": len(self.products),
            "documents": len(self.documents),
            "faq": len(self.faq),
            "customers": len(self.customers),
            "orders": len(self.orders),
            "order_lines": sum(len(o.items) for o in self.orders),
            "events": sum(len(o.events) for o in self.orders),
        }


def generate(seed: int = 7, *, end_date: date, customers: int = DEFAULT_CUSTOMERS) -> DemoShop:
    """The whole demo shop for (seed, end_date). Pure and deterministic."""
    products = load_catalog()
    by_sku = {p.sku: p for p in products}
    start = end_date - timedelta(days=HISTORY_DAYS - 1)
    as_of = datetime.combine(end_date, AS_OF_LOCAL, CST).astimezone(UTC)
    base = seed * 1_000_003 + end_date.toordinal()

    people: list[DemoCustomer] = []
    drafts: list[_Draft] = []
    sampler = _ProductSampler(products)
    factors = {d: calendar.day_factor(d) for d in calendar.days(start, end_date)}
    for index in range(customers):
        rng = random.Random(base * 7919 + index)
        customer, profile = _make_customer(rng, index, start, end_date)
        people.append(customer)
        # Tastes (usual SKUs, follow-up buys) draw from their own stream, so the main stream,
        # and with it every customer's order days and basket sizes, does not depend on them.
        taste = random.Random(base * 15_485_863 + index)
        drafts.extend(_simulate(rng, taste, customer, profile, end_date, as_of, sampler, by_sku, factors))

    drafts.sort(key=lambda d: (d.created_at, d.customer.customer_ref))
    per_day: dict[date, int] = defaultdict(int)
    orders = []
    for i, draft in enumerate(drafts):
        local_day = draft.created_at.astimezone(CST).date()
        per_day[local_day] += 1
        order_no = f"LM{local_day:%Y%m%d}{per_day[local_day]:05d}"
        rng = random.Random(base * 104_729 + i)
        orders.append(_fulfil(rng, order_no, draft, as_of, by_sku))
    return DemoShop(
        seed=seed,
        end_date=end_date,
        as_of=as_of,
        products=products,
        customers=tuple(people),
        orders=tuple(orders),
        documents=load_documents(),
        faq=load_faq(),
    )


# --- customers -------------------------------------------------------------------------------


@dataclass
class _Profile:
    behaviour: Behaviour
    city: City
    active_from: date
    active_to: date
    rate: float  # spontaneous orders per ordinary day
    favourites: tuple[str, ...]
    cycles: list[_Cycle] = field(default_factory=list)
    baby_birth: date | None = None
    first_order: bool = True


@dataclass
class _Cycle:
    sku: str  # for a baby cycle, re-picked as the baby grows
    days: int
    reliability: float
    next_due: date
    baby: str | None = None  # "diaper" | "formula" | "cereal"


def _pick_weighted(rng: random.Random, pairs: tuple[tuple[Behaviour, float], ...]) -> Behaviour:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _local(day: date, hour: int, rng: random.Random) -> datetime:
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), CST).astimezone(UTC)


def _make_customer(rng: random.Random, index: int, start: date, end: date) -> tuple[DemoCustomer, _Profile]:
    behaviour = _pick_weighted(rng, BEHAVIOUR_SHARES)
    city = rng.choices(CITIES, weights=[c.weight for c in CITIES])[0]
    history = (end - start).days

    # When they joined and when they stopped buying.
    if behaviour is Behaviour.new:
        joined = end - timedelta(days=rng.randrange(1, 46))
    elif behaviour is Behaviour.churned:
        joined = start + timedelta(days=rng.randrange(-120, 150))
    elif rng.random() < 0.4:
        joined = start - timedelta(days=rng.randrange(1, 240))
    else:
        joined = start + timedelta(days=rng.randrange(0, history - 60))
    active_to = end
    if behaviour is Behaviour.dormant:
        active_to = end - timedelta(days=rng.randrange(80, 240))
        joined = min(joined, active_to - timedelta(days=90))
    active_from = max(joined, start)
    if behaviour is Behaviour.churned:
        active_to = active_from + timedelta(days=rng.randrange(20, 160))

    categories = ("母婴", "美妆护肤", "食品生鲜", "家居日用", "服饰运动", "健康养生")
    favourites = tuple(rng.sample(categories, 2))
    rate = {
        Behaviour.new: 1 / 20,
        Behaviour.loyal: 1 / 22,
        Behaviour.regular: 1 / 55,
        Behaviour.dormant: 1 / 30,
        Behaviour.churned: 1 / 35,
        Behaviour.bargain: 1 / 260,
        Behaviour.mom: 1 / 45,
    }[behaviour]
    profile = _Profile(behaviour, city, active_from, active_to, rate, favourites)
    profile.first_order = joined >= start and rng.random() < (0.9 if behaviour is Behaviour.new else 0.6)

    if behaviour is Behaviour.mom:
        profile.favourites = ("母婴", favourites[1] if favourites[0] == "母婴" else favourites[0])
        profile.baby_birth = active_from - timedelta(days=rng.randrange(0, 420))
        first = active_from + timedelta(days=rng.randrange(0, 10))
        profile.cycles.append(_Cycle("", 20, 0.9, first, baby="diaper"))
        if rng.random() < 0.6:
            profile.cycles.append(
                _Cycle("", 25, 0.88, first + timedelta(days=rng.randrange(0, 20)), "formula")
            )
        if rng.random() < 0.5:
            profile.cycles.append(_Cycle("MB-121", 30, 0.75, first + timedelta(days=rng.randrange(0, 25))))
        if rng.random() < 0.4:
            profile.cycles.append(
                _Cycle("MB-141", 30, 0.7, first + timedelta(days=rng.randrange(0, 25)), "cereal")
            )
    elif behaviour in (Behaviour.loyal, Behaviour.dormant) and (
        behaviour is Behaviour.loyal or rng.random() < 0.4
    ):
        staples = [
            p
            for p in load_catalog()
            if p.repurchase_cycle_days
            and p.sku not in BABY_SKUS
            and not (city.region == "remote" and p.sku.startswith("SX-"))  # no cold chain there
        ]
        for p in rng.sample(staples, rng.choice((1, 1, 2))):
            cycle = p.repurchase_cycle_days or 30
            due = active_from + timedelta(days=rng.randrange(0, cycle))
            profile.cycles.append(_Cycle(p.sku, cycle, 0.85, due))

    baby = rng.choice(BABY_NAMES)
    if behaviour is Behaviour.mom:
        nickname = baby + rng.choice(MOM_SUFFIXES)
    else:
        nickname = rng.choice(NICKNAMES)
        if rng.random() < 0.25:
            nickname += f"_{rng.randrange(10, 100)}"
    district = rng.choice(city.districts)
    address = (
        f"{city.province}{city.city}{district}{rng.choice(ROADS)}{rng.randrange(1, 900)}号"
        f"{rng.choice(COMMUNITIES)}{rng.randrange(1, 30)}幢{rng.randrange(1, 4)}单元"
        f"{rng.randrange(1, 33)}{rng.randrange(1, 5):02d}室"
    )
    customer = DemoCustomer(
        customer_ref=f"wx_{index + 1:06d}",
        nickname=nickname,
        phone=f"{rng.choice(PHONE_PREFIXES)}****{rng.randrange(10_000):04d}",
        city=city.short,
        province=city.province or city.city,
        address=address,
        region=city.region,
        behaviour=behaviour,
        tags=BEHAVIOUR_TAGS.get(behaviour, ()),
        consent_marketing=rng.random() < 0.7,
        consent_profiling=rng.random() < 0.93,
        created_at=_local(joined, rng.choices(range(24), weights=HOUR_WEIGHTS)[0], rng),
    )
    return customer, profile


# --- orders ----------------------------------------------------------------------------------


@dataclass
class _Draft:
    customer: DemoCustomer
    created_at: datetime
    lines: list[tuple[DemoProduct, int]]
    coupon_hunter: bool


class _ProductSampler:
    """Weighted draws over the catalog, cached per (month, favourites, flags)."""

    def __init__(self, products: tuple[DemoProduct, ...]) -> None:
        self.products = products
        self._cache: dict[tuple[int, tuple[str, ...], bool, bool, bool], list[float]] = {}

    def draw(
        self, rng: random.Random, day: date, favourites: tuple[str, ...], bargain: bool, remote: bool
    ) -> DemoProduct:
        nianhuo = calendar.spring_festival_factor(day, "食品生鲜") > 1.2
        key = (day.month, favourites, bargain, remote, nianhuo)
        weights = self._cache.get(key)
        if weights is None:
            weights = []
            for p in self.products:
                w = p.popularity * calendar.season_factor(p.sku, day)
                if p.category in favourites:
                    w *= 4
                if bargain and p.price <= 80:
                    w *= 3
                if remote and p.sku.startswith("SX-"):
                    w = 0.0  # no cold chain to remote regions (生鲜售后.md)
                if nianhuo and p.category in calendar.NEW_YEAR_GOODS_CATEGORIES:
                    w *= 1.6
                weights.append(w)
            self._cache[key] = weights
        return rng.choices(self.products, weights=weights)[0]


def _baby_sku(cycle: _Cycle, birth: date, day: date) -> str | None:
    age = (day - birth).days
    if cycle.baby == "diaper":
        if age > 900:
            return None
        return next(sku for limit, sku in DIAPER_BY_AGE if age < limit)
    if cycle.baby == "formula":
        return next(sku for limit, sku in FORMULA_BY_AGE if age < limit)
    if cycle.baby == "cereal":
        return "MB-141" if 170 <= age <= 420 else None
    return cycle.sku


def _simulate(
    rng: random.Random,
    taste: random.Random,
    customer: DemoCustomer,
    profile: _Profile,
    end: date,
    as_of: datetime,
    sampler: _ProductSampler,
    by_sku: dict[str, DemoProduct],
    factors: dict[date, float],
) -> list[_Draft]:
    bargain = profile.behaviour is Behaviour.bargain
    remote = customer.region == "remote"
    by_day: dict[date, list[tuple[DemoProduct, int]]] = {}
    loyalty = LOYALTY[profile.behaviour.value]
    usuals: dict[str, list[DemoProduct]] = {}
    wanted: list[str] = []  # follow-ups of what they bought, still to come

    def usual_of(category: str) -> list[DemoProduct]:
        if category not in usuals:
            pool = [
                p
                for p in sampler.products
                if p.category == category
                and p.repurchase_cycle_days
                and p.sku not in BABY_SKUS  # those follow the baby's age, not taste
                and not (remote and p.sku.startswith("SX-"))
            ]
            weights = [p.popularity**0.5 * (3 if bargain and p.price <= 80 else 1) for p in pool]
            picked: list[DemoProduct] = []
            while pool and len(picked) < USUALS_PER_CATEGORY:
                i = taste.choices(range(len(pool)), weights=weights)[0]
                picked.append(pool.pop(i))
                weights.pop(i)
            usuals[category] = picked
        return usuals[category]

    def personal(p: DemoProduct, day: date) -> DemoProduct:
        follow = next((s for s in wanted if by_sku[s].category == p.category), None)
        if follow is not None and taste.random() < COMPLEMENT_TAKE:
            wanted.remove(follow)
            return by_sku[follow]
        if p.repurchase_cycle_days and p.sku not in BABY_SKUS and taste.random() < loyalty:
            mine = usual_of(p.category)
            weights = [u.popularity * calendar.season_factor(u.sku, day) for u in mine]
            if sum(weights) > 0:
                return taste.choices(mine, weights=weights)[0]
        return p

    def spontaneous(day: date) -> list[tuple[DemoProduct, int]]:
        n = rng.choices((1, 2, 3), weights=(60, 28, 12))[0]
        lines = []
        for _ in range(n):
            drawn = sampler.draw(rng, day, profile.favourites, bargain, remote)
            qty = rng.choice((2, 3)) if drawn.price < 50 and rng.random() < 0.2 else 1
            p = personal(drawn, day)
            if p is not drawn and p.price >= 50:
                qty = 1
            lines.append((p, qty))
            follow = COMPLEMENTS.get(p.sku)
            if follow and follow not in wanted and not any(q.sku == follow for q, _ in lines):
                wanted.append(follow)
        return lines

    if profile.first_order and profile.active_from <= profile.active_to:
        by_day.setdefault(profile.active_from, []).extend(spontaneous(profile.active_from))

    day = profile.active_from
    while day <= profile.active_to:
        factor = factors[day]
        p_order = profile.rate * factor
        if bargain and calendar.promo_factor(day) > 1.0:
            p_order *= 10
        if rng.random() < p_order:
            by_day.setdefault(day, []).extend(spontaneous(day))
        for cycle in profile.cycles:
            if day < cycle.next_due:
                continue
            if factor < 0.5:  # 春节: couriers stop, people stocked up before
                cycle.next_due = day + timedelta(days=rng.randrange(4, 9))
                continue
            sku = _baby_sku(cycle, profile.baby_birth, day) if profile.baby_birth else cycle.sku
            qty = 1
            if sku and rng.random() < cycle.reliability:
                product = by_sku[sku]
                qty = 2 if cycle.baby in ("diaper", "formula") and rng.random() < 0.45 else 1
                by_day.setdefault(day, []).append((product, qty))
            jitter = rng.uniform(0.85, 1.15)
            cycle.next_due = day + timedelta(days=max(3, round(cycle.days * qty * jitter)))
        day += timedelta(days=1)

    drafts = []
    for order_day, lines in sorted(by_day.items()):
        merged: dict[str, tuple[DemoProduct, int]] = {}
        for product, qty in lines:
            prev = merged.get(product.sku)
            merged[product.sku] = (product, qty + (prev[1] if prev else 0))
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        if order_day == end:
            hour = rng.randrange(0, AS_OF_LOCAL.hour)
        created = _local(order_day, hour, rng)
        if created <= customer.created_at:  # the first order comes after joining
            created = customer.created_at + timedelta(minutes=rng.randrange(3, 90))
        if created >= as_of:
            continue
        drafts.append(_Draft(customer, created, list(merged.values()), bargain or rng.random() < 0.25))
    return drafts


def _coupon(goods: Decimal, promo: bool) -> Decimal:
    if goods >= 199:
        return Decimal("30")
    if goods >= 99:
        return Decimal("15") if promo else Decimal("10")
    return Decimal("0")


def _fulfil(
    rng: random.Random, order_no: str, draft: _Draft, as_of: datetime, by_sku: dict[str, DemoProduct]
) -> DemoOrder:
    items = []
    for product, qty in draft.lines:
        variant = rng.choice(product.variants) if product.variants else None
        price = variant.price if variant else product.price
        items.append(DemoOrderItem(product.sku, variant.name if variant else None, qty, price))
    goods = sum((i.unit_price * i.qty for i in items), Decimal("0"))
    local_created = draft.created_at.astimezone(CST)
    promo = calendar.is_promo_day(local_created.date())
    discount = _coupon(goods, promo) if (draft.coupon_hunter or promo) else Decimal("0")
    shipping = SHIPPING_FEE if goods - discount < FREE_SHIPPING_THRESHOLD else Decimal("0")
    total = goods - discount + shipping

    def order(
        status: str,
        paid_at: datetime | None = None,
        shipped_at: datetime | None = None,
        delivered_at: datetime | None = None,
        carrier: str | None = None,
        tracking_no: str | None = None,
        events: tuple[DemoEvent, ...] = (),
    ) -> DemoOrder:
        return DemoOrder(
            order_no=order_no,
            customer_ref=draft.customer.customer_ref,
            status=status,
            created_at=draft.created_at,
            paid_at=paid_at,
            shipped_at=shipped_at,
            delivered_at=delivered_at,
            carrier=carrier,
            tracking_no=tracking_no,
            ship_address=draft.customer.address,
            total_amount=total,
            discount_amount=discount,
            items=tuple(items),
            events=events,
        )

    age = as_of - draft.created_at
    roll = rng.random()
    if age < timedelta(hours=1) and roll < 0.5:
        return order("pending_payment")
    if roll < 0.03:
        return order("cancelled")

    paid_at = draft.created_at + timedelta(seconds=rng.randrange(20, 900))
    cold = any(i.sku.startswith("SX-") for i in items)
    ship_day = paid_at.astimezone(CST).date()
    if paid_at.astimezone(CST).hour >= 16:
        ship_day += timedelta(days=1)
    if calendar.is_promo_day(ship_day):
        ship_day += timedelta(days=rng.randrange(0, 3))
    while True:
        sf = calendar.spring_festival_offset(ship_day)
        if sf is not None and -3 <= sf <= 6 or cold and ship_day.weekday() >= 5:
            ship_day += timedelta(days=1)
        else:
            break
    shipped_at = _local(ship_day, rng.randrange(17, 20), rng)

    if cold or total > 500:
        carrier = "顺丰"
    elif any(i.sku in BABY_SKUS for i in items):
        carrier = "京东"
    else:
        carrier = "中通" if rng.random() < 0.85 else "圆通"
    tracking_no = _tracking_no(rng, carrier)

    low, high = TRANSIT_DAYS[draft.customer.region]
    transit = 1 if cold and draft.customer.region == "jzh" else rng.randint(low, high)
    exception = rng.random() < 0.015
    if exception:
        transit += 2
    delivered_at = _local(ship_day + timedelta(days=transit), rng.randrange(11, 20), rng)

    events: tuple[DemoEvent, ...] = ()
    if age <= timedelta(days=EVENT_HISTORY_DAYS):
        events = tuple(
            e for e in _events(rng, draft.customer, carrier, shipped_at, delivered_at, exception)
            if e.occurred_at <= as_of
        )  # fmt: skip

    if shipped_at > as_of:
        status, shipped, delivered = "paid", None, None
    elif delivered_at > as_of:
        status, shipped, delivered = "shipped", shipped_at, None
    else:
        shipped, delivered = shipped_at, delivered_at
        recent = as_of - delivered_at < timedelta(days=7)
        if recent:
            status = "refunding" if rng.random() < 0.01 else "delivered"
        else:
            status = "refunded" if rng.random() < 0.02 else "completed"
    return order(status, paid_at, shipped, delivered, carrier, tracking_no, events)


def _tracking_no(rng: random.Random, carrier: str) -> str:
    def digits(n: int) -> str:
        return f"{rng.randrange(10**n):0{n}d}"

    return {
        "顺丰": lambda: "SF" + digits(13),
        "京东": lambda: "JDVA" + digits(11),
        "中通": lambda: "78" + digits(12),
        "圆通": lambda: "YT" + digits(13),
    }[carrier]()


def _events(
    rng: random.Random,
    customer: DemoCustomer,
    carrier: str,
    shipped_at: datetime,
    delivered_at: datetime,
    exception: bool,
) -> list[DemoEvent]:
    dest = customer.city + "市" if not customer.city.endswith("市") else customer.city
    hub = f"{customer.city}转运中心" if customer.city != "杭州" else "杭州城西营业部"
    courier = rng.choice(COURIER_SURNAMES) + "师傅"
    events = [
        DemoEvent(shipped_at, "picked_up", WAREHOUSE_CITY, f"【{WAREHOUSE_CITY}】{carrier}快递员已揽收"),
        DemoEvent(
            shipped_at + timedelta(hours=rng.randint(3, 6)),
            "in_transit",
            "杭州转运中心",
            "快件已到达【杭州转运中心】",
        ),
    ]
    left = shipped_at + timedelta(hours=rng.randint(7, 10))
    events.append(
        DemoEvent(left, "in_transit", "杭州转运中心", f"快件已从【杭州转运中心】发出，下一站【{hub}】")
    )
    out_day = delivered_at.astimezone(CST).date()
    if exception:
        when = left + timedelta(hours=rng.randint(10, 20))
        reason = rng.choice(
            (
                f"快件在【{hub}】滞留，原因：天气原因航班延误",
                "收件人电话无法接通，快件暂存网点，将于次日再次派送",
                "地址不详，正在联系收件人核实地址",
            )
        )
        events.append(DemoEvent(when, "exception", hub, reason))
    arrival = datetime.combine(out_day, time(6, rng.randrange(60)), CST).astimezone(UTC)
    events.append(
        DemoEvent(max(arrival, left + timedelta(hours=4)), "in_transit", hub, f"快件已到达【{hub}】")
    )
    out_at = datetime.combine(out_day, time(8, rng.randrange(60)), CST).astimezone(UTC)
    phone = f"1{rng.randrange(30, 99)}****{rng.randrange(10_000):04d}"
    events.append(
        DemoEvent(
            max(out_at, left + timedelta(hours=5)),
            "out_for_delivery",
            dest,
            f"【{dest}】快递员{courier}正在为您派件，联系电话：{phone}",
        )
    )
    receipt = rng.choice(
        (
            "已签收，签收人：本人",
            "已签收，签收人：家人代收",
            "已放至【丰巢智能柜】，请凭取件码取件",
            "已由【菜鸟驿站】代收，请及时取件",
        )
    )
    events.append(DemoEvent(delivered_at, "delivered", dest, receipt))
    return events
