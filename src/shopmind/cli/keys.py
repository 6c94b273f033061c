"""`shopmind keys create|list|revoke`: the API keys the server checks (hashed at rest, roles read/write/admin)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from shopmind.cli.output import emit_json
from shopmind.config import get_settings

console = Console(stderr=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke. Once a key exists the API needs one.",
                       no_args_is_help=True)


def _store():
    from shopmind.security.keys import KeyStore

    return KeyStore.for_home(get_settings().home)


@keys_app.command("create")
def create(
    role: str = typer.Option(..., "--role", help="read (GET, search, check), write (ingest, tag, generate …) or admin (keys)."),
    name: str = typer.Option("", "--name", help="A label to recognise the key by."),
    as_json: bool = typer.Option(False, "--json", help="Print {key, id, role} as JSON."),
) -> None:
    """Create a key. The key is printed once; only its hash is stored."""
    created = _store().create(role, name)
    if as_json:
        emit_json({"key": created.key, "id": created.id, "role": created.role})
        return
    print(created.key)
    console.print(f"key {created.id} ({created.role}) created; it is shown only now. "
                  "Send it as `Authorization: Bearer KEY` or `X-API-Key: KEY`.")


@keys_app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every key's id, role, name, created/last used/revoked (never the secret)."""
    records = _store().list()
    if as_json:
        emit_json({"keys": [r.model_dump() for r in records]})
        return
    from datetime import datetime, timezone

    def when(ts: float | None) -> str:
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M") if ts else "-"

    table = Table("id", "role", "name", "created (UTC)", "last used", "revoked", title=f"{len(records)} API keys")
    for r in records:
        table.add_row(r.id, r.role, r.name, when(r.created), when(r.last_used), when(r.revoked))
    Console().print(table)


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (from `keys list`)."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Revoke a key at once. Auth stays on even when no active key is left."""
    record = _store().revoke(key_id)
    if as_json:
        emit_json(record.model_dump())
    else:
        console.print(f"key {record.id} revoked")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
