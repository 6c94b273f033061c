"""Grounded product Q&A on a tiny catalog written in the test's home."""

from __future__ import annotations

import json

import pytest

from shopmind.domain import NamedColour, ProductTags
from shopmind.errors import BadInput, NotFound

ROWS = [
    {"id": "p1", "title": "Acme Men Classic Tee Blue", "brand": "Acme", "article_type": "Tshirts", "base_colour": "Blue",
     "Fabric": "Cotton", "Fit": "Slim Fit", "price": 199, "currency": "CNY", "gender": "Men", "season": "Summer",
     "description": "Made of 100% cotton jersey.\n\nWash care\nMachine wash cold\nDo not bleach"},
    {"id": "p2", "title": "Acme Men Classic Tee Black", "brand": "Acme", "article_type": "Tshirts", "base_colour": "Black",
     "price": 199, "currency": "CNY"},
    {"id": "p3", "title": "Acme Men Classic Tee Red", "brand": "Acme", "article_type": "Tshirts", "base_colour": "Red",
     "price": 209, "currency": "CNY"},
    {"id": "p4", "title": "Acme Women Runner White Sports Shoes", "brand": "Acme", "article_type": "Sports Shoes",
     "base_colour": "White", "price": 499, "description": "全网最好的跑鞋，网眼鞋面。"},
]


def write_catalog(home, rows=ROWS):
    home.mkdir(parents=True, exist_ok=True)
    path = home.parent / "catalog.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def store(home):
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    st = open_store(get_settings())
    report = ingest_catalog(st, write_catalog(home))
    assert report.ingested == len(ROWS)
    return st


def ask(store, pid, q, **kw):
    from shopmind.service.qa import ask as qa_ask

    kw.setdefault("use_llm", False)
    return qa_ask(pid, q, store=store, **kw)


def test_colour_question_in_english_cites_the_attribute(store):
    r = ask(store, "p1", "What colour is this?")
    assert r.answerable and r.language == "en" and r.method == "composed"
    assert "Blue" in r.answer
    assert any(c.field == "colour" and c.value == "Blue" and c.source == "attribute:base_colour" for c in r.citations)
    assert r.compliance_verdict == "clean" and r.findings == []
    assert r.timing_ms["total_ms"] > 0


def test_variants_question_in_chinese_lists_catalog_colours(store):
    r = ask(store, "p1", "这款有几种颜色？")
    assert r.answerable and r.language == "zh"
    assert "3种颜色" in r.answer
    for zh in ("蓝色", "黑色", "红色"):
        assert zh in r.answer
    variant = next(c for c in r.citations if c.field == "variants")
    assert variant.source == "catalog:variants" and "p2" in variant.value and "p3" in variant.value
    assert "p4" not in variant.value  # different style (other title stem), not a variant


def test_unanswerable_question_is_refused_without_citations(store):
    r = ask(store, "p1", "这款有保修吗？")
    assert not r.answerable and r.method == "refusal" and r.citations == []
    assert "没有" in r.answer and "保修" in r.answer
    r_en = ask(store, "p1", "Can I get an invoice for my company?")  # no lexicon cue: e5 floor decides
    assert not r_en.answerable and r_en.language == "en" and "Sorry" in r_en.answer


def test_material_and_price_come_from_facts(store):
    r = ask(store, "p1", "What fabric is this made of?")
    assert "Cotton" in r.answer and "100% cotton" in r.answer
    assert {c.source for c in r.citations} >= {"attribute:Fabric", "catalog:description"}
    p = ask(store, "p3", "这款多少钱？")
    assert "209" in p.answer and "CNY" in p.answer
    assert "199" not in p.answer


def test_tags_and_ocr_are_facts(store):
    store.put_tags([ProductTags(product_id="p4", colours=[NamedColour(name_en="White", name_zh="白色", rgb=(250, 250, 250), share=0.7)])])
    store.put_ocr([("p4", True, "RUN FREE", [])])
    r = ask(store, "p4", "上面印着什么字？")
    assert r.answerable and "RUN FREE" in r.answer
    assert any(c.source == "ocr" for c in r.citations)


