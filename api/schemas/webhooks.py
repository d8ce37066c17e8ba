"""The shop's handoff webhook and its deliveries (api/routers/webhooks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, Field, UrlConstraints

from api.schemas.base import Schema, overlay
from store.models import ShopWebhook, WebhookDelivery

RECENT = 20


class WebhookSet(Schema):
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=500)] = Field(
        description="http(s) endpoint that receives the POSTs"
    )
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key; never shown again")


class DeliveryPublic(Schema):
    id: int
    event: str
    handoff_id: int | None
    status: str = Field(description="pending | delivered | failed")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class WebhookPublic(Schema):
    url: str | None = Field(description="null when no webhook is set")
    secret_set: bool
    updated_at: datetime | None = None
    signature: str = Field(
        "X-Siyu-Signature: sha256=<hex HMAC-SHA256(secret, '<X-Siyu-Timestamp>.' + raw body)>",
        description="How receivers verify a delivery; reject timestamps older than 5 minutes",
    )
    deliveries: list[DeliveryPublic] = Field(default=[], description=f"The latest {RECENT}, newest first")

    @classmethod
    def of(cls, hook: ShopWebhook | None, deliveries: Sequence[WebhookDelivery]) -> WebhookPublic:
        """The secret itself is never shown: only whether one is set."""
        if hook is None:
            return cls.model_validate({"url": None, "secret_set": False, "deliveries": deliveries})
        return cls.model_validate(overlay(hook, secret_set=bool(hook.secret), deliveries=deliveries))
