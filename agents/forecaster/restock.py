"""Restock math, pure: a periodic-review (R, S) policy with MOQ and case packs, and budget allocation.

For one SKU, with daily forecast mean μ and sd σ, lead time L and review period R (days):

    P             = L + R                 the days an order placed now must cover
    z             = Φ⁻¹(service level)
    safety stock  = z · σ · √P
    reorder point = μ · P + safety stock  (order-up-to level: order if the position is below it)
    position      = on hand + on order
    order qty     = 0 if position ≥ reorder point, else
                    ⌈max(reorder point − position, MOQ) / case pack⌉ · case pack
    days of cover = on hand / μ           stockout date = today + ⌊days of cover⌋ (if within a year)
    priority      = 1 if it runs out within the lead time and needs an order, 2 if it needs one, else 3

Money is `Decimal`; quantities are whole units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from statistics import NormalDist

from agents.forecaster.schemas import BudgetLine, BudgetPlan, RestockAdvice, RestockInput

Z_95 = 1.959963984540054
MAX_PROJECTION_DAYS = 365  # beyond a year a stockout date means nothing (and may overflow `date`)
_EPS = 6  # round to 6 decimals before ceil/floor so 100.0000000001 is not 101
_STANDARD_NORMAL = NormalDist()


def service_z(level: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(level)


def sd_from_interval(mean: float, hi: float, level: float = 95.0) -> float:
    """A day's sd from the upper bound of a symmetric prediction interval (e.g. hi95)."""
    z = _STANDARD_NORMAL.inv_cdf(0.5 + level / 200.0)
    return max(hi - mean, 0.0) / z


def advise(item: RestockInput, today: date) -> RestockAdvice:
    mu, sd = item.daily_mean, item.daily_sd
    period = item.lead_time_days + item.review_period_days
    z = service_z(item.service_level)
    safety = z * sd * math.sqrt(period)
    reorder_point = mu * period + safety
    position = item.on_hand + item.on_order
    need = round(reorder_point - position, _EPS)
    if need <= 0 or (mu == 0 and sd == 0):
        qty = 0
    else:
        qty = math.ceil(round(max(need, item.moq) / item.case_pack, _EPS)) * item.case_pack
    cover = item.on_hand / mu if mu > 0 else None
    stockout = None
    if cover is not None and cover <= MAX_PROJECTION_DAYS:
        stockout = today + timedelta(days=math.floor(round(cover, _EPS)))
    if qty > 0 and cover is not None and cover < item.lead_time_days:
        priority = 1
    elif qty > 0:
        priority = 2
    else:
        priority = 3
    margin = item.unit_price - item.unit_cost if item.unit_price is not None else None
    advice = RestockAdvice(
        sku=item.sku,
        title=item.title,
        order_qty=qty,
        cases=qty // item.case_pack,
        safety_stock=safety,
        reorder_point=reorder_point,
        inventory_position=position,
        z=z,
        days_of_cover=cover,
        stockout_date=stockout,
        priority=priority,
        order_cost=item.unit_cost * qty,
        unit_cost=item.unit_cost,
        moq=item.moq,
        case_pack=item.case_pack,
        margin_per_unit=margin,
        explanation="",
    )
    return advice.model_copy(update={"explanation": explain(item, advice)})


