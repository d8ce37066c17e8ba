"""Hold out the last `horizon` days of every SKU and score three methods on the same data:
our per-SKU selection, seasonal naive, and AutoETS alone. WAPE and MASE overall and per demand
class, with wall time and peak memory for each.

WAPE = Σ|y − ŷ| / Σy over all SKUs and held-out days; MASE = the mean over SKUs of the held-out MAE
divided by the in-sample MAE of the seasonal naive forecast. Stockout days are not scored (their
demand is unknown). Baselines see the same stockout-filled history as the selection, so the
comparison measures model choice and holiday effects, not data cleaning.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from statsforecast import StatsForecast
from statsforecast.models import SeasonalNaive

from agents.forecaster import holidays, models
from agents.forecaster.demand import demand_stats_panel
from agents.forecaster.errors import ForecastError
from agents.forecaster.panel import BoolArray, FloatArray, SalesPanel
from agents.forecaster.schemas import DemandClass
from agents.forecaster.selection import (
    Progress,
    SelectionConfig,
    forecast_panel,
    neutral_uplift,
    to_frame,
)

T = TypeVar("T")
METHODS = ("selection", "seasonal_naive", "auto_ets")


@dataclass(frozen=True)
class Score:
    wape: float
    mase: float
    n_skus: int


@dataclass
class MethodResult:
    method: str
    overall: Score
    by_class: dict[str, Score]
    seconds: float
    peak_mb: float


@dataclass
class BacktestReport:
    horizon: int
    season: int
    n_skus: int
    n_days: int
    results: dict[str, MethodResult]
    models_chosen: dict[str, int] = field(default_factory=dict)
    class_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "horizon": self.horizon,
            "season": self.season,
            "n_skus": self.n_skus,
            "n_days": self.n_days,
            "class_counts": self.class_counts,
            "models_chosen": self.models_chosen,
            "methods": {
                name: {
                    "wape": r.overall.wape,
                    "mase": r.overall.mase,
                    "seconds": round(r.seconds, 3),
                    "peak_mb": round(r.peak_mb, 1),
                    "by_class": {
                        c: {"wape": s.wape, "mase": s.mase, "n_skus": s.n_skus} for c, s in r.by_class.items()
                    },
                }
                for name, r in self.results.items()
            },
        }


class PeakRss:
    """Peak resident memory above the starting point, sampled from /proc every 20 ms."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.start_mb = self.peak_mb = _rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, _rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())

    @property
    def delta_mb(self) -> float:
        return self.peak_mb - self.start_mb


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(fn: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, peak RSS growth in MB)."""
    with PeakRss() as mem:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    return result, seconds, mem.delta_mb


def baseline_forecast(train: SalesPanel, model: object, horizon: int, n_jobs: int = 1) -> FloatArray:
    """One model on every SKU (stockouts filled, no holiday handling), clipped at 0."""
    adjusted = holidays.adjust_history(train, neutral_uplift(len(train.skus)))
    df = to_frame(adjusted, train.first_day, train.start, list(range(len(train.skus))))
    season = getattr(model, "season_length", 1)
    sf = StatsForecast(
        models=[model], freq="D", n_jobs=n_jobs, fallback_model=SeasonalNaive(season_length=int(season))
    )
    fc = sf.forecast(h=horizon, df=df)
    alias = str(model)
    out = np.zeros((len(train.skus), horizon))
    for uid, part in fc.groupby("unique_id", sort=False):
        out[int(uid)] = part[alias].to_numpy(dtype=np.float64)
    return np.maximum(out, 0.0)


def score(
    actual: FloatArray,
    forecast: FloatArray,
    observed: BoolArray,
    scales: FloatArray,
    classes: list[DemandClass],
) -> tuple[Score, dict[str, Score]]:
    err = np.where(observed, np.abs(actual - forecast), 0.0)
    y = np.where(observed, actual, 0.0)
    n_obs = observed.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mase = (err.sum(axis=1) / n_obs) / scales
    ok = np.isfinite(mase)

    def one(rows: np.ndarray) -> Score:
        total = y[rows].sum()
        wape = float(err[rows].sum() / total) if total > 0 else float("nan")
        m = mase[rows & ok]
        return Score(wape, float(m.mean()) if m.size else float("nan"), int(rows.sum()))

    everything = np.ones(len(classes), dtype=np.bool_)
    labels = np.array([c.value for c in classes])
    by_class = {c.value: one(labels == c.value) for c in DemandClass if (labels == c.value).any()}
    return one(everything), by_class


def naive_scales(train: SalesPanel, season: int) -> FloatArray:
    """In-sample MAE of the seasonal naive forecast per SKU (over in-stock days)."""
    valid = ~np.isnan(train.qty) & ~train.censored
    diff = np.abs(train.qty[:, season:] - train.qty[:, :-season])
    both = valid[:, season:] & valid[:, :-season]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(both, diff, 0.0).sum(axis=1) / both.sum(axis=1)
    return np.where(s > 0, s, np.nan)


def run_backtest(
    panel: SalesPanel,
    config: SelectionConfig | None = None,
    *,
    methods: tuple[str, ...] = METHODS,
    progress: Progress | None = None,
) -> BacktestReport:
    config = config or SelectionConfig()
    h = config.horizon
    if panel.n_days <= h + config.min_backtest_days:
        raise ForecastError(
            f"历史只有 {panel.n_days} 天，回测 {h} 天至少需要 {h + config.min_backtest_days + 1} 天"
        )
    train = panel.head(panel.n_days - h)
    test = panel.select(train.skus)
    actual = test.qty[:, -h:]
    observed = ~np.isnan(actual) & ~test.censored[:, -h:]
    classes = [s.demand_class for s in demand_stats_panel(train.qty, train.censored)]
    scales = naive_scales(train, config.season)
    report = progress or (lambda _s, _f: None)
    results: dict[str, MethodResult] = {}
    chosen: dict[str, int] = {}
    for method in methods:
        if method == "selection":

            def run() -> FloatArray:
                fr = forecast_panel(train, config, progress=lambda s, f: report(f"selection:{s}", f))
                for f in fr.forecasts:
                    chosen[f.model] = chosen.get(f.model, 0) + 1
                return fr.mean_matrix()

            fc, seconds, peak = measured(run)
        elif method == "seasonal_naive":
            fc, seconds, peak = measured(
                lambda: baseline_forecast(train, SeasonalNaive(season_length=config.season), h, config.n_jobs)
            )
        elif method == "auto_ets":
            fc, seconds, peak = measured(
                lambda: baseline_forecast(train, models.auto_ets_alone(config.season), h, config.n_jobs)
            )
        else:
            raise ValueError(f"unknown method {method!r}")
        overall, by_class = score(actual, fc, observed, scales, classes)
        results[method] = MethodResult(method, overall, by_class, seconds, peak)
        report(f"{method}:done", 1.0)
    counts: dict[str, int] = {}
    for c in classes:
        counts[c.value] = counts.get(c.value, 0) + 1
    return BacktestReport(h, config.season, len(train.skus), panel.n_days, results, chosen, counts)
