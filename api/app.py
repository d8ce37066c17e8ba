"""FastAPI app factory. Long-lived clients are built once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agents.runtime import Runtime
from api.errors import install_error_handlers
from api.logging import configure_logging
from api.routers import conversations as conversations_router
from api.routers import copy as copy_router
from api.routers import customers as customers_router
from api.routers import forecast as forecast_router
from api.routers import handoffs as handoffs_router
from api.routers import health, shops
from api.routers import jobs as jobs_router
from api.routers import kb as kb_router
from api.routers import recommend as recommend_router
from api.routers import webhooks as webhooks_router
from store.settings import Settings, load_settings

API_DESCRIPTION = """
私域 AI 运营服务：客服、朋友圈文案、推荐与补货预测。

Authenticate with `Authorization: Bearer <API key>`. Every error has the shape
`{"error": "<code>", "detail": "<message>"}`.
"""


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Tests pass a prepared `runtime`; production builds one from settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or Runtime.from_settings(settings or load_settings())
        configure_logging(rt.settings.log_level)
        app.state.runtime = rt
        try:
            yield
        finally:
            if owned:
                rt.close()

    app = FastAPI(title="siyu", version="0.1.0", description=API_DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(shops.router)
    app.include_router(copy_router.router)
    app.include_router(jobs_router.router)
    app.include_router(forecast_router.router)
    app.include_router(kb_router.router)
    app.include_router(recommend_router.router)
    app.include_router(conversations_router.router)
    app.include_router(handoffs_router.router)
    app.include_router(customers_router.router)
    app.include_router(webhooks_router.router)
    return app
