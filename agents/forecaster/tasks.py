"""Celery jobs of the forecaster: a forecast run, and its nightly schedule.

- `forecast_run` (task `siyu.job.forecast_run`): history → classify → select → forecast →
  Forecast + RestockSuggestion rows under `run_id` = the job id, with progress on the job row.
- `siyu.forecast.nightly_run` (beat, 02:30 Asia/Shanghai): one `forecast_run` job per shop whose
  `settings["forecast"]["nightly_run"]` is not false, run inline in the worker, visible in
  `GET /v1/jobs`.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from agents.forecaster import service
from agents.jobs import JobContext, Periodic, job_kind, periodic, run_nightly, task_runtime

RUN_KIND = "forecast_run"
NIGHTLY_TASK = "siyu.forecast.nightly_run"


@job_kind(RUN_KIND)
def forecast_job(ctx: JobContext) -> dict[str, Any]:
    ctx.report(0.02, "正在读取销售历史")
    horizon = ctx.params.get("horizon")
    return service.run_forecast(
        ctx.runtime,
        ctx.shop_id,
        run_id=ctx.job_id,
        horizon=int(horizon) if horizon is not None else None,
        report=ctx.report,
    )


@shared_task(name=NIGHTLY_TASK, ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def nightly_run() -> None:
    runtime = task_runtime()
    run_nightly(runtime, RUN_KIND, service.nightly_shop_ids(runtime))


periodic(Periodic(name="forecast-nightly-run", task=NIGHTLY_TASK, hour=2, minute=30))
