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
def check(app: Shopmind, text: str, *, category: str | None = None, price_context=None, facts: dict | None = None,
          **options: Any):
    """Check ad text against the 广告法 (and the other languages' rules)."""
    from shopmind.compliance import check as run_check

    return run_check(text, category=category, price_context=price_context, facts=facts, **options)


@operation("rewrite", cli="check", api="POST /compliance/rewrite")
def rewrite(app: Shopmind, text: str, *, category: str | None = None, price_context=None, facts: dict | None = None,
            include_borderline: bool = False):
    """The text with violating spans replaced or dropped, re-checked (`shopmind check --rewrite`)."""
    from shopmind.compliance import rewrite as run_rewrite

    return run_rewrite(text, category=category, price_context=price_context, include_borderline=include_borderline,
                       facts=facts)


def product_consistency(app: Shopmind, text: str, product_id: str) -> dict[str, Any]:
    """Fact check against the product's attributes, and image–text check against its image tags only.

    The second pass drops the catalog attributes so a colour the image contradicts is caught even
    when the catalog row agrees with the copy (e.g. copy and row say 红色, the photo is blue).
    A span both passes flag is reported once, as an image finding.
    """
    from shopmind.compliance.guard import image_findings
    from shopmind.generate.factcheck import check_facts
    from shopmind.generate.facts import from_product

    facts = from_product(product_id, store=app.store)
    image = image_findings(text, facts)
    seen = {(f.start, f.end) for f in image}
    fact = [f for f in check_facts(text, facts) if (f.start, f.end) not in seen]
    return {
        "product_id": product_id,
        "category": facts.category,
        "fact_findings": [f.model_dump(mode="json") for f in fact],
        "image_findings": [f.model_dump(mode="json") for f in image],
        "image_colours": facts.colours,
    }


def combined_verdict(verdict: str, facts_report: dict | None) -> str:
    """The compliance verdict joined with the fact/image findings: a contradiction is never `clean`."""
    if facts_report is None:
        return verdict
    from shopmind.compliance.guard import combine_verdict
    from shopmind.domain import Finding

    found = [Finding.model_validate(f) for f in facts_report["fact_findings"] + facts_report["image_findings"]]
    return combine_verdict(verdict, found)


def write_request(app: Shopmind, content_type: str, **fields: Any):
    """A validated `WriteRequest` (bad fields, languages, product ids and attribute strings fail here as
    typed errors, before any LLM call or stream starts)."""
    from pydantic import ValidationError

    from shopmind.generate import WriteRequest, build_facts
    from shopmind.generate.languages import normalise_language

    try:
        req = WriteRequest(content_type=content_type, **fields)
    except ValidationError as exc:
        raise BadInput("; ".join(e["msg"] for e in exc.errors()),
                       detail={"errors": exc.errors(include_url=False, include_context=False)}) from exc
    normalise_language(req.language)
    build_facts(req, app.store if req.product_id else None)
    return req


def writer_llm(app: Shopmind, voice: str | None = None):
    """The LLM `write` uses: the configured one, or it with a registered adapter (an unknown voice is NotFound)."""
    from shopmind.tune.voice import get_voiced_llm

    return get_voiced_llm(app.settings, voice)


class _StopOnCancel:
    """The LLM, stopped by a cancel event: a stream ends (raising `Cancelled`) at the first token after
    the event is set, and closing the backend's own stream there tells an HTTP backend to stop too.

    The check runs inside this generator, so the backend stream is closed at once, not whenever
    the exception's traceback is collected. A non-streamed `complete` is checked before it starts."""

    def __init__(self, llm: Any, cancel) -> None:
        self._llm = llm
        self._cancel = cancel

    def __getattr__(self, name: str) -> Any:  # name, last_usage, … of the real backend
        return getattr(self._llm, name)

    def _check(self) -> None:
        from shopmind.errors import Cancelled

        if self._cancel.is_set():
            raise Cancelled("the client went away; generation stopped")

    def complete(self, messages, **opts: Any) -> str:
        self._check()
        return self._llm.complete(messages, **opts)

    def stream(self, messages, **opts: Any):
        self._check()
        pieces = self._llm.stream(messages, **opts)
        try:
            for piece in pieces:
                self._check()
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()


def stoppable(llm: Any, cancel) -> Any:
    """`llm` stopped by `cancel` (a `threading.Event`); unchanged when there is no event."""
    return llm if cancel is None else _StopOnCancel(llm, cancel)


@operation("write", cli="write", api="POST /content/{content_type}")
def write(app: Shopmind, request, *, voice: str | None = None, llm: Any = None, on_token=None, cancel=None):
    """Grounded copy for one product, checked and rewritten until it passes.

    `voice` names a registered adapter (brand voice); `cancel` (a `threading.Event`) stops the
    generation at its next token with `Cancelled`."""
    from shopmind.errors import Cancelled
    from shopmind.generate import write as run_write

    llm = llm if llm is not None else writer_llm(app, voice)
    if cancel is not None and cancel.is_set():
        raise Cancelled("the client went away before generation started")
    result = run_write(request, stoppable(llm, cancel), store=app.store, on_token=_checked_sink(on_token, cancel))
    if cancel is not None and cancel.is_set():  # stopped inside a rewrite round the loop tolerates
        raise Cancelled("the client went away; the result was dropped")
    return result


def _checked_sink(on_token, cancel):
    """With a cancel event, a token sink that also stops (any token source, not only `LLM.stream`);
    having a sink at all makes the draft stream, so it can stop mid-way."""
    if cancel is None:
        return on_token

    def sink(piece: str) -> None:
        if cancel.is_set():
            from shopmind.errors import Cancelled

            raise Cancelled("the client went away; generation stopped")
        if on_token is not None:
            on_token(piece)

    return sink


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

    try:
        kept, report = guard_lines(lines, mode="refuse" if strict else "rewrite")
    except ValueError as exc:  # pydantic validation of the lines
        raise BadInput(f"bad script: {exc}") from None
    if report.get("refused"):
        return {"guard": report, "narration": None}
    if not kept:
        raise BadInput("no line left to speak after the guard")
    return {"guard": report, "narration": synthesize_script(kept, out_wav, tts=app.tts)}


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

    return triage_and_store(message, settings=app.settings, store=app.store, **options)


@operation("ask", cli="service ask", api="POST /service/ask")
def ask(app: Shopmind, product_id: str, question: str, *, use_llm: bool | None = None, stream: bool = False,
        cancel=None):
    """Answer a shopper's question from one product's facts, with citations.

    `stream=True` returns the event iterator (facts, delta…, answer); `cancel` (a `threading.Event`)
    stops the LLM at its next token with `Cancelled`."""
    from shopmind.service.qa import ask as run_ask
    from shopmind.service.qa import ask_events

    if stream:
        return ask_events(product_id, question, use_llm=use_llm, settings=app.settings, store=app.store, cancel=cancel)
    return run_ask(product_id, question, use_llm=use_llm, settings=app.settings, store=app.store, cancel=cancel)


@operation("experiment", cli="ab create", api="POST /ab/experiments")
def experiment(app: Shopmind, spec):
    """Create an A/B experiment over content variants."""
    from shopmind.experiments.models import ExperimentSpec
    from shopmind.experiments.store import open_experiments

    spec = spec if isinstance(spec, ExperimentSpec) else ExperimentSpec.model_validate(spec)
    store = open_experiments(app.settings)
    try:
        return store.create(spec)
    finally:
        store.conn.close()
