"""Long operations as jobs: a SQLite job table, a runner thread, cooperative cancel, resume after a crash.

A job is a row (`jobs.db` under SHOPMIND_HOME): id, kind, params, status, progress/total, message,
result JSON, error, timestamps. The runner claims queued rows one at a time (an IMMEDIATE
transaction, so two runners never take the same job), calls the kind's function with a
`JobContext`, and records the outcome.

- **Progress**: the operation calls `ctx.progress(stage, done, total)`; writes are throttled.
- **Cancel**: `request_cancel` sets a flag in the row (so `shopmind jobs cancel` works from
  another process); `ctx.progress` sees it and raises `JobCancelled`. `JobCancelled` derives from
  BaseException on purpose: per-row `except Exception` handlers inside an operation must not
  swallow it, and SQLite `with conn:` blocks roll the batch in flight back.
- **Resume**: on start the runner marks rows left `running` by a dead process `interrupted`
  and queues them again when their kind is resumable (all our kinds skip work already done).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from shopmind.errors import BadInput, NotFound, ShopmindError

log = logging.getLogger("shopmind.jobs")

Status = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
FINISHED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    result TEXT,
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
"""


class JobCancelled(BaseException):
    """Raised inside an operation when its job was asked to stop (see the module docstring)."""


class JobInterrupted(BaseException):
    """Raised inside an operation when the server shuts down: the job is queued again to resume."""


class Job(BaseModel):
    id: str
    kind: str
    params: dict[str, Any]
    status: Status
    stage: str = ""
    progress: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False
    attempts: int = 0
    created: float
    updated: float


def _row_to_job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data.pop("owner", None)
    data["params"] = json.loads(data["params"])
    data["result"] = json.loads(data["result"]) if data["result"] else None
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Job(**data)


