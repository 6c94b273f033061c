"""The script builder: grounding, verified prices, distinct openings, timing, urgency, compliance, currency."""

from __future__ import annotations

import re
import sys
import types
from datetime import datetime
from decimal import Decimal

import pytest

from shopmind.domain import Finding, Product
from shopmind.errors import BadInput
from shopmind.live.currency import RateTable, format_money, load_rates, numbers_in
from shopmind.live.promotions import DirectDiscount, Gift, PromotionSet, StoreCoupon, TieredReduction
from shopmind.live.script import build_script, spoken_seconds, templates

RATES = {"base": "CNY", "rates": {"USD": "0.14", "JPY": "21"}}
SHOES = Product(id="1", title="Nike Men Black Running Shoes", description="Lightweight mesh upper. Cushioned sole.",
                price=499, category="Shoes", attributes={"material": "mesh", "size": "UK 6-11", "usage": "Sports"})
TEE = Product(id="2", title="纯棉T恤", price=129.9, category="Tshirts", attributes={"颜色": "白色", "fabric": "100% cotton"})
PROMOS = PromotionSet(promotions=[
    TieredReduction(id="plat", tiers=[(Decimal(300), Decimal(40))]),
    StoreCoupon(id="c20", threshold=Decimal(199), amount=Decimal(20)),
    DirectDiscount(id="live", rate=Decimal("0.85"), product_ids=["1"]),
])


@pytest.fixture(autouse=True)
def no_compliance(monkeypatch):
    """Most tests run without the compliance capability so they test this module alone."""
    monkeypatch.setitem(sys.modules, "shopmind.compliance", None)


def lines(script, kind=None):
    return [l for s in script.sections for l in s.lines if kind is None or l.kind == kind]


def test_prices_come_from_the_optimiser_and_read_back_in_every_currency():
    s = build_script([SHOES, TEE], PROMOS, languages=["zh", "en", "ja"], rates=RATES)
    assert s.currencies == {"zh": "CNY", "en": "USD", "ja": "JPY"}
    q = s.quotes["1"]
    assert q.final_total == Decimal("499") * Decimal("0.85") - 20 - 40  # 364.15
    table = RateTable.model_validate(RATES)
    shoe_section = next(sec for sec in s.sections if sec.product_id == "1")
    shoe_price = next(l for l in shoe_section.lines if l.kind == "price")
    for lg, cur in s.currencies.items():
        final = table.convert(q.final_total, cur)
        original = table.convert(q.original_total, cur)
        assert sorted(numbers_in(shoe_price.text[lg])) == sorted([final, original, original - final])
    assert all(l.price_verified for l in lines(s) if l.kind in ("price", "gift"))
    assert "7,647円" in shoe_price.text["ja"] and "$50.98" in shoe_price.text["en"]


def test_selling_points_are_grounded_in_product_facts():
    s = build_script([SHOES, TEE], PROMOS, languages=["en"])
    facts = {v for p in (SHOES, TEE) for v in p.attributes.values()} | {SHOES.category, TEE.category}
    for line in lines(s, "selling_point"):
        src = line.grounded_in[0]
        assert src.startswith(("attributes.", "category", "description", "tags."))
        if src.startswith("attributes.") or src == "category":
            assert any(f in line.text["en"] for f in facts)
    qa = " ".join(l.text["en"] for l in lines(s, "qa"))
    assert "UK 6-11" in qa and "100% cotton" in qa
    # the tee has no size and neither product has shipping facts: the host defers, never invents
    assert qa.count("I'll check with the team") == 3


def test_hundred_distinct_openings_and_too_many_is_bad_input():
    s = build_script([SHOES], None, languages=["zh", "en"], variants=100, seed=7)
    for lg in ("zh", "en"):
        assert len({v[lg] for v in s.opening_variants}) == 100
    assert s.sections[0].lines[0].text == s.opening_variants[0]
    other = build_script([SHOES], None, languages=["zh"], variants=100, seed=8)
    assert [v["zh"] for v in other.opening_variants] != [v["zh"] for v in s.opening_variants]
    with pytest.raises(BadInput):
        build_script([SHOES], None, variants=10_000)


def test_plan_fits_the_duration_and_durations_follow_speaking_rates():
    s = build_script([SHOES, TEE], PROMOS, languages=["zh", "en"], duration_min=20)
    assert abs(sum(sec.planned_s for sec in s.sections) - 20 * 60) < 1
    assert s.sections[-1].start_s + s.sections[-1].planned_s == pytest.approx(1200, abs=1)
    assert spoken_seconds("一二三四五六七八九", "zh") == pytest.approx(2.0)
    assert spoken_seconds("one two three four five", "en") == pytest.approx(2.0)
    assert spoken_seconds("これは日本語の文です", "ja") == pytest.approx(10 / 5.5, abs=0.01)
    with pytest.raises(BadInput):
        build_script([SHOES] * 1, None, duration_min=0)


