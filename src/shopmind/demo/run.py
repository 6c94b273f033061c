"""`shopmind demo`: the whole foundation on a catalog the project renders itself, offline.

generate -> ingest (with bad rows reported) -> embed + tag -> OCR -> fit -> index -> searches.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shopmind.config import get_settings


def _hits_table(title: str, result) -> Table:
    table = Table("#", "id", "title", "why", title=f"{title}  ({result.took_ms:.0f} ms)", title_justify="left")
    for i, h in enumerate(result.hits, start=1):
        table.add_row(str(i), h.id, h.title[:40], h.why[:90])
    return table


def run_demo(workdir: Path, *, ocr: bool = True, console: Console | None = None, out: Console | None = None) -> dict:
    from shopmind.catalog.images import open_image
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.demo.catalog import generate_demo_catalog
    from shopmind.search.hybrid import SearchEngine, parse_filter
    from shopmind.search.indexer import build_indexes
    from shopmind.understand.features import embed_products
    from shopmind.understand.fitting import fit_catalog
    from shopmind.understand.ocr_pass import run_ocr
    from shopmind.understand.tagging import tag_products

    console = console or Console(stderr=True)
    out = out or Console()
    settings = get_settings()
    store = open_store(settings)
    started = time.perf_counter()
    summary: dict = {}

    console.rule("[bold]1 · generate a demo catalog")
    csv_path = generate_demo_catalog(Path(workdir))
    console.print(f"catalog: {csv_path}  (data dir: {settings.home})")

    console.rule("[bold]2 · ingest")
    report = ingest_catalog(store, csv_path)
    summary["ingest"] = report.model_dump(exclude={"errors"})
    console.print(f"ingested {report.ingested}, already in {report.skipped_existing}, rejected {report.failed}")
    for err in report.errors:
        console.print(f"  [yellow]problem[/] {err.item} ({err.stage}): {err.reason}")

    console.rule("[bold]3 · understand: embed, colours, tags, OCR")
    done, errors = embed_products(store)
    tagged = tag_products(store)
    console.print(f"embedded {done} images, tagged {tagged}")
    if ocr:
        stats = run_ocr(store)
        summary["ocr"] = {k: v for k, v in stats.items() if k != "errors"}
        console.print(f"OCR: {stats['detected_text']} images with text, {stats['recognised']} read")

    console.rule("[bold]4 · fit the catalog-adapted head and taggers")
    fit_report = fit_catalog(store, epochs=30, tagger_epochs=30, seed=0)
    console.print(f"fitted on {fit_report['n_products']} products in {fit_report['seconds']}s; taggers: {', '.join(fit_report['taggers']) or 'none'}")
    tagged = tag_products(store)

    console.rule("[bold]5 · index")
    summary["index"] = build_indexes(store)
    console.print(summary["index"])

    console.rule("[bold]6 · search")
    engine = SearchEngine(store)
    sample = next(p for p in store.iter_products() if p.image_path)
    tags = store.get_tags(sample.id)
    out.print(f"[bold]product {sample.id}[/]: {sample.title}")
    if tags:
        out.print("  colours: " + ", ".join(f"{c.name_zh}/{c.name_en} {c.share:.0%}" for c in tags.colours)
                  + " · " + " · ".join(f"{k}: {v[0].label} ({v[0].score:.2f})" for k, v in tags.labels.items() if v)
                  + (f" · OCR: {tags.ocr_text!r}" if tags.ocr_text else ""))
    queries = [("红色连衣裙", []), ("blue t-shirt", []), ("黑色 鞋", ["price<300"]), ("限时特价", [])]
    for q, f in queries:
        res = engine.search(q, filters=[parse_filter(x) for x in f], k=5)
        out.print(_hits_table(f"text: {q!r} {' '.join(f)}", res))
    photo = open_image(store.image_file(sample.id)).image
    out.print(_hits_table(f"image: photo of {sample.id}", engine.search(None, photo, k=5)))
    out.print(_hits_table(f"image + text: photo of {sample.id} + 'same style but in black'", engine.search("same style but in black 黑色", photo, k=5)))
    out.print(_hits_table(f"similar to {sample.id}", engine.similar(sample.id, k=5)))
    history = [p.id for p in store.iter_products() if p.image_path and store.get_tags(p.id)][:3]
    out.print(_hits_table(f"recommend for history {','.join(history)}", engine.recommend(history, k=5)))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    console.rule(f"[bold green]demo finished in {summary['seconds']}s")
    return summary
