"""Load test of the API: 8 clients on search + compliance check while catalogs are uploaded, /health probed.

Prints one JSON object: per route n, p50/p99 (ms), errors; /health p99; upload count and rows.
Without --base it builds its own server: a temporary SHOPMIND_HOME with the demo catalog ingested,
tagged and indexed, an admin key, and `shopmind serve` on a free loopback port.

    .venv/bin/python scripts/load_test.py --seconds 60 --clients 8 > load.json
    .venv/bin/python scripts/load_test.py --base http://127.0.0.1:8000 --key smk_… --seconds 60

Not part of CI (it runs for minutes); figures go to docs/benchmarks.md ("API safety and load").
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
QUERIES = ["红色连衣裙", "black shoes", "白色T恤", "blue dress", "运动鞋 黑色", "cotton shirt", "连衣裙 夏季", "牛仔裤"]
TEXTS = ["全网最低价，买到就是赚到", "这款连衣裙采用纯棉面料，透气舒适", "国家级品质，100%有效", "夏季新品上市，限时优惠",
         "best quality guaranteed, clinically proven", "舒适百搭，日常通勤都合适"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(env: dict, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "shopmind", *args], env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"shopmind {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def start_own_server(workdir: Path) -> tuple[str, str, subprocess.Popen]:
    """Demo catalog → ingest → tag → index → admin key → serve; returns (base, key, process)."""
    from shopmind.demo.catalog import generate_demo_catalog

    env = dict(os.environ, SHOPMIND_HOME=str(workdir / "home"), NO_COLOR="1")
    env.setdefault("SHOPMIND_MODELS_PATH", str(REPO / ".shopmind" / "test-models"))
    csv_path = generate_demo_catalog(workdir / "catalog", seed=1)
    _cli(env, "ingest", str(csv_path), "--json")
    _cli(env, "tag", "--json")
    key = json.loads(_cli(env, "keys", "create", "--role", "admin", "--json"))["key"]
    port = _free_port()
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "shopmind", "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return base, key, proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start; see " + str(workdir / "server.log"))


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}
        self.errors: dict[str, dict[str, int]] = {}

    def add(self, name: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.samples.setdefault(name, []).append(seconds)
            if status != 200:
                bucket = self.errors.setdefault(name, {})
                bucket[str(status)] = bucket.get(str(status), 0) + 1

    def summary(self, name: str) -> dict:
        xs = sorted(self.samples.get(name, []))
        if not xs:
            return {"n": 0}
        pick = lambda q: xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]  # noqa: E731
        return {"n": len(xs), "p50_ms": round(1000 * statistics.median(xs), 1), "p99_ms": round(1000 * pick(0.99), 1),
                "max_ms": round(1000 * xs[-1], 1), "errors": sum(self.errors.get(name, {}).values()),
                "errors_by_status": self.errors.get(name, {})}


def _timed(rec: Recorder, name: str, call) -> None:
    started = time.perf_counter()
    try:
        status = call().status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    rec.add(name, time.perf_counter() - started, status)


def _lower_priority(nice: int) -> None:
    """--client-nice: this load-generator thread yields the CPU to the server (Linux, per thread)."""
    if nice > 0 and hasattr(os, "setpriority"):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))


def client_loop(base: str, headers: dict, rec: Recorder, stop: threading.Event, seed: int, nice: int = 0) -> None:
    _lower_priority(nice)
    rng = random.Random(seed)
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while not stop.is_set():
            if rng.random() < 0.5:
                _timed(rec, "search", lambda: client.post("/search", json={"query": rng.choice(QUERIES), "k": 10}))
            else:
                _timed(rec, "check", lambda: client.post("/compliance/check", json={"text": rng.choice(TEXTS)}))


def health_probe(base: str, seconds: float, conn) -> None:
    """Runs in its own process: in the load generator's process the GIL, shared with 9 busy client
    threads, would add its own delay to every /health timing."""
    samples, errors = [], {}
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status = client.get("/health").status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            samples.append(time.perf_counter() - started)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
            time.sleep(0.05)
    conn.send((samples, errors))
    conn.close()


def upload_loop(base: str, headers: dict, rec: Recorder, stop: threading.Event, rows: int, route: str, nice: int = 0) -> dict:
    """Upload fresh catalogs (new ids each time) back to back until stopped.

    route "sync": `POST /catalog/ingest` answers with the report when the ingest is done;
    route "jobs": `POST /jobs/ingest` answers 202 at once, and we poll the job until it ends.
    """
    _lower_priority(nice)
    done = {"uploads": 0, "rows": 0}
    n = 0
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        while not stop.is_set():
            buf = io.StringIO()
            buf.write("id,title,price,category\n")
            for i in range(rows):
                buf.write(f"L{n:03d}-{i:06d},负载测试 商品 {i} 红色连衣裙,{10 + i % 300},Dresses\n")
            files = {"catalog": (f"load{n}.csv", buf.getvalue().encode("utf-8"), "text/csv")}
            started = time.perf_counter()
            try:
                if route == "jobs":
                    r = client.post("/jobs/ingest", files=files)
                    status = 200 if r.status_code == 202 else r.status_code
                    while status == 200 and not stop.is_set():
                        job = client.get(f"/jobs/{r.json()['id']}").json()
                        if job["status"] not in ("queued", "running"):
                            status = 200 if job["status"] == "done" else f"job_{job['status']}"
                            break
                        time.sleep(0.2)
                else:
                    r = client.post("/catalog/ingest", files=files)
                    status = r.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            rec.add("upload_ingest", time.perf_counter() - started, status)
            if status == 200:
                done["uploads"] += 1
                done["rows"] += rows
            n += 1
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="A running server (default: start one on a demo catalog).")
    parser.add_argument("--key", help="API key for --base.")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--upload-rows", type=int, default=5000)
    parser.add_argument("--upload-route", choices=("sync", "jobs"), default="sync",
                        help="sync: POST /catalog/ingest (waits for the report); jobs: POST /jobs/ingest + polling.")
    parser.add_argument("--client-nice", type=int, default=0,
                        help="Renice the load generator's client threads (not the /health probe) by N: on one machine "
                             "the clients otherwise take the server's cores, which remote clients would not.")
    args = parser.parse_args()

    proc = None
    tmp = None
    base, key = args.base, args.key
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="shopmind-load-")
        base, key, proc = start_own_server(Path(tmp.name))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        for q, text in zip(QUERIES, TEXTS):  # warm the encoders, BM25 cache and lexicons: we measure the steady state
            httpx.post(base + "/search", json={"query": q}, headers=headers, timeout=300)
            httpx.post(base + "/compliance/check", json={"text": text}, headers=headers, timeout=300)
        rec = Recorder()
        stop = threading.Event()
        uploads: dict = {}
        threads = [threading.Thread(target=client_loop, args=(base, headers, rec, stop, i, args.client_nice)) for i in range(args.clients)]
        threads.append(threading.Thread(target=lambda: uploads.update(upload_loop(base, headers, rec, stop, args.upload_rows,
                                                                                   args.upload_route, args.client_nice))))
        load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
        parent_conn, child_conn = multiprocessing.Pipe(duplex=False)
        probe = multiprocessing.Process(target=health_probe, args=(base, args.seconds, child_conn))
        started = time.perf_counter()
        probe.start()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        samples, errors = parent_conn.recv()
        probe.join(60)
        for t in threads:
            t.join(600)
        rec.samples["health"] = samples
        rec.errors["health"] = errors
        elapsed = time.perf_counter() - started
        result = {
            "command": "scripts/load_test.py " + " ".join(sys.argv[1:]),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs (shared)",
            "seconds": round(elapsed, 1), "clients": args.clients, "upload_rows": args.upload_rows,
            "upload_route": args.upload_route, "client_nice": args.client_nice, "load_average_1min": [load_before, round(os.getloadavg()[0], 2)],
            "search": rec.summary("search"), "check": rec.summary("check"), "health": rec.summary("health"),
            "upload_ingest": rec.summary("upload_ingest") | uploads,
        }
        result["requests_per_s"] = round((result["search"].get("n", 0) + result["check"].get("n", 0)) / elapsed, 1)
        result["errors_total"] = sum(result[k].get("errors", 0) for k in ("search", "check", "health", "upload_ingest"))
        result["health_p99_under_50ms"] = result["health"].get("p99_ms", 1e9) < 50
        print(json.dumps(result, ensure_ascii=False))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
