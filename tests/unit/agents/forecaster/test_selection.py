from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from numpy.testing import assert_allclose

from agents.forecaster import synthetic
from agents.forecaster.backtest import naive_scales, run_backtest, score
from agents.forecaster.models import Tier, candidate_names
from agents.forecaster.panel import SalesPanel
from agents.forecaster.schemas import DemandClass
from agents.forecaster.selection import SelectionConfig, forecast_panel, pick
from store.holidays import spring_festival

CONFIG = SelectionConfig(horizon=14, n_windows=2)


def small_panel() -> SalesPanel:
    panel = synthetic.generate(8, 200, end=date(2025, 6, 10), seed=11)
    panel.qty[5] = 0.0  # a SKU that never sold
    panel.censored[5] = False
    panel.first_day[6] = 180  # a new SKU: 20 days of history, too short to backtest
    panel.qty[6, :180] = np.nan
    return panel


def test_forecast_panel_contract() -> None:
    panel = small_panel()
    run = forecast_panel(panel, CONFIG)
    assert run.start == date(2025, 6, 11)
    assert [f.sku for f in run.forecasts] == panel.skus
    by = run.by_sku()
    assert by["SKU00005"].tier is Tier.inactive
    assert by["SKU00005"].model == "Zero"
    assert_allclose(by["SKU00005"].mean, np.zeros(14))
    assert by["SKU00006"].tier is Tier.short
    assert by["SKU00006"].model == "HistoricAverage"
    for f in run.forecasts:
        assert f.mean.shape == (14,)
        assert (f.mean >= 0).all()
        assert set(f.bands) == {"lo-80", "hi-80", "lo-95", "hi-95"}
        assert (f.bands["lo-95"] <= f.bands["lo-80"] + 1e-9).all()
        assert (f.bands["lo-80"] <= f.mean + 1e-9).all()
        assert (f.mean <= f.bands["hi-80"] + 1e-9).all()
        assert (f.bands["hi-80"] <= f.bands["hi-95"] + 1e-9).all()
        if f.tier in (Tier.full, Tier.cheap):
            names = candidate_names(f.tier, 7)
            assert f.model in names
            assert set(f.backtest_mae) == set(names)
            # The tier's default may be kept unless the SKU's own best is > 5 % better.
            assert (1 - CONFIG.switch_margin) * f.backtest_mae[f.model] <= min(f.backtest_mae.values())
    payload = run.forecasts[0].payload()
    assert set(payload) == {"mean", "lo80", "hi80", "lo95", "hi95", "backtest"}


def test_learned_618_peak_is_applied_to_the_forecast() -> None:
    start = date(2024, 5, 1)
    n_days = (date(2025, 6, 10) - start).days + 1
    qty = np.vstack([np.full(n_days, 10.0), np.full(n_days, 5.0)])
    qty[0, (date(2024, 6, 18) - start).days] = 30.0  # last 618 sold ×3; the other SKU did not react
    panel = SalesPanel(["A", "B"], start, qty, np.zeros_like(qty, dtype=bool), np.zeros(2, np.int64))
    run = forecast_panel(panel, CONFIG)
    a, b = run.forecasts
    assert a.model == b.model == "SeasonalNaive"  # every candidate is exact on a flat history
    pool = (30 + 5) / (10 + 5)
    assert_allclose(a.mean[7], 10 * (30 + 30 * pool) / (10 + 30))  # 6/18 is day 8 of the horizon
    assert_allclose(b.mean[7], 5 * (5 + 30 * pool) / (5 + 30))
    assert_allclose(a.mean[:5], 10.0)


@pytest.mark.parametrize("year", [2031, 2045])
def test_last_spring_festivals_courier_stop_is_applied_to_the_next(year: int) -> None:
    # The hand table this replaced ended at 2030: 2031's 春节 was then forecast as ordinary days.
    last, this = spring_festival(year - 1), spring_festival(year)
    start = last - timedelta(days=60)
    n_days = (this - start).days - 3  # the history ends the day before this year's courier stop
    qty = np.vstack([np.full(n_days, 10.0), np.full(n_days, 5.0)])
    stop = (last - start).days
    qty[0, stop - 3 : stop + 7] = 2.0  # last year's stop (offsets -3 … 6): A sold a fifth, B as usual
    panel = SalesPanel(["A", "B"], start, qty, np.zeros_like(qty, dtype=bool), np.zeros(2, np.int64))
    run = forecast_panel(panel, CONFIG)
    assert run.start == this - timedelta(days=3)
    a, b = run.forecasts
    assert a.model == b.model == "SeasonalNaive"  # every candidate is exact on the flat last weeks
    pool = (10 * 2 + 10 * 5) / (10 * 10 + 10 * 5)
    # This year's ten stop days get last year's factor, then ordinary days again.
    assert_allclose(a.mean, [10 * (20 + 30 * pool) / (100 + 30)] * 10 + [10.0] * 4)
    assert_allclose(b.mean, [5 * (50 + 30 * pool) / (50 + 30)] * 10 + [5.0] * 4)


def test_pick_switches_only_on_clear_evidence() -> None:
    maes = {
        0: {"A": 1.0, "B": 1.2},
        1: {"A": 1.0, "B": 0.96},  # 4 % better: stays on the tier's default A
        2: {"A": 1.0, "B": 0.90},  # 10 % better: switches
    }
    # Totals: A 3.0, B 3.06 → A is the default.
    assert pick(maes, ["A", "B"], 0.05) == {0: "A", 1: "A", 2: "B"}
    assert pick(maes, ["A", "B"], 0.0) == {0: "A", 1: "B", 2: "B"}
    assert pick({}, ["A"], 0.05) == {}


def test_score_is_hand_computable() -> None:
    actual = np.array([[2.0, 0.0, 4.0], [1.0, 1.0, 1.0]])
    forecast = np.array([[1.0, 1.0, 4.0], [1.0, 1.0, 1.0]])
    observed = np.array([[True, True, True], [True, False, True]])
    scales = np.array([1.0, np.nan])
    overall, by_class = score(actual, forecast, observed, scales, [DemandClass.smooth, DemandClass.lumpy])
    # errors 1 + 1 + 0 over actual 2 + 0 + 4 + 1 + 1 = 8; MASE only for SKU 0: (2/3) / 1.
    assert_allclose([overall.wape, overall.mase], [2 / 8, 2 / 3])
    assert by_class["lumpy"].wape == 0.0
    assert np.isnan(by_class["lumpy"].mase)


def test_naive_scales_skip_stockouts() -> None:
    qty = np.array([[1.0, 2.0, 4.0, 8.0]])
    censored = np.array([[False, False, False, True]])
    panel = SalesPanel(["A"], date(2025, 1, 1), qty, censored, np.zeros(1, np.int64))
    assert_allclose(naive_scales(panel, 1), [(1 + 2) / 2])


def test_backtest_reports_every_method() -> None:
    panel = synthetic.generate(4, 150, end=date(2025, 3, 31), seed=2)
    report = run_backtest(panel, CONFIG, methods=("selection", "seasonal_naive"))
    assert set(report.results) == {"selection", "seasonal_naive"}
    assert report.n_skus == 4
    assert sum(report.class_counts.values()) == 4
    assert sum(report.models_chosen.values()) == 4
    for r in report.results.values():
        assert 0 <= r.overall.wape < 5
        assert r.seconds > 0
