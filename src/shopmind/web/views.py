"""The console's pages and actions. Each action calls the same operation its API route calls (often the
API's own helper), so the console adds screens, never logic of its own.

Full pages are GETs; actions are form posts sent by htmx, answered with an HTML fragment that
replaces one region of the page. Every post carries the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import tarfile
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from shopmind.api.jobs import _jobs, _submit  # the job table and queueing of `POST /jobs/{kind}`
from shopmind.api.limits import read_upload
from shopmind.errors import BadInput, NotFound, ShopmindError
from shopmind.web import browse
from shopmind.web.context import Ctx, api_role, context, guard, set_session_cookie, sessions
from shopmind.web.render import highlight, interval_chart, line_chart
from shopmind.web.session import COOKIE

router = APIRouter(include_in_schema=False)
CONTENT_TYPES = ("title", "selling_points", "description", "ad_copy", "seo_keywords", "product_page")
WRITE_LANGS = ("zh", "en", "ja", "ko", "fr", "de", "es", "it", "pt", "ru")
CATEGORIES = ("", "apparel", "cosmetics", "food", "health_products", "electronics", "education", "real_estate", "finance")


def _app(request: Request):
    """The server's one `Shopmind` app (its store, search engine and image space)."""
    from shopmind.api.deps import get_shopmind

    return get_shopmind(request)


def _store(request: Request):
    return _app(request).store


def _fail(ctx: Ctx, exc: Exception, status_code: int | None = None) -> Response:
    """An error box in place of the result: the typed error's message, never a traceback."""
    if isinstance(exc, ShopmindError):
        return ctx.render("_error.html", status_code=status_code or exc.http_status, code=exc.code, message=exc.message)
    if isinstance(exc, ValidationError):
        msg = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return ctx.render("_error.html", status_code=422, code="bad_input", message=msg)
    return ctx.render("_error.html", status_code=status_code or 500, code="error", message=f"{type(exc).__name__}: {exc}")


def _text(form, name: str, limit: int = 20_000) -> str:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return ""
    if len(value) > limit:
        raise BadInput(f"{name} is longer than {limit} characters")
    return value.strip()


def _num(form, name: str) -> float | None:
    raw = _text(form, name, 64)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadInput(f"{name} must be a finite number")
    return value


