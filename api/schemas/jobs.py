"""Jobs and eval runs (api/routers/jobs.py); `JobAccepted` is every 202 that starts a job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from agents.jobs import JobView
from api.schemas.base import Schema, overlay
from store.models import JobStatus


class JobPublic(Schema):
    job_id: str
    kind: str
    status: JobStatus = Field(description="queued | running | succeeded | failed")
    progress: float = Field(ge=0, le=1)
    message: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None = Field(description="Why it failed (code: detail); null unless failed.")
    created_at: datetime
    updated_at: datetime


class JobAccepted(Schema):
    job_id: str
    kind: str
    status: JobStatus
    events_url: str = Field(description="GET this for progress as server-sent events.")

    @classmethod
    def of(cls, job: JobView) -> JobAccepted:
        return cls.model_validate(overlay(job, events_url=f"/v1/jobs/{job.job_id}/events"))


class EvalRun(Schema):
    suite: str = Field(min_length=1, max_length=100, examples=["retrieval"])
    quick: bool = Field(False, description="The CI subset, with the same thresholds.")
