"""The one Celery app factory. The worker, the API (sending tasks), the CLI and the tests all
build their app with `make_celery(settings)`; nothing else calls `Celery(...)`.

- Embedded default: kombu's SQLAlchemy transport on `var/celery-broker.db` and a `db+sqlite`
  result backend, so one machine needs nothing beyond pip. `SIYU_CELERY_BROKER_URL=redis://...`
  moves the queue to Redis (the result backend follows it unless set on its own).
- Task modules are named, not imported: `agents.jobs`, every `agents.<name>.tasks` that exists,
  and `evals.tasks` (the eval job). Only a worker (`import_tasks=True`) imports them; the API
  sends tasks by name, so the running service never loads eval code.
- Beat: `agents.jobs.periodic(...)` entries become `beat_schedule` (Asia/Shanghai times, or an
  interval in seconds, e.g. the webhook sweeper).

It lives at the edge (`api`) because only the edge knows every layer's task modules; agents
declare their tasks with `shared_task` and never see an app.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.schedules import crontab

import agents
from agents.jobs import PERIODIC, Enqueue, task_name
from agents.runtime import Runtime
from store.settings import Settings

BEAT_TIMEZONE = "Asia/Shanghai"
# `evals.tasks` by name: evals sit above agents, and the API process must not import them.
CORE_TASK_MODULES = ("agents.jobs", "evals.tasks")


def task_modules() -> list[str]:
    """`agents.jobs`, `evals.tasks`, and every `agents.<package>.tasks` module that exists."""
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


def runtime_celery(runtime: Runtime) -> Celery:
    """The API's app: one per runtime (one broker pool), built on the first task it sends."""
    return runtime.once("celery", lambda: make_celery(runtime.settings))


def enqueuer(celery_app: Celery) -> Enqueue:
    """`enqueue(kind, job_id, shop_id)` over this app; the Celery task id is the job id."""

    def enqueue(kind: str, job_id: str, shop_id: int) -> None:
        celery_app.send_task(task_name(kind), args=[job_id, shop_id], task_id=job_id)

    return enqueue


def runtime_enqueuer(runtime: Runtime) -> Enqueue:
    """The API's enqueue, over `runtime_celery(runtime)`."""
    return enqueuer(runtime_celery(runtime))
