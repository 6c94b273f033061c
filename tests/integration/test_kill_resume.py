"""kill -9 in the middle of `shopmind ingest` (and `shopmind tag`), then re-run: 0 rows lost, 0 duplicated.

A real subprocess is SIGKILLed once the database shows some, not all, rows committed. The re-run
must finish the job, and the result must equal a clean uninterrupted run of the same catalog:
the same ids (no loss, no duplicates) with the same content, and every stored image file intact.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / ".shopmind" / "test-models"


@pytest.fixture(scope="module")
def demo_catalog(tmp_path_factory) -> Path:
    from shopmind.demo.catalog import generate_demo_catalog

    return generate_demo_catalog(tmp_path_factory.mktemp("demo"), n_per_combo=6, seed=3)


def _env(home: Path) -> dict:
    return {**os.environ, "SHOPMIND_HOME": str(home), "SHOPMIND_MODELS_PATH": str(MODELS), "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(REPO / "src")}


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet / busy
        return 0


def _kill_midway(args: list[str], home: Path, sql: str, low: int, high: int, timeout: float = 240) -> int:
    """Start `python -m shopmind ARGS`, SIGKILL it once `low <= count < high`; the count at the kill."""
    proc = subprocess.Popen([sys.executable, "-m", "shopmind", *args], env=_env(home), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = home / "shopmind.db"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            n = _count(db, sql)
            if low <= n < high:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                return n
            if proc.poll() is not None:
                return _count(db, sql)  # finished before we could kill it
            time.sleep(0.005)
        pytest.fail(f"{args} made no progress in {timeout}s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return -1


def _run(args: list[str], home: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "shopmind", *args], env=_env(home), cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def _products(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "shopmind.db") as conn:
        return conn.execute("SELECT id, title, description, price, attributes, image_sha256 FROM products ORDER BY id").fetchall()


def _images_intact(home: Path) -> None:
    with sqlite3.connect(home / "shopmind.db") as conn:
        rows = conn.execute("SELECT image_path, image_sha256 FROM products WHERE image_path IS NOT NULL").fetchall()
    assert rows
    for rel, sha in rows:
        data = (home / "images" / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha, f"{rel} is damaged"


def test_ingest_killed_midway_resumes_without_loss_or_duplicates(demo_catalog, tmp_path):
    reference = tmp_path / "reference"
    _run(["ingest", str(demo_catalog), "--json"], reference)
    expected = _products(reference)
    assert len(expected) > 250
    for attempt in range(3):
        home = tmp_path / f"killed{attempt}"
        at_kill = _kill_midway(["ingest", str(demo_catalog), "--batch-size", "2", "--json"], home,
                               "SELECT COUNT(*) FROM products", 20, len(expected) - 20)
        if 0 < at_kill < len(expected):
            break
    else:
        pytest.fail("could not kill ingest mid-way in 3 attempts")
    _run(["ingest", str(demo_catalog), "--batch-size", "2", "--json"], home)
    got = _products(home)
    ids = [r[0] for r in got]
    assert len(ids) == len(set(ids)), "duplicated rows after resume"
    assert got == expected, "rows lost or changed after resume"
    _images_intact(home)


@pytest.mark.slow
def test_tag_killed_midway_resumes(tmp_path):
    from shopmind.demo.catalog import generate_demo_catalog

    catalog = generate_demo_catalog(tmp_path / "small", n_per_combo=3, seed=4)  # ~150 rows: 3 embedding batches
    home = tmp_path / "tagged"
    _run(["ingest", str(catalog), "--json"], home)
    with sqlite3.connect(home / "shopmind.db") as conn:
        with_images = conn.execute("SELECT COUNT(*) FROM products WHERE image_path IS NOT NULL").fetchone()[0]
    at_kill = _kill_midway(["tag", "--no-index", "--json"], home, "SELECT COUNT(*) FROM image_features", 1, with_images)
    assert at_kill < with_images, "tag finished before it could be killed"
    _run(["tag", "--no-index", "--json"], home)
    with sqlite3.connect(home / "shopmind.db") as conn:
        feats = conn.execute("SELECT COUNT(*), COUNT(DISTINCT product_id) FROM image_features").fetchone()
        tags = conn.execute("SELECT COUNT(*), COUNT(DISTINCT product_id) FROM tags").fetchone()
        stale = conn.execute("""SELECT COUNT(*) FROM products p JOIN image_features f ON f.product_id = p.id
                                WHERE f.image_sha256 != p.image_sha256""").fetchone()[0]
    assert feats == (with_images, with_images) and stale == 0
    assert tags == (with_images, with_images)
