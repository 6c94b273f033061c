"""Benchmark the A/B capability and print one JSON object:
calibration (A/A false-positive rate, planned vs simulated power, revenue Welch FPR),
an end-to-end A/A check through store → analysis, and event-ingestion throughput
(via the store, via several concurrent store writers, and via the API TestClient).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_ab.py [--sims 4000] [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone


def _fresh_home() -> str:
    home = tempfile.mkdtemp(prefix="bench_ab_")
    os.environ["SHOPMIND_HOME"] = home
    from shopmind.config import get_settings

    get_settings.cache_clear()
    return home


def _spec(exp_id: str):
    from shopmind.experiments import ExperimentSpec

    return ExperimentSpec(id=exp_id, product_id="bench", content_type="title",
                          variants=[{"key": "A", "payload": "a"}, {"key": "B", "payload": "b"}])


def calibration(sims: int, seed: int) -> dict:
    from shopmind.experiments.simulate import planned_vs_simulated_power, simulate_proportions, simulate_revenue

    t0 = time.perf_counter()
    pw = planned_vs_simulated_power(0.10, 0.10, alpha=0.05, power=0.8, sims=sims, seed=seed)
    aa = simulate_proportions(0.10, 0.10, pw["plan"]["n_total"], sims=sims, alpha=0.05, seed=seed + 1)
    aa_small = simulate_proportions(0.02, 0.02, 2000, sims=sims, alpha=0.05, seed=seed + 2)
    rev_aa = simulate_revenue(1.0, 3000, sims=sims // 2, seed=seed + 3)
    rev_ab = simulate_revenue(1.3, 3000, sims=sims // 4, seed=seed + 4)
    return {"alpha": 0.05, "sims": sims,
            "aa_fpr": aa["rejection_rate"], "aa_fpr_se": aa["rejection_rate_se"], "aa_n_total": aa["n_total"],
            "aa_p_value_ks_p": aa["p_value_uniformity_ks_p"], "aa_srm_flag_rate": aa["srm_flag_rate"],
            "aa_fpr_small_sample_p2pct_n2000": aa_small["rejection_rate"],
            "planned_power": pw["planned_power"], "simulated_power": pw["simulated_power"],
            "simulated_power_se": pw["simulated_power_se"], "power_plan": pw["plan"],
            "revenue_welch_aa_fpr": rev_aa["rejection_rate"], "revenue_welch_power_at_30pct_lift": rev_ab["rejection_rate"],
            "seconds": round(time.perf_counter() - t0, 2)}


def pipeline_aa(experiments: int, units: int, seed: int) -> dict:
    """Hash-assigned synthetic A/A traffic through ingestion and analysis: FPR of the whole path."""
    from shopmind.experiments import analyze, open_experiments
    from shopmind.experiments.simulate import synthetic_events

    _fresh_home()
    store = open_experiments()
    significant = srm = 0
    t0 = time.perf_counter()
    for k in range(experiments):
        exp = store.create(_spec(f"aa{k}"))
        store.ingest(enumerate(synthetic_events(exp, {"A": 0.1, "B": 0.1}, units, seed=seed + k, with_event_ids=False)))
        res = analyze(store, exp.id)
        significant += res.comparisons[0].significant
        srm += res.srm["mismatch"]
    return {"experiments": experiments, "units_each": units, "fpr": significant / experiments,
            "srm_flags": srm, "seconds": round(time.perf_counter() - t0, 2)}


def _events(exp_id: str, n: int, tag: str) -> list[dict]:
    return [{"experiment_id": exp_id, "unit_id": f"{tag}-{i // 3}", "type": ("impression", "click", "purchase")[i % 3],
             "event_id": f"{tag}:{i}"} for i in range(n)]


def throughput(n_events: int, writers: int, api_events: int) -> dict:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shopmind.api.ab import router
    from shopmind.api.errors import install_error_handlers
    from shopmind.experiments import open_experiments

    _fresh_home()
    store = open_experiments()
    store.create(_spec("tp"))
    rows = _events("tp", n_events, "s")
    t0 = time.perf_counter()
    rep = store.ingest(enumerate(rows))
    store_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dup = store.ingest(enumerate(rows))
    dup_s = time.perf_counter() - t0

    per = n_events // writers
    batches = [_events("tp", per, f"w{k}") for k in range(writers)]

    def write(k: int) -> None:
        s = open_experiments()
        for start in range(0, per, 1000):
            s.ingest(enumerate(batches[k][start:start + 1000]))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conc_s = time.perf_counter() - t0
    total_conc = store.count_events("tp") - rep.accepted

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    api_rows = _events("tp", api_events, "api")
    t0 = time.perf_counter()
    accepted = 0
    for start in range(0, api_events, 1000):
        accepted += client.post("/ab/events", json={"events": api_rows[start:start + 1000]}).json()["accepted"]
    api_s = time.perf_counter() - t0
    return {"store_events": n_events, "store_accepted": rep.accepted, "store_events_per_s": round(n_events / store_s),
            "store_duplicate_replay_events_per_s": round(n_events / dup_s), "duplicates_detected": dup.duplicates,
            "concurrent_writers": writers, "concurrent_events": per * writers, "concurrent_stored": total_conc,
            "concurrent_events_per_s": round(per * writers / conc_s),
            "api_events": api_events, "api_accepted": accepted, "api_batch": 1000,
            "api_events_per_s": round(api_events / api_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=4000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--api-events", type=int, default=20_000)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--pipeline-experiments", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = {"benchmark": "ab", "dataset": "simulated traffic (binomial / hash-assigned synthetic events)",
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}",
           "calibration": calibration(args.sims, args.seed),
           "pipeline_aa": pipeline_aa(args.pipeline_experiments, 2000, args.seed),
           "ingestion": throughput(args.events, args.writers, args.api_events)}
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
