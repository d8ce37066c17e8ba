"""Celery jobs of the recommender: the model refresh, and its nightly schedule.

- `rec_refresh` (task `siyu.job.rec_refresh`): refit one shop's model from its catalog and
  orders, save the artifact every API process picks up, and report progress on the job row.
- `siyu.rec.nightly_refresh` (beat, 03:30 Asia/Shanghai): one `rec_refresh` job per shop whose
  `settings["rec"]["nightly_refresh"]` is not false, run inline in the worker and visible in
  `GET /v1/jobs`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery import shared_task

from agents.jobs import JobContext, Periodic, job_kind, periodic, run_nightly, task_runtime
from agents.recommender import service

REFRESH_KIND = "rec_refresh"
NIGHTLY_TASK = "siyu.rec.nightly_refresh"


@job_kind(REFRESH_KIND)
def refresh_job(ctx: JobContext) -> dict[str, Any]:
    ctx.report(0.05, "正在读取商品与订单")
    built = service.refresh(
        ctx.runtime, ctx.shop_id, now=datetime.now(UTC), version=ctx.job_id, report=ctx.report
    )
    return {"version": built.version, "built_at": built.built_at.isoformat(), **built.stats}


@shared_task(name=NIGHTLY_TASK, ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def nightly_refresh() -> None:
    runtime = task_runtime()
    run_nightly(runtime, REFRESH_KIND, service.nightly_shop_ids(runtime))


periodic(Periodic(name="rec-nightly-refresh", task=NIGHTLY_TASK, hour=3, minute=30))
