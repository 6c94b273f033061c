"""Assignment is sticky and process-independent; ingestion is durable, idempotent, reports bad
rows and loses nothing under concurrent writers; stopping promotes the winner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from scipy import stats as sps

from shopmind.errors import BadInput, NotFound, NotReady
from shopmind.experiments import ExperimentSpec, analyze, get_active_content, open_experiments, stop
from shopmind.experiments.assignment import bucket, choose
from shopmind.experiments.csv_events import read_events_csv
from shopmind.experiments.simulate import synthetic_events


def _spec(**kw) -> ExperimentSpec:
    base = dict(id="exp1", product_id="p1", content_type="title",
                variants=[{"key": "A", "payload": {"title": "旧标题"}}, {"key": "B", "payload": {"title": "新标题"}}])
    base.update(kw)
    return ExperimentSpec(**base)


def test_assignment_is_deterministic_across_processes() -> None:
    units = [f"user-{i}" for i in range(50)]
    here = [choose("exp-x", u, ["A", "B", "C"], [0.5, 0.3, 0.2]) for u in units]
    code = ("import json,sys; from shopmind.experiments.assignment import choose; "
            "print(json.dumps([choose('exp-x', f'user-{i}', ['A','B','C'], [0.5,0.3,0.2]) for i in range(50)]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == here
    assert 0.0 <= bucket("exp-x", "user-1") < 1.0
    assert bucket("exp-x", "user-1") != bucket("exp-y", "user-1")  # independent across experiments


def test_assignment_follows_weights() -> None:
    counts = {"A": 0, "B": 0, "C": 0}
    for i in range(30_000):
        counts[choose("exp-w", f"u{i}", ["A", "B", "C"], [0.5, 0.3, 0.2])] += 1
    p = sps.chisquare(list(counts.values()), [15_000, 9_000, 6_000]).pvalue
    assert p > 0.001, counts
    assert {choose("exp-w", f"u{i}", ["A", "B"], [0.0, 1.0]) for i in range(500)} == {"B"}


def test_sticky_assignment_is_recorded(home: Path) -> None:
    store = open_experiments()
    store.create(_spec())
    first = store.assign("exp1", "alice")
    again = open_experiments().assign("exp1", "alice")
    assert first.new and not again.new and again.variant == first.variant
    assert first.payload == {"title": "旧标题" if first.variant == "A" else "新标题"}
    with pytest.raises(NotFound):
        store.assign("nope", "alice")
    with pytest.raises(BadInput):
        store.assign("exp1", "  ")


def test_create_validates_and_rejects_duplicates(home: Path) -> None:
    store = open_experiments()
    exp = store.create(_spec())
    assert exp.control_key == "A" and store.get("exp1").variants[1].payload == {"title": "新标题"}
    with pytest.raises(BadInput):
        store.create(_spec())
    with pytest.raises(ValueError):
        _spec(variants=[{"key": "A", "payload": 1}, {"key": "A", "payload": 2}])
    with pytest.raises(ValueError):
        _spec(variants=[{"key": "A", "payload": 1}])


def test_ingest_reports_bad_rows_and_is_idempotent(home: Path) -> None:
    store = open_experiments()
    store.create(_spec())
    rows = [
        {"experiment_id": "exp1", "unit_id": "u1", "type": "impression", "event_id": "e1"},
        {"experiment_id": "exp1", "unit_id": "u1", "type": "click", "event_id": "e2"},
        {"experiment_id": "exp1", "unit_id": "u1", "type": "explode"},
        {"experiment_id": "exp1", "unit_id": "u2", "type": "revenue"},
        {"experiment_id": "exp1", "unit_id": "u2", "type": "revenue", "amount": -3},
        {"experiment_id": "ghost", "unit_id": "u2", "type": "click"},
        {"experiment_id": "exp1", "unit_id": "u2", "type": "click", "variant": "Z"},
        {"experiment_id": "exp1", "unit_id": "u3", "type": "revenue", "amount": "12.5", "variant": "B"},
        "not an object",
    ]
    report = store.ingest(enumerate(rows))
    assert (report.received, report.accepted, report.rejected) == (9, 3, 6)
    reasons = {e.line: e.reason for e in report.errors}
    assert set(reasons) == {2, 3, 4, 5, 6, 8}
    assert "type" in reasons[2] and "amount" in reasons[3] and "ghost" in reasons[5] and "'Z'" in reasons[6]
    again = store.ingest(enumerate(rows[:2]))
    assert (again.accepted, again.duplicates) == (0, 2)
    assert store.count_events("exp1") == 3
    variant_u1 = store.assign("exp1", "u1").variant  # filled in from the sticky assignment
    assert {r["variant"] for r in store.conn.execute("SELECT variant FROM ab_events WHERE unit_id='u1'")} == {variant_u1}


def test_csv_ingest_reports_lines(home: Path, tmp_path: Path) -> None:
    store = open_experiments()
    store.create(_spec())
    csv_path = tmp_path / "events.csv"
    csv_path.write_text(
        "event_id,unit_id,type,amount,note\n"
        "a1,u1,impression,,hi\n"
        "a2,u1,purchase,abc,\n"
        "\n"
        "a3,u2,impression,,,surplus\n"
        "a4,u2,revenue,9.9,\n", encoding="utf-8")
    ignored, rows = read_events_csv(csv_path, experiment_id="exp1")
    assert ignored == ["note"]
    report = store.ingest(rows, source="csv")
    assert report.accepted == 2 and report.rejected == 2
    assert {e.line: e.event_id for e in report.errors} == {3: "a2", 5: "a3"}
    with pytest.raises(BadInput):
        read_events_csv(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("unit_id,type\nu1,click\n", encoding="utf-8")
    with pytest.raises(BadInput):  # no experiment column and no default
        read_events_csv(tmp_path / "bad.csv")


_WORKER = """
import sys, time
from pathlib import Path
from shopmind.experiments import open_experiments
store = open_experiments()
tag, n, sync = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
(sync / f"ready-{tag}").touch()
while not (sync / "go").exists():  # start together with the other writers
    time.sleep(0.01)
