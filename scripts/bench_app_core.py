"""What building the search engine once per app saves: BM25 load per request vs a kept engine.

    .venv/bin/python scripts/bench_app_core.py --catalog ../shared/data/fashion/catalog.csv --rows 20000

Ingests the first ROWS rows (text columns only, no images) into a temporary home, builds the
lexical index, then times (a) a fresh `SearchEngine` per query, as the API did before the app
object, and (b) the app's one engine. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--queries", type=int, default=20)
    args = ap.parse_args()

    from shopmind.app import Shopmind
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.search.hybrid import SearchEngine
    from shopmind.search.indexer import build_indexes

    with tempfile.TemporaryDirectory() as tmp:
        text_only = Path(tmp) / "catalog.csv"
        with args.catalog.open(encoding="utf-8") as src, text_only.open("w", encoding="utf-8", newline="") as dst:
            reader = csv.DictReader(src)
            fields = [f for f in reader.fieldnames or [] if f != "image"]
            writer = csv.DictWriter(dst, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for i, row in enumerate(reader):
                if i >= args.rows:
                    break
                writer.writerow(row)
        with Shopmind.open(Path(tmp) / "home") as sm:
            report = ingest_catalog(sm.store, text_only)
            build_indexes(sm.store, channels=("lexical",))
            queries = ["red kurta", "men black shoes", "blue jeans", "women watch", "white shirt"] * (args.queries // 5)

            def timed(engine_for) -> list[float]:
                out = []
                for q in queries:
                    t0 = time.perf_counter()
                    engine = engine_for()
                    lex = engine.lexical()
                    lex.search(q, 100, None)
                    out.append((time.perf_counter() - t0) * 1000)
                return out

            fresh = timed(lambda: SearchEngine(sm.store))
            kept = timed(lambda: sm.search)
        print(json.dumps({
            "rows": report.ingested, "queries": len(queries),
            "per_request_engine_ms_p50": round(statistics.median(fresh), 2),
            "app_engine_ms_p50": round(statistics.median(kept), 2),
            "speedup": round(statistics.median(fresh) / max(statistics.median(kept), 1e-9), 1),
        }))


if __name__ == "__main__":
    main()
