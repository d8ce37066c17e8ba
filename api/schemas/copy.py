"""The Moments calendar request (api/routers/copy.py). The check, Moments and draft models are the
copywriter's own typed outputs (agents/copywriter/schemas.py, moments.py), served as they are."""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field

from agents.copywriter.calendar import MAX_DAYS, MAX_PER_DAY
from api.schemas.base import Schema


class CalendarRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    start_date: date
    days: int = Field(14, ge=1, le=MAX_DAYS)
    per_day: int = Field(1, ge=1, le=MAX_PER_DAY)
    promo_ratio_max: float = Field(0.3, ge=0, le=1, description="促销帖占比上限")
    skus: list[str] | None = Field(None, max_length=200, description="只排这些商品；默认全部在售商品")
