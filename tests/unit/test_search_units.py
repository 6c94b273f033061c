"""Pure search pieces: tokenising, bilingual expansion, filters, BM25, fusion metrics, MMR."""

import numpy as np
import pytest

from shopmind.domain import Product
from shopmind.errors import BadInput
from shopmind.eval.retrieval import ranking_metrics
from shopmind.search.hybrid import _mmr, parse_filter
from shopmind.search.lexical import LexicalIndex
from shopmind.search.text import expand_query, tokenize


def test_tokenize_mixed_chinese_english():
    toks = tokenize("女士红色连衣裙 Red Dresses")
    assert "红色" in toks and "连衣裙" in toks and "red" in toks and "dress" in toks


def test_bilingual_expansion():
    assert {"red", "dress"} <= set(expand_query(tokenize("红色连衣裙")))
    assert "黑色" in expand_query(tokenize("black shoes"))


def test_parse_filter_and_match(home):
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    f1, f2 = parse_filter("articleType=Dresses"), parse_filter("price<300")
    assert (f1.field, f1.op, f1.value) == ("articleType", "=", "Dresses")
    assert (f2.field, f2.op, f2.value) == ("price", "<", 300.0)
    store = open_store(get_settings())
    p = Product(id="1", title="t", price=199, attributes={"articleType": "Dresses"})
    store.upsert_products([(p, "h1", "test"), (Product(id="2", title="t"), "h2", "test")])
    assert "1" in store.filter_ids([f1, f2])
    assert "1" not in store.filter_ids([parse_filter("price>=200")])
    assert "2" not in store.filter_ids([f2])  # no price: excluded by a numeric filter
    with pytest.raises(BadInput):
        parse_filter("price<cheap")
    with pytest.raises(BadInput):
        parse_filter("nonsense")


def test_bm25_finds_chinese_and_cross_language(tmp_path):
    idx = LexicalIndex.build(["1", "2", "3"], ["Red Dress for women", "蓝色 T恤 纯棉", "black leather shoes"])
    idx.save(tmp_path / "bm25")
    idx = LexicalIndex.load(tmp_path / "bm25")
    assert idx.search("红色连衣裙")[0][0] == "1"
    assert idx.search("纯棉T恤")[0][0] == "2"
    assert idx.search("shoe", allowed={"1", "2"}) == []


def test_ranking_metrics_by_hand():
    m = ranking_metrics([["a", "b", "c"], ["x", "y", "z"]], [{"b"}, {"q"}])
    assert m["recall@1"] == 0.0 and m["recall@5"] == 0.5 and m["mrr"] == 0.25
    assert abs(m["ndcg@10"] - (1 / np.log2(3)) / 2) < 1e-4


def test_mmr_prefers_variety():
    v = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0]), "c": np.array([0.0, 1.0])}
    rel = {"a": 1.0, "b": 0.99, "c": 0.9}
    assert _mmr(list(v), rel, v, 2, diversity=0.0) == ["a", "b"]
    assert _mmr(list(v), rel, v, 2, diversity=0.5) == ["a", "c"]
