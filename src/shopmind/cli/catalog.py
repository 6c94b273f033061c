"""CLI for the foundation: demo, ingest, tag, ocr, fit, index, search, similar, recommend, evals (serve: cli/server.py)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


console = Console(stderr=True)
out = Console()


@contextmanager
def stage_bars(enabled: bool = True):
    """Rich bars on stderr, one per stage; yields the `progress(stage, done, total)` callback of `shopmind.ops`."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not enabled) as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield on_progress


@contextmanager
def progress_bar(label: str, total: int, enabled: bool = True):
    """A rich progress bar on stderr; yields an `advance(n)` callback."""
    if not enabled or total == 0:
        yield lambda n=1: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


def _app():
    """This invocation's Shopmind app object (see `cli.output.current_app`)."""
    from shopmind.cli.output import current_app

    return current_app()


def _store():
    return _app().store


def _print_json(obj) -> None:
    out.print_json(json.dumps(obj, ensure_ascii=False, default=str)) if out.is_terminal else print(json.dumps(obj, ensure_ascii=False, default=str))


def _count_rows(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return max(sum(1 for _ in fh) - (1 if path.suffix.lower() in {".csv", ".tsv"} else 0), 0)
    except OSError:
        return 0


def _engine(name: str) -> str:
    from shopmind.errors import BadInput

    name = name.strip().lower()
    if name not in ("local", "ray"):
        raise BadInput(f"--engine must be local or ray, got {name!r}")
    return name


# --------------------------------------------------------------------------------------------------
def ingest(
    path: Path = typer.Argument(..., help="Catalog file: .csv/.tsv/.jsonl with id, title, [description, price, category, image, …]."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder or .tar of images keyed by id (or by the image column's file name)."),
    errors_file: Optional[Path] = typer.Option(None, "--errors-file", help="Where to write bad rows/images as JSON lines."),
    limit: Optional[int] = typer.Option(None, help="Only the first N rows."),
    map_: list[str] = typer.Option([], "--map", help="FIELD=path.in.record, repeatable: --map price=price.current --map description=details.text"),
    allow_outside: bool = typer.Option(False, "--allow-outside", help="Let the image column name files outside the catalog's folder and --images."),
    batch_size: int = typer.Option(500, "--batch-size", min=1, max=100_000, help="Rows per committed batch (an interrupted run keeps every finished batch)."),
    engine: str = typer.Option("local", "--engine", help="local (default) or ray: rows through the one writer, images embedded by a Ray actor pool."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster: auto | ray://host:10001 | host:6379 (default: a local 2-CPU Ray)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import a catalog. Re-running skips what is already in; bad rows/images are reported, never fatal.

    The text encoding (UTF-8, GB18030/GBK, UTF-16 with a BOM) is detected and reported; nested
    JSON fields are mapped automatically (price.current, descriptors.description …) or with --map.
    """
    from rich.markup import escape

    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.mapping import parse_map_options

    mapping = parse_map_options(map_)
    store = _store()
    if _engine(engine) == "ray":
        from shopmind.scale.ray_engine import ray_ingest

        report = ray_ingest(store, path, images=images, address=address, limit=limit, errors_file=errors_file,
                            mapping=mapping, allow_outside=allow_outside, batch_size=batch_size)
        _print_json(report) if as_json else console.print(
            f"[green]ingested {report['ingested']}[/] · skipped (already in) {report['skipped_existing']} · "
            f"rejected rows {report['failed']} · embedded on ray {report['embedded']}")
        return
    total = _count_rows(path)
    with progress_bar("ingest", total if limit is None else min(total, limit), not as_json) as advance:
        report = ingest_catalog(store, path, images=images, errors_file=errors_file, progress=advance, limit=limit,
                                mapping=mapping, allow_outside=allow_outside, batch_size=batch_size)
    if as_json:
        _print_json(report.model_dump())
        return
    console.print(f"[green]ingested {report.ingested}[/] · skipped (already in) {report.skipped_existing} · "
                  f"rejected rows {report.failed} · image problems {sum(e.stage == 'image' for e in report.errors)} · "
                  f"encoding {escape(report.encoding or '?')} · {report.seconds:.1f}s")
    if report.mapping:
        console.print("mapped " + escape(", ".join(f"{k} ← {v}" for k, v in report.mapping.items())))
    if report.errors:
        table = Table("item", "stage", "reason", title=f"problems ({len(report.errors)}; all in {escape(str(report.errors_file))})")
        for err in report.errors[:15]:
            table.add_row(escape(err.item), err.stage, escape(err.reason))
        console.print(table)


def tag(
    ocr: bool = typer.Option(False, "--ocr/--no-ocr", help="Also run the (slow, gated) OCR pass."),
    index: bool = typer.Option(True, "--index/--no-index", help="Rebuild the search indexes afterwards."),
    engine: str = typer.Option("local", "--engine", help="local (default) or ray: images embedded by a Ray actor pool, one writer."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster: auto | ray://host:10001 | host:6379 (default: a local 2-CPU Ray)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Understand every product: image embedding, named colours, category/style tags (+ OCR), then index."""
    from shopmind.ops.catalog import tag_catalog

    with stage_bars(not as_json) as on_progress:
        if _engine(engine) == "ray":
            from shopmind.scale.ray_engine import ray_tag

            summary = ray_tag(_store(), address=address, ocr=ocr, index=index, progress=on_progress)
        else:
            summary = tag_catalog(_store(), ocr=ocr, index=index, progress=on_progress)
    done, errors = summary["embedded"], summary["embed_errors"]
    if as_json:
        _print_json(summary)
    else:
        console.print(f"[green]embedded {done}[/] new · tagged {summary['tagged']} · errors {len(errors)}"
                      + (f" · index {summary['index']}" if index else ""))


def ocr_cmd(
    limit: Optional[int] = typer.Option(None, help="At most N images this run (resumable: run again to continue)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Read text printed on product images. Gated by a cheap text detector; resumable."""
    from shopmind.ops.catalog import ocr_catalog

    with stage_bars(not as_json) as on_progress:
        stats = ocr_catalog(_store(), limit=limit, progress=on_progress)
    if as_json:
        _print_json(stats)
    else:
        console.print(f"checked {stats['checked']} · text found in {stats['detected_text']} · recognised {stats['recognised']}")


def index_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """(Re)build the lexical, text and image search indexes (incremental)."""
    from shopmind import ops

    with stage_bars(not as_json) as on_progress:
        stats = ops.index(_app(), progress=on_progress)
    _print_json(stats) if as_json else console.print(stats)


def fit(
    seed: int = typer.Option(0, help="Random seed (training is deterministic for a seed)."),
    epochs: int = typer.Option(40, help="Epochs for the alignment head."),
    tagger_epochs: int = typer.Option(25, help="Epochs for each attribute tagger."),
    exclude: Optional[Path] = typer.Option(None, "--exclude", help="CSV/JSONL whose ids are held out of training (e.g. an eval sample)."),
    field: list[str] = typer.Option([], "--field", help="Only train taggers for these labelled columns (default: all that look like labels)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Train the catalog-adapted alignment head (+ attribute taggers) on the catalog's own image–title pairs."""
    from shopmind.catalog.ingest import read_rows
    from shopmind.ops.catalog import fit_and_refresh

    store = _store()
    excluded = set()
    if exclude is not None:
        excluded = {str(r.get("id")).strip() for _, r in read_rows(exclude) if isinstance(r, dict) and r.get("id")}
    with stage_bars(not as_json) as on_progress:  # fit, then re-tag with the fitted taggers and re-index
        report = fit_and_refresh(store, exclude_ids=excluded, fields=field or None, seed=seed, epochs=epochs,
                                 tagger_epochs=tagger_epochs, progress=on_progress)
    if as_json:
        _print_json(report)
    else:
        console.print_json(json.dumps(report, ensure_ascii=False))


def _load_query_image(path: Optional[Path]):
    if path is None:
        return None
    from shopmind.catalog.images import open_image

    return open_image(path).image


def _print_hits(result, as_json: bool) -> None:
    if as_json:
        _print_json({"query": result.query, "took_ms": result.took_ms, "backend": result.backend,
                     "hits": [{"id": h.id, "score": h.score, "title": h.title, "why": h.why, "signals": h.signals,
                               "product": h.product.model_dump(include={"price", "category", "attributes"}) if h.product else None}
                              for h in result.hits]})
        return
    table = Table("#", "id", "title", "score", "why", title=f"{len(result.hits)} hits · {result.took_ms:.0f} ms")
    for i, h in enumerate(result.hits, start=1):
        table.add_row(str(i), h.id, h.title[:60], f"{h.score:.4f}", h.why[:110])
    out.print(table)


def search(
    query: Optional[str] = typer.Argument(None, help="Text query, Chinese or English, e.g. 红色连衣裙."),
    image: Optional[Path] = typer.Option(None, "--image", help="A reference photo (alone or with the text)."),
    filters: list[str] = typer.Option([], "--filter", help="FIELD=VALUE or FIELD<NUMBER, repeatable: --filter articleType=Dresses --filter price<300"),
    k: int = typer.Option(10, "--k", help="How many hits."),
    mode: str = typer.Option("hybrid", help="hybrid | text | image (image vectors only)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Hybrid search by text, by image, or both; each hit says why it matched."""
    from shopmind import ops

    result = ops.search(_app(), query, _load_query_image(image), filters=filters, k=k, mode=mode)
    _print_hits(result, as_json)


def similar(
    product_id: str = typer.Argument(...),
    k: int = typer.Option(10, "--k"),
    diversity: float = typer.Option(0.3, help="0 = pure similarity, 1 = maximal variety."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Products that look and read like PRODUCT_ID."""
    from shopmind import ops

    _print_hits(ops.similar(_app(), product_id, k=k, diversity=diversity), as_json)


def recommend(
    history: Optional[str] = typer.Option(None, "--history", help="Comma-separated product ids the shopper viewed/bought."),
    scene: Optional[str] = typer.Option(None, "--scene", help="Or a scene: beach | office | wedding | gym | rainy | PHOTO path."),
    k: int = typer.Option(10, "--k"),
    diversity: float = typer.Option(0.3),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recommendations from a browsing history (history items excluded, diversified), or for a scene with reasons."""
    from shopmind import ops
    from shopmind.errors import BadInput

    if (history is None) == (scene is None):
        raise BadInput("give exactly one of --history ids or --scene beach|office|wedding|gym|rainy|PHOTO")
    if scene is not None:
        from shopmind.search.scene import recommend_for_scene

        res = recommend_for_scene(scene, _store(), k=k)
        if as_json:
            _print_json(res.model_dump())
        else:
            for h in res.items:
                typer.echo(f"{h.score:.3f}  {h.id}  {h.title}  — {'；'.join(h.reasons_zh)} / {'; '.join(h.reasons_en)}")
        return
    ids = [x.strip() for x in history.split(",") if x.strip()]
    _print_hits(ops.recommend(_app(), ids, k=k, diversity=diversity), as_json)


def product(
    product_id: str = typer.Argument(...),
    as_json: bool = typer.Option(True, "--json", help="Always JSON; the flag is accepted for symmetry with other commands."),
) -> None:
    """Show one product with its tags and OCR text (JSON)."""
    store = _store()
    p = store.get_product(product_id)
    tags = store.get_tags(product_id)
    _print_json({"product": p.model_dump(), "tags": tags.model_dump() if tags else None})


def demo(
    workdir: Path = typer.Option(Path("demo_catalog"), help="Where to write the generated demo catalog."),
    ocr: bool = typer.Option(True, "--ocr/--no-ocr", help="Run the OCR pass on the demo images."),
) -> None:
    """Generate a demo catalog, ingest, tag, fit, index, and run a few searches — all offline."""
    from shopmind.demo.run import run_demo

    run_demo(workdir=workdir, ocr=ocr, console=console, out=out)


# --------------------------------------------------------------------------------------------------
def eval_retrieval(
    catalog: Path = typer.Option(..., "--catalog", help="Catalog CSV (image column relative to it, or images.tar beside it)."),
    qrels: Path = typer.Option(..., "--qrels", help="JSON lines: {query, relevant_ids, filters?, query_image?}."),
    mode: str = typer.Option("image", help="image (search the images only; the default), hybrid, text."),
    images: Optional[Path] = typer.Option(None, "--images"),
    no_filters: bool = typer.Option(False, "--no-filters", help="Ignore the qrels' filters."),
    limit: Optional[int] = typer.Option(None, help="Only the first N queries."),
    attribute_rerank: bool = typer.Option(True, "--attribute-rerank/--no-attribute-rerank", help="Re-rank image hits by fitted tag agreement."),
    as_json: bool = typer.Option(True, "--json/--table"),
) -> None:
    """Recall@1/5/10, MRR, nDCG@10 of search over CATALOG for the queries in QRELS (indexes if needed)."""
    from shopmind.eval.retrieval import evaluate_retrieval

    result = evaluate_retrieval(_store(), catalog, qrels, mode=mode, images=images, use_filters=not no_filters, limit=limit,
                                attribute_rerank=attribute_rerank)
    print(json.dumps(result, ensure_ascii=False))


def eval_tagging(
    catalog: Path = typer.Option(..., "--catalog"),
    field: str = typer.Option(..., "--field", help="Labelled column to compare against, e.g. articleType."),
    source: str = typer.Option("auto", help="auto (fitted if trained for the field), fitted, zero-shot."),
    images: Optional[Path] = typer.Option(None, "--images"),
    image_only: bool = typer.Option(False, "--image-only", help="Fitted taggers ignore the title (photo-only tagging)."),
    as_json: bool = typer.Option(True, "--json/--table"),
) -> None:
    """Accuracy and macro-F1 of tags against a labelled column (fitted: image+title, and image alone)."""
    from shopmind.eval.tagging import evaluate_tagging

    result = evaluate_tagging(_store(), catalog, field, source=source, images=images, image_only=image_only)
    print(json.dumps(result, ensure_ascii=False))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(ingest)
    app.command()(tag)
    app.command("ocr")(ocr_cmd)
    app.command()(fit)
    app.command("index")(index_cmd)
    app.command()(search)
    app.command()(similar)
    app.command()(recommend)
    app.command()(product)
    eval_app.command("retrieval")(eval_retrieval)
    eval_app.command("tagging")(eval_tagging)
