"""Bench `forecast`: the whole per-SKU selection (backtests included) against AutoETS alone.

Synthetic SKUs × 730 days with mixed patterns (smooth/erratic/intermittent/lumpy, weekly
season, 春节/618/双11, stockouts). For each size, in the same process: our pipeline
(classify → holiday uplift → tiered rolling-origin backtest → final forecast with 80/95 bands)
and the baseline, AutoETS (full ZZZ search, season 7) on every SKU with the same bands.
Goal: ratio ≤ 2.5 and time growing linearly with SKUs (compare the "sel CPU s/1k SKUs" column).
Sizes: 1k, 5k, 10k (quick: 200, 500); `SIYU_BENCH_FORECAST_SIZES=1000,5000` picks others.
Above `ETS_SAMPLE` SKUs (default 1,000; `SIYU_BENCH_FORECAST_ETS_SAMPLE`, 0 = never sample) the
baseline runs on a seeded random sample of that many SKUs of the same panel and is scaled by
n / sample: AutoETS fits each series on its own, so its cost is a sum over SKUs, and the full run
(≈ 5 min per 1k SKUs on two busy cores) would make the 10k row cost most of an hour. The table
says which rows were sampled; our pipeline always runs on every SKU.
The first StatsForecast call is timed apart (import + first fit: the warm-up a worker pays once).
Beside wall time, each step's CPU time (this process, all its threads) is reported: on a shared
two-core machine wall time swings with whatever else runs, while CPU seconds barely move, so the
CPU columns are the ones that settle how cost grows with SKUs.
"""

from __future__ import annotations

import os
import time

import numpy as np
from statsforecast import StatsForecast

from agents.forecaster import holidays, models, synthetic
from agents.forecaster.backtest import measured
from agents.forecaster.panel import SalesPanel
from agents.forecaster.selection import SelectionConfig, forecast_panel, neutral_uplift, to_frame
from evals.bench import BenchContext, BenchResult, bench

N_DAYS = 730
GOAL_RATIO = 2.5


def _sizes(quick: bool) -> list[int]:
    override = os.environ.get("SIYU_BENCH_FORECAST_SIZES", "").strip()
    if override:
        return [int(s) for s in override.split(",") if s.strip()]
    return [200, 500] if quick else [1000, 5000, 10000]


def _ets_sample() -> int:
    raw = os.environ.get("SIYU_BENCH_FORECAST_ETS_SAMPLE", "").strip()
    return int(raw) if raw else 1000


def _baseline_rows(n: int, sample: int, seed: int) -> list[int]:
    """All rows, or a seeded random sample of `sample` rows when the panel is bigger."""
    if sample <= 0 or n <= sample:
        return list(range(n))
    return sorted(int(r) for r in np.random.default_rng(seed).choice(n, size=sample, replace=False))


def _auto_ets_alone(panel: SalesPanel, config: SelectionConfig, rows: list[int]) -> None:
    adjusted = holidays.adjust_history(panel, neutral_uplift(len(panel.skus)))
    df = to_frame(adjusted, panel.first_day, panel.start, rows)
    sf = StatsForecast(models=[models.auto_ets_alone(config.season)], freq="D", n_jobs=config.n_jobs)
    sf.forecast(h=config.horizon, df=df, level=list(config.levels))


@bench("forecast", "per-SKU model selection incl. backtests vs AutoETS alone, 730 days, growing SKUs")
def forecast_bench(ctx: BenchContext) -> BenchResult:
    config = SelectionConfig()
    t0 = time.perf_counter()
    forecast_panel(synthetic.generate(4, 120, seed=1), SelectionConfig(horizon=14, n_windows=2))
    warmup = time.perf_counter() - t0
    rows: list[list[object]] = []
    figures: dict[str, float] = {"warmup_s": warmup}
    for n in _sizes(ctx.quick):
        panel = synthetic.generate(n, N_DAYS, seed=n)
        ctx.console.print(f"  forecast bench: {n} SKUs …")
        cpu0 = time.process_time()
        run, sel_s, sel_mb = measured(lambda p=panel: forecast_panel(p, config))  # type: ignore[misc]
        sel_cpu = time.process_time() - cpu0
        base_rows = _baseline_rows(n, _ets_sample(), seed=n)
        cpu0 = time.process_time()
        _, ets_measured_s, ets_mb = measured(
            lambda p=panel, r=base_rows: _auto_ets_alone(p, config, r)  # type: ignore[misc]
        )
        scale = n / len(base_rows)
        ets_s = ets_measured_s * scale
        ets_cpu = (time.process_time() - cpu0) * scale
        full = sum(1 for f in run.forecasts if f.tier is models.Tier.full)
        ratio = sel_s / ets_s
        rows.append(
            [
                n,
                full,
                sel_s,
                ets_s,
                len(base_rows),
                ratio,
                sel_cpu,
                ets_cpu,
                sel_cpu / ets_cpu,
                sel_cpu / n * 1000,
                ets_cpu / n * 1000,
                sel_mb,
                ets_mb,
            ]
        )
        sampled = len(base_rows) < n
        on = f"{len(base_rows)} sampled SKUs, scaled ×{n / len(base_rows):g}" if sampled else "all SKUs"
        ctx.console.print(
            f"  {n} SKUs: selection {sel_s:.1f}s ({sel_mb:.0f} MB), "
            f"AutoETS {ets_s:.1f}s ({on}, {ets_mb:.0f} MB), ratio {ratio:.2f}×, ETS-tier SKUs {full}; "
            f"CPU {sel_cpu:.1f}s vs {ets_cpu:.1f}s ({sel_cpu / ets_cpu:.2f}×)"
        )
        figures[f"ratio_{n}"] = ratio
        figures[f"selection_s_{n}"] = sel_s
        figures[f"auto_ets_s_{n}"] = ets_s
        figures[f"selection_cpu_s_{n}"] = sel_cpu
        figures[f"cpu_ratio_{n}"] = sel_cpu / ets_cpu
    notes = [
        f"warm-up (first call, tiny panel): {warmup:.1f}s; "
        "statsforecast 2.x has no numba JIT, so this is only the first fit",
        f"goal: selection / AutoETS ≤ {GOAL_RATIO}; "
        + ", ".join(f"{r[0]} SKUs → {float(r[5]):.2f}×" for r in rows),  # type: ignore[arg-type]
        "AutoETS s: measured on the 'ETS on SKUs' rows; where fewer than all, scaled by SKUs / sample",
        "CPU s: process CPU time of the step (all threads); growth with SKUs: compare 'sel CPU s/1k SKUs'",
        "peak MB = growth of resident memory during the step (sampled every 20 ms)",
    ]
    return BenchResult(
        name="forecast",
        columns=[
            "SKUs",
            "ETS-tier SKUs",
            "selection s",
            "AutoETS s",
            "ETS on SKUs",
            "ratio",
            "sel CPU s",
            "ETS CPU s",
            "CPU ratio",
            "sel CPU s/1k SKUs",
            "ETS CPU s/1k SKUs",
            "sel peak MB",
            "ETS peak MB",
        ],
        rows=rows,
        notes=notes,
        figures=figures,
    )
