"""The named operations (see `shopmind.ops`): each takes the app object, then plain arguments.

They hold the workflow an interface used to assemble itself (look up the product and its image,
write guarded copy, then render; search through the app's one engine; …) and return domain
objects; the CLI prints them and the API serialises them. Long catalog workflows are in
`ops/catalog.py` (shared with the job runner); these wrap them with the app's store and image space.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopmind.errors import BadInput, NotReady
from shopmind.ops import operation

if TYPE_CHECKING:
    from PIL import Image

    from shopmind.app import Shopmind
    from shopmind.domain import Filter, SearchResult


# ------------------------------------------------------------------------------------------ catalog
@operation("ingest", cli="ingest", api="POST /catalog/ingest")
def ingest(app: Shopmind, path: str | Path, **options: Any):
    """Import a catalog file (rows and images); re-runs skip what is already in."""
    from shopmind.catalog.ingest import ingest_catalog

    return ingest_catalog(app.store, Path(path), **options)


@operation("tag", cli="tag", api="POST /tag")
def tag(app: Shopmind, *, ids: list[str] | None = None, ocr: bool = False, index: bool = True,
        progress=None) -> dict[str, Any]:
    """Embed images, tag them, optionally OCR, then (re)index."""
    from shopmind.ops.catalog import tag_catalog

    return tag_catalog(app.store, ids=ids, ocr=ocr, index=index, progress=progress)


@operation("ocr", cli="ocr", api="POST /jobs/ocr")
def ocr(app: Shopmind, *, ids: list[str] | None = None, limit: int | None = None, progress=None) -> dict[str, Any]:
    """Read the text on product images (gated: only images with detected text are read)."""
    from shopmind.ops.catalog import ocr_catalog

    return ocr_catalog(app.store, ids=ids, limit=limit, progress=progress)


@operation("fit", cli="fit", api="POST /jobs/fit")
def fit(app: Shopmind, **options: Any) -> dict[str, Any]:
    """Train the alignment head and taggers on this catalog, then re-tag and re-index."""
    from shopmind.ops.catalog import fit_and_refresh

    return fit_and_refresh(app.store, **options)


@operation("index", cli="index", api="POST /jobs/index")
def index(app: Shopmind, *, progress=None) -> dict[str, Any]:
    """Bring the text, image and BM25 indexes up to date (image vectors in the app's image space)."""
    from shopmind.search.indexer import build_indexes

    def report(channel: str, done: int, total: int) -> None:
        if progress:
            progress(f"index {channel}", done, total)

    return build_indexes(app.store, progress=report, space=app.image_space)


@operation("product", cli="product", api="GET /products/{product_id}")
def product(app: Shopmind, product_id: str) -> dict[str, Any]:
    """One product with its tags (None before `tag`)."""
    store = app.store
    return {"product": store.get_product(product_id), "tags": store.get_tags(product_id)}


# ------------------------------------------------------------------------------------------- search
def _filters(filters: list[str] | list[Filter] | None) -> list[Filter]:
    from shopmind.domain import Filter
    from shopmind.search.hybrid import parse_filter

    return [f if isinstance(f, Filter) else parse_filter(f) for f in filters or []]


@operation("search", cli="search", api="POST /search")
def search(app: Shopmind, query: str | None = None, image: Image.Image | None = None, *,
           filters: list[str] | list[Filter] | None = None, k: int = 10, mode: str = "hybrid") -> SearchResult:
    """Hybrid search by text, photo or both (filters like `price<300`)."""
    return app.search.search(query, image, filters=_filters(filters), k=k, mode=mode)


@operation("similar", cli="similar", api="GET /products/{product_id}/similar")
def similar(app: Shopmind, product_id: str, *, k: int = 10, diversity: float = 0.3) -> SearchResult:
    """Products that look like this one (diversified)."""
    return app.search.similar(product_id, k=k, diversity=diversity)


@operation("recommend", cli="recommend", api="POST /recommend")
def recommend(app: Shopmind, history: list[str], *, k: int = 10, diversity: float = 0.3) -> SearchResult:
    """Next products for a browsing history of ids."""
    return app.search.recommend(history, k=k, diversity=diversity)


# --------------------------------------------------------------------------------------- compliance
@operation("check", cli="check", api="POST /compliance/check")
def check(app: Shopmind, text: str, *, category: str | None = None, price_context=None, **options: Any):
    """Check ad text against the 广告法 (and the other languages' rules)."""
    from shopmind.compliance import check as run_check

    return run_check(text, category=category, price_context=price_context, **options)


@operation("write", cli="write", api="POST /content/{content_type}")
def write(app: Shopmind, request, *, llm: Any = None, on_token=None):
    """Grounded copy for one product, checked and rewritten until it passes."""
    from shopmind.generate import write as run_write

    return run_write(request, llm, store=app.store, on_token=on_token)


# -------------------------------------------------------------------------------------------- media
def product_with_image(app: Shopmind, product_id: str):
    """(product, stored image path): posters and videos need both."""
    store = app.store
    item = store.get_product(product_id)
    path = store.image_file(product_id)
    if path is None or not Path(path).is_file():
        raise NotReady(f"product {product_id!r} has no stored image; ingest one first")
    return item, Path(path)


def guarded_copy(app: Shopmind, item, *, headline: str | None = None, points: list[str] | None = None,
                 copy: str = "auto", language: str | None = None, strict: bool = False):
    """The headline and points a poster or video may show (guarded; `refused` when strict and violating)."""
    from shopmind.media.copy import publishable_copy

    return publishable_copy(item, language=language, headline=headline, points=points or None, copy=copy,
                            mode="refuse" if strict else "rewrite", store=app.store)


@operation("poster", cli="poster", api="POST /media/poster")
def poster(app: Shopmind, product_id: str, out: str | Path, *, style: str = "minimal", ratio: str = "3:4",
           headline: str | None = None, points: list[str] | None = None, copy: str = "auto",
           language: str | None = None, strict: bool = False) -> dict[str, Any]:
    """An ad poster for one product: {"copy": MediaCopy, "result": PosterResult | None (refused)}."""
    from shopmind.media.poster import make_poster

    item, path = product_with_image(app, product_id)
    mc = guarded_copy(app, item, headline=headline, points=points, copy=copy, language=language, strict=strict)
    if mc.refused:
        return {"copy": mc, "result": None}
    return {"copy": mc, "result": make_poster(item, path, out, style=style, ratio=ratio, copy=mc)}


@operation("video", cli="video", api="POST /jobs/video")
def video(app: Shopmind, product_id: str, out: str | Path, *, fmt: str = "vertical", seconds: float | None = None,
          fps: int = 25, headline: str | None = None, points: list[str] | None = None, copy: str = "auto",
          language: str | None = None, strict: bool = False,
          variants: list[Image.Image] | None = None) -> dict[str, Any]:
    """A narrated product video: {"copy": MediaCopy, "result": VideoResult | None (refused)}."""
    from shopmind.catalog.images import open_image
    from shopmind.media.video import render_video

    item, path = product_with_image(app, product_id)
    mc = guarded_copy(app, item, headline=headline, points=points, copy=copy, language=language, strict=strict)
    if mc.refused:
        return {"copy": mc, "result": None}
    result = render_video(item, open_image(path).image, out, fmt=fmt, seconds=seconds, fps=fps, copy=mc,
                          variants=variants or None)
    return {"copy": mc, "result": result}


@operation("tts", cli="live tts", api="POST /media/tts")
def tts(app: Shopmind, lines: list, out_wav: str | Path, *, strict: bool = False) -> dict[str, Any]:
    """Speak guarded script lines into one WAV: {"guard": report, "narration": Narration | None (refused)}."""
    from shopmind.media.tts import guard_lines, synthesize_script

    kept, report = guard_lines(lines, mode="refuse" if strict else "rewrite")
    if report.get("refused"):
        return {"guard": report, "narration": None}
    if not kept:
        raise BadInput("no line left to speak after the guard")
    return {"guard": report, "narration": synthesize_script(kept, out_wav)}


@operation("redact", cli="redact", api="POST /media/redact")
def redact(app: Shopmind, image: str | Path | bytes, out: str | Path | None = None, **options: Any):
    """Blur faces and personal data: a file (into `out`) or uploaded bytes (returns (png_bytes, report))."""
    from shopmind.media.redact import redact_bytes, redact_file

    if isinstance(image, bytes):
        return redact_bytes(image, fmt="PNG", **options)
    if out is None:
        raise BadInput("redacting a file needs an output path")
    return redact_file(image, out, **options)


# ------------------------------------------------------------------------------------------ service
@operation("triage", cli="service triage", api="POST /service/tickets")
def triage(app: Shopmind, message: str, **options: Any):
    """Classify a customer message and (by default) open a ticket: (TriageResult, Ticket | None)."""
    from shopmind.service.intake import triage_and_store

    return triage_and_store(message, **options)


@operation("ask", cli="service ask", api="POST /service/ask")
def ask(app: Shopmind, product_id: str, question: str, *, use_llm: bool | None = None):
    """Answer a shopper's question from one product's facts, with citations."""
    from shopmind.service.qa import ask as run_ask

    return run_ask(product_id, question, use_llm=use_llm, settings=app.settings, store=app.store)


@operation("experiment", cli="ab create", api="POST /ab/experiments")
def experiment(app: Shopmind, spec):
    """Create an A/B experiment over content variants."""
    from shopmind.experiments.models import ExperimentSpec
    from shopmind.experiments.store import open_experiments

    spec = spec if isinstance(spec, ExperimentSpec) else ExperimentSpec.model_validate(spec)
    return open_experiments(app.settings).create(spec)
