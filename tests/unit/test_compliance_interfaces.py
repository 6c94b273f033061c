"""Compliance API, CLI and evaluation on labelled data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopmind.api.compliance import router
from shopmind.api.errors import install_error_handlers
from shopmind.cli.compliance import register
from shopmind.eval.compliance import evaluate
from tests.unit.cli_app import area_app

HARD = Path(__file__).resolve().parents[1] / "data" / "compliance_hard_cases.jsonl"
ADLAW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "adlaw"


@pytest.fixture
def client(home):
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    return TestClient(app)


def _cli():
    return area_app(register)


def test_api_check_and_rewrite(client):
    r = client.post("/compliance/check", json={"text": "这款面霜绝对是首选，可以消炎", "category": "cosmetics"})
    assert r.status_code == 200
    body = r.json()
    assert body["verdict"] == "violation"
    assert {f["span"] for f in body["findings"]} == {"首选", "消炎"}
    r = client.post("/compliance/rewrite", json={"text": "这款面霜绝对是首选，可以消炎"})
    assert r.status_code == 200 and r.json()["remaining"] == [] and "首选" not in r.json()["text"]


def test_api_errors(client):
    r = client.post("/compliance/check", json={"text": ""})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_input"
    r = client.post("/compliance/check", json={"text": "好", "category": "spaceships"})
    assert r.status_code == 422


def test_cli_check_json(home):
    result = CliRunner().invoke(_cli(), ["check", "全网第一的防晒衣", "--json", "--rewrite"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["findings"][0]["span"] == "全网第一" and obj["findings"][0]["start"] == 0
    assert "全网第一" not in obj["rewrite"]["text"]


def _sane(report: dict) -> None:
    for part in ("engine", "baseline"):
        for level in ("text_level", "span_level"):
            for metrics in report[part][level].values():
                assert 0.0 <= metrics["precision"] <= 1.0 and 0.0 <= metrics["recall"] <= 1.0
    assert report["engine"]["throughput"]["texts_per_s"] > 100


def test_eval_hard_cases_via_cli(home):
    args = ["eval", "compliance", "--labels", str(HARD), "--json"]
    if not (ADLAW / "absolute_terms_es3344520.txt").exists():
        pytest.skip("shared adlaw data absent (baseline list)")
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_texts"] >= 80
    _sane(report)
    eng, base = report["engine"]["text_level"]["violation"], report["baseline"]["text_level"]["violation"]
    assert eng["f1"] > base["f1"]
    assert report["engine"]["per_category_recall"]["medical_claim"]["gold_spans"] > 0


def test_eval_dev_file():
    labels = ADLAW / "labelled_dev.jsonl"
    if not labels.exists():
        pytest.skip(f"shared evaluation data not available: {labels}")
    report = evaluate(labels, ADLAW / "absolute_terms_es3344520.txt")
    _sane(report)
    assert report["n_texts"] > 0 and not report["errors"]
    eng = report["engine"]["text_level"]["violation"]
    base = report["baseline"]["text_level"]["violation"]
    assert eng["precision"] > base["precision"]  # the point of context rules
    assert eng["recall"] >= 0.8
