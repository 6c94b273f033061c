"""`shopmind eval retrieval`: Recall@k, MRR, nDCG@10 of search over a catalog against qrels."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from shopmind.catalog.ingest import ingest_catalog, read_rows
from shopmind.catalog.store import CatalogStore
from shopmind.domain import Filter
from shopmind.errors import BadInput
from shopmind.search.hybrid import SearchEngine
from shopmind.search.indexer import build_indexes, image_space_version
from shopmind.understand.features import embed_products


def load_qrels(path: Path) -> list[dict]:
    if not path.is_file():
        raise BadInput(f"qrels file not found: {path}")
    out = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not row.get("relevant_ids") or not (row.get("query") or row.get("query_image")):
                raise BadInput(f"{path}:{lineno}: needs 'query' (or 'query_image') and non-empty 'relevant_ids'")
            out.append(row)
    return out


def ranking_metrics(ranked: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    """Recall@1/5/10 (share of relevant items found), MRR, binary nDCG@10."""
    rec = {1: [], 5: [], 10: []}
    rr, ndcg = [], []
    for hits, rel in zip(ranked, relevant):
        for k in rec:
            rec[k].append(len(rel & set(hits[:k])) / len(rel))
        first = next((i for i, h in enumerate(hits) if h in rel), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
        dcg = sum(1.0 / math.log2(i + 2) for i, h in enumerate(hits[:10]) if h in rel)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), 10)))
        ndcg.append(dcg / ideal)
    return {
        "recall@1": round(float(np.mean(rec[1])), 4), "recall@5": round(float(np.mean(rec[5])), 4),
        "recall@10": round(float(np.mean(rec[10])), 4), "mrr": round(float(np.mean(rr)), 4),
        "ndcg@10": round(float(np.mean(ndcg)), 4),
    }


def evaluate_retrieval(store: CatalogStore, catalog: Path, qrels_path: Path, *, mode: str = "image",
                       k: int = 10, images: Path | None = None, use_filters: bool = True, limit: int | None = None,
                       attribute_rerank: bool = True) -> dict:
    started = time.perf_counter()
    qrels = load_qrels(qrels_path)[:limit] if limit else load_qrels(qrels_path)
    ids = [str(r.get("id")).strip() for _, r in read_rows(catalog) if isinstance(r, dict) and r.get("id")]
    report = ingest_catalog(store, catalog, images=images)
    embed_products(store, ids=ids)
    channels = ("image",) if mode == "image" else ("text", "image", "lexical")
    build_indexes(store, channels=channels)
    prepared = time.perf_counter()
    engine = SearchEngine(store, attribute_rerank=attribute_rerank)
    # Restrict to the evaluated catalog only when it is a subset of what the store holds.
    restrict = ids if len(set(ids)) < store.count_products() else None
    ranked, relevant, latencies = [], [], []
    for q in qrels:
        filters = [Filter(field=f, op="=", value=v) for f, v in (q.get("filters") or {}).items()] if use_filters else []
        image = None
        if q.get("query_image"):
            from shopmind.catalog.images import open_image

            image = open_image(qrels_path.parent / q["query_image"]).image
        t0 = time.perf_counter()
        result = engine.search(q.get("query"), image, filters=filters, k=k, mode=mode, restrict_ids=restrict)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked.append([h.id for h in result.hits])
        relevant.append({str(x) for x in q["relevant_ids"]})
    out = {
        "dataset": str(qrels_path), "catalog": str(catalog), "n_queries": len(qrels), "catalog_size": len(ids),
        "mode": mode, "filters": use_filters, "attribute_rerank": attribute_rerank, **ranking_metrics(ranked, relevant),
        "backend": f"{store.settings.vector_backend}; image space: {image_space_version(store)}",
        "ingest_errors": len(report.errors),
        "timing": {"prepare_s": round(prepared - started, 2), "query_p50_ms": round(float(np.median(latencies)), 2) if latencies else None,
                   "query_p99_ms": round(float(np.percentile(latencies, 99)), 2) if latencies else None,
                   "total_s": round(time.perf_counter() - started, 2)},
    }
    return out
