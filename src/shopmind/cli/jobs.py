"""`shopmind jobs list|show|cancel`: the server's background jobs (same table, so it works from any shell)."""

from __future__ import annotations

import time
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from shopmind.cli.output import emit_json
from shopmind.config import get_settings

console = Console(stderr=True)
jobs_app = typer.Typer(help="Background jobs started through the API (ingest, tag, ocr, fit, index).", no_args_is_help=True)


def _store():
    from shopmind.ops.jobs import JobStore

    return JobStore.for_home(get_settings().home)


def _line(job) -> str:
    pct = f"{100 * job.progress / job.total:.0f}%" if job.total else "-"
    return f"{job.id} {job.kind} {job.status} {job.stage} {job.progress}/{job.total} ({pct}) {job.message}".strip()


@jobs_app.command("list")
def list_jobs(
    status: Optional[str] = typer.Option(None, help="queued, running, done, failed, cancelled or interrupted."),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recent jobs, newest first."""
    jobs = _store().list(status=status, limit=limit)
    if as_json:
        emit_json({"jobs": [j.model_dump() for j in jobs]})
        return
    table = Table("id", "kind", "status", "stage", "progress", "message", title=f"{len(jobs)} jobs")
    for j in jobs:
        table.add_row(j.id, j.kind, j.status, j.stage, f"{j.progress}/{j.total}", (j.error or j.message)[:80])
    Console().print(table)


@jobs_app.command("show")
def show(
    job_id: str = typer.Argument(...),
    follow: bool = typer.Option(False, "--follow", "-f", help="Print progress until the job ends."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One job: status, stage, progress, result or error."""
    store = _store()
    job = store.get(job_id)
    while follow and job.status in ("queued", "running"):
        console.print(_line(job))
        time.sleep(1.0)
        job = store.get(job_id)
    if as_json:
        emit_json(job.model_dump())
    else:
        console.print(_line(job))
        if job.error:
            console.print(f"[red]{job.error}[/red]")


@jobs_app.command("cancel")
def cancel(job_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """Cancel a job: a queued one at once, a running one at its next progress step."""
    job = _store().request_cancel(job_id)
    emit_json(job.model_dump()) if as_json else console.print(_line(job))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
