"""Durable experiment state in the project SQLite file: experiments, variants, sticky assignments,
events, promotions and the `active_content` each product currently shows.

Every write is one `BEGIN IMMEDIATE` transaction, so concurrent ingesters (threads, processes,
API workers) serialise on SQLite's write lock instead of losing rows; `event_id` is UNIQUE so a
retried batch is counted as duplicates, not twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from pydantic import ValidationError

from shopmind.catalog.db import connect, transaction
from shopmind.config import Settings, get_settings
from shopmind.errors import BadInput, NotFound, NotReady
from shopmind.experiments.assignment import choose
from shopmind.experiments.models import (
    ActiveContent,
    Assignment,
    EventIn,
    EventIngestReport,
    Experiment,
    ExperimentSpec,
    RowError,
    VariantSpec,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS ab_experiments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    product_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    metric TEXT NOT NULL,
    alpha REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    created_at TEXT NOT NULL,
    stopped_at TEXT,
    winner TEXT
);
CREATE TABLE IF NOT EXISTS ab_variants (
    experiment_id TEXT NOT NULL REFERENCES ab_experiments(id),
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    payload TEXT NOT NULL,
    weight REAL NOT NULL,
    is_control INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment_id, key)
);
CREATE TABLE IF NOT EXISTS ab_assignments (
    experiment_id TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (experiment_id, unit_id)
);
CREATE TABLE IF NOT EXISTS ab_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT UNIQUE,
    experiment_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    type TEXT NOT NULL,
    amount REAL,
    ts TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'api'
);
CREATE INDEX IF NOT EXISTS ab_events_exp ON ab_events (experiment_id, variant, type, unit_id);
CREATE TABLE IF NOT EXISTS ab_promotions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    experiment_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    variant TEXT NOT NULL,
    payload TEXT NOT NULL,
    reason TEXT NOT NULL,
    promoted_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS active_content (
    product_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    experiment_id TEXT,
    variant TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (product_id, content_type)
);
"""

