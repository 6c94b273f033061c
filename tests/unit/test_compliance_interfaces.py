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
from shopmind.errors import BadInput
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


def test_api_facts_languages_and_unchecked(client):
    r = client.post("/compliance/check", json={"text": "美白精华", "category": "cosmetics",
                                                "facts": {"特殊化妆品注册证": "国妆特字G20260001", "功效": "美白"}})
    assert r.status_code == 200 and r.json()["verdict"] in {"clean", "borderline", "violation"}
    body = client.post("/compliance/check", json={"text": "Лучший крем в мире"}).json()
    assert body["verdict"] == "unchecked" and body["unchecked_languages"] == ["ru"]
    body = client.post("/compliance/check", json={"text": "全 网 第 1 的防晒衣"}).json()
    assert body["verdict"] == "violation" and body["findings"][0]["span"] == "全 网 第 1"
    r = client.post("/compliance/rewrite", json={"text": "國家級工藝，全網第一", "facts": {"材质": "棉"}})
    assert r.status_code == 200 and r.json()["remaining"] == [] and "第一" not in r.json()["text"]


def test_api_errors(client):
    r = client.post("/compliance/check", json={"text": ""})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_input"
    r = client.post("/compliance/check", json={"text": "好", "category": "spaceships"})
    assert r.status_code == 422


def test_cli_check_facts_and_eval_contract(home, tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"功效": "美白"}, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["check", "ＮＯ．１美白精华", "--category", "cosmetics", "--facts", str(facts),
                                         "--json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["verdict"] == "violation" and any(f["span"] == "ＮＯ．１" for f in obj["findings"])
    facts.write_text("[1, 2]", encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["check", "好看", "--facts", str(facts)])
    assert result.exit_code != 0 and isinstance(result.exception, BadInput) and "facts" in str(result.exception)
    result = CliRunner().invoke(_cli(), ["eval", "compliance", "--labels", str(HARD), "--split", "holdout",
                                         "--rules-only", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("precision", "recall", "f1", "n", "span", "per_category", "per_product_category", "errors",
                "flag_rate_clean"):
        assert key in report
    assert report["split"] == "holdout" and report["classifier"] is False and 0 < report["n"] < 90


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
    # a sanity floor only: the learned classifier runs ~100-300 texts/s on a loaded 2-core runner
    assert report["engine"]["throughput"]["texts_per_s"] > 20


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
