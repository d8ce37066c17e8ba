"""The Celery app: `siyu worker [--beat]`, or `celery -A api.worker worker`.

- Embedded default: kombu's SQLAlchemy transport on `var/celery-broker.db` and a `db+sqlite`
  result backend, so one machine needs nothing beyond pip. `SIYU_CELERY_BROKER_URL=redis://...`
  moves the queue to Redis (the result backend follows it unless set on its own).
- Job state lives in our `jobs` table (see `agents.jobs`); the result backend only holds
  Celery's own bookkeeping.
- One `Runtime` per worker process, built in `worker_process_init`: a prefork child must never
  inherit a torch model or a database connection from its parent.
- Task modules: `agents.jobs`, this module, and every `agents.<name>.tasks` that exists.
- Beat: `agents.jobs.periodic(...)` entries become `beat_schedule` (Asia/Shanghai times, or an
  interval in seconds, e.g. the webhook sweeper).

The module attribute `app` is built on first access from `load_settings()`, so importing
this module reads no environment.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import logging
import pkgutil
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab
from rich.console import Console

import agents
from agents.jobs import PERIODIC, Enqueue, JobContext, install_runtime, job_kind, task_name
from agents.runtime import Runtime
from evals import harness
from store.settings import Settings, load_settings

log = logging.getLogger("siyu.worker")

BEAT_TIMEZONE = "Asia/Shanghai"
CORE_TASK_MODULES = ("agents.jobs", "api.worker")
REPORT_MAX = 20_000

app: Celery  # built on first access by `__getattr__` below


def task_modules() -> list[str]:
    """`agents.jobs`, this module, and every `agents.<package>.tasks` module that exists."""
    found = list(CORE_TASK_MODULES)
    for info in pkgutil.iter_modules(agents.__path__):
        if info.ispkg and importlib.util.find_spec(f"agents.{info.name}.tasks") is not None:
            found.append(f"agents.{info.name}.tasks")
    return found


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        entry.name: {
            "task": entry.task,
            "schedule": (
                crontab(hour=entry.hour, minute=entry.minute)
                if entry.every_s is None
                else timedelta(seconds=entry.every_s)
            ),
            "args": entry.args,
        }
        for entry in PERIODIC.values()
    }


def _sqlite_parent(url: str) -> None:
    # kombu and the db backend create their tables but not the folder the file lives in.
    if "sqlite:///" in url:
        path = url.split("sqlite:///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_celery(settings: Settings, *, import_tasks: bool = False) -> Celery:
    """A Celery app for these settings. `import_tasks=True` (workers, beat) imports the task
    modules now, so `beat_schedule` includes what they register; the API only sends by name."""
    broker = settings.resolved_broker_url
    backend = settings.celery_result_backend or (
        broker if broker.startswith(("redis://", "rediss://")) else settings.resolved_result_backend
    )
    for url in (broker, backend):
        _sqlite_parent(url)
    modules = task_modules()
    app = Celery("siyu", broker=broker, backend=backend, include=modules, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # A job row is the source of truth; a lost worker's message is redelivered, and
        # `JobRepository.start` refuses to rerun a job that already ended.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        result_expires=7 * 24 * 3600,
        timezone=BEAT_TIMEZONE,
        enable_utc=True,
        worker_hijack_root_logger=False,
        beat_schedule_filename=str(settings.var_dir / "celerybeat-schedule"),
    )
    if broker.startswith(("redis://", "rediss://")):
        # Redis redelivers an unacked message after this; it must outlast the longest job.
        app.conf.broker_transport_options = {"visibility_timeout": 6 * 3600}
    app.siyu_settings = settings
    if import_tasks:
        for module in modules:
            importlib.import_module(module)
        app.conf.beat_schedule = beat_schedule()
    return app


def enqueuer(celery_app: Celery) -> Enqueue:
    """`enqueue(kind, job_id, shop_id)` over this app; the Celery task id is the job id."""

    def enqueue(kind: str, job_id: str, shop_id: int) -> None:
        celery_app.send_task(task_name(kind), args=[job_id, shop_id], task_id=job_id)

    return enqueue


def runtime_enqueuer(runtime: Runtime) -> Enqueue:
    """The API's enqueue: one Celery app (and its broker pool) per runtime, built on first use."""
    return enqueuer(runtime.once("celery", lambda: make_celery(runtime.settings)))


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]  # celery is untyped
def _build_process_runtime(**_kwargs: Any) -> None:
    from celery import current_app

    settings: Settings = getattr(current_app, "siyu_settings", None) or load_settings()
    install_runtime(Runtime.from_settings(settings))
    log.info("worker.process_ready", extra={"database": settings.resolved_database_url.split(":", 1)[0]})


@signals.worker_process_shutdown.connect  # type: ignore[untyped-decorator]  # celery is untyped
def _close_process_runtime(**_kwargs: Any) -> None:
    runtime = install_runtime(None)
    if runtime is not None:
        runtime.close()


@job_kind("eval")
def run_eval_suite(ctx: JobContext) -> dict[str, Any]:
    """The eval harness as a job: params {"suite": name, "quick": bool}. Lives here, not in
    agents, because evals sit above agents (they drive the agents' services)."""
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


def __getattr__(name: str) -> Celery:
    # `celery -A api.worker` looks up `app`; build it on first access, not at import.
    if name in ("app", "celery"):
        global app
        app = make_celery(load_settings(), import_tasks=True)
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
