"""`siyu worker [--beat]`: one Celery worker on the configured broker."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from api.celery_app import make_celery
from api.cli.common import console, handle_errors, settings


class Pool(StrEnum):
    prefork = "prefork"
    threads = "threads"
    solo = "solo"


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


@handle_errors
def worker(
    beat: Annotated[
        bool, typer.Option("--beat", help="also run the scheduler (only ONE per deployment)")
    ] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64, help="processes")] = 1,
    pool: Annotated[Pool, typer.Option("--pool", help="prefork | threads | solo")] = Pool.prefork,
    queues: Annotated[str | None, typer.Option("--queues", "-Q", help="comma-separated queues")] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
) -> None:
    """Run one Celery worker (ingestion, copy calendars, forecasts, evals) until Ctrl-C."""
    cfg = settings()
    celery_app = make_celery(cfg, import_tasks=True)
    console.print(
        f"siyu worker: broker={_redact(celery_app.conf.broker_url)} pool={pool.value} "
        f"concurrency={concurrency} beat={'on' if beat else 'off'}",
        highlight=False,
    )
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", f"--pool={pool.value}"]
    if beat:
        argv.append("--beat")
    if queues:
        argv.append(f"--queues={queues}")
    celery_app.worker_main(argv)


def _redact(url: str) -> str:
    """Hide a password in a broker URL before printing it."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"
