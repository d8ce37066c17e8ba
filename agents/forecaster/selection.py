"""Per-SKU model choice by rolling-origin backtest, then the final forecast with 80/95 intervals.

    panel ─ classify (ADI/CV²) ─ learn holiday uplift ─ adjust history (de-holiday, fill stockouts)
          ─ tier per SKU ─ one cross_validation call per tier (all its candidates, refit=False)
          ─ pick the lowest backtest MAE per SKU ─ one forecast call per chosen model
          ─ × future holiday factors ─ clip at 0

Every StatsForecast call batches all the SKUs it concerns; no per-SKU loops over models.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the lock
from statsforecast import StatsForecast

from agents.forecaster import holidays, models
from agents.forecaster.demand import DemandStats, demand_stats_panel
from agents.forecaster.errors import ForecastError
from agents.forecaster.models import Tier
from agents.forecaster.panel import FloatArray, SalesPanel
from agents.forecaster.schemas import DemandClass
from store.holidays import EVENT_KINDS

log = logging.getLogger("siyu.forecaster")

Progress = Callable[[str, float], None]
BANDS = ("lo-80", "hi-80", "lo-95", "hi-95")


@dataclass(frozen=True)
class SelectionConfig:
    horizon: int = 28
    season: int = 7
    n_windows: int = 3
    levels: tuple[int, ...] = (80, 95)
    n_jobs: int = 1
    # Below this many units a day, the ETS family costs more than its accuracy is worth.
    min_daily_for_full: float = 1.0
    learn_holidays: bool = True
    # A SKU leaves its tier's overall best model only if its own best backtests this much better.
    switch_margin: float = 0.05

    @property
    def min_backtest_days(self) -> int:
        return self.n_windows * self.horizon + 2 * self.season


@dataclass
class SkuForecast:
    sku: str
    demand_class: DemandClass
    tier: Tier
    model: str
    start: date
    mean: FloatArray
    bands: dict[str, FloatArray]
    backtest_mae: dict[str, float] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The shape stored in `Forecast.payload`, ready for a chart."""
        out: dict[str, Any] = {"mean": [round(float(v), 3) for v in self.mean]}
        for band, values in self.bands.items():
            out[band.replace("-", "")] = [round(float(v), 3) for v in values]
        out["backtest"] = {k: round(v, 4) for k, v in self.backtest_mae.items()}
        return out


@dataclass
class ForecastRun:
    start: date
    horizon: int
    forecasts: list[SkuForecast]
    stats: list[DemandStats]
    seconds: dict[str, float]

    def by_sku(self) -> dict[str, SkuForecast]:
        return {f.sku: f for f in self.forecasts}

    def mean_matrix(self) -> FloatArray:
        return np.vstack([f.mean for f in self.forecasts]) if self.forecasts else np.zeros((0, self.horizon))


def tier_of(stats: DemandStats, n_days: int, config: SelectionConfig) -> Tier:
    if stats.demand_class is DemandClass.inactive:
        return Tier.inactive
    if n_days < config.min_backtest_days:
        return Tier.short
    if (
        stats.demand_class in (DemandClass.smooth, DemandClass.erratic)
        and stats.mean_daily >= config.min_daily_for_full
    ):
        return Tier.full
    return Tier.cheap


def to_frame(values: FloatArray, first_day: np.ndarray, start: date, rows: Sequence[int]) -> pd.DataFrame:
    """Long (unique_id, ds, y) frame of the chosen rows; unique_id is the panel row number."""
    t = values.shape[1]
    ids, ds, ys = [], [], []
    dates = pd.date_range(start, periods=t, freq="D").values
    for r in rows:
        a = int(first_day[r])
        ids.append(np.full(t - a, r, dtype=np.int64))
        ds.append(dates[a:])
        ys.append(values[r, a:])
    return pd.DataFrame({"unique_id": np.concatenate(ids), "ds": np.concatenate(ds), "y": np.concatenate(ys)})


