"""The foundation's quality numbers on the fashion catalog, in one JSON object.

Steps (on a home where the full catalog is ingested and embedded, e.g. by bench_ingest.py):
zero-shot title→image and tagging on the 996-item sample → fit on the catalog minus the sample →
fitted title→image (with and without attribute re-ranking) and tagging → attribute queries over
the full catalog with and without filters.

    python scripts/bench_fashion.py --home /tmp/smh_full --data ../shared/data/fashion
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion"))
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--skip-zero-shot", action="store_true")
    ap.add_argument("--skip-fit", action="store_true")
    args = ap.parse_args()
    os.environ["SHOPMIND_HOME"] = args.home
    from shopmind.catalog.ingest import read_rows
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.eval.retrieval import evaluate_retrieval
    from shopmind.eval.tagging import evaluate_tagging
    from shopmind.search.indexer import build_indexes
    from shopmind.understand.fitting import fit_catalog
    from shopmind.understand.tagging import tag_products

    data = Path(args.data)
    sample, title_q, attr_q, full = data / "eval_sample.csv", data / "qrels_title2image.jsonl", data / "qrels_attr_queries.jsonl", data / "catalog.csv"
    store = open_store(get_settings())
    out: dict = {"home": args.home, "catalog_products": store.count_products()}
    pick = ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "n_queries", "catalog_size", "timing")

    def short(r: dict) -> dict:
        return {k: r[k] for k in pick if k in r}

    if not args.skip_zero_shot:
        tag_products(store)
        out["zero_shot"] = {
            "title2image": short(evaluate_retrieval(store, sample, title_q, mode="image")),
            "articleType": evaluate_tagging(store, sample, "articleType", source="zero-shot"),
            "baseColour": evaluate_tagging(store, sample, "baseColour", source="zero-shot"),
        }
        print(json.dumps(out["zero_shot"]), flush=True, file=__import__("sys").stderr)
    if not args.skip_fit:
        excluded = {str(r["id"]).strip() for _, r in read_rows(sample) if isinstance(r, dict) and r.get("id")}
        t0 = time.perf_counter()
        out["fit"] = fit_catalog(store, exclude_ids=excluded, seed=0, epochs=args.epochs)
        out["fit"]["wall_s"] = round(time.perf_counter() - t0, 1)
        tag_products(store)
    fitted = {
        "title2image": short(evaluate_retrieval(store, sample, title_q, mode="image")),
        "title2image_no_attribute_rerank": short(evaluate_retrieval(store, sample, title_q, mode="image", attribute_rerank=False)),
        "articleType": evaluate_tagging(store, sample, "articleType", source="fitted"),
        "baseColour": evaluate_tagging(store, sample, "baseColour", source="fitted"),
    }
    out["fitted"] = fitted
    t0 = time.perf_counter()
    out["index_full"] = build_indexes(store)
    out["index_full"]["seconds"] = round(time.perf_counter() - t0, 1)
    out["attr_queries"] = {
        "hybrid_with_filters": short(evaluate_retrieval(store, full, attr_q, mode="hybrid", use_filters=True)),
        "hybrid_no_filters": short(evaluate_retrieval(store, full, attr_q, mode="hybrid", use_filters=False)),
        "image_only_no_filters": short(evaluate_retrieval(store, full, attr_q, mode="image", use_filters=False)),
    }
    print(json.dumps(out, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
