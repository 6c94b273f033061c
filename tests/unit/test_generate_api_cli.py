"""`POST /content/{type}` (plain, NDJSON, SSE), `shopmind write`, `shopmind eval copy` and the metrics,
against the scripted OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_generate_llm_openai import serving_as_llm
from typer.testing import CliRunner

from shopmind.eval.copy import score_pair
from tests.unit.cli_app import area_app

DENIM = "类型#上衣*材质#牛仔布*颜色#白色*风格#简约*图案#刺绣*衣样式#外套"
GOOD = '{"description": "简约的白色牛仔外套，后背刺绣精致，日常通勤很百搭。"}'


@pytest.fixture
def fake(home, monkeypatch):
    with serving_as_llm(monkeypatch) as server:
        yield server


@pytest.fixture
def client(fake):
    from shopmind.api.errors import install_error_handlers
    from shopmind.api.generate import router

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    return TestClient(app)


def test_api_plain(fake, client):
    fake.replies = ['{"title": "最好的白色牛仔外套"}']
    r = client.post("/content/title", json={"attributes": DENIM})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["passed"] and "最好" not in body["content"]["title"]
    assert [s["stage"] for s in body["audit"]] == ["draft", "check", "rule_rewrite", "guard"]


def test_api_ndjson_stream(fake, client):
    fake.replies = [GOOD]
    r = client.post("/content/description?stream=ndjson", json={"attributes": DENIM})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in r.text.splitlines() if line]
    assert events[0]["event"] == "token" and events[-1]["event"] == "result"
    assert "".join(e["text"] for e in events if e["event"] == "token") == GOOD
    assert all(e["checked"] is False for e in events if e["event"] == "token")  # a preview, never publishable
    assert events[-1]["passed"] is True


def test_api_sse_stream_reports_errors_as_events(fake, client):
    fake.replies = ["no json", "still none"]
    r = client.post("/content/title?stream=sse", json={"attributes": DENIM})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in r.text.split("\n\n") if f.strip()]
    assert frames[-1].startswith("event: error") and "backend_unavailable" in frames[-1]


@pytest.mark.parametrize("path, body, status, code", [
    ("/content/title", {"attributes": "类型上衣"}, 422, "bad_input"),
    ("/content/title", {}, 422, "bad_input"),
    ("/content/title", {"attributes": DENIM, "language": "klingon"}, 422, "bad_input"),
    ("/content/title", {"product_id": "nope"}, 404, "not_found"),
])
def test_api_typed_errors(client, path, body, status, code):
    r = client.post(path, json=body)
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_api_unknown_type_is_rejected(client):
    assert client.post("/content/poem", json={"attributes": DENIM}).status_code == 422


def _cli():
    from shopmind.cli.generate import register

    return area_app(register)


def test_cli_write_json(fake):
    fake.replies = ['{"headline": "通勤也出彩", "body": "白色牛仔外套，后背刺绣，简约有细节。"}']
    res = CliRunner().invoke(_cli(), ["write", "ad_copy", "--attributes", DENIM, "--persona", "年轻女性", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["passed"] and obj["content"]["headline"] == "通勤也出彩"


def test_cli_write_rejects_bad_type(fake):
    from shopmind.errors import BadInput

    res = CliRunner().invoke(_cli(), ["write", "poem", "--attributes", DENIM])
    assert isinstance(res.exception, BadInput)


def test_eval_copy_json(fake, tmp_path):
    data = tmp_path / "dev.jsonl"
    rows = [{"id": 1, "content": DENIM, "summary": "简约的白色牛仔外套，后背刺绣精致。"},
            {"id": 2, "content": "类型#裙*颜色#黑色", "summary": "黑色半身裙，优雅。"}]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", encoding="utf-8")
    fake.replies = [GOOD, '{"description": "黑色的裙身很优雅，日常通勤好搭配。"}']
    out = tmp_path / "preds.jsonl"
    res = CliRunner().invoke(_cli(), ["eval", "copy", "--data", str(data), "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["sample_size"] == 3 and report["generated"] == 2 and report["failed"] == 1
    assert report["compliance_pass_rate_final"] == 1.0 and report["fact_contradiction_rate_final"] == 0.0
    assert 0 < report["bleu_4"] <= 100 and 0 < report["rouge_l"] <= 100 and report["tokens_per_s"] > 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


def test_metrics_identity_and_disjoint():
    same = score_pair("简约的白色牛仔外套，后背刺绣精致。", "简约的白色牛仔外套，后背刺绣精致。")
    assert same["bleu_4"] == pytest.approx(100.0) and same["rouge_l"] == pytest.approx(100.0, abs=1e-3)
    none = score_pair("黑半身裙", "白色外套上衣")
    assert none["rouge_1"] == 0.0 and none["bleu_4"] == 0.0
