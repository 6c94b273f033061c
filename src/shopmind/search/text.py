"""Tokenising and bilingual expansion for lexical search.

Tokens come from `models.tokenizer` (jieba for Chinese, folded English words). A small zh<->en
glossary built from our colour palette and category vocabulary lets `红色连衣裙` match an English catalog ("red dress") and vice versa.
"""

from __future__ import annotations

from functools import lru_cache

from shopmind.models.tokenizer import WORD, fold, tokenize
from shopmind.understand.colours import PALETTE
from shopmind.understand.tagging import default_vocab

__all__ = ["expand_query", "glossary", "tokenize"]


@lru_cache(maxsize=1)
def glossary() -> dict[str, list[str]]:
    """zh term -> en tokens and en token -> zh terms (colours and categories)."""
    pairs: list[tuple[str, str]] = [(p.zh, p.en) for p in PALETTE]
    pairs += [("红", "red"), ("蓝", "blue"), ("黑", "black"), ("白", "white"), ("绿", "green"), ("黄", "yellow"), ("粉", "pink"), ("灰", "grey"), ("紫", "purple"), ("棕", "brown")]
    for entries in default_vocab().values():
        pairs += [(e["zh"], e["en"]) for e in entries]
    pairs += [("裙子", "dress"), ("裙", "skirt"), ("鞋", "shoe"), ("包", "bag"), ("男", "men"), ("女", "women"), ("男士", "men"), ("女士", "women"),
              ("上衣", "top"), ("外套", "jacket"), ("裤子", "trouser"), ("手表", "watch"), ("眼镜", "sunglass"), ("钱包", "wallet"), ("纯棉", "cotton"),
              ("棉", "cotton"), ("真丝", "silk"), ("牛仔", "denim"), ("皮革", "leather"), ("灰色", "gray")]
    table: dict[str, list[str]] = {}
    for zh, en in pairs:
        en_tokens = [fold(w) for w in WORD.findall(en.lower())]
        table.setdefault(zh, []).extend(en_tokens)
        for tok in en_tokens:
            table.setdefault(tok, []).append(zh)
    return {k: sorted(set(v)) for k, v in table.items()}


def expand_query(tokens: list[str]) -> list[str]:
    """Query tokens plus their glossary translations (kept once each)."""
    table = glossary()
    out = list(tokens)
    for tok in tokens:
        out.extend(table.get(tok, []))
    seen: set[str] = set()
    return [t for t in out if not (t in seen or seen.add(t))]