def _upload(form, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


# ---------------------------------------------------------------- sign in, language
@router.get("/")
def home(request: Request) -> Response:
    ctx = context(request)
    if ctx.role is not None:
        return ctx.finish(RedirectResponse("/ui/catalog", status_code=303))
    return ctx.render("login.html", error=None)


@router.get("/ui")
@router.get("/ui/")
def ui_root() -> Response:
    return RedirectResponse("/", status_code=303)


@router.post("/ui/login")
async def login(request: Request) -> Response:
    form = await request.form()
    ctx = context(request)
    from shopmind.web.session import csrf_ok

    if not csrf_ok(ctx.session, _text(form, "csrf_token", 200)):
        return ctx.render("login.html", status_code=403, error=ctx.t("err.csrf"))
    key = _text(form, "key", 300)
    signed = await run_in_threadpool(sessions(request).sign_in, ctx.session, key)
    if signed is None:
        await asyncio.sleep(0.2)  # a little friction for guessing (keys are 256-bit anyway), off the event loop
        return ctx.render("login.html", status_code=401, error=ctx.t("login.wrong"))
    response = RedirectResponse("/ui/catalog", status_code=303)
    set_session_cookie(response, signed.sid)
    return response


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    ctx = guard(request, "read", form=form)
    sessions(request).drop(ctx.session.sid)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/ui/lang/{lang}")
def set_lang(lang: str, next: str = "/") -> Response:  # noqa: A002
    target = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/"
    response = RedirectResponse(target, status_code=303)
    if lang in ("zh", "en"):
        response.set_cookie("smc_lang", lang, max_age=365 * 86400, samesite="strict", path="/")
    return response


# ---------------------------------------------------------------- catalog
@router.get("/ui/catalog")
def catalog_page(request: Request, category: str = "", q: str = "", after: str | None = None, before: str | None = None,
                 min_price: str = "", max_price: str = "") -> Response:
    ctx = guard(request, api_role("GET", "/products/x"))
    store = _store(request)
    try:
        lo = _num({"min_price": min_price}, "min_price")
        hi = _num({"max_price": max_price}, "max_price")
        pg = browse.page(store, after=after, before=before, category=category or None, q=q[:200] or None,
                         min_price=lo, max_price=hi)
    except ShopmindError as exc:
        return _fail(ctx, exc)
    tags = {p.id: store.get_tags(p.id) for p in pg.products}
    jobs = _jobs(request).list(limit=8)
    values = dict(page=pg, tags=tags, categories=browse.categories(store), category=category, q=q, min_price=min_price,
                  max_price=max_price, jobs=jobs)
    if request.headers.get("hx-target") == "grid":
        return ctx.render("_grid.html", **values)
    return ctx.render("catalog.html", **values)


@router.get("/ui/thumb/{product_id}")
def thumb(request: Request, product_id: str) -> Response:
    ctx = guard(request, api_role("GET", "/products/x"))
    data = browse.thumbnail(_store(request), product_id, _app(request).settings.home / "cache" / "thumbs")
    if data is None:
        return ctx.finish(Response(status_code=404))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


def _tar_of(files: list[UploadFile], limit: int) -> SimpleNamespace:
    """Loose image uploads packed into one tar (the ingest job takes a tar), names stripped to their base."""
    from shopmind.api.catalog import _upload_name

    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    with tarfile.open(fileobj=spool, mode="w") as tar:
        for i, up in enumerate(files):
            up.file.seek(0)
            data = up.file.read(limit + 1)
            if len(data) > limit:
                raise BadInput(f"image {up.filename!r} is larger than {limit} bytes")
            info = tarfile.TarInfo(_upload_name(up.filename, i))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    spool.seek(0)
    return SimpleNamespace(file=spool, filename="images.tar")


@router.post("/ui/catalog/upload")
async def catalog_upload(request: Request) -> Response:
    """Queue an ingest job (the same one as `POST /jobs/ingest`), with tag (and fit) to follow it."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/jobs/ingest"), form=form)
    from shopmind.api.jobs import _prepare_ingest
    from shopmind.api.limits import app_settings

    try:
        catalog = _upload(form, "catalog")
        if catalog is None:
            raise BadInput(ctx.t("catalog.need_file"))
        images: Any = _upload(form, "images")
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        settings = app_settings(request)
        if images is not None and files:
            raise BadInput("send either an images tar or image files, not both")
        if files:
            images = await run_in_threadpool(_tar_of, files, settings.max_image_bytes)
        params = await run_in_threadpool(_prepare_ingest, catalog, images, settings)
        then = [k for k in ("tag", "fit") if form.get(f"then_{k}")]
        params["console_then"] = then
        job = await run_in_threadpool(_submit, request, "ingest", params)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    return ctx.render("_job.html", job=job, chain=[job.kind, *then])


@router.get("/ui/jobs/{job_id}")
def job_status(request: Request, job_id: str, chain: str = "") -> Response:
    """The job card (htmx polls it each second while it runs); a finished step queues the next in the chain."""
    ctx = guard(request, api_role("GET", "/jobs/x"))
    try:
        job = _jobs(request).get(job_id)
    except NotFound as exc:
        return _fail(ctx, exc)
    steps = [s for s in chain.split(",") if s in ("ingest", "tag", "fit")]
    follow = None
    if job.status == "done":
        rest = job.params.get("console_then") or []
        followed = getattr(request.app.state, "console_followed", None)
        if followed is None:
            followed = request.app.state.console_followed = set()
        if rest and job.id not in followed and ctx.can(api_role("POST", f"/jobs/{rest[0]}")):
            followed.add(job.id)  # one follow-up per job, however many tabs poll it
            params = {"ocr": False, "index": True} if rest[0] == "tag" else {"epochs": 20, "tagger_epochs": 15}
            params["console_then"] = rest[1:]
            follow = _submit(request, rest[0], params)
    return ctx.render("_job.html", job=job, follow=follow, chain=steps or [job.kind])


@router.post("/ui/jobs/{job_id}/cancel")
async def job_cancel(request: Request, job_id: str) -> Response:
    form = await request.form()
    ctx = guard(request, api_role("POST", "/jobs/x/cancel"), form=form)
    try:
        job = _jobs(request).request_cancel(job_id)
    except ShopmindError as exc:
        return _fail(ctx, exc)
    return ctx.render("_job.html", job=job, chain=[job.kind])


# ---------------------------------------------------------------- search and product
@router.get("/ui/search")
def search_page(request: Request, q: str = "") -> Response:
    ctx = guard(request, api_role("POST", "/search"))
    return ctx.render("search.html", q=q[:200], result=None)


@router.post("/ui/search")
async def search_run(request: Request) -> Response:
    """Text, photo, or both: `POST /search` or `POST /search/image`, same engine and filters."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/search"), form=form)
    from shopmind.api.limits import check_query_length
    from shopmind.catalog.images import decode_image_bytes
    from shopmind.search.hybrid import parse_filter

    settings = _app(request).settings
    try:
        query = check_query_length(_text(form, "q", settings.api_max_query_chars) or None)
        photo = _upload(form, "photo")
        data = await read_upload(photo, settings.max_image_bytes) if photo else None
        filters = [parse_filter(f) for f in form.getlist("filter") if isinstance(f, str) and f.strip()]
        if query is None and data is None:
            raise BadInput(ctx.t("search.need_input"))

        def work():
            image = decode_image_bytes(data, max_bytes=settings.max_image_bytes,
                                       max_pixels=settings.max_image_pixels).image if data else None
            from shopmind import ops
            from shopmind.api.deps import get_shopmind

            return ops.search(get_shopmind(request), query, image, filters=filters, k=24)  # the server's one engine

        result = await run_in_threadpool(work)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    return ctx.render("_hits.html", result=result)