_CHUNK = 2000  # events per transaction: short write locks keep concurrent clients moving


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ExperimentStore:
    """Experiments over one SQLite connection (open one per thread/process)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        self._cache: dict[str, Experiment] = {}

    # ---------------------------------------------------------------- experiments
    def create(self, spec: ExperimentSpec) -> Experiment:
        """Store a new experiment and its arms; ids are unique (a clash is BadInput)."""
        exp_id = spec.id or f"exp_{uuid.uuid4().hex[:12]}"
        exp = Experiment(**{**spec.model_dump(), "id": exp_id, "created_at": now()})
        try:
            with transaction(self.conn):
                self.conn.execute(
                    "INSERT INTO ab_experiments (id, name, product_id, content_type, metric, alpha, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (exp.id, exp.name, exp.product_id, exp.content_type, exp.metric, exp.alpha, exp.created_at))
                self.conn.executemany(
                    "INSERT INTO ab_variants (experiment_id, key, position, payload, weight, is_control)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(exp.id, v.key, i, json.dumps(v.payload, ensure_ascii=False), v.weight, int(v.control))
                     for i, v in enumerate(exp.variants)])
        except sqlite3.IntegrityError as exc:
            raise BadInput(f"experiment {exp_id!r} already exists") from exc
        return exp

    def get(self, exp_id: str) -> Experiment:
        row = self.conn.execute("SELECT * FROM ab_experiments WHERE id = ?", (exp_id,)).fetchone()
        if row is None:
            raise NotFound(f"no experiment {exp_id!r}")
        variants = [VariantSpec(key=v["key"], payload=json.loads(v["payload"]), weight=v["weight"],
                                control=bool(v["is_control"]))
                    for v in self.conn.execute(
                        "SELECT * FROM ab_variants WHERE experiment_id = ? ORDER BY position", (exp_id,))]
        return Experiment(id=row["id"], name=row["name"], product_id=row["product_id"],
                          content_type=row["content_type"], metric=row["metric"], alpha=row["alpha"],
                          variants=variants, status=row["status"], created_at=row["created_at"],
                          stopped_at=row["stopped_at"], winner=row["winner"])

    def list(self, status: str | None = None) -> list[Experiment]:
        sql, args = "SELECT id FROM ab_experiments", ()
        if status:
            sql, args = sql + " WHERE status = ?", (status,)
        return [self.get(r["id"]) for r in self.conn.execute(sql + " ORDER BY created_at, id", args).fetchall()]

    def _cached(self, exp_id: str) -> Experiment:
        if exp_id not in self._cache:
            self._cache[exp_id] = self.get(exp_id)
        return self._cache[exp_id]

    # ---------------------------------------------------------------- assignment
    def assign(self, exp_id: str, unit_id: str) -> Assignment:
        """Sticky arm for a unit: the first answer is recorded and returned ever after, even if
        weights were to change; the hash makes that first answer the same in every process."""
        exp = self._cached(exp_id)
        if not unit_id or not unit_id.strip():
            raise BadInput("unit_id must not be empty")
        row = self.conn.execute("SELECT variant FROM ab_assignments WHERE experiment_id = ? AND unit_id = ?",
                                (exp_id, unit_id)).fetchone()
        new = False
        if row is None:
            variant = choose(exp.id, unit_id, [v.key for v in exp.variants], [v.weight for v in exp.variants])
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO ab_assignments (experiment_id, unit_id, variant, assigned_at) VALUES (?, ?, ?, ?)",
                (exp_id, unit_id, variant, now()))
            new = cur.rowcount == 1
            if not new:  # another writer got there first: theirs stands
                variant = self.conn.execute("SELECT variant FROM ab_assignments WHERE experiment_id = ? AND unit_id = ?",
                                            (exp_id, unit_id)).fetchone()["variant"]
        else:
            variant = row["variant"]
        payload = next(v.payload for v in exp.variants if v.key == variant)
        return Assignment(experiment_id=exp_id, unit_id=unit_id, variant=variant, payload=payload, new=new)

    def _resolve_variants(self, exp: Experiment, units: set[str]) -> dict[str, str]:
        """Variants of many units at once: stored assignments first, the hash for the rest (recorded)."""
        found: dict[str, str] = {}
        unit_list = list(units)
        for i in range(0, len(unit_list), 500):
            part = unit_list[i:i + 500]
            marks = ",".join("?" * len(part))
            for r in self.conn.execute(
                    f"SELECT unit_id, variant FROM ab_assignments WHERE experiment_id = ? AND unit_id IN ({marks})",
                    (exp.id, *part)):
                found[r["unit_id"]] = r["variant"]
        keys, weights = [v.key for v in exp.variants], [v.weight for v in exp.variants]
        missing = [(exp.id, u, choose(exp.id, u, keys, weights), now()) for u in units if u not in found]
        if missing:
            self.conn.executemany(
                "INSERT OR IGNORE INTO ab_assignments (experiment_id, unit_id, variant, assigned_at) VALUES (?, ?, ?, ?)",
                missing)
            for _, u, v, _ in missing:
                found[u] = v
        return found

    # ---------------------------------------------------------------- events
    def ingest(self, rows: Iterable[tuple[int, Mapping[str, Any]]], *, source: str = "api",
               default_experiment: str | None = None) -> EventIngestReport:
        """Validate and store events. `rows` yields (line or position, raw mapping). Bad rows are
        reported with their line and reason; the rest are stored in chunked transactions."""
        t0 = time.perf_counter()
        report = EventIngestReport()
        chunk: list[tuple[int, EventIn]] = []
        for line, raw in rows:
            report.received += 1
            event = self._validate(line, raw, default_experiment, report)
            if event is not None:
                chunk.append((line, event))
            if len(chunk) >= _CHUNK:
                self._write(chunk, source, report)
                chunk = []
        if chunk:
            self._write(chunk, source, report)
        report.rejected = len(report.errors)
        report.seconds = round(time.perf_counter() - t0, 4)
        return report

    def _validate(self, line: int, raw: Mapping[str, Any], default_experiment: str | None,
                  report: EventIngestReport) -> EventIn | None:
        if not isinstance(raw, Mapping):
            report.errors.append(RowError(line=line, reason="an event must be an object"))
            return None
        data = {k: (None if isinstance(v, str) and v.strip() == "" else v) for k, v in raw.items() if k is not None}
        if default_experiment and not data.get("experiment_id"):
            data["experiment_id"] = default_experiment
        try:
            event = EventIn.model_validate(data)
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors())
            report.errors.append(RowError(line=line, reason=reason, event_id=_str_or_none(data.get("event_id"))))
            return None
        try:
            exp = self._cached(event.experiment_id)
        except NotFound:
            report.errors.append(RowError(line=line, reason=f"unknown experiment {event.experiment_id!r}",
                                          event_id=event.event_id))
            return None
        if event.variant is not None and event.variant not in {v.key for v in exp.variants}:
            report.errors.append(RowError(line=line, reason=f"unknown variant {event.variant!r} for {exp.id}",
                                          event_id=event.event_id))
            return None
        return event

    def _write(self, chunk: list[tuple[int, EventIn]], source: str, report: EventIngestReport) -> None:
        stamp = now()
        with transaction(self.conn):
            by_exp: dict[str, set[str]] = {}
            for _, e in chunk:
                if e.variant is None:
                    by_exp.setdefault(e.experiment_id, set()).add(e.unit_id)
            resolved = {exp_id: self._resolve_variants(self._cached(exp_id), units) for exp_id, units in by_exp.items()}
            before = self.conn.total_changes
            self.conn.executemany(
                "INSERT OR IGNORE INTO ab_events (event_id, experiment_id, variant, unit_id, type, amount, ts, source)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.event_id, e.experiment_id, e.variant or resolved[e.experiment_id][e.unit_id], e.unit_id, e.type,
                  e.amount, e.ts or stamp, source) for _, e in chunk])
            inserted = self.conn.total_changes - before
        report.accepted += inserted
        report.duplicates += len(chunk) - inserted

    def count_events(self, exp_id: str | None = None) -> int:
        if exp_id is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM ab_events").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM ab_events WHERE experiment_id = ?", (exp_id,)).fetchone()[0])

    # ---------------------------------------------------------------- aggregates for analysis
    def arm_counts(self, exp_id: str, event_type: str) -> dict[str, dict[str, int]]:
        """Per arm: exposed units (any event) and units with at least one `event_type` event."""
        out: dict[str, dict[str, int]] = {}
        for r in self.conn.execute(
                "SELECT variant, COUNT(DISTINCT unit_id) AS units,"
                " COUNT(DISTINCT CASE WHEN type = ? THEN unit_id END) AS converted"
                " FROM ab_events WHERE experiment_id = ? GROUP BY variant", (event_type, exp_id)):
            out[r["variant"]] = {"units": int(r["units"]), "converted": int(r["converted"])}
        return out

    def revenue_stats(self, exp_id: str) -> dict[str, dict[str, float]]:
        """Per arm: exposed units, mean and sample variance of per-unit revenue (0 for non-buyers)."""
        out: dict[str, dict[str, float]] = {}
        for r in self.conn.execute(
                "SELECT variant, COUNT(*) AS n, SUM(rev) AS s, SUM(rev * rev) AS ss FROM ("
                "  SELECT variant, unit_id, SUM(CASE WHEN type = 'revenue' THEN amount ELSE 0 END) AS rev"
                "  FROM ab_events WHERE experiment_id = ? GROUP BY variant, unit_id"
                ") GROUP BY variant", (exp_id,)):
            n, s, ss = int(r["n"]), float(r["s"] or 0.0), float(r["ss"] or 0.0)
            mean = s / n if n else 0.0
            var = max((ss - n * mean * mean) / (n - 1), 0.0) if n > 1 else 0.0
            out[r["variant"]] = {"units": n, "mean": mean, "var": var, "total": s}
        return out

    # ---------------------------------------------------------------- promotion
    def promote(self, exp_id: str, variant: str, reason: dict[str, Any]) -> ActiveContent:
        """Stop the experiment and make `variant`'s payload the product's active content, atomically."""
        exp = self.get(exp_id)
        if exp.status != "running":
            raise NotReady(f"experiment {exp_id} is already stopped (winner {exp.winner!r})")
        arm = next((v for v in exp.variants if v.key == variant), None)
        if arm is None:
            raise BadInput(f"unknown variant {variant!r}; arms are {[v.key for v in exp.variants]}")
        stamp = now()
        payload = json.dumps(arm.payload, ensure_ascii=False)
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE ab_experiments SET status = 'stopped', stopped_at = ?, winner = ? WHERE id = ? AND status = 'running'",
                (stamp, variant, exp_id))
            if cur.rowcount != 1:
                raise NotReady(f"experiment {exp_id} was stopped concurrently")
            self.conn.execute(
                "INSERT INTO ab_promotions (experiment_id, product_id, content_type, variant, payload, reason, promoted_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (exp_id, exp.product_id, exp.content_type, variant, payload,
                 json.dumps(reason, ensure_ascii=False, default=str), stamp))
            self.conn.execute(
                "INSERT INTO active_content (product_id, content_type, payload, experiment_id, variant, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (product_id, content_type) DO UPDATE SET"
                " payload = excluded.payload, experiment_id = excluded.experiment_id, variant = excluded.variant,"
                " updated_at = excluded.updated_at",
                (exp.product_id, exp.content_type, payload, exp_id, variant, stamp))
        self._cache.pop(exp_id, None)
        return ActiveContent(product_id=exp.product_id, content_type=exp.content_type, payload=arm.payload,
                             experiment_id=exp_id, variant=variant, updated_at=stamp)

    def promotions(self, exp_id: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM ab_promotions", ()
        if exp_id:
            sql, args = sql + " WHERE experiment_id = ?", (exp_id,)
        return [{**dict(r), "payload": json.loads(r["payload"]), "reason": json.loads(r["reason"])}
                for r in self.conn.execute(sql + " ORDER BY id", args)]

    def active_content(self, product_id: str, content_type: str) -> ActiveContent | None:
        r = self.conn.execute("SELECT * FROM active_content WHERE product_id = ? AND content_type = ?",
                              (product_id, content_type)).fetchone()
        if r is None:
            return None
        return ActiveContent(product_id=r["product_id"], content_type=r["content_type"], payload=json.loads(r["payload"]),
                             experiment_id=r["experiment_id"], variant=r["variant"], updated_at=r["updated_at"])


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def open_experiments(settings: Settings | None = None) -> ExperimentStore:
    """A store on a fresh connection to the project database (one per thread or process)."""
    return ExperimentStore(connect(settings or get_settings()))


def get_active_content(product_id: str, content_type: str, settings: Settings | None = None) -> ActiveContent | None:
    """The content a product currently shows for `content_type` (None until a winner is promoted)."""
    store = open_experiments(settings)
    try:
        return store.active_content(product_id, content_type)
    finally:
        store.conn.close()
