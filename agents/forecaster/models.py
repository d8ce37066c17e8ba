"""The candidate models per tier, built fresh for every run (statsforecast models keep fitted state).

Cost drives the tiers (measured on this 2-core box, 200 series × 730 days, n_jobs=1):
AutoETS "ZZZ" ~0.21 s/series, AutoETS "ZNA" ~0.055, AutoTheta ~0.09, MSTL(ETS trend) ~0.05,
SeasonalNaive / Croston / ADIDA / IMAPA / TSB < 0.001. So the ETS family is only tried where the
class is smooth/erratic and the SKU sells enough for the difference to matter; intermittent,
lumpy and slow SKUs choose among the cheap models (Croston family + SES; seasonal naive is left
out there because on slow movers it only wins backtests by luck). AutoETS is restricted to an
additive weekly season without its own trend (4× cheaper than the full search); MSTL (ETS trend)
and Theta cover trend. Each tier also scores the mean of its models as one more candidate.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from statsforecast.models import (
    ADIDA,
    IMAPA,
    MSTL,
    TSB,
    AutoETS,
    AutoTheta,
    CrostonOptimized,
    HistoricAverage,
    SeasonalNaive,
    SimpleExponentialSmoothingOptimized,
)
from statsforecast.utils import ConformalIntervals


class Tier(StrEnum):
    full = "full"  # smooth/erratic with enough volume: the ETS family is worth its cost
    cheap = "cheap"  # intermittent, lumpy or slow: Croston family and SES
    short = "short"  # too little history for a backtest
    inactive = "inactive"  # no sales at all: forecast zero


# Models without native prediction intervals get conformal ones from their own backtest.
NO_NATIVE_INTERVALS = frozenset({"CrostonOptimized", "ADIDA", "IMAPA", "TSB", "SESOpt"})


# Pseudo-candidates scored in the same backtest: the mean of their members' forecasts (and bands).
# Averaging the Croston family is steadier on slow movers than betting on one of them.
COMBOS: dict[str, tuple[str, ...]] = {
    "IntermittentMean": ("CrostonOptimized", "ADIDA", "IMAPA", "TSB"),
    "StatsMean": ("AutoETS", "AutoTheta", "MSTL"),
}
COMBOS_OF_TIER: dict[str, tuple[str, ...]] = {"cheap": ("IntermittentMean",), "full": ("StatsMean",)}


def members(name: str) -> tuple[str, ...]:
    return COMBOS.get(name, (name,))


def candidate_names(tier: Tier, season: int) -> list[str]:
    return [str(m) for m in candidates(tier, season)] + list(COMBOS_OF_TIER.get(tier.value, ()))


def candidates(tier: Tier, season: int) -> list[Any]:
    if tier is Tier.full:
        return [
            SeasonalNaive(season_length=season),
            AutoETS(season_length=season, model="ZNA"),
            AutoTheta(season_length=season),
            MSTL(season_length=season, trend_forecaster=AutoETS(model="ZZN")),
        ]
    if tier is Tier.cheap:
        return [
            CrostonOptimized(),
            ADIDA(),
            IMAPA(),
            TSB(alpha_d=0.2, alpha_p=0.1),
            SimpleExponentialSmoothingOptimized(),
        ]
    if tier is Tier.short:
        return [HistoricAverage()]
    return []


def build(name: str, season: int, *, horizon: int, conformal_windows: int = 2) -> Any:
    """One candidate by alias, ready for the final fit (conformal intervals where it has none)."""
    intervals = (
        ConformalIntervals(n_windows=conformal_windows, h=horizon) if name in NO_NATIVE_INTERVALS else None
    )
    for tier in (Tier.full, Tier.cheap, Tier.short):
        for model in candidates(tier, season):
            if str(model) == name:
                if intervals is not None:
                    model.prediction_intervals = intervals
                return model
    raise KeyError(f"unknown model {name!r}")


def auto_ets_alone(season: int) -> Any:
    """The reference the issue measures against: the full AutoETS search on every series."""
    return AutoETS(season_length=season)
