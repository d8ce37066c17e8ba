"""The benchmark harness. Speed is reported as ratios against a baseline measured in the same
process and run, never as absolute thresholds in tests (machines differ; ratios travel).

A benchmark is `(BenchContext) -> BenchResult` registered with `@bench(...)`.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.runtime import Runtime


@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def time_calls(fn: Callable[[], object], n: int, warmup: int = 3) -> Timing:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return Timing(samples)


def measure_peak_python_mb(fn: Callable[[], object]) -> tuple[object, float]:
    """Run `fn` and return (result, peak Python-heap MB); numpy buffers are traced too."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / 1e6


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class BenchResult:
    name: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)


@dataclass
class BenchContext:
    runtime: Runtime
    quick: bool = False
    console: Console = field(default_factory=Console)


BenchFn = Callable[[BenchContext], BenchResult]
REGISTRY: dict[str, tuple[str, BenchFn]] = {}


def bench(name: str, description: str) -> Callable[[BenchFn], BenchFn]:
    def decorate(fn: BenchFn) -> BenchFn:
        REGISTRY[name] = (description, fn)
        return fn

    return decorate


def run_bench(name: str, ctx: BenchContext) -> BenchResult:
    import evals.benches  # noqa: F401  # registration side effect

    if name not in REGISTRY:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(REGISTRY))}")
    result = REGISTRY[name][1](ctx)
    table = Table(*result.columns, title=f"bench: {result.name}")
    for row in result.rows:
        table.add_row(*[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row])
    ctx.console.print(table)
    for note in result.notes:
        ctx.console.print(f"  {note}")
    reports = ctx.runtime.settings.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / f"bench-{result.name}.json"
    path.write_text(
        json.dumps(
            {
                "bench": result.name,
                "at": datetime.now(UTC).isoformat(),
                "columns": result.columns,
                "rows": result.rows,
                "figures": result.figures,
                "notes": result.notes,
            },
            ensure_ascii=False,
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    ctx.console.print(f"  report: {path}")
    return result