class JobStore:
    """The job table. One short connection per call: the runner thread and request threads share it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    @classmethod
    def for_home(cls, home: Path) -> "JobStore":
        return cls(Path(home) / "jobs.db")

    def _conn(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    def _exec(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        conn = self._conn()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def create(self, kind: str, params: dict[str, Any]) -> Job:
        now = time.time()
        job_id = uuid.uuid4().hex[:16]
        self._exec("INSERT INTO jobs (id, kind, params, status, created, updated) VALUES (?, ?, ?, 'queued', ?, ?)",
                   (job_id, kind, json.dumps(params, ensure_ascii=False), now, now))
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        rows = self._exec("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFound(f"no job with id {job_id!r}")
        return _row_to_job(rows[0])

    def list(self, status: str | None = None, kind: str | None = None, limit: int = 100) -> list[Job]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if status:
            sql, args = sql + " AND status = ?", [*args, status]
        if kind:
            sql, args = sql + " AND kind = ?", [*args, kind]
        rows = self._exec(sql + " ORDER BY created DESC LIMIT ?", (*args, max(1, min(limit, 1000))))
        return [_row_to_job(r) for r in rows]

    def claim_next(self, owner: str) -> Job | None:
        """Atomically move the oldest queued job to running."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None
            conn.execute("UPDATE jobs SET status = 'running', owner = ?, attempts = attempts + 1, updated = ? WHERE id = ?",
                         (owner, time.time(), row["id"]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            raise
        finally:
            conn.close()
        return self.get(row["id"])

    def set_progress(self, job_id: str, stage: str, done: int, total: int, message: str = "") -> bool:
        """Record progress; returns whether a cancel was requested."""
        conn = self._conn()
        try:
            conn.execute("UPDATE jobs SET stage = ?, progress = ?, total = ?, message = ?, updated = ? WHERE id = ?",
                         (stage, int(done), int(total), message, time.time(), job_id))
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return bool(row and row[0])
        finally:
            conn.close()

    def finish(self, job_id: str, status: Status, *, result: dict[str, Any] | None = None, error: str | None = None,
               message: str = "") -> None:
        self._exec("UPDATE jobs SET status = ?, result = ?, error = ?, message = ?, updated = ? WHERE id = ?",
                   (status, json.dumps(result, ensure_ascii=False, default=str) if result is not None else None, error,
                    message, time.time(), job_id))

    def request_cancel(self, job_id: str) -> Job:
        """Queued jobs are cancelled at once; running ones stop at their next progress step."""
        job = self.get(job_id)
        if job.status in FINISHED:
            raise BadInput(f"job {job_id} is already {job.status}")
        if job.status in ("queued", "interrupted"):
            self._exec("UPDATE jobs SET status = 'cancelled', cancel_requested = 1, message = 'cancelled before it ran', "
                       "updated = ? WHERE id = ? AND status IN ('queued', 'interrupted')", (time.time(), job_id))
        else:
            self._exec("UPDATE jobs SET cancel_requested = 1, message = 'cancel requested', updated = ? WHERE id = ?",
                       (time.time(), job_id))
        return self.get(job_id)

    def recover(self, resumable: Callable[[str], bool]) -> list[str]:
        """Rows left `running` by a process that died: interrupted, then queued again when resumable."""
        rows = self._exec("SELECT id, kind, cancel_requested FROM jobs WHERE status = 'running'")
        requeued = []
        for row in rows:
            again = resumable(row["kind"]) and not row["cancel_requested"]
            self._exec("UPDATE jobs SET status = ?, message = ?, updated = ? WHERE id = ? AND status = 'running'",
                       ("queued" if again else "interrupted",
                        "resumed after the server stopped mid-run" if again else "interrupted: the server stopped mid-run",
                        time.time(), row["id"]))
            if again:
                requeued.append(row["id"])
        return requeued


class JobContext:
    """Handed to an operation: report progress, learn about cancellation."""

    def __init__(self, store: JobStore, job: Job, *, min_interval_s: float = 0.5,
                 stopping: threading.Event | None = None, app: Any = None) -> None:
        self.store = store
        self.job = job
        self._app = app
        self.min_interval_s = min_interval_s
        self.stopping = stopping or threading.Event()
        self._last = 0.0

    def progress(self, stage: str, done: int, total: int, message: str = "") -> None:
        if self.stopping.is_set():
            raise JobInterrupted(self.job.id)
        now = time.monotonic()
        if done < total and done != 0 and now - self._last < self.min_interval_s:
            return
        self._last = now
        if self.store.set_progress(self.job.id, stage, done, total, message):
            raise JobCancelled(self.job.id)

    @property
    def app(self) -> Any:
        """The `Shopmind` app the runner holds (the server's own); a bare runner gets the configured home's."""
        if self._app is None:
            from shopmind.app import Shopmind

            self._app = Shopmind.open()
        return self._app

    def check_cancel(self) -> None:
        self.progress(self.job.stage or "running", self.job.progress, self.job.total)


@dataclass(frozen=True)
class JobKind:
    """A kind of job: the function that runs it and whether a re-run after a crash is safe."""

    run: Callable[[dict[str, Any], JobContext], dict[str, Any]]
    resumable: bool = True
    cleanup: Callable[[dict[str, Any]], None] | None = None  # after done/failed/cancelled (e.g. an uploaded file)
    description: str = ""


class JobRunner:
    """Worker threads that run queued jobs of known kinds until `stop()`."""

    def __init__(self, store: JobStore, kinds: dict[str, JobKind], *, workers: int = 1, poll_s: float = 0.5,
                 app: Any = None) -> None:
        self.store = store
        self.app = app  # the `Shopmind` app jobs run on (the server's one store, indexes and image space)
        self.kinds = kinds
        self.workers = max(1, workers)
        self.poll_s = poll_s
        self.owner = uuid.uuid4().hex[:8]
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "JobRunner":
        requeued = self.store.recover(lambda kind: kind in self.kinds and self.kinds[kind].resumable)
        if requeued:
            log.warning("re-queued %d interrupted job(s): %s", len(requeued), ", ".join(requeued))
        for i in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"shopmind-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a job still running is asked to cancel and, if it does not stop in time,
        is left `running` so the next start re-queues it (resume)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim_next(self.owner)
            except sqlite3.Error as exc:
                log.warning("job table unavailable: %s", exc)
                job = None
            if job is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            self.run_one(job)

    def run_one(self, job: Job) -> Job:
        kind = self.kinds.get(job.kind)
        if kind is None:
            self.store.finish(job.id, "failed", error=f"unknown job kind {job.kind!r}")
            return self.store.get(job.id)
        ctx = JobContext(self.store, job, stopping=self._stop, app=self.app)
        try:
            result = kind.run(job.params, ctx)
        except JobInterrupted:
            status = "queued" if kind.resumable else "interrupted"
            self.store.finish(job.id, status, message="the server stopped mid-run; it resumes on the next start"
                              if kind.resumable else "interrupted: the server stopped mid-run")
            return self.store.get(job.id)
        except JobCancelled:
            self.store.finish(job.id, "cancelled", message="cancelled while running; work already committed is kept")
        except ShopmindError as exc:
            self.store.finish(job.id, "failed", error=f"{exc.code}: {exc.message}")
        except Exception as exc:  # a job must end in a recorded state, never kill the runner
            log.exception("job %s failed", job.id)
            self.store.finish(job.id, "failed", error=f"{type(exc).__name__}: {exc}")
        else:
            self.store.finish(job.id, "done", result=result, message="done")
        if kind.cleanup is not None:
            try:
                kind.cleanup(job.params)
            except OSError:
                log.warning("cleanup of job %s failed", job.id)
        return self.store.get(job.id)
