from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from numpy.testing import assert_allclose

from agents.forecaster.restock import advise, advise_all, allocate_budget, sd_from_interval, service_z
from agents.forecaster.schemas import RestockInput

TODAY = date(2025, 3, 3)
Z95 = 1.6448536269514722  # Φ⁻¹(0.95)


def item(**kw: object) -> RestockInput:
    base: dict[str, object] = {
        "sku": "BWB-500",
        "title": "保温杯",
        "on_hand": 40,
        "on_order": 0,
        "lead_time_days": 7,
        "review_period_days": 7,
        "daily_mean": 10.0,
        "daily_sd": 0.0,
        "moq": 1,
        "case_pack": 20,
        "unit_cost": Decimal("5.50"),
        "unit_price": Decimal("19.90"),
    }
    base.update(kw)
    return RestockInput.model_validate(base)


def test_no_uncertainty_rounds_up_to_case_packs() -> None:
    a = advise(item(), TODAY)
    # P = 14; reorder point = 10 × 14 = 140; position 40 → need 100 → 5 cases of 20.
    assert a.safety_stock == 0.0
    assert a.reorder_point == 140.0
    assert (a.order_qty, a.cases) == (100, 5)
    assert a.days_of_cover == 4.0
    assert a.stockout_date == date(2025, 3, 7)
    assert a.priority == 1  # runs out in 4 days, the lead time is 7
    assert a.order_cost == Decimal("550.00")
    assert a.margin_per_unit == Decimal("14.40")
    assert a.explanation == (
        "保温杯：日均销量约 10.0 件，现货 40 件可卖约 4 天，采购周期 7 天、每 7 天看一次货，"
        "14 天内约需 140 件，另留安全库存 0 件（缺货率控制在 5% 内），建议补 100 件（5 箱 × 20）。"
        "预计 3月7日 断货，早于到货时间，请尽快下单。"
    )


def test_safety_stock_uses_z_and_sqrt_of_protection_period() -> None:
    a = advise(
        item(daily_mean=12.0, daily_sd=4.0, lead_time_days=9, on_hand=50, on_order=30, moq=50, case_pack=24),
        TODAY,
    )
    # P = 16, √P = 4: SS = z × 4 × 4; ROP = 192 + SS = 218.32; position 80 → need 138.32 → 6 × 24.
    assert_allclose(a.z, Z95)
    assert_allclose(a.safety_stock, Z95 * 16)
    assert_allclose(a.reorder_point, 192 + Z95 * 16)
    assert a.inventory_position == 80
    assert (a.order_qty, a.cases) == (144, 6)
    assert a.days_of_cover is not None
    assert_allclose(a.days_of_cover, 50 / 12)
    assert a.stockout_date == date(2025, 3, 7)
    assert "在途 30 件" in a.explanation
    assert "另留安全库存 26 件" in a.explanation


def test_moq_lifts_a_small_need_then_rounds_to_cases() -> None:
    a = advise(
        item(daily_mean=1.0, lead_time_days=5, review_period_days=5, on_hand=4, moq=50, case_pack=12), TODAY
    )
    # need 10 − 4 = 6 < MOQ 50 → 50 → ⌈50/12⌉ = 5 cases = 60.
    assert (a.order_qty, a.cases) == (60, 5)
    assert a.priority == 1
    assert "建议补 60 件（5 箱 × 12，起订量 50 件）" in a.explanation


def test_zero_demand_orders_nothing() -> None:
    a = advise(item(daily_mean=0.0, daily_sd=0.0, on_hand=3), TODAY)
    assert a.order_qty == 0
    assert a.days_of_cover is None
    assert a.stockout_date is None
    assert a.priority == 3
    assert a.explanation == "保温杯：近期预测没有销量，现货 3 件，暂不需要补货。"


def test_enough_stock_orders_nothing() -> None:
    a = advise(item(daily_mean=2.0, lead_time_days=3, on_hand=30), TODAY)
    assert a.reorder_point == 20.0
    assert a.order_qty == 0
    assert a.days_of_cover == 15.0
    assert a.stockout_date == date(2025, 3, 18)
    assert a.priority == 3
    assert a.explanation.endswith("现有库存足够，暂不需要补货。")


