"""Job rows and their transitions on the real database, without a broker: `run_job` is what
the Celery task calls, so running it inline is the worker minus the queue."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from agents.jobs import KINDS, JobContext, QueueUnavailable, job_kind, read_job, run_job, submit_job
from agents.runtime import Runtime
from api.routers.jobs import EVAL_JOB_KIND
from store.errors import InvalidInput, NotFound
from store.models import JobStatus
from store.repositories.jobs import JobRepository
from tests.conftest import ShopKeys

pytestmark = pytest.mark.integration

runs: list[str] = []


@job_kind("test_count")
def _count(ctx: JobContext) -> dict[str, Any]:
    runs.append(ctx.job_id)
    ctx.report(0.5, "计数中")
    return {"n": len(runs)}


@job_kind("test_unstorable")
def _unstorable(ctx: JobContext) -> dict[str, Any]:
    return {"when": object()}


@job_kind("test_bad_input")
def _bad_input(ctx: JobContext) -> dict[str, Any]:
    raise InvalidInput("价格必须是数字", file="products.csv", line=3, field="price")


def test_jobs_are_scoped_to_their_shop(session: Session, shop_a: ShopKeys, shop_b: ShopKeys) -> None:
    repo = JobRepository(session)
    job = repo.create(shop_a.shop_id, "test_count", {"x": 1})
    assert repo.get(shop_a.shop_id, job.id).params == {"x": 1}
    with pytest.raises(NotFound):
        repo.get(shop_b.shop_id, job.id)
    with pytest.raises(NotFound):
        repo.set_progress(shop_b.shop_id, job.id, 0.5, "不是你的")
    with pytest.raises(NotFound):
        repo.fail(shop_b.shop_id, job.id, "不是你的")
    assert [j.id for j in repo.list_for_shop(shop_a.shop_id)] == [job.id]
    assert repo.list_for_shop(shop_b.shop_id) == []
    session.refresh(job)
    assert (job.status, job.progress, job.error) == (JobStatus.queued, 0.0, None)
    assert repo.set_progress(shop_a.shop_id, job.id, 1.7, "x" * 300)
    session.refresh(job)
    assert (job.progress, len(job.message)) == (1.0, 255)


def test_run_job_moves_queued_to_succeeded_and_never_reruns(runtime: Runtime, shop_a: ShopKeys) -> None:
    runs.clear()
    queued: list[tuple[str, str, int]] = []
    job = submit_job(
        runtime, lambda *a: queued.append(a), shop_id=shop_a.shop_id, kind="test_count", params={}
    )
    assert queued == [("test_count", job.job_id, shop_a.shop_id)]
    assert run_job(runtime, job.job_id, shop_a.shop_id) is JobStatus.succeeded
    done = read_job(runtime, shop_a.shop_id, job.job_id)
    assert (done.status, done.progress, done.result) == (JobStatus.succeeded, 1.0, {"n": 1})
    # A redelivered message for a finished job does nothing.
    assert run_job(runtime, job.job_id, shop_a.shop_id) is None
    assert runs == [job.job_id]


def test_a_domain_error_is_recorded_with_its_code(runtime: Runtime, shop_a: ShopKeys) -> None:
    job = submit_job(runtime, lambda *a: None, shop_id=shop_a.shop_id, kind="test_bad_input")
    assert run_job(runtime, job.job_id, shop_a.shop_id) is JobStatus.failed
    failed = read_job(runtime, shop_a.shop_id, job.job_id)
    assert failed.error == "invalid_input: 文件 'products.csv', 第 3 行, 字段 'price': 价格必须是数字"
    assert failed.message == "任务失败"


def test_a_job_for_another_shop_or_unknown_id_is_not_run(
    runtime: Runtime, shop_a: ShopKeys, shop_b: ShopKeys
) -> None:
    runs.clear()
    job = submit_job(runtime, lambda *a: None, shop_id=shop_a.shop_id, kind="test_count")
    assert run_job(runtime, job.job_id, shop_b.shop_id) is None
    assert run_job(runtime, "00000000-0000-0000-0000-000000000000", shop_a.shop_id) is None
    assert runs == []
    assert read_job(runtime, shop_a.shop_id, job.job_id).status is JobStatus.queued


def test_a_refused_enqueue_fails_the_job_instead_of_losing_it(runtime: Runtime, shop_a: ShopKeys) -> None:
    def broker_down(kind: str, job_id: str, shop_id: int) -> None:
        raise ConnectionRefusedError("redis://127.0.0.1:6379 refused")

    with pytest.raises(QueueUnavailable):
        submit_job(runtime, broker_down, shop_id=shop_a.shop_id, kind="test_count")
    with runtime.sessions() as s:
        (job,) = JobRepository(s).list_for_shop(shop_a.shop_id)
        assert job.status is JobStatus.failed
        assert job.error == "enqueue: ConnectionRefusedError: redis://127.0.0.1:6379 refused"


def test_unknown_kinds_are_refused_before_anything_is_written_naming_the_known_ones(
    runtime: Runtime, shop_a: ShopKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the eval body in this process: a remote kind is still known.
    monkeypatch.delitem(KINDS.bodies, EVAL_JOB_KIND, raising=False)
    queued: list[tuple[str, str, int]] = []
    with pytest.raises(ValueError) as refused:
        submit_job(
            runtime, lambda *a: queued.append(a), shop_id=shop_a.shop_id, kind="evals", params={"suite": "kb"}
        )
    head, _, names = str(refused.value).partition("; known: ")
    assert head == "unknown job kind 'evals'"
    known = names.split(", ")
    assert known == sorted(known) and {"eval", "test_count"} <= set(known)
    assert queued == []
    with runtime.sessions() as s:
        assert JobRepository(s).list_for_shop(shop_a.shop_id) == []


def test_a_result_that_cannot_be_stored_fails_the_job(runtime: Runtime, shop_a: ShopKeys) -> None:
    job = submit_job(runtime, lambda *a: None, shop_id=shop_a.shop_id, kind="test_unstorable")
    assert run_job(runtime, job.job_id, shop_a.shop_id) is JobStatus.failed
    failed = read_job(runtime, shop_a.shop_id, job.job_id)
    assert (failed.status, failed.result) == (JobStatus.failed, None)
    assert failed.error is not None and "is not JSON serializable" in failed.error


def test_the_api_queues_an_eval_job_by_name_without_its_body(
    runtime: Runtime, shop_a: ShopKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API declares `eval` with `remote_job_kind` and never imports its body (`evals.tasks`,
    imported here only if another test of this process did): the row keeps the suite arguments,
    the worker gets ids only, and a process without the body that runs it records why."""
    monkeypatch.delitem(KINDS.bodies, EVAL_JOB_KIND, raising=False)
    assert EVAL_JOB_KIND == "eval" and EVAL_JOB_KIND in KINDS.remote
    queued: list[tuple[str, str, int]] = []
    job = submit_job(
        runtime,
        lambda *a: queued.append(a),
        shop_id=shop_a.shop_id,
        kind=EVAL_JOB_KIND,
        params={"suite": "kb", "quick": True},
    )
    assert queued == [("eval", job.job_id, shop_a.shop_id)]
    stored = read_job(runtime, shop_a.shop_id, job.job_id)
    assert (stored.status, stored.kind, stored.params) == (
        JobStatus.queued,
        "eval",
        {"suite": "kb", "quick": True},
    )
    assert (stored.result, stored.error) == (None, None)

    assert run_job(runtime, job.job_id, shop_a.shop_id) is JobStatus.failed
    failed = read_job(runtime, shop_a.shop_id, job.job_id)
    assert failed.error == "LookupError: no body registered for job kind 'eval' in this worker"
