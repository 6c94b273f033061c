"""The /ab routes: create → assign → batch events → analysis → stop/promote, with typed errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shopmind.api.ab import router
from shopmind.api.errors import install_error_handlers
from shopmind.experiments import get_active_content, open_experiments
from shopmind.experiments.simulate import synthetic_events


@pytest.fixture
def client(home: Path) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    return TestClient(app)


SPEC = {"id": "t1", "product_id": "sku-9", "content_type": "poster", "metric": "ctr",
        "variants": [{"key": "old", "payload": {"poster": "a.png"}, "weight": 1},
                     {"key": "new", "payload": {"poster": "b.png"}, "weight": 1}]}


def test_full_flow(client: TestClient) -> None:
    r = client.post("/ab/experiments", json=SPEC)
    assert r.status_code == 201 and r.json()["variants"][0]["control"] is True
    assert client.post("/ab/experiments", json=SPEC).json()["error"]["code"] == "bad_input"
    assert client.get("/ab/experiments/t1").json()["product_id"] == "sku-9"
    assert client.get("/ab/experiments/none").status_code == 404
    a1 = client.post("/ab/experiments/t1/assign", json={"unit_id": "sess-1"}).json()
    a2 = client.post("/ab/experiments/t1/assign", json={"unit_id": "sess-1"}).json()
    assert a1["variant"] == a2["variant"] and a1["payload"]["poster"] in {"a.png", "b.png"}

    exp = open_experiments().get("t1")
    events = list(synthetic_events(exp, {"old": 0.04, "new": 0.08}, 5000, seed=4))
    events.insert(10, {"experiment_id": "t1", "unit_id": "x", "type": "teleport"})
    total = 0
    for start in range(0, len(events), 2000):
        rep = client.post("/ab/events", json={"events": events[start:start + 2000]}).json()
        total += rep["accepted"]
        if start == 0:
            assert rep["rejected"] == 1 and rep["errors"][0]["line"] == 10
    assert total == len(events) - 1
    dup = client.post("/ab/events", json={"events": events[:500]}).json()
    assert (dup["accepted"], dup["duplicates"], dup["rejected"]) == (0, 499, 1)  # the bad row is still bad

    an = client.get("/ab/experiments/t1/analysis").json()
    assert an["winner"] == "new" and an["comparisons"][0]["significant"]
    mc = client.get("/ab/experiments/t1/analysis", params={"bayes": "mc", "seed": 1}).json()
    assert mc["comparisons"][0]["prob_beat_control"] == pytest.approx(an["comparisons"][0]["prob_beat_control"], abs=0.01)
    assert client.get("/ab/experiments/t1/analysis", params={"metric": "bogus"}).status_code == 422

    assert client.get("/ab/active-content/sku-9/poster").status_code == 404
    stopped = client.post("/ab/experiments/t1/stop", json={})
    assert stopped.status_code == 200 and stopped.json()["promoted"] == "new"
    assert client.get("/ab/active-content/sku-9/poster").json()["payload"] == {"poster": "b.png"}
    assert get_active_content("sku-9", "poster").variant == "new"
    again = client.post("/ab/experiments/t1/stop", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_ready"
    assert [e["status"] for e in client.get("/ab/experiments").json()] == ["stopped"]


def test_concurrent_api_clients_lose_nothing(client: TestClient) -> None:
    client.post("/ab/experiments", json=SPEC)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for b in range(10):
                batch = [{"experiment_id": "t1", "unit_id": f"c{k}-{b}-{i}", "type": "impression",
                          "event_id": f"c{k}-{b}-{i}"} for i in range(40)]
                assert client.post("/ab/events", json={"events": batch}).json()["accepted"] == 40
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert open_experiments().count_events("t1") == 4 * 10 * 40


def test_plan_and_limits(client: TestClient) -> None:
    plan = client.post("/ab/plan", json={"baseline": 0.1, "mde": 0.1}).json()
    assert 14_000 < plan["n_control"] < 15_500
    assert client.post("/ab/plan", json={"mde": 0.1}).json()["error"]["code"] == "bad_input"
    assert client.post("/ab/plan", json={"metric": "mean", "std": 30, "mde": 1}).json()["n_control"] > 1000
    too_many = [{"experiment_id": "t1", "unit_id": "u", "type": "click"}] * 10_001
    assert client.post("/ab/events", json={"events": too_many}).status_code == 422
    assert client.post("/ab/experiments", json={**SPEC, "variants": SPEC["variants"][:1]}).status_code == 422
