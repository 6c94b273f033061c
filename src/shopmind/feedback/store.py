"""Feedback tables in the project SQLite file: ratings and edits of generated outputs.

Edits are the most valuable signal (the operator's text is a better output than the model's),
so each one is kept as a preference pair: `after` preferred over `before` for the same prompt.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any

from shopmind.catalog.db import connect, transaction
from shopmind.config import Settings, get_settings
from shopmind.errors import NotFound
from shopmind.feedback.models import Edit, EditIn, Rating, RatingIn

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback_ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL, product_id TEXT, content_type TEXT,
    instruction TEXT NOT NULL, input TEXT NOT NULL DEFAULT '', output TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    operator TEXT, comment TEXT, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback_edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL, product_id TEXT, content_type TEXT,
    instruction TEXT NOT NULL, input TEXT NOT NULL DEFAULT '', before TEXT NOT NULL, after TEXT NOT NULL,
    operator TEXT, comment TEXT, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_ratings_product ON feedback_ratings (product_id, content_type);
CREATE INDEX IF NOT EXISTS feedback_edits_product ON feedback_edits (product_id, content_type);
"""

_COMMON = ("target", "product_id", "content_type", "instruction", "input", "operator", "comment")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def product_facts(product_id: str, catalog: Any) -> str:
    """A compact, stable text of the product's catalog facts, used as the `input` of a training row.

    `catalog` is the app's catalog store (`Shopmind.store`); an unknown product gives ""."""
    try:
        p = catalog.get_product(product_id)
    except NotFound:
        return ""
    parts = [f"title: {p.title}"]
    if p.category:
        parts.append(f"category: {p.category}")
    if p.price is not None:
        parts.append(f"price: {p.price:g}")
    parts += [f"{k}: {v}" for k, v in sorted(p.attributes.items()) if v]
    if p.description:
        parts.append(f"description: {p.description}")
    return "\n".join(parts)


class FeedbackStore:
    """Ratings and edits over one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection, settings: Settings | None = None, catalog: Any = None) -> None:
        self.conn = conn
        self.settings = settings
        self._catalog = catalog  # the app's catalog store; None: the settings' home's, opened when first needed
        conn.executescript(SCHEMA)

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from shopmind.catalog.store import open_store

            self._catalog = open_store(self.settings or get_settings())
        return self._catalog

    def _input(self, item: RatingIn | EditIn) -> str:
        if item.input is not None:
            return item.input
        return product_facts(item.product_id, self.catalog) if item.product_id else ""

    def add_rating(self, item: RatingIn) -> Rating:
        values = {**item.model_dump(), "input": self._input(item), "created_at": _now()}
        cols = (*_COMMON, "output", "rating", "created_at")
        with transaction(self.conn):
            cur = self.conn.execute(f"INSERT INTO feedback_ratings ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                    [values[c] for c in cols])
        return Rating(**values, id=int(cur.lastrowid))

    def add_edit(self, item: EditIn) -> Edit:
        values = {**item.model_dump(), "input": self._input(item), "created_at": _now()}
        cols = (*_COMMON, "before", "after", "created_at")
        with transaction(self.conn):
            cur = self.conn.execute(f"INSERT INTO feedback_edits ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                    [values[c] for c in cols])
        return Edit(**values, id=int(cur.lastrowid))

    def ratings(self, product_id: str | None = None) -> list[Rating]:
        sql, args = "SELECT * FROM feedback_ratings", ()
        if product_id:
            sql, args = sql + " WHERE product_id = ?", (product_id,)
        return [Rating(**dict(r)) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def edits(self, product_id: str | None = None) -> list[Edit]:
        sql, args = "SELECT * FROM feedback_edits", ()
        if product_id:
            sql, args = sql + " WHERE product_id = ?", (product_id,)
        return [Edit(**dict(r)) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def summary(self) -> dict:
        r = self.conn.execute("SELECT COUNT(*) AS n, AVG(rating) AS mean FROM feedback_ratings").fetchone()
        e = self.conn.execute("SELECT COUNT(*) AS n FROM feedback_edits").fetchone()
        return {"ratings": int(r["n"]), "mean_rating": r["mean"], "edits": int(e["n"])}


def open_feedback(settings: Settings | None = None, catalog: Any = None) -> FeedbackStore:
    """Feedback on a fresh connection; pass the app's `catalog` store so product facts come from it."""
    settings = settings or get_settings()
    return FeedbackStore(connect(settings), settings, catalog)
