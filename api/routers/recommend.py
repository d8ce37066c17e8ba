"""Recommendations, repurchase reminders and RFM segments over HTTP (thin: parse, authorise,
call `agents.recommender.service`, shape the answer)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from agents.jobs import QueueUnavailable, submit_job
from agents.recommender import rfm, service
from agents.recommender.schemas import ReasonCode
from agents.recommender.tasks import REFRESH_KIND
from api.deps import AgentDep, OwnerDep, RuntimeDep, StaffOrChannelDep
from api.errors import error_responses
from api.params import Offset
from api.routers.jobs import EnqueueDep, JobAccepted
from store.errors import Forbidden, InvalidInput, NotFound, Unauthenticated

router = APIRouter(prefix="/v1", tags=["recommender"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


def get_now() -> datetime:
    """The request's clock; tests override it to replay a fixed day."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


class RecommendationPublic(BaseModel):
    sku: str
    title: str
    price: Decimal = Field(description="Current price from the store (a decimal string).")
    score: float
    reason_code: ReasonCode
    reason: str = Field(description="Why, in Chinese, ready to read to the customer.")
    because_of: str | None = Field(None, description="The SKU behind the reason, when there is one.")


class CustomerSegmentPublic(BaseModel):
    segment: str
    label: str
    next_action: str
    copy_goal: str
    rfm_code: str
    recency_days: int
    frequency: int
    monetary: float


class RecommendationsPublic(BaseModel):
    customer_ref: str | None
    personalised: bool = Field(description="False: shop bestsellers only (no profile used).")
    segment: CustomerSegmentPublic | None
    items: list[RecommendationPublic]
    model_version: str
    fitted_at: datetime

    @classmethod
    def of(cls, result: service.RecommendationResult) -> RecommendationsPublic:
        seg = result.segment
        return cls(
            customer_ref=result.customer_ref,
            personalised=result.personalised,
            segment=None
            if seg is None
            else CustomerSegmentPublic(
                segment=seg.segment.value,
                label=seg.label,
                next_action=seg.next_action,
                copy_goal=seg.copy_goal,
                rfm_code=seg.rfm_code,
                recency_days=seg.recency_days,
                frequency=seg.frequency,
                monetary=seg.monetary,
            ),
            items=[
                RecommendationPublic(
                    sku=i.sku,
                    title=i.title,
                    price=i.price,
                    score=i.score,
                    reason_code=i.reason_code,
                    reason=i.reason,
                    because_of=i.because_of,
                )
                for i in result.items
            ],
            model_version=result.model_version,
            fitted_at=result.fitted_at,
        )


class RecommendationRequest(BaseModel):
    customer_ref: str | None = Field(None, min_length=1, max_length=64, examples=["wx_000123"])
    context_skus: list[str] = Field(
        default_factory=list, max_length=50, description="The cart, or the product on the page."
    )
    k: int = Field(10, ge=1, le=service.K_MAX)


class ReminderPublic(BaseModel):
    customer_ref: str
    nickname: str | None
    sku: str
    title: str
    due_date: date
    last_bought: date
    times_bought: int
    reason: str


class ReminderPagePublic(BaseModel):
    as_of: date
    due_within_days: int
    total: int
    limit: int
    offset: int
    items: list[ReminderPublic]


class SegmentCountPublic(BaseModel):
    segment: str = Field(description="English key, e.g. vip; the path of /v1/segments/{name}/customers.")
    label: str
    count: int
    previous_count: int = Field(description="Count 30 days earlier, with the same thresholds.")
    delta: int
    next_action: str
    copy_goal: str


class SegmentsPublic(BaseModel):
    as_of: date
    compare_to: date
    customers: int
    thresholds: dict[str, int | float]
    segments: list[SegmentCountPublic]


class SegmentCustomerPublic(BaseModel):
    customer_ref: str
    nickname: str | None
    first_order: date
    last_order: date
    recency_days: int
    frequency: int
    monetary: float
    rfm_code: str


class SegmentCustomersPublic(BaseModel):
    segment: str
    label: str
    next_action: str
    copy_goal: str
    as_of: date
    total: int
    limit: int
    offset: int
    items: list[SegmentCustomerPublic]


def _segment_counts(counts: Sequence[rfm.SegmentCount]) -> list[SegmentCountPublic]:
    return [
        SegmentCountPublic(
            segment=c.segment.value,
            label=c.label,
            count=c.count,
            previous_count=c.previous_count,
            delta=c.delta,
            next_action=c.next_action,
            copy_goal=c.copy_goal,
        )
        for c in counts
    ]


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
    return RecommendationsPublic.of(result)


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
    return RecommendationsPublic.of(result)


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
    return ReminderPagePublic(
        as_of=page.as_of,
        due_within_days=page.due_within_days,
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        items=[ReminderPublic(**vars(item)) for item in page.items],
    )


@router.get(
    "/segments",
    response_model=SegmentsPublic,
    responses=error_responses(*AUTH_ERRORS, InvalidInput),
)
def segments(caller: AgentDep, runtime: RuntimeDep, now: NowDep) -> SegmentsPublic:
    """RFM segments: counts now and 30 days earlier, each with its next action and copy goal."""
    report = service.segments(runtime, caller.shop_id, now=now)
    return SegmentsPublic(
        as_of=report.as_of,
        compare_to=report.compare_to,
        customers=report.customers,
        thresholds=report.thresholds,
        segments=_segment_counts(report.segments),
    )


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
    return SegmentCustomersPublic(
        segment=page.segment.value,
        label=page.label,
        next_action=page.next_action,
        copy_goal=page.copy_goal,
        as_of=page.as_of,
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        items=[SegmentCustomerPublic(**vars(item)) for item in page.items],
    )


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
