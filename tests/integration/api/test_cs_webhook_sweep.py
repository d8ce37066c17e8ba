"""The webhook sweeper on a real database (SQLite, or Postgres with SIYU_DATABASE_URL) with a real
receiver on 127.0.0.1: a delivery left `pending` by a crash between commit and enqueue is sent,
once; deliveries in flight or not yet due are left alone; duplicates never POST twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import update

from agents.customer_service import webhooks
from agents.customer_service.tasks import SWEEP_EVERY_S, SWEEP_TASK
from agents.jobs import install_runtime
from agents.runtime import Runtime
from api.celery_app import make_celery
from store.models import Customer, WebhookDelivery, WebhookDeliveryStatus
from store.repositories.conversations import ConversationRepository
from store.repositories.shops import ShopRepository
from store.repositories.webhooks import WebhookRepository
from tests.integration.api.test_cs_webhooks import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "whsec_sweep_0123456789"
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(delay_s=0.3) as r:
        yield r


def _shop(runtime: Runtime, url: str) -> tuple[int, int]:
    """A shop with a webhook and one handoff (the event the deliveries report)."""
    with runtime.sessions() as s:
        shop = ShopRepository(s).create("补发测试店")
        WebhookRepository(s).set_config(shop.id, url, SECRET)
        customer = Customer(shop_id=shop.id, customer_ref="wx_sweep")
        s.add(customer)
        s.flush()
        repo = ConversationRepository(s)
        item = repo.open_handoff(
            repo.create(shop.id, customer.id, "wechat"), ["customer_request"], 40, {}, NOW
        )
        s.commit()
        return shop.id, item.id


def _delivery(runtime: Runtime, shop_id: int, handoff_id: int, url: str, **row: Any) -> int:
    """A committed delivery row, as the turn leaves it, then aged/advanced by `row` (raw values)."""
    handoff = {"id": handoff_id, "conversation_id": 1, "status": "waiting", "priority": 40, "reasons": []}
    with runtime.sessions() as s:
        payload = webhooks.event_payload(webhooks.HANDOFF_CREATED, shop_id, handoff, NOW)
        delivery_id = (
            WebhookRepository(s).add_delivery(shop_id, webhooks.HANDOFF_CREATED, handoff_id, url, payload).id
        )
        if row:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**row))
        s.commit()
        return delivery_id


def _row(runtime: Runtime, shop_id: int, delivery_id: int) -> WebhookDelivery:
    with runtime.sessions() as s:
        return WebhookRepository(s).get_delivery(shop_id, delivery_id)


class Inline:
    """The worker without a broker: each dispatch runs the delivery task's body right away."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.calls: list[int] = []

    def __call__(self, shop_id: int, delivery_id: int, countdown_s: float) -> None:
        self.calls.append(delivery_id)
        webhooks.run_delivery(self.runtime, shop_id, delivery_id, self)


def test_only_a_delivery_lost_before_its_enqueue_is_swept_and_it_is_sent_once(
    runtime: Runtime, receiver: Receiver
) -> None:
    shop_id, handoff_id = _shop(runtime, receiver.url)
    now = datetime.now(UTC)
    ago = now - timedelta(minutes=3)
    lost = _delivery(runtime, shop_id, handoff_id, receiver.url, created_at=ago)
    # Written moments ago: its enqueue may still be on its way to the worker.
    fresh = _delivery(runtime, shop_id, handoff_id, receiver.url)
    # Failed once, retry due in 30 s: a worker has it scheduled.
    retrying = _delivery(
        runtime,
        shop_id,
        handoff_id,
        receiver.url,
        created_at=ago,
        attempts=1,
        next_attempt_at=now + timedelta(seconds=30),
    )
    # A worker holds it right now (its lease runs 35 s more).
    in_flight = _delivery(
        runtime,
        shop_id,
        handoff_id,
        receiver.url,
        created_at=ago,
        next_attempt_at=now + timedelta(seconds=35),
    )
    done = _delivery(
        runtime, shop_id, handoff_id, receiver.url, created_at=ago, status=WebhookDeliveryStatus.delivered
    )
    gave_up = _delivery(
        runtime, shop_id, handoff_id, receiver.url, created_at=ago, status=WebhookDeliveryStatus.failed
    )
    # A worker died mid-attempt 3 minutes ago: its lease ran out long since.
    orphaned = _delivery(
        runtime, shop_id, handoff_id, receiver.url, created_at=ago, attempts=1, next_attempt_at=ago
    )

    dispatch = Inline(runtime)
    assert webhooks.sweep(runtime, dispatch) == [lost, orphaned]
    assert dispatch.calls == [lost, orphaned]
    assert sorted(receiver.deliveries) == sorted([str(lost), str(orphaned)])
    assert _row(runtime, shop_id, lost).status is WebhookDeliveryStatus.delivered
    assert _row(runtime, shop_id, orphaned).attempts == 2
    for untouched in (fresh, retrying, in_flight):
        assert _row(runtime, shop_id, untouched).status is WebhookDeliveryStatus.pending
    assert (_row(runtime, shop_id, done).status, _row(runtime, shop_id, gave_up).status) == (
        WebhookDeliveryStatus.delivered,
        WebhookDeliveryStatus.failed,
    )
    # Nothing is stale any more: a second sweep sends nothing.
    assert webhooks.sweep(runtime, dispatch) == [] and len(receiver.deliveries) == 2


