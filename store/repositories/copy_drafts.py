"""Moments copy drafts of one shop: generated variants with their checks and provenance.

Status moves draft → approved | rejected, once. The newest approved posts (with their stored
embeddings) feed the copywriter's novelty check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import CopyDraft, DraftStatus


class CopyDraftRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        shop_id: int,
        *,
        skus: Sequence[str],
        goal: str,
        audience: str,
        tone: str,
        text: str,
        compliance: dict[str, Any],
        facts: dict[str, Any],
        provenance: dict[str, Any],
        embedding: Sequence[float] | None = None,
    ) -> CopyDraft:
        draft = CopyDraft(
            shop_id=shop_id,
            skus=list(skus),
            goal=goal,
            audience=audience,
            tone=tone,
            text=text,
            compliance=compliance,
            facts=facts,
            provenance=provenance,
            status=DraftStatus.draft,
            embedding=[float(x) for x in embedding] if embedding is not None else None,
        )
        self.session.add(draft)
        self.session.flush()
        return draft

    def get(self, shop_id: int, draft_id: int) -> CopyDraft:
        draft = self.session.scalar(
            select(CopyDraft).where(CopyDraft.shop_id == shop_id, CopyDraft.id == draft_id)
        )
        if draft is None:
            raise NotFound(f"草稿 {draft_id} 不存在")
        return draft

    def count(self, shop_id: int) -> int:
        query = select(func.count()).select_from(CopyDraft).where(CopyDraft.shop_id == shop_id)
        return self.session.scalar(query) or 0

    def list_for_shop(
        self, shop_id: int, *, status: DraftStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[CopyDraft]:
        """Newest first."""
        query = select(CopyDraft).where(CopyDraft.shop_id == shop_id)
        if status is not None:
            query = query.where(CopyDraft.status == status)
        query = query.order_by(CopyDraft.id.desc()).offset(offset).limit(limit)
        return list(self.session.scalars(query))

    def decide(
        self, shop_id: int, draft_id: int, status: DraftStatus, *, now: datetime
    ) -> tuple[CopyDraft, bool]:
        """Approve or reject a draft. Returns (draft, changed); a decided draft is not changed."""
        draft = self.get(shop_id, draft_id)
        if draft.status is not DraftStatus.draft:
            return draft, False
        draft.status = status
        draft.decided_at = now
        self.session.flush()
        return draft, True

    def recent_approved_vectors(self, shop_id: int, *, limit: int = 30) -> list[tuple[int, list[float]]]:
        """(draft id, embedding) of the newest approved posts; those without an embedding are skipped."""
        rows = self.session.execute(
            select(CopyDraft.id, CopyDraft.embedding)
            .where(CopyDraft.shop_id == shop_id, CopyDraft.status == DraftStatus.approved)
            .order_by(CopyDraft.decided_at.desc(), CopyDraft.id.desc())
            .limit(limit)
        )
        return [(draft_id, list(vec)) for draft_id, vec in rows if vec]
