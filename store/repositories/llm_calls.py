"""Usage records of chat-model calls (`llm_calls`): one row per call, failed ones included."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import LlmCall


class LlmCallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        shop_id: int | None,
        agent: str,
        prompt_id: str,
        prompt_version: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        latency_ms: float,
        ok: bool,
        error_code: str | None,
    ) -> LlmCall:
        row = LlmCall(
            shop_id=shop_id,
            agent=agent,
            prompt_id=prompt_id,
            prompt_version=prompt_version,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            ok=ok,
            error_code=error_code,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def list_for_shop(self, shop_id: int, *, limit: int = 100) -> Sequence[LlmCall]:
        return self.session.scalars(
            select(LlmCall).where(LlmCall.shop_id == shop_id).order_by(LlmCall.id.desc()).limit(limit)
        ).all()

    def token_totals(self, shop_id: int) -> tuple[int, int]:
        """(input_tokens, output_tokens) summed over the shop's calls."""
        row = self.session.execute(
            select(
                func.coalesce(func.sum(LlmCall.input_tokens), 0),
                func.coalesce(func.sum(LlmCall.output_tokens), 0),
            ).where(LlmCall.shop_id == shop_id)
        ).one()
        return int(row[0]), int(row[1])
