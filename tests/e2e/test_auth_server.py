"""The live server with keys: every route needs one, roles hold, bounds answer fast, SIGTERM is graceful,
`serve` refuses a public address without keys, and a job killed with the server resumes on restart."""

from __future__ import annotations

import csv
import json
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.live_server import SHOPMIND, LiveServer, cli, free_port, server_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth")
    env = server_env(root / "home")
    keys = {role: json.loads(cli(env, "keys", "create", "--role", role, "--json").stdout)["key"]
            for role in ("read", "write", "admin")}
    catalog = root / "catalog.csv"
    catalog.write_text("id,title,price,category\nA1,红色连衣裙 夏季,199,Dresses\nA2,blue cotton shirt,89.5,Shirts\n"
                       "A3,黑色 运动鞋,259,Shoes\n", encoding="utf-8")
    cli(env, "ingest", str(catalog), "--json")
    cli(env, "index", "--json")
    server = LiveServer(env).start()
    yield server, keys
    server.stop()


def _operations(base: str, key: str) -> list[tuple[str, str, str]]:
    spec = httpx.get(base + "/openapi.json", headers={"X-API-Key": key}, timeout=30).json()
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            ops.append((method.upper(), path.replace("{", "").replace("}", ""), op["x-required-role"]))
    return ops


def test_every_route_needs_a_key_and_roles_hold(secured) -> None:
    server, keys = secured
    ops = _operations(server.base, keys["read"])
    assert len(ops) >= 35
    with httpx.Client(base_url=server.base, timeout=30) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/openapi.json").status_code == 401
        for method, path, role in ops:
            if role == "none":
                continue
            anonymous = client.request(method, path, json={})
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.json()["error"]["code"] == "unauthorized"
            wrong = client.request(method, path, json={}, headers={"Authorization": "Bearer smk_0123456789ab_" + "z" * 43})
            assert wrong.status_code == 401, (method, path)
            if role in ("write", "admin"):
                denied = client.request(method, path, json={}, headers={"X-API-Key": keys["read"]})
                assert denied.status_code == 403, (method, path, denied.text)
        assert client.get("/keys", headers={"X-API-Key": keys["write"]}).status_code == 403
        assert client.get("/keys", headers={"X-API-Key": keys["admin"]}).status_code == 200


def test_megabyte_query_is_refused_fast_while_other_searches_go_on(secured) -> None:
    server, keys = secured
    headers = {"X-API-Key": keys["read"], "content-type": "application/json"}
    big = json.dumps({"query": "红色连衣裙" * 200_000}, ensure_ascii=False).encode()  # 1 M characters
    latencies: list[float] = []
    statuses: list[int] = []
    stop = threading.Event()

    def searcher() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            while not stop.is_set():
                t = time.perf_counter()
                r = client.post("/search", json={"query": "红色连衣裙", "k": 3}, headers=headers)
                latencies.append(time.perf_counter() - t)
                statuses.append(r.status_code)

    warm = httpx.post(server.base + "/search", json={"query": "红色连衣裙", "k": 3}, headers=headers, timeout=300)
    assert warm.status_code == 200, warm.text  # the first search loads the encoders (seconds)
    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        refused = []
        with httpx.Client(base_url=server.base, timeout=60) as client:
            for _ in range(5):
                t = time.perf_counter()
                r = client.post("/search", content=big, headers=headers)
                refused.append(time.perf_counter() - t)
                assert r.status_code in (413, 422) and r.json()["error"]["code"] in ("too_large", "bad_input")
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(60)
    assert statistics.median(refused) < 0.1, refused
    assert statuses and set(statuses) == {200}, set(statuses)
    assert max(latencies) < 5.0, max(latencies)  # nothing waited behind the big query


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    import subprocess

    env = server_env(tmp_path / "home")
    proc = subprocess.run([*SHOPMIND, "serve", "--host", "0.0.0.0", "--port", str(free_port())], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "refusing to serve" in proc.stderr and "keys create" in proc.stderr


def _big_catalog(path: Path, rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "price", "category"])
        for i in range(rows):
            writer.writerow([f"K{i:07d}", f"商品 {i} 红色连衣裙 cotton dress", 10 + i % 300, "Dresses"])
    return path


def test_a_job_killed_with_the_server_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    env = server_env(tmp_path / "home")
    admin = json.loads(cli(env, "keys", "create", "--role", "admin", "--json").stdout)["key"]
    headers = {"X-API-Key": admin}
    rows = 150_000
    catalog = _big_catalog(tmp_path / "big.csv", rows)
    server = LiveServer(env).start()
    try:
        with catalog.open("rb") as fh:
            r = httpx.post(server.base + "/jobs/ingest", files={"catalog": ("big.csv", fh, "text/csv")}, headers=headers,
                           timeout=120)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.time() + 120
        while time.time() < deadline:
            job = httpx.get(f"{server.base}/jobs/{job_id}", headers=headers, timeout=30).json()
            if job["status"] == "running" and job["progress"] >= 2000:
                break
            assert job["status"] in ("queued", "running"), job
            time.sleep(0.1)
        else:
            pytest.fail("the ingest job never got going")
        assert job["progress"] < rows, "job finished before the kill: make the catalog bigger"
    finally:
        server.proc.kill()  # kill -9: no shutdown handler runs
        server.proc.wait(30)
        server._log_fh.close()
    restarted = LiveServer(env).start()
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            job = httpx.get(f"{restarted.base}/jobs/{job_id}", headers=headers, timeout=30).json()
            if job["status"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        assert job["status"] == "done" and job["attempts"] == 2, job
        assert job["result"]["ingested"] + job["result"]["skipped_existing"] == rows, job["result"]
    finally:
        code = restarted.stop()
    # SIGTERM: uvicorn finishes in-flight requests and the lifespan (job runner stops), then exits
    # (uvicorn re-raises the signal after a clean shutdown, so -15 is a clean exit too).
    assert code in (0, -15) and "Application shutdown complete" in restarted.output(), (code, restarted.output())
    import sqlite3

    conn = sqlite3.connect(tmp_path / "home" / "shopmind.db")
    try:
        count, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM products").fetchone()
    finally:
        conn.close()
    assert count == distinct == rows
