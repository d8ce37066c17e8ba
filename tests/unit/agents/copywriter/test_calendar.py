"""The content calendar planner, exactly."""

from __future__ import annotations

from datetime import date

import pytest

from agents.copywriter.calendar import SkuStock, plan_calendar, plan_csv, promo_slots

STOCK = [
    SkuStock("A", "慢销保温杯", stock=300, sold_last_28d=28),  # 1/day → 300 days: overstocked
    SkuStock("B", "常规面霜", stock=100, sold_last_28d=112),  # 4/day → 25 days
    SkuStock("C", "爆款纸尿裤", stock=10, sold_last_28d=56),  # 2/day → 5 days: never promoted
    SkuStock("D", "积压抽纸", stock=50, sold_last_28d=0),  # no sales: unbounded cover, overstocked
    SkuStock("E", "断货奶瓶", stock=0, sold_last_28d=20),  # nothing to sell
]


def test_cover_days_and_flags() -> None:
    a, b, c, d, e = STOCK
    assert (a.cover_days, b.cover_days, c.cover_days, d.cover_days, e.cover_days) == (
        300.0,
        25.0,
        5.0,
        None,
        0.0,
    )
    assert [s.promotable for s in STOCK] == [True, True, False, True, False]
    assert [s.overstocked for s in STOCK] == [True, False, False, True, False]
    assert SkuStock("X", "x", stock=70, sold_last_28d=280).cover_days == 7.0  # exactly 7 days is allowed
    assert SkuStock("X", "x", stock=70, sold_last_28d=280).promotable


def test_promo_slots_are_spread_evenly() -> None:
    assert promo_slots(10, 3) == [3, 6, 9]
    assert promo_slots(7, 2) == [3, 6]
    assert promo_slots(5, 0) == [] and promo_slots(0, 3) == []
    assert promo_slots(4, 4) == [0, 1, 2, 3]


def test_plan_exactly() -> None:
    plan = plan_calendar(date(2026, 12, 1), 10, per_day=1, promo_ratio_max=0.3, stock=STOCK)
    got = [(i.date.day, i.slot, i.kind, i.goal, i.sku) for i in plan.items]
    assert got == [
        (1, 1, "种草", "种草", "D"),
        (2, 1, "干货", "干货", None),
        (3, 1, "互动", None, None),
        (4, 1, "促销", "促销", "D"),
        (5, 1, "种草", "种草", "A"),
        (6, 1, "干货", "干货", None),
        (7, 1, "促销", "促销", "A"),
        (8, 1, "互动", None, None),
        (9, 1, "种草", "种草", "B"),
        (10, 1, "促销", "促销", "D"),
    ]
    assert plan.promo_count == 3 and plan.promo_ratio == 0.3
    assert [h["sku"] for h in plan.held_back] == ["C", "E"]
    assert plan.items[3].reason == "积压优先清库存：近28天无销量，库存 50 件"
    assert plan.items[6].reason == "积压优先清库存：库存 300 件，可售约 300 天"
    d = plan.as_dict()
    assert d["counts"] == {"干货": 2, "种草": 3, "互动": 2, "促销": 3}
    assert d["items"][0] == {
        "date": "2026-12-01",
        "slot": 1,
        "kind": "种草",
        "goal": "种草",
        "sku": "D",
        "title": "积压抽纸",
        "cover_days": None,
        "reason": "积压款多曝光：近28天无销量，库存 50 件",
    }


@pytest.mark.parametrize(
    ("days", "per_day", "ratio"), [(7, 3, 0.3), (30, 2, 0.25), (1, 1, 0.3), (29, 1, 0.29)]
)
def test_never_over_the_ratio_and_never_a_low_cover_sku(days: int, per_day: int, ratio: float) -> None:
    plan = plan_calendar(date(2026, 1, 1), days, per_day=per_day, promo_ratio_max=ratio, stock=STOCK)
    assert len(plan.items) == days * per_day
    assert plan.promo_ratio <= ratio
    assert plan.promo_count == int(round(days * per_day * ratio, 6))
    assert not {i.sku for i in plan.items} & {"C", "E"}
    assert {i.sku for i in plan.items if i.kind == "促销"} <= {"A", "D"}  # overstocked first
    assert [i.date for i in plan.items] == sorted(i.date for i in plan.items)
    assert plan.items[-1].date == date(2026, 1, days)


def test_without_overstock_the_longest_cover_is_promoted_and_nothing_safe_means_no_promo() -> None:
    plan = plan_calendar(date(2026, 1, 1), 4, promo_ratio_max=0.5, stock=STOCK[1:3])
    assert [(i.kind, i.sku) for i in plan.items] == [
        ("种草", "B"),
        ("促销", "B"),
        ("干货", None),
        ("促销", "B"),
    ]
    only_low = plan_calendar(date(2026, 1, 1), 3, promo_ratio_max=1.0, stock=[STOCK[2]])
    assert [i.kind for i in only_low.items] == ["干货", "干货", "互动"]
    assert only_low.promo_count == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="per_day"):
        plan_calendar(date(2026, 1, 1), 3, per_day=4)
    with pytest.raises(ValueError, match="days"):
        plan_calendar(date(2026, 1, 1), 0)


def test_csv_export() -> None:
    plan = plan_calendar(date(2026, 12, 1), 2, stock=STOCK)
    text = plan_csv(plan.as_dict())
    assert text.startswith("\ufeffdate,slot,kind,goal,sku,title,cover_days,reason\r\n")
    assert text.splitlines()[1] == "2026-12-01,1,种草,种草,D,积压抽纸,,积压款多曝光：近28天无销量，库存 50 件"
    assert len(text.splitlines()) == 3