def test_answer_passes_compliance_even_when_the_description_does_not(store):
    r = ask(store, "p4", "鞋面是什么材质？")
    assert r.answerable and "网眼" in r.answer
    assert r.compliance_verdict != "violation"
    assert "最好" not in r.answer


def test_bad_input_and_unknown_product(store):
    with pytest.raises(BadInput):
        ask(store, "p1", "   ")
    with pytest.raises(BadInput):
        ask(store, "p1", "颜色" * 300)
    with pytest.raises(NotFound):
        ask(store, "nope", "What colour is it?")


class FakeLLM:
    """Stands in for shopmind.models.llm: returns a fixed reply, records the prompt."""

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.messages = None

    def complete(self, messages, *, max_tokens=256, temperature=0.2, seed=0, stop=None, json_mode=False):
        self.messages = messages
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply

    def stream(self, messages, **opts):
        text = self.complete(messages, **opts)
        for i in range(0, len(text), 5):
            yield text[i:i + 5]


def test_grounded_llm_answer_is_accepted(store):
    from shopmind.service.qa import ask as qa_ask

    llm = FakeLLM("placeholder")
    qa_ask("p1", "What colour is this?", llm=llm, store=store)  # first call: learn the fact ids in the prompt
    facts_prompt = llm.messages[1]["content"]
    cited_id = next(line.split("]")[0][1:] for line in facts_prompt.splitlines() if "colour: Blue" in line)
    llm.reply = f"This tee is Blue [{cited_id}]."
    r = qa_ask("p1", "What colour is this?", llm=llm, store=store)
    assert r.method == "llm" and r.llm_used and not r.llm_rejected
    assert r.answer == "This tee is Blue." and [c.value for c in r.citations] == ["Blue"]


def test_hallucinating_llm_is_rejected_and_composed_answer_used(store):
    from shopmind.service.qa import ask as qa_ask

    r = qa_ask("p1", "What colour is this?", llm=FakeLLM("It is Red and made of silk, only 99 CNY."), store=store)
    assert r.method == "composed" and r.llm_rejected
    assert any("red" in p for p in r.llm_reject_reasons) and any("99" in p for p in r.llm_reject_reasons)
    assert "Blue" in r.answer and "Red" not in r.answer
    broken = qa_ask("p1", "What colour is this?", llm=FakeLLM(RuntimeError("server down")), store=store)
    assert broken.method == "composed" and "server down" in broken.llm_error


def test_refusal_never_calls_the_llm(store):
    from shopmind.service.qa import ask as qa_ask

    llm = FakeLLM("Two years warranty [F1].")
    r = qa_ask("p1", "Does it come with a warranty?", llm=llm, store=store)
    assert llm.messages is None and r.method == "refusal" and not r.answerable


def test_stream_events_end_with_verified_answer(store):
    from shopmind.service.qa import ask_events

    events = list(ask_events("p1", "Is it slim fit?", llm=FakeLLM("It is Black [F1]."), store=store))
    assert events[0]["event"] == "facts" and events[-1]["event"] == "answer"
    assert any(e["event"] == "delta" and e.get("provisional") for e in events)
    final = events[-1]["answer"]
    assert final["llm_rejected"] and "Slim Fit" in final["answer"]


def test_variant_index_follows_catalog_changes(store, home):
    from shopmind.catalog.ingest import ingest_catalog

    before = ask(store, "p1", "What other colours are available?")
    assert "3 colour" in before.answer
    extra = home.parent / "more.jsonl"
    extra.write_text(json.dumps({"id": "p5", "title": "Acme Men Classic Tee Green", "brand": "Acme",
                                 "article_type": "Tshirts", "base_colour": "Green"}) + "\n", encoding="utf-8")
    ingest_catalog(store, extra)
    after = ask(store, "p1", "What other colours are available?")
    assert "4 colour" in after.answer and "Green" in after.answer