@router.get("/ui/product/{product_id}")
def product_page(request: Request, product_id: str) -> Response:
    ctx = guard(request, api_role("GET", "/products/x"))

    store = _store(request)
    try:
        product = store.get_product(product_id)
    except NotFound as exc:
        return _fail(ctx, exc)
    tags = store.get_tags(product_id)
    similar, recs, note = None, None, None
    try:
        from shopmind.api.deps import get_shopmind

        engine = get_shopmind(request).search  # the server's one engine (BM25 stays loaded)
        similar = engine.similar(product_id, k=8)
        recs = engine.recommend([product_id], k=8)
    except ShopmindError as exc:  # not tagged yet: the page still shows the product
        note = exc.message
    return ctx.render("product.html", product=product, tags=tags, ocr=(tags.ocr_text if tags else None),
                      similar=similar, recs=recs, note=note)


# ---------------------------------------------------------------- write
def _voices(request: Request) -> list[str]:
    try:
        from shopmind.api.deps import get_shopmind
        from shopmind.api.generate import list_voices

        return [v["name"] for v in list_voices(get_shopmind(request))["voices"] if v.get("name")]
    except Exception:  # no tune registry yet: no voices to offer
        return []


@router.get("/ui/write")
def write_page(request: Request, product_id: str = "") -> Response:
    ctx = guard(request, api_role("GET", "/content/voices"))
    return ctx.render("write.html", product_id=product_id[:200], content_types=CONTENT_TYPES, langs=WRITE_LANGS,
                      voices=_voices(request), llm=_app(request).settings.llm)


