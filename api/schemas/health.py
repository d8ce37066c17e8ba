"""The health check (api/routers/health.py)."""

from __future__ import annotations

from typing import Literal

from api.schemas.base import Schema


class Health(Schema):
    status: Literal["ok"]
    engine: Literal["offline", "llm"]
    embedder: str
    database: str
    version: str
