"""Shared pieces of the e2e API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from fastapi.testclient import TestClient

from agents.jobs import Enqueue, run_job
from agents.runtime import Runtime
from api.app import create_app
from api.routers.jobs import get_enqueue


class ViaTestClient(httpx2.BaseTransport):
    """An httpx2 transport into the app through Starlette's TestClient, so code that takes an
    `httpx2.Client` (the demo tour) runs in-process; TestClient itself is built on httpx."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        r = self.client.request(
            request.method,
            request.url.raw_path.decode(),
            headers=dict(request.headers),
            content=request.read(),
        )
        return httpx2.Response(r.status_code, headers=dict(r.headers), content=r.content)


@contextmanager
def inline_jobs_client(runtime: Runtime) -> Iterator[TestClient]:
    """The app with jobs run in the request instead of a Celery worker: a 202 job is done on return."""

    def enqueue(kind: str, job_id: str, shop_id: int) -> None:
        run_job(runtime, job_id, shop_id)

    def inline() -> Enqueue:
        return enqueue

    app = create_app(runtime=runtime)
    app.dependency_overrides[get_enqueue] = inline
    with TestClient(app) as client:
        yield client
