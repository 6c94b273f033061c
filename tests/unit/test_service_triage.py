"""Triage rules: cue lexicon, urgency factors, language, bad input, photo evidence."""

import numpy as np
import pytest
from PIL import Image

from shopmind.errors import BadInput
from shopmind.service.entities import extract
from shopmind.service.triage import ISSUE_TYPES, TriageHead, cue_scores, detect_lang, image_evidence, lexicon_decide, triage, urgency


@pytest.mark.parametrize(
    "text,label",
    [
        ("箱子被压扁了，杯子碎了", "logistics_damage"),
        ("I was sent the wrong colour", "wrong_item"),
        ("鞋子偏小一码", "size_fit"),
        ("Tracking has not updated for a week", "delivery_delay"),
        ("请问有发票吗", "other"),
    ],
)
def test_lexicon_decides_clear_cases(text, label):
    assert lexicon_decide(cue_scores(text)[0])[0] == label


def test_english_cues_respect_word_boundaries():
    scores, _ = cue_scores("I love this chocolate, no issue at all")
    assert scores["delivery_delay"] == 0
    assert all(v == 0 for v in scores.values())


def test_urgency_levels_follow_the_rules():
    calm = "请问什么时候发货"
    level, score, _, _ = urgency(calm, extract(calm)[0], None)
    assert level == "low" and score == 0
    angry = "第三次联系了，垃圾客服！花了2999元"
    level, _, reasons, _ = urgency(angry, extract(angry)[0], None)
    assert level == "high" and any(r.startswith("repeated_contact") for r in reasons) and any(r.startswith("money") for r in reasons)
    unsafe = "the charger caught fire"
    assert urgency(unsafe, extract(unsafe)[0], None)[0] == "critical"


def test_language_detection():
    assert detect_lang("鞋子太小了 size 38") == "zh"
    assert detect_lang("The shoe is too small") == "en"


def test_empty_and_overlong_messages_are_bad_input():
    with pytest.raises(BadInput):
        triage("   ", use_classifier=False, use_sentiment=False)
    with pytest.raises(BadInput):
        triage("x" * 6000, use_classifier=False, use_sentiment=False)


def test_lexicon_only_triage_reports_cues_and_entities(home):
    r = triage("快递把箱子压扁了，订单号O123456，电话13912345678", use_classifier=False, use_sentiment=False)
    assert r.issue_type == "logistics_damage" and r.method == "lexicon"
    assert any(e.kind == "cue" and e.supports == "logistics_damage" for e in r.evidence)
    assert r.entities.order_numbers == ["O123456"] and "13912345678" not in r.redacted_message


def test_photo_dominant_colour_is_evidence_without_product(home):
    img = Image.new("RGB", (64, 64), (250, 250, 250))
    img.paste((200, 30, 40), (12, 12, 52, 52))
    ev, boosts, ocr_text, _ = image_evidence(img, product_id=None, run_ocr=False)
    assert any(e.kind == "dominant_colour" and "Red" in e.detail for e in ev)
    assert all(v == 0 for v in boosts.values()) and ocr_text == ""


def test_head_fit_predict_and_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    texts = ["箱子压扁了"] * 6 + ["鞋子偏小"] * 6
    labels = ["logistics_damage"] * 6 + ["size_fit"] * 6
    emb = rng.normal(size=(12, 384)).astype(np.float32)
    head = TriageHead.fit(texts, labels, emb)
    again = TriageHead.load(head.save(tmp_path / "h.npz"))
    p1, p2 = head.predict_proba(texts, emb), again.predict_proba(texts, emb)
    assert np.allclose(p1, p2, atol=1e-5)
    assert [again.classes[i] for i in p2.argmax(axis=1)] == labels
    assert set(again.classes) <= set(ISSUE_TYPES)


def test_photo_colour_mismatch_with_catalog_supports_wrong_item(home):
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.domain import NamedColour, Product, ProductTags

    store = open_store(get_settings())
    store.upsert_products([(Product(id="P1", title="Navy hoodie", attributes={"baseColour": "Navy Blue"}), "h", "test")])
    photo = Image.new("RGB", (64, 64), (250, 250, 250))
    photo.paste((200, 30, 40), (8, 8, 56, 56))
    ev, boosts, _, warnings = image_evidence(photo, product_id="P1", run_ocr=False)
    assert boosts["wrong_item"] > 0 and any(e.kind == "colour_mismatch" for e in ev), (ev, warnings)
    store.put_tags([ProductTags(product_id="P1", colours=[NamedColour(name_en="Red", name_zh="红色", rgb=(200, 30, 40), share=0.9)])])
    ev, boosts, _, _ = image_evidence(photo, product_id="P1", run_ocr=False)
    assert boosts["wrong_item"] == 0 and any(e.kind == "colour_match" for e in ev)
    _, _, _, warnings = image_evidence(photo, product_id="NOPE", run_ocr=False)
    assert warnings  # an unknown product is reported, not fatal


def test_ocr_text_in_photo_becomes_evidence(home):
    import os

    from PIL import ImageDraw, ImageFont

    font_path = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    if not os.path.exists(font_path):
        pytest.skip("CJK font not installed")
    pytest.importorskip("rapidocr_onnxruntime")
    img = Image.new("RGB", (420, 90), (255, 255, 255))
    ImageDraw.Draw(img).text((10, 20), "外包装破损", fill=(0, 0, 0), font=ImageFont.truetype(font_path, 40))
    ev, _, ocr_text, warnings = image_evidence(img, product_id=None, run_ocr=True)
    assert "破损" in ocr_text, warnings
    assert any(e.source == "ocr" for e in ev)
    r = triage("看看这张图", image=img, use_classifier=False, use_sentiment=False)
    assert r.issue_type == "logistics_damage" and any(e.source == "ocr" and e.kind == "cue" for e in r.evidence)
