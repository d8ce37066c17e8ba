"""The shop's handoff webhook: the owner sets a URL and signing secret; events are
`handoff.created` and `handoff.claimed`, HMAC-signed, retried in a worker, never blocking a chat.

`get_webhook_dispatch` is how the conversation and handoff routes hand a committed delivery to
the Celery worker; tests override it (a real worker, or a thread).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from agents import outbound
from agents.customer_service.tasks import WEBHOOK_TASK
from agents.customer_service.webhooks import WebhookDispatch
from agents.outbound import OutboundURLRefused
from agents.runtime import Runtime
from api.celery_app import runtime_celery
from api.deps import OwnerDep, RuntimeDep, SessionDep
from api.errors import error_responses
from api.schemas.webhooks import RECENT, WebhookPublic, WebhookSet
from store.errors import Forbidden, Unauthenticated
from store.repositories.webhooks import WebhookRepository

router = APIRouter(prefix="/v1", tags=["shops"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


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


def _public(session: SessionDep, shop_id: int) -> WebhookPublic:
    repo = WebhookRepository(session)
    return WebhookPublic.of(repo.config(shop_id), repo.recent_deliveries(shop_id, limit=RECENT))


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
