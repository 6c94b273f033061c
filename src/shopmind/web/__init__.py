"""The merchant console: server-rendered pages (Jinja2) made live with htmx, served by `shopmind serve` at `/`.

`install(app)` adds the pages (`/`, `/ui/...`) and the vendored static assets (`/ui/static/...`).
The API-key middleware leaves these paths to the console, which signs users in with the same keys
and checks the same roles (see `web/context.py`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")


class _CachedStatic(StaticFiles):
    """Vendored assets change only with a release: let the browser keep them for a day."""

    async def get_response(self, path, scope):  # type: ignore[override]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=86400"
        return response


def install(app: FastAPI) -> None:
    from shopmind.web.context import Denied
    from shopmind.web.views import router

    app.include_router(router)
    app.mount("/ui/static", _CachedStatic(directory=str(STATIC)), name="console-static")

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied):  # noqa: ANN202
        return exc.response