def test_urgency_only_from_real_limits():
    calm = build_script([SHOES], PROMOS, languages=["zh"])
    assert not lines(calm, "urgency")
    limited = PromotionSet(promotions=[DirectDiscount(id="live", rate=Decimal("0.8"), stock=30,
                                                      ends_at=datetime(2026, 12, 12, 23, 59))])
    s = build_script([SHOES], limited, languages=["zh", "en"])
    urgent = [l.text["en"] for l in lines(s, "urgency")]
    assert any("30 units" in t for t in urgent) and any("2026-12-12 23:59" in t for t in urgent)


def test_gift_line_and_product_without_price():
    promos = PromotionSet(promotions=[Gift(id="g", threshold=Decimal(300), gift_zh="收纳袋", gift_en="a bag")])
    s = build_script([SHOES, Product(id="x", title="无价之宝")], promos, languages=["zh"])
    assert any("收纳袋" in l.text["zh"] and "¥300" in l.text["zh"] for l in lines(s, "gift"))
    assert "x" not in s.quotes and any("no price" in w for w in s.warnings)


def test_missing_rate_falls_back_to_cny_with_warning():
    s = build_script([SHOES], None, languages=["en"])
    assert s.currencies == {"en": "CNY"} and any("no CNY→USD rate" in w for w in s.warnings)
    assert "¥499" in lines(s, "price")[0].text["en"]


def test_currency_format_and_parse():
    t = load_rates(RATES)
    assert t.convert(Decimal("129.90"), "JPY") == Decimal("2728")
    assert format_money(Decimal("2728"), "JPY", "ja") == "2,728円"
    assert format_money(Decimal("18.19"), "USD", "en") == "$18.19"
    assert format_money(Decimal("499.00"), "CNY", "zh") == "¥499"
    assert numbers_in("最终10,479円与¥84.92和3件") == [Decimal("10479"), Decimal("84.92"), Decimal("3")]
    with pytest.raises(BadInput):
        load_rates({"rates": {"USD": -1}})
    with pytest.raises(BadInput):
        t.convert(Decimal(1), "EUR")


def test_templates_are_clean_complete_and_sourced():
    banned = ["最低价", "全网最低", "史上最低", "最后一天", "仅此一次", "错过再等一年", "lowest price", "last chance"]
    entries = []

    def walk(node):
        if isinstance(node, dict):
            if {"zh", "en", "ja"} <= node.keys():
                entries.append(node)
            else:
                for v in node.values():
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(templates())
    assert len(entries) > 60
    for e in entries:
        assert e.get("src"), e
        for lg in ("zh", "en", "ja"):
            text = e[lg]
            assert not any(b.lower() in text.lower() for b in banned), text
            assert not re.search(r"\d", text), f"templates never write numbers: {text}"
            assert "最" not in text


def test_markdown_has_every_language_and_timing():
    s = build_script([SHOES, TEE], PROMOS, languages=["zh", "en"], variants=3)
    md = s.to_markdown()
    assert "# Live script (zh" in md and "# Live script (en" in md and "Alternative openings" in md
    assert re.search(r"## \d\d:\d\d product · 1", md)


def test_compliance_rewrites_or_drops_lines(monkeypatch):
    """A fake checker flags 材质 (rewritten) and 详情页 (no rewrite: dropped in every language)."""

    def check(text, category=None):
        found = []
        for word, rewrite in (("材质", "面料成分"), ("详情页", None), ("product page", None)):
            i = text.find(word)
            if i >= 0:
                found.append(Finding(span=word, start=i, end=i + len(word), category="other", severity="violation",
                                     sentence="", rewrite=rewrite))
        return types.SimpleNamespace(findings=found)

    monkeypatch.setitem(sys.modules, "shopmind.compliance", types.SimpleNamespace(check=check))
    s = build_script([SHOES], PROMOS, languages=["zh", "en"])
    assert s.compliance == "on"
    every = [l.text["zh"] for l in lines(s)]
    assert not any("详情页" in t for t in every)
    assert any("面料成分" in t for t in every) and not any("材质" in t for t in every)
    assert any("dropped a qa line" in w for w in s.warnings)
    assert all(l.price_verified for l in lines(s, "price"))


def test_without_compliance_module_it_degrades_gracefully():
    s = build_script([SHOES], PROMOS, languages=["zh"])
    assert s.compliance.startswith("shopmind.compliance is not installed")


def test_bad_inputs_are_typed():
    with pytest.raises(BadInput):
        build_script([], None)
    with pytest.raises(BadInput):
        build_script([SHOES], None, languages=["fr"])
    with pytest.raises(BadInput):
        build_script([SHOES, SHOES], None)
    with pytest.raises(BadInput):
        build_script([{"id": "1"}], None)


def test_with_the_real_compliance_checker_no_violation_survives(monkeypatch):
    monkeypatch.delitem(sys.modules, "shopmind.compliance", raising=False)
    compliance = pytest.importorskip("shopmind.compliance")
    s = build_script([SHOES, TEE], PROMOS, languages=["zh", "en"], rates=RATES)
    assert s.compliance == "on"
    for line in lines(s):
        for lg in ("zh", "en"):
            assert not [f for f in compliance.check(line.text[lg]).findings if f.severity == "violation"], line.text[lg]
