"""Jobs: long work (ingestion, calendars, forecasts, evals) tracked row by row.

Status moves one way: queued → running → succeeded | failed. Every write is a single
UPDATE scoped by `shop_id` and `job_id`, so the worker's progress writes never race the
API's reads into a lost update, and a terminal job is never reopened.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import Job, JobStatus

TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed})
MESSAGE_MAX = 255


def _clip(message: str) -> str:
    return message if len(message) <= MESSAGE_MAX else message[: MESSAGE_MAX - 1] + "…"


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, shop_id: int, kind: str, params: dict[str, Any] | None = None, message: str = "") -> Job:
        job = Job(
            id=str(uuid.uuid4()),
            shop_id=shop_id,
            kind=kind,
            status=JobStatus.queued,
            progress=0.0,
            message=_clip(message),
            params=dict(params or {}),
        )
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, shop_id: int, job_id: str) -> Job:
        job = self.session.scalar(select(Job).where(Job.id == job_id, Job.shop_id == shop_id))
        if job is None:
            raise NotFound(f"任务 {job_id!r} 不存在")
        return job

    def list_for_shop(self, shop_id: int, *, kind: str | None = None, limit: int = 50) -> list[Job]:
        query = select(Job).where(Job.shop_id == shop_id)
        if kind is not None:
            query = query.where(Job.kind == kind)
        return list(self.session.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit)))

    def set_celery_id(self, shop_id: int, job_id: str, celery_id: str) -> None:
        self._update(shop_id, job_id, None, celery_id=celery_id)

    def start(self, shop_id: int, job_id: str, message: str = "") -> bool:
        """Mark running. False when the job already ended (a redelivered message): do not rerun it."""
        return self._update(
            shop_id,
            job_id,
            (JobStatus.queued, JobStatus.running),
            status=JobStatus.running,
            message=_clip(message),
        )

    def set_progress(self, shop_id: int, job_id: str, progress: float, message: str = "") -> bool:
        return self._update(
            shop_id,
            job_id,
            (JobStatus.queued, JobStatus.running),
            progress=min(max(progress, 0.0), 1.0),
            message=_clip(message),
        )

    def succeed(self, shop_id: int, job_id: str, result: dict[str, Any], message: str = "") -> bool:
        return self._update(
            shop_id,
            job_id,
            (JobStatus.queued, JobStatus.running),
            status=JobStatus.succeeded,
            progress=1.0,
            result=result,
            message=_clip(message),
        )

    def fail(self, shop_id: int, job_id: str, error: str, message: str = "任务失败") -> bool:
        return self._update(
            shop_id,
            job_id,
            (JobStatus.queued, JobStatus.running),
            status=JobStatus.failed,
            error=error,
            message=_clip(message),
        )

    def _update(
        self, shop_id: int, job_id: str, from_states: tuple[JobStatus, ...] | None, **values: Any
    ) -> bool:
        """One UPDATE; True when a row changed. An unknown or foreign job is `NotFound`."""
        query = update(Job).where(Job.id == job_id, Job.shop_id == shop_id)
        if from_states is not None:
            query = query.where(Job.status.in_(from_states))
        changed = self.session.execute(query.values(**values)).rowcount  # type: ignore[attr-defined]  # CursorResult on DML
        if changed:
            return True
        self.get(shop_id, job_id)  # raises NotFound for an unknown or foreign job
        return False