@router.post("/ui/write/stream")
async def write_stream(request: Request) -> Response:
    """The same write as above, streamed: NDJSON `token` events while the first draft is generated, then one
    `html` event with the checked result (the fragment `_written.html`). Errors before the stream are HTML."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/content/title"), form=form)
    from fastapi.responses import StreamingResponse

    from shopmind.api.deps import get_shopmind
    from shopmind.api.cancel import cancel_on_close
    from shopmind.api.generate import ContentBody, _events, _request
    from shopmind.errors import BackendUnavailable
    from shopmind.generate import WriteResult
    from shopmind.ops.core import writer_llm

    sm = get_shopmind(request)

    try:
        ctype = _text(form, "content_type", 40)
        if ctype not in CONTENT_TYPES:
            raise BadInput(f"content type must be one of {', '.join(CONTENT_TYPES)}")
        body = ContentBody(product_id=_text(form, "product_id", 200) or None, persona=_text(form, "persona", 200) or None,
                           language=_text(form, "language", 8) or "zh", voice=_text(form, "voice", 64) or None,
                           category=_text(form, "category", 64) or None)
        req = _request(sm, ctype, body)
        llm = await run_in_threadpool(writer_llm, sm, body.voice)
    except BackendUnavailable as exc:
        return ctx.render("_llm_missing.html", status_code=503, message=exc.message)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    instruction = f"{ctype} ({req.language})" + (f" · {req.persona}" if req.persona else "")

    def lines():
        for event in _events(sm, req, llm, gone):
            if event["event"] == "token":
                out = event
            elif event["event"] == "result":
                result = WriteResult.model_validate({k: v for k, v in event.items() if k != "event"})
                out = {"event": "html", "html": ctx.html("_written.html", result=result, product_id=body.product_id,
                                                          marked=highlight(result.text, result.findings, ctx.lang),
                                                          instruction=instruction, content_type=ctype)}
            else:
                template = "_llm_missing.html" if event.get("code") == "backend_unavailable" else "_error.html"
                out = {"event": "html", "html": ctx.html(template, code=event.get("code"), message=event.get("message"))}
            yield json.dumps(out, ensure_ascii=False) + "\n"

    gone = threading.Event()  # set when the browser leaves: generation stops (api.cancel)
    return ctx.finish(StreamingResponse(cancel_on_close(lines(), gone), media_type="application/x-ndjson"))


@router.post("/ui/feedback")
async def feedback(request: Request) -> Response:
    """Approve (a 5-star rating) or save an edit: `POST /feedback/ratings` / `POST /feedback/edits`."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/feedback/edits"), form=form)
    from shopmind.feedback import EditIn, RatingIn, open_feedback

    from shopmind.api.deps import get_shopmind

    sm = get_shopmind(request)
    store = open_feedback(sm.settings, catalog=sm.store)
    try:
        common = dict(product_id=_text(form, "product_id", 200) or None, content_type=_text(form, "content_type", 64) or None,
                      instruction=_text(form, "instruction", 2000) or "console", operator=ctx.session.key_id or "console")
        before, after = _text(form, "before", 50_000), _text(form, "after", 50_000)
        if form.get("action") == "edit" and after != before:
            saved = store.add_edit(EditIn(before=before, after=after, **common))
            kind = "edit"
        else:
            saved = store.add_rating(RatingIn(output=before, rating=5, **common))
            kind = "rating"
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    finally:
        store.conn.close()
    return ctx.render("_saved.html", kind=kind, saved_id=saved.id)


# ---------------------------------------------------------------- check
@router.get("/ui/check")
def check_page(request: Request) -> Response:
    ctx = guard(request, api_role("POST", "/compliance/check"))
    return ctx.render("check.html", categories=CATEGORIES)


@router.post("/ui/check")
async def check_run(request: Request) -> Response:
    """`POST /compliance/check` (or `/compliance/rewrite` with `action=rewrite`)."""
    form = await request.form()
    rewrite_it = form.get("action") == "rewrite"
    ctx = guard(request, api_role("POST", "/compliance/rewrite" if rewrite_it else "/compliance/check"), form=form)
    from shopmind import ops
    from shopmind.api.deps import get_shopmind

    sm = get_shopmind(request)
    try:
        text = _text(form, "text", _app(request).settings.api_max_query_chars * 10)
        if not text:
            raise BadInput(ctx.t("check.need_text"))
        category = _text(form, "category", 64) or None
        if rewrite_it:
            fixed = await run_in_threadpool(ops.rewrite, sm, text, category=category)
            text = fixed.text
        report = await run_in_threadpool(ops.check, sm, text, category=category)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    return ctx.render("_report.html", report=report, marked=highlight(report.text, report.findings, ctx.lang),
                      category=category or "", rewritten=rewrite_it)


# ---------------------------------------------------------------- live studio
EXAMPLE_PROMOS = {"promotions": [{"kind": "platform_every", "id": "every300", "name_zh": "每满300减40",
                                  "name_en": "40 off every 300", "every": "300", "amount": "40"},
                                 {"kind": "coupon", "id": "c20", "name_zh": "满199减20", "name_en": "20 off over 199",
                                  "threshold": "199", "amount": "20"}]}


@router.get("/ui/live")
def live_page(request: Request) -> Response:
    ctx = guard(request, api_role("POST", "/live/script"))
    return ctx.render("live.html", promos=json.dumps(EXAMPLE_PROMOS, ensure_ascii=False, indent=1),
                      stream=_stream_state(request))


