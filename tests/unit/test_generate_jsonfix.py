"""JSON extraction/repair, the per-type schemas, languages and the prompt templates."""

from __future__ import annotations

import pytest

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.generate.facts import from_attributes
from shopmind.generate.jsonfix import JSONFixError, extract_json, generate_structured, parse_into
from shopmind.generate.languages import LANGUAGES, normalise_language
from shopmind.generate.prompts import build_messages, rewrite_messages
from shopmind.generate.schemas import (SCHEMAS, SellingPointsContent, SeoKeywordsContent, TitleContent,
                                       WriteRequest, render_text, replace_fields, text_fields)


@pytest.mark.parametrize("raw, expected", [
    ('{"title": "白色牛仔外套"}', {"title": "白色牛仔外套"}),
    ('好的，结果如下：\n```json\n{"title": "白色牛仔外套",}\n```', {"title": "白色牛仔外套"}),
    ('{"points": ["修身", "百搭"', {"points": ["修身", "百搭"]}),
    ("{'title': '单引号'}", {"title": "单引号"}),
])
def test_extract_json_repairs_common_slips(raw, expected):
    assert extract_json(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "抱歉，我不能完成。"])
def test_extract_json_refuses_text_without_json(raw):
    with pytest.raises(JSONFixError):
        extract_json(raw)


def test_schemas_accept_near_misses_and_reject_garbage():
    assert parse_into('{"标题": "白色牛仔外套"}', TitleContent).title == "白色牛仔外套"
    pts = parse_into('{"points": "1. 修身显瘦\\n2. 百搭\\n- 百搭"}', SellingPointsContent).points
    assert pts == ["修身显瘦", "百搭"]
    assert parse_into('{"keywords": "牛仔外套，白色外套、刺绣外套"}', SeoKeywordsContent).keywords == ["牛仔外套", "白色外套", "刺绣外套"]
    with pytest.raises(JSONFixError, match="title"):
        parse_into('{"title": ""}', TitleContent)
    with pytest.raises(JSONFixError, match="keywords"):
        parse_into('{"keywords": ["只有一个"]}', SeoKeywordsContent)


def test_generate_structured_retries_once_with_the_error():
    calls = []

    def complete(messages):
        calls.append(messages)
        return "not json" if len(calls) == 1 else '{"title": "白色牛仔外套"}'

    obj, raws = generate_structured(complete, [{"role": "user", "content": "x"}], TitleContent)
    assert obj.title == "白色牛仔外套" and len(raws) == 2
    assert "无法使用" in calls[1][-1]["content"] and calls[1][-2]["content"] == "not json"
    with pytest.raises(BackendUnavailable, match="no valid JSON after 2 tries"):
        generate_structured(lambda m: "nope", [{"role": "user", "content": "x"}], TitleContent)


def test_text_fields_replace_and_render():
    c = SellingPointsContent(points=["a 卖点", "b 卖点"])
    assert text_fields(c) == [("points.0", "a 卖点"), ("points.1", "b 卖点")]
    assert replace_fields(c, {"points.0": ""}) == {"points": ["b 卖点"]}
    assert render_text(c) == "- a 卖点\n- b 卖点"


def test_languages():
    assert len(LANGUAGES) == 10
    assert normalise_language("English") == "en" and normalise_language(None) == "zh" and normalise_language("日语") == "ja"
    with pytest.raises(BadInput, match="unsupported language"):
        normalise_language("klingon")


def test_write_request_needs_exactly_one_source():
    with pytest.raises(ValueError):
        WriteRequest(content_type="title")
    with pytest.raises(ValueError):
        WriteRequest(content_type="title", product_id="1", attributes="类型#裙")
    with pytest.raises(ValueError):
        WriteRequest(content_type="poem", attributes="类型#裙")


@pytest.mark.parametrize("content_type", list(SCHEMAS))
def test_every_template_renders_facts_and_output_shape(content_type):
    facts = from_attributes("类型#上衣*材质#牛仔布*颜色#白色*图案#刺绣*图案#蕾丝", selling_points=["可机洗"], price=199)
    msgs = build_messages(content_type, facts, language="fr", persona="运动爱好者", brand_voice="轻松")
    system, user = msgs[0]["content"], msgs[1]["content"]
    assert "法语" in system and "轻松" not in system and "品牌语气：轻松" in user  # untrusted text stays in the data block
    assert "材质：牛仔布" in user and "图案：刺绣、蕾丝" in user and "卖点：可机洗" in user and "价格：199 元" in user
    for field in SCHEMAS[content_type].model_fields:
        assert f'"{field}"' in user
    if content_type == "ad_copy":
        assert "运动爱好者" in user


def test_rewrite_prompt_lists_findings_as_instructions():
    from shopmind.domain import Finding

    facts = from_attributes("类型#上衣*颜色#白色")
    f = Finding(span="最好", start=0, end=2, category="absolute_term", severity="violation", why_zh="绝对化用语", rewrite="很好")
    msgs = rewrite_messages("title", facts, {"title": "最好的白色上衣"}, [f])
    user = msgs[1]["content"]
    assert "最好的白色上衣" in user and "1. “最好”：绝对化用语（可改为“很好”）" in user


def test_unknown_content_type_is_bad_input():
    with pytest.raises(BadInput):
        build_messages("poem", from_attributes("类型#裙"))


def test_other_languages_get_english_glosses_of_colours_and_materials():
    from shopmind.generate.factcheck import english_gloss

    facts = from_attributes("类型#上衣*材质#牛仔布*颜色#白色*材质#棉")
    user_en = build_messages("product_page", facts, language="en")[1]["content"]
    assert "牛仔布 (denim)" in user_en and "白色 (white)" in user_en and "棉 (cotton)" in user_en
    assert "(denim)" not in build_messages("title", facts)[1]["content"]
    assert english_gloss("刺绣") == ""
