"""`shopmind ab …` and `shopmind eval ab` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shopmind.cli.ab import register
from shopmind.errors import BadInput, NotFound
from shopmind.experiments import open_experiments
from shopmind.experiments.simulate import synthetic_events
from tests.unit.cli_app import area_app


@pytest.fixture
def app() -> typer.Typer:
    return area_app(register)


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_cli_flow(app: typer.Typer, home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["ab", "create", "--product", "p7", "--content-type", "title", "--id", "c1",
                            "--variant", "A=经典款纯棉T恤", "--variant", 'B={"title": "夏日清爽纯棉T恤"}',
                            "--weight", "A=1", "--weight", "B=1", "--metric", "purchase"])
    assert r.exit_code == 0, r.output
    created = _last_json(r.stdout)
    assert created["variants"][0]["payload"] == "经典款纯棉T恤" and created["variants"][1]["payload"]["title"]

    r = runner.invoke(app, ["ab", "assign", "c1", "u1", "u2"])
    assert r.exit_code == 0 and len(r.stdout.strip().splitlines()) == 2

    exp = open_experiments().get("c1")
    csv_path = tmp_path / "ev.csv"
    lines = ["event_id,unit_id,type,amount"]
    for i, ev in enumerate(synthetic_events(exp, {"A": 0.05, "B": 0.05}, 800, seed=1, revenue_mean=30)):
        lines.append(f"{ev.get('event_id', f'x{i}')},{ev['unit_id']},{ev['type']},{ev.get('amount', '')}")
    lines.append("bad,u9,refund,3")
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errors_file = tmp_path / "errors.jsonl"
    r = runner.invoke(app, ["ab", "ingest", str(csv_path), "--experiment", "c1", "--errors-file", str(errors_file)])
    assert r.exit_code == 0, r.output
    rep = _last_json(r.stdout)
    assert rep["accepted"] == len(lines) - 2 and rep["rejected"] == 1 and rep["errors"][0]["line"] == len(lines)
    assert json.loads(errors_file.read_text(encoding="utf-8"))["event_id"] == "bad"
    r = runner.invoke(app, ["ab", "ingest", str(csv_path), "--experiment", "c1"])
    assert _last_json(r.stdout)["duplicates"] == len(lines) - 2

    r = runner.invoke(app, ["ab", "analyze", "c1", "--json"])
    an = _last_json(r.stdout)
    assert an["metric"] == "purchase" and an["total_units"] == 800 and an["winner"] == "A"  # A/A-like: keep control
    r = runner.invoke(app, ["ab", "analyze", "c1", "--metric", "revenue"])
    assert r.exit_code == 0 and "revenue" in r.stdout and "SRM p=" in r.stdout

    r = runner.invoke(app, ["ab", "stop", "c1"])
    assert r.exit_code == 0 and _last_json(r.stdout)["promoted"] == "A"
    r = runner.invoke(app, ["ab", "active", "p7", "title"])
    assert _last_json(r.stdout)["payload"] == "经典款纯棉T恤"
    r = runner.invoke(app, ["ab", "list", "--status", "stopped"])
    assert _last_json(r.stdout)["winner"] == "A"


def test_cli_plan_and_errors(app: typer.Typer, home: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["ab", "plan", "--baseline", "0.05", "--mde", "0.2"])
    assert r.exit_code == 0 and _last_json(r.stdout)["n_control"] > 7000
    r = runner.invoke(app, ["ab", "plan", "--mde", "0.2"])
    assert isinstance(r.exception, BadInput)
    r = runner.invoke(app, ["ab", "create", "--product", "p", "--content-type", "title", "--variant", "A=x"])
    assert isinstance(r.exception, BadInput)
    r = runner.invoke(app, ["ab", "stop", "missing"])
    assert isinstance(r.exception, NotFound)


def test_eval_ab_prints_one_json(app: typer.Typer) -> None:
    r = CliRunner().invoke(app, ["eval", "ab", "--sims", "400"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["sample_size"] == 400 and 0.01 < out["aa_false_positive_rate"] < 0.1
    assert abs(out["simulated_power"] - out["planned_power"]) < 0.08