@router.post("/ui/live/script")
async def live_script(request: Request) -> Response:
    """`POST /live/script` with catalog ids: every price line carries its verified calculation."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/live/script"), form=form)
    from shopmind.api.live import ScriptRequest, live_script as api_live_script

    try:
        ids = [i for i in _text(form, "ids", 5000).replace(",", " ").split() if i][:200]
        promos = json.loads(_text(form, "promotions", 50_000) or "{}")
        langs = [lang for lang in ("zh", "en", "ja") if form.get(f"lang_{lang}")] or ["zh"]
        req = ScriptRequest(ids=ids, promotions=promos, languages=langs, duration_min=_num(form, "minutes") or 10,
                            host=_text(form, "host", 100) or "主播")
        out = await run_in_threadpool(api_live_script, req, _app(request))
    except json.JSONDecodeError as exc:
        return _fail(ctx, BadInput(f"promotions are not valid JSON: {exc.msg} (line {exc.lineno})"))
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    return ctx.render("_script.html", script=out.script, skipped=out.skipped, langs=langs)


@router.post("/ui/live/tts")
async def live_tts(request: Request) -> Response:
    """`POST /media/tts`: guarded lines spoken by espeak-ng, previewed in an audio element."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/media/tts"), form=form)
    from shopmind.api.media import TTSRequest, media_tts

    try:
        text = _text(form, "text", 2000)
        if not text:
            raise BadInput(ctx.t("check.need_text"))
        lang = _text(form, "lang", 4) or "zh"
        from shopmind.api.deps import get_shopmind

        out = await run_in_threadpool(media_tts, TTSRequest(lines=[{"text": text, "lang": lang}]), get_shopmind(request))
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    except (FileNotFoundError, OSError) as exc:
        return _fail(ctx, ShopmindError(f"text-to-speech is not available here: {exc}"), status_code=503)
    return ctx.render("_audio.html", wav=out.wav_base64, guard=out.guard)


_STREAM_LOCK = threading.Lock()


def _stream_state(request: Request) -> dict:
    state = getattr(request.app.state, "console_stream", None)
    if not state:
        return {"running": False}
    return {"running": state["thread"].is_alive() and not state["stop"].is_set(), "name": state["name"],
            "error": state.get("error"), "stats": state.get("stats"),
            "playlist": (_app(request).settings.home / "streams" / state["name"] / "index.m3u8").is_file()}


