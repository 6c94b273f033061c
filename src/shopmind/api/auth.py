"""API-key authentication and role checks, as plain ASGI middleware in front of every route.

Why middleware and not a FastAPI dependency: it also guards what FastAPI adds by itself (the
OpenAPI document and the docs pages), mounted static apps, and unknown paths, and it answers
before a request body is read.

Roles (read < write < admin), by route:
- public: `/health`; also `/docs`, `/redoc`, `/openapi.json` when `api_public_docs` is set, and GET
  `/streams…` (HLS playlists and segments) when `api_public_streams` is set;
- admin: `/keys…`;
- read: every GET, and the POSTs that only compute an answer and change nothing
  (`READ_POSTS`: search, recommend, compliance check/rewrite, live price, A/B plan, NSFW screen);
- write: every other POST/PUT/PATCH/DELETE (ingest, tag, jobs, generation with the LLM, tickets …).

With no key ever created, auth is off (the server then refuses to bind a non-loopback address,
see `shopmind serve`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from shopmind.api.errors import error_response
from shopmind.config import get_settings
from shopmind.errors import ShopmindError
from shopmind.security.keys import CreatedKey, KeyRecord, KeyStore, Role, role_allows

PUBLIC_PATHS = frozenset({"/health"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
ADMIN_PREFIXES = ("/keys",)
CONSOLE_PREFIX = "/ui"
READ_POSTS = frozenset({"/search", "/search/image", "/recommend", "/compliance/check", "/compliance/rewrite",
                        "/live/price", "/ab/plan", "/media/nsfw"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_role(method: str, path: str, *, public_docs: bool = False, public_streams: bool = False) -> str | None:
    """The least role that may call `method path`; None = no key needed."""
    path = path.rstrip("/") or "/"
    if path in PUBLIC_PATHS or (public_docs and path in DOCS_PATHS):
        return None
    if path == "/" or path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        return None  # the web console signs in with the same keys and checks the same roles itself (shopmind.web)
    if public_streams and method.upper() in READ_METHODS and (path == "/streams" or path.startswith("/streams/")):
        return None
    if path.startswith(ADMIN_PREFIXES):
        return "admin"
    if method.upper() in READ_METHODS or path in READ_POSTS:
        return "read"
    return "write"


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key from `Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


class AuthMiddleware:
    """401 without a valid key, 403 when the key's role is below the route's; stores the key in scope state."""

    def __init__(self, app: ASGIApp, *, home: Path, public_docs: bool = False, public_streams: bool = False) -> None:
        self.app = app
        self.keys = KeyStore.for_home(home)
        self.public_docs = public_docs
        self.public_streams = public_streams
        self._auth_on = False  # once a key exists auth stays on (see KeyStore.auth_enabled): cache the True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        need = required_role(scope["method"], scope["path"], public_docs=self.public_docs, public_streams=self.public_streams)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["api_key"] = None
        if need is not None and not self._auth_on:
            self._auth_on = self.keys.auth_enabled()
        if need is None or not self._auth_on:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = presented_key(headers)
        record = self.keys.verify(key) if key else None
        if record is None:
            reason = "missing API key" if key is None else "invalid or revoked API key"
            response = error_response(401, "unauthorized", f"{reason}: send `Authorization: Bearer KEY` or `X-API-Key: KEY`",
                                      headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        if not role_allows(record.role, need):
            response = error_response(403, "forbidden", f"this route needs a {need} key; key {record.id} is {record.role}",
                                      {"required_role": need, "key_role": record.role})
            await response(scope, receive, send)
            return
        state["api_key"] = record
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- admin routes: manage keys over HTTP
router = APIRouter(prefix="/keys", tags=["admin"])


class KeyCreate(BaseModel):
    role: Role = Field(..., description="read, write or admin")
    name: str = Field("", max_length=200, description="A label to recognise the key by.")


class Forbidden(ShopmindError):
    code = "forbidden"
    http_status = 403


def _keys(request: Request) -> KeyStore:
    """The key table the auth middleware of this app checks."""
    settings = getattr(request.app.state, "settings", None) or get_settings()
    return KeyStore.for_home(settings.home)


@router.get("", response_model=list[KeyRecord])
def list_keys(request: Request) -> list[KeyRecord]:
    """Every key's id, role, name and dates (never the secret). Admin only."""
    return _keys(request).list()


@router.post("", response_model=CreatedKey, status_code=201)
def create_key(request: Request, body: KeyCreate) -> CreatedKey:
    """A new key; the `key` field is shown this once. Admin only; the first key comes from `shopmind keys create`."""
    keys = _keys(request)
    if not keys.auth_enabled():
        raise Forbidden("auth is off: create the first (admin) key on the server with `shopmind keys create --role admin`")
    return keys.create(body.role, body.name)


@router.post("/{key_id}/revoke", response_model=KeyRecord)
def revoke_key(request: Request, key_id: str) -> KeyRecord:
    """Revoke a key at once (auth stays on even when no key is left). Admin only."""
    return _keys(request).revoke(key_id)
