"""The OpenAI-compatible client against a real local HTTP server that speaks the API's two response
shapes (JSON and SSE). The server's replies are scripted, so these tests check our client code
(retries, streaming, errors), not a model. Other generate tests import `FakeOpenAI`
(and `serving_as_llm`) from here.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.llm import OpenAICompatLLM


class FakeOpenAI:
    """A uvicorn server in a thread; `replies` is a queue of texts, `statuses` of errors to send first."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.statuses: list[int] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            if self.statuses:
                status = self.statuses.pop(0)
                return JSONResponse({"error": {"message": f"scripted {status}"}}, status_code=status)
            text = self.replies.pop(0) if self.replies else '{"title": "默认标题"}'
            if body.get("stream"):
                return StreamingResponse(self._sse(text), media_type="text/event-stream")
            return {"id": "x", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": len(text), "total_tokens": 10 + len(text)}}

        self.app = app
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @staticmethod
    def _sse(text: str) -> Iterator[str]:
        yield ": keep-alive\n\n"
        for i in range(0, len(text), 3):
            chunk = {"choices": [{"index": 0, "delta": {"content": text[i:i + 3]}}]}
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@contextmanager
def serving_as_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A FakeOpenAI configured as shopmind's LLM (SHOPMIND_LLM=openai at its URL), for the CLI/API tests."""
    from shopmind.config import get_settings

    with FakeOpenAI() as server:
        monkeypatch.setenv("SHOPMIND_LLM", "openai")
        monkeypatch.setenv("SHOPMIND_LLM_BASE_URL", server.base_url)
        get_settings.cache_clear()
        yield server


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def _client(fake: FakeOpenAI, **kw) -> OpenAICompatLLM:
    return OpenAICompatLLM(base_url=fake.base_url, api_key="sk-test", model="m1", backoff_s=0.01, **kw)


MSGS = [{"role": "user", "content": "写标题"}]


def test_complete_sends_openai_body_and_bearer(fake):
    fake.replies = ['{"title": "白色牛仔外套"}']
    llm = _client(fake)
    out = llm.complete(MSGS, max_tokens=32, temperature=0.0, seed=7, stop=["\n\n"], json_mode=True)
    assert out == '{"title": "白色牛仔外套"}'
    body = fake.requests[0]
    assert body["model"] == "m1" and body["max_tokens"] == 32 and body["seed"] == 7 and body["stop"] == ["\n\n"]
    assert body["response_format"] == {"type": "json_object"} and body["stream"] is False
    assert fake.headers[0]["authorization"] == "Bearer sk-test"
    assert llm.last_usage["completion_tokens"] == len(out)
    assert llm.name == "openai:m1"


def test_stream_yields_pieces_and_skips_comments(fake):
    fake.replies = ["简约而不简单的牛仔外套"]
    pieces = list(_client(fake).stream(MSGS))
    assert len(pieces) > 1 and "".join(pieces) == "简约而不简单的牛仔外套"
    assert fake.requests[0]["stream"] is True


def test_retries_on_429_and_5xx_then_succeeds(fake):
    fake.statuses = [429, 503]
    fake.replies = ["ok"]
    assert _client(fake).complete(MSGS) == "ok"
    assert len(fake.requests) == 3


def test_gives_up_after_retries_with_clear_error(fake):
    fake.statuses = [500, 500, 500]
    with pytest.raises(BackendUnavailable, match="HTTP 500.*after 3 tries"):
        _client(fake, max_retries=2).complete(MSGS)


def test_client_error_is_not_retried(fake):
    fake.statuses = [401]
    with pytest.raises(BackendUnavailable, match="401"):
        _client(fake).complete(MSGS)
    assert len(fake.requests) == 1


def test_unreachable_endpoint_is_backend_unavailable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    llm = OpenAICompatLLM(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.01)
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        llm.complete(MSGS)


def test_bad_messages_and_missing_url():
    with pytest.raises(BackendUnavailable, match="base URL"):
        OpenAICompatLLM()
    llm = OpenAICompatLLM(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(BadInput):
        llm.complete([{"role": "wizard", "content": "x"}])
    with pytest.raises(BadInput):
        llm.complete([])


def test_get_llm_selects_openai_from_settings(fake, home, monkeypatch):
    from shopmind.config import get_settings
    from shopmind.models.llm import get_llm

    monkeypatch.setenv("SHOPMIND_LLM", "openai")
    monkeypatch.setenv("SHOPMIND_LLM_BASE_URL", fake.base_url)
    monkeypatch.setenv("SHOPMIND_LLM_MODEL", "served-model")
    get_settings.cache_clear()
    llm = get_llm(get_settings())
    assert llm.name == "openai:served-model"
    fake.replies = ["hi"]
    assert llm.complete(MSGS) == "hi"
