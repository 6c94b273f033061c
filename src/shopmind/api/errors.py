"""Typed API errors: every failure is `{"error": {"code", "message", "detail"}}` with a fitting status.

That holds for our typed errors, for FastAPI's request validation (422), for routing (404/405),
for the auth and limit middleware (401/403/413/429) and for unexpected exceptions (500).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopmind.errors import ShopmindError

log = logging.getLogger("shopmind.api")


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """The body of every non-2xx response."""

    error: ErrorBody


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               406: "not_acceptable", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               422: "bad_input", 429: "rate_limited", 500: "internal_error", 503: "backend_unavailable"}


def error_body(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return ErrorResponse(error=ErrorBody(code=code, message=message, detail=detail or {})).model_dump()


def error_response(status: int, code: str, message: str, detail: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSONResponse in the one error shape (also usable from plain ASGI middleware)."""
    return JSONResponse(status_code=status, content=error_body(code, message, detail), headers=headers)


def _validation_items(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """loc/msg/type only: the offending input is not echoed (it may be megabytes, or a secret)."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors[:50]]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShopmindError)
    async def _shopmind_error(_: Request, exc: ShopmindError) -> JSONResponse:
        return error_response(exc.http_status, exc.code, exc.message, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        items = _validation_items(list(exc.errors()))
        summary = "; ".join(f"{'.'.join(i['loc'])}: {i['msg']}" for i in items[:5]) or "invalid request"
        return error_response(422, "bad_input", summary, {"errors": items})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        detail = exc.detail if isinstance(exc.detail, dict) else {}
        return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}"), message,
                              detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", f"internal error ({type(exc).__name__})")


# Declared on routes so the OpenAPI spec documents the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found"},
    409: {"model": ErrorResponse, "description": "A prerequisite step has not run"},
    422: {"model": ErrorResponse, "description": "Bad input"},
    503: {"model": ErrorResponse, "description": "Backend unavailable"},
}

# Added to every route by `create_app` (auth and limits apply everywhere).
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request body"},
    401: {"model": ErrorResponse, "description": "Missing or invalid API key"},
    403: {"model": ErrorResponse, "description": "The key's role may not call this route"},
    404: {"model": ErrorResponse, "description": "Not found"},
    409: {"model": ErrorResponse, "description": "A prerequisite step has not run"},
    413: {"model": ErrorResponse, "description": "Request larger than the configured bounds"},
    422: {"model": ErrorResponse, "description": "Bad input"},
    429: {"model": ErrorResponse, "description": "Rate limit or concurrency cap reached (see Retry-After)"},
    500: {"model": ErrorResponse, "description": "Internal error"},
    503: {"model": ErrorResponse, "description": "Backend unavailable"},
}
