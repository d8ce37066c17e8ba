"""Handoff webhooks end to end: the owner sets URL + secret over HTTP, a customer's 转人工 and a
staff claim go through the real app, and deliveries reach REAL receivers on 127.0.0.1
(threaded `http.server`): one that checks the signature (through a real Celery worker), one that
answers 500 twice then 200, and one that is down. Retry delays come from settings (tens of ms)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient

from agents.customer_service import webhooks
from agents.customer_service.tasks import WEBHOOK_TASK
from agents.jobs import install_runtime
from agents.runtime import Runtime
from api.app import create_app
from api.celery_app import make_celery
from api.routers.conversations import get_now
from api.routers.webhooks import get_webhook_dispatch
from store.models import Role
from store.repositories.shops import ApiKeyRepository
from tests.demo_kb import DemoKB
from tests.integration.agents.test_cs_service import ON_SHIFT, demo_shop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "whsec_test_0123456789"
WAIT_S = 30.0


# ---- receivers -----------------------------------------------------------------------------


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 answering the scripted statuses (then 200), each after
    `delay_s` (so concurrent attempts would overlap)."""

    def __init__(self, statuses: list[int] | None = None, delay_s: float = 0.0) -> None:
        self.statuses: deque[int] = deque(statuses or [])
        self.delay_s = delay_s
        self.hits: list[Hit] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server calls it by this name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hits.append(Hit(dict(self.headers.items()), body, time.monotonic()))
                time.sleep(receiver.delay_s)
                code = receiver.statuses.popleft() if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/siyu"

    @property
    def deliveries(self) -> list[str]:
        """The X-Siyu-Delivery id of each POST received, in order."""
        return [v for hit in self.hits for k, v in hit.headers.items() if k.lower() == "x-siyu-delivery"]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def dead_url() -> str:
    """A port on 127.0.0.1 nobody listens on (bound, then closed): connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/siyu"


# ---- the app -------------------------------------------------------------------------------


@dataclass
class ThreadDispatch:
    """The worker minus the broker: each dispatch runs `run_delivery` on a timer thread after
    its countdown, exactly as the Celery task does. Records every (delivery, countdown)."""

    runtime: Runtime
    calls: list[tuple[int, float]] = field(default_factory=list)
    refuse: bool = False

    def __call__(self, shop_id: int, delivery_id: int, countdown_s: float) -> None:
        if self.refuse:
            raise ConnectionRefusedError("broker down")
        self.calls.append((delivery_id, countdown_s))
        timer = threading.Timer(
            countdown_s, webhooks.run_delivery, args=(self.runtime, shop_id, delivery_id, self)
        )
        timer.daemon = True
        timer.start()


@dataclass
class Shop:
    client: TestClient
    runtime: Runtime
    keys: dict[Role, str]
    dispatch: ThreadDispatch
    app: Any

    def h(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def set_webhook(self, url: str) -> dict[str, Any]:
        r = self.client.put(
            "/v1/shop/webhook", json={"url": url, "secret": SECRET}, headers=self.h(Role.owner)
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def webhook(self) -> dict[str, Any]:
        r = self.client.get("/v1/shop/webhook", headers=self.h(Role.owner))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def handoff(self, ref: str = "wx_hook") -> tuple[int, dict[str, Any]]:
        r = self.client.post("/v1/conversations", json={"customer_ref": ref}, headers=self.h(Role.service))
        conv = int(r.json()["id"])
        r = self.client.post(
            f"/v1/conversations/{conv}/messages",
            json={"text": "转人工！我手机13912345678"},
            headers=self.h(Role.service),
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        assert body["state"] == "waiting_human" and body["handoff"], body
        return conv, body

    def wait_deliveries(
        self, until: Callable[[list[dict[str, Any]]], bool], what: str
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_S
        while True:
            deliveries: list[dict[str, Any]] = self.webhook()["deliveries"]
            if until(deliveries):
                return deliveries
            if time.monotonic() > deadline:
                raise AssertionError(f"deliveries never reached {what}: {deliveries}")
            time.sleep(0.05)


@pytest.fixture
def shop(runtime: Runtime, demo_kb: DemoKB, tmp_path: Path) -> Iterator[Shop]:
    demo = demo_shop(runtime, demo_kb, tmp_path)
    runtime.settings = runtime.settings.model_copy(
        update={
            "webhook_timeout_s": 2.0,
            "webhook_max_attempts": 5,
            "webhook_backoff_base_s": 0.05,
            "webhook_backoff_cap_s": 0.2,
        }
    )
    with runtime.sessions() as s:
        keys = {
            r: ApiKeyRepository(s).issue(demo.shop_id, r).raw for r in (Role.owner, Role.agent, Role.service)
        }
        s.commit()
    dispatch = ThreadDispatch(runtime)
    app = create_app(runtime=runtime)
    app.dependency_overrides[get_now] = lambda: ON_SHIFT
    app.dependency_overrides[get_webhook_dispatch] = lambda: dispatch
    with TestClient(app) as client:
        yield Shop(client, runtime, keys, dispatch, app)


def verified(hit: Hit) -> dict[str, Any]:
    h = {k.lower(): v for k, v in hit.headers.items()}
    assert webhooks.verify(SECRET, h["x-siyu-timestamp"], hit.body, h["x-siyu-signature"], now=time.time()), h
    assert h["x-siyu-signature"].startswith("sha256=")
    payload: dict[str, Any] = json.loads(hit.body)
    assert h["x-siyu-event"] == payload["event"] and h["x-siyu-delivery"] == str(payload["delivery_id"])
    return payload


# ---- tests ---------------------------------------------------------------------------------


def test_owner_sets_the_webhook_and_never_reads_the_secret_back(shop: Shop) -> None:
    assert shop.webhook() == {**shop.webhook(), "url": None, "secret_set": False, "deliveries": []}
    staff = shop.client.put(
        "/v1/shop/webhook", json={"url": "http://127.0.0.1:9/x", "secret": SECRET}, headers=shop.h(Role.agent)
    )
    assert staff.status_code == 403
    bad = shop.client.put(
        "/v1/shop/webhook", json={"url": "ftp://example", "secret": SECRET}, headers=shop.h(Role.owner)
    )
    assert bad.status_code == 422
    short = shop.client.put(
        "/v1/shop/webhook",
        json={"url": "http://127.0.0.1:9/x", "secret": "short"},
        headers=shop.h(Role.owner),
    )
    assert short.status_code == 422
    set_ = shop.set_webhook("http://127.0.0.1:9/x")
    assert set_["url"] == "http://127.0.0.1:9/x" and set_["secret_set"] is True
    r = shop.client.get("/v1/shop/webhook", headers=shop.h(Role.owner))
    assert SECRET not in r.text and r.json()["secret_set"] is True
    assert shop.client.delete("/v1/shop/webhook", headers=shop.h(Role.owner)).status_code == 204
    assert shop.webhook()["url"] is None


def test_no_webhook_means_no_delivery(shop: Shop) -> None:
    shop.handoff()
    assert shop.dispatch.calls == [] and shop.webhook()["deliveries"] == []


def test_handoff_created_and_claimed_reach_a_receiver_through_a_celery_worker(
    shop: Shop, tmp_path: Path
) -> None:
    settings = shop.runtime.settings.model_copy(
        update={
            "celery_broker_url": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
            "celery_result_backend": f"db+sqlite:///{tmp_path / 'results.db'}",
        }
    )
    app = make_celery(settings)
    app.conf.task_default_queue = f"siyu-test-{uuid.uuid4().hex[:12]}"
    shop.app.dependency_overrides[get_webhook_dispatch] = lambda: (
        lambda shop_id, delivery_id, countdown: app.send_task(
            WEBHOOK_TASK, args=[shop_id, delivery_id], countdown=countdown or None
        )
    )
    previous = install_runtime(shop.runtime)
    try:
        with (
            Receiver([500]) as receiver,
            start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10),
        ):
            shop.set_webhook(receiver.url)
            conv, turn = shop.handoff()
            hid = turn["handoff"]["id"]
            claim = shop.client.post(f"/v1/handoffs/{hid}/claim", headers=shop.h(Role.agent))
            assert claim.status_code == 200, claim.text
            done = shop.wait_deliveries(
                lambda ds: len(ds) == 2 and all(d["status"] == "delivered" for d in ds), "2 delivered"
            )
    finally:
        install_runtime(previous)

    payloads = [verified(hit) for hit in receiver.hits]
    # The first POST to arrive got a 500 and was retried by the worker itself (a countdown, not a
    # sleep). Which event arrives first is up to the worker's two threads: either may be retried.
    assert len(receiver.hits) == 3
    created = [p for p in payloads if p["event"] == "handoff.created"]
    claimed = [p for p in payloads if p["event"] == "handoff.claimed"]
    assert sorted([len(created), len(claimed)]) == [1, 2]
    retried = created if len(created) == 2 else claimed
    assert retried[0] == retried[1]
    assert created[0]["handoff_id"] == claimed[0]["handoff_id"] == hid
    assert created[0]["conversation_id"] == conv and "customer_request" in created[0]["reasons"]
    assert created[0]["priority"] == turn["handoff"]["priority"] and created[0]["occurred_at"]
    assert created[0]["brief"]["request"] and "13912345678" not in json.dumps(created, ensure_ascii=False)
    assert claimed[0]["status"] == "claimed" and claimed[0]["claimed_by"].startswith("agent:")
    assert sorted(d["attempts"] for d in done) == [1, 2]


def test_a_receiver_failing_twice_is_retried_with_backoff(shop: Shop) -> None:
    with Receiver([500, 500]) as receiver:
        shop.set_webhook(receiver.url)
        shop.handoff()
        (done,) = shop.wait_deliveries(lambda ds: bool(ds) and ds[0]["status"] != "pending", "an end")
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 3, 200)
    assert done["event"] == "handoff.created" and done["delivered_at"]
    assert [c for _, c in shop.dispatch.calls] == [0.0, 0.05, 0.1]  # base, then doubled
    assert len(receiver.hits) == 3
    bodies = {hit.body for hit in receiver.hits}
    assert len(bodies) == 1  # every retry is the same event, same delivery id
    gaps = [b.at - a.at for a, b in zip(receiver.hits, receiver.hits[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1, gaps
    for hit in receiver.hits:
        verified(hit)


def test_a_dead_receiver_never_touches_the_chat_and_its_failure_is_recorded(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    shop.set_webhook(dead_url())
    with caplog.at_level(logging.WARNING, logger="siyu.cs.webhook"):
        conv, turn = shop.handoff()
        assert turn["reply"].startswith("已为您转接人工客服")
        (done,) = shop.wait_deliveries(lambda ds: bool(ds) and ds[0]["status"] == "failed", "failed")
    assert done["attempts"] == 5 and done["last_status_code"] is None
    assert "ConnectError" in done["last_error"]
    assert [c for _, c in shop.dispatch.calls] == [0.0, 0.05, 0.1, 0.2, 0.2]  # capped
    failures = [r for r in caplog.records if r.getMessage() == "cs.webhook.attempt_failed"]
    assert [getattr(r, "attempt", None) for r in failures] == [1, 2, 3, 4, 5]
    assert any(r.getMessage() == "cs.webhook.failed" and r.levelno == logging.ERROR for r in caplog.records)

    # The chat goes on as if nothing happened.
    again = shop.client.post(
        f"/v1/conversations/{conv}/messages", json={"text": "人呢"}, headers=shop.h(Role.service)
    )
    assert again.status_code == 200 and again.json()["reply"] is None
    t = shop.client.get(f"/v1/conversations/{conv}", headers=shop.h(Role.agent)).json()
    assert [(m["role"], m["text"]) for m in t["messages"] if m["role"] != "system"] == [
        ("customer", "转人工！我手机13912345678"),
        ("bot", turn["reply"]),
        ("customer", "人呢"),
    ]


def test_a_refused_queue_fails_the_delivery_not_the_turn(shop: Shop) -> None:
    shop.set_webhook("http://127.0.0.1:9/never")
    shop.dispatch.refuse = True
    _, turn = shop.handoff()
    assert turn["state"] == "waiting_human"
    (d,) = shop.webhook()["deliveries"]
    assert d["status"] == "failed" and d["attempts"] == 0
    assert d["last_error"] == "enqueue: ConnectionRefusedError: broker down"
