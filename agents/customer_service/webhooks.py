"""Per-shop webhooks for handoff events: `handoff.created` and `handoff.claimed`.

    pure:  sign / verify / signed_request / backoff_s / event_payload
    I/O:   record_event (inside the caller's transaction) → send_after_commit → run_delivery

Receivers check `X-Siyu-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
and that `X-Siyu-Timestamp` (unix seconds) is recent: the timestamp is inside the signed bytes,
so an old delivery replayed later fails the freshness check and cannot be re-dated. Retries
of one event keep its `X-Siyu-Delivery` id, so a receiver can drop duplicates.

Delivery never touches the chat turn: the delivery row is written in the turn's transaction
(under a savepoint, so even a failing insert cannot roll the turn back), and sending starts
only after the commit, in a worker (`agents/customer_service/tasks.py`), retried with capped
exponential backoff. Every failed attempt is logged as a structured event and recorded on the
row (`GET /v1/shop/webhook` shows them to the owner).

Each attempt first claims the row (`WebhookRepository.claim_attempt`: a lease on
`next_attempt_at`), so duplicate messages for one delivery never POST concurrently. `sweep`
(a beat task, every minute) re-enqueues pending deliveries nobody claimed for
`webhook_sweep_grace_s`: the process died between the commit and the enqueue, or a worker died
mid-attempt (its lease ran out), or the event came from the CLI/an eval that has no worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy.orm import Session

from agents import outbound
from agents.privacy import mask_pii
from agents.runtime import Runtime
from store.db import session_scope
from store.errors import NotFound
from store.models import WebhookDeliveryStatus
from store.repositories.webhooks import WebhookRepository

log = logging.getLogger("siyu.cs.webhook")

HANDOFF_CREATED = "handoff.created"
HANDOFF_CLAIMED = "handoff.claimed"
SIGNATURE_HEADER = "X-Siyu-Signature"
TIMESTAMP_HEADER = "X-Siyu-Timestamp"
EVENT_HEADER = "X-Siyu-Event"
DELIVERY_HEADER = "X-Siyu-Delivery"
TOLERANCE_S = 300
# An attempt holds its claim this long past the POST timeout; a worker that dies mid-attempt
# leaves the delivery to the sweeper once the lease and the grace period have passed.
LEASE_MARGIN_S = 30.0
# Another host's clock may run slightly behind the one that scheduled the retry.
CLAIM_SKEW_S = 1.0

WebhookDispatch = Callable[[int, int, float], None]
"""`dispatch(shop_id, delivery_id, countdown_s)`: run one delivery attempt in a worker after
`countdown_s`. Called only after the event's transaction committed."""


# -- pure ---------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 keyed by `secret` over `b"<timestamp>." + body`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance_s: float = TOLERANCE_S
) -> bool:
    """What a receiver does: the signature matches (constant time) and the timestamp is fresh."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def backoff_s(failed_attempts: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait after the n-th failed attempt: base, 2·base, 4·base, … never above cap."""
    if failed_attempts < 1:
        raise ValueError("backoff is for a failed attempt (n ≥ 1)")
    return float(min(cap_s, base_s * 2 ** (failed_attempts - 1)))


