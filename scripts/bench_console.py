"""Console figures in a real browser: first contentful paint of the catalog page (first page, a deep
keyset page, a filtered page) on a large catalog, and the gzipped JS + CSS bundle size.

    python scripts/bench_console.py --catalog ../shared/data/fashion/catalog.csv --out /tmp/console-bench

The catalog is ingested WITHOUT images (the image column is dropped) into a fresh home under --out:
paging and first paint do not depend on images. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.live_server import LiveServer, cli, server_env  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def bundle_bytes() -> dict[str, int]:
    static = REPO / "src" / "shopmind" / "web" / "static"
    files = [p for p in static.rglob("*") if p.suffix in {".js", ".css"}]
    return {"raw": sum(p.stat().st_size for p in files), "gzip": sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = server_env(args.out / "home")
    text_only = args.out / "catalog-no-images.csv"
    with args.catalog.open(encoding="utf-8", newline="") as src, text_only.open("w", encoding="utf-8", newline="") as dst:
        reader = csv.DictReader(src)
        fields = [f for f in reader.fieldnames or [] if f != "image"]
        writer = csv.DictWriter(dst, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        rows = 0
        for row in reader:
            writer.writerow(row)
            rows += 1
    t0 = time.perf_counter()
    cli(env, "ingest", str(text_only), "--json", timeout=1800)
    ingest_s = time.perf_counter() - t0
    key = json.loads(cli(env, "keys", "create", "--role", "read", "--json").stdout)["key"]
    server = LiveServer(env).start()
    from playwright.sync_api import sync_playwright

    out: dict = {"rows": rows, "ingest_s": round(ingest_s, 1), "bundle": bundle_bytes()}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(server.base + "/")
            page.fill("#key", key)
            page.click("form[action='/ui/login'] button")
            page.wait_for_url("**/ui/catalog")
            # deep_page: keyset paging, ids sort as text, so ids after '6' are well into the catalog
            targets = {"first_page": "/ui/catalog", "deep_page": "/ui/catalog?after=6", "filtered": "/ui/catalog?q=Shirt"}
            for name, path in targets.items():
                fcps, loads = [], []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    page.goto(server.base + path)
                    loads.append((time.perf_counter() - t) * 1000)
                    fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)")
                    if fcp:
                        fcps.append(fcp[0])
                out[name] = {"fcp_ms_median": round(statistics.median(fcps), 1) if fcps else None,
                             "load_ms_median": round(statistics.median(loads), 1),
                             "count_text": page.inner_text("#count")}
            browser.close()
    finally:
        server.stop()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