def test_concurrent_sweepers_re_enqueue_a_lost_delivery_once(runtime: Runtime, receiver: Receiver) -> None:
    shop_id, handoff_id = _shop(runtime, receiver.url)
    lost = _delivery(
        runtime, shop_id, handoff_id, receiver.url, created_at=datetime.now(UTC) - timedelta(minutes=3)
    )
    sweepers = 8
    start = threading.Barrier(sweepers)
    queued: list[int] = []

    def sweep(_: int) -> list[int]:
        start.wait()
        return webhooks.sweep(runtime, lambda _shop, delivery, _delay: queued.append(delivery))

    with ThreadPoolExecutor(max_workers=sweepers) as pool:
        results = list(pool.map(sweep, range(sweepers)))
    assert queued == [lost] and sorted(r for rs in results for r in rs) == [lost]
    # Re-enqueued now: the next sweep within the grace period leaves it to that message.
    assert webhooks.sweep(runtime, lambda *_: queued.append(-1)) == [] and queued == [lost]


def test_the_swept_message_and_a_slow_original_post_once(runtime: Runtime, receiver: Receiver) -> None:
    """The original enqueue was only slow, not lost: both messages reach workers at once, and the
    delivery's claim lets exactly one of them POST."""
    shop_id, handoff_id = _shop(runtime, receiver.url)
    lost = _delivery(
        runtime, shop_id, handoff_id, receiver.url, created_at=datetime.now(UTC) - timedelta(minutes=3)
    )
    queued: list[int] = []
    assert webhooks.sweep(runtime, lambda _shop, delivery, _delay: queued.append(delivery)) == [lost]
    messages = 4  # the original, the swept one, and two more redeliveries for good measure
    start = threading.Barrier(messages)

    def work(_: int) -> float | None:
        start.wait()
        return webhooks.attempt(runtime, shop_id, lost)

    with ThreadPoolExecutor(max_workers=messages) as pool:
        list(pool.map(work, range(messages)))
    assert receiver.deliveries == [str(lost)]
    row = _row(runtime, shop_id, lost)
    assert row.status is WebhookDeliveryStatus.delivered and row.attempts == 1


def test_an_attempt_before_its_retry_is_due_sends_nothing(runtime: Runtime, receiver: Receiver) -> None:
    shop_id, handoff_id = _shop(runtime, receiver.url)
    later = _delivery(
        runtime,
        shop_id,
        handoff_id,
        receiver.url,
        attempts=1,
        next_attempt_at=datetime.now(UTC) + timedelta(minutes=1),
    )
    assert webhooks.attempt(runtime, shop_id, later) is None
    assert receiver.deliveries == [] and _row(runtime, shop_id, later).attempts == 1


def test_beat_runs_the_sweeper_every_minute(runtime: Runtime) -> None:
    entry = make_celery(runtime.settings, import_tasks=True).conf.beat_schedule["cs-webhook-sweep"]
    assert entry["task"] == SWEEP_TASK and entry["schedule"] == timedelta(seconds=SWEEP_EVERY_S)


def test_the_beat_task_sweeps_through_a_celery_worker(
    runtime: Runtime, receiver: Receiver, tmp_path: Path
) -> None:
    shop_id, handoff_id = _shop(runtime, receiver.url)
    lost = _delivery(
        runtime, shop_id, handoff_id, receiver.url, created_at=datetime.now(UTC) - timedelta(minutes=3)
    )
    settings = runtime.settings.model_copy(
        update={
            "celery_broker_url": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
            "celery_result_backend": f"db+sqlite:///{tmp_path / 'results.db'}",
        }
    )
    app = make_celery(settings)
    app.conf.task_default_queue = f"siyu-test-{uuid.uuid4().hex[:12]}"
    previous = install_runtime(runtime)
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False):
            app.send_task(SWEEP_TASK)  # what beat sends every minute
            deadline = time.monotonic() + 30
            while _row(runtime, shop_id, lost).status is WebhookDeliveryStatus.pending:
                assert time.monotonic() < deadline, "the swept delivery was never sent"
                time.sleep(0.05)
    finally:
        install_runtime(previous)
    assert _row(runtime, shop_id, lost).status is WebhookDeliveryStatus.delivered
    assert receiver.deliveries == [str(lost)]


def test_a_saved_url_no_longer_allowed_is_refused_at_send_time_and_never_reached(
    runtime: Runtime, receiver: Receiver
) -> None:
    """The check runs again before each POST: an operator who removes the allowance (or a name
    that now resolves to a private address) stops deliveries without touching the chat."""
    shop_id, handoff_id = _shop(runtime, receiver.url)
    runtime.settings = runtime.settings.model_copy(update={"outbound_allow": [], "webhook_max_attempts": 1})
    delivery_id = _delivery(runtime, shop_id, handoff_id, receiver.url)
    assert webhooks.attempt(runtime, shop_id, delivery_id) is None
    row = _row(runtime, shop_id, delivery_id)
    assert row.status is WebhookDeliveryStatus.failed and row.last_error is not None
    assert "回环" in row.last_error and row.last_status_code is None
    assert receiver.hits == []
