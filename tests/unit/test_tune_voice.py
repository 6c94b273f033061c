"""Brand voices at serving time: `write --voice`, `eval copy --voice` (issue-10 keys), the API's
`voice` field and /content/voices, with the OpenAI-compatible backend (adapter name = model, as vLLM
serves LoRA) against a local fake server, and typed errors for unknown or unservable voices."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopmind.errors import BadInput, NotFound
from shopmind.tune.registry import AdapterRegistry
from tests.unit.cli_app import area_app
from tests.unit.test_generate_llm_openai import serving_as_llm

DENIM = "类型#上衣*材质#牛仔布*颜色#白色*风格#简约*图案#刺绣*衣样式#外套"
GOOD = '{"description": "简约的白色牛仔外套，后背刺绣精致，日常通勤很百搭。"}'


def _register(home, name, **meta):
    """A registry entry as `tune run` writes it (the record only; no weights are needed here)."""
    reg = AdapterRegistry(home)
    reg.save_meta(name, {"name": name, "method": "lora", "task": "text", "base_model": "tiny", "parent": None,
                         "created": "2026-01-01T00:00:00+00:00", "metrics": {"steps": 3}, "base_gguf": None} | meta)


@pytest.fixture
def fake(home, monkeypatch):
    with serving_as_llm(monkeypatch) as server:
        yield server


def _cli():
    from shopmind.cli.generate import register

    return area_app(register)


def test_write_with_a_voice_sends_the_adapter_as_the_model(fake):
    fake.replies = [GOOD]
    res = CliRunner().invoke(_cli(), ["write", "description", "--attributes", DENIM, "--voice", "denim-brand", "--json"])
    assert res.exit_code == 0, res.output
    assert fake.requests[0]["model"] == "denim-brand"
    assert json.loads(res.stdout)["llm"] == "openai:denim-brand"


def test_eval_copy_prints_the_issue_keys_and_the_adapter(fake, tmp_path):
    data = tmp_path / "dev.jsonl"
    data.write_text(json.dumps({"id": 1, "content": DENIM, "summary": "简约的白色牛仔外套，后背刺绣精致。"},
                               ensure_ascii=False), encoding="utf-8")
    fake.replies = [GOOD]
    res = CliRunner().invoke(_cli(), ["eval", "copy", "--data", str(data), "--voice", "denim-brand", "--limit", "1",
                                      "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("bleu4", "rouge1", "rouge2", "rougeL", "fact_contradiction_rate", "compliance_pass_rate_before",
                "compliance_pass_rate_after", "n", "tokens_per_s", "mean_latency_s", "adapter"):
        assert key in report, key
    assert report["adapter"] == "denim-brand" and report["n"] == 1
    assert report["bleu4"] == report["bleu_4"] > 0 and report["rougeL"] == report["rouge_l"]
    assert report["compliance_pass_rate_after"] == report["compliance_pass_rate_final"] == 1.0
    assert fake.requests[0]["model"] == "denim-brand"


def test_a_voice_is_served_the_exact_prompt_it_was_trained_on(fake, home):
    """A compact-style adapter gets the compact prompt, an older (full-prompt) one the full write
    prompt: each exactly the messages its training examples were built from."""
    from shopmind.tune.datasets import _advertisegen_messages

    _register(home, "compact-voice", config={"prompt_style": "compact"})
    _register(home, "full-voice", config={"prompt_style": "shopmind"})
    fake.replies = [GOOD, GOOD, GOOD]
    for voice in ("compact-voice", "full-voice", "unregistered-on-this-host"):
        res = CliRunner().invoke(_cli(), ["write", "description", "--attributes", DENIM, "--voice", voice, "--json"])
        assert res.exit_code == 0, res.output
    sent = [r["messages"] for r in fake.requests]
    assert sent[0] == _advertisegen_messages(DENIM, "-", "compact")[:-1]
    assert sent[1] == sent[2] == _advertisegen_messages(DENIM, "-", "shopmind")[:-1]
    compact, full = (sum(len(m["content"]) for m in msgs) for msgs in sent[:2])
    assert compact < full / 3


def test_a_length_hinted_voice_asks_for_its_typical_length_unless_the_request_says(fake, home):
    _register(home, "hinted", config={"prompt_style": "compact", "length_hint": True}, typical_chars=110)
    _register(home, "unhinted", config={"prompt_style": "compact"}, typical_chars=110)
    fake.replies = [GOOD, GOOD, GOOD, GOOD]
    for args in (["--voice", "hinted"], ["--voice", "hinted", "--length", "60"], ["--voice", "unhinted"],
                 ["--length", "60"]):
        res = CliRunner().invoke(_cli(), ["write", "description", "--attributes", DENIM, "--json", *args])
        assert res.exit_code == 0, res.output
    users = [r["messages"][-1]["content"] for r in fake.requests]
    assert "写一段约110字的商品描述" in users[0] and "写一段约60字的商品描述" in users[1]
    assert "写一段商品描述" in users[2] and "写一段约 60 字的商品描述" in users[3]  # the last: the full prompt
    res = CliRunner().invoke(_cli(), ["write", "title", "--attributes", DENIM, "--length", "60"])
    assert res.exit_code != 0 and "length applies to content_type description only" in str(res.exception)


def test_api_voices_and_unknown_voice(home, monkeypatch):
    from shopmind.api.errors import install_error_handlers
    from shopmind.api.generate import router
    from shopmind.config import get_settings

    get_settings.cache_clear()
    _register(home, "house-style")
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    voices = client.get("/content/voices").json()["voices"]
    assert [v["name"] for v in voices] == ["house-style"] and voices[0]["metrics"] == {"steps": 3}
    res = client.post("/content/description", json={"attributes": DENIM, "voice": "nope"})
    assert res.status_code == 404 and "house-style" in res.text


def test_llama_cpp_voice_errors_are_typed(home):
    from shopmind.config import get_settings
    from shopmind.tune.voice import get_voiced_llm

    get_settings.cache_clear()
    settings = get_settings()
    with pytest.raises(NotFound, match="no adapter named"):
        get_voiced_llm(settings, "ghost")
    _register(home, "hf-only")  # trained on an HF base: no GGUF for llama.cpp to serve it on
    with pytest.raises(BadInput, match="OpenAI-compatible"):
        get_voiced_llm(settings, "hf-only")
    _register(home, "picture", task="image")
    with pytest.raises(BadInput, match="image adapter"):
        get_voiced_llm(settings, "picture")


def test_live_script_with_a_voice_adds_checked_lines(fake, tmp_path):
    from shopmind.cli.live import register

    products = [{"id": "1", "title": "跑鞋", "price": 499, "attributes": {"材质": "网面"}},
                {"id": "2", "title": "纯棉T恤", "price": 129.9, "attributes": {"面料": "棉"}}]
    (tmp_path / "p.json").write_text(json.dumps(products, ensure_ascii=False), encoding="utf-8")
    fake.replies = ['{"description": "轻盈透气的网面跑鞋，日常慢跑和通勤都很合适，脚感舒适。"}',
                    '{"description": "纯棉面料的T恤，柔软亲肤，日常穿着舒适自在，百搭好穿。"}']
    res = CliRunner().invoke(area_app(register), ["live", "script", "--products", str(tmp_path / "p.json"),
                                                  "--lang", "zh", "--voice", "host-voice", "--duration", "10"])
    assert res.exit_code == 0, res.output
    script = json.loads(res.stdout)
    lines = [ln for s in script["sections"] for ln in s["lines"] if ln["kind"] == "voice"]
    assert [ln["template_id"] for ln in lines] == ["voice:host-voice"] * 2
    assert "网面跑鞋" in lines[0]["text"]["zh"] and lines[0]["seconds"]["zh"] > 0
    assert all(r["model"] == "host-voice" for r in fake.requests)
    assert not any("元" in ln["text"]["zh"] for ln in lines)  # the voice never states a price


def test_a_lora_view_decodes_with_the_voice_defaults_and_the_caller_wins(tmp_path):
    """A voice's recorded repeat penalty reaches llama.cpp on every call; an explicit value overrides it."""
    from shopmind.models.llm import LoraView

    class Base:
        name, last_usage = "llama-cpp:base", {}

        def complete(self, messages, **kw):
            self.kw = kw
            return GOOD

    base = Base()
    view = LoraView(base, "house", tmp_path / "adapter.gguf", prompt_style="compact", repeat_penalty=1.1)
    view.complete([{"role": "user", "content": "x"}], max_tokens=8)
    assert base.kw["repeat_penalty"] == 1.1 and base.kw["lora"] == (str(tmp_path / "adapter.gguf"), 1.0)
    view.complete([{"role": "user", "content": "x"}], repeat_penalty=1.0)
    assert base.kw["repeat_penalty"] == 1.0 and view.prompt_style == "compact"


