"""Recommendations, repurchase reminders and RFM segments over HTTP (thin: parse, authorise,
call `agents.recommender.service`, shape the answer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from agents.jobs import QueueUnavailable, submit_job
from agents.recommender import service
from agents.recommender.tasks import REFRESH_KIND
from api.deps import AgentDep, OwnerDep, RuntimeDep, StaffOrChannelDep
from api.errors import error_responses
from api.params import Offset
from api.routers.jobs import EnqueueDep
from api.schemas.jobs import JobAccepted
from api.schemas.recommend import (
    RecommendationRequest,
    RecommendationsPublic,
    ReminderPagePublic,
    SegmentCustomersPublic,
    SegmentsPublic,
)
from store.errors import Forbidden, InvalidInput, NotFound, Unauthenticated

router = APIRouter(prefix="/v1", tags=["recommender"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


def get_now() -> datetime:
    """The request's clock; tests override it to replay a fixed day."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


@router.get(
    "/customers/{customer_ref}/recommendations",
    response_model=RecommendationsPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def customer_recommendations(
    customer_ref: str,
    caller: AgentDep,
    runtime: RuntimeDep,
    now: NowDep,
    k: Annotated[int, Query(ge=1, le=service.K_MAX)] = 10,
) -> RecommendationsPublic:
    """A customer's top `k` in-stock products, each with a Chinese reason, and their segment."""
    result = service.recommend(runtime, caller.shop_id, now=now, customer_ref=customer_ref, k=k)
    return RecommendationsPublic.model_validate(result)


@router.post(
    "/recommendations",
    response_model=RecommendationsPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def recommendations(
    body: RecommendationRequest, caller: StaffOrChannelDep, runtime: RuntimeDep, now: NowDep
) -> RecommendationsPublic:
    """For a cart or a product page (`context_skus`), with or without a known customer."""
    result = service.recommend(
        runtime,
        caller.shop_id,
        now=now,
        customer_ref=body.customer_ref,
        context_skus=body.context_skus,
        k=body.k,
    )
    return RecommendationsPublic.model_validate(result)


@router.get(
    "/reminders",
    response_model=ReminderPagePublic,
    responses=error_responses(*AUTH_ERRORS, InvalidInput),
)
def reminders(
    caller: AgentDep,
    runtime: RuntimeDep,
    now: NowDep,
    due_within_days: Annotated[int, Query(ge=0, le=90)] = 7,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> ReminderPagePublic:
    """Customers whose usual repurchase of a SKU is due within `due_within_days` (either side)."""
    page = service.reminders(
        runtime, caller.shop_id, now=now, within_days=due_within_days, limit=limit, offset=offset
    )
    return ReminderPagePublic.model_validate(page)


@router.get(
    "/segments",
    response_model=SegmentsPublic,
    responses=error_responses(*AUTH_ERRORS, InvalidInput),
)
def segments(caller: AgentDep, runtime: RuntimeDep, now: NowDep) -> SegmentsPublic:
    """RFM segments: counts now and 30 days earlier, each with its next action and copy goal."""
    return SegmentsPublic.model_validate(service.segments(runtime, caller.shop_id, now=now))


@router.get(
    "/segments/{name}/customers",
    response_model=SegmentCustomersPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound, InvalidInput),
)
def segment_customers(
    name: str,
    caller: AgentDep,
    runtime: RuntimeDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> SegmentCustomersPublic:
    """One page of a segment's customers (key like `vip` or the label 沉睡), biggest spenders first."""
    page = service.segment_customers(runtime, caller.shop_id, name, now=now, limit=limit, offset=offset)
    return SegmentCustomersPublic.model_validate(page)


@router.post(
    "/recommendations/refresh",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=error_responses(*AUTH_ERRORS, QueueUnavailable),
)
def refresh(caller: OwnerDep, runtime: RuntimeDep, enqueue: EnqueueDep) -> JobAccepted:
    """Refit the shop's recommender as a job; follow it at `GET /v1/jobs/{job_id}`."""
    job = submit_job(runtime, enqueue, shop_id=caller.shop_id, kind=REFRESH_KIND, params={"trigger": "api"})
    return JobAccepted.of(job)
