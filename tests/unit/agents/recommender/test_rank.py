from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from agents.recommender import rank
from agents.recommender.reasons import reason_text, short_title
from agents.recommender.schemas import ReasonCode

NAN = np.nan


def test_due_days_scale_the_cycle_by_packs_up_to_the_cap() -> None:
    due = rank.due_days(
        np.array([100.0, 100.0, 100.0, 100.0]),
        np.array([20.0, 20.0, 20.0, NAN]),
        np.array([1.0, 2.0, 10.0, 1.0]),
        max_qty_cycles=3.0,
    )
    assert_allclose(due, [120.0, 140.0, 160.0, NAN])


def test_repurchase_split_blocks_durables_and_not_yet_due() -> None:
    due = np.array([NAN, 130.0, 112.0, 105.0, 95.0])
    cycles = np.array([NAN, 30.0, 30.0, 10.0, 30.0])
    blocked, due_now = rank.repurchase_split(due, cycles, today=100, remind_within_days=14)
    # windows: 14, 14, min(14, 5)=5, 14 → durable, not due, due in 12, due in 5, overdue
    assert_array_equal(due_now, [False, False, True, True, True])
    assert_array_equal(blocked, ~due_now)


def test_reminder_strength_grows_with_habit_and_fades_when_overdue() -> None:
    s = rank.reminder_strength(
        np.array([100.0, 100.0, 60.0]),
        np.array([1.0, np.e**2, 1.0]),
        np.array([20.0, 20.0, 20.0]),
        today=100,
        overdue_fade=0.25,
    )
    assert_allclose(s, [1.0, 3.0, 1.0 / 1.5])


def test_price_factor_is_one_inside_the_band_and_damped_beyond() -> None:
    f = rank.price_factor(np.array([50.0, 100.0, 200.0, 400.0, 25.0, NAN]), center=100.0, band_ratio=2.0)
    assert_allclose(f, [1.0, 1.0, 1.0, 0.5, 0.5, 1.0])
    assert_allclose(rank.price_factor(np.array([1.0, 1000.0]), None, 2.0), [1.0, 1.0])


def test_mmr_order_trades_relevance_for_new_categories() -> None:
    scores = np.array([1.0, 0.95, 0.9, 0.5])
    cats = np.array([0, 0, 0, 1])
    assert rank.mmr_order(scores, cats, 3, lam=1.0) == [0, 1, 2]
    # λ=0.5: the second same-category item scores 0.5·0.95 − 0.5 < 0.5·0.5 for the new category
    assert rank.mmr_order(scores, cats, 3, lam=0.5) == [0, 3, 1]
    assert rank.mmr_order(scores, cats, 0, lam=0.5) == []


def test_reasons_read_as_chinese_sentences() -> None:
    assert reason_text(ReasonCode.bought_together, because_title="奶瓶") == "因为您买过奶瓶"
    assert reason_text(ReasonCode.repurchase_due, because_title="纸尿裤") == "您上次买的纸尿裤快用完了"
    assert (
        reason_text(ReasonCode.repurchase_due, because_title="纸尿裤", times_bought=1)
        == "您上次买的纸尿裤快用完了"
    )
    assert (
        reason_text(ReasonCode.repurchase_due, because_title="纸尿裤", times_bought=3)
        == "您常买的纸尿裤快用完了"
    )
    assert (
        reason_text(ReasonCode.repurchase_due, because_title="纸尿裤", times_bought=1, long_overdue=True)
        == "您上次买的纸尿裤该补货了"
    )
    assert reason_text(ReasonCode.category_bestseller, category="零食") == "零食同类热销"
    assert reason_text(ReasonCode.category_bestseller) == "同类热销"
    assert reason_text(ReasonCode.bestseller) == "本店热销"
    assert reason_text(ReasonCode.similar_item, because_title="坚果") == "和您买过的坚果很像"
    assert reason_text(ReasonCode.with_context, because_title="湿巾") == "买湿巾的顾客常一起买"
    assert short_title("", "SKU1") == "SKU1"
    assert short_title("一" * 25, "S") == "一" * 19 + "…"
