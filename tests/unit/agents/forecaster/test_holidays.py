from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from numpy.testing import assert_allclose

from agents.forecaster import holidays
from agents.forecaster.panel import SalesPanel
from store.errors import DateOutOfRange
from store.holidays import EVENT_KINDS


def flat_panel(n_days: int, start: date, level: float = 10.0, n: int = 1) -> SalesPanel:
    qty = np.full((n, n_days), level)
    return SalesPanel(
        [f"S{i}" for i in range(n)], start, qty, np.zeros_like(qty, dtype=bool), np.zeros(n, np.int64)
    )


def test_learns_a_planted_uplift_and_shrinks_thin_skus_to_the_pool() -> None:
    start = date(2024, 9, 1)
    panel = flat_panel(120, start, n=2)
    day = panel.day_index(date(2024, 11, 11))
    panel.qty[0, day] = 40.0  # busy SKU: ×4 on 双11
    panel.qty[1] = 0.0  # thin SKU: no history at all → takes the pool's factor
    uplift = holidays.learn_uplift(panel)
    k = EVENT_KINDS.index("双11当天")
    # SKU 0: actual 40, expected 10 → (40 + 30·4) / (10 + 30) = 4 (its pool is itself).
    assert_allclose(uplift.pooled[k], 4.0)
    assert_allclose(uplift.factor_of(0, "双11当天"), 4.0)
    assert_allclose(uplift.factor_of(1, "双11当天"), 4.0)
    assert_allclose(uplift.factor_of(0, "双11预热"), 1.0)
    assert uplift.occurrences[k] == 1


def test_shrinkage_is_by_expected_units() -> None:
    start = date(2024, 9, 1)
    panel = flat_panel(120, start, n=2)
    day = panel.day_index(date(2024, 11, 11))
    panel.qty[0, day] = 40.0
    panel.qty[1, :] = 1.0
    panel.qty[1, day] = 1.0  # slow SKU shows no uplift
    uplift = holidays.learn_uplift(panel)
    pool = (40 + 1) / (10 + 1)
    assert_allclose(uplift.factor_of(1, "双11当天"), (1 + 30 * pool) / (1 + 30))
    assert_allclose(uplift.factor_of(0, "双11当天"), (40 + 30 * pool) / (10 + 30))


def test_factor_matrix_with_declared_event_winning() -> None:
    uplift = holidays.Uplift(
        np.full((2, len(EVENT_KINDS)), 2.0),
        np.ones(len(EVENT_KINDS)),
        np.zeros(12, np.int64),
    )
    declared = [holidays.DeclaredEvent("店庆", date(2025, 11, 10), date(2025, 11, 11), 1.5, frozenset({"B"}))]
    f = holidays.factor_matrix(uplift, ["A", "B"], date(2025, 11, 9), 6, declared)
    expected = np.array([[2, 2, 2, 2, 2, 1], [2, 1.5, 1.5, 2, 2, 1]], dtype=float)
    assert_allclose(f, expected)


def test_adjust_history_deholidays_and_fills_stockouts() -> None:
    start = date(2024, 10, 1)
    panel = flat_panel(60, start)
    day = panel.day_index(date(2024, 11, 11))
    panel.qty[0, day] = 30.0
    out_day = day + 5
    panel.qty[0, out_day] = 0.0
    panel.censored[0, out_day] = True
    uplift = holidays.learn_uplift(panel)
    adjusted = holidays.adjust_history(panel, uplift)
    f = uplift.factor_of(0, "双11当天")
    assert_allclose(adjusted[0, day], 30.0 / f)
    # The stockout day becomes the mean of the four weeks before it, on the adjusted scale.
    window = adjusted[0, out_day - 28 : out_day]
    assert_allclose(adjusted[0, out_day], window.mean())
    assert adjusted[0, out_day] > 9.0


def test_event_kind_matrix_marks_days() -> None:
    kinds = holidays.event_kind_matrix(date(2025, 6, 17), 4)
    names = [EVENT_KINDS[k] if k >= 0 else "" for k in kinds]
    assert names == ["618前夕", "618当天", "618后", "618后"]
    assert date(2025, 6, 17) + timedelta(days=4) == date(2025, 6, 21)


@pytest.mark.parametrize(("start", "first_stop_day"), [(date(2031, 1, 15), 5), (date(2045, 2, 10), 4)])
def test_event_kind_matrix_knows_spring_festivals_past_2030(start: date, first_stop_day: int) -> None:
    # 春节 2031-01-23 and 2045-02-17: the courier stop runs from three days before to six after.
    names = [EVENT_KINDS[k] if k >= 0 else "" for k in holidays.event_kind_matrix(start, 20)]
    assert names[first_stop_day - 1] == "春节年货"
    assert names[first_stop_day : first_stop_day + 10] == ["春节停运"] * 10
    assert names[first_stop_day + 10] == "春节后"


def test_learning_over_a_year_past_the_calendar_fails_loudly() -> None:
    panel = flat_panel(60, date(2099, 12, 1))
    with pytest.raises(DateOutOfRange, match="2100"):
        holidays.learn_uplift(panel)
