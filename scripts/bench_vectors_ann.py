"""Vector search at catalog scale: LanceDB (IVF-PQ or IVF-HNSW-SQ) vs FAISS HNSW on the same vectors
(issue 14; scripts/bench_vectors.py compares the backends behind shopmind.search.vector instead).

    python scripts/bench_vectors_ann.py --n 1000000 [--queries 200] [--lance-index ivf_pq|ivf_hnsw_sq]

Synthetic 384-d unit vectors drawn around 512 cluster centres (like text embeddings: clustered,
not uniform), each with a `category` (1 of 100, ~1% selectivity) for the filtered runs.
Ground truth is exact cosine top-10 (numpy). Prints one JSON object: per engine build time,
p50/p99 single-query latency, recall@10 (unfiltered and filtered), disk and RSS growth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384
K = 10


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _du_mb(path: Path) -> float:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def make_data(n: int, n_queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(512, DIM)).astype(np.float32)
    vecs = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):  # in chunks: 1M x 384 floats is 1.5 GB
        e = min(n, s + 100_000)
        vecs[s:e] = centres[rng.integers(0, 512, e - s)] + 0.6 * rng.normal(size=(e - s, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    cats = rng.integers(0, 100, n).astype(np.int32)
    q = vecs[rng.integers(0, n, n_queries)] + 0.3 * rng.normal(size=(n_queries, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    qcats = rng.integers(0, 100, n_queries).astype(np.int32)
    return vecs, cats, q.astype(np.float32), qcats


def exact(vecs: np.ndarray, q: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    scores = vecs @ q
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def _stats(lat: list[float], recalls: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(lat, 50)), 3), "p99_ms": round(float(np.percentile(lat, 99)), 3),
            "recall_at_10": round(float(np.mean(recalls)), 4)}


def bench_lance(vecs, cats, qs, qcats, truth, truth_f, index: str, tmp: Path, nprobes: int, refine: int) -> dict:
    import lancedb
    import pyarrow as pa

    rss0 = _rss_mb()
    db = lancedb.connect(str(tmp / "lance"))
    n = len(vecs)
    t = time.perf_counter()
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "category": pa.array(cats),
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1)), DIM)})
    tbl = db.create_table("v", table)
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    parts = max(16, int(np.sqrt(n)))
    if index == "ivf_pq":
        tbl.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_PQ", num_partitions=parts,
                         num_sub_vectors=DIM // 8)
    else:
        tbl.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_HNSW_SQ", num_partitions=max(4, parts // 8))
    tbl.create_scalar_index("category", index_type="BITMAP")
    build_s = time.perf_counter() - t
    out: dict = {"engine": f"lancedb {lancedb.__version__} {index}", "ingest_s": round(ingest_s, 2), "build_s": round(build_s, 2),
                 "params": {"num_partitions": parts, "nprobes": nprobes, "refine_factor": refine}}
    for label, filt in (("unfiltered", False), ("filtered", True)):
        lat, rec = [], []
        for i, q in enumerate(qs):
            s = tbl.search(q, vector_column_name="vector").metric("cosine").limit(K).nprobes(nprobes).refine_factor(refine)
            if filt:
                s = s.where(f"category = {int(qcats[i])}", prefilter=True)
            t = time.perf_counter()
            ids = s.select(["id"]).to_arrow()["id"].to_numpy()
            lat.append((time.perf_counter() - t) * 1000)
            want = truth_f[i] if filt else truth[i]
            rec.append(len(set(ids.tolist()) & set(want.tolist())) / K)
        out[label] = _stats(lat, rec)
    out["disk_mb"] = round(_du_mb(tmp / "lance"), 1)
    out["rss_growth_mb"] = round(_rss_mb() - rss0, 1)
    return out


def bench_faiss(vecs, cats, qs, qcats, truth, truth_f, m: int, ef_c: int, ef_s: int, tmp: Path) -> dict:
    import faiss

    rss0 = _rss_mb()
    t = time.perf_counter()
    index = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_c
    index.add(vecs)
    build_s = time.perf_counter() - t
    out: dict = {"engine": f"faiss {faiss.__version__} HNSWFlat", "build_s": round(build_s, 2),
                 "params": {"M": m, "efConstruction": ef_c}}
    by_cat = {c: np.flatnonzero(cats == c).astype(np.int64) for c in np.unique(qcats)}
    # Recall of HNSW depends on efSearch: sweep it so engines can be compared at equal recall.
    for ef in sorted({ef_s, 4 * ef_s, 16 * ef_s}):
        for label, filt in (("unfiltered", False), ("filtered", True)):
            lat, rec = [], []
            for i, q in enumerate(qs):
                sel = faiss.IDSelectorBatch(by_cat[qcats[i]]) if filt else None
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef) if filt else faiss.SearchParametersHNSW(efSearch=ef)
                t = time.perf_counter()
                _, ids = index.search(q[None, :], K, params=params)
                lat.append((time.perf_counter() - t) * 1000)
                want = truth_f[i] if filt else truth[i]
                rec.append(len(set(ids[0].tolist()) & set(want.tolist())) / K)
            out[f"{label}_ef{ef}"] = _stats(lat, rec)
    faiss.write_index(index, str(tmp / "faiss.index"))
    out["disk_mb"] = round(_du_mb(tmp / "faiss.index"), 1)
    out["rss_growth_mb"] = round(_rss_mb() - rss0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lance-index", choices=("ivf_pq", "ivf_hnsw_sq"), default="ivf_hnsw_sq")
    ap.add_argument("--nprobes", type=int, default=20)
    ap.add_argument("--refine", type=int, default=5)
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--ef-search", type=int, default=64)
    ap.add_argument("--skip", choices=("lance", "faiss"), default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    vecs, cats, qs, qcats = make_data(args.n, args.queries, args.seed)
    truth = [exact(vecs, q) for q in qs]
    truth_f = [exact(vecs, q, cats == c) for q, c in zip(qs, qcats)]
    res: dict = {"n": args.n, "dim": DIM, "queries": args.queries, "filter": "category = c (1 of 100, ~1% of rows)",
                 "data_s": round(time.perf_counter() - t0, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        if args.skip != "lance":
            res["lancedb"] = bench_lance(vecs, cats, qs, qcats, truth, truth_f, args.lance_index, Path(tmp), args.nprobes, args.refine)
            shutil.rmtree(Path(tmp) / "lance", ignore_errors=True)
        if args.skip != "faiss":
            try:
                res["faiss"] = bench_faiss(vecs, cats, qs, qcats, truth, truth_f, args.hnsw_m, args.ef_construction,
                                           args.ef_search, Path(tmp))
            except ImportError:
                res["faiss"] = {"skipped": "faiss-cpu not installed"}
    res["machine"] = f"{platform.machine()} {os.cpu_count()} cpu (shared), load {os.getloadavg()[0]:.1f}"
    res["date"] = time.strftime("%Y-%m-%d", time.gmtime())
    print(json.dumps(res))


if __name__ == "__main__":
    main()
