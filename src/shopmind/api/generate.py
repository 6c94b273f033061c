"""Content routes: `POST /content/{type}` writes grounded, checked copy; `?stream=ndjson|sse` streams it.

Streaming sends the first draft's pieces as they are generated (`{"event": "token", "text": …,
"checked": false}`), then the checked final result (`{"event": "result", …}`) — or `{"event": "error", …}`.
Token events preview the unchecked draft and must never be published: only the result event has
passed the 广告法/fact guard.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shopmind import ops
from shopmind.api.cancel import cancel_on_close, run_until_disconnect
from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.errors import Cancelled, ShopmindError
from shopmind.generate import WriteRequest, WriteResult
from shopmind.ops.core import write_request, writer_llm

router = APIRouter(prefix="/content", tags=["content"], responses=ERROR_RESPONSES)


class ContentBody(BaseModel):
    """Which product (catalog id or attribute string) and how to write about it."""

    product_id: str | None = Field(None, description="Catalog product id.")
    attributes: str | None = Field(None, description="Attribute string, e.g. 类型#上衣*材质#牛仔布*颜色#白色.")
    selling_points: list[str] = Field(default_factory=list)
    brand_voice: str | None = Field(None, max_length=500)
    voice: str | None = Field(None, max_length=64, description="Registered adapter (brand voice) to write with; see GET /content/voices.")
    persona: str | None = Field(None, max_length=200, description="Audience for ad_copy, e.g. 年轻女性/运动爱好者.")
    language: str = Field("zh", description="en, zh, ja, ko, fr, de, es, it, pt or ru.")
    price: float | None = Field(None, ge=0)
    category: str | None = None
    max_rounds: int = Field(2, ge=0, le=5)
    seed: int | None = None
    temperature: float = Field(0.2, ge=0, le=2)
    length: int | None = Field(None, ge=10, le=2000, description="description only: about this many characters "
                               "(default 80-150, or a length-trained voice's typical length).")


def _request(sm: Shopmind, content_type: str, body: ContentBody) -> WriteRequest:
    return write_request(sm, content_type, **body.model_dump(exclude={"voice"}))


@router.get("/voices")
def list_voices(sm: Shopmind = Depends(get_shopmind)) -> dict:
    """Registered brand voices (adapters) a write request can name as `voice`; switching needs no restart."""
    from shopmind.tune.registry import AdapterRegistry

    items = AdapterRegistry(sm.settings.home).list()
    return {"voices": [{k: a.get(k) for k in ("name", "method", "base_model", "created", "metrics")} for a in items]}


def _events(sm: Shopmind, req: WriteRequest, llm, gone: threading.Event | None = None) -> Iterator[dict]:
    """Run the loop in a worker thread; yield token events as they arrive, then the result or an error.

    When the client disconnects, the server closes this generator; the `finally` below sets the
    cancel event, so the next token raises `Cancelled` in the worker and the LLM stream is closed
    instead of writing for nobody.
    """
    q: queue.Queue = queue.Queue()
    done = object()
    gone = gone or threading.Event()

    def on_token(piece: str) -> None:
        q.put({"event": "token", "text": piece, "checked": False})

    def work() -> None:
        try:
            result = ops.write(sm, req, llm=llm, on_token=on_token, cancel=gone)
            q.put({"event": "result", **result.model_dump(mode="json")})
        except Cancelled:
            pass  # nobody is listening any more
        except ShopmindError as exc:
            q.put({"event": "error", "code": exc.code, "message": exc.message})
        except Exception as exc:  # the stream must end with an event, never hang the client
            q.put({"event": "error", "code": "error", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            q.put(done)

    threading.Thread(target=work, daemon=True).start()
    try:
        while (item := q.get()) is not done:
            yield item
    finally:
        gone.set()


@router.post("/{content_type}", response_model=WriteResult)
async def write_content(request: Request, body: ContentBody,
                        content_type: str = PathParam(..., max_length=40, examples=["title"],
                                                      description="title, selling_points, description, ad_copy, "
                                                                  "seo_keywords, product_page, or a registered type (unknown: 422)"),
                        stream: Literal["none", "ndjson", "sse"] = Query("none", description="Stream as NDJSON or server-sent events."),
                        sm: Shopmind = Depends(get_shopmind)):
    """Write `content_type` (title, selling_points, description, ad_copy, seo_keywords, product_page)
    grounded in the product facts; the result carries remaining findings, fact issues and the audit trail.

    Generation stops when the client disconnects (see `api.cancel`)."""
    req, llm = await run_in_threadpool(lambda: (_request(sm, content_type, body), writer_llm(sm, body.voice)))
    if stream == "none":
        return await run_until_disconnect(request, ops.write, sm, req, llm=llm)
    gone = threading.Event()
    events = _events(sm, req, llm, gone)
    if stream == "ndjson":
        lines = (json.dumps(e, ensure_ascii=False) + "\n" for e in events)
        return StreamingResponse(cancel_on_close(lines, gone), media_type="application/x-ndjson")
    frames = (f"event: {e['event']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events)
    return StreamingResponse(cancel_on_close(frames, gone), media_type="text/event-stream")
