"""`--help` works for every command and sub-command of `shopmind` (rich markup in a docstring once crashed it)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner


def _walk(command, path: list[str]):
    yield path
    if getattr(command, "commands", None):  # a group (typer vendors its own click)
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, path + [name])


def test_every_command_has_working_help():
    from shopmind.cli import app

    root = typer.main.get_command(app)
    paths = list(_walk(root, []))
    assert len(paths) > 30, "the command walk found too few commands"
    runner = CliRunner()
    failed = {}
    for path in paths:
        result = runner.invoke(app, path + ["--help"])
        if result.exit_code != 0 or "Usage" not in result.output:
            failed[" ".join(path) or "shopmind"] = (result.exit_code, repr(result.exception), result.output[-300:])
    assert not failed, failed
