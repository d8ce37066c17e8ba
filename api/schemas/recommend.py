"""Recommendations, repurchase reminders and RFM segments (api/routers/recommend.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from agents.recommender import service
from agents.recommender.schemas import ReasonCode
from api.schemas.base import Schema


class RecommendationPublic(Schema):
    sku: str
    title: str
    price: Decimal = Field(description="Current price from the store (a decimal string).")
    score: float
    reason_code: ReasonCode
    reason: str = Field(description="Why, in Chinese, ready to read to the customer.")
    because_of: str | None = Field(None, description="The SKU behind the reason, when there is one.")


class CustomerSegmentPublic(Schema):
    segment: str
    label: str
    next_action: str
    copy_goal: str
    rfm_code: str
    recency_days: int
    frequency: int
    monetary: float


class RecommendationsPublic(Schema):
    customer_ref: str | None
    personalised: bool = Field(description="False: shop bestsellers only (no profile used).")
    segment: CustomerSegmentPublic | None
    items: list[RecommendationPublic]
    model_version: str
    fitted_at: datetime


class RecommendationRequest(Schema):
    customer_ref: str | None = Field(None, min_length=1, max_length=64, examples=["wx_000123"])
    context_skus: list[str] = Field(
        default_factory=list, max_length=50, description="The cart, or the product on the page."
    )
    k: int = Field(10, ge=1, le=service.K_MAX)


class ReminderPublic(Schema):
    customer_ref: str
    nickname: str | None
    sku: str
    title: str
    due_date: date
    last_bought: date
    times_bought: int
    reason: str


class ReminderPagePublic(Schema):
    as_of: date
    due_within_days: int
    total: int
    limit: int
    offset: int
    items: list[ReminderPublic]


class SegmentCountPublic(Schema):
    segment: str = Field(description="English key, e.g. vip; the path of /v1/segments/{name}/customers.")
    label: str
    count: int
    previous_count: int = Field(description="Count 30 days earlier, with the same thresholds.")
    delta: int
    next_action: str
    copy_goal: str


class SegmentsPublic(Schema):
    as_of: date
    compare_to: date
    customers: int
    thresholds: dict[str, int | float]
    segments: list[SegmentCountPublic]


class SegmentCustomerPublic(Schema):
    customer_ref: str
    nickname: str | None
    first_order: date
    last_order: date
    recency_days: int
    frequency: int
    monetary: float
    rfm_code: str


class SegmentCustomersPublic(Schema):
    segment: str
    label: str
    next_action: str
    copy_goal: str
    as_of: date
    total: int
    limit: int
    offset: int
    items: list[SegmentCustomerPublic]
