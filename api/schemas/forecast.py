"""Sales import, forecasts, restock suggestions and the merchant agent (api/routers/forecast.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from agents.forecaster.schemas import RestockAdvice
from agents.forecaster.service import ForecastView, Suggestions
from api.schemas.base import Schema, overlay


class SalesImportPublic(Schema):
    file: str
    rows: int
    inserted: int
    updated: int = Field(description="Rows that replaced an earlier import of the same (sku, day).")
    skus: int
    first_day: date
    last_day: date


class ForecastRunRequest(Schema):
    horizon: int | None = Field(
        None, ge=7, le=90, description="Days to forecast; default the shop setting or 28."
    )


class ForecastPublic(Schema):
    run_id: str
    sku: str
    title: str
    model: str = Field(description="The model the backtest chose for this SKU.")
    demand_class: str = Field(description="smooth | erratic | intermittent | lumpy | inactive")
    created_at: datetime
    history_dates: list[date]
    history: list[float | None] = Field(description="Recorded daily sales (null before the SKU existed).")
    stockout: list[bool] = Field(description="True on days the SKU was out of stock (censored).")
    corrected: list[float | None] = Field(
        description="History the models learned from: stockout days with customer asks raised, others null."
    )
    dates: list[date]
    mean: list[float]
    lo80: list[float]
    hi80: list[float]
    lo95: list[float]
    hi95: list[float]
    backtest_mae: dict[str, float]

    @classmethod
    def of(cls, view: ForecastView) -> ForecastPublic:
        """The view's interval bands become one field each; a band the model lacks is empty."""
        bands = {band: view.bands.get(band, []) for band in ("lo80", "hi80", "lo95", "hi95")}
        return cls.model_validate(overlay(view, backtest_mae=view.backtest, **bands))


class SuggestionPublic(Schema):
    sku: str
    title: str
    priority: int = Field(description="1 紧急, 2 需补货, 3 暂不补")
    order_qty: int
    cases: int
    on_hand: int
    daily_mean: float
    safety_stock: float
    reorder_point: float
    days_of_cover: float | None
    stockout_date: date | None
    order_cost: Decimal
    explanation: str

    @classmethod
    def of(cls, advice: RestockAdvice, result: Suggestions) -> SuggestionPublic:
        """One advice, with the SKU's stock and forecast rate from the run, rounded for reading."""
        return cls.model_validate(
            overlay(
                advice,
                on_hand=result.on_hand.get(advice.sku, 0),
                daily_mean=round(result.daily_mean.get(advice.sku, 0.0), 3),
                safety_stock=round(advice.safety_stock, 3),
                reorder_point=round(advice.reorder_point, 3),
                days_of_cover=None if advice.days_of_cover is None else round(advice.days_of_cover, 2),
            )
        )


class BudgetLinePublic(Schema):
    sku: str
    suggested_qty: int
    funded_qty: int
    cost: Decimal
    explanation: str


class BudgetPublic(Schema):
    budget: Decimal
    spent: Decimal
    remaining: Decimal
    lines: list[BudgetLinePublic]


class SuggestionsPublic(Schema):
    run_id: str
    as_of: date = Field(description="The first forecast day: stockout dates count from it.")
    horizon_days: int
    items: list[SuggestionPublic]
    budget: BudgetPublic | None

    @classmethod
    def of(cls, result: Suggestions) -> SuggestionsPublic:
        items = [SuggestionPublic.of(advice, result) for advice in result.items]
        return cls.model_validate(overlay(result, items=items))


class AskRequest(Schema):
    question: str = Field(min_length=1, max_length=300, examples=["下周哪些商品要补货？"])


class AskPublic(Schema):
    question: str
    intent: str = Field(description="restock_list | days_left | budget_plan | forecast_for_sku | unknown")
    engine: str = Field(description="offline (rules + template) | llm (the model phrased the tools' numbers)")
    answer: str
    columns: list[str]
    rows: list[dict[str, Any]]
    parsed: dict[str, Any]
