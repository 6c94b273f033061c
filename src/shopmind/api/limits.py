"""Input bounds and per-key throttles: a request past a limit costs milliseconds, not the encoder lock.

- `BodyLimitMiddleware` (ASGI): refuses a body by its Content-Length before reading it, and
  counts bytes while streaming for chunked bodies; the limit depends on the route (JSON,
  image upload, catalog upload). Also bounds the query string.
- `json_bounds` (a FastAPI dependency on every route): the longest list, the deepest nesting and
  the longest string of a JSON body, against `api_max_items`, `api_max_json_depth`, `api_max_text_chars`.
- `ThrottleMiddleware` (ASGI): for LLM and media routes, a token bucket per key (or per client
  address when auth is off) and a cap on requests in flight per key; both answer 429 with Retry-After.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopmind.api.errors import error_response
from shopmind.config import Settings, get_settings
from shopmind.errors import BadInput, ShopmindError

UPLOAD_PATHS = frozenset({"/catalog/ingest", "/jobs/ingest"})
# Routes whose whole input is a short query (+ filters / a history of ids): a small body limit lets a
# megabyte query be refused from its Content-Length, before a byte of it is read or parsed.
SMALL_BODY_PATHS = frozenset({"/search", "/recommend"})
# POST routes that run the LLM, image models or OCR: throttled per key.
HEAVY_PREFIXES = ("/content/", "/media/", "/service/ask", "/service/tickets", "/search/image", "/live/script", "/jobs/")


class TooLarge(ShopmindError):
    """A request is past one of the configured bounds."""

    code = "too_large"
    http_status = 413


def body_limit_for(path: str, content_type: str, settings: Settings) -> int:
    """Catalog uploads may be large; other multipart bodies carry one image; JSON stays small."""
    if path.rstrip("/") in UPLOAD_PATHS:
        return settings.api_max_upload_bytes
    if content_type.startswith("multipart/"):
        return settings.max_image_bytes + 1024 * 1024
    if path.rstrip("/") in SMALL_BODY_PATHS:
        return min(settings.api_max_small_body_bytes, settings.api_max_body_bytes)
    return settings.api_max_body_bytes


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_qs = max(8192, 4 * self.settings.api_max_query_chars)
        if len(scope.get("query_string") or b"") > max_qs:
            await _too_large(scope, receive, send, "query string", max_qs)
            return
        headers = dict(scope.get("headers") or [])
        limit = body_limit_for(scope["path"], headers.get(b"content-type", b"").decode("latin-1").lower(), self.settings)
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                response = error_response(400, "bad_request", "Content-Length is not a number")
                await response(scope, receive, send)
                return
            if length > limit:
                await _too_large(scope, receive, send, "request body", limit, length)
                return
        seen = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True  # the app sees a disconnect; we answer 413 below
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to the cut-off body, the client gets 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _too_large(scope, receive, send, "request body", limit, seen)


async def _too_large(scope: Scope, receive: Receive, send: Send, what: str, limit: int, got: int | None = None) -> None:
    detail = {"limit": limit} | ({"got": got} if got is not None else {})
    response = error_response(413, "too_large", f"{what} is larger than {limit} bytes", detail,
                              headers={"Connection": "close"})
    await response(scope, receive, send)


def check_json_bounds(value: object, settings: Settings) -> None:
    """Walk a parsed JSON value without recursion; raise `TooLarge` at the first bound it passes."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (list, dict)):
            if depth > settings.api_max_json_depth:
                raise TooLarge(f"JSON nested deeper than {settings.api_max_json_depth} levels",
                               detail={"limit": "api_max_json_depth", "max": settings.api_max_json_depth})
            if len(node) > settings.api_max_items:
                raise TooLarge(f"a JSON list or object has {len(node)} items; at most {settings.api_max_items}",
                               detail={"limit": "api_max_items", "max": settings.api_max_items, "got": len(node)})
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
            if isinstance(node, dict):
                stack.extend((k, depth + 1) for k in node)
        elif isinstance(node, str) and len(node) > settings.api_max_text_chars:
            raise TooLarge(f"a JSON string has {len(node)} characters; at most {settings.api_max_text_chars}",
                           detail={"limit": "api_max_text_chars", "max": settings.api_max_text_chars, "got": len(node)})


