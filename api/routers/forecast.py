"""Sales import, forecasts, restock suggestions and the merchant agent over HTTP (thin: parse,
authorise, call `agents.forecaster.service` / `agents.forecaster.merchant`, shape the answer)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile, status

from agents.forecaster import merchant, service
from agents.forecaster.errors import ForecastError
from agents.forecaster.tasks import RUN_KIND
from agents.jobs import QueueUnavailable, submit_job
from api.deps import AgentDep, OwnerDep, RuntimeDep
from api.errors import error_responses
from api.routers.jobs import EnqueueDep
from api.schemas.forecast import (
    AskPublic,
    AskRequest,
    ForecastPublic,
    ForecastRunRequest,
    SalesImportPublic,
    SuggestionsPublic,
)
from api.schemas.jobs import JobAccepted
from store.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from store.uploads import read_limited

router = APIRouter(prefix="/v1", tags=["forecaster"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


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
    return SalesImportPublic.model_validate(result)


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
    return ForecastPublic.of(service.forecast_view(runtime, caller.shop_id, sku))


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
    return SuggestionsPublic.of(result)


@router.post(
    "/merchant/ask",
    response_model=AskPublic,
    responses=error_responses(*AUTH_ERRORS, NotFound, ForecastError),
)
def ask(body: AskRequest, caller: OwnerDep, runtime: RuntimeDep) -> AskPublic:
    """Answer a merchant's question about restocking and sales, with the tools' numbers in a table."""
    return AskPublic.model_validate(merchant.ask(runtime, caller.shop_id, body.question))
