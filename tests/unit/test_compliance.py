"""Compliance engine: context, categories, prices, offsets, rewrite, English rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopmind.compliance import PriceContext, check, rewrite
from shopmind.compliance.lexicon import build_ruleset
from shopmind.errors import BadInput

HARD = Path(__file__).resolve().parents[1] / "data" / "compliance_hard_cases.jsonl"


def _spans(text: str, **kw) -> dict[str, str]:
    return {f.span: f.severity for f in check(text, **kw).findings}


@pytest.mark.parametrize("text", ["最近上新", "第一次穿", "选用长绒棉", "最后一件", "第一眼就心动", "内置安全裤"])
def test_context_words_are_not_violations(text):
    assert check(text).verdict == "clean"


@pytest.mark.parametrize("text,span", [("穿着最舒适的T恤", "最舒适"), ("这条裙子绝对是首选", "首选"),
                                       ("销量全网第一", "全网第一"), ("国家级品质", "国家级")])
def test_absolute_terms_are_violations(text, span):
    report = check(text)
    hit = [f for f in report.findings if f.span == span]
    assert hit and hit[0].severity == "violation" and hit[0].legal_basis.startswith("《广告法》第九条")


def test_within_product_superlative_is_borderline():
    assert _spans("最大的设计亮点在于领口") == {"最大": "borderline"}


def test_category_awareness():
    assert _spans("美白祛斑精华", category="cosmetics") == {"美白祛斑": "borderline"}
    assert _spans("美白祛斑饮料", category="food") == {"美白祛斑": "violation"}
    assert _spans("增强免疫力", category="health_products") == {"增强免疫力": "borderline"}
    assert _spans("增强免疫力", category="食品") == {"增强免疫力": "violation"}
    assert _spans("辅助治疗肩颈疼痛", category="medical_device") == {"治疗": "borderline"}
    assert _spans("辅助治疗肩颈疼痛", category="apparel") == {"治疗": "violation"}
    with pytest.raises(BadInput):
        check("好看", category="spaceships")


HIST = [{"date": "2026-11-01", "price": 199}, {"date": "2026-11-08", "price": 299}]


def test_original_price_against_history():
    text = "原价399，现价199"
    assert _spans(text) == {"原价": "borderline"}  # no facts: unverifiable
    assert _spans(text, price_context={"history": HIST}) == {"原价": "violation"}  # never charged 399
    assert _spans("原价299，现价199", price_context={"history": HIST}) == {}
    # 7-day rule: 299 was charged, but the lowest price in the week before the promotion was 199
    ctx = {"history": HIST + [{"date": "2026-11-09", "price": 199}], "promo_start": "2026-11-11"}
    assert _spans("原价299，现价199", price_context=ctx) == {"原价": "violation"}


def test_urgency_with_real_end_date():
    base = {"promo_end": "2026-11-11T23:59:59", "now": "2026-11-11T09:00:00"}
    assert _spans("限时特惠") == {"限时": "borderline"}
    assert _spans("仅限今天", price_context=base) == {}
    assert _spans("仅限今天", price_context={**base, "promo_end": "2026-11-20T23:59:59"}) == {"仅限今天": "violation"}
    assert _spans("限时特惠", price_context={**base, "now": "2026-11-12T09:00:00"}) == {"限时": "violation"}
    assert isinstance(PriceContext.model_validate(base).promo_end.year, int)


def test_offsets_are_exact_on_hard_cases():
    for line in HARD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        report = check(row["text"], category=row.get("product_category"), price_context=row.get("price_context"))
        for f in report.findings:
            assert row["text"][f.start:f.end] == f.span
            assert f.span in f.sentence and f.why_zh and f.why_en and f.legal_basis


def test_rewrite_leaves_no_violations():
    texts = [json.loads(l)["text"] for l in HARD.read_text(encoding="utf-8").splitlines()]
    for text in texts + ["这款是最舒适的T恤，绝对是首选，全网第一，国家级品质。可消炎治疗。"]:
        out = rewrite(text)
        assert not any(f.severity == "violation" for f in out.remaining)
        if out.text.strip():
            assert check(out.text).verdict != "violation"
        if check(text).verdict == "violation":
            assert out.fixed
    out = rewrite("这款是最舒适的T恤")
    assert out.text == "这款是很舒适的T恤" and out.fixed[0].span == "最舒适"


def test_english_rules_and_language():
    report = check("Best in the world! This cream cures acne. Guaranteed results.", category="cosmetics")
    assert report.language == "en"
    cats = {f.category for f in report.findings if f.severity == "violation"}
    assert {"absolute_term", "medical_claim", "guarantee_or_efficacy"} <= cats
    assert check("A secure clasp and dog treats.").verdict == "clean"  # word boundaries, no false 'cure'
    assert _spans("Was $99, now $49", price_context={"history": [{"date": "2026-10-01", "price": 49}]}) == {
        "Was $": "violation"}


def test_bad_input():
    with pytest.raises(BadInput):
        check("   ")
    with pytest.raises(BadInput):
        check(None)  # type: ignore[arg-type]


def test_rule_data_is_complete():
    from shopmind.compliance.lexicon import load_ruleset

    for lang in ("zh", "en"):
        rs = load_ruleset(lang)
        assert rs.rules
        for rule in rs.rules.values():
            assert rule.terms and rule.legal_basis and rule.source and rule.why_zh and rule.why_en
    tiny = build_ruleset({"language": "zh", "rules": [{"id": "t", "category": "other", "severity": "violation",
                                                        "legal_basis": "x", "terms": ["abc"], "why_zh": "z",
                                                        "why_en": "e", "exceptions": ["abcd"]}]})
    assert [h[2] for h in tiny.iter_hits("ABC abcd")] == ["abc", "abc"]
