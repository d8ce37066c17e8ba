"""The Moments copywriter over HTTP.

- `POST /v1/copy/check`: owners and CS staff paste any text for the 广告法 check.
- `POST /v1/copy/moments`: checked 朋友圈 variants, stored as drafts (owner).
- `GET /v1/copy/drafts`, `POST /v1/copy/drafts/{id}/approve|reject` (owner).
- `POST /v1/copy/calendar` → 202 job; `GET /v1/copy/calendar/{job_id}.csv` exports the plan (owner).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from agents.copywriter import moments, service
from agents.copywriter import tasks as copy_tasks
from agents.copywriter.calendar import plan_csv
from agents.copywriter.errors import (
    CalendarNotReady,
    DraftAlreadyDecided,
    MomentsConstraintError,
    UnsafePromoText,
)
from agents.copywriter.schemas import CopyCheckRequest, CopyCheckResult
from agents.jobs import QueueUnavailable, read_job, submit_job
from api.deps import AgentDep, OwnerDep, RuntimeDep
from api.errors import error_responses
from api.params import IdPath, Offset
from api.routers.jobs import EnqueueDep
from api.schemas.copy import CalendarRequest
from api.schemas.jobs import JobAccepted
from store.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from store.models import DraftStatus, JobStatus

router = APIRouter(prefix="/v1/copy", tags=["copy"])
AUTH = (Unauthenticated, Forbidden)


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/check",
    response_model=CopyCheckResult,
    responses=error_responses(*AUTH),
    summary="广告法合规检查",
)
def check_copy(body: CopyCheckRequest, _caller: AgentDep) -> CopyCheckResult:
    """Return every 广告法 violation with its span, article and suggestion, plus a fixed text."""
    return service.check_copy(body)


@router.post(
    "/moments",
    response_model=moments.MomentsResult,
    responses=error_responses(*AUTH, NotFound, MomentsConstraintError, UnsafePromoText),
    summary="生成朋友圈文案（已过广告法、事实与新鲜度检查）",
)
def generate_moments(
    body: moments.MomentsRequest, caller: OwnerDep, runtime: RuntimeDep
) -> moments.MomentsResult:
    """Variants written from the store's product facts; each is saved as a draft to approve."""
    return moments.generate_moments(runtime, caller.shop_id, body, now=_now())


@router.get("/drafts", response_model=list[moments.DraftPublic], responses=error_responses(*AUTH))
def list_drafts(
    caller: OwnerDep,
    runtime: RuntimeDep,
    status_: Annotated[DraftStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[moments.DraftPublic]:
    """The shop's drafts, newest first, with their compliance report and provenance."""
    return moments.list_drafts(runtime, caller.shop_id, status=status_, limit=limit, offset=offset)


@router.post(
    "/drafts/{draft_id}/approve",
    response_model=moments.DraftPublic,
    responses=error_responses(*AUTH, NotFound, DraftAlreadyDecided),
)
def approve_draft(draft_id: IdPath, caller: OwnerDep, runtime: RuntimeDep) -> moments.DraftPublic:
    """Approve a draft; approved posts feed the novelty check of later generations."""
    return moments.decide_draft(runtime, caller.shop_id, draft_id, DraftStatus.approved, now=_now())


@router.post(
    "/drafts/{draft_id}/reject",
    response_model=moments.DraftPublic,
    responses=error_responses(*AUTH, NotFound, DraftAlreadyDecided),
)
def reject_draft(draft_id: IdPath, caller: OwnerDep, runtime: RuntimeDep) -> moments.DraftPublic:
    return moments.decide_draft(runtime, caller.shop_id, draft_id, DraftStatus.rejected, now=_now())


@router.post(
    "/calendar",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=error_responses(*AUTH, QueueUnavailable),
    summary="按库存生成内容排期（后台任务）",
)
def plan_calendar(
    body: CalendarRequest, caller: OwnerDep, runtime: RuntimeDep, enqueue: EnqueueDep
) -> JobAccepted:
    """A dated plan of 干货/种草/互动/促销 posts; follow it at `/v1/jobs/{job_id}`."""
    params = body.model_dump(mode="json") | {"as_of": _now().date().isoformat()}
    job = submit_job(runtime, enqueue, shop_id=caller.shop_id, kind=copy_tasks.KIND, params=params)
    return JobAccepted.of(job)


@router.get(
    "/calendar/{job_id}.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "排期表 CSV (UTF-8 BOM)"},
        **error_responses(*AUTH, NotFound, CalendarNotReady, InvalidInput),
    },
)
def calendar_csv(job_id: str, caller: OwnerDep, runtime: RuntimeDep) -> Response:
    job = read_job(runtime, caller.shop_id, job_id)
    if job.kind != copy_tasks.KIND:
        raise NotFound(f"排期任务 {job_id!r} 不存在")
    if job.status is not JobStatus.succeeded or job.result is None:
        raise CalendarNotReady(f"排期任务状态为 {job.status.value}，完成后才能导出")
    return Response(
        content=plan_csv(job.result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="calendar-{job_id[:8]}.csv"'},
    )
