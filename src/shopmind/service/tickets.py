"""Service tickets in SQLite: one row per ticket, an append-only audit trail of every change.

Status moves along a small state machine so an agent cannot, say, close a ticket nobody opened
or silently edit a closed one; reopening is an explicit, audited transition.
Only the redacted message is stored (phones and e-mails masked by `entities.redact`).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from shopmind.catalog.db import connect, transaction
from shopmind.config import Settings, get_settings
from shopmind.errors import BadInput, NotFound
from shopmind.service.triage import TriageResult

Status = Literal["open", "in_progress", "waiting_customer", "resolved", "closed"]
STATUSES: tuple[str, ...] = ("open", "in_progress", "waiting_customer", "resolved", "closed")
TRANSITIONS: dict[str, set[str]] = {
    "open": {"in_progress", "waiting_customer", "resolved", "closed"},
    "in_progress": {"waiting_customer", "resolved", "open"},
    "waiting_customer": {"in_progress", "resolved", "closed"},
    "resolved": {"closed", "open"},
    "closed": {"open"},
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS service_tickets (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    lang TEXT,
    issue_type TEXT NOT NULL,
    confidence REAL,
    sentiment TEXT,
    sentiment_score REAL,
    urgency TEXT NOT NULL,
    order_no TEXT,
    product_id TEXT,
    image_sha256 TEXT,
    triage_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS service_tickets_status ON service_tickets(status, urgency);
CREATE TABLE IF NOT EXISTS service_ticket_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id TEXT NOT NULL REFERENCES service_tickets(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS service_ticket_events_ticket ON service_ticket_events(ticket_id, seq);
"""


class AuditEvent(BaseModel):
    at: str
    actor: str
    action: str
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None


class Ticket(BaseModel):
    """A stored ticket with its triage and full history."""

    id: str
    created_at: str
    updated_at: str
    status: Status
    message: str
    issue_type: str
    urgency: str
    order_no: str | None = None
    product_id: str | None = None
    image_sha256: str | None = None
    triage: TriageResult
    history: list[AuditEvent] = Field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class TicketStore:
    """CRUD over the two tables; every write goes through one transaction with its audit row."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.conn = connect(settings or get_settings())
        self.conn.executescript(SCHEMA)

    def create(self, triage: TriageResult, *, actor: str = "system", image_sha256: str | None = None) -> Ticket:
        ticket_id = "TK-" + uuid.uuid4().hex[:12].upper()
        now = _now()
        s = triage.sentiment
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO service_tickets VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ticket_id, now, now, "open", triage.redacted_message, triage.lang, triage.issue_type,
                    triage.confidence, s.label if s else None, s.score if s else None, triage.urgency,
                    triage.entities.order_numbers[0] if triage.entities.order_numbers else None,
                    triage.entities.product_refs[0] if triage.entities.product_refs else None,
                    image_sha256, triage.model_dump_json(),
                ),
            )
            self._audit(ticket_id, now, actor, "created", None, "open",
                        f"issue={triage.issue_type} urgency={triage.urgency} method={triage.method}")
        return self.get(ticket_id)

    def _audit(self, ticket_id: str, at: str, actor: str, action: str, old: str | None, new: str | None, note: str | None) -> None:
        self.conn.execute(
            "INSERT INTO service_ticket_events (ticket_id, at, actor, action, from_status, to_status, note) VALUES (?,?,?,?,?,?,?)",
            (ticket_id, at, actor, action, old, new, note),
        )

    def get(self, ticket_id: str) -> Ticket:
        row = self.conn.execute("SELECT * FROM service_tickets WHERE id = ?", (ticket_id,)).fetchone()
        if row is None:
            raise NotFound(f"no ticket {ticket_id!r}")
        return self._ticket(row)

    def _ticket(self, row: sqlite3.Row) -> Ticket:
        events = self.conn.execute(
            "SELECT at, actor, action, from_status, to_status, note FROM service_ticket_events WHERE ticket_id = ? ORDER BY seq",
            (row["id"],),
        ).fetchall()
        return Ticket(
            id=row["id"], created_at=row["created_at"], updated_at=row["updated_at"], status=row["status"],
            message=row["message"], issue_type=row["issue_type"], urgency=row["urgency"], order_no=row["order_no"],
            product_id=row["product_id"], image_sha256=row["image_sha256"],
            triage=TriageResult.model_validate(json.loads(row["triage_json"])),
            history=[AuditEvent(**dict(e)) for e in events],
        )

    def set_status(self, ticket_id: str, status: str, *, actor: str = "agent", note: str | None = None) -> Ticket:
        """Move a ticket to `status` if the state machine allows it; audited."""
        if status not in STATUSES:
            raise BadInput(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        if not actor.strip():
            raise BadInput("actor must not be empty")
        with transaction(self.conn):
            row = self.conn.execute("SELECT status FROM service_tickets WHERE id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise NotFound(f"no ticket {ticket_id!r}")
            old = row["status"]
            if status == old:
                raise BadInput(f"ticket {ticket_id} is already {status}")
            if status not in TRANSITIONS[old]:
                raise BadInput(f"cannot move ticket from {old} to {status}; allowed: {', '.join(sorted(TRANSITIONS[old]))}")
            now = _now()
            self.conn.execute("UPDATE service_tickets SET status = ?, updated_at = ? WHERE id = ?", (status, now, ticket_id))
            self._audit(ticket_id, now, actor, "status_changed", old, status, note)
        return self.get(ticket_id)

    def list(self, *, status: str | None = None, limit: int = 50) -> list[Ticket]:
        """Newest tickets first, optionally only one status."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"unknown status {status!r}")
        sql = "SELECT * FROM service_tickets" + (" WHERE status = ?" if status else "") + " ORDER BY created_at DESC LIMIT ?"
        params: tuple = (status, limit) if status else (limit,)
        return [self._ticket(r) for r in self.conn.execute(sql, params).fetchall()]
