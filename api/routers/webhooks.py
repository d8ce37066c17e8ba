"""The shop's handoff webhook: the owner sets a URL and signing secret; events are
`handoff.created` and `handoff.claimed`, HMAC-signed, retried in a worker, never blocking a chat.

`get_webhook_dispatch` is how the conversation and handoff routes hand a committed delivery to
the Celery worker; tests override it (a real worker, or a thread).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints

from agents import outbound
from agents.customer_service.tasks import WEBHOOK_TASK
from agents.customer_service.webhooks import WebhookDispatch
from agents.outbound import OutboundURLRefused
from agents.runtime import Runtime
from api.celery_app import runtime_celery
from api.deps import OwnerDep, RuntimeDep, SessionDep
from api.errors import error_responses
from store.errors import Forbidden, Unauthenticated
from store.repositories.webhooks import WebhookRepository

router = APIRouter(prefix="/v1", tags=["shops"])
AUTH_ERRORS = (Unauthenticated, Forbidden)
RECENT = 20


def celery_dispatch(runtime: Runtime) -> WebhookDispatch:
    """Sends `siyu.cs.webhook` over the runtime's Celery app, built on the first event only."""

    def dispatch(shop_id: int, delivery_id: int, countdown_s: float) -> None:
        runtime_celery(runtime).send_task(
            WEBHOOK_TASK, args=[shop_id, delivery_id], countdown=countdown_s or None
        )

    return dispatch


def get_webhook_dispatch(runtime: RuntimeDep) -> WebhookDispatch:
    return celery_dispatch(runtime)


WebhookDispatchDep = Annotated[WebhookDispatch, Depends(get_webhook_dispatch)]


class WebhookSet(BaseModel):
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=500)] = Field(
        description="http(s) endpoint that receives the POSTs"
    )
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key; never shown again")


class DeliveryPublic(BaseModel):
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


class WebhookPublic(BaseModel):
    url: str | None = Field(description="null when no webhook is set")
    secret_set: bool
    updated_at: datetime | None = None
    signature: str = Field(
        "X-Siyu-Signature: sha256=<hex HMAC-SHA256(secret, '<X-Siyu-Timestamp>.' + raw body)>",
        description="How receivers verify a delivery; reject timestamps older than 5 minutes",
    )
    deliveries: list[DeliveryPublic] = Field(default=[], description=f"The latest {RECENT}, newest first")


def _public(session: SessionDep, shop_id: int) -> WebhookPublic:
    repo = WebhookRepository(session)
    hook = repo.config(shop_id)
    deliveries = [
        DeliveryPublic(
            id=d.id,
            event=d.event,
            handoff_id=d.handoff_id,
            status=d.status.value,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
        )
        for d in repo.recent_deliveries(shop_id, limit=RECENT)
    ]
    if hook is None:
        return WebhookPublic(url=None, secret_set=False, deliveries=deliveries)
    return WebhookPublic(
        url=hook.url, secret_set=bool(hook.secret), updated_at=hook.updated_at, deliveries=deliveries
    )


@router.put(
    "/shop/webhook",
    response_model=WebhookPublic,
    responses=error_responses(*AUTH_ERRORS, OutboundURLRefused),
)
def set_webhook(
    body: WebhookSet, caller: OwnerDep, session: SessionDep, runtime: RuntimeDep
) -> WebhookPublic:
    """Set (or replace) the URL and secret. The next delivery, and every retry, uses them.

    A URL that resolves to a loopback, private, link-local or metadata address is refused (400
    `outbound_url_refused`) unless the operator allows it in SIYU_OUTBOUND_ALLOW."""
    outbound.check_url(str(body.url), runtime.settings.outbound_allow)
    WebhookRepository(session).set_config(caller.shop_id, str(body.url), body.secret)
    session.commit()
    return _public(session, caller.shop_id)


@router.get("/shop/webhook", response_model=WebhookPublic, responses=error_responses(*AUTH_ERRORS))
def get_webhook(caller: OwnerDep, session: SessionDep) -> WebhookPublic:
    """The URL, whether a secret is set (never the secret), and the latest deliveries."""
    return _public(session, caller.shop_id)


@router.delete(
    "/shop/webhook", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(*AUTH_ERRORS)
)
def delete_webhook(caller: OwnerDep, session: SessionDep) -> Response:
    """Stop sending; deliveries still pending fail with a note instead of going out."""
    WebhookRepository(session).delete_config(caller.shop_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
