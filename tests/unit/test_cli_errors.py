"""Typed errors leave the CLI as one readable line and exit code 2, however it is invoked."""

import typer
from typer.testing import CliRunner

from shopmind.cli.output import TypedErrors
from shopmind.errors import BadInput


def test_typed_error_in_any_command_is_one_line_and_exit_2():
    app = typer.Typer(cls=TypedErrors)
    sub = typer.Typer()
    app.add_typer(sub, name="area")

    @sub.command("boom")
    def boom() -> None:
        raise BadInput("column [price] is not a number: '¥[99]'")

    result = CliRunner().invoke(app, ["area", "boom"])
    assert result.exit_code == 2
    text = result.stderr if hasattr(result, "stderr") else result.output
    assert "error [bad_input]: column [price] is not a number: '¥[99]'" in " ".join(text.split())
    assert "Traceback" not in text


def test_real_app_reports_a_missing_product(home):
    from shopmind.cli import app

    result = CliRunner().invoke(app, ["product", "NO-SUCH-ID", "--json"])
    assert result.exit_code == 2
    assert "[not_found]" in (result.stderr if hasattr(result, "stderr") else result.output)
