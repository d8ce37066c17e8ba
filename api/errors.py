"""The one handler: any `SiyuError` becomes `{"error": code, "detail": message}`.

Payload validation stays FastAPI's 422, reshaped into the same envelope. Unexpected
exceptions are logged with their traceback and answered with a generic 500 in the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from store.errors import SiyuError

log = logging.getLogger("siyu.api")


class ErrorBody(BaseModel):
    error: str
    detail: str


def error_responses(*errors: type[SiyuError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the errors an endpoint can raise, grouped by status."""
    by_status: dict[int, list[type[SiyuError]]] = {}
    for err in errors:
        by_status.setdefault(err.status, []).append(err)
    return {
        status: {
            "model": ErrorBody,
            "description": " | ".join(f"`{e.code}`: {e.default_detail}" for e in errs),
        }
        for status, errs in sorted(by_status.items())
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SiyuError)
    async def _siyu_error(_request: Request, exc: SiyuError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("api.error", extra={"code": exc.code, "detail": exc.detail})
        return JSONResponse(status_code=exc.status, content={"error": exc.code, "detail": exc.detail})

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{loc}: {err.get('msg')}")
        return JSONResponse(
            status_code=422,
            content={"error": "validation_error", "detail": "请求参数有误: " + "; ".join(parts)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unhandled", exc_info=exc)
        return JSONResponse(
            status_code=500, content={"error": "internal_error", "detail": "服务内部错误，请稍后重试"}
        )
