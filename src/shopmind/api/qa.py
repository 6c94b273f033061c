"""`POST /service/ask`: grounded product Q&A, as one JSON answer or a stream of NDJSON events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shopmind.api.cancel import cancel_on_close, run_until_disconnect
from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.service.qa import QAAnswer

router = APIRouter(prefix="/service", tags=["service"])


class AskRequest(BaseModel):
    product_id: str = Field(..., description="Catalog product id.")
    question: str = Field(..., description="The shopper's question, zh or en (≤ 500 characters).")
    llm: bool | None = Field(None, description="Let the LLM phrase the answer; null = when available.")
    stream: bool = Field(False, description="Stream NDJSON events: facts, delta…, answer.")


def _ndjson(events: Iterator[dict]) -> Iterator[bytes]:
    for event in events:
        yield (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")


@router.post("/ask", response_model=QAAnswer, responses={**ERROR_RESPONSES, 200: {
    "content": {"application/x-ndjson": {}}, "description": "The answer (or NDJSON events when stream=true)"}})
async def ask_endpoint(request: Request, body: AskRequest, sm: Shopmind = Depends(get_shopmind)):
    """Answer from the product's facts only, citing them; refuse when they do not cover the question.
    The LLM stops when the client disconnects (see `api.cancel`)."""
    from shopmind import ops

    if body.stream:
        gone = threading.Event()
        events = ops.ask(sm, body.product_id, body.question, use_llm=body.llm, stream=True, cancel=gone)
        first = await run_in_threadpool(next, events)  # validation and NotFound raise here, before the 200 is sent

        def chained() -> Iterator[dict]:
            yield first
            yield from events

        return StreamingResponse(cancel_on_close(_ndjson(chained()), gone), media_type="application/x-ndjson")
    return await run_until_disconnect(request, ops.ask, sm, body.product_id, body.question, use_llm=body.llm)