def explain(item: RestockInput, advice: RestockAdvice) -> str:
    """One or two sentences a merchant reads, with the numbers behind the suggestion."""
    name = item.title or item.sku
    if item.daily_mean == 0:
        return f"{name}：近期预测没有销量，现货 {item.on_hand} 件，暂不需要补货。"
    period = item.lead_time_days + item.review_period_days
    parts = [f"{name}：日均销量约 {item.daily_mean:.1f} 件"]
    cover = advice.days_of_cover if advice.days_of_cover is not None else 0.0
    if item.on_hand == 0:
        parts.append("现货已卖完")
    else:
        parts.append(f"现货 {item.on_hand} 件可卖约 {_days(cover)} 天")
    if item.on_order:
        parts.append(f"在途 {item.on_order} 件")
    parts.append(
        f"采购周期 {item.lead_time_days} 天、每 {item.review_period_days} 天看一次货，"
        f"{period} 天内约需 {item.daily_mean * period:.0f} 件，另留安全库存 {advice.safety_stock:.0f} 件"
        f"（缺货率控制在 {1 - item.service_level:.0%} 内）"
    )
    if advice.order_qty == 0:
        parts.append("现有库存足够，暂不需要补货")
        return "，".join(parts) + "。"
    boxes = f"{advice.cases} 箱 × {item.case_pack}" if item.case_pack > 1 else f"{advice.cases} 件"
    suggestion = f"建议补 {advice.order_qty} 件（{boxes}"
    if item.moq > 1 and advice.reorder_point - advice.inventory_position < item.moq:
        suggestion += f"，起订量 {item.moq} 件"
    suggestion += "）"
    parts.append(suggestion)
    text = "，".join(parts) + "。"
    if advice.priority == 1 and advice.stockout_date is not None:
        day = advice.stockout_date
        text += f"预计 {day.month}月{day.day}日 断货，早于到货时间，请尽快下单。"
    return text


def _days(cover: float) -> str:
    return f"{cover:.0f}" if cover >= 10 else f"{cover:.1f}".rstrip("0").rstrip(".")


def advise_all(items: Sequence[RestockInput], today: date) -> list[RestockAdvice]:
    """Every SKU's advice, most urgent first."""
    return sorted((advise(i, today) for i in items), key=_urgency)


def _urgency(advice: RestockAdvice) -> tuple[int, float, Decimal, str]:
    cover = advice.days_of_cover if advice.days_of_cover is not None else math.inf
    margin = advice.margin_per_unit if advice.margin_per_unit is not None else Decimal("0")
    # Whole days of cover first, so between two SKUs running out the same day the better margin wins.
    return (advice.priority, math.floor(cover) if math.isfinite(cover) else math.inf, -margin, advice.sku)


def allocate_budget(advices: Sequence[RestockAdvice], budget: Decimal) -> BudgetPlan:
    """Fund suggestions in order of urgency (then margin) until the cash runs out.

    A SKU that no longer fits gets as many whole case packs as the money allows, if that still
    meets its MOQ; partial case packs are never bought. Later, cheaper SKUs may still fit.
    """
    remaining = budget
    lines: list[BudgetLine] = []
    for advice in sorted((a for a in advices if a.order_qty > 0), key=_urgency):
        full_cost = advice.order_cost
        if full_cost <= remaining:
            funded = advice.order_qty
            note = f"优先级 {advice.priority}，全额采购 {funded} 件，花费 ¥{full_cost:,.2f}"
        else:
            case_cost = advice.unit_cost * advice.case_pack
            cases = (
                int((remaining / case_cost).to_integral_value(rounding=ROUND_FLOOR)) if case_cost > 0 else 0
            )
            min_cases = math.ceil(advice.moq / advice.case_pack)
            if cases >= min_cases and cases > 0:
                funded = cases * advice.case_pack
                note = (
                    f"优先级 {advice.priority}，预算只够 {cases} 箱"
                    f"（{funded} 件，¥{case_cost * cases:,.2f}），"
                    f"建议量为 {advice.order_qty} 件"
                )
            else:
                funded = 0
                need = case_cost * min_cases
                note = (
                    f"预算不足，暂缓：至少要买 {min_cases * advice.case_pack} 件（¥{need:,.2f}），"
                    f"剩余预算 ¥{remaining:,.2f}"
                )
        cost = advice.unit_cost * funded
        remaining -= cost
        lines.append(
            BudgetLine(
                sku=advice.sku, suggested_qty=advice.order_qty, funded_qty=funded, cost=cost, explanation=note
            )
        )
    return BudgetPlan(budget=budget, spent=budget - remaining, remaining=remaining, lines=lines)
