"""The content calendar: a pure planner from stock cover to a dated posting plan.

    plan = plan_calendar(date(2026, 12, 1), days=14, per_day=1, promo_ratio_max=0.3, stock=[...])

Rules (the industry guidance for private-domain shops: keep promotion under ~30% of posts):
- posts = days × per_day; promotions = floor(posts × promo_ratio_max), spread evenly over the
  period (the i-th slot is a promotion when floor((i+1)·n/posts) > floor(i·n/posts));
- the other slots rotate 种草 → 干货 → 互动;
- stock cover = stock / average daily sales of the last 28 days (no sales and stock > 0: unbounded);
- a SKU with cover < 7 days (or no stock) is never promoted nor 种草'd: it would sell out;
- overstocked SKUs (cover > 60 days) are promoted first; the rest of the promotable SKUs follow
  by cover, longest first, so slow movers get the attention.

Pure: no database, no clock; the caller passes the stock and the start date.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

PostKind = Literal["干货", "种草", "互动", "促销"]

SALES_WINDOW_DAYS = 28
MIN_PROMO_COVER_DAYS = 7.0
OVERSTOCK_COVER_DAYS = 60.0
MAX_DAYS = 90
MAX_PER_DAY = 3
_ROTATION: tuple[PostKind, ...] = ("种草", "干货", "互动")
_GOAL: dict[PostKind, str | None] = {"干货": "干货", "种草": "种草", "促销": "促销", "互动": None}
CSV_COLUMNS = ("date", "slot", "kind", "goal", "sku", "title", "cover_days", "reason")


@dataclass(frozen=True)
class SkuStock:
    sku: str
    title: str
    stock: int
    sold_last_28d: int

    @property
    def avg_daily_sales(self) -> float:
        return self.sold_last_28d / SALES_WINDOW_DAYS

    @property
    def cover_days(self) -> float | None:
        """Days the stock lasts at the recent pace; None = no recent sales (unbounded)."""
        if self.stock <= 0:
            return 0.0
        if self.sold_last_28d <= 0:
            return None
        return self.stock / self.avg_daily_sales

    @property
    def promotable(self) -> bool:
        cover = self.cover_days
        return self.stock > 0 and (cover is None or cover >= MIN_PROMO_COVER_DAYS)

    @property
    def overstocked(self) -> bool:
        cover = self.cover_days
        return self.stock > 0 and (cover is None or cover > OVERSTOCK_COVER_DAYS)


@dataclass(frozen=True)
class PlanItem:
    date: date
    slot: int  # 1..per_day within the day
    kind: PostKind
    goal: str | None  # the Moments goal to generate this post with; None for 互动
    sku: str | None
    title: str | None
    cover_days: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["date"] = self.date.isoformat()
        d["cover_days"] = None if self.cover_days is None else round(self.cover_days, 1)
        return d


@dataclass(frozen=True)
class CalendarPlan:
    start_date: date
    days: int
    per_day: int
    promo_ratio_max: float
    items: tuple[PlanItem, ...]
    held_back: tuple[dict[str, Any], ...] = field(default=())  # SKUs not promoted, with why

    @property
    def promo_count(self) -> int:
        return sum(i.kind == "促销" for i in self.items)

    @property
    def promo_ratio(self) -> float:
        return self.promo_count / len(self.items) if self.items else 0.0

    def as_dict(self) -> dict[str, Any]:
        counts = {k: sum(i.kind == k for i in self.items) for k in ("干货", "种草", "互动", "促销")}
        return {
            "start_date": self.start_date.isoformat(),
            "days": self.days,
            "per_day": self.per_day,
            "promo_ratio_max": self.promo_ratio_max,
            "promo_ratio": round(self.promo_ratio, 4),
            "counts": counts,
            "items": [i.as_dict() for i in self.items],
            "held_back": list(self.held_back),
        }


def _cover_text(s: SkuStock) -> str:
    cover = s.cover_days
    if cover is None:
        return f"近{SALES_WINDOW_DAYS}天无销量，库存 {s.stock} 件"
    return f"库存 {s.stock} 件，可售约 {cover:.0f} 天"


def _order(stock: Sequence[SkuStock]) -> list[SkuStock]:
    """Overstocked first, then the longest cover; ties by SKU."""

    def key(s: SkuStock) -> tuple[int, float, str]:
        cover = s.cover_days
        return (0 if s.overstocked else 1, -(math.inf if cover is None else cover), s.sku)

    return sorted(stock, key=key)


def promo_slots(total: int, promos: int) -> list[int]:
    """Indices of the promotion slots, spread evenly (never two in a row unless promos > total/2)."""
    if total <= 0 or promos <= 0:
        return []
    return [i for i in range(total) if (i + 1) * promos // total > i * promos // total]


def plan_calendar(
    start: date,
    days: int,
    *,
    per_day: int = 1,
    promo_ratio_max: float = 0.3,
    stock: Sequence[SkuStock] = (),
) -> CalendarPlan:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1..{MAX_DAYS}, got {days}")
    if not 1 <= per_day <= MAX_PER_DAY:
        raise ValueError(f"per_day must be 1..{MAX_PER_DAY}, got {per_day}")
    if not 0.0 <= promo_ratio_max <= 1.0:
        raise ValueError(f"promo_ratio_max must be 0..1, got {promo_ratio_max}")
    total = days * per_day
    ordered = _order(stock)
    promotable = [s for s in ordered if s.promotable]
    overstocked = [s for s in promotable if s.overstocked]
    promo_pool = overstocked or promotable
    n_promos = math.floor(round(total * promo_ratio_max, 6)) if promo_pool else 0
    promo_at = set(promo_slots(total, n_promos))

    items: list[PlanItem] = []
    promo_i = seed_i = rotation_i = 0
    for i in range(total):
        day = start + timedelta(days=i // per_day)
        slot = i % per_day + 1
        if i in promo_at:
            s = promo_pool[promo_i % len(promo_pool)]
            promo_i += 1
            why = "积压优先清库存" if s.overstocked else "库存充足"
            items.append(
                PlanItem(day, slot, "促销", "促销", s.sku, s.title, s.cover_days, f"{why}：{_cover_text(s)}")
            )
            continue
        kind = _ROTATION[rotation_i % len(_ROTATION)]
        rotation_i += 1
        if kind == "种草" and promotable:
            s = promotable[seed_i % len(promotable)]
            seed_i += 1
            why = "积压款多曝光" if s.overstocked else "库存充足"
            items.append(
                PlanItem(day, slot, "种草", "种草", s.sku, s.title, s.cover_days, f"{why}：{_cover_text(s)}")
            )
            continue
        if kind == "种草":
            kind = "干货"  # nothing safe to feature: teach instead
        reason = "互动：提问/投票，拉近关系，不带货" if kind == "互动" else "干货：使用技巧与选购知识，不带货"
        items.append(PlanItem(day, slot, kind, _GOAL[kind], None, None, None, reason))

    held_back = tuple(
        {
            "sku": s.sku,
            "title": s.title,
            "cover_days": None if s.cover_days is None else round(s.cover_days, 1),
            "reason": f"库存仅够卖 {s.cover_days or 0:.1f} 天 (< {MIN_PROMO_COVER_DAYS:.0f})，不做促销和种草",
        }
        for s in ordered
        if not s.promotable
    )
    return CalendarPlan(start, days, per_day, promo_ratio_max, tuple(items), held_back)


def plan_csv(plan: dict[str, Any]) -> str:
    """The plan (as stored in the job result) as CSV, with a BOM so Excel opens it as UTF-8."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in plan.get("items", []):
        writer.writerow(["" if item.get(c) is None else item.get(c) for c in CSV_COLUMNS])
    return out.getvalue()
