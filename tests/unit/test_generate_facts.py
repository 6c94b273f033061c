"""Facts from attribute strings and the catalog, and the fact checker's verdicts."""

from __future__ import annotations

import pytest

from shopmind.errors import BadInput
from shopmind.generate.factcheck import check_facts, clause_bounds, drop_clauses
from shopmind.generate.facts import from_attributes, from_product, parse_attribute_string

DENIM = "类型#上衣*材质#牛仔布*颜色#白色*风格#简约*图案#刺绣*衣样式#外套*衣款式#破洞"


def rules(findings):
    return [(f.rule_id, f.span, f.severity) for f in findings]


def test_parse_attribute_string_keeps_order_and_repeats():
    pairs = parse_attribute_string("类型#上衣*图案#印花*图案#撞色")
    assert pairs == [("类型", "上衣"), ("图案", "印花"), ("图案", "撞色")]
    assert from_attributes(DENIM).category == "apparel"


@pytest.mark.parametrize("bad", ["", "   ", "类型上衣", "类型#", "#上衣", "x" * 5000])
def test_parse_attribute_string_rejects_malformed(bad):
    with pytest.raises(BadInput):
        parse_attribute_string(bad)


def test_grounded_copy_has_no_issues():
    facts = from_attributes(DENIM)
    text = "简约而不简单的牛仔外套，白色的衣身十分百搭。衣身破洞设计，后背刺绣装饰。"
    assert check_facts(text, facts) == []


def test_invented_colour_material_price_size_and_number_are_flagged():
    facts = from_attributes(DENIM)
    text = "这款纯棉红色外套，仅需99元，XL码，3种穿法。"
    got = rules(check_facts(text, facts))
    assert ("fact.material", "纯棉", "violation") in got
    assert ("fact.colour", "红色", "violation") in got
    assert ("fact.price.invented", "99元", "violation") in got
    assert ("fact.size", "XL", "violation") in got
    assert ("fact.number", "3", "borderline") in got
    assert all(f.category == "fact_contradiction" for f in check_facts(text, facts))


def test_price_must_match_the_fact_price():
    facts = from_attributes(DENIM, price=129)
    assert check_facts("到手价¥129，超值。", facts) == []
    assert rules(check_facts("到手价¥99，超值。", facts)) == [("fact.price", "¥99", "violation")]


def test_styling_advice_and_silhouettes_are_not_claims():
    facts = from_attributes(DENIM)
    assert check_facts("搭配黑色长裤更显高挑，打造S型曲线。", facts) == []


def test_colour_families_and_generic_values():
    # 粉红色 belongs to red and pink; facts say 粉色 → fine.
    assert check_facts("粉红色的裙摆很温柔。", from_attributes("类型#裙*颜色#粉色")) == []
    generic = check_facts("蓝色裙身清新。", from_attributes("类型#裙*颜色#纯色"))
    assert rules(generic) == [("fact.colour.unverified", "蓝色", "borderline")]


def test_english_copy_is_checked_with_word_boundaries():
    facts = from_attributes("类型#上衣*材质#牛仔布*颜色#白色")
    assert check_facts("A white denim jacket that reduces fuss.", facts) == []
    assert rules(check_facts("A red silk jacket.", facts)) == [("fact.colour", "red", "violation"),
                                                                ("fact.material", "silk", "violation")]


def test_drop_clauses_removes_only_violating_clauses():
    facts = from_attributes(DENIM)
    text = "白色牛仔外套，采用纯棉面料，刺绣精致。"
    out = drop_clauses(text, check_facts(text, facts))
    assert out == "白色牛仔外套，刺绣精致。"
    assert check_facts(out, facts) == []
    assert clause_bounds("甲，乙。", 2, 3) == (2, 4)


def test_from_product_reads_catalog_tags_and_ocr():
    from shopmind.domain import NamedColour, Product, ProductTags, ScoredLabel

    class Store:
        def get_product(self, pid):
            return Product(id=pid, title="女士羊毛大衣", price=599.0, category="服装", attributes={"材质": "羊毛"})

        def get_tags(self, pid):
            return ProductTags(product_id=pid, colours=[NamedColour(name_en="camel", name_zh="驼色", rgb=(190, 150, 100), share=0.6)],
                               labels={"style": [ScoredLabel(label="coat", label_zh="大衣", score=0.8)]}, ocr_text="WOOL 80%")

    facts = from_product("p1", store=Store(), selling_points=["可干洗"])
    assert facts.price == 599.0 and facts.category == "服装" and "驼色" in facts.colours
    assert facts.ocr_text == "WOOL 80%" and "大衣" in facts.image_labels
    assert check_facts("驼色羊毛大衣，含80%羊毛，售价599元。", facts) == []
    assert rules(check_facts("黑色大衣", facts)) == [("fact.colour", "黑色", "violation")]