for start in range(0, n, 50):
    batch = [{"experiment_id": "exp1", "unit_id": f"{tag}-{i}", "type": "impression", "event_id": f"{tag}:{i}"}
             for i in range(start, min(n, start + 50))]
    batch += [{"experiment_id": "exp1", "unit_id": f"{tag}-{i}", "type": "click"} for i in range(start, min(n, start + 50), 3)]
    store.ingest(enumerate(batch), source=tag)
"""


def _expected(n: int) -> int:
    return n + sum(len(range(s, min(n, s + 50), 3)) for s in range(0, n, 50))


def test_concurrent_ingestion_loses_nothing(home: Path, tmp_path: Path) -> None:
    open_experiments().create(_spec())
    n = 1500
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, f"proc{k}", str(n), str(sync)], env=os.environ.copy(),
                              stderr=subprocess.PIPE, text=True) for k in range(3)]
    errors: list[BaseException] = []
    deadline = time.monotonic() + 60
    while len(list(sync.glob("ready-*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    (sync / "go").touch()

    def thread_worker(tag: str) -> None:
        try:
            store = open_experiments()
            for start in range(0, n, 25):
                batch = [{"experiment_id": "exp1", "unit_id": f"{tag}-{i}", "type": "impression", "event_id": f"{tag}:{i}"}
                         for i in range(start, start + 25)]
                assert store.ingest(enumerate(batch), source=tag).accepted == 25
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=thread_worker, args=(f"thr{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert not errors
    store = open_experiments()
    assert store.count_events("exp1") == 4 * n + 3 * _expected(n)
    sources = [r[0] for r in store.conn.execute("SELECT source FROM ab_events ORDER BY seq")]
    switches = sum(a != b for a, b in zip(sources, sources[1:]))
    assert switches >= 5, "writers did not overlap; the test would prove nothing"
    # every unit got exactly one sticky assignment, even though writers raced
    assert store.conn.execute("SELECT COUNT(*) FROM ab_assignments WHERE experiment_id='exp1'").fetchone()[0] == 7 * n
    # a replay of one client's batch adds nothing
    replay = store.ingest(enumerate({"experiment_id": "exp1", "unit_id": f"thr0-{i}", "type": "impression",
                                     "event_id": f"thr0:{i}"} for i in range(n)))
    assert replay.accepted == 0 and replay.duplicates == n


def test_analysis_and_promotion(home: Path) -> None:
    store = open_experiments()
    exp = store.create(_spec())
    store.ingest(enumerate(synthetic_events(exp, {"A": 0.05, "B": 0.09}, 6000, seed=2, revenue_mean=40)))
    result = analyze(store, "exp1")
    arms = {a.variant: a for a in result.arms}
    assert arms["A"].units + arms["B"].units == 6000 and not result.srm["mismatch"]
    (cmp,) = result.comparisons
    assert cmp.significant and cmp.abs_lift > 0 and cmp.prob_beat_control > 0.99 and result.winner == "B"
    assert cmp.abs_ci[0] < 0.04 < cmp.abs_ci[1]
    rev = analyze(store, "exp1", metric="revenue")
    assert rev.comparisons[0].test == "Welch t-test" and rev.arms[0].total > 0
    assert get_active_content("p1", "title") is None
    out = stop(store, "exp1")
    assert out["promoted"] == "B"
    active = get_active_content("p1", "title")
    assert active is not None and active.payload == {"title": "新标题"} and active.experiment_id == "exp1"
    assert store.get("exp1").status == "stopped" and store.promotions("exp1")[0]["variant"] == "B"
    with pytest.raises(NotReady):
        stop(store, "exp1")


def test_stop_refuses_on_sample_ratio_mismatch(home: Path) -> None:
    store = open_experiments()
    store.create(_spec())
    rows = [{"experiment_id": "exp1", "unit_id": f"a{i}", "type": "impression", "variant": "A"} for i in range(1200)]
    rows += [{"experiment_id": "exp1", "unit_id": f"b{i}", "type": "impression", "variant": "B"} for i in range(800)]
    store.ingest(enumerate(rows))
    result = analyze(store, "exp1")
    assert result.srm["mismatch"] and result.winner is None
    with pytest.raises(NotReady):
        stop(store, "exp1")
    with pytest.raises(NotReady):
        stop(store, "exp1", variant="B")
    forced = stop(store, "exp1", variant="B", force=True)
    assert forced["promoted"] == "B" and get_active_content("p1", "title").variant == "B"


def test_multi_arm_uses_bonferroni_and_picks_best(home: Path) -> None:
    store = open_experiments()
    exp = store.create(_spec(variants=[{"key": "A", "payload": 1}, {"key": "B", "payload": 2, "weight": 1},
                                       {"key": "C", "payload": 3, "weight": 2}]))
    store.ingest(enumerate(synthetic_events(exp, {"A": 0.05, "B": 0.05, "C": 0.10}, 8000, seed=9)))
    result = analyze(store, "exp1")
    assert [c.alpha for c in result.comparisons] == [0.025, 0.025]
    sizes = {a.variant: a.units for a in result.arms}
    assert not result.srm["mismatch"] and sizes["C"] > sizes["A"] + 1000  # 2:1:1 split honoured
    assert result.winner == "C"
    assert stop(store, "exp1", variant="B")["promoted"] == "B"  # an operator may overrule the analysis
    assert get_active_content("p1", "title").payload == 2
