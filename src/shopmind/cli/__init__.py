"""The `shopmind` command line: one Typer app; each capability registers its own commands.

Each `shopmind.cli.<area>` module exposes `register(app, eval_app)` so areas stay independent.
"""

from __future__ import annotations

import typer

from shopmind.cli.output import TypedErrors

app = typer.Typer(
    cls=TypedErrors,
    name="shopmind",
    help="shopmind — understand, search, write and guard an e-commerce catalog, offline by default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Evaluations that print one JSON object (metrics, dataset, sample size).", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@app.callback()
def _root(ctx: typer.Context) -> None:
    # One Shopmind app object per invocation (settings, store, image space, search engine): commands
    # reach it with `cli.output.current_app()`; it is closed when the command ends.
    from shopmind.cli.output import current_app

    current_app()


# Each area is a module `shopmind.cli.<name>` with `register(app, eval_app)`.
AREAS = ("catalog", "compliance", "live", "ab", "feedback", "media", "service", "qa", "generate", "server", "keys", "jobs", "anchor", "tune", "config_cmd")


def _register_areas() -> None:
    import importlib

    for name in AREAS:
        importlib.import_module(f"shopmind.cli.{name}").register(app, eval_app)


_register_areas()


def main() -> None:
    """Entry point; typed errors become a one-line message and exit code 2 (see TypedErrors)."""
    app()