def _masked(value: Any) -> Any:
    # Webhooks often land in a group chat (企业微信/钉钉 bots): the customer's phone, ID number
    # and address stay out of them. Staff read the full brief in the queue.
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def event_payload(event: str, shop_id: int, handoff: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
    """The JSON a receiver gets (plus `delivery_id`), from `service._handoff_public(handoff)`."""
    return {
        "event": event,
        "shop_id": shop_id,
        "handoff_id": handoff["id"],
        "conversation_id": handoff["conversation_id"],
        "status": handoff["status"],
        "priority": handoff["priority"],
        "reasons": list(handoff["reasons"]),
        "claimed_by": handoff.get("claimed_by"),
        "brief": _masked(dict(handoff.get("brief") or {})),
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
    }


def signed_request(
    delivery_id: int, payload: dict[str, Any], secret: str, timestamp: int
) -> tuple[bytes, dict[str, str]]:
    """The exact body bytes and headers of one attempt."""
    body = json.dumps(
        {**payload, "delivery_id": delivery_id}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "siyu-webhook/1",
        EVENT_HEADER: str(payload["event"]),
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    return body, headers


# -- I/O ----------------------------------------------------------------------------------


def record_event(
    session: Session, shop_id: int, event: str, handoff: dict[str, Any], occurred_at: datetime
) -> int | None:
    """Write the delivery row in the caller's open transaction, or None (no webhook set, or the
    write failed: logged, and the caller's turn goes on untouched thanks to the savepoint)."""
    try:
        with session.begin_nested():
            repo = WebhookRepository(session)
            hook = repo.config(shop_id)
            if hook is None:
                return None
            payload = event_payload(event, shop_id, handoff, occurred_at)
            return repo.add_delivery(shop_id, event, handoff["id"], hook.url, payload).id
    except Exception:
        log.exception("cs.webhook.record_failed", extra={"shop_id": shop_id, "webhook_event": event})
        return None


def send_after_commit(
    runtime: Runtime, dispatch: WebhookDispatch | None, shop_id: int, delivery_id: int | None
) -> None:
    """Hand a committed delivery to a worker. Never raises: a refused queue fails the delivery."""
    if delivery_id is None:
        return
    if dispatch is None:
        # Service calls from the CLI, evals and benches have no worker; the row stays pending.
        log.warning("cs.webhook.no_dispatcher", extra={"shop_id": shop_id, "delivery_id": delivery_id})
        return
    _dispatch(runtime, dispatch, shop_id, delivery_id, 0.0)


def _dispatch(
    runtime: Runtime, dispatch: WebhookDispatch, shop_id: int, delivery_id: int, delay: float
) -> None:
    try:
        dispatch(shop_id, delivery_id, delay)
    except Exception as exc:
        log.exception("cs.webhook.enqueue_failed", extra={"shop_id": shop_id, "delivery_id": delivery_id})
        try:
            with session_scope(runtime.sessions) as s:
                WebhookRepository(s).fail(shop_id, delivery_id, f"enqueue: {type(exc).__name__}: {exc}")
        except Exception:
            log.exception("cs.webhook.record_failed", extra={"shop_id": shop_id, "delivery_id": delivery_id})


def attempt(
    runtime: Runtime,
    shop_id: int,
    delivery_id: int,
    *,
    client: httpx2.Client | None = None,
    clock: Callable[[], float] = time.time,
) -> float | None:
    """One signed POST. Returns the seconds to wait before the next attempt, or None when the
    delivery is finished (delivered, out of attempts, or nothing to do)."""
    settings = runtime.settings
    with session_scope(runtime.sessions) as s:
        repo = WebhookRepository(s)
        try:
            row = repo.get_delivery(shop_id, delivery_id)
        except NotFound:
            log.warning("cs.webhook.missing", extra={"shop_id": shop_id, "delivery_id": delivery_id})
            return None
        if row.status is not WebhookDeliveryStatus.pending:
            return None
        hook = repo.config(shop_id)
        if hook is None:
            repo.fail(shop_id, delivery_id, "webhook 已被店主删除")
            log.warning("cs.webhook.removed", extra={"shop_id": shop_id, "delivery_id": delivery_id})
            return None
        claimed_at = datetime.now(UTC)
        lease = timedelta(seconds=settings.webhook_timeout_s + LEASE_MARGIN_S)
        if not repo.claim_attempt(
            shop_id,
            delivery_id,
            now=claimed_at + timedelta(seconds=CLAIM_SKEW_S),
            lease_until=claimed_at + lease,
        ):
            # Another message for this delivery holds it (a sweeper's re-enqueue and the
            # original both arrived), or its retry is not due: that one sends, this one doesn't.
            log.info("cs.webhook.not_claimed", extra={"shop_id": shop_id, "delivery_id": delivery_id})
            return None
        # The current URL and secret: an owner who rotated the secret gets retries signed with it.
        url, secret, payload, number = hook.url, hook.secret, dict(row.payload), row.attempts + 1

    body, headers = signed_request(delivery_id, payload, secret, int(clock()))
    status_code: int | None = None
    error: str | None = None
    own = client is None
    http = client or httpx2.Client(follow_redirects=False)
    try:
        response = outbound.post(
            http,
            url,
            content=body,
            headers=headers,
            timeout=settings.webhook_timeout_s,
            allow=settings.outbound_allow,
        )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:200]}"
    except httpx2.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except outbound.OutboundURLRefused as exc:
        # Checked again at send time: the name may resolve elsewhere since the owner saved it.
        error = exc.detail
    finally:
        if own:
            http.close()

    now = datetime.now(UTC)
    fields = {"shop_id": shop_id, "delivery_id": delivery_id, "webhook_event": payload.get("event")}
    if error is None:
        with session_scope(runtime.sessions) as s:
            WebhookRepository(s).record_attempt(
                shop_id,
                delivery_id,
                status=WebhookDeliveryStatus.delivered,
                url=url,
                status_code=status_code,
                error=None,
                now=now,
            )
        log.info("cs.webhook.delivered", extra=fields | {"attempt": number, "status_code": status_code})
        return None
    final = number >= settings.webhook_max_attempts
    delay = (
        None if final else backoff_s(number, settings.webhook_backoff_base_s, settings.webhook_backoff_cap_s)
    )
    with session_scope(runtime.sessions) as s:
        WebhookRepository(s).record_attempt(
            shop_id,
            delivery_id,
            status=WebhookDeliveryStatus.failed if final else WebhookDeliveryStatus.pending,
            url=url,
            status_code=status_code,
            error=error,
            now=now,
            next_attempt_at=None if delay is None else now + timedelta(seconds=delay),
        )
    log.warning(
        "cs.webhook.attempt_failed",
        extra=fields | {"attempt": number, "status_code": status_code, "error": error, "retry_in_s": delay},
    )
    if final:
        log.error("cs.webhook.failed", extra=fields | {"attempts": number, "error": error})
    return delay


