from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from agents.recommender.rfm import (
    PLAYBOOK,
    OrderLine,
    RFMThresholds,
    Segment,
    quintile_scores,
    score_customers,
    segment_counts,
)
from store.errors import InvalidInput

TODAY = date(2026, 6, 30)


def _lines() -> list[OrderLine]:
    rows = [
        ("a", "o1", date(2026, 6, 25), 60.0),
        ("a", "o1", date(2026, 6, 25), 40.0),  # a second line of the same order
        ("a", "o9", date(2026, 7, 5), 999.0),  # after today: ignored
        ("b", "o2", date(2026, 1, 10), 200.0),
        ("b", "o3", date(2026, 3, 1), 300.0),
        ("b", "o4", date(2026, 5, 1), 250.0),
        ("b", "o5", date(2026, 6, 20), 250.0),
        ("c", "o6", date(2025, 12, 1), 50.0),
        ("c", "o7", date(2026, 1, 15), 50.0),
        ("d", "o8", date(2026, 2, 1), 80.0),
        ("d", "o10", date(2026, 4, 1), 90.0),
        ("e", "o11", date(2026, 3, 1), 500.0),
        ("e", "o12", date(2026, 6, 10), 400.0),
        ("f", "o13", date(2026, 4, 1), 60.0),
        ("f", "o14", date(2026, 6, 1), 60.0),
        ("f", "o15", datetime(2026, 6, 28, 9, 30, tzinfo=UTC), 70.0),
    ]
    return [OrderLine(*r) for r in rows]


def test_scores_and_segments_are_exact() -> None:
    scored = {c.customer_id: c for c in score_customers(_lines(), TODAY, RFMThresholds())}

    assert sorted(scored) == ["a", "b", "c", "d", "e", "f"]
    got = {cid: (c.recency_days, c.frequency, c.monetary, c.rfm_code, c.segment) for cid, c in scored.items()}
    assert got == {
        "a": (5, 1, 100.0, "411", Segment.new),
        "b": (10, 4, 1000.0, "355", Segment.vip),
        "c": (166, 2, 100.0, "111", Segment.dormant),
        "d": (90, 2, 170.0, "112", Segment.at_risk),
        "e": (20, 2, 900.0, "214", Segment.high_potential),
        "f": (2, 3, 190.0, "543", Segment.active),
    }
    assert scored["b"].first_order == date(2026, 1, 10)
    assert scored["e"].avg_order_value == 450.0


def test_quintile_scores_rank_higher_is_better_and_invert_recency() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # quintile edges 2, 3, 4, 5
    assert_array_equal(quintile_scores(values), [1, 1, 2, 3, 4, 5])
    assert_array_equal(quintile_scores(values, lower_is_better=True), [5, 4, 3, 2, 1, 1])
    assert quintile_scores(np.array([])).size == 0


def test_thresholds_default_from_the_shops_own_data() -> None:
    t = RFMThresholds.from_orders(_lines(), TODAY)
    # customers' median gaps 44, 45, 50, 59, 101 → 75th percentile 59: ×2 at risk, ×4 dormant
    assert t == RFMThresholds(
        new_days=30,
        at_risk_days=118,
        dormant_days=236,
        vip_min_orders=3,
        vip_min_monetary=900.0,
        high_potential_min_aov=212.5,
    )
    assert RFMThresholds.from_orders([], TODAY) == RFMThresholds()


def test_shop_overrides_apply_and_bad_ones_name_the_field() -> None:
    t = RFMThresholds().with_overrides({"dormant_days": 200, "vip_min_monetary": 1500})
    assert (t.dormant_days, t.vip_min_monetary, t.at_risk_days) == (200, 1500.0, 60)
    assert isinstance(t.vip_min_monetary, float)

    with pytest.raises(InvalidInput) as unknown:
        RFMThresholds().with_overrides({"sleep_days": 3})
    assert unknown.value.field == "rfm.sleep_days"
    with pytest.raises(InvalidInput) as wrong_type:
        RFMThresholds().with_overrides({"new_days": True})
    assert wrong_type.value.field == "rfm.new_days"
    with pytest.raises(InvalidInput):
        RFMThresholds(at_risk_days=90, dormant_days=60)


def test_segment_counts_with_the_trend_against_30_days_earlier() -> None:
    counts = {
        c.segment: (c.count, c.previous_count, c.delta)
        for c in segment_counts(_lines(), TODAY, RFMThresholds())
    }
    assert counts == {
        Segment.new: (1, 0, 1),
        Segment.active: (1, 3, -2),
        Segment.vip: (1, 0, 1),
        Segment.dormant: (1, 1, 0),
        Segment.at_risk: (1, 1, 0),
        Segment.high_potential: (1, 0, 1),
    }


def test_each_segment_has_a_chinese_next_action_and_the_copy_goal() -> None:
    assert {s.label for s in Segment} == {"新客", "活跃", "忠诚/VIP", "沉睡", "流失风险", "高潜"}
    assert PLAYBOOK[Segment.dormant].copy_goal == "唤醒"
    assert PLAYBOOK[Segment.at_risk].copy_goal == "唤醒"
    assert PLAYBOOK[Segment.vip].copy_goal == "会员日"
    goals = {"新品", "促销", "种草", "干货", "节日", "会员日", "唤醒"}
    assert all(p.copy_goal in goals and p.next_action for p in PLAYBOOK.values())


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("vip", Segment.vip),
        ("忠诚/VIP", Segment.vip),
        ("VIP", Segment.vip),
        ("沉睡", Segment.dormant),
        ("at_risk", Segment.at_risk),
    ],
)
def test_segment_parse_accepts_key_or_label(name: str, segment: Segment) -> None:
    assert Segment.parse(name) is segment


def test_segment_parse_rejects_unknown() -> None:
    with pytest.raises(InvalidInput, match="未知的客户分层"):
        Segment.parse("土豪")
