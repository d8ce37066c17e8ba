from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1", tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]
    engine: Literal["offline", "llm"]
    embedder: str
    database: str
    version: str


@router.get("/health", response_model=Health)
def health(runtime: RuntimeDep, session: SessionDep) -> Health:
    session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        engine=runtime.settings.engine_name,
        embedder=runtime.settings.embedder,
        database=runtime.engine.dialect.name,
        version="0.1.0",
    )
