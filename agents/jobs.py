"""Jobs: how long work runs in a Celery worker, with progress, and never loses a failure.

A job kind is a plain function `body(ctx) -> result dict`, declared with `@job_kind("name")`.
That also declares the Celery task `siyu.job.<name>`, which takes only IDs and loads its state
inside. The same body runs inline through `run_job` (tests, the CLI), so a job is testable
without a broker.

    submit_job(runtime, enqueue, shop_id=..., kind="eval", params={...})
        1. commits a `queued` row            (the job exists before any worker can see it)
        2. enqueue(kind, job_id, shop_id)    (after the commit, never inside the transaction)
    worker: siyu.job.<kind>(job_id, shop_id) → run_job → queued → running → succeeded | failed

Agents never import `api`: the caller passes `enqueue`, and the worker installs the process
runtime with `install_runtime` from `worker_process_init`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery import shared_task

from agents.runtime import Runtime
from store.db import session_scope
from store.errors import NotFound, SiyuError
from store.models import Job, JobStatus
from store.repositories.jobs import TERMINAL, JobRepository
from store.settings import load_settings

log = logging.getLogger("siyu.jobs")

TASK_PREFIX = "siyu.job."


class QueueUnavailable(SiyuError):
    """The job row was written but the broker refused the message; the job is marked failed."""

    code = "queue_unavailable"
    status = 503
    default_detail = "任务队列暂时不可用，请检查 Celery broker (SIYU_CELERY_BROKER_URL) 后重试"


class JobReporter:
    """`report(progress, message)`: progress in [0, 1], a short Chinese message for the merchant.

    Each call is its own short transaction, so the API sees progress while the body still runs.
    """

    def __init__(self, runtime: Runtime, shop_id: int, job_id: str) -> None:
        self._runtime, self.shop_id, self.job_id = runtime, shop_id, job_id

    def __call__(self, progress: float, message: str = "") -> None:
        with session_scope(self._runtime.sessions) as session:
            JobRepository(session).set_progress(self.shop_id, self.job_id, progress, message)


@dataclass(frozen=True)
class JobContext:
    runtime: Runtime
    shop_id: int
    job_id: str
    kind: str
    params: dict[str, Any]
    report: JobReporter


JobBody = Callable[[JobContext], dict[str, Any]]
Enqueue = Callable[[str, str, int], None]
"""`enqueue(kind, job_id, shop_id)`: hands the job to a worker. Called only after the commit."""


@dataclass
class _Kinds:
    bodies: dict[str, JobBody] = field(default_factory=dict)
    # Kinds this process submits but whose body only a worker imports (see `remote_job_kind`).
    remote: set[str] = field(default_factory=set)


KINDS = _Kinds()


def task_name(kind: str) -> str:
    return TASK_PREFIX + kind


def job_kind(kind: str) -> Callable[[JobBody], JobBody]:
    """Declare a job kind and its Celery task `siyu.job.<kind>(job_id, shop_id)`."""

    def decorate(body: JobBody) -> JobBody:
        KINDS.bodies[kind] = body

        @shared_task(name=task_name(kind), ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
        def _task(job_id: str, shop_id: int) -> None:
            run_job(task_runtime(), job_id, shop_id)

        return body

    return decorate


def remote_job_kind(kind: str) -> str:
    """Declare a kind this process may submit without holding its body: the worker registers
    it (the eval job, whose body is in `evals`, which the API process never imports)."""
    KINDS.remote.add(kind)
    return kind


@dataclass(frozen=True)
class JobView:
    """A detached snapshot of a job row, safe to use after its session closed."""

    job_id: str
    shop_id: int
    kind: str
    status: JobStatus
    progress: float
    message: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            job_id=job.id,
            shop_id=job.shop_id,
            kind=job.kind,
            status=job.status,
            progress=job.progress,
            message=job.message,
            params=dict(job.params or {}),
            result=job.result,
            error=job.error,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )


def read_job(runtime: Runtime, shop_id: int, job_id: str) -> JobView:
    """The job as the shop sees it; another shop's job is `NotFound`."""
    with session_scope(runtime.sessions) as session:
        return JobView.of(JobRepository(session).get(shop_id, job_id))


