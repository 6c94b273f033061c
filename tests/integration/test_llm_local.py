"""The real bundled model on llama.cpp: stream, complete, and a title through the full loop.

Skips cleanly when llama-cpp-python or the model part packages are not installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

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


def test_title_through_the_loop_has_no_violations(llm):
    from shopmind.generate import WriteRequest, write

    result = write(WriteRequest(content_type="title", attributes="类型#上衣*材质#牛仔布*颜色#白色*图案#刺绣*衣样式#外套",
                                max_rounds=1), llm)
    assert result.passed
    assert not [f for f in result.findings + result.fact_issues if f.severity == "violation"]
    assert result.content["title"].strip()
