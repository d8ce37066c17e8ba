"""Eval `forecast`: backtest accuracy on the demo shop's history, and exact restock arithmetic.

History: the demo shop 鹿鸣优选 (`store.demo.generate`, seed 7, 18 months to 2025-11-30); daily
sales per SKU are the summed item quantities of its orders by local (CST) order date, every
status counted (a refunded order was still demand). Three holdouts of 28 days end on 2025-07-15
(after 618), 2025-09-30 (ordinary) and 2025-11-30 (双11), so one lucky season cannot carry it;
WAPE is pooled over the three (Σ|error| / Σ sales).
Enforced: WAPE ≤ 0.85 × seasonal naive and ≤ AutoETS alone; every hand-computed restock case
in `evals/data/forecast/restock_cases.jsonl` exact; and every suggestion made from the demo
forecast re-derived independently (case packs, MOQ, reorder point, budget sums).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np

from agents.forecaster.backtest import run_backtest
from agents.forecaster.panel import SalesPanel, densify
from agents.forecaster.restock import advise, advise_all, allocate_budget, sd_from_interval
from agents.forecaster.schemas import RestockAdvice, RestockInput, SalesRow
from agents.forecaster.selection import SelectionConfig, forecast_panel
from evals.harness import EvalContext, SuiteResult, Threshold, suite

DATA = files("evals") / "data" / "forecast"
END = date(2025, 11, 30)
ORIGINS = (date(2025, 7, 15), date(2025, 9, 30), END)
METHODS = ("selection", "seasonal_naive", "auto_ets")


def demo_history() -> tuple[SalesPanel, list[Any]]:
    from store.demo import generate
    from store.demo.generator import CST

    shop = generate(7, end_date=END)
    per_day: dict[tuple[str, date], float] = defaultdict(float)
    for order in shop.orders:
        day = order.created_at.astimezone(CST).date()
        for item in order.items:
            per_day[(item.sku, day)] += item.qty
    rows = [SalesRow(sku=s, day=d, qty=q) for (s, d), q in per_day.items()]
    return densify(rows, end=END), list(shop.products)


@suite("forecast", "demo-shop backtest (WAPE vs seasonal naive and AutoETS) + exact restock arithmetic")
def forecast_suite(ctx: EvalContext) -> SuiteResult:
    panel, products = demo_history()
    config = SelectionConfig(horizon=28, season=7)
    rows: list[list[Any]] = []
    abs_err = dict.fromkeys(METHODS, 0.0)
    seconds = dict.fromkeys(METHODS, 0.0)
    mase: dict[str, list[float]] = {m: [] for m in METHODS}
    total_sales = 0.0
    details: dict[str, Any] = {"source": "store.demo seed 7, end 2025-11-30", "origins": {}}
    for origin in ORIGINS:
        cut = panel.head(panel.day_index(origin) + 1)
        ctx.console.print(f"  forecast eval: holdout ending {origin} …")
        report = run_backtest(cut, config)
        held = cut.qty[:, -config.horizon :]
        sales = float(np.nansum(np.where(cut.censored[:, -config.horizon :], 0.0, held)))
        total_sales += sales
        for m in METHODS:
            r = report.results[m]
            abs_err[m] += r.overall.wape * sales
            seconds[m] += r.seconds
            mase[m].append(r.overall.mase)
            rows.append([str(origin), m, r.overall.wape, r.overall.mase, r.seconds])
        details["origins"][str(origin)] = report.as_dict()
    wape = {m: abs_err[m] / total_sales for m in METHODS}
    for m in METHODS:
        rows.append(["pooled", m, wape[m], float(np.mean(mase[m])), seconds[m]])

    exact_ok, exact_total, exact_fail = check_cases(DATA / "restock_cases.jsonl")
    inv_ok, inv_total, inv_fail = check_demo_suggestions(panel, products, config)
    rows.append(["restock", "hand-computed cases exact", exact_ok, exact_total, 0.0])
    rows.append(["restock", "demo suggestions re-derived", inv_ok, inv_total, 0.0])
    details["restock_failures"] = exact_fail + inv_fail
    metrics = {
        "wape_selection": wape["selection"],
        "wape_seasonal_naive": wape["seasonal_naive"],
        "wape_auto_ets": wape["auto_ets"],
        "wape_vs_seasonal_naive": wape["selection"] / wape["seasonal_naive"],
        "wape_vs_auto_ets": wape["selection"] / wape["auto_ets"],
        "restock_cases_exact": exact_ok / exact_total,
        "restock_demo_checked": inv_ok / inv_total if inv_total else 0.0,
        "seconds_selection": seconds["selection"],
        "seconds_auto_ets": seconds["auto_ets"],
    }
    return SuiteResult(
        suite="forecast",
        columns=["holdout", "method", "WAPE", "MASE", "seconds"],
        rows=rows,
        metrics=metrics,
        thresholds=[
            Threshold("wape_vs_seasonal_naive", "<=", 0.85, "issue 7: ≤ 0.85 × seasonal naive"),
            Threshold("wape_vs_auto_ets", "<=", 1.0, "issue 7: no worse than AutoETS alone"),
            Threshold("restock_cases_exact", "==", 1.0, "every hand-computed case exact"),
            Threshold("restock_demo_checked", "==", 1.0, "every demo suggestion re-derived"),
        ],
        details=details,
        title="eval: forecast (demo shop 鹿鸣优选, 3 holdouts × 28 days)",
    )


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def check_cases(path: Traversable) -> tuple[int, int, list[str]]:
    ok, total, failures = 0, 0, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        today = date.fromisoformat(case["today"])
        total += 1
        if "expect_budget" in case:
            advices = [advise(RestockInput.model_validate(i), today) for i in case["inputs"]]
            plan = allocate_budget(advices, Decimal(case["budget"]))
            exp = case["expect_budget"]
            order = [ln.sku for ln in plan.lines]
            funded = [ln.funded_qty for ln in plan.lines]
            same = order == exp["order"] and funded == exp["funded"]
            same = same and plan.spent == Decimal(exp["spent"])
            same = same and plan.remaining == Decimal(exp["remaining"])
            got: dict[str, Any] = {"order": order, "funded": funded, "spent": str(plan.spent)}
        else:
            a = advise(RestockInput.model_validate(case["input"]), today)
            exp = case["expect"]
            stockout = date.fromisoformat(exp["stockout_date"]) if exp["stockout_date"] else None
            same = (
                a.order_qty == exp["order_qty"]
                and a.cases == exp["cases"]
                and _close(a.safety_stock, exp["safety_stock"])
                and _close(a.reorder_point, exp["reorder_point"])
                and _close(a.days_of_cover, exp["days_of_cover"])
                and a.stockout_date == stockout
                and a.priority == exp["priority"]
                and a.order_cost == Decimal(exp["order_cost"])
            )
            got = a.model_dump(mode="json")
        if same:
            ok += 1
        else:
            failures.append(f"{case['id']}: got {got}, expected {exp}")
    return ok, total, failures


def rederive(a: RestockAdvice, item: RestockInput) -> list[str]:
    """Independent re-computation of one suggestion's numbers."""
    errors = []
    period = item.lead_time_days + item.review_period_days
    if not _close(a.safety_stock, a.z * item.daily_sd * math.sqrt(period)):
        errors.append("safety stock")
    if not _close(a.reorder_point, item.daily_mean * period + a.safety_stock):
        errors.append("reorder point")
    need = a.reorder_point - (item.on_hand + item.on_order)
    if a.order_qty % item.case_pack:
        errors.append("not whole case packs")
    if a.order_qty > 0:
        if a.order_qty < item.moq or a.order_qty + 1e-6 < need:
            errors.append("below MOQ or need")
        if a.order_qty - item.case_pack >= max(need, item.moq) - 1e-6:
            errors.append("a whole case too many")
    elif need > 1e-6 and item.daily_mean > 0:
        errors.append("needed but not ordered")
    if a.order_cost != item.unit_cost * a.order_qty:
        errors.append("order cost")
    if str(a.order_qty) not in a.explanation and a.order_qty:
        errors.append("explanation lacks the quantity")
    return errors


