"""API safety: keys (hashed, roles), auth on every route, one error shape, bounds, throttles, CORS, jobs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopmind.api.app import create_app
from shopmind.api.auth import required_role
from shopmind.api.limits import ThrottleMiddleware
from shopmind.config import get_settings, load_settings
from shopmind.ops.jobs import JobKind, JobRunner, JobStore
from shopmind.security.keys import KeyStore
from tests.unit.cli_app import area_app


def _client(**overrides) -> TestClient:
    settings = load_settings(**overrides) if overrides else get_settings()
    return TestClient(create_app(settings), raise_server_exceptions=False)


# ------------------------------------------------------------------------------------------------ keys
def test_keys_are_hashed_at_rest_and_verified_in_constant_time(home: Path) -> None:
    store = KeyStore.for_home(home)
    assert not store.auth_enabled()
    created = store.create("write", name="ci")
    assert created.key.startswith(f"smk_{created.id}_")
    secret = created.key.split("_", 2)[2]
    raw = (home / "keys.db").read_bytes()
    assert secret.encode() not in raw and created.key.encode() not in raw  # only the hash is stored
    record = store.verify(created.key)
    assert record is not None and record.role == "write" and record.name == "ci"
    assert store.verify(created.key[:-1] + ("A" if created.key[-1] != "A" else "B")) is None  # one character off
    assert store.verify("smk_000000000000_" + "x" * 43) is None  # unknown id
    assert store.verify("not a key") is None and store.verify("") is None
    store.revoke(created.id)
    assert store.verify(created.key) is None
    assert store.auth_enabled() and not store.has_active_keys()  # revoking every key does not reopen the API


def test_key_store_rejects_unknown_roles_and_ids(home: Path) -> None:
    from shopmind.errors import BadInput, NotFound

    store = KeyStore.for_home(home)
    with pytest.raises(BadInput):
        store.create("root")
    with pytest.raises(NotFound):
        store.revoke("nope")


def test_route_roles() -> None:
    assert required_role("GET", "/health") is None
    assert required_role("GET", "/openapi.json") == "read"
    assert required_role("GET", "/openapi.json", public_docs=True) is None
    assert required_role("GET", "/products/{product_id}") == "read"
    assert required_role("POST", "/search") == "read"
    assert required_role("POST", "/compliance/check") == "read"
    assert required_role("POST", "/catalog/ingest") == "write"
    assert required_role("POST", "/content/title") == "write"
    assert required_role("POST", "/jobs/tag") == "write"
    assert required_role("GET", "/keys") == "admin"
    assert required_role("POST", "/keys/abc/revoke") == "admin"
    assert required_role("GET", "/streams/shop1/index.m3u8") == "read"
    assert required_role("GET", "/streams/shop1/index.m3u8", public_streams=True) is None
    assert required_role("GET", "/streamsX", public_streams=True) == "read"


def test_auth_is_off_without_keys_and_on_with_one(home: Path) -> None:
    client = _client()
    assert client.get("/jobs").status_code == 200  # no key ever created: loopback dev mode
    keys = KeyStore.for_home(home)
    admin, read, write = (keys.create(r).key for r in ("admin", "read", "write"))
    assert client.get("/health").status_code == 200
    for method, path in [("GET", "/jobs"), ("GET", "/openapi.json"), ("POST", "/search"), ("POST", "/jobs/index"),
                         ("GET", "/no/such/route")]:
        r = client.request(method, path, json={})
        assert r.status_code == 401, (method, path)
        assert r.json()["error"]["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/jobs", headers={"Authorization": "Bearer smk_bad"}).status_code == 401
    assert client.get("/jobs", headers={"Authorization": f"Bearer {read}"}).status_code == 200
    assert client.get("/jobs", headers={"X-API-Key": read}).status_code == 200
    denied = client.post("/jobs/index", headers={"X-API-Key": read})
    assert denied.status_code == 403 and denied.json()["error"]["detail"] == {"required_role": "write", "key_role": "read"}
    assert client.post("/jobs/index", headers={"X-API-Key": write}).status_code == 202
    assert client.get("/keys", headers={"X-API-Key": write}).status_code == 403
    listed = client.get("/keys", headers={"X-API-Key": admin}).json()
    assert {k["role"] for k in listed} == {"admin", "read", "write"} and all("secret" not in json.dumps(k) for k in listed)


def test_http_key_creation_needs_auth_on_first(home: Path) -> None:
    client = _client()
    r = client.post("/keys", json={"role": "admin"})
    assert r.status_code == 403 and "shopmind keys create" in r.json()["error"]["message"]


# ------------------------------------------------------------------------------------------ error shape
def test_every_error_has_one_shape(home: Path) -> None:
    client = _client()
    cases = [client.get("/nope"), client.delete("/health"), client.post("/search", json={"k": 0}),
             client.post("/search", content=b"{not json", headers={"content-type": "application/json"}),
             client.get("/products/NOPE"), client.post("/live/script", json={"products": [], "host": ""}),
             client.post("/live/price", json={"items": [{"product_id": "1", "unit_price": 1e30}]})]
    assert [r.status_code for r in cases] == [404, 405, 422, 422, 404, 422, 422]
    for r in cases:
        body = r.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}, body
    assert cases[2].json()["error"]["detail"]["errors"][0]["loc"] == ["body", "k"]


def test_openapi_declares_errors_and_roles(home: Path) -> None:
    spec = _client().get("/openapi.json").json()
    assert {"bearer", "apiKey"} <= set(spec["components"]["securitySchemes"])
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status in ("401", "403", "413", "422", "429", "500"):
                assert status in op["responses"], (method, path, status)
            ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse")
            assert op["x-required-role"] in {"none", "read", "write", "admin"}
    assert spec["paths"]["/health"]["get"]["security"] == []


# ------------------------------------------------------------------------------------------------ bounds
def test_a_megabyte_query_is_refused_in_milliseconds(home: Path) -> None:
    client = _client()
    client.post("/search", json={"query": "warm up"})
    body = json.dumps({"query": "连衣裙" * 350_000}, ensure_ascii=False).encode()  # 1 M characters, 3 MB
    started = time.perf_counter()
    r = client.post("/search", content=body, headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - started
    assert r.status_code in (413, 422) and elapsed < 0.1, (r.status_code, elapsed)
    long = client.post("/search", json={"query": "x" * 5000})  # under the body bounds, over api_max_query_chars
    assert long.status_code == 422 and "api_max_query_chars" in long.json()["error"]["message"]


def test_body_size_is_checked_before_reading_and_while_streaming(home: Path) -> None:
    client = _client(api_max_body_bytes=1000)
    r = client.post("/compliance/check", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["detail"]["limit"] == 1000

    def chunks():  # no Content-Length: the middleware must count as the body streams in
        for _ in range(10):
            yield b'{"text": "' + b"a" * 400 + b'"}'

    r = client.post("/compliance/check", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.post("/compliance/check", json={"text": "ok"}).status_code == 200


def test_json_shape_bounds(home: Path) -> None:
    client = _client(api_max_items=50, api_max_json_depth=8, api_max_text_chars=300)
    assert client.post("/recommend", json={"history": ["a"] * 51}).status_code == 413
    deep: list = []
    node = deep
    for _ in range(20):
        node.append([])
        node = node[0]
    r = client.post("/ab/events", json={"events": deep})
    assert r.status_code == 413 and r.json()["error"]["detail"]["limit"] == "api_max_json_depth"
    assert client.post("/compliance/check", json={"text": "y" * 301}).status_code == 413
    assert client.get("/jobs", params={"kind": "k" * 20_000}).status_code == 413  # query string bound


# ------------------------------------------------------------------------------------------- throttles
def test_heavy_routes_are_rate_limited_per_key(home: Path) -> None:
    client = _client(api_rate_burst=2, api_rate_per_minute=1)
    keys = KeyStore.for_home(home)
    a, b = keys.create("write").key, keys.create("write").key
    files = {"file": ("x.png", b"not an image", "image/png")}
    codes = [client.post("/media/nsfw", files=files, headers={"X-API-Key": a}).status_code for _ in range(3)]
    assert codes[:2] == [422, 422] and codes[2] == 429
    limited = client.post("/media/nsfw", files=files, headers={"X-API-Key": a})
    assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert client.post("/media/nsfw", files=files, headers={"X-API-Key": b}).status_code == 422  # other key unaffected
    assert client.post("/compliance/check", json={"text": "ok"}, headers={"X-API-Key": a}).status_code == 200  # light route


def test_concurrency_cap_per_key() -> None:
    settings = load_settings(api_max_concurrent=1, api_rate_burst=100)
    release = asyncio.Event()

    async def slow_app(scope, receive, send):
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = ThrottleMiddleware(slow_app, settings)

    async def call() -> int:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "method": "POST", "path": "/content/title", "client": ("10.0.0.1", 1), "state": {}}
        await middleware(scope, receive, send)
        return sent[0]["status"]

    async def main() -> list[int]:
        first = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        second = await call()  # the first is still in flight
        release.set()
        return [await first, second, await call()]

    assert asyncio.run(main()) == [200, 429, 200]


def test_cors_is_off_unless_origins_are_configured(home: Path) -> None:
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    r = _client().options("/search", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    r = _client(api_cors_origins="https://shop.example").options("/search", headers=preflight)
    assert r.headers.get("access-control-allow-origin") == "https://shop.example"


# ------------------------------------------------------------------------------------------------- jobs
def _wait(store: JobStore, job_id: str, timeout: float = 30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = store.get(job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {store.get(job_id).status}")


def _counting_kind(steps: int, delay: float, seen: list[int]) -> JobKind:
    def run(params, ctx):
        for i in range(params.get("start", 0), steps):
            try:  # an operation's own broad handlers must not swallow a cancel
                ctx.progress("count", i + 1, steps)
            except Exception:
                raise AssertionError("JobCancelled must not be an Exception")
            seen.append(i)
            time.sleep(delay)
        return {"counted": steps}

    return JobKind(run)


def test_job_runs_reports_progress_and_result(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.db")
    runner = JobRunner(store, {"count": _counting_kind(5, 0.0, [])}, poll_s=0.05).start()
    try:
        job = store.create("count", {})
        runner.wake()
        done = _wait(store, job.id)
    finally:
        runner.stop()
    assert done.status == "done" and done.result == {"counted": 5} and (done.progress, done.total) == (5, 5)


def test_job_cancel_stops_a_running_job(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.db")
    seen: list[int] = []
    runner = JobRunner(store, {"count": _counting_kind(10_000, 0.01, seen)}, poll_s=0.05).start()
    try:
        job = store.create("count", {})
        runner.wake()
        while not seen:
            time.sleep(0.01)
        store.request_cancel(job.id)
        cancelled = _wait(store, job.id)
    finally:
        runner.stop()
    assert cancelled.status == "cancelled" and len(seen) < 10_000
    queued = store.create("count", {})
    assert store.request_cancel(queued.id).status == "cancelled"  # never ran
    from shopmind.errors import BadInput

    with pytest.raises(BadInput):
        store.request_cancel(queued.id)


def test_failed_job_records_the_error(tmp_path: Path) -> None:
    from shopmind.errors import NotReady

    def boom(params, ctx):
        raise NotReady("run tag first")

    store = JobStore(tmp_path / "jobs.db")
    runner = JobRunner(store, {"boom": JobKind(boom)}, poll_s=0.05).start()
    try:
        failed = _wait(store, store.create("boom", {}).id)
    finally:
        runner.stop()
    assert failed.status == "failed" and failed.error == "not_ready: run tag first"


def test_interrupted_jobs_resume_on_restart(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.db")
    job = store.create("count", {})
    assert store.claim_next("dead-process").status == "running"  # a server died while running it
    other = store.create("oneshot", {})
    store.claim_next("dead-process")
    runner = JobRunner(store, {"count": _counting_kind(3, 0.0, []),
                               "oneshot": JobKind(lambda p, c: {}, resumable=False)}, poll_s=0.05).start()
    try:
        resumed = _wait(store, job.id)
    finally:
        runner.stop()
    assert resumed.status == "done" and resumed.attempts == 2
    assert store.get(other.id).status == "interrupted"


def test_jobs_api_ingests_an_upload_in_the_background(home: Path) -> None:
    with _client() as client:  # the context runs the lifespan: the job runner is up
        csv = "id,title,price\nJ1,帆布鞋,88\nJ2,,1\nJ3,white shirt,59\n".encode()
        r = client.post("/jobs/ingest", files={"catalog": ("c.csv", csv, "text/csv")})
        assert r.status_code == 202 and r.json()["kind"] == "ingest" and r.json()["status"] == "queued"
        job_id = r.json()["id"]
        deadline = time.time() + 60
        while (job := client.get(f"/jobs/{job_id}").json())["status"] in ("queued", "running") and time.time() < deadline:
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert job["result"]["ingested"] == 2 and job["result"]["failed"] == 1
        assert client.get("/products/J3").json()["product"]["title"] == "white shirt"
        assert not list((home / "uploads").iterdir())  # the upload is removed once the job ends
        assert client.get("/jobs", params={"kind": "ingest"}).json()[0]["id"] == job_id
        assert client.post(f"/jobs/{job_id}/cancel").status_code == 422  # already done
        assert client.post("/jobs/ingest", files={"catalog": ("c.exe", b"x", "text/plain")}).status_code == 422


def test_catalog_row_bound_on_upload(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPMIND_API_MAX_CATALOG_ROWS", "2")  # SHOPMIND_* reaches every route's settings
    get_settings.cache_clear()
    client = _client()
    csv = "id,title\n" + "".join(f"R{i},t{i}\n" for i in range(5))
    for route in ("/jobs/ingest", "/catalog/ingest"):
        r = client.post(route, files={"catalog": ("c.csv", csv.encode(), "text/csv")})
        assert r.status_code == 413 and r.json()["error"]["detail"]["limit"] == "api_max_catalog_rows", route


# -------------------------------------------------------------------------------------------------- CLI
def test_keys_and_jobs_cli(home: Path) -> None:
    from shopmind.cli import jobs, keys

    app = area_app(keys.register, jobs.register, typed_errors=True)
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "read", "--json"])
    assert created.exit_code == 0, created.output
    out = json.loads(created.stdout)
    assert set(out) == {"key", "id", "role"} and out["role"] == "read"
    assert KeyStore.for_home(home).verify(out["key"]).id == out["id"]
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)["keys"]
    assert [k["id"] for k in listed] == [out["id"]]
    assert runner.invoke(app, ["keys", "revoke", out["id"]]).exit_code == 0
    assert KeyStore.for_home(home).verify(out["key"]) is None
    bad = runner.invoke(app, ["keys", "create", "--role", "root"])
    assert bad.exit_code == 2 and "bad_input" in bad.output

    job = JobStore.for_home(home).create("tag", {"ocr": False})
    shown = json.loads(runner.invoke(app, ["jobs", "show", job.id, "--json"]).stdout)
    assert shown["status"] == "queued" and shown["kind"] == "tag"
    assert json.loads(runner.invoke(app, ["jobs", "list", "--json"]).stdout)["jobs"][0]["id"] == job.id
    assert json.loads(runner.invoke(app, ["jobs", "cancel", job.id, "--json"]).stdout)["status"] == "cancelled"
    assert runner.invoke(app, ["jobs", "show", "nope"]).exit_code == 2


def test_serve_refuses_a_public_address_without_keys(home: Path, monkeypatch) -> None:
    from shopmind.cli import server

    started: list = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(k))
    app = area_app(server.register, typed_errors=True)
    refused = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert refused.exit_code == 2 and "refusing to serve" in refused.output and not started
    loopback = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1", "--port", "0"])
    assert loopback.exit_code == 0 and "auth is off" in loopback.output and len(started) == 1
    KeyStore.for_home(home).create("admin")
    public = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert public.exit_code == 0 and len(started) == 2 and started[1]["host"] == "0.0.0.0"
    assert server.is_loopback("localhost") and server.is_loopback("::1") and not server.is_loopback("0.0.0.0")


def test_streamed_generation_stops_when_the_client_leaves(monkeypatch, tmp_path) -> None:
    import shopmind.api.generate as generate_api
    import shopmind.generate
    from shopmind.app import Shopmind

    produced: list[int] = []

    def fake_write(req, llm, *, store=None, on_token=None):  # stands in for the LLM loop: one token every 10 ms
        for i in range(1000):
            on_token(f"t{i}")
            produced.append(i)
            time.sleep(0.01)
        raise AssertionError("generation should have been stopped")

    monkeypatch.setattr(shopmind.generate, "write", fake_write)
    events = generate_api._events(Shopmind.open(tmp_path / "home"), object(), object())
    assert next(events)["event"] == "token"
    events.close()  # what the server does when the client disconnects
    time.sleep(0.2)
    stopped_at = len(produced)
    time.sleep(0.2)
    assert len(produced) == stopped_at < 100
