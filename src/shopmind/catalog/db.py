"""SQLite connections shared by every store module.

WAL mode lets readers run beside one writer (the API serves while a batch ingests);
`busy_timeout` makes concurrent writers wait instead of failing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shopmind.config import Settings


def connect(settings: Settings | Path, *, check_same_thread: bool = False) -> sqlite3.Connection:
    """Open the project database (creating folders), in WAL mode with sane pragmas."""
    path = settings.db_path if isinstance(settings, Settings) else Path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=check_same_thread, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class transaction:
    """`with transaction(conn): ...` — BEGIN IMMEDIATE … COMMIT, ROLLBACK on error (atomic batches)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
