"""Jobs through a REAL Celery worker: the embedded sqla+sqlite broker always, Redis when
`SIYU_CELERY_BROKER_URL=redis://...` is set. We wait on the job row, never on a timer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

import evals.tasks  # noqa: F401  # registers the eval job body with the in-process worker
from agents.jobs import JobContext, JobView, install_runtime, job_kind, read_job, submit_job
from agents.runtime import Runtime
from api.celery_app import enqueuer, make_celery
from evals import harness
from store.models import JobStatus
from tests.conftest import ShopKeys

pytestmark = pytest.mark.integration

WAIT_S = 60.0
REDIS_URL = os.environ.get("SIYU_CELERY_BROKER_URL", "")

_release = threading.Event()


@job_kind("test_halfway")
def _halfway(ctx: JobContext) -> dict[str, Any]:
    ctx.report(0.5, "处理了一半")
    if not _release.wait(WAIT_S):  # the test lets go once it has SEEN the halfway progress
        raise TimeoutError("the test never released the job")
    return {"echo": ctx.params["text"], "shop_id": ctx.shop_id}


@job_kind("test_boom")
def _boom(ctx: JobContext) -> dict[str, Any]:
    ctx.report(0.3, "快好了")
    raise RuntimeError("库存表第 3 行格式不对")


def wait_for_job(
    runtime: Runtime, shop_id: int, job_id: str, until: Callable[[JobView], bool], what: str
) -> JobView:
    deadline = time.monotonic() + WAIT_S
    while True:
        job = read_job(runtime, shop_id, job_id)
        if until(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never reached {what}; last seen {job}")
        time.sleep(0.05)


def _brokers() -> list[Any]:
    redis = pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            not REDIS_URL.startswith("redis://"),
            reason="set SIYU_CELERY_BROKER_URL=redis://... to test Redis",
        ),
    )
    return ["sqla", redis]


@pytest.fixture(params=_brokers())
def celery_app(request: pytest.FixtureRequest, runtime: Runtime, tmp_path: Path) -> Iterator[Celery]:
    if request.param == "sqla":
        settings = runtime.settings.model_copy(
            update={
                "celery_broker_url": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
                "celery_result_backend": f"db+sqlite:///{tmp_path / 'results.db'}",
            }
        )
    else:
        settings = runtime.settings.model_copy(
            update={"celery_broker_url": REDIS_URL, "celery_result_backend": None}
        )
    app = make_celery(settings)
    # A queue of its own, so parallel test runs sharing one Redis never take each other's jobs.
    app.conf.task_default_queue = f"siyu-test-{uuid.uuid4().hex[:12]}"
    previous = install_runtime(runtime)
    _release.clear()
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        _release.set()
        install_runtime(previous)


def test_progress_is_visible_while_the_job_runs_then_it_succeeds(
    celery_app: Celery, runtime: Runtime, shop_a: ShopKeys
) -> None:
    shop = shop_a
    job = submit_job(
        runtime, enqueuer(celery_app), shop_id=shop.shop_id, kind="test_halfway", params={"text": "你好"}
    )
    assert job.status is JobStatus.queued

    halfway = wait_for_job(runtime, shop.shop_id, job.job_id, lambda j: j.progress == 0.5, "progress 0.5")
    assert (halfway.status, halfway.message) == (JobStatus.running, "处理了一半")

    _release.set()
    done = wait_for_job(runtime, shop.shop_id, job.job_id, lambda j: j.finished, "an end")
    assert done.status is JobStatus.succeeded
    assert done.result == {"echo": "你好", "shop_id": shop.shop_id}
    assert (done.progress, done.message, done.error) == (1.0, "已完成", None)


def test_a_failing_job_is_recorded_with_its_error(
    celery_app: Celery, runtime: Runtime, shop_a: ShopKeys
) -> None:
    shop = shop_a
    job = submit_job(runtime, enqueuer(celery_app), shop_id=shop.shop_id, kind="test_boom")
    done = wait_for_job(runtime, shop.shop_id, job.job_id, lambda j: j.finished, "an end")
    assert done.status is JobStatus.failed
    assert done.error == "RuntimeError: 库存表第 3 行格式不对"
    assert (done.progress, done.message, done.result) == (0.3, "任务失败", None)


@pytest.fixture
def tiny_suite() -> Iterator[str]:
    """A suite that exists only inside this test: one metric passes, one fails its threshold."""
    name = f"test_tiny_{uuid.uuid4().hex[:6]}"

    def run(ctx: harness.EvalContext) -> harness.SuiteResult:
        return harness.SuiteResult(
            suite=name,
            columns=["case", "ok"],
            rows=[["退货怎么退", 1], ["发票", 0]],
            metrics={"recall_at_3": 0.5, "quick": 1.0 if ctx.quick else 0.0},
            thresholds=[
                harness.Threshold("recall_at_3", ">=", 0.9, "检索召回"),
                harness.Threshold("quick", "==", 1.0, "CI 子集"),
            ],
        )

    harness.suite(name, "tiny test suite")(run)
    yield name
    harness.REGISTRY.pop(name, None)


def test_an_eval_suite_runs_as_a_job_and_keeps_metrics_and_failures(
    celery_app: Celery, runtime: Runtime, shop_a: ShopKeys, tiny_suite: str
) -> None:
    shop = shop_a
    job = submit_job(
        runtime,
        enqueuer(celery_app),
        shop_id=shop.shop_id,
        kind="eval",
        params={"suite": tiny_suite, "quick": True},
    )
    done = wait_for_job(runtime, shop.shop_id, job.job_id, lambda j: j.finished, "an end")
    assert done.status is JobStatus.succeeded, done.error
    assert done.result is not None
    assert done.result["suite"] == tiny_suite
    assert done.result["metrics"] == {"recall_at_3": 0.5, "quick": 1.0}
    assert done.result["passed"] is False
    assert done.result["failures"] == ["recall_at_3 = 0.5000, required >= 0.9"]
    assert "退货怎么退" in done.result["report"]
    assert (runtime.settings.reports_dir / f"eval-{tiny_suite}.json").is_file()


def test_siyu_worker_cli_runs_jobs_in_a_prefork_child(
    runtime: Runtime, shop_a: ShopKeys, tmp_path: Path
) -> None:
    """The real `siyu worker` process: the runtime is built in `worker_process_init` from the
    environment, and an eval job for a suite the worker does not know fails, recorded."""
    broker = f"sqla+sqlite:///{tmp_path / 'cli-broker.db'}"
    env = {
        **os.environ,
        "SIYU_DATABASE_URL": runtime.engine.url.render_as_string(hide_password=False),
        "SIYU_CELERY_BROKER_URL": broker,
        "SIYU_CELERY_RESULT_BACKEND": f"db+sqlite:///{tmp_path / 'cli-results.db'}",
        "SIYU_VAR_DIR": str(tmp_path / "var"),
        "HF_HUB_OFFLINE": "1",
    }
    shop = shop_a
    sender = runtime.settings.model_copy(update={"celery_broker_url": broker})
    job = submit_job(
        runtime,
        enqueuer(make_celery(sender)),
        shop_id=shop.shop_id,
        kind="eval",
        params={"suite": "no_such_suite"},
    )
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from api.cli import main; main()",
            "worker",
            "--pool",
            "prefork",
            "-c",
            "1",
            "-l",
            "WARNING",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        done = wait_for_job(runtime, shop.shop_id, job.job_id, lambda j: j.finished, "an end")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert done.status is JobStatus.failed
    assert done.error is not None and "no_such_suite" in done.error
