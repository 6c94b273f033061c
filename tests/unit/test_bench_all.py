"""`make bench` runs scripts/bench_all.py: every benchmark it names exists and accepts the flags it passes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("bench_all", REPO / "scripts" / "bench_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_makefile_bench_target_points_at_the_runner():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    scripts = [w for w in target.split() if w.startswith("scripts/")]
    assert scripts and all((REPO / s).is_file() for s in scripts)


def test_every_benchmark_script_exists_and_accepts_its_flags():
    bench = _load()
    for name, (script, quick, full, _timeout) in bench.BENCHMARKS.items():
        path = REPO / "scripts" / script
        assert path.is_file(), f"{name}: {script} is missing"
        text = path.read_text(encoding="utf-8")
        for flag in [a for a in quick + full if a.startswith("--")]:
            assert f'"{flag}"' in text, f"{name}: {script} has no {flag} option"


def test_runner_lists_and_rejects_unknown_names():
    listed = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_all.py"), "--list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "compliance" in json.loads(listed.stdout)
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_all.py"), "--only", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown benchmark" in json.loads(bad.stdout)["error"]


def test_runner_gathers_one_json_from_a_real_benchmark():
    bench = _load()
    result = bench.run_one("vectors", False, sys.executable,
                           args=["--synthetic", "300", "--queries", "5", "--concurrency", "1", "--backends", "lancedb"])
    assert "result" in result, result
    assert isinstance(result["result"], dict) and result["seconds"] >= 0
