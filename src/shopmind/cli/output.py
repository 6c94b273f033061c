"""Output helpers shared by the CLI areas: one JSON object on stdout, typed errors on stderr."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from shopmind.errors import ShopmindError

err = Console(stderr=True)


def current_app() -> Any:
    """The `Shopmind` app of this command (built by the root callback, else on first use and
    kept on the root context so every command of one invocation shares it)."""
    import click

    from shopmind.app import Shopmind
    from shopmind.config import get_settings

    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    sm = getattr(root, "obj", None) if root is not None else None
    if isinstance(sm, Shopmind) and not sm.closed:
        return sm
    sm = Shopmind(get_settings())
    if root is not None and root.obj is None:
        root.obj = sm
        root.call_on_close(sm.close)
    return sm


def emit_json(obj: Any) -> None:
    """Print exactly one JSON object (machine-readable; UTF-8 kept readable)."""
    print(json.dumps(obj, ensure_ascii=False, default=str))


def fail(exc: ShopmindError) -> NoReturn:
    """A typed error as one line on stderr and exit code 2 — never a traceback."""
    err.print(f"[red]error {escape(f'[{exc.code}]')}[/red]: {escape(exc.message)}")  # codes/messages are not markup
    raise typer.Exit(2)


class TypedErrors(TyperGroup):
    """Root command group: any ShopmindError raised by a command becomes `fail(exc)`.

    Handling it here, not in `main()`, gives the same one-line message and exit code 2 whether the
    CLI runs as the console script, `python -m shopmind`, or under click's CliRunner in tests.
    """

    def invoke(self, ctx):  # noqa: D102 - click's hook
        try:
            return super().invoke(ctx)
        except ShopmindError as exc:
            fail(exc)
