"""CLI (`service ask`, `eval qa`) and API (`POST /service/ask`) of grounded product Q&A."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.unit.cli_app import area_app
from tests.unit.test_qa_core import ROWS, write_catalog


@pytest.fixture
def catalog(home):
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    ingest_catalog(open_store(get_settings()), write_catalog(home))
    return home


def _apps(with_service_first: bool = True):
    from shopmind.cli import qa, service

    registers = (service.register, qa.register) if with_service_first else (qa.register,)
    return area_app(*registers, typed_errors=True)


def test_cli_ask_json_joins_the_existing_service_group(catalog):
    app = _apps()
    runner = CliRunner()
    res = runner.invoke(app, ["service", "ask", "p1", "这款有几种颜色？", "--no-llm", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["answerable"] and obj["language"] == "zh" and "3种颜色" in obj["answer"]
    helped = runner.invoke(app, ["service", "--help"])
    assert "ask" in helped.stdout and "triage" in helped.stdout


def test_cli_ask_plain_and_errors(catalog):
    app = _apps(with_service_first=False)
    runner = CliRunner()
    res = runner.invoke(app, ["service", "ask", "p1", "What brand is this?", "--no-llm"])
    assert res.exit_code == 0 and "Acme" in res.stdout
    missing = runner.invoke(app, ["service", "ask", "nope", "What brand is this?", "--no-llm"])
    assert missing.exit_code == 2


def test_cli_eval_qa_prints_one_json_object(home, tmp_path):
    records = [dict(r, id=str(r["id"]), article_attributes={"Fabric": r.get("Fabric", "")}) for r in ROWS]
    data = tmp_path / "products.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    res = CliRunner().invoke(_apps(), ["eval", "qa", "--data", str(data), "--no-llm", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["n"] == 12 and obj["n_products"] == 4 and obj["llm_used"] is False
    for key in ("exact_fact_accuracy", "refusal_accuracy", "hallucination_rate", "latency_ms", "per_kind_accuracy"):
        assert key in obj


@pytest.fixture
def client(catalog):
    from shopmind.api.errors import install_error_handlers
    from shopmind.api.qa import router

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    return TestClient(app)


def test_api_ask_json(client):
    r = client.post("/service/ask", json={"product_id": "p1", "question": "What fabric is it?", "llm": False})
    assert r.status_code == 200
    body = r.json()
    assert body["answerable"] and "Cotton" in body["answer"]
    assert any(c["field"] == "material" for c in body["citations"])


def test_api_ask_stream_ndjson(client):
    r = client.post("/service/ask", json={"product_id": "p1", "question": "Does it have a warranty?", "llm": False,
                                           "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    assert [e["event"] for e in events][0] == "facts" and events[-1]["event"] == "answer"
    assert events[-1]["answer"]["answerable"] is False


def test_api_errors_are_typed(client):
    r = client.post("/service/ask", json={"product_id": "nope", "question": "colour?", "stream": True})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.post("/service/ask", json={"product_id": "p1", "question": " "})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_input"