def check_demo_suggestions(
    panel: SalesPanel, products: list[Any], config: SelectionConfig
) -> tuple[int, int, list[str]]:
    run = forecast_panel(panel, config)
    by_sku = run.by_sku()
    today = END + timedelta(days=1)
    items = []
    for p in products:
        f = by_sku.get(p.sku)
        if f is None:
            continue
        days = min(p.lead_time_days + 7, config.horizon)
        mean = float(np.mean(f.mean[:days]))
        sd = float(
            np.mean(
                [sd_from_interval(m, h) for m, h in zip(f.mean[:days], f.bands["hi-95"][:days], strict=True)]
            )
        )
        items.append(
            RestockInput(
                sku=p.sku,
                title=p.title,
                on_hand=p.stock,
                lead_time_days=p.lead_time_days,
                daily_mean=mean,
                daily_sd=sd,
                moq=p.moq,
                case_pack=p.case_pack,
                unit_cost=p.unit_cost,
                unit_price=p.price,
            )
        )
    advices = advise_all(items, today)
    by_item = {i.sku: i for i in items}
    ok, failures = 0, []
    for a in advices:
        errs = rederive(a, by_item[a.sku])
        if errs:
            failures.append(f"{a.sku}: {', '.join(errs)}")
        else:
            ok += 1
    budget = Decimal("5000")
    plan = allocate_budget(advices, budget)
    spent = sum((ln.cost for ln in plan.lines), Decimal("0"))
    plan_ok = spent == plan.spent and plan.spent <= budget and plan.remaining == budget - spent
    for ln in plan.lines:
        item = by_item[ln.sku]
        if (
            ln.funded_qty % item.case_pack
            or (0 < ln.funded_qty < item.moq)
            or ln.cost != item.unit_cost * ln.funded_qty
        ):
            plan_ok = False
    if not plan_ok:
        failures.append("budget plan sums or case packs")
    return ok + int(plan_ok), len(advices) + 1, failures
