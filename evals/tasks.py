"""The eval harness as a Celery job (`siyu.job.eval`), registered with the worker by name
(`api.celery_app.CORE_TASK_MODULES`). It lives here, not in agents or api: evals sit above
agents (they drive the agents' services), and the API only sends the job, never loads it.

Params: {"suite": name, "quick": bool}. An unknown suite fails the job, naming the known ones.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from typing import Any

from rich.console import Console

from agents.jobs import JobContext, job_kind
from evals import harness

EVAL_JOB_KIND = "eval"
REPORT_MAX = 20_000


@job_kind(EVAL_JOB_KIND)
def run_eval_suite(ctx: JobContext) -> dict[str, Any]:
    name = str(ctx.params["suite"])
    quick = bool(ctx.params.get("quick", False))
    ctx.report(0.05, f"正在运行评测集 {name}")
    console = Console(file=io.StringIO(), width=120, color_system=None)
    result = harness.run_suite(name, harness.EvalContext(runtime=ctx.runtime, quick=quick, console=console))
    failures = result.failures()
    return {
        "suite": name,
        "quick": quick,
        "passed": not failures,
        "metrics": {key: float(value) for key, value in result.metrics.items()},
        "failures": failures,
        "thresholds": [asdict(t) for t in result.thresholds],
        "report": console.file.getvalue()[:REPORT_MAX] if isinstance(console.file, io.StringIO) else "",
    }