def app_settings(request: Request) -> Settings:
    """The settings the app was built with (tests build apps with their own), else the process-wide ones."""
    return getattr(request.app.state, "settings", None) or get_settings()


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes, reading at most one past `limit` so an oversized file is refused, not buffered."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise BadInput(f"upload {upload.filename!r} is larger than {limit} bytes")
    return data


async def json_bounds(request: Request) -> None:
    """App-wide dependency: FastAPI has parsed (and cached) the JSON body by now; bound its shape."""
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        return
    try:
        body = await request.json()
    except Exception:  # malformed JSON is reported by FastAPI's own validation
        return
    check_json_bounds(body, app_settings(request))


def check_catalog_rows(path, settings: Settings) -> int:
    """Rows in an uploaded catalog (a line count, so it costs one read of the file); `TooLarge` past
    `api_max_catalog_rows`."""
    from shopmind.ops.catalog import count_catalog_rows

    rows = count_catalog_rows(path)
    if rows > settings.api_max_catalog_rows:
        raise TooLarge(f"catalog has about {rows} rows; at most {settings.api_max_catalog_rows} per upload",
                       detail={"limit": "api_max_catalog_rows", "max": settings.api_max_catalog_rows, "got": rows})
    return rows


def check_query_length(text: str | None) -> str | None:
    """Field validator helper: a search query longer than `api_max_query_chars` is bad input (422)."""
    limit = get_settings().api_max_query_chars
    if text is not None and len(text) > limit:
        raise ValueError(f"query has {len(text)} characters; at most {limit} (api_max_query_chars)")
    return text


@dataclass
class _Bucket:
    tokens: float
    updated: float
    in_flight: int = 0
    last_seen: float = field(default_factory=time.monotonic)


class ThrottleMiddleware:
    """Token bucket + concurrency cap per key for heavy routes. Runs on the event loop: no locks needed."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.rate = max(settings.api_rate_per_minute, 0.0) / 60.0
        self.burst = max(settings.api_rate_burst, 1)
        self.max_concurrent = max(settings.api_max_concurrent, 1)
        self.buckets: dict[str, _Bucket] = {}

    def _identity(self, scope: Scope) -> str:
        record = (scope.get("state") or {}).get("api_key")
        if record is not None:
            return f"key:{record.id}"
        client = scope.get("client") or ("local", 0)
        return f"addr:{client[0]}"

    def _prune(self, now: float) -> None:
        if len(self.buckets) > 10_000:
            for ident in [i for i, b in self.buckets.items() if b.in_flight == 0 and now - b.last_seen > 600]:
                del self.buckets[ident]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith(HEAVY_PREFIXES) or path.endswith("/cancel"):
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        ident = self._identity(scope)
        bucket = self.buckets.get(ident)
        if bucket is None:
            self._prune(now)
            bucket = self.buckets[ident] = _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = bucket.last_seen = now
        if bucket.in_flight >= self.max_concurrent:
            response = error_response(429, "rate_limited", f"at most {self.max_concurrent} LLM/media requests in flight per key",
                                      {"limit": "api_max_concurrent", "max": self.max_concurrent}, headers={"Retry-After": "1"})
            await response(scope, receive, send)
            return
        if bucket.tokens < 1.0:
            wait = math.ceil((1.0 - bucket.tokens) / self.rate) if self.rate > 0 else 60
            response = error_response(429, "rate_limited", f"rate limit: {self.rate * 60:g} LLM/media requests per minute per key",
                                      {"limit": "api_rate_per_minute", "retry_after_s": wait}, headers={"Retry-After": str(wait)})
            await response(scope, receive, send)
            return
        bucket.tokens -= 1.0
        bucket.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            bucket.in_flight -= 1
