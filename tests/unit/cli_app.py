"""One builder for the small CLI apps the unit tests drive with CliRunner."""

from __future__ import annotations

from collections.abc import Callable

import typer

from shopmind.cli.output import TypedErrors


def area_app(*registers: Callable[[typer.Typer, typer.Typer], None], typed_errors: bool = False) -> typer.Typer:
    """An app with an `eval` group and only the given areas registered, in order.

    Without `typed_errors` a ShopmindError reaches CliRunner as `result.exception`, which lets a
    test check its type; with it the app behaves like `shopmind` itself (one line, exit code 2).
    """
    app = typer.Typer(cls=TypedErrors) if typed_errors else typer.Typer()
    eval_app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    for register in registers:
        register(app, eval_app)
    return app