def forecast_panel(
    panel: SalesPanel,
    config: SelectionConfig | None = None,
    *,
    groups: Sequence[str] | None = None,
    declared: Sequence[holidays.DeclaredEvent] = (),
    progress: Progress | None = None,
) -> ForecastRun:
    """Forecast `config.horizon` days after the panel's last day for every SKU."""
    config = config or SelectionConfig()
    if not panel.skus:
        raise ForecastError("没有可预测的 SKU")
    report = progress or (lambda _stage, _fraction: None)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    stats = demand_stats_panel(panel.qty, panel.censored)
    if config.learn_holidays:
        uplift = holidays.learn_uplift(panel, groups)
    else:
        uplift = neutral_uplift(len(panel.skus))
    adjusted = holidays.adjust_history(panel, uplift)
    lengths = panel.n_days - panel.first_day
    tiers = [tier_of(s, int(n), config) for s, n in zip(stats, lengths, strict=True)]
    seconds["prepare"] = time.perf_counter() - t0
    report("prepare", 0.05)

    chosen: dict[int, str] = {}
    maes: dict[int, dict[str, float]] = {}
    backtest_tiers = [t for t in (Tier.cheap, Tier.full) if t in tiers]
    for step, tier in enumerate(backtest_tiers):
        rows = [i for i, t in enumerate(tiers) if t is tier]
        t1 = time.perf_counter()
        tier_maes = backtest_rows(adjusted, panel, rows, tier, config)
        seconds[f"backtest_{tier.value}"] = time.perf_counter() - t1
        order = models.candidate_names(tier, config.season)
        maes.update(tier_maes)
        chosen.update(pick(tier_maes, order, config.switch_margin))
        report(f"backtest_{tier.value}", 0.05 + 0.6 * (step + 1) / max(len(backtest_tiers), 1))
    for i, t in enumerate(tiers):
        if t is Tier.short:
            chosen[i] = "HistoricAverage"

    t2 = time.perf_counter()
    start = panel.end + timedelta(days=1)
    mean = np.zeros((len(panel.skus), config.horizon))
    bands = {b: np.zeros((len(panel.skus), config.horizon)) for b in _band_names(config)}
    needed: dict[str, set[int]] = {}
    for r, name in chosen.items():
        for member in models.members(name):
            needed.setdefault(member, set()).add(r)
    fitted: dict[str, dict[int, tuple[FloatArray, dict[str, FloatArray]]]] = {}
    for step, member in enumerate(sorted(needed)):
        fitted[member] = final_forecast(adjusted, panel, sorted(needed[member]), member, config)
        report(f"forecast_{member}", 0.65 + 0.35 * (step + 1) / len(needed))
    for r, name in chosen.items():
        parts = [fitted[member][r] for member in models.members(name)]
        mean[r] = np.mean([m for m, _ in parts], axis=0)
        for band in bands:
            bands[band][r] = np.mean([b[band] for _, b in parts], axis=0)
    factors = holidays.factor_matrix(uplift, panel.skus, start, config.horizon, declared)
    mean = np.maximum(mean * factors, 0.0)
    for band in bands:
        bands[band] = np.maximum(bands[band] * factors, 0.0)
    seconds["final"] = time.perf_counter() - t2
    seconds["total"] = time.perf_counter() - t0

    forecasts = [
        SkuForecast(
            sku=sku,
            demand_class=stats[i].demand_class,
            tier=tiers[i],
            model=chosen.get(i, "Zero"),
            start=start,
            mean=mean[i],
            bands={b: bands[b][i] for b in bands},
            backtest_mae=maes.get(i, {}),
        )
        for i, sku in enumerate(panel.skus)
    ]
    log.info(
        "forecaster.run.done",
        extra={"skus": len(panel.skus), "seconds": round(seconds["total"], 2), "models": _count(chosen)},
    )
    return ForecastRun(start=start, horizon=config.horizon, forecasts=forecasts, stats=stats, seconds=seconds)