@router.post("/ui/live/stream")
async def live_stream(request: Request) -> Response:
    """Start (or stop) an HLS stream of catalog items into `$SHOPMIND_HOME/streams/<name>/` (served by `/streams`)."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/jobs/tag"), form=form)  # a write-level action, like starting a job
    action = form.get("action")
    with _STREAM_LOCK:
        state = getattr(request.app.state, "console_stream", None)
        if action == "stop":
            if state:
                state["stop"].set()
            return ctx.render("_stream.html", stream=_stream_state(request), stopping=True)
        if state and state["thread"].is_alive():
            return ctx.render("_stream.html", stream=_stream_state(request))
        try:
            import re

            from shopmind.live.stream import run_stream

            ids = [i for i in _text(form, "ids", 5000).replace(",", " ").split() if i][:20]
            name = _text(form, "name", 64) or "console"
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}", name):
                raise BadInput("stream name: letters, digits, _ and - only")
            store = _store(request)
            found = store.get_products(ids)
            products = [found[i] for i in ids if i in found]
            if not products:
                raise BadInput(ctx.t("live.need_items"))
            minutes = _num(form, "minutes") or 5
        except ShopmindError as exc:
            return _fail(ctx, exc)
        stop = threading.Event()
        state = {"name": name, "stop": stop}

        def run() -> None:
            try:
                stats = run_stream(products, hls_dir=_app(request).settings.home / "streams" / name, duration=minutes * 60,
                                   fps=10, size=(360, 640), lang=ctx.lang, stop=stop, hls_window=6, store=store)
                state["stats"] = stats.model_dump(mode="json")
            except Exception as exc:  # shown on the page; the server goes on
                state["error"] = str(exc) if isinstance(exc, ShopmindError) else f"{type(exc).__name__}: {exc}"

        state["thread"] = threading.Thread(target=run, name="console-stream", daemon=True)
        request.app.state.console_stream = state
        state["thread"].start()
    return ctx.render("_stream.html", stream=_stream_state(request))


@router.get("/ui/live/stream")
def live_stream_status(request: Request) -> Response:
    ctx = guard(request, api_role("GET", "/streams"))
    return ctx.render("_stream.html", stream=_stream_state(request))


# ---------------------------------------------------------------- media
@router.get("/ui/media")
def media_page(request: Request, product_id: str = "") -> Response:
    ctx = guard(request, api_role("POST", "/media/poster"))
    return ctx.render("media.html", product_id=product_id[:200])


@router.post("/ui/media/poster")
async def media_poster(request: Request) -> Response:
    form = await request.form()
    ctx = guard(request, api_role("POST", "/media/poster"), form=form)
    from shopmind.api.media import PosterRequest, media_poster as api_poster

    try:
        req = PosterRequest(product_id=_text(form, "product_id", 200), style=_text(form, "style", 16) or "minimal",
                            ratio=_text(form, "ratio", 8) or "3:4", copy="template")
        from shopmind.api.deps import get_shopmind

        out = await run_in_threadpool(api_poster, req, get_shopmind(request))
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    return ctx.render("_poster.html", png=out.image_png_base64, result=out.result, product_id=req.product_id)


@router.post("/ui/media/video")
async def media_video(request: Request) -> Response:
    """The same render as `shopmind video`: guarded narration, subtitles, shots; shown inline and downloadable."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/media/poster"), form=form)
    from shopmind import ops
    from shopmind.api.deps import get_shopmind
    from shopmind.ops.core import product_with_image

    try:
        product_id = _text(form, "product_id", 200)
        seconds = _num(form, "seconds") or 6
        sm = get_shopmind(request)
        product_with_image(sm, product_id)  # NotFound / NotReady before the worker starts

        def work() -> tuple[bytes, Any]:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "video.mp4"
                got = ops.video(sm, product_id, out, fmt="square", seconds=seconds, fps=12, copy="template")
                return out.read_bytes(), got["result"]

        data, result = await run_in_threadpool(work)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    except (FileNotFoundError, OSError, RuntimeError) as exc:
        return _fail(ctx, ShopmindError(f"video rendering is not available here: {exc}"), status_code=503)
    if len(data) > 40 << 20:
        return _fail(ctx, BadInput("the video is larger than 40 MB; choose fewer seconds"))
    return ctx.render("_video.html", mp4=base64.b64encode(data).decode("ascii"), result=result, product_id=product_id)


@router.post("/ui/media/redact")
async def media_redact(request: Request) -> Response:
    """`POST /media/redact`: the before/after slider with each blurred box and its label."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/media/redact"), form=form)
    from shopmind import ops
    from shopmind.api.deps import get_shopmind
    from shopmind.catalog.images import decode_image_bytes

    settings = _app(request).settings
    try:
        photo = _upload(form, "photo")
        if photo is None:
            raise BadInput(ctx.t("media.need_photo"))
        data = await read_upload(photo, settings.max_image_bytes)

        def work():
            decoded = decode_image_bytes(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
            buf = io.BytesIO()
            decoded.image.convert("RGB").save(buf, "PNG")
            png, report = ops.redact(get_shopmind(request), data, faces=bool(form.get("faces")), text=bool(form.get("text")))
            return buf.getvalue(), png, report

        before, after, report = await run_in_threadpool(work)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    return ctx.render("_redact.html", before=base64.b64encode(before).decode("ascii"),
                      after=base64.b64encode(after).decode("ascii"), report=report)


# ---------------------------------------------------------------- experiments
def _experiments():
    from shopmind.experiments.store import open_experiments

    return open_experiments()


@router.get("/ui/experiments")
def experiments_page(request: Request) -> Response:
    ctx = guard(request, api_role("GET", "/ab/experiments"))
    store = _experiments()
    try:
        items = store.list()
    finally:
        store.conn.close()
    return ctx.render("experiments.html", items=items, content_types=CONTENT_TYPES)


@router.post("/ui/experiments")
async def experiments_create(request: Request) -> Response:
    """`POST /ab/experiments` with two copy variants (A is the control)."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/ab/experiments"), form=form)
    from shopmind.experiments.models import ExperimentSpec

    store = _experiments()
    try:
        a, b = _text(form, "variant_a", 2000), _text(form, "variant_b", 2000)
        if not a or not b:
            raise BadInput(ctx.t("exp.need_variants"))
        ctype = _text(form, "content_type", 64) or "title"
        spec = ExperimentSpec(name=_text(form, "name", 200), product_id=_text(form, "product_id", 200) or "-",
                              content_type=ctype, metric="ctr",
                              variants=[{"key": "A", "payload": {ctype: a}, "control": True}, {"key": "B", "payload": {ctype: b}}])
        exp = store.create(spec)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    finally:
        store.conn.close()
    response = Response(status_code=204, headers={"HX-Redirect": f"/ui/experiments/{exp.id}"})
    return ctx.finish(response)


