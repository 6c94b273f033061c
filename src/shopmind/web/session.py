"""Console sign-in: an opaque server-side session id in a cookie, mapped to the API key's id and role.

Why server-side and opaque: the browser never holds the API key after sign-in, a revoked key ends
its sessions on the next request (the key is looked up each time), and the cookie alone says
nothing. The cookie is HttpOnly + SameSite=Strict; each session also carries a CSRF token that
every state-changing form post must echo (form field `csrf_token` or header `X-CSRF-Token`).

Sessions live in memory: a server restart signs everyone out, which is the safe direction.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shopmind.security.keys import KeyStore, role_allows

COOKIE = "smc_session"
TTL_S = 12 * 3600
MAX_SESSIONS = 10_000


@dataclass
class Session:
    sid: str
    csrf: str
    key_id: str | None = None
    role: str | None = None  # None = not signed in
    created: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.time)


class SessionStore:
    """Sessions by id; a bounded dict (oldest dropped first) so a flood of anonymous visits cannot grow memory."""

    def __init__(self, home: Path) -> None:
        self.keys = KeyStore.for_home(home)
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self) -> Session:
        s = Session(sid=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(24))
        with self._lock:
            if len(self._items) >= MAX_SESSIONS:
                for sid in sorted(self._items, key=lambda k: self._items[k].seen)[: MAX_SESSIONS // 10]:
                    self._items.pop(sid, None)
            self._items[s.sid] = s
        return s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            s = self._items.get(sid)
            if s is None:
                return None
            if time.time() - s.created > TTL_S:
                self._items.pop(sid, None)
                return None
            s.seen = time.time()
        if s.key_id is not None and not self._key_active(s.key_id):
            s.key_id, s.role = None, None  # the key was revoked: signed out from now on
        return s

    def _key_active(self, key_id: str) -> bool:
        return any(r.id == key_id and r.active for r in self.keys.list())

    def sign_in(self, old: Session | None, key: str) -> Session | None:
        """A fresh session (new id: no fixation) for a valid key; None for a wrong one."""
        record = self.keys.verify(key.strip()) if key and key.strip() else None
        if record is None:
            return None
        if old is not None:
            self.drop(old.sid)
        s = self.new()
        s.key_id, s.role = record.id, record.role
        return s

    def drop(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)

    def auth_on(self) -> bool:
        return self.keys.auth_enabled()


def csrf_ok(session: Session | None, token: str | None) -> bool:
    return bool(session and token) and hmac.compare_digest(session.csrf, token or "")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def allows(role: str | None, need: str) -> bool:
    return role is not None and role_allows(role, need)
