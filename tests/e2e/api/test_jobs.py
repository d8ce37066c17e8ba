"""The job API: read a job, follow it as SSE over a real HTTP server, start an eval as a job."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

import evals.tasks  # noqa: F401  # registers the eval job body that `_inline` runs
from agents.jobs import Enqueue, run_job
from agents.runtime import Runtime
from api.app import create_app
from api.routers.jobs import EVAL_SUITES, get_enqueue, get_eval_suites
from evals import harness
from store.models import Role
from store.repositories.jobs import JobRepository
from tests.conftest import ShopKeys

pytestmark = pytest.mark.e2e


def _inline(runtime: Runtime) -> Enqueue:
    """Run the job right away, in the request: the worker without the queue."""

    def enqueue(kind: str, job_id: str, shop_id: int) -> None:
        run_job(runtime, job_id, shop_id)

    return enqueue


@pytest.fixture
def app(runtime: Runtime, tiny_suite: str) -> FastAPI:
    app = create_app(runtime=runtime)
    app.dependency_overrides[get_enqueue] = lambda: _inline(runtime)
    app.dependency_overrides[get_eval_suites] = lambda: EVAL_SUITES | {tiny_suite}
    return app


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tiny_suite() -> Iterator[str]:
    name = f"test_tiny_{uuid.uuid4().hex[:6]}"

    def run(ctx: harness.EvalContext) -> harness.SuiteResult:
        return harness.SuiteResult(
            suite=name,
            columns=["metric", "value"],
            rows=[["hit_at_3", 0.8]],
            metrics={"hit_at_3": 0.8},
            thresholds=[harness.Threshold("hit_at_3", ">=", 0.6)],
        )

    harness.suite(name, "tiny test suite")(run)
    yield name
    harness.REGISTRY.pop(name, None)


def _make_job(runtime: Runtime, shop_id: int, kind: str = "eval") -> str:
    with runtime.sessions() as s:
        job_id = JobRepository(s).create(shop_id, kind, {"suite": "x"}).id
        s.commit()
    return job_id


def test_every_role_of_the_shop_reads_its_job_and_nobody_else_does(
    api: TestClient, runtime: Runtime, shop_a: ShopKeys, shop_b: ShopKeys
) -> None:
    job_id = _make_job(runtime, shop_a.shop_id)
    for role in (Role.owner, Role.agent, Role.service):
        r = api.get(f"/v1/jobs/{job_id}", headers=shop_a.headers(role))
        assert r.status_code == 200, role
        assert (r.json()["job_id"], r.json()["status"], r.json()["progress"]) == (job_id, "queued", 0.0)
    for role in (Role.owner, Role.agent, Role.service):
        r = api.get(f"/v1/jobs/{job_id}", headers=shop_b.headers(role))
        assert (r.status_code, r.json()["error"]) == (404, "not_found")
    assert api.get(f"/v1/jobs/{uuid.uuid4()}", headers=shop_a.headers()).status_code == 404
    assert api.get(f"/v1/jobs/{job_id}").status_code == 401
    assert [j["job_id"] for j in api.get("/v1/jobs", headers=shop_a.headers(Role.agent)).json()] == [job_id]
    assert api.get("/v1/jobs", headers=shop_b.headers()).json() == []


def test_an_owner_runs_an_eval_suite_as_a_job(api: TestClient, shop_a: ShopKeys, tiny_suite: str) -> None:
    r = api.post("/v1/evals", json={"suite": tiny_suite, "quick": True}, headers=shop_a.headers())
    assert r.status_code == 202
    accepted = r.json()
    assert accepted["events_url"] == f"/v1/jobs/{accepted['job_id']}/events"
    job = api.get(f"/v1/jobs/{accepted['job_id']}", headers=shop_a.headers()).json()
    assert (job["kind"], job["status"], job["params"]) == (
        "eval",
        "succeeded",
        {"suite": tiny_suite, "quick": True},
    )
    assert job["result"]["metrics"] == {"hit_at_3": 0.8}
    assert (job["result"]["passed"], job["result"]["failures"]) == (True, [])


def test_evals_are_for_owners_and_known_suites(api: TestClient, shop_a: ShopKeys, tiny_suite: str) -> None:
    r = api.post("/v1/evals", json={"suite": tiny_suite}, headers=shop_a.headers(Role.agent))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    r = api.post("/v1/evals", json={"suite": "no_such_suite"}, headers=shop_a.headers())
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    assert "no_such_suite" in r.json()["detail"] and tiny_suite in r.json()["detail"]
    assert api.get("/v1/jobs", headers=shop_a.headers()).json() == []


def test_a_broker_outage_answers_503_and_leaves_a_failed_job(
    app: FastAPI, api: TestClient, shop_a: ShopKeys, tiny_suite: str
) -> None:
    def down(kind: str, job_id: str, shop_id: int) -> None:
        raise ConnectionRefusedError("broker refused")

    app.dependency_overrides[get_enqueue] = lambda: down
    r = api.post("/v1/evals", json={"suite": tiny_suite}, headers=shop_a.headers())
    assert (r.status_code, r.json()["error"]) == (503, "queue_unavailable")
    (job,) = api.get("/v1/jobs", headers=shop_a.headers()).json()
    assert (job["status"], job["error"]) == ("failed", "enqueue: ConnectionRefusedError: broker refused")


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app on a real uvicorn server on 127.0.0.1, so SSE arrives event by event."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    event, data = "message", ""
    for line in lines:
        if line.startswith(":"):
            continue  # ping comment
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif not line and data:
            yield event, json.loads(data)
            event, data = "message", ""


def test_job_events_stream_each_change_then_done(
    runtime: Runtime, shop_a: ShopKeys, shop_b: ShopKeys
) -> None:
    shop, other = shop_a, shop_b
    job_id = _make_job(runtime, shop.shop_id)

    def step(write: Callable[[JobRepository], object]) -> None:
        with runtime.sessions() as s:
            write(JobRepository(s))
            s.commit()

    with serve(create_app(runtime=runtime)) as base, httpx2.Client(base_url=base, timeout=30) as http:
        assert http.get(f"/v1/jobs/{job_id}/events", headers=other.headers()).status_code == 404
        with http.stream("GET", f"/v1/jobs/{job_id}/events", headers=shop.headers(Role.agent)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(r.iter_lines())
            assert next(events) == (
                "progress",
                {"job_id": job_id, "status": "queued", "progress": 0.0, "message": ""},
            )
            step(lambda repo: repo.start(shop.shop_id, job_id, "运行中"))
            assert next(events)[1]["status"] == "running"
            step(lambda repo: repo.set_progress(shop.shop_id, job_id, 0.5, "已导入 50/100 条"))
            assert next(events)[1] == {
                "job_id": job_id,
                "status": "running",
                "progress": 0.5,
                "message": "已导入 50/100 条",
            }
            step(lambda repo: repo.succeed(shop.shop_id, job_id, {"imported": 100}, "已完成"))
            assert next(events)[1]["status"] == "succeeded"
            kind, done = next(events)
            assert (kind, done["status"], done["result"]) == ("done", "succeeded", {"imported": 100})
            assert list(events) == []
