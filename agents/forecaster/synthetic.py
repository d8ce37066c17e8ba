"""Seeded synthetic sales for benchmarks, tests and the eval fallback (pure; numpy only).

Mixed patterns like a real shop: smooth best-sellers, erratic promo-driven SKUs, intermittent
and lumpy slow movers; a weekend-heavy week; 年货 before 春节 and a courier stop during it;
618 and 双11 warm-ups and peaks (the uplift varies by SKU); occasional stockouts with `on_hand = 0`.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from agents.forecaster.panel import SalesPanel
from agents.forecaster.schemas import SalesRow
from store.holidays import event_kind

WEEKDAY = np.array([0.88, 0.9, 0.94, 0.98, 1.08, 1.3, 1.25])
MIX = (("smooth", 0.35), ("erratic", 0.2), ("intermittent", 0.3), ("lumpy", 0.15))


# The demand multiplier of each calendar window kind (each SKU scales it by its own strength).
_FESTIVAL_FACTOR: dict[str, float] = {
    "618预热": 1.35,
    "618前夕": 1.9,
    "618当天": 3.0,
    "618后": 0.8,
    "双11预热": 1.4,
    "双11前夜": 2.1,
    "双11当天": 3.8,
    "双11后": 0.75,
    "双12": 1.7,
    "春节年货": 1.3,
    "春节停运": 0.25,
    "春节后": 0.8,
}


def _festival(day: date) -> float:
    kind = event_kind(day)
    return 1.0 if kind is None else _FESTIVAL_FACTOR[kind]


def generate(n_skus: int, n_days: int = 730, *, end: date = date(2025, 11, 30), seed: int = 7) -> SalesPanel:
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=n_days - 1)
    days = [start + timedelta(days=i) for i in range(n_days)]
    week = WEEKDAY[np.array([d.weekday() for d in days])]
    fest = np.array([_festival(d) for d in days])
    kinds = rng.choice(len(MIX), size=n_skus, p=[w for _, w in MIX])
    qty = np.zeros((n_skus, n_days))
    censored = np.zeros((n_skus, n_days), dtype=np.bool_)
    t = np.arange(n_days) / 365.0
    for i, k in enumerate(kinds):
        # Each SKU reacts to the festivals in its own measure (some are not promoted at all).
        strength = rng.uniform(0.3, 1.4)
        uplift = 1.0 + (fest - 1.0) * strength
        trend = 1.0 + rng.normal(0, 0.15) * t
        weekly = 1.0 + (week - 1.0) * rng.uniform(0.5, 1.5)
        shape = np.maximum(uplift * trend * weekly, 0.02)
        if k == 0:  # smooth: steady daily sales
            level = rng.lognormal(2.0, 0.8)
            y = rng.poisson(level * shape)
        elif k == 1:  # erratic: sells most days, sizes vary a lot
            level = rng.lognormal(1.6, 0.8)
            y = rng.negative_binomial(1.2, 1.2 / (1.2 + level * shape))
        elif k == 2:  # intermittent: sells one day in 2-6, steady sizes
            p = rng.uniform(0.15, 0.5)
            y = (rng.random(n_days) < np.minimum(p * shape, 0.95)) * (
                1 + rng.poisson(rng.uniform(0.2, 1.5), n_days)
            )
        else:  # lumpy: rare days with big orders (group buys)
            p = rng.uniform(0.05, 0.3)
            size = rng.negative_binomial(0.8, 0.8 / (0.8 + rng.uniform(3, 12)), n_days)
            y = (rng.random(n_days) < np.minimum(p * shape, 0.95)) * (1 + size)
        y = y.astype(np.float64)
        if rng.random() < 0.25:  # a stockout: a few days to two weeks with nothing to sell
            a = int(rng.integers(30, n_days - 60))
            b = a + int(rng.integers(3, 15))
            y[a:b] = 0.0
            censored[i, a:b] = True
        qty[i] = y
    first_day = np.zeros(n_skus, dtype=np.int64)
    skus = [f"SKU{i:05d}" for i in range(n_skus)]
    return SalesPanel(skus=skus, start=start, qty=qty, censored=censored, first_day=first_day)


def to_rows(panel: SalesPanel) -> list[SalesRow]:
    """The panel as import rows (zero days omitted, stockout days carry `on_hand=0`)."""
    rows: list[SalesRow] = []
    dates = panel.dates()
    for i, sku in enumerate(panel.skus):
        for j in range(int(panel.first_day[i]), panel.n_days):
            q, c = float(panel.qty[i, j]), bool(panel.censored[i, j])
            if q > 0 or c or j == panel.first_day[i]:
                rows.append(SalesRow(sku=sku, day=dates[j], qty=q, on_hand=0 if c else None))
    return rows


def to_csv(panel: SalesPanel) -> str:
    lines = ["sku,date,qty,on_hand"]
    for r in to_rows(panel):
        on_hand = "" if r.on_hand is None else str(r.on_hand)
        lines.append(f"{r.sku},{r.day.isoformat()},{r.qty:g},{on_hand}")
    return "\n".join(lines) + "\n"
