"""API keys: created once, shown once, stored only as a hash.

A key reads `smk_<id>_<secret>`. The id (12 hex characters) is stored in clear so a key can be
listed and revoked, and so verification is one indexed lookup. The secret is 32 random bytes
(256 bits), so a plain SHA-256 of it is enough at rest: a slow password hash only matters for
guessable secrets. Comparison uses `hmac.compare_digest`.

Auth switches on as soon as one key has ever been created (`KeyStore.auth_enabled`); revoking
every key therefore locks the API rather than opening it again. Delete `keys.db` to go back to
an open loopback-only server.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from shopmind.errors import BadInput, NotFound

Role = Literal["read", "write", "admin"]
ROLES: tuple[str, ...] = ("read", "write", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}
_KEY_RE = re.compile(r"^smk_([0-9a-f]{12})_([A-Za-z0-9_\-]{20,100})$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    secret_sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL,
    revoked REAL
);
"""


def role_allows(have: str, need: str) -> bool:
    """True when a key of role `have` may call a route that needs `need`."""
    return _RANK.get(have, -1) >= _RANK[need]


class KeyRecord(BaseModel):
    """What the server knows about a key (never the secret)."""

    id: str
    role: Role
    name: str = ""
    created: float
    last_used: float | None = None
    revoked: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None


class CreatedKey(BaseModel):
    """The only time the full key is visible."""

    key: str
    id: str
    role: Role
    name: str = ""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """SQLite table of hashed keys under `$SHOPMIND_HOME/keys.db`; one short connection per call."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # readers (every request) never wait for a writer
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    @classmethod
    def for_home(cls, home: Path) -> "KeyStore":
        return cls(Path(home) / "keys.db")

    def _conn(self, timeout: float = 10.0) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    def _query(self, sql: str, args: tuple = (), timeout: float = 10.0) -> list[sqlite3.Row]:
        conn = self._conn(timeout)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def create(self, role: str, name: str = "") -> CreatedKey:
        """A new key of `role`; the returned `key` is shown once and never stored."""
        if role not in ROLES:
            raise BadInput(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if len(name) > 200:
            raise BadInput("key name is longer than 200 characters")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self._query("INSERT INTO api_keys (id, role, name, secret_sha256, created) VALUES (?, ?, ?, ?, ?)",
                    (key_id, role, name, _digest(secret), time.time()))
        return CreatedKey(key=f"smk_{key_id}_{secret}", id=key_id, role=role, name=name)

    def list(self, include_revoked: bool = True) -> list[KeyRecord]:
        rows = self._query("SELECT id, role, name, created, last_used, revoked FROM api_keys ORDER BY created")
        records = [KeyRecord(**dict(r)) for r in rows]
        return records if include_revoked else [r for r in records if r.active]

    def revoke(self, key_id: str) -> KeyRecord:
        rows = self._query("SELECT id FROM api_keys WHERE id = ?", (key_id,))
        if not rows:
            raise NotFound(f"no API key with id {key_id!r}")
        self._query("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), key_id))
        return next(r for r in self.list() if r.id == key_id)

    def auth_enabled(self) -> bool:
        """Auth is on once any key has been created (revoked ones included)."""
        return bool(self._query("SELECT 1 FROM api_keys LIMIT 1"))

    def has_active_keys(self) -> bool:
        return bool(self._query("SELECT 1 FROM api_keys WHERE revoked IS NULL LIMIT 1"))

    def verify(self, key: str | None) -> KeyRecord | None:
        """The key's record when `key` is a live key, else None. Constant-time on the secret."""
        if not key:
            return None
        match = _KEY_RE.match(key.strip())
        if match is None:
            return None
        key_id, secret = match.groups()
        rows = self._query("SELECT id, role, name, secret_sha256, created, last_used, revoked FROM api_keys WHERE id = ?",
                           (key_id,))
        expected = rows[0]["secret_sha256"] if rows else _digest("no-such-key")  # same work either way
        ok = hmac.compare_digest(_digest(secret), expected)
        if not rows or not ok or rows[0]["revoked"] is not None:
            return None
        record = dict(rows[0])
        record.pop("secret_sha256")
        now = time.time()
        if record["last_used"] is None or now - record["last_used"] > 60:  # a write per key per minute at most
            try:
                # verify() runs on the server's event loop: never wait long for a writer just for this
                self._query("UPDATE api_keys SET last_used = ? WHERE id = ?", (now, key_id), timeout=0.05)
            except sqlite3.OperationalError:
                pass  # a busy database must not fail the request
            record["last_used"] = now
        return KeyRecord(**record)
