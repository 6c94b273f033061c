"""Typed API errors: every failure is `{"error": {"code", "message", "detail"}}` with a fitting status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shopmind.errors import ShopmindError


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """The body of every non-2xx response."""

    error: ErrorBody


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShopmindError)
    async def _shopmind_error(_: Request, exc: ShopmindError) -> JSONResponse:
        body = ErrorResponse(error=ErrorBody(code=exc.code, message=exc.message, detail=exc.detail))
        return JSONResponse(status_code=exc.http_status, content=body.model_dump())


# Declared on routes so the OpenAPI spec documents the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found"},
    409: {"model": ErrorResponse, "description": "A prerequisite step has not run"},
    422: {"model": ErrorResponse, "description": "Bad input"},
    503: {"model": ErrorResponse, "description": "Backend unavailable"},
}
