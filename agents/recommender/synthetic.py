"""A seeded synthetic shop (products + purchase log) for tests, the eval fallback and the bench.

Customers belong to hidden tastes (a persona: a set of products across a few categories),
come back at their own rate, re-buy consumables when they run out, and sometimes add a
complement of what they own. Popularity within a category is Zipf-like. Same seed, same shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from agents.recommender.schemas import Interaction, ProductRecord

_CATEGORIES = [
    "纸尿裤",
    "奶粉",
    "湿巾",
    "洗护",
    "零食",
    "茶叶",
    "咖啡",
    "面膜",
    "护肤",
    "洗衣液",
    "厨房纸",
    "宠物粮",
    "猫砂",
    "保健品",
    "玩具",
    "童装",
    "餐具",
    "收纳",
    "床品",
    "小家电",
]


@dataclass(frozen=True)
class SyntheticShop:
    products: list[ProductRecord]
    interactions: list[Interaction]


def synthetic_shop(
    *,
    seed: int,
    n_products: int,
    n_customers: int,
    days: int = 540,
    end: date = date(2026, 6, 30),
    oos_share: float = 0.05,
    n_personas: int | None = None,
) -> SyntheticShop:
    rng = np.random.default_rng(seed)
    n_cat = min(len(_CATEGORIES), max(4, n_products // 8))
    cats = _CATEGORIES[:n_cat]
    consumable_cat = rng.random(n_cat) < 0.6
    cat_of = np.sort(rng.integers(0, n_cat, n_products))
    base_price = rng.lognormal(4.0, 0.6, n_cat)
    price = np.round(base_price[cat_of] * rng.lognormal(0.0, 0.5, n_products), 1)
    cycle = np.where(consumable_cat[cat_of], rng.integers(14, 61, n_products), 0)
    pop = 1.0 / (1.0 + rng.permutation(n_products)) ** 0.8
    stock = np.where(rng.random(n_products) < oos_share, 0, rng.integers(5, 500, n_products))
    skus = [f"SKU{j:05d}" for j in range(n_products)]
    products = [
        ProductRecord(
            sku=skus[j],
            category=cats[cat_of[j]],
            price=float(price[j]),
            stock=int(stock[j]),
            repurchase_cycle_days=int(cycle[j]) or None,
            title=f"{cats[cat_of[j]]}{j:05d}",
        )
        for j in range(n_products)
    ]
    complement = rng.integers(0, n_products, (n_products, 2))

    n_pers = n_personas or max(8, n_products // 10)
    persona_items = []
    for _ in range(n_pers):
        pc = rng.choice(n_cat, size=min(3, n_cat), replace=False)
        members = np.flatnonzero(np.isin(cat_of, pc))
        w = pop[members] / pop[members].sum()
        size = min(len(members), 12)
        persona_items.append(rng.choice(members, size=size, replace=False, p=w))
    global_p = pop / pop.sum()

    start = end - timedelta(days=days)
    rows: list[Interaction] = []
    for c in range(n_customers):
        cid = f"C{c:06d}"
        items = persona_items[rng.integers(0, n_pers)]
        favs = rng.choice(items, size=min(len(items), int(rng.integers(3, 7))), replace=False)
        t = float(rng.uniform(0, days - 14))
        span = float(rng.exponential(days * 0.6))
        stop = min(days, t + span)
        rate = float(rng.gamma(2.0, 0.6)) / 30.0  # visits per day
        owned: dict[int, tuple[float, float]] = {}
        while t < stop:
            basket: set[int] = set()
            for j, (bought_at, packs) in owned.items():
                if cycle[j] and t - bought_at >= cycle[j] * packs * 0.8 and rng.random() < 0.75:
                    basket.add(j)
            r = rng.random()
            if r < 0.55:
                basket.add(int(rng.choice(favs)))
            elif r < 0.75 and owned:
                basket.add(int(complement[int(rng.choice(list(owned)))][rng.integers(0, 2)]))
            elif r < 0.9:
                basket.add(int(rng.choice(items)))
            else:
                basket.add(int(rng.choice(n_products, p=global_p)))
            ts = datetime.combine(start + timedelta(days=int(t)), time(10)) + timedelta(
                minutes=int(rng.integers(0, 600))
            )
            for j in sorted(basket):
                packs = float(rng.integers(1, 3)) if cycle[j] else 1.0
                rows.append(Interaction(cid, skus[j], ts, packs))
                owned[j] = (t, packs)
            t += max(1.0, float(rng.exponential(1.0 / rate)))
    return SyntheticShop(products=products, interactions=rows)