def test_float_noise_does_not_add_a_case() -> None:
    # 0.1 × 30 = 3.0000000000000004 in binary floating point; need is exactly 2 → one case of 2.
    a = advise(item(daily_mean=0.1, lead_time_days=23, on_hand=1, case_pack=2), TODAY)
    assert a.order_qty == 2


def test_no_stockout_date_beyond_a_year() -> None:
    a = advise(item(daily_mean=1e-9, on_hand=5), TODAY)
    assert a.order_qty == 0
    assert a.stockout_date is None
    assert a.days_of_cover is not None
    assert a.days_of_cover > 365


def test_out_of_stock_today() -> None:
    a = advise(item(on_hand=0), TODAY)
    assert a.stockout_date == TODAY
    assert a.order_qty == 140
    assert "现货已卖完" in a.explanation


def test_z_and_interval_helpers() -> None:
    assert_allclose(service_z(0.95), Z95)
    assert_allclose(sd_from_interval(10.0, 10.0 + 1.959963984540054 * 3.0), 3.0)
    assert sd_from_interval(10.0, 8.0) == 0.0


def test_advise_all_sorts_by_priority_then_cover() -> None:
    items = [
        item(sku="C", daily_mean=2.0, lead_time_days=3, on_hand=30),  # no order
        item(sku="B", on_hand=100, lead_time_days=3, case_pack=1),  # order, 10 days of cover
        item(sku="A", on_hand=20),  # runs out in 2 days
    ]
    assert [a.sku for a in advise_all(items, TODAY)] == ["A", "B", "C"]


def test_budget_funds_urgent_first_whole_cases_only() -> None:
    urgent = advise(item(sku="A", on_hand=20, unit_cost=Decimal("10")), TODAY)  # 120 units = ¥1200
    later = advise(item(sku="B", on_hand=60, lead_time_days=3, unit_cost=Decimal("10")), TODAY)  # 40 = ¥400
    cheap = advise(item(sku="C", on_hand=70, lead_time_days=3, unit_cost=Decimal("1")), TODAY)  # 40 = ¥40
    plan = allocate_budget([cheap, later, urgent], Decimal("1500"))
    assert [ln.sku for ln in plan.lines] == ["A", "B", "C"]
    assert [ln.funded_qty for ln in plan.lines] == [120, 20, 40]  # B: ¥300 left buys one case of 20
    assert [ln.cost for ln in plan.lines] == [Decimal("1200"), Decimal("200"), Decimal("40")]
    assert plan.spent == Decimal("1440")
    assert plan.remaining == Decimal("60")
    assert "预算只够 1 箱（20 件，¥200.00）" in plan.lines[1].explanation


def test_budget_smaller_than_one_case_funds_nothing() -> None:
    a = advise(item(unit_cost=Decimal("10")), TODAY)
    plan = allocate_budget([a], Decimal("199.99"))
    assert plan.lines[0].funded_qty == 0
    assert plan.spent == Decimal("0")
    assert plan.lines[0].explanation == "预算不足，暂缓：至少要买 20 件（¥200.00），剩余预算 ¥199.99"


def test_budget_partial_must_still_meet_moq() -> None:
    a = advise(item(unit_cost=Decimal("1"), moq=60, case_pack=20, on_hand=0), TODAY)  # 140 units
    plan = allocate_budget([a], Decimal("50"))  # 2 cases affordable, MOQ needs 3
    assert plan.lines[0].funded_qty == 0
    plan = allocate_budget([a], Decimal("65"))
    assert plan.lines[0].funded_qty == 60


def test_equal_urgency_prefers_the_better_margin() -> None:
    low = advise(item(sku="LOW", unit_price=Decimal("6")), TODAY)
    high = advise(item(sku="HIGH", unit_price=Decimal("30")), TODAY)
    plan = allocate_budget([low, high], Decimal("600"))
    assert [(ln.sku, ln.funded_qty) for ln in plan.lines] == [("HIGH", 100), ("LOW", 0)]


@pytest.mark.parametrize("level", [0.5, 1.0])
def test_service_level_bounds(level: float) -> None:
    with pytest.raises(ValueError):
        item(service_level=level)
