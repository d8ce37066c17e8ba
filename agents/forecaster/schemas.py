"""Typed inputs and outputs of the forecaster's pure cores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class DemandClass(StrEnum):
    """Syntetos-Boylan demand patterns, plus `inactive` for a SKU with no sales at all."""

    smooth = "smooth"
    erratic = "erratic"
    intermittent = "intermittent"
    lumpy = "lumpy"
    inactive = "inactive"


@dataclass(frozen=True, slots=True)
class SalesRow:
    """One imported line: a SKU's sales on one day. `on_hand == 0` means it was out of stock."""

    sku: str
    day: date
    qty: float
    price: Decimal | None = None
    promo: bool = False
    on_hand: int | None = None
    line: int = 0


class RestockInput(BaseModel):
    """Everything the restock math needs for one SKU. Demand is per day, from the forecast."""

    model_config = ConfigDict(frozen=True)

    sku: str
    title: str = ""
    on_hand: int = Field(ge=0)
    on_order: int = Field(default=0, ge=0)
    lead_time_days: int = Field(ge=0)
    review_period_days: int = Field(default=7, ge=1)
    daily_mean: float = Field(ge=0, description="forecast mean demand per day")
    daily_sd: float = Field(ge=0, description="forecast standard deviation of one day's demand")
    service_level: float = Field(default=0.95, gt=0.5, lt=1.0)
    moq: int = Field(default=1, ge=1)
    case_pack: int = Field(default=1, ge=1)
    unit_cost: Decimal = Field(default=Decimal("0"), ge=0)
    unit_price: Decimal | None = Field(default=None, ge=0)


class RestockAdvice(BaseModel):
    """One suggestion. `order_qty` is 0 when nothing needs ordering at this review."""

    model_config = ConfigDict(frozen=True)

    sku: str
    title: str
    order_qty: int
    cases: int
    safety_stock: float
    reorder_point: float
    inventory_position: int
    z: float
    days_of_cover: float | None = Field(description="on-hand days at the forecast rate; None if no demand")
    stockout_date: date | None
    priority: int = Field(description="1 紧急 (runs out within the lead time), 2 需补货, 3 暂不补")
    order_cost: Decimal
    unit_cost: Decimal
    moq: int
    case_pack: int
    margin_per_unit: Decimal | None
    explanation: str


class BudgetLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    suggested_qty: int
    funded_qty: int
    cost: Decimal
    explanation: str


class BudgetPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    budget: Decimal
    spent: Decimal
    remaining: Decimal
    lines: list[BudgetLine]