def submit_job(
    runtime: Runtime,
    enqueue: Enqueue,
    *,
    shop_id: int,
    kind: str,
    params: dict[str, Any] | None = None,
    message: str = "排队中",
) -> JobView:
    """Commit a queued job, then hand it to a worker. A refused enqueue marks the job failed."""
    if kind not in KINDS.bodies and kind not in KINDS.remote:
        known = ", ".join(sorted(KINDS.bodies.keys() | KINDS.remote))
        raise ValueError(f"unknown job kind {kind!r}; known: {known}")
    with session_scope(runtime.sessions) as session:
        job = JobRepository(session).create(shop_id, kind, params, message=message)
        job.celery_id = job.id  # the Celery task id is the job id: one id to grep in both places
        view = JobView.of(job)
    try:
        enqueue(kind, view.job_id, shop_id)
    except Exception as exc:
        log.exception("jobs.enqueue_failed", extra={"job_id": view.job_id, "kind": kind})
        with session_scope(runtime.sessions) as session:
            JobRepository(session).fail(shop_id, view.job_id, f"enqueue: {type(exc).__name__}: {exc}")
        raise QueueUnavailable() from exc
    log.info("jobs.queued", extra={"job_id": view.job_id, "kind": kind, "shop_id": shop_id})
    return view


def run_job(runtime: Runtime, job_id: str, shop_id: int) -> JobStatus | None:
    """Run one job's body with its status transitions. Returns the final status, or None when
    there was nothing to do (unknown job, or one that already ended)."""
    try:
        with session_scope(runtime.sessions) as session:
            repo = JobRepository(session)
            job = repo.get(shop_id, job_id)
            kind, params = job.kind, dict(job.params or {})
            started = repo.start(shop_id, job_id, message="运行中")
    except NotFound:
        log.warning("jobs.missing", extra={"job_id": job_id, "shop_id": shop_id})
        return None
    if not started:
        log.info("jobs.already_finished", extra={"job_id": job_id, "shop_id": shop_id})
        return None
    log.info("jobs.started", extra={"job_id": job_id, "kind": kind, "shop_id": shop_id})
    try:
        body = KINDS.bodies.get(kind)
        if body is None:
            raise LookupError(f"no body registered for job kind {kind!r} in this worker")
        ctx = JobContext(runtime, shop_id, job_id, kind, params, JobReporter(runtime, shop_id, job_id))
        result = body(ctx)
        # Inside the try: a result that cannot be stored is a failure to record, not to lose.
        with session_scope(runtime.sessions) as session:
            JobRepository(session).succeed(shop_id, job_id, result, message="已完成")
    except Exception as exc:
        error = f"{exc.code}: {exc.detail}" if isinstance(exc, SiyuError) else f"{type(exc).__name__}: {exc}"
        log.exception("jobs.failed", extra={"job_id": job_id, "kind": kind, "shop_id": shop_id})
        # A fresh transaction: the body's own session may be the thing that broke.
        with session_scope(runtime.sessions) as session:
            JobRepository(session).fail(shop_id, job_id, error)
        return JobStatus.failed
    log.info("jobs.succeeded", extra={"job_id": job_id, "kind": kind, "shop_id": shop_id})
    return JobStatus.succeeded


# The worker process's runtime. Installed by `worker_process_init` (each prefork child) or
# by a test; built on first use otherwise, never in a parent process before it forks.
_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def install_runtime(runtime: Runtime | None) -> Runtime | None:
    """Set the runtime tasks use in this process; returns the previous one (tests restore it)."""
    global _runtime
    with _runtime_lock:
        previous, _runtime = _runtime, runtime
    return previous


def _already_running(_kind: str, _job_id: str, _shop_id: int) -> None:
    """Enqueue nothing: a nightly task runs its jobs inline, in the worker that already holds it."""


def run_nightly(runtime: Runtime, kind: str, shop_ids: Iterable[int]) -> None:
    """Run one `kind` job per shop inline, each recorded as a job row (visible in `GET /v1/jobs`)."""
    for shop_id in shop_ids:
        job = submit_job(runtime, _already_running, shop_id=shop_id, kind=kind, params={"trigger": "nightly"})
        status = run_job(runtime, job.job_id, shop_id)
        log.info(
            "jobs.nightly.ran",
            extra={"kind": kind, "shop_id": shop_id, "job_id": job.job_id, "status": str(status)},
        )


def task_runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime.from_settings(load_settings())
        return _runtime


@dataclass(frozen=True)
class Periodic:
    """A beat entry: run `task` every day at hour:minute (Asia/Shanghai), e.g. nightly forecasts,
    or, with `every_s`, every that many seconds (a sweeper)."""

    name: str
    task: str
    hour: int = 0
    minute: int = 0
    args: tuple[Any, ...] = ()
    every_s: float | None = None


PERIODIC: dict[str, Periodic] = {}


def periodic(entry: Periodic) -> Periodic:
    """Register a daily (or interval) task for `siyu worker --beat`. Later issues call this at import."""
    if entry.every_s is not None and entry.every_s <= 0:
        raise ValueError(f"bad interval {entry.every_s} s for periodic task {entry.name!r}")
    if not (0 <= entry.hour < 24 and 0 <= entry.minute < 60):
        raise ValueError(f"bad time {entry.hour:02d}:{entry.minute:02d} for periodic task {entry.name!r}")
    PERIODIC[entry.name] = entry
    return entry
