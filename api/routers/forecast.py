"""Sales import, forecasts, restock suggestions and the merchant agent over HTTP (thin: parse,
authorise, call `agents.forecaster.service` / `agents.forecaster.merchant`, shape the answer)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile, status
from pydantic import BaseModel, Field

from agents.forecaster import merchant, service
from agents.forecaster.errors import ForecastError
from agents.forecaster.tasks import RUN_KIND
from agents.jobs import QueueUnavailable, submit_job
from api.deps import AgentDep, OwnerDep, RuntimeDep
from api.errors import error_responses
from api.routers.jobs import EnqueueDep, JobAccepted
from store.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from store.uploads import read_limited

router = APIRouter(prefix="/v1", tags=["forecaster"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


class SalesImportPublic(BaseModel):
    file: str
    rows: int
    inserted: int
    updated: int = Field(description="Rows that replaced an earlier import of the same (sku, day).")
    skus: int
    first_day: date
    last_day: date


class ForecastRunRequest(BaseModel):
    horizon: int | None = Field(
        None, ge=7, le=90, description="Days to forecast; default the shop setting or 28."
    )


class ForecastPublic(BaseModel):
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


class SuggestionPublic(BaseModel):
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


class BudgetLinePublic(BaseModel):
    sku: str
    suggested_qty: int
    funded_qty: int
    cost: Decimal
    explanation: str


class BudgetPublic(BaseModel):
    budget: Decimal
    spent: Decimal
    remaining: Decimal
    lines: list[BudgetLinePublic]


class SuggestionsPublic(BaseModel):
    run_id: str
    as_of: date = Field(description="The first forecast day: stockout dates count from it.")
    horizon_days: int
    items: list[SuggestionPublic]
    budget: BudgetPublic | None


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=300, examples=["下周哪些商品要补货？"])


class AskPublic(BaseModel):
    question: str
    intent: str = Field(description="restock_list | days_left | budget_plan | forecast_for_sku | unknown")
    engine: str = Field(description="offline (rules + template) | llm (the model phrased the tools' numbers)")
    answer: str
    columns: list[str]
    rows: list[dict[str, Any]]
    parsed: dict[str, Any]


@router.post(
    "/sales/import",
    response_model=SalesImportPublic,
    responses=error_responses(*AUTH_ERRORS, InvalidInput),
)
def import_sales(
    caller: OwnerDep,
    runtime: RuntimeDep,
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8, BOM or GBK) or XLSX: sku,date,qty[,price,promo,on_hand]")
    ],
) -> SalesImportPublic:
    """Import daily sales (CSV in UTF-8, BOM or GBK, or XLSX). All rows are written in one
    transaction, or none."""
    # A plain `def`: parsing and writing megabytes of rows runs in the threadpool, not on the loop.
    name = file.filename or "upload.csv"
    data = read_limited(file.file, name, runtime.settings.max_upload_bytes)
    result = service.import_sales(runtime, caller.shop_id, data, name)
    return SalesImportPublic(**vars(result))


@router.post(
    "/forecast/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=error_responses(*AUTH_ERRORS, QueueUnavailable),
)
def run(
    caller: OwnerDep, runtime: RuntimeDep, enqueue: EnqueueDep, body: ForecastRunRequest | None = None
) -> JobAccepted:
    """Forecast every SKU and refresh restock suggestions as a job; follow it at `GET /v1/jobs/{job_id}`."""
    params: dict[str, Any] = {"trigger": "api"}
    if body is not None and body.horizon is not None:
        params["horizon"] = body.horizon
    job = submit_job(runtime, enqueue, shop_id=caller.shop_id, kind=RUN_KIND, params=params)
    return JobAccepted.of(job)


@router.get(
    "/forecast/{sku}",
    response_model=ForecastPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def get_forecast(sku: str, caller: AgentDep, runtime: RuntimeDep) -> ForecastPublic:
    """One SKU's history, forecast mean and 80/95 intervals from the latest run, ready for a chart."""
    view = service.forecast_view(runtime, caller.shop_id, sku)
    return ForecastPublic(
        run_id=view.run_id,
        sku=view.sku,
        title=view.title,
        model=view.model,
        demand_class=view.demand_class,
        created_at=view.created_at,
        history_dates=view.history_dates,
        history=view.history,
        stockout=view.stockout,
        corrected=view.corrected,
        dates=view.dates,
        mean=view.mean,
        lo80=view.bands.get("lo80", []),
        hi80=view.bands.get("hi80", []),
        lo95=view.bands.get("lo95", []),
        hi95=view.bands.get("hi95", []),
        backtest_mae=view.backtest,
    )


@router.get(
    "/restock/suggestions",
    response_model=SuggestionsPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def restock_suggestions(
    caller: OwnerDep,
    runtime: RuntimeDep,
    horizon_days: Annotated[
        int, Query(ge=1, le=90, description="Review period: days an order must cover after it arrives.")
    ] = 14,
    budget: Annotated[Decimal | None, Query(ge=0, le=100_000_000, description="Cash available (¥).")] = None,
) -> SuggestionsPublic:
    """Most urgent first, each with a Chinese explanation; with `budget`, what to fund first."""
    result = service.suggestions(runtime, caller.shop_id, horizon_days=horizon_days, budget=budget)
    plan = result.budget
    return SuggestionsPublic(
        run_id=result.run_id,
        as_of=result.as_of,
        horizon_days=result.horizon_days,
        items=[
            SuggestionPublic(
                sku=a.sku,
                title=a.title,
                priority=a.priority,
                order_qty=a.order_qty,
                cases=a.cases,
                on_hand=result.on_hand.get(a.sku, 0),
                daily_mean=round(result.daily_mean.get(a.sku, 0.0), 3),
                safety_stock=round(a.safety_stock, 3),
                reorder_point=round(a.reorder_point, 3),
                days_of_cover=None if a.days_of_cover is None else round(a.days_of_cover, 2),
                stockout_date=a.stockout_date,
                order_cost=a.order_cost,
                explanation=a.explanation,
            )
            for a in result.items
        ],
        budget=None
        if plan is None
        else BudgetPublic(
            budget=plan.budget,
            spent=plan.spent,
            remaining=plan.remaining,
            lines=[BudgetLinePublic(**line.model_dump()) for line in plan.lines],
        ),
    )


@router.post(
    "/merchant/ask",
    response_model=AskPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound, ForecastError),
)
def ask(body: AskRequest, caller: OwnerDep, runtime: RuntimeDep) -> AskPublic:
    """Answer a merchant's question about restocking and sales, with the tools' numbers in a table."""
    answer = merchant.ask(runtime, caller.shop_id, body.question)
    return AskPublic(
        question=answer.question,
        intent=answer.intent.value,
        engine=answer.engine,
        answer=answer.answer,
        columns=answer.columns,
        rows=answer.rows,
        parsed=answer.parsed,
    )
