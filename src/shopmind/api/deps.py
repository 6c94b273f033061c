"""Request dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from shopmind.app import Shopmind


def get_shopmind(request: Request) -> Shopmind:
    """The app object `create_app` built for this server (one store, one search engine, one image space).

    A router mounted on a bare FastAPI app (some tests do that) gets one built from the app's
    settings on first use, kept on `app.state` like the real one."""
    state = request.app.state
    sm = getattr(state, "shopmind", None)
    if sm is None or sm.closed:
        from shopmind.api.limits import app_settings

        sm = Shopmind(app_settings(request))
        state.shopmind = sm
    return sm