def run_delivery(
    runtime: Runtime,
    shop_id: int,
    delivery_id: int,
    redispatch: WebhookDispatch,
    *,
    client: httpx2.Client | None = None,
) -> None:
    """What the worker task runs: one attempt, then (on failure) the next one scheduled."""
    delay = attempt(runtime, shop_id, delivery_id, client=client)
    if delay is not None:
        _dispatch(runtime, redispatch, shop_id, delivery_id, delay)


def sweep(runtime: Runtime, dispatch: WebhookDispatch, *, now: datetime | None = None) -> list[int]:
    """Re-enqueue every pending delivery nobody claimed or retried for `webhook_sweep_grace_s`.
    Each is first marked re-enqueued (one conditional UPDATE, so of concurrent sweepers exactly
    one sends it, and the next sweep waits another grace period); the attempt's own claim keeps
    a slow original message from sending it twice. Returns the delivery ids handed to workers."""
    now = now or datetime.now(UTC)
    grace = timedelta(seconds=runtime.settings.webhook_sweep_grace_s)
    with session_scope(runtime.sessions) as s:
        stale = WebhookRepository(s).stale_pending(now=now, grace=grace)
    sent: list[int] = []
    for shop_id, delivery_id in stale:
        with session_scope(runtime.sessions) as s:
            if not WebhookRepository(s).requeue(shop_id, delivery_id, now=now, grace=grace):
                continue  # claimed meanwhile, by a worker or another sweeper
        log.warning("cs.webhook.requeued", extra={"shop_id": shop_id, "delivery_id": delivery_id})
        _dispatch(runtime, dispatch, shop_id, delivery_id, 0.0)
        sent.append(delivery_id)
    return sent
