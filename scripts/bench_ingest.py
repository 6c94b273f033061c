"""Benchmark: ingest + embed (+ tag) throughput and peak RSS on a catalog. Prints one JSON object.

    python scripts/bench_ingest.py --catalog ../shared/data/fashion/catalog.csv --home /tmp/bench_home
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--images", default=None)
    ap.add_argument("--home", required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--skip-tag", action="store_true")
    args = ap.parse_args()
    os.environ["SHOPMIND_HOME"] = args.home

    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.understand.features import embed_products

    store = open_store(get_settings())
    out: dict = {"catalog": args.catalog, "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    t0 = time.perf_counter()
    report = ingest_catalog(store, Path(args.catalog), images=Path(args.images) if args.images else None, limit=args.limit)
    t1 = time.perf_counter()
    done, errors = embed_products(store)
    t2 = time.perf_counter()
    out.update(
        rows=report.rows_seen, ingested=report.ingested, skipped=report.skipped_existing, ingest_errors=len(report.errors),
        ingest_s=round(t1 - t0, 1), ingest_rows_per_s=round(report.rows_seen / max(t1 - t0, 1e-9), 1),
        embedded=done, embed_errors=len(errors), embed_s=round(t2 - t1, 1), embed_images_per_s=round(done / max(t2 - t1, 1e-9), 1),
    )
    if not args.skip_tag:
        from shopmind.understand.tagging import tag_products

        t3 = time.perf_counter()
        tagged = tag_products(store)
        t4 = time.perf_counter()
        out.update(tagged=tagged, tag_s=round(t4 - t3, 1))
    total = time.perf_counter() - t0
    out.update(total_s=round(total, 1), products_per_s=round(report.rows_seen / max(total, 1e-9), 1),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
