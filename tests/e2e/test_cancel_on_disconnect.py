"""A request is cancelled when its client disconnects (issue 12), against a real `shopmind serve`.

The server's LLM is a slow OpenAI-compatible endpoint at the HTTP level (a uvicorn app in this
process, streaming one token every 20 ms for ~12 s). No shopmind code is faked. A client sends a
write (or Q&A) request to the real server, waits until tokens are flowing, then hangs up. The
fake endpoint must then see its stream closed long before it would have finished, and no
further LLM call may follow. A server that kept generating for nobody fails here: the stream
would run to its end.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from tests.e2e.live_server import LiveServer, cli, free_port, server_env

pytestmark = pytest.mark.slow

TOKENS = 600  # at 20 ms each: 12 s if nobody stops it
TOKEN_S = 0.02


class SlowLLM:
    """An OpenAI-compatible chat endpoint that streams slowly and records how each stream ended."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.sent = 0
        self.finished = threading.Event()  # a stream ran to its end
        self.closed = threading.Event()  # a stream was closed by the client before its end
        self.sent_at_close = -1
        self.closed_at = 0.0  # time.monotonic() when the client closed the stream
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.requests.append(body)
            if not body.get("stream"):
                await asyncio.sleep(TOKENS * TOKEN_S)
                return {"choices": [{"index": 0, "message": {"role": "assistant", "content": '{"title": "x"}'}}]}
            return StreamingResponse(self._sse(), media_type="text/event-stream")

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def _sse(self) -> AsyncIterator[str]:
        done = False
        try:
            yield 'data: {"choices": [{"index": 0, "delta": {"content": "{\\"title\\": \\""}}]}\n\n'
            for _ in range(TOKENS):
                await asyncio.sleep(TOKEN_S)
                self.sent += 1
                yield 'data: {"choices": [{"index": 0, "delta": {"content": "好"}}]}\n\n'
            yield 'data: {"choices": [{"index": 0, "delta": {"content": "\\"}"}}]}\n\n'
            yield "data: [DONE]\n\n"
            done = True
            self.finished.set()
        finally:
            if not done:
                self.sent_at_close, self.closed_at = self.sent, time.monotonic()
                self.closed.set()

    def reset(self) -> None:
        self.requests.clear()
        self.sent, self.sent_at_close = 0, -1
        self.finished.clear()
        self.closed.clear()

    def __enter__(self) -> SlowLLM:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            assert time.time() < deadline, "slow LLM did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("cancel")
    with SlowLLM() as llm:
        env = server_env(root / "home", SHOPMIND_LLM="openai", SHOPMIND_LLM_BASE_URL=f"http://127.0.0.1:{llm.port}/v1")
        catalog = root / "catalog.csv"
        catalog.write_text("id,title,price,category,材质\nQ1,白色棉质T恤,99,T-shirts,棉\n", encoding="utf-8")
        cli(env, "ingest", str(catalog), "--json")
        server = LiveServer(env).start()
        try:
            yield server, llm
        finally:
            server.stop()


def _hang_up_after_tokens(server: LiveServer, llm: SlowLLM, path: str, body: dict, tokens: int = 10) -> tuple[float, int]:
    """POST `body` on a raw socket, wait until the LLM has streamed `tokens`, then close the socket.
    Returns (time.monotonic() at the hang-up, tokens streamed by then)."""
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode("ascii")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(head + payload)
        deadline = time.time() + 120  # the first request also loads the compliance rules
        while llm.sent < tokens:
            assert not llm.finished.is_set(), "the LLM stream ended before the client hung up"
            assert time.time() < deadline, f"the LLM never streamed (server log: {server.output()[-1500:]})"
            time.sleep(0.02)
    finally:
        sock.close()
    return time.monotonic(), llm.sent


def _assert_generation_stopped(llm: SlowLLM) -> None:
    t_closed = time.time()
    assert llm.closed.wait(5), f"the server kept generating after the client left ({llm.sent} tokens so far)"
    assert 0 < llm.sent_at_close < TOKENS // 2  # stopped within seconds, long before the stream's end
    took = time.time() - t_closed
    assert took < 5
    calls = len(llm.requests)
    time.sleep(1.0)
    assert len(llm.requests) == calls == 1  # no rewrite round or retry followed for nobody
    assert not llm.finished.is_set()


@pytest.mark.parametrize("stream", ["none", "ndjson"])
def test_write_stops_when_the_client_disconnects(served, stream):
    server, llm = served
    llm.reset()
    _hang_up_after_tokens(server, llm, f"/content/title?stream={stream}",
                          {"attributes": "类型#上衣*颜色#白色*材质#棉", "max_rounds": 2})
    _assert_generation_stopped(llm)


def test_service_ask_stops_when_the_client_disconnects(served):
    server, llm = served
    llm.reset()
    _hang_up_after_tokens(server, llm, "/service/ask", {"product_id": "Q1", "question": "这件T恤是什么材质的？", "llm": True})
    _assert_generation_stopped(llm)
