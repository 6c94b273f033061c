"""The FastAPI application: routers per capability, typed errors, OpenAPI docs at /docs.

In front of the routes, outermost first: CORS (only when origins are configured), API-key auth
(`api/auth.py`), body-size bounds and per-key throttles (`api/limits.py`). Long operations run
as jobs on a runner started in the lifespan (`api/jobs.py`, `ops/jobs.py`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from shopmind import __version__
from shopmind.api.auth import AuthMiddleware, required_role
from shopmind.api.errors import COMMON_ERROR_RESPONSES, install_error_handlers
from shopmind.api.limits import BodyLimitMiddleware, ThrottleMiddleware, json_bounds
from shopmind.app import Shopmind
from shopmind.config import Settings, get_settings

log = logging.getLogger("shopmind.api")


# Each capability's routes live in `shopmind.api.<name>` as `router`.
ROUTERS = ("catalog", "compliance", "live", "ab", "feedback", "media", "service", "qa", "generate", "jobs", "auth", "stream", "anchor")

_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer smk_…"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def _openapi_with_auth(app: FastAPI, settings: Settings):
    """The generated spec plus the key schemes and each operation's required role (`x-required-role`)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(_SECURITY_SCHEMES)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                role = required_role(method.upper(), path, public_docs=settings.api_public_docs,
                                     public_streams=settings.api_public_streams)
                operation["x-required-role"] = role or "none"
                operation["security"] = [] if role is None else [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = schema
        return schema

    return build


def _warm(sm: Shopmind) -> None:
    try:
        sm.warm_vector_serving()
    except Exception:  # noqa: BLE001 - warming is an optimisation: queries still work, via LanceDB
        log.warning("could not warm the search snapshots", exc_info=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from `shopmind.config.get_settings()` (SHOPMIND_* env)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import anyio.to_thread

        from shopmind.api.jobs import start_runner

        # Sync routes run in this pool. On a few cores, dozens of Python threads only fight over the GIL
        # and starve the event loop (/health); a small pool queues the extra requests instead.
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(2, settings.api_threads)
        runner = start_runner(settings, app.state.shopmind)  # jobs run on the server's one app
        app.state.job_runner = runner
        threading.Thread(target=_warm, args=(app.state.shopmind,), daemon=True, name="shopmind-warm").start()
        import asyncio

        from shopmind.api.priority import keep_loop_responsive

        renicer = asyncio.create_task(keep_loop_responsive(settings.api_worker_nice, settings.api_gc_freeze_ms))
        try:
            yield
        finally:
            renicer.cancel()
            runner.stop()
            app.state.shopmind.close()  # the store's connections; a later request would reopen (deps.py)

    app = FastAPI(
        title="shopmind",
        version=__version__,
        description="Multimodal AI content engine for e-commerce: catalog, understanding, search, content, compliance.\n\n"
                    "Once an API key exists (`shopmind keys create`), every route but `/health` needs "
                    "`Authorization: Bearer KEY` or `X-API-Key: KEY`; each operation's `x-required-role` says which role.",
        dependencies=[Depends(json_bounds)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.shopmind = Shopmind(settings)  # built once: routes take it with Depends(api.deps.get_shopmind)
    install_error_handlers(app)
    for name in ROUTERS:
        app.include_router(importlib.import_module(f"shopmind.api.{name}").router, responses=COMMON_ERROR_RESPONSES)

    @app.get("/health", tags=["meta"], responses=COMMON_ERROR_RESPONSES)
    async def health() -> dict[str, str]:
        """Liveness: answered on the event loop itself (no worker thread), so it stays fast under load."""
        return {"status": "ok", "version": __version__}

    from shopmind.web import install as install_console

    install_console(app)  # the merchant console at / (pages under /ui, not in the OpenAPI schema)
    app.openapi = _openapi_with_auth(app, settings)  # type: ignore[method-assign]
    # add_middleware puts each new one outside the previous: this reads innermost → outermost.
    app.add_middleware(ThrottleMiddleware, settings=settings)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(AuthMiddleware, home=settings.home, public_docs=settings.api_public_docs,
                       public_streams=settings.api_public_streams)
    origins = [o.strip() for o in settings.api_cors_origins.split(",") if o.strip()]
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"], max_age=600)
    return app
