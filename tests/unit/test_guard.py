"""The publication guard: one verdict over compliance and facts, rewrites that add no claim, refusals."""

from __future__ import annotations

import pytest

from shopmind import compliance
from shopmind.compliance.guard import adds_claims, combine_verdict, guard, remove_spans
from shopmind.domain import Finding, Product
from shopmind.errors import BadInput
from shopmind.generate.facts import ProductFacts

DRESS = Product(id="p1", title="真丝印花连衣裙 夏季新款", price=299.0, category="apparel",
                attributes={"材质": "真丝", "颜色": "红色"})


def _violates(text: str) -> bool:
    return bool(text.strip()) and compliance.check(text).verdict == "violation"


def test_poster_headline_from_the_issue_is_never_published_as_is():
    g = guard("全网第一 最低价 治疗失眠", product=DRESS)
    assert g.verdict == "violation" and not g.refused and g.rewritten
    assert {"全网第一", "最低价"} <= {f.span for f in g.findings}
    for word in ("全网第一", "最低价", "治疗", "失眠"):
        assert word not in g.text
    assert g.passed and not _violates(g.text)


def test_refuse_mode_publishes_nothing():
    g = guard("全网第一 最低价 治疗失眠", mode="refuse")
    assert g.refused and not g.passed and g.text == "" and g.findings


def test_clean_text_passes_unchanged():
    g = guard("真丝印花连衣裙，夏季穿着清爽", product=DRESS)
    assert g.passed and g.verdict == "clean" and g.text == "真丝印花连衣裙，夏季穿着清爽" and not g.rewritten


def test_the_rewrite_never_adds_a_claim():
    g = guard("全网第一的连衣裙，很好看")
    assert g.passed and "广受好评" not in g.text and "连衣裙" in g.text
    assert not adds_claims(g.text, g.original)
    # a neutral intensifier is fine: 最好 → 很好
    g = guard("最好的真丝连衣裙", product=DRESS)
    assert g.passed and g.text.startswith("很好") and "真丝连衣裙" in g.text


def test_colour_contradiction_is_not_clean_and_is_removed():
    g = guard("蓝色真丝连衣裙，夏季必备", product=DRESS)
    assert g.verdict == "contradiction" and any(f.span == "蓝色" for f in g.fact_findings)
    assert g.passed and "蓝色" not in g.text and "真丝连衣裙" in g.text


def test_image_colours_count_even_when_the_row_agrees():
    facts = ProductFacts(source="catalog", title="连衣裙", attributes=[("颜色", "红色")], colours=["蓝色", "blue"])
    g = guard("红色连衣裙", facts=facts, mode="refuse")
    assert g.verdict == "contradiction" and g.refused
    assert any(f.rule_id == "image.colour" for f in g.fact_findings)


def test_invented_price_clause_is_dropped():
    g = guard("真丝连衣裙，仅需99元，夏季必备", product=DRESS)
    assert g.passed and "99" not in g.text and "夏季必备" in g.text


@pytest.mark.parametrize("text", ["全 网 第 一 连衣裙", "全网第\u200b一 连衣裙", "全网第1的连衣裙", "ＮＯ．１ 连衣裙",
                                  "國家級 真丝裙", "TOP 1 连衣裙", "No1 dress"])
def test_evasion_spellings_are_caught_by_the_shadow_view(text):
    g = guard(text)
    assert g.verdict == "violation" and g.passed
    assert all(f.span in text for f in g.findings)  # offsets map back to the original text
    for f in g.findings:
        assert text[f.start:f.end] == f.span
    assert not any(w in g.text for w in ("第一", "第1", "１", "TOP", "No1", "國家"))


def test_combine_verdict():
    fact = Finding(span="蓝色", start=0, end=2, category="fact_contradiction", severity="violation")
    soft = fact.model_copy(update={"severity": "borderline"})
    assert combine_verdict("clean", []) == "clean"
    assert combine_verdict("clean", [fact]) == "contradiction"
    assert combine_verdict("violation", [fact]) == "violation"
    assert combine_verdict("clean", [soft]) == "borderline"
    assert combine_verdict("unchecked", []) == "unchecked"


def test_remove_spans_tidies_punctuation():
    f = Finding(span="最低价", start=4, end=7, category="absolute_term", severity="violation")
    assert remove_spans("真丝裙，最低价，快来", [f]) == "真丝裙，快来"


def test_bad_input_is_typed():
    with pytest.raises(BadInput):
        guard(123)  # type: ignore[arg-type]
    with pytest.raises(BadInput):
        guard("ok", mode="publish")  # type: ignore[arg-type]
    assert guard("   ").passed and guard("   ").text == ""


def test_unknown_category_falls_back_to_general_rules():
    g = guard("全网第一的裙子", category="not-a-category")
    assert g.verdict == "violation" and g.passed and "第一" not in g.text


def test_check_product_colour_contradiction_is_not_clean_and_printed_once(home):
    """Regression: `check --product` found the photo's colour contradiction but said `clean`, twice."""
    import json

    from typer.testing import CliRunner

    from shopmind.catalog.store import open_store
    from shopmind.cli.compliance import register
    from shopmind.config import get_settings
    from shopmind.domain import NamedColour, ProductTags
    from tests.unit.cli_app import area_app

    store = open_store(get_settings())
    store.upsert_products([(Product(id="c1", title="连衣裙", attributes={"颜色": "红色"}), "h", "test")])
    store.put_tags([ProductTags(product_id="c1", colours=[NamedColour(name_en="blue", name_zh="蓝色", rgb=(20, 40, 200), share=0.8)])])
    app = area_app(register)
    res = CliRunner().invoke(app, ["check", "红色连衣裙，夏天穿很清爽", "--product", "c1", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["compliance_verdict"] == "clean" and obj["verdict"] == "contradiction"
    spans = [(f["start"], f["end"]) for f in obj["fact_findings"] + obj["image_findings"]]
    assert spans == [(0, 2)] and obj["image_findings"][0]["category"] == "image_text_mismatch"
    res = CliRunner().invoke(app, ["check", "红色连衣裙，夏天穿很清爽", "--product", "c1"])
    assert res.exit_code == 0 and "verdict: contradiction" in res.output
    assert res.output.count("image.colour") == 1 and "fact.colour" not in res.output  # printed once, not once per pass


def test_a_language_the_engine_does_not_check_is_never_published_as_passed():
    g = guard("Самое лучшее платье в мире")
    assert g.verdict == "unchecked" and not g.passed and g.text == "" and g.candidate
