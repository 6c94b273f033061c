"""The FastAPI application: routers per capability, typed errors, OpenAPI docs at /docs."""

from __future__ import annotations

from fastapi import FastAPI

from shopmind import __version__
from shopmind.api.errors import install_error_handlers


# Each capability's routes live in `shopmind.api.<name>` as `router`.
ROUTERS = ("catalog", "compliance", "live", "ab", "feedback", "media", "service", "qa", "generate")


def create_app() -> FastAPI:
    """Build the app; settings come from `shopmind.config.get_settings()` (SHOPMIND_* env)."""
    app = FastAPI(
        title="shopmind",
        version=__version__,
        description="Multimodal AI content engine for e-commerce: catalog, understanding, search, content, compliance.",
    )
    install_error_handlers(app)
    import importlib

    for name in ROUTERS:
        app.include_router(importlib.import_module(f"shopmind.api.{name}").router)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
