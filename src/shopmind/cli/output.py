"""Output helpers shared by the CLI areas: one JSON object on stdout, typed errors on stderr."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console

from shopmind.errors import ShopmindError

err = Console(stderr=True)


def emit_json(obj: Any) -> None:
    """Print exactly one JSON object (machine-readable; UTF-8 kept readable)."""
    print(json.dumps(obj, ensure_ascii=False, default=str))


def fail(exc: ShopmindError) -> NoReturn:
    """A typed error as one line on stderr and exit code 2 — never a traceback."""
    err.print(f"[red]error [{exc.code}][/red]: {exc.message}")
    raise typer.Exit(2)
