"""The generate → check → rewrite loop, driven through the OpenAI-compatible client against a local
HTTP server whose replies are scripted (deterministic), so every branch of the loop is exercised."""

from __future__ import annotations

import json

import pytest
from test_generate_llm_openai import FakeOpenAI

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.generate import WriteRequest, write
from shopmind.models.llm import OpenAICompatLLM

DENIM = "类型#上衣*材质#牛仔布*颜色#白色*风格#简约*图案#刺绣*衣样式#外套"


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def llm(fake):
    return OpenAICompatLLM(base_url=fake.base_url, model="scripted", backoff_s=0.01)


def req(content_type="description", **kw):
    return WriteRequest(content_type=content_type, attributes=kw.pop("attributes", DENIM), **kw)


def stages(result):
    return [s.stage for s in result.audit]


def test_clean_draft_passes_without_rewrites(fake, llm):
    fake.replies = ['{"description": "简约的白色牛仔外套，后背刺绣精致，日常通勤很百搭。"}']
    r = write(req(), llm)
    assert r.passed and r.draft_passed and r.rounds == 0
    assert r.content == {"description": "简约的白色牛仔外套，后背刺绣精致，日常通勤很百搭。"}
    assert stages(r) == ["draft", "check", "guard"]
    assert fake.requests[0]["response_format"] == {"type": "json_object"}
    assert r.completion_tokens > 0 and r.llm == "openai:scripted"


def test_compliance_violation_fixed_by_rule_rewrite(fake, llm):
    fake.replies = ['{"title": "最好的白色牛仔外套"}']
    r = write(req("title"), llm)
    assert r.passed and not r.draft_passed and r.draft_compliance_violations == 1
    assert "最好" not in r.content["title"] and "白色牛仔外套" in r.content["title"]
    assert stages(r) == ["draft", "check", "rule_rewrite", "guard"]
    assert len(fake.requests) == 1  # no LLM rewrite was needed


def test_invented_fact_goes_to_llm_rewrite_with_findings_as_instructions(fake, llm):
    fake.replies = [
        '{"description": "白色牛仔外套，采用纯棉面料，后背刺绣精致，很百搭。"}',
        '{"description": "白色牛仔外套，后背刺绣精致，很百搭，日常好搭配。"}',
    ]
    r = write(req(), llm)
    assert r.passed and r.rounds == 1 and r.draft_fact_violations == 1
    assert "纯棉" not in r.content["description"]
    assert stages(r) == ["draft", "check", "llm_rewrite", "guard"]
    instructions = fake.requests[1]["messages"][-1]["content"]
    assert "纯棉" in instructions and "材质" in instructions
    # the audit trail keeps the bad draft and its finding
    assert r.audit[1].fact_issues[0].span == "纯棉"


def test_stubborn_model_is_overruled_by_the_fallback(fake, llm):
    bad = '{"description": "白色牛仔外套，采用纯棉面料，后背刺绣精致，是全网最好的外套。"}'
    fake.replies = [bad, bad, bad]
    r = write(req(max_rounds=2), llm)
    assert r.passed and r.rounds == 2
    assert stages(r)[-2:] == ["fallback", "guard"]
    text = r.content["description"]
    assert "纯棉" not in text and "最好" not in text and "白色牛仔外套" in text


def test_bad_json_is_retried_once_then_used(fake, llm):
    fake.replies = ["我来写：标题是白色外套", '{"title": "白色刺绣牛仔外套"}']
    r = write(req("title"), llm)
    assert r.passed and r.content["title"] == "白色刺绣牛仔外套"
    assert "无法使用" in fake.requests[1]["messages"][-1]["content"]


def test_persistent_bad_json_is_a_typed_error(fake, llm):
    fake.replies = ["no", "still no"]
    with pytest.raises(BackendUnavailable, match="no valid JSON"):
        write(req("title"), llm)


def test_streaming_first_draft(fake, llm):
    fake.replies = ['{"selling_points": 1}', '{"points": ["白色衣身百搭", "后背刺绣精致", "简约外套版型"]}']
    pieces: list[str] = []
    r = write(req("selling_points"), llm, on_token=pieces.append)
    assert r.content["points"] == ["白色衣身百搭", "后背刺绣精致", "简约外套版型"]
    assert "".join(pieces).endswith('"简约外套版型"]}') and fake.requests[0]["stream"] is True


def test_product_page_in_another_language_and_ad_copy_persona(fake, llm):
    fake.replies = [json.dumps({"title": "Veste en jean blanche", "bullets": ["Broderie au dos", "Style simple"],
                                "description": "Une veste en jean blanche, simple, avec une broderie au dos."})]
    r = write(req("product_page", language="French"), llm)
    assert r.language == "fr" and r.passed and "法语" in fake.requests[0]["messages"][0]["content"]
    fake.replies = ['{"headline": "通勤也能很出彩", "body": "白色牛仔外套，后背刺绣，简约又有细节。"}']
    r = write(req("ad_copy", persona="年轻女性"), llm)
    assert r.passed and "年轻女性" in fake.requests[-1]["messages"][1]["content"]


def test_bad_requests_fail_before_calling_the_llm(fake, llm):
    with pytest.raises(BadInput):
        write(req(attributes="类型上衣"), llm)
    with pytest.raises(BadInput, match="unsupported language"):
        write(req(language="klingon"), llm)
    assert fake.requests == []
