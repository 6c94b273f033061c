"""Run the project's benchmark scripts (the ones `make bench` means) and print one JSON object.

Each benchmark is a separate script under scripts/ that prints one JSON object on its last stdout
line; this runner starts each in a subprocess with modest sizes (`--full` uses the scripts' own
defaults), a timeout, and its own scratch home, and gathers the results keyed by name:

    .venv/bin/python scripts/bench_all.py                 # quick sizes, every benchmark
    .venv/bin/python scripts/bench_all.py --only compliance,live
    .venv/bin/python scripts/bench_all.py --list

A benchmark that fails or times out is recorded with its error and the runner goes on; the exit
status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
SHARED = SCRIPTS.parent.parent / "shared" / "data"

# name -> (script, quick args, full args, timeout in seconds). "{home}" becomes a scratch folder.
BENCHMARKS: dict[str, tuple[str, list[str], list[str], int]] = {
    "compliance": ("bench_compliance.py", ["--repeat", "1"], [], 900),
    "live": ("bench_live.py", ["--cases", "300"], [], 900),
    "ab": ("bench_ab.py", ["--sims", "300", "--events", "5000", "--api-events", "1000", "--pipeline-experiments", "10"], [], 1200),
    "vectors": ("bench_vectors.py", ["--synthetic", "5000", "--queries", "50", "--concurrency", "2"], ["--synthetic", "50000"], 1200),
    "ingest": ("bench_ingest.py", ["--catalog", str(SHARED / "fashion" / "catalog.csv"), "--home", "{home}", "--limit", "2000", "--skip-tag"],
               ["--catalog", str(SHARED / "fashion" / "catalog.csv"), "--home", "{home}"], 1800),
    "media": ("bench_media.py", ["--labels", "5", "--faces-limit", "5", "--video-seconds", "3"], [], 1200),
    "llm": ("bench_llm.py", ["--runs", "1", "--max-tokens", "32", "--types", "title"], [], 1800),
}


def _last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def run_one(name: str, full: bool, python: str, args: list[str] | None = None) -> dict:
    """Run one benchmark script (with `args` instead of its preset sizes if given); its JSON result, or {"error": …}."""
    script, quick, full_args, timeout = BENCHMARKS[name]
    with tempfile.TemporaryDirectory(prefix=f"shopmind-bench-{name}-") as scratch:
        chosen = args if args is not None else (full_args if full else quick)
        args = [a.replace("{home}", str(Path(scratch) / "home")) for a in chosen]
        env = {**os.environ, "SHOPMIND_HOME": str(Path(scratch) / "home"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        started = time.perf_counter()
        try:
            proc = subprocess.run([python, str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=timeout,
                                  env=env, cwd=SCRIPTS.parent)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout}s"}
        seconds = round(time.perf_counter() - started, 1)
    result = _last_json(proc.stdout)
    if proc.returncode != 0 or result is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}", "tail": tail, "seconds": seconds}
    return {"seconds": seconds, "result": result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    ap.add_argument("--full", action="store_true", help="the scripts' own (larger) default sizes")
    ap.add_argument("--list", action="store_true", help="print the benchmark names and scripts, run nothing")
    args = ap.parse_args(argv)
    if args.list:
        print(json.dumps({name: spec[0] for name, spec in BENCHMARKS.items()}))
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(json.dumps({"error": f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}"}))
        return 2
    out: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()} {os.cpu_count()} cores",
                 "sizes": "full" if args.full else "quick", "benchmarks": {}}
    for name in names:
        print(f"[bench_all] {name} …", file=sys.stderr, flush=True)
        out["benchmarks"][name] = run_one(name, args.full, sys.executable)
    failed = sorted(n for n, r in out["benchmarks"].items() if "error" in r)
    out["failed"] = failed
    print(json.dumps(out, ensure_ascii=False, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
