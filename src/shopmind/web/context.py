"""Per-request console context: the session, the language, the role check and CSRF, and page rendering.

Roles mirror the API exactly: a console action names the API route it stands for, and
`shopmind.api.auth.required_role` says which role that needs. The API's keys and the console's
sessions therefore can never disagree about who may do what.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shopmind.api.auth import required_role
from shopmind.web.i18n import pick_lang, translator
from shopmind.web.session import COOKIE, TTL_S, Session, SessionStore, allows, csrf_ok, is_loopback

TEMPLATES = Path(__file__).with_name("templates")
ENV = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "svg", "xml"], default=True),
                  trim_blocks=True, lstrip_blocks=True)

# Only our own scripts run (no inline script, no eval); images and media may be data: URLs we build.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

NAV = (("catalog", "/ui/catalog", "read"), ("search", "/ui/search", "read"), ("write", "/ui/write", "read"),
       ("check", "/ui/check", "read"), ("live", "/ui/live", "read"), ("media", "/ui/media", "read"),
       ("experiments", "/ui/experiments", "read"), ("service", "/ui/service", "read"), ("settings", "/ui/settings", "admin"))


def sessions(request: Request) -> SessionStore:
    store = getattr(request.app.state, "console_sessions", None)
    if store is None:
        from shopmind.api.limits import app_settings

        store = request.app.state.console_sessions = SessionStore(app_settings(request).home)
    return store


def api_role(method: str, path: str) -> str:
    """The role the API asks for `method path` (console actions use the same rule)."""
    return required_role(method, path) or "read"


@dataclass
class Ctx:
    request: Request
    session: Session
    lang: str
    role: str | None
    open_mode: bool
    new_cookie: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def t(self):
        return translator(self.lang)

    def can(self, need: str) -> bool:
        return allows(self.role, need)

    def html(self, template: str, **values: Any) -> str:
        """The template rendered for this user (language, role, CSRF token)."""
        htmx = self.request.headers.get("hx-request") == "true"
        return ENV.get_template(template).render(
            t=self.t, lang=self.lang, role=self.role, open_mode=self.open_mode, csrf=self.session.csrf,
            path=self.request.url.path, nav=[n for n in NAV if self.can(n[2])], htmx=htmx, can=self.can, **values)

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        """A page or fragment; sets the session cookie when this request made the session."""
        response = HTMLResponse(self.html(template, **values), status_code=status_code)
        self.finish(response)
        return response

    def finish(self, response: Response) -> Response:
        if self.new_cookie:
            set_session_cookie(response, self.session.sid)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.update(SECURITY_HEADERS)
        return response


def set_session_cookie(response: Response, sid: str) -> None:
    response.set_cookie(COOKIE, sid, max_age=TTL_S, httponly=True, samesite="strict", path="/")


def context(request: Request) -> Ctx:
    """The session (an anonymous one is made on first visit, to carry the CSRF token), language and role."""
    store = sessions(request)
    session = store.get(request.cookies.get(COOKIE))
    new = session is None
    if session is None:
        session = store.new()
    lang = pick_lang(request.cookies.get("smc_lang"), request.headers.get("accept-language"))
    open_mode = not store.auth_on()
    role = session.role
    if open_mode:
        # Mirrors the API: with no key ever created the server only binds loopback and is open there.
        role = "admin" if is_loopback(request.client.host if request.client else None) else None
    return Ctx(request=request, session=session, lang=lang, role=role, open_mode=open_mode, new_cookie=new)


class Denied(Exception):
    """Raised by `guard`; the handler installed in `shopmind.web.install` turns it into the response."""

    def __init__(self, response: Response) -> None:
        self.response = response


def guard(request: Request, need: str, *, form: dict | None = None) -> Ctx:
    """The context of a signed-in user with at least role `need`; for posts, a valid CSRF token too."""
    ctx = context(request)
    if ctx.role is None:
        if request.headers.get("hx-request") == "true":
            raise Denied(ctx.finish(Response(status_code=401, headers={"HX-Redirect": "/"})))
        raise Denied(ctx.finish(RedirectResponse("/", status_code=303)))
    page = "_error.html" if request.headers.get("hx-request") == "true" else "error.html"  # a fragment for htmx
    if request.method == "POST":
        token = request.headers.get("x-csrf-token") or (form or {}).get("csrf_token")
        if not csrf_ok(ctx.session, token if isinstance(token, str) else None):
            raise Denied(ctx.render(page, status_code=403, title=ctx.t("err.csrf_title"), code="csrf", message=ctx.t("err.csrf")))
    if not ctx.can(need):
        raise Denied(ctx.render(page, status_code=403, title=ctx.t("err.forbidden_title"), code="forbidden",
                                message=ctx.t("err.forbidden", need=need, have=ctx.role)))
    return ctx
