"""The webhook signature, its verification, the retry schedule and the payload: pure functions."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from agents.customer_service.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    backoff_s,
    event_payload,
    sign,
    signed_request,
    verify,
)

SECRET = "whsec_0123456789abcdef"
BODY = b'{"event":"handoff.created","handoff_id":7}'
TS = 1_763_800_000


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == "sha256=" + expected
    # Known-answer vector, so a change of scheme cannot pass by changing both sides.
    assert sign("key", 1, b"{}") == "sha256=" + hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest()


def test_signature_changes_with_secret_timestamp_and_body() -> None:
    base = sign(SECRET, TS, BODY)
    assert sign(SECRET + "x", TS, BODY) != base
    assert sign(SECRET, TS + 1, BODY) != base
    assert sign(SECRET, TS, BODY + b" ") != base


def test_verify_accepts_a_fresh_genuine_delivery() -> None:
    assert verify(SECRET, str(TS), BODY, sign(SECRET, TS, BODY), now=TS + 10)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        ("wrong-secret-0000", str(TS), BODY, TS),  # forged
        (SECRET, str(TS), BODY.replace(b"7", b"8"), TS),  # tampered body
        (SECRET, str(TS + 60), BODY, TS + 60),  # re-dated: the timestamp is inside the MAC
        (SECRET, str(TS), BODY, TS + 301),  # replayed too late
        (SECRET, str(TS), BODY, TS - 301),  # from the future
        (SECRET, "yesterday", BODY, TS),  # not a timestamp
    ],
)
def test_verify_rejects(secret: str, timestamp: str, body: bytes, now: float) -> None:
    assert not verify(secret, timestamp, body, sign(SECRET, TS, BODY), now=now)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, 2.0, 60.0) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert backoff_s(1, 0.05, 0.1) == 0.05 and backoff_s(3, 0.05, 0.1) == 0.1
    with pytest.raises(ValueError):
        backoff_s(0, 2.0, 60.0)


HANDOFF: dict[str, Any] = {
    "id": 7,
    "conversation_id": 3,
    "status": "waiting",
    "reasons": ["customer_request", "vip"],
    "priority": 60,
    "claimed_by": None,
    "brief": {
        "request": "转人工，我电话13912345678",
        "intent": "要求人工",
        "turns": ["地址北京市朝阳区建国路88号"],
    },
}


def test_payload_carries_the_event_and_masks_personal_data() -> None:
    at = datetime(2026, 11, 20, 14, 0, tzinfo=timezone(timedelta(hours=8)))
    payload = event_payload("handoff.created", 1, HANDOFF, at)
    assert {k: payload[k] for k in ("event", "shop_id", "handoff_id", "conversation_id", "priority")} == {
        "event": "handoff.created",
        "shop_id": 1,
        "handoff_id": 7,
        "conversation_id": 3,
        "priority": 60,
    }
    assert payload["reasons"] == ["customer_request", "vip"]
    assert payload["occurred_at"] == "2026-11-20T06:00:00+00:00"  # always UTC
    text = json.dumps(payload, ensure_ascii=False)
    assert "13912345678" not in text and "建国路88号" not in text
    assert payload["brief"]["intent"] == "要求人工"
    assert HANDOFF["brief"]["request"] == "转人工，我电话13912345678"  # the input is not mutated


def test_signed_request_headers_verify_against_the_exact_body() -> None:
    payload = event_payload("handoff.claimed", 1, HANDOFF | {"status": "claimed"}, datetime.now(UTC))
    body, headers = signed_request(42, payload, SECRET, TS)
    assert json.loads(body) == payload | {"delivery_id": 42}
    assert headers[DELIVERY_HEADER] == "42" and headers[TIMESTAMP_HEADER] == str(TS)
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=TS)
    again, _ = signed_request(42, payload, SECRET, TS)
    assert again == body  # deterministic bytes: retries of one event carry the same body
