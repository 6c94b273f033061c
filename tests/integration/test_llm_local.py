"""The real bundled model on llama.cpp: stream, complete, a title through the full loop, and the
OpenAI-compatible client against llama-cpp-python's own OpenAI-compatible server serving it.

Skips cleanly when llama-cpp-python (or its [server] extra) or the model part packages are not installed.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python not installed")
    from shopmind.config import load_settings
    from shopmind.errors import BackendUnavailable
    from shopmind.models.llm import LlamaCppLLM

    models = os.environ.get("SHOPMIND_MODELS_PATH") or str(Path(__file__).resolve().parents[2] / ".shopmind" / "test-models")
    settings = load_settings(models_path=models)
    try:
        return LlamaCppLLM(settings=settings)
    except BackendUnavailable as exc:
        pytest.skip(f"bundled model not available: {exc.message}")


MSGS = [{"role": "user", "content": "用一句话介绍白色牛仔外套。"}]


def test_complete_and_stream_produce_text(llm):
    text = llm.complete(MSGS, max_tokens=24, temperature=0.0, seed=0)
    assert len(text.strip()) > 0
    assert llm.last_usage["completion_tokens"] > 0 and llm.last_usage["tokens_per_s"] > 0
    pieces = list(llm.stream(MSGS, max_tokens=12, temperature=0.0, seed=0))
    assert len(pieces) > 1 and llm.last_usage["time_to_first_token_s"] is not None


def test_json_mode_returns_parseable_json(llm):
    from shopmind.generate.jsonfix import extract_json

    out = llm.complete([{"role": "user", "content": '给白色牛仔外套写标题，输出 {"title": "..."}'}],
                       max_tokens=48, temperature=0.0, json_mode=True)
    assert isinstance(extract_json(out), dict)


def test_min_chars_keeps_the_json_value_open_until_the_floor(llm):
    """`min_chars` masks every quote-bearing token until the value is that long: the real model
    has to keep writing past its own stop, and the answer is still one valid JSON object, streamed
    or not. (Without a repeat penalty, greedy decoding held past its stop loops a phrase: the
    reason only length-trained voices get a floor in `write`.)"""
    from shopmind.generate.jsonfix import extract_json

    msgs = [{"role": "user", "content": '为白色牛仔外套写一句商品描述，输出 {"description": "..."}'}]
    opts = {"max_tokens": 160, "temperature": 0.0, "json_mode": True, "repeat_penalty": 1.15}
    free = extract_json(llm.complete(msgs, **opts))["description"]
    floor = len(free) + 20
    held = extract_json(llm.complete(msgs, **opts, min_chars=floor))["description"]
    streamed = extract_json("".join(llm.stream(msgs, **opts, min_chars=floor)))["description"]
    assert len(held) >= floor and len(streamed) >= floor and held.startswith(free[:4])


def test_title_through_the_loop_has_no_violations(llm):
    from shopmind.generate import WriteRequest, write

    result = write(WriteRequest(content_type="title", attributes="类型#上衣*材质#牛仔布*颜色#白色*图案#刺绣*衣样式#外套",
                                max_rounds=1), llm)
    assert result.passed
    assert not [f for f in result.findings + result.fact_issues if f.severity == "violation"]
    assert result.content["title"].strip()


@pytest.fixture(scope="module")
def server_url():
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama-cpp-python[server] not installed")
    from shopmind.config import load_settings
    from shopmind.errors import BackendUnavailable
    from shopmind.models.gguf_parts import ensure_model

    models = os.environ.get("SHOPMIND_MODELS_PATH") or str(Path(__file__).resolve().parents[2] / ".shopmind" / "test-models")
    try:
        path = ensure_model(load_settings(models_path=models).models_dir)
    except BackendUnavailable as exc:
        pytest.skip(f"bundled model not available: {exc.message}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--model_alias", "bundled"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.skip("llama_cpp.server did not start")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_openai_backend_against_llama_cpp_server(server_url):
    from shopmind.generate import WriteRequest, write
    from shopmind.models.llm import OpenAICompatLLM

    llm = OpenAICompatLLM(base_url=server_url, model="bundled", api_key="local")
    msgs = [{"role": "user", "content": "用一句话介绍白色牛仔外套。"}]
    assert llm.complete(msgs, max_tokens=16, temperature=0.0).strip()
    assert llm.last_usage["completion_tokens"] > 0
    pieces = list(llm.stream(msgs, max_tokens=12, temperature=0.0))
    assert len(pieces) > 1
    result = write(WriteRequest(content_type="title", attributes="类型#上衣*材质#牛仔布*颜色#白色*衣样式#外套",
                                max_rounds=1), llm)
    assert result.passed and result.content["title"].strip()
