"""Jobs over HTTP: read a job, follow its progress as SSE, and start an eval run as a job.

Routers that start long work take `EnqueueDep` and call `agents.jobs.submit_job`, then
answer 202 with `JobAccepted`. Tests override `get_enqueue` to run jobs inline or record them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, status
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from agents.jobs import Enqueue, JobView, QueueUnavailable, read_job, remote_job_kind, submit_job
from agents.runtime import Runtime
from api.celery_app import runtime_enqueuer
from api.deps import OwnerDep, RuntimeDep, SessionDep, StaffOrChannelDep
from api.errors import error_responses
from api.schemas.jobs import EvalRun, JobAccepted, JobPublic
from store.errors import Forbidden, NotFound, Unauthenticated
from store.repositories.jobs import JobRepository

router = APIRouter(prefix="/v1", tags=["jobs"])
AUTH_ERRORS = (Unauthenticated, Forbidden)
EVENTS_POLL_S = 0.5
EVENTS_PING_S = 15


def get_enqueue(runtime: RuntimeDep) -> Enqueue:
    return runtime_enqueuer(runtime)


EnqueueDep = Annotated[Enqueue, Depends(get_enqueue)]

# The eval job runs in a worker (`evals.tasks`); the API sends it by name and never imports
# eval code, so the suites it offers are listed here. A unit test keeps this list equal to the
# harness's registry.
EVAL_JOB_KIND = remote_job_kind("eval")
EVAL_SUITES = frozenset({"copy", "cs", "embedder", "forecast", "kb", "rec"})


def get_eval_suites() -> frozenset[str]:
    """The suites `POST /v1/evals` accepts; tests override it to add a suite of their own."""
    return EVAL_SUITES


EvalSuitesDep = Annotated[frozenset[str], Depends(get_eval_suites)]


@router.get("/jobs", response_model=list[JobPublic], responses=error_responses(*AUTH_ERRORS))
def list_jobs(
    caller: StaffOrChannelDep,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[JobPublic]:
    """The shop's most recent jobs, newest first."""
    jobs = JobRepository(session).list_for_shop(caller.shop_id, kind=kind, limit=limit)
    return [JobPublic.model_validate(JobView.of(job)) for job in jobs]


@router.get("/jobs/{job_id}", response_model=JobPublic, responses=error_responses(*AUTH_ERRORS, NotFound))
def get_job(job_id: str, caller: StaffOrChannelDep, session: SessionDep) -> JobPublic:
    return JobPublic.model_validate(JobView.of(JobRepository(session).get(caller.shop_id, job_id)))


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`progress` events, then one `done`."},
        **error_responses(*AUTH_ERRORS, NotFound),
    },
)
def job_events(
    job_id: str, caller: StaffOrChannelDep, runtime: RuntimeDep, session: SessionDep
) -> EventSourceResponse:
    """Progress as SSE: `event: progress` on every change, then `event: done` with the whole job."""
    JobRepository(session).get(caller.shop_id, job_id)  # 404 before the stream starts
    # The request's session (the key lookup) would otherwise hold a pooled connection for the
    # whole stream; each poll below takes its own short one.
    session.close()
    return EventSourceResponse(_job_stream(runtime, caller.shop_id, job_id), ping=EVENTS_PING_S)


async def _job_stream(runtime: Runtime, shop_id: int, job_id: str) -> AsyncIterator[ServerSentEvent]:
    last: tuple[str, float, str] | None = None
    while True:
        job = await anyio.to_thread.run_sync(read_job, runtime, shop_id, job_id)
        seen = (job.status.value, job.progress, job.message)
        if seen != last:
            last = seen
            payload = {"job_id": job.job_id, "status": seen[0], "progress": seen[1], "message": seen[2]}
            yield ServerSentEvent(data=json.dumps(payload, ensure_ascii=False), event="progress")
        if job.finished:
            yield ServerSentEvent(data=JobPublic.model_validate(job).model_dump_json(), event="done")
            return
        await anyio.sleep(EVENTS_POLL_S)


@router.post(
    "/evals",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=error_responses(*AUTH_ERRORS, NotFound, QueueUnavailable),
)
def run_eval(
    body: EvalRun, caller: OwnerDep, runtime: RuntimeDep, enqueue: EnqueueDep, suites: EvalSuitesDep
) -> JobAccepted:
    """Run an eval suite as a job; its metrics and threshold failures land in the job result."""
    if body.suite not in suites:
        raise NotFound(f"评测集 {body.suite!r} 不存在，可选: {', '.join(sorted(suites))}")
    job = submit_job(
        runtime,
        enqueue,
        shop_id=caller.shop_id,
        kind=EVAL_JOB_KIND,
        params={"suite": body.suite, "quick": body.quick},
    )
    return JobAccepted.of(job)
