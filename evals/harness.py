"""The eval harness: a registry of suites, a rich table, a JSON report and enforced thresholds.

A suite is a function `(EvalContext) -> SuiteResult` registered with `@suite(...)`. It runs
its labelled dataset through the real service code. `run_suite` prints the table, writes
`var/reports/eval-<suite>.json` and returns the threshold failures; the CLI exits non-zero
when there are any, which is how CI fails on a regression.
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from agents.runtime import Runtime

Op = Literal[">=", "<=", "==", ">", "<"]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Threshold:
    """A bar a metric must clear. `enforced=False` marks a target an issue sets that is not met
    yet: it is printed and reported as missed, but does not fail the run, so the gap stays
    visible without blocking every other change. Enforced floors guard against regressions."""

    metric: str
    op: Op
    value: float
    why: str = ""
    enforced: bool = True

    def check(self, metrics: dict[str, float]) -> str | None:
        if self.metric not in metrics:
            return f"{self.metric}: missing from the results"
        actual = metrics[self.metric]
        if not _OPS[self.op](actual, self.value):
            return f"{self.metric} = {actual:.4f}, required {self.op} {self.value}"
        return None


@dataclass
class SuiteResult:
    suite: str
    columns: list[str]
    rows: list[list[Any]]
    metrics: dict[str, float]
    thresholds: list[Threshold] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    title: str = ""

    def failures(self) -> list[str]:
        return [msg for t in self.thresholds if t.enforced and (msg := t.check(self.metrics)) is not None]

    def targets_missed(self) -> list[str]:
        return [msg for t in self.thresholds if not t.enforced and (msg := t.check(self.metrics)) is not None]


@dataclass
class EvalContext:
    runtime: Runtime
    quick: bool = False
    console: Console = field(default_factory=Console)


SuiteFn = Callable[[EvalContext], SuiteResult]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    run: SuiteFn


REGISTRY: dict[str, Suite] = {}


def suite(name: str, description: str) -> Callable[[SuiteFn], SuiteFn]:
    def decorate(fn: SuiteFn) -> SuiteFn:
        REGISTRY[name] = Suite(name, description, fn)
        return fn

    return decorate


def render(result: SuiteResult, console: Console) -> None:
    table = Table(*result.columns, title=result.title or f"eval: {result.suite}")
    for row in result.rows:
        table.add_row(*[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row])
    console.print(table)
    for t in result.thresholds:
        msg = t.check(result.metrics)
        if msg is None:
            mark = "[green]PASS[/green]"
        else:
            mark = "[red]FAIL[/red]" if t.enforced else "[yellow]MISS (target, not enforced)[/yellow]"
        value = result.metrics.get(t.metric, float("nan"))
        console.print(f"  {mark} {t.metric} = {value:.4f} (need {t.op} {t.value}) {t.why}")


def write_report(result: SuiteResult, reports_dir: Path, elapsed_s: float) -> Path:
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"eval-{result.suite}.json"
    payload = {
        "suite": result.suite,
        "at": datetime.now(UTC).isoformat(),
        "elapsed_s": round(elapsed_s, 3),
        "metrics": result.metrics,
        "thresholds": [asdict(t) for t in result.thresholds],
        "failures": result.failures(),
        "targets_missed": result.targets_missed(),
        "columns": result.columns,
        "rows": result.rows,
        "details": result.details,
    }
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def run_suite(name: str, ctx: EvalContext) -> SuiteResult:
    load_suites()
    if name not in REGISTRY:
        raise KeyError(f"unknown eval suite {name!r}; known: {', '.join(sorted(REGISTRY))}")
    started = time.perf_counter()
    result = REGISTRY[name].run(ctx)
    elapsed = time.perf_counter() - started
    render(result, ctx.console)
    path = write_report(result, ctx.runtime.settings.reports_dir, elapsed)
    ctx.console.print(f"  report: {path}  ({elapsed:.1f}s)")
    return result


def load_suites() -> None:
    """Import the suite modules so their `@suite` decorators register them."""
    import evals.suites  # noqa: F401  # registration side effect
