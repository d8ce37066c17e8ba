"""The forecaster against the store: import sales, build the (hidden-demand corrected) history,
run forecasts with restock suggestions, and read them back for charts and the merchant agent.

History = the shop's imported SalesRecords if it has any, else daily sums of its orders.
A run writes one Forecast row per SKU (payload: mean, lo/hi 80/95, backtest MAE, history tail)
and one RestockSuggestion row per catalog SKU, under one `run_id` (the job id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from agents.forecaster import hidden_demand
from agents.forecaster.errors import ForecastError
from agents.forecaster.panel import SalesPanel, densify
from agents.forecaster.restock import advise_all, allocate_budget, sd_from_interval
from agents.forecaster.sales_import import parse_sales_csv
from agents.forecaster.schemas import BudgetPlan, RestockAdvice, RestockInput, SalesRow
from agents.forecaster.selection import SelectionConfig, forecast_panel
from agents.runtime import Runtime
from store.db import session_scope
from store.errors import InvalidInput, NotFound
from store.models import Forecast, Product
from store.repositories.catalog import ProductRepository
from store.repositories.sales import CST, DailySales, SalesRepository
from store.repositories.shops import ShopRepository

log = logging.getLogger("siyu.forecaster")

DEFAULT_HORIZON = 28
DEFAULT_REVIEW_DAYS = 14
DEFAULT_SERVICE_LEVEL = 0.95
HISTORY_TAIL_DAYS = 120
KEEP_RUNS = 3
NO_RUN = "还没有销量预测结果，请先运行 POST /v1/forecast/run（或等待每晚的自动预测）"

Report = Callable[[float, str], None]


@dataclass(frozen=True)
class ImportResult:
    file: str
    rows: int
    inserted: int
    updated: int
    skus: int
    first_day: date
    last_day: date


@dataclass(frozen=True)
class History:
    panel: SalesPanel  # after the hidden-demand correction
    raw: SalesPanel  # before it (stockouts marked)
    source: str  # "import" | "orders"
    signals: dict[tuple[str, date], int] = field(default_factory=dict)
    added_units: float = 0.0


@dataclass(frozen=True)
class ForecastView:
    run_id: str
    sku: str
    title: str
    model: str
    demand_class: str
    created_at: datetime
    history_dates: list[date]
    history: list[float | None]
    stockout: list[bool]
    corrected: list[float | None]
    dates: list[date]
    mean: list[float]
    bands: dict[str, list[float]]
    backtest: dict[str, float]


@dataclass(frozen=True)
class Suggestions:
    run_id: str
    as_of: date
    horizon_days: int
    items: list[RestockAdvice]
    budget: BudgetPlan | None
    daily_mean: dict[str, float] = field(default_factory=dict)
    on_hand: dict[str, int] = field(default_factory=dict)


def forecast_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    value = (raw or {}).get("forecast", {})
    return value if isinstance(value, dict) else {}


# ---- import -----------------------------------------------------------------------------


def import_sales(runtime: Runtime, shop_id: int, data: bytes, filename: str) -> ImportResult:
    """Validate the whole file, then upsert every row in one transaction (all or nothing)."""
    rows = parse_sales_csv(data, filename)
    daily = [DailySales(r.sku, r.day, r.qty, r.price, r.promo, r.on_hand) for r in rows]
    with session_scope(runtime.sessions) as session:
        inserted, updated = SalesRepository(session).upsert_records(shop_id, daily)
    log.info(
        "forecaster.import.done",
        extra={"shop_id": shop_id, "rows": len(rows), "inserted": inserted, "updated": updated},
    )
    return ImportResult(
        file=filename,
        rows=len(rows),
        inserted=inserted,
        updated=updated,
        skus=len({r.sku for r in rows}),
        first_day=min(r.day for r in rows),
        last_day=max(r.day for r in rows),
    )


# ---- history ----------------------------------------------------------------------------


def load_history(session: Session, shop_id: int, *, use_chats: bool = True) -> History:
    repo = SalesRepository(session)
    if repo.count_records(shop_id):
        source, daily = "import", repo.records(shop_id)
    else:
        source, daily = "orders", repo.daily_from_orders(shop_id)
    if not daily:
        raise ForecastError("还没有任何销售记录：请先导入销售 CSV（POST /v1/sales/import）或同步订单")
    rows = [SalesRow(sku=d.sku, day=d.day, qty=d.qty, on_hand=d.on_hand) for d in daily]
    panel = densify(rows)
    products = {p.sku: p for p in ProductRepository(session).list(shop_id, active_only=False)}
    if source == "orders":
        # Only a product still on sale is "out of stock"; a delisted one simply stopped selling.
        sold_out = [s for s in panel.skus if s in products and products[s].active and products[s].stock <= 0]
        panel = hidden_demand.mark_stockouts(panel, sold_out)
    if not use_chats or not panel.censored.any():
        return History(panel, panel, source)
    since = datetime.combine(panel.start, datetime.min.time(), CST)
    asks = [
        hidden_demand.Ask(m.customer_id, m.created_at.astimezone(CST).date(), m.text)
        for m in repo.customer_messages(shop_id, since=since)
    ]
    titles = {s: products[s].title for s in panel.skus if s in products}
    counts = hidden_demand.signals(asks, titles, hidden_demand.censored_days(panel))
    fixed = hidden_demand.correct(panel, counts)
    return History(fixed.panel, panel, source, fixed.signals, fixed.added_units)


# ---- run --------------------------------------------------------------------------------


def run_forecast(
    runtime: Runtime,
    shop_id: int,
    *,
    run_id: str,
    horizon: int | None = None,
    report: Report | None = None,
) -> dict[str, Any]:
    """Forecast every SKU, advise restocking, and store both under `run_id`; a summary dict."""
    say = report or (lambda _p, _m: None)
    started = time.perf_counter()
    with session_scope(runtime.sessions) as session:
        settings = forecast_settings(ShopRepository(session).get(shop_id).settings)
        history = load_history(session, shop_id)
        products = {p.sku: p for p in ProductRepository(session).list(shop_id, active_only=False)}
    horizon = int(horizon or settings.get("horizon", DEFAULT_HORIZON))
    if not 7 <= horizon <= 90:
        raise InvalidInput(f"预测天数 horizon 应在 7 到 90 之间，收到 {horizon}", field="horizon")
    say(0.1, f"已读取 {len(history.panel.skus)} 个商品的销售历史（来源：{history.source}）")
    panel = history.panel
    groups = [products[s].category if s in products else "其他" for s in panel.skus]
    config = SelectionConfig(horizon=horizon, season=7)

    def progress(stage: str, fraction: float) -> None:
        say(0.1 + 0.75 * fraction, f"预测中：{stage}")

    result = forecast_panel(panel, config, groups=groups, progress=progress)
    say(0.88, "正在计算补货建议")
    tail = max(panel.n_days - HISTORY_TAIL_DAYS, 0)
    history_start = panel.start + timedelta(days=tail)
    forecast_rows: list[dict[str, Any]] = []
    by_sku = result.by_sku()
    for i, sku in enumerate(panel.skus):
        fc = by_sku[sku]
        payload = fc.payload()
        payload["history"] = {
            "start": history_start.isoformat(),
            "qty": _floats(history.raw.qty[i, tail:], history.raw.censored[i, tail:], keep_censored=True),
            "stockout": [bool(v) for v in history.raw.censored[i, tail:]],
            "corrected": _floats(panel.qty[i, tail:], panel.censored[i, tail:], keep_censored=False),
        }
        payload["source"] = history.source
        forecast_rows.append(
            {
                "sku": sku,
                "model": fc.model,
                "demand_class": fc.demand_class.value,
                "start_date": fc.start,
                "horizon_days": horizon,
                "payload": payload,
            }
        )
    advices = advise_all(restock_inputs(forecast_rows, products, DEFAULT_REVIEW_DAYS, settings), result.start)
    suggestion_rows = [suggestion_row(a) for a in advices]
    with session_scope(runtime.sessions) as session:
        repo = SalesRepository(session)
        repo.save_run(shop_id, run_id, forecast_rows, suggestion_rows)
        session.flush()
        repo.delete_runs_except(shop_id, repo.recent_run_ids(shop_id, KEEP_RUNS))
    seconds = time.perf_counter() - started
    models: dict[str, int] = {}
    for row in forecast_rows:
        models[row["model"]] = models.get(row["model"], 0) + 1
    summary = {
        "run_id": run_id,
        "source": history.source,
        "skus": len(forecast_rows),
        "horizon": horizon,
        "start": result.start.isoformat(),
        "to_order": sum(1 for a in advices if a.order_qty > 0),
        "urgent": sum(1 for a in advices if a.priority == 1),
        "hidden_demand_days": len(history.signals),
        "hidden_demand_units": history.added_units,
        "models": models,
        "seconds": round(seconds, 2),
    }
    log.info("forecaster.service.run", extra={"shop_id": shop_id, **summary})
    return summary


def _floats(values: np.ndarray, censored: np.ndarray, *, keep_censored: bool) -> list[float | None]:
    out: list[float | None] = []
    for v, c in zip(values, censored, strict=True):
        if np.isnan(v) or (c and not keep_censored):
            out.append(None)
        else:
            out.append(round(float(v), 3))
    return out


def restock_inputs(
    forecasts: list[dict[str, Any]],
    products: dict[str, Product],
    review_days: int,
    settings: dict[str, Any],
) -> list[RestockInput]:
    """One RestockInput per catalog SKU: demand over lead time + review period from the forecast."""
    level = float(settings.get("service_level", DEFAULT_SERVICE_LEVEL))
    items = []
    for row in forecasts:
        product = products.get(row["sku"])
        if product is None:
            continue
        payload = row["payload"]
        period = max(product.lead_time_days + review_days, 1)
        mean = np.asarray(payload["mean"][:period], dtype=np.float64)
        hi95 = np.asarray(payload.get("hi95", payload["mean"])[:period], dtype=np.float64)
        daily_mean = float(mean.mean()) if mean.size else 0.0
        daily_sd = float(np.mean([sd_from_interval(m, h) for m, h in zip(mean, hi95, strict=True)]))
        items.append(
            RestockInput(
                sku=product.sku,
                title=product.title,
                on_hand=max(product.stock, 0),
                on_order=max(product.on_order, 0),
                lead_time_days=product.lead_time_days,
                review_period_days=review_days,
                daily_mean=round(daily_mean, 6),
                daily_sd=round(daily_sd, 6),
                service_level=level,
                moq=product.moq,
                case_pack=product.case_pack,
                unit_cost=product.unit_cost or Decimal("0"),
                unit_price=product.price,
            )
        )
    return items


def suggestion_row(a: RestockAdvice) -> dict[str, Any]:
    return {
        "sku": a.sku,
        "order_qty": a.order_qty,
        "reorder_point": a.reorder_point,
        "safety_stock": a.safety_stock,
        "days_of_cover": a.days_of_cover,
        "stockout_date": a.stockout_date,
        "priority": a.priority,
        "explanation": a.explanation,
        "details": a.model_dump(mode="json"),
    }


# ---- reads ------------------------------------------------------------------------------


def latest_run(session: Session, shop_id: int) -> str:
    run_id = SalesRepository(session).latest_run_id(shop_id)
    if run_id is None:
        raise NotFound(NO_RUN)
    return run_id


def forecast_view(runtime: Runtime, shop_id: int, sku: str) -> ForecastView:
    with session_scope(runtime.sessions) as session:
        run_id = latest_run(session, shop_id)
        row = SalesRepository(session).forecast(shop_id, run_id, sku)
        if row is None:
            raise NotFound(f"商品 {sku!r} 没有预测结果：本店没有这个商品，或它没有任何销售记录")
        product = ProductRepository(session).get_by_sku(shop_id, sku)
        return _view(row, product.title if product else sku)


def _view(row: Forecast, title: str) -> ForecastView:
    payload = row.payload
    hist = payload.get("history", {})
    h_start = date.fromisoformat(hist["start"]) if hist else row.start_date
    qty = list(hist.get("qty", []))
    bands: dict[str, list[float]] = {
        k: list(payload[k]) for k in ("lo80", "hi80", "lo95", "hi95") if k in payload
    }
    return ForecastView(
        run_id=row.run_id,
        sku=row.sku,
        title=title,
        model=row.model,
        demand_class=row.demand_class,
        created_at=row.created_at.replace(tzinfo=UTC) if row.created_at.tzinfo is None else row.created_at,
        history_dates=[h_start + timedelta(days=i) for i in range(len(qty))],
        history=qty,
        stockout=list(hist.get("stockout", [])),
        corrected=list(hist.get("corrected", [])),
        dates=[row.start_date + timedelta(days=i) for i in range(row.horizon_days)],
        mean=list(payload["mean"]),
        bands=bands,
        backtest=dict(payload.get("backtest", {})),
    )


def suggestions(
    runtime: Runtime, shop_id: int, *, horizon_days: int = DEFAULT_REVIEW_DAYS, budget: Decimal | None = None
) -> Suggestions:
    """The latest run's suggestions for a review period of `horizon_days`, most urgent first;
    with `budget`, also which to fund first. Recomputed from the stored forecasts and the
    current stock, so a restock entered since the run counts."""
    with session_scope(runtime.sessions) as session:
        run_id = latest_run(session, shop_id)
        settings = forecast_settings(ShopRepository(session).get(shop_id).settings)
        rows = SalesRepository(session).forecasts(shop_id, run_id)
        products = {p.sku: p for p in ProductRepository(session).list(shop_id, active_only=False)}
        forecasts = [{"sku": r.sku, "payload": r.payload} for r in rows]
        as_of = rows[0].start_date
        inputs = restock_inputs(forecasts, products, horizon_days, settings)
    items = advise_all(inputs, as_of)
    plan = allocate_budget(items, budget) if budget is not None else None
    return Suggestions(
        run_id,
        as_of,
        horizon_days,
        items,
        plan,
        daily_mean={i.sku: i.daily_mean for i in inputs},
        on_hand={i.sku: i.on_hand for i in inputs},
    )


def forecast_total(view: ForecastView, days: int) -> tuple[float, float, float]:
    """Units over the first `days` forecast days: mean, and a rough 80% range (bands summed)."""
    n = min(days, len(view.mean))
    lo = view.bands.get("lo80", view.mean)
    hi = view.bands.get("hi80", view.mean)
    return float(sum(view.mean[:n])), float(sum(lo[:n])), float(sum(hi[:n]))


def nightly_shop_ids(runtime: Runtime) -> list[int]:
    """Shops that keep the nightly forecast on (`settings["forecast"]["nightly_run"]`, default on)."""
    with session_scope(runtime.sessions) as session:
        return [
            shop.id
            for shop in ShopRepository(session).list()
            if forecast_settings(shop.settings).get("nightly_run", True) is not False
        ]
