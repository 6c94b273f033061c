"""Sentiment model: fitting, persistence, honest protocol choice, CSV validation, real data."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from shopmind.errors import BadInput
from shopmind.eval.sentiment import evaluate_sentiment, read_reviews
from shopmind.service.embedcache import EmbeddingCache
from shopmind.service.sentiment import BUNDLED_MODEL, SentimentModel, char_counts, file_sha256, fit_sentiment

POS = ["质量很好，很满意", "物流很快，包装完好", "性价比高，推荐购买", "非常喜欢，还会再来", "做工精细，好评",
       "味道不错，下次还买", "穿着舒服，尺码标准", "客服态度很好", "屏幕清晰，运行流畅", "宝贝收到了，和描述一样",
       "Great quality, very happy", "Fast delivery and works perfectly", "Love it, would buy again",
       "Excellent value for money", "Comfortable and fits well", "东西挺好的，孩子很喜欢", "房间干净，服务周到",
       "书的印刷很清楚，内容精彩", "水果新鲜，个头大", "洗完头发很顺滑"]
NEG = ["质量太差了，不推荐", "物流太慢，等了十天", "用了两天就坏了", "完全是假货，差评", "客服态度恶劣",
       "味道很难吃，退货", "尺码偏小，穿不上", "包装破损，东西也坏了", "屏幕有坏点，很失望", "和描述完全不一样",
       "Terrible quality, broke in a day", "Very slow delivery, never again", "Waste of money",
       "Customer service ignored me", "Does not fit and feels cheap", "水果烂了好几个", "房间很脏，有异味",
       "书是盗版的，字都模糊", "洗发水用了头皮痒", "电池不耐用，半天就没电"]


def _write_csv(path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "cat", "label", "review"])
        for i, t in enumerate(POS + NEG):
            w.writerow([i, "zh" if any("\u4e00" <= c <= "\u9fff" for c in t) else "en", 1 if i < len(POS) else 0, t])
        w.writerow([99, "zh", "x", "标签坏了的一行"])
    return path


def test_fit_save_load_and_predict(home, tmp_path):
    csv_path = _write_csv(tmp_path / "r.csv")
    reviews = read_reviews(csv_path)
    assert reviews.bad_rows == 1 and len(reviews.texts) == 40
    emb = EmbeddingCache(tmp_path / "cache").embed(reviews.texts)
    model = fit_sentiment(char_counts(reviews.texts), reviews.labels, np.arange(40), emb, combiner_share=0.3)
    model.meta = {"train_sha256": file_sha256(csv_path)}
    again = SentimentModel.load(model.save(tmp_path / "m.npz"))
    p = again.predict_proba(reviews.texts, embeddings=emb)
    assert ((p >= 0.5).astype(int) == reviews.labels).mean() >= 0.9  # it can at least fit its training rows
    assert np.allclose(p, model.predict_proba(reviews.texts, embeddings=emb), atol=1e-2)  # idf stored as float16

    # the training file is detected by hash and scored by cross-validation, never by training accuracy
    report = evaluate_sentiment(csv_path, sample=40, folds=4, model_path=tmp_path / "m.npz",
                                cache=EmbeddingCache(tmp_path / "cache"))
    assert report["protocol"] == "cv" and report["n"] == 40 and report["folds"] == 4
    assert set(report["per_category"]) == {"zh", "en"}
    assert {"accuracy", "macro_f1", "n"} <= set(report["baseline"])
    assert 0.0 <= report["accuracy"] <= 1.0 and "timing" in report
    json.dumps(report, ensure_ascii=False)


def test_csv_without_required_columns_is_bad_input(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,score\nhello,1\n", encoding="utf-8")
    with pytest.raises(BadInput):
        read_reviews(bad)
    with pytest.raises(BadInput):
        read_reviews(tmp_path / "missing.csv")


def test_bundled_model_out_of_domain_on_waimai(home):
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "reviews" / "waimai_10k.csv"
    if not data.exists():
        pytest.skip("shared review data not available")
    if not BUNDLED_MODEL.exists():
        pytest.skip("bundled sentiment model not trained (scripts/train_sentiment.py)")
    report = evaluate_sentiment(data, sample=120)
    assert report["protocol"] == "model" and report["n"] == 120
    assert report["accuracy"] >= 0.7 and report["baseline"]["accuracy"] >= 0.6


def test_embedding_cache_persists_only_when_asked(tmp_path):
    calls = []

    def fake_embed(texts):  # counts calls; real vectors are covered by the tests above
        calls.append(list(texts))
        return np.ones((len(texts), 384), np.float32)

    EmbeddingCache(tmp_path / "c", embed=fake_embed, persist=False).embed(["a", "b", "a"])
    assert calls == [["a", "b"]] and not (tmp_path / "c").exists()
    EmbeddingCache(tmp_path / "d", embed=fake_embed).embed(["a", "b"])
    assert len(list((tmp_path / "d").glob("*.npz"))) == 1
    from shopmind.service import embedcache
    embedcache._INDEXES.clear()  # a new process: vectors come from disk, nothing is recomputed
    out = EmbeddingCache(tmp_path / "d", embed=fake_embed).embed(["b", "a"])
    assert len(calls) == 2 and out.shape == (2, 384)


def test_bundled_model_on_clear_messages(home):
    if not BUNDLED_MODEL.exists():
        pytest.skip("bundled sentiment model not trained (scripts/train_sentiment.py)")
    from shopmind.service.sentiment import analyse

    texts = ["东西很好，谢谢", "发错货了，气死了", "This is terrible, it broke after one day", "Great product, love it"]
    assert [r.label for r in analyse(texts)] == ["positive", "negative", "negative", "positive"]
    mixed = analyse(["不错", " "])  # one bad item does not sink the batch
    assert mixed[0].label == "positive" and mixed[1].label is None and mixed[1].error
