"""Benchmark the vector engines behind `shopmind.search.vector` on the same vectors. Prints JSON.

Vectors: the text-space image vectors of an indexed shopmind home (`--home`, e.g. the fashion
catalog), or random unit vectors (`--synthetic N`). For each backend: bulk upsert time, query
latency p50/p99 (single thread and `--concurrency` threads), filtered query latency, and recall@10
against exact brute force (1.0 for exact scans; < 1 once an ANN index is built).

    python scripts/bench_vectors.py --home /tmp/smh_full --backends lancedb,qdrant
    python scripts/bench_vectors.py --synthetic 1000000 --backends lancedb --ann
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def load_vectors(args) -> tuple[list[str], np.ndarray, list[dict]]:
    rng = np.random.default_rng(0)
    if args.synthetic:
        n, dim = args.synthetic, 384
        vecs = rng.normal(size=(n, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        types = ["Tshirts", "Shirts", "Casual Shoes", "Watches", "Handbags", "Tops", "Kurtas", "Dresses"]
        meta = [{"price": float(rng.integers(20, 2000)), "articleType": types[i % len(types)]} for i in range(n)]
        return [f"s{i}" for i in range(n)], vecs, meta
    import os

    os.environ["SHOPMIND_HOME"] = args.home
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.search.indexer import image_vectors, metadata

    store = open_store(get_settings())
    ids, feats = store.load_features()
    vecs = image_vectors(store, feats).astype(np.float32)
    products = store.get_products(ids)
    return ids, vecs, [metadata(products[i]) for i in ids]


def percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def bench_backend(name: str, ids, vecs, meta, queries, exact, args) -> dict:
    from shopmind.config import load_settings
    from shopmind.domain import Filter
    from shopmind.search.vector import open_index, reset_open_indexes

    reset_open_indexes()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=tmp, vector_backend=name).ensure_dirs()
        index = open_index(settings, "bench", vecs.shape[1])
        t0 = time.perf_counter()
        step = 5000
        for s in range(0, len(ids), step):
            index.upsert(ids[s : s + step], vecs[s : s + step], meta[s : s + step])
        upsert_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ann = index.build_ann(force=args.ann)
        ann_s = time.perf_counter() - t0
        index.search(queries[0], 10)  # warm
        lat, recalls = [], []
        for qi, q in enumerate(queries):
            t = time.perf_counter()
            got = [pid for pid, _ in index.search(q, 10)]
            lat.append((time.perf_counter() - t) * 1000)
            recalls.append(len(set(got) & set(exact[qi])) / 10)
        filt = [Filter(field="articleType", op="=", value=meta[0]["articleType"]), Filter(field="price", op="<", value=500)]
        flat = []
        for q in queries[:50]:
            t = time.perf_counter()
            index.search(q, 10, filt)
            flat.append((time.perf_counter() - t) * 1000)

        def one(q):
            t = time.perf_counter()
            index.search(q, 10)
            return (time.perf_counter() - t) * 1000

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            conc = list(pool.map(one, list(queries) * 2))
        wall = time.perf_counter() - t0
        disk = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
        reset_open_indexes()
    return {
        "backend": name, "n": len(ids), "dim": int(vecs.shape[1]), "upsert_s": round(upsert_s, 2),
        "upsert_per_s": round(len(ids) / upsert_s, 1), "ann_index": ann, "ann_build_s": round(ann_s, 2),
        "query_ms_p50": round(statistics.median(lat), 2), "query_ms_p99": round(percentile(lat, 99), 2),
        "filtered_query_ms_p50": round(statistics.median(flat), 2),
        f"concurrent{args.concurrency}_ms_p50": round(statistics.median(conc), 2),
        f"concurrent{args.concurrency}_ms_p99": round(percentile(conc, 99), 2),
        f"concurrent{args.concurrency}_qps": round(len(conc) / wall, 1),
        "recall@10_vs_exact": round(float(np.mean(recalls)), 4), "disk_mb": round(disk / 1e6, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home")
    ap.add_argument("--synthetic", type=int, default=0)
    ap.add_argument("--backends", default="lancedb,qdrant")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--ann", action="store_true", help="force an ANN index even below the size threshold")
    args = ap.parse_args()
    if not args.home and not args.synthetic:
        ap.error("give --home or --synthetic N")
    ids, vecs, meta = load_vectors(args)
    rng = np.random.default_rng(1)
    qidx = rng.choice(len(ids), size=min(args.queries, len(ids)), replace=False)
    queries = vecs[qidx] + rng.normal(scale=0.05, size=(len(qidx), vecs.shape[1])).astype(np.float32)
    normed = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    exact = []
    for q in queries:
        s = normed @ (q / np.linalg.norm(q))
        exact.append([ids[i] for i in np.argsort(-s)[:10]])
    results = [bench_backend(b, ids, vecs, meta, queries, exact, args) for b in args.backends.split(",")]
    print(json.dumps({"source": args.home or f"synthetic:{args.synthetic}", "queries": len(queries),
                      "machine": f"{platform.machine()} {__import__('os').cpu_count()} cpu", "results": results}))


if __name__ == "__main__":
    main()