def pick(maes: dict[int, dict[str, float]], order: list[str], margin: float) -> dict[int, str]:
    """Each SKU's model: the tier's best overall, unless the SKU's own best beats it by `margin`.

    Three windows of a slow SKU are a small sample; picking its raw minimum among six similar
    models mostly picks noise (the winner's curse). The tier-wide winner is the default and a SKU
    switches only on clear evidence.
    """
    if not maes:
        return {}
    totals = {name: sum(errs.get(name, np.inf) for errs in maes.values()) for name in order}
    default = min(order, key=lambda name: (totals[name], order.index(name)))
    out: dict[int, str] = {}
    for r, errs in maes.items():
        own = min(order, key=lambda name: (errs.get(name, np.inf), order.index(name)))
        base = errs.get(default, np.inf)
        out[r] = own if errs.get(own, np.inf) < (1.0 - margin) * base else default
    return out


def _band_names(config: SelectionConfig) -> list[str]:
    return [f"{side}-{level}" for level in config.levels for side in ("lo", "hi")]


def _count(chosen: dict[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in chosen.values():
        out[name] = out.get(name, 0) + 1
    return out


def neutral_uplift(n: int) -> holidays.Uplift:
    k = len(EVENT_KINDS)
    return holidays.Uplift(np.ones((n, k)), np.ones(k), np.zeros(k, dtype=np.int64))


def backtest_rows(
    adjusted: FloatArray, panel: SalesPanel, rows: list[int], tier: Tier, config: SelectionConfig
) -> dict[int, dict[str, float]]:
    """Rolling-origin backtest of the tier's candidates: MAE per SKU row and model over all windows."""
    if not rows:
        return {}
    df = to_frame(adjusted, panel.first_day, panel.start, rows)
    sf = StatsForecast(models=models.candidates(tier, config.season), freq="D", n_jobs=config.n_jobs)
    # Full tier: fit once at the first origin, then only roll the state forward (≈ one fit in cost).
    # The Croston family has no `forward`, but refitting it is nearly free.
    cv = sf.cross_validation(
        h=config.horizon,
        df=df,
        n_windows=config.n_windows,
        step_size=config.horizon,
        refit=tier is not Tier.full,
    )
    for combo in models.COMBOS_OF_TIER.get(tier.value, ()):
        cv[combo] = cv[list(models.members(combo))].mean(axis=1)
    aliases = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")]
    errors = cv[aliases].sub(cv["y"], axis=0).abs()
    errors["unique_id"] = cv["unique_id"].to_numpy()
    mae = errors.groupby("unique_id").mean()
    out: dict[int, dict[str, float]] = {}
    for uid, row in mae.iterrows():
        out[int(uid)] = {name: float(v) if np.isfinite(v) else float("inf") for name, v in row.items()}
    return out


def final_forecast(
    adjusted: FloatArray, panel: SalesPanel, rows: list[int], name: str, config: SelectionConfig
) -> dict[int, tuple[FloatArray, dict[str, FloatArray]]]:
    """Fit `name` on all its SKUs in one call; mean and bands per row."""
    df = to_frame(adjusted, panel.first_day, panel.start, rows)
    model = models.build(name, config.season, horizon=config.horizon)
    sf = StatsForecast(models=[model], freq="D", n_jobs=config.n_jobs)
    fc = sf.forecast(h=config.horizon, df=df, level=list(config.levels))
    out: dict[int, tuple[FloatArray, dict[str, FloatArray]]] = {}
    for uid, part in fc.groupby("unique_id", sort=False):
        m = part[name].to_numpy(dtype=np.float64)
        bands = {b: part[f"{name}-{b}"].to_numpy(dtype=np.float64) for b in _band_names(config)}
        out[int(uid)] = (m, bands)
    return out