def test_min_value_chars_masks_closing_quotes_only_inside_a_short_value():
    """The logits processor leaves the JSON opening alone, masks quote tokens while the first value
    is shorter than the floor, and stops masking for good once it is reached."""
    import numpy as np

    from shopmind.models.llm import MinValueChars

    pieces = {0: '{"', 1: "description", 2: '":', 3: ' "', 4: "白色", 5: '"}', 6: "外套很百搭"}

    class Vocab:  # llama.cpp's detokenize over a 7-piece vocabulary
        def detokenize(self, ids):
            return "".join(pieces[i] for i in ids).encode("utf-8")

    proc = MinValueChars(Vocab(), np.array([0, 2, 3, 5]), n=6)
    prompt = [9, 9, 9]
    scores = lambda: np.zeros(7, np.float32)  # noqa: E731
    assert np.isfinite(proc(np.array(prompt), scores())).all()                 # nothing generated yet
    assert np.isfinite(proc(np.array(prompt + [0, 1, 2]), scores())).all()     # `{"description":` - no value yet
    masked = proc(np.array(prompt + [0, 1, 2, 3, 4]), scores())                 # value "白色": 2 < 6 chars
    assert np.isinf(masked[[0, 2, 3, 5]]).all() and np.isfinite(masked[[1, 4, 6]]).all()
    assert np.isfinite(proc(np.array(prompt + [0, 1, 2, 3, 4, 6]), scores())).all() and proc.satisfied  # 7 chars


