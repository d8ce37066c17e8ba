from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from agents.forecaster.demand import classify, demand_stats, demand_stats_panel
from agents.forecaster.schemas import DemandClass


@pytest.mark.parametrize(
    ("adi", "cv2", "expected"),
    [
        (1.0, 0.1, DemandClass.smooth),
        (1.31, 0.49, DemandClass.erratic),
        (1.32, 0.48, DemandClass.intermittent),
        (2.0, 0.49, DemandClass.lumpy),
        (float("inf"), 0.0, DemandClass.inactive),
    ],
)
def test_cutoffs(adi: float, cv2: float, expected: DemandClass) -> None:
    assert classify(adi, cv2) is expected


def test_hand_computed_stats() -> None:
    y = np.array([0, 2, 0, 0, 4, 0, 6, 0], dtype=float)
    s = demand_stats(y)
    # 8 days / 3 sale days; sizes 2, 4, 6: mean 4, population var 8/3 → CV² = (8/3)/16 = 1/6.
    assert_allclose(s.adi, 8 / 3)
    assert_allclose(s.cv2, 1 / 6)
    assert_allclose(s.mean_daily, 12 / 8)
    assert s.demand_class is DemandClass.intermittent


def test_censored_and_unborn_days_are_not_observations() -> None:
    y = np.array([np.nan, np.nan, 5, 0, 5, 5], dtype=float)
    censored = np.array([False, False, False, True, False, False])
    s = demand_stats(y, censored)
    assert s.adi == 1.0
    assert s.cv2 == 0.0
    assert s.demand_class is DemandClass.smooth


def test_panel_matches_single() -> None:
    rng = np.random.default_rng(3)
    qty = rng.poisson(rng.uniform(0.1, 5, (20, 1)), (20, 60)).astype(float)
    qty[3] = 0.0
    qty[4, :10] = np.nan
    censored = rng.random((20, 60)) < 0.05
    many = demand_stats_panel(qty, censored)
    for i in range(20):
        one = demand_stats(qty[i], censored[i])
        assert many[i].demand_class is one.demand_class
        assert_allclose([many[i].adi, many[i].cv2, many[i].mean_daily], [one.adi, one.cv2, one.mean_daily])
    assert many[3].demand_class is DemandClass.inactive