def _cumulative(store, exp, metric_event: str, buckets: int = 24) -> dict[str, list[tuple[float, float]]]:
    """Cumulative conversion per arm over event time: units converted so far / units exposed so far."""
    rows = store.conn.execute("SELECT variant, unit_id, type, ts FROM ab_events WHERE experiment_id = ? AND type IN (?, ?) "
                              "ORDER BY ts, seq", (exp.id, "impression", metric_event)).fetchall()
    if not rows:
        return {}
    from datetime import datetime

    def stamp(ts: str) -> float:
        try:
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0

    t0, t1 = stamp(rows[0][3]), stamp(rows[-1][3])
    span = max(t1 - t0, 1e-9)
    seen: dict[str, set] = {v.key: set() for v in exp.variants}
    conv: dict[str, set] = {v.key: set() for v in exp.variants}
    series: dict[str, list[tuple[float, float]]] = {v.key: [] for v in exp.variants}
    edge = 1
    for variant, unit, typ, ts in rows:
        x = (stamp(ts) - t0) / span * buckets
        while x >= edge and edge <= buckets:
            for k in series:
                if seen[k]:
                    series[k].append((edge * span / buckets / 3600, len(conv[k]) / len(seen[k])))
            edge += 1
        (seen if typ == "impression" else conv).setdefault(variant, set()).add(unit)
    for k in series:
        if seen[k]:
            series[k].append((span / 3600, len(conv[k] & seen[k]) / len(seen[k])))
    return {k: v for k, v in series.items() if v}


@router.get("/ui/experiments/{experiment_id}")
def experiment_page(request: Request, experiment_id: str) -> Response:
    """The dashboard: `GET /ab/experiments/{id}/analysis` plus the cumulative plot and the promote button."""
    ctx = guard(request, api_role("GET", "/ab/experiments/x/analysis"))
    from shopmind.experiments import analysis as ab
    from shopmind.experiments.models import METRIC_EVENT

    store = _experiments()
    try:
        exp = store.get(experiment_id)
        result = ab.analyze(store, experiment_id)
        cumulative = _cumulative(store, exp, METRIC_EVENT.get(result.metric, "click"))
    except ShopmindError as exc:
        return _fail(ctx, exc)
    finally:
        store.conn.close()
    intervals = []
    control = next(a for a in result.arms if a.control)
    for arm in result.arms:
        comp = next((c for c in result.comparisons if c.variant == arm.variant), None)
        if comp is None:
            intervals.append((f"{arm.variant} ({ctx.t('exp.control')})", arm.value, arm.value, arm.value))
        else:
            intervals.append((arm.variant, arm.value, control.value + comp.abs_ci[0], control.value + comp.abs_ci[1]))
    return ctx.render("experiment.html", exp=exp, a=result, ci_svg=interval_chart(intervals),
                      cum_svg=line_chart(cumulative, y_label=ctx.t("exp.cumulative"), x_label=ctx.t("exp.hours")))


