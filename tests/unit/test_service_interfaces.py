"""CLI and API over the service capability (real triage, real SQLite)."""

import base64
import io
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from shopmind.api.errors import install_error_handlers
from shopmind.api.service import router
from shopmind.cli.service import register
from shopmind.service.sentiment import BUNDLED_MODEL
from tests.unit.cli_app import area_app

LABELLED = Path(__file__).resolve().parents[1] / "data" / "triage_labelled.jsonl"


def _cli():
    return area_app(register, typed_errors=True)


def _api():
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    return TestClient(app)


def test_cli_triage_creates_ticket_and_status_moves(home):
    runner = CliRunner()
    r = runner.invoke(_cli(), ["service", "triage", "I ordered the navy one and got bright red. Order O555111", "--json"])
    assert r.exit_code == 0, r.output
    ticket = json.loads(r.stdout)
    assert ticket["status"] == "open" and ticket["order_no"] == "O555111"
    assert ticket["triage"]["issue_type"] in {"wrong_item", "not_as_described"}
    if BUNDLED_MODEL.exists():
        assert 0.0 <= ticket["triage"]["sentiment"]["score"] <= 1.0
    r = runner.invoke(_cli(), ["service", "status", ticket["id"], "in_progress", "--actor", "amy"])
    assert r.exit_code == 0 and json.loads(r.stdout)["history"][-1]["actor"] == "amy"
    r = runner.invoke(_cli(), ["service", "triage", "  ", "--json"])
    assert r.exit_code == 2


def test_cli_eval_triage_json(home):
    r = CliRunner().invoke(_cli(), ["eval", "triage", "--data", str(LABELLED), "--protocol", "cv", "--folds", "3", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["n"] >= 300 and report["protocol"] == "cv"
    assert set(report["per_class"]) >= {"logistics_damage", "other"}
    assert {"precision", "recall", "f1"} <= set(report["per_class"]["size_fit"])
    assert report["macro_f1"] > report["baseline"]["macro_f1"]  # the classifier must beat cues alone


def test_api_create_get_patch_and_errors(home):
    client = _api()
    img = Image.new("RGB", (48, 48), (255, 255, 255))
    img.paste((30, 60, 200), (8, 8, 40, 40))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    body = {"message": "鞋子偏小一码，能换大一号吗？电话13812345678", "image_base64": base64.b64encode(buf.getvalue()).decode(), "ocr": False}
    r = client.post("/service/tickets", json=body)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["image_sha256"] and "13812345678" not in json.dumps(t, ensure_ascii=False)
    assert any(e["kind"] == "dominant_colour" for e in t["triage"]["evidence"])
    assert client.get(f"/service/tickets/{t['id']}").json()["id"] == t["id"]
    r = client.patch(f"/service/tickets/{t['id']}", json={"status": "resolved", "actor": "bo"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert client.patch(f"/service/tickets/{t['id']}", json={"status": "in_progress"}).json()["error"]["code"] == "bad_input"
    assert client.post("/service/tickets", json={"message": "  "}).json()["error"]["code"] == "bad_input"
    assert client.post("/service/tickets", json={"message": "hi", "image_base64": "!!notb64"}).status_code == 422
    assert client.post("/service/tickets", json={"message": "hi", "image_base64": base64.b64encode(b"notimage").decode()}).status_code == 422
    assert client.get("/service/tickets/TK-NONE").status_code == 404
