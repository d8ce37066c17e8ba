from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import RuntimeDep, SessionDep
from api.schemas.health import Health

router = APIRouter(prefix="/v1", tags=["health"])


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