@router.post("/ui/experiments/{experiment_id}/promote")
async def experiment_promote(request: Request, experiment_id: str) -> Response:
    """`POST /ab/experiments/{id}/stop`: promote the winner (or a named arm, with force) to active content."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/ab/experiments/x/stop"), form=form)
    from shopmind.experiments import analysis as ab

    store = _experiments()
    try:
        out = ab.stop(store, experiment_id, variant=_text(form, "variant", 64) or None, force=bool(form.get("force")))
    except ShopmindError as exc:
        return _fail(ctx, exc)
    finally:
        store.conn.close()
    return ctx.render("_promoted.html", out=out)


# ---------------------------------------------------------------- service
@router.get("/ui/service")
def service_page(request: Request, product_id: str = "") -> Response:
    ctx = guard(request, api_role("POST", "/service/tickets"))
    return ctx.render("service.html", product_id=product_id[:200])


@router.post("/ui/service/triage")
async def service_triage(request: Request) -> Response:
    """`POST /service/tickets`: triage the message (+ photo) and open a ticket."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/service/tickets"), form=form)
    from shopmind import ops
    from shopmind.api.deps import get_shopmind

    sm = get_shopmind(request)
    try:
        message = _text(form, "message", 5000)
        if not message:
            raise BadInput("message is empty")
        photo = _upload(form, "photo")
        data = await read_upload(photo, _app(request).settings.max_image_bytes) if photo else None
        _, ticket = await run_in_threadpool(lambda: ops.triage(sm, message, image_bytes=data, order=_text(form, "order", 100) or None,
                                                               run_ocr=bool(data), actor="console"))
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    tri = ticket.triage
    return ctx.render("_ticket.html", ticket=ticket, tri=tri, reply=ctx.t(f"reply.{tri.issue_type}"))


@router.post("/ui/service/ask")
async def service_ask(request: Request) -> Response:
    """`POST /service/ask`: an answer from the product's facts only, each fact cited."""
    form = await request.form()
    ctx = guard(request, api_role("POST", "/service/ask"), form=form)
    from shopmind import ops
    from shopmind.api.deps import get_shopmind

    try:
        pid, question = _text(form, "product_id", 200), _text(form, "question", 500)
        answer = await run_in_threadpool(ops.ask, get_shopmind(request), pid, question,
                                         use_llm=False if form.get("no_llm") else None)
    except (ShopmindError, ValidationError) as exc:
        return _fail(ctx, exc)
    return ctx.render("_answer.html", ans=answer)


# ---------------------------------------------------------------- settings and keys
def _status(request: Request) -> list[tuple[str, str, bool]]:
    """What is configured and whether it is there: (name, detail, ok)."""
    import importlib.util
    import shutil

    s = _app(request).settings
    out = [("home", str(s.home), s.home.is_dir()),
           ("image encoder", s.image_encoder, True), ("text encoder", s.text_encoder, True), ("OCR", s.ocr, True),
           ("LLM backend", s.llm + (f" · {s.llm_base_url}" if s.llm_base_url else ""),
            s.llm != "llama-cpp" or importlib.util.find_spec("llama_cpp") is not None),
           ("models dir", str(s.models_dir), s.models_dir.is_dir()),
           ("espeak-ng (TTS)", shutil.which("espeak-ng") or "—", shutil.which("espeak-ng") is not None),
           ("ffmpeg (video, stream)", "imageio-ffmpeg / system", importlib.util.find_spec("imageio_ffmpeg") is not None
            or shutil.which("ffmpeg") is not None)]
    try:
        out.append(("products", str(_store(request).count_products()), True))
    except Exception as exc:  # a broken store is a status to show, not a crash
        out.append(("products", str(exc), False))
    return out


@router.get("/ui/settings")
def settings_page(request: Request) -> Response:
    ctx = guard(request, api_role("GET", "/keys"))
    return ctx.render("settings.html", checks=_status(request), keys=sessions(request).keys.list(), created=None)


@router.post("/ui/settings/keys")
async def keys_create(request: Request) -> Response:
    form = await request.form()
    ctx = guard(request, api_role("POST", "/keys"), form=form)
    from shopmind.security.keys import ROLES

    keys = sessions(request).keys
    try:
        role = _text(form, "role", 10)
        if role not in ROLES:
            raise BadInput(f"role must be one of {', '.join(ROLES)}")
        if not keys.auth_enabled():
            raise BadInput(ctx.t("settings.first_key"))
        created = keys.create(role, _text(form, "name", 200))
    except ShopmindError as exc:
        return _fail(ctx, exc)
    return ctx.render("_keys.html", keys=keys.list(), created=created)


@router.post("/ui/settings/keys/{key_id}/revoke")
async def keys_revoke(request: Request, key_id: str) -> Response:
    form = await request.form()
    ctx = guard(request, api_role("POST", "/keys/x/revoke"), form=form)
    keys = sessions(request).keys
    try:
        keys.revoke(key_id)
    except ShopmindError as exc:
        return _fail(ctx, exc)
    return ctx.render("_keys.html", keys=keys.list(), created=None)
