"""The worker process: `siyu worker [--beat]`, or `celery -A api.worker worker`.

- The app comes from the one factory, `api.celery_app.make_celery`, with the task modules
  imported (`agents.jobs`, every `agents.<name>.tasks`, `evals.tasks`).
- Job state lives in our `jobs` table (see `agents.jobs`); the result backend only holds
  Celery's own bookkeeping.
- One `Runtime` per worker process, built in `worker_process_init`: a prefork child must never
  inherit a torch model or a database connection from its parent.

The module attribute `app` is built on first access from `load_settings()`, so importing
this module reads no environment.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals

from agents.jobs import install_runtime
from agents.runtime import Runtime
from api.celery_app import make_celery
from store.settings import Settings, load_settings

log = logging.getLogger("siyu.worker")

app: Celery  # built on first access by `__getattr__` below


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


def __getattr__(name: str) -> Celery:
    # `celery -A api.worker` looks up `app`; build it on first access, not at import.
    if name in ("app", "celery"):
        global app
        app = make_celery(load_settings(), import_tasks=True)
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
