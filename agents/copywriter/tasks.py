"""Celery job `siyu.job.copy_calendar`: the content calendar from stock cover.

Params (set by `POST /v1/copy/calendar`): start_date, days, per_day, promo_ratio_max, skus
(optional), as_of (the date sales are counted up to, inclusive; the API sets today's date).
The result is `CalendarPlan.as_dict()`; `GET /v1/copy/calendar/{job_id}.csv` exports it.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from agents.copywriter.calendar import SALES_WINDOW_DAYS, SkuStock, plan_calendar
from agents.jobs import JobContext, job_kind
from store.db import session_scope
from store.errors import NotFound
from store.repositories.catalog import ProductRepository
from store.repositories.orders import OrderRepository

log = logging.getLogger("siyu.copywriter")

KIND = "copy_calendar"


def load_stock(ctx: JobContext, as_of: date, skus: list[str] | None) -> list[SkuStock]:
    """Stock on hand and units sold in the 28 days up to `as_of` (inclusive), per SKU."""
    since = datetime.combine(as_of - timedelta(days=SALES_WINDOW_DAYS - 1), time.min, tzinfo=UTC)
    until = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC)
    with session_scope(ctx.runtime.sessions) as session:
        repo = ProductRepository(session)
        products = repo.by_skus(ctx.shop_id, skus) if skus else repo.list(ctx.shop_id)
        if skus:
            missing = sorted(set(skus) - {p.sku for p in products})
            if missing:
                raise NotFound(f"商品 {'、'.join(missing)} 不存在")
        wanted = {p.sku for p in products}
        sold: Counter[str] = Counter()
        for line in OrderRepository(session).iter_lines(ctx.shop_id, since=since):
            if line.created_at < until and line.sku in wanted:
                sold[line.sku] += line.qty
        return [SkuStock(p.sku, p.title, p.stock, sold[p.sku]) for p in products]


@job_kind(KIND)
def copy_calendar(ctx: JobContext) -> dict[str, Any]:
    p = ctx.params
    as_of = date.fromisoformat(p["as_of"])
    ctx.report(0.1, "读取库存与近28天销量")
    stock = load_stock(ctx, as_of, p.get("skus") or None)
    ctx.report(0.6, f"为 {len(stock)} 个商品排期")
    plan = plan_calendar(
        date.fromisoformat(p["start_date"]),
        int(p["days"]),
        per_day=int(p.get("per_day", 1)),
        promo_ratio_max=float(p.get("promo_ratio_max", 0.3)),
        stock=stock,
    )
    log.info(
        "copy.calendar.planned",
        extra={
            "shop_id": ctx.shop_id,
            "job_id": ctx.job_id,
            "posts": len(plan.items),
            "promos": plan.promo_count,
        },
    )
    return plan.as_dict() | {"as_of": as_of.isoformat()}