def test_only_a_length_trained_voice_on_llama_cpp_gets_a_floor():
    """0.8 × the voice's typical length (or the request's), never for the full prompt, an untrained
    voice, or a backend that cannot mask tokens."""
    from types import SimpleNamespace

    from shopmind.generate import WriteRequest, build_facts
    from shopmind.generate.loop import Writer

    def floor(llm, style="compact", **req):
        r = WriteRequest(content_type="description", attributes=DENIM, **req)
        return Writer(r, llm, build_facts(r)).draft_min_chars(style)

    voice = SimpleNamespace(voice_length=110, supports_min_chars=True)
    assert floor(voice) == 88 and floor(voice, length=60) == 48
    assert floor(voice, style="full") is None
    assert floor(SimpleNamespace(voice_length=None, supports_min_chars=True)) is None
    assert floor(SimpleNamespace(voice_length=110)) is None  # e.g. the OpenAI-compatible backend


def test_api_passes_length_and_refuses_it_for_other_types(fake, home):
    from shopmind.api.errors import install_error_handlers
    from shopmind.api.generate import router
    from shopmind.config import get_settings

    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    fake.replies = [GOOD]
    assert client.post("/content/description", json={"attributes": DENIM, "length": 60}).status_code == 200
    assert "约 60 字" in fake.requests[0]["messages"][-1]["content"]
    res = client.post("/content/title", json={"attributes": DENIM, "length": 60})
    assert res.status_code == 422 and res.json()["error"]["code"] == "bad_input" and "description only" in res.text
