"""The staff queue: list, claim (atomic: exactly one of any concurrent claims wins), release, resolve."""

from __future__ import annotations

from fastapi import APIRouter

from agents.customer_service import service
from agents.customer_service.errors import HandoffAlreadyClaimed, HandoffClosed, InvalidTransition
from api.deps import AgentDep, RuntimeDep
from api.errors import error_responses
from api.params import IdPath
from api.routers.conversations import NowDep, staff_name
from api.routers.webhooks import WebhookDispatchDep
from api.schemas.conversations import HandoffPublic
from store.errors import Forbidden, NotFound, Unauthenticated
from store.models import HandoffStatus

router = APIRouter(prefix="/v1", tags=["customer service"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


@router.get("/handoffs", response_model=list[HandoffPublic], responses=error_responses(*AUTH_ERRORS))
def list_handoffs(
    caller: AgentDep, runtime: RuntimeDep, status: HandoffStatus = HandoffStatus.waiting
) -> list[HandoffPublic]:
    """The queue, highest priority first, then the longest wait; each item carries its brief."""
    return [HandoffPublic.model_validate(h) for h in service.handoff_queue(runtime, caller.shop_id, status)]


@router.post(
    "/handoffs/{handoff_id}/claim",
    response_model=HandoffPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound, HandoffAlreadyClaimed, HandoffClosed),
)
def claim(
    handoff_id: IdPath, caller: AgentDep, runtime: RuntimeDep, now: NowDep, notify: WebhookDispatchDep
) -> HandoffPublic:
    """Atomic: of any concurrent claims exactly one wins; the shop's webhook hears `handoff.claimed`."""
    return HandoffPublic.model_validate(
        service.claim_handoff(runtime, caller.shop_id, handoff_id, staff_name(caller), now, notify=notify)
    )


@router.post(
    "/handoffs/{handoff_id}/release",
    response_model=HandoffPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound, HandoffClosed, InvalidTransition),
)
def release(handoff_id: IdPath, caller: AgentDep, runtime: RuntimeDep, now: NowDep) -> HandoffPublic:
    """Hand the chat back to the bot (a system note is added to the transcript)."""
    return HandoffPublic.model_validate(service.release_handoff(runtime, caller.shop_id, handoff_id, now))


@router.post(
    "/handoffs/{handoff_id}/resolve",
    response_model=HandoffPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound, HandoffClosed, InvalidTransition),
)
def resolve(handoff_id: IdPath, caller: AgentDep, runtime: RuntimeDep, now: NowDep) -> HandoffPublic:
    """Done: the conversation is closed; a new customer message reopens it with the bot."""
    return HandoffPublic.model_validate(service.resolve_handoff(runtime, caller.shop_id, handoff_id, now))
