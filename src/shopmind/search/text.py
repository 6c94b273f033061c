"""Tokenising and bilingual expansion for lexical search.

Chinese is segmented with jieba (search mode, so 连衣裙 also yields 衣裙); English is lower-cased
word tokens with a light plural fold. A small zh<->en glossary built from our colour palette and
category vocabulary lets `红色连衣裙` match an English catalog ("red dress") and vice versa.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

from shopmind.understand.colours import PALETTE
from shopmind.understand.tagging import default_vocab

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_HAN = re.compile(r"[\u3400-\u9fff]+")
_STOP = {"the", "a", "an", "and", "or", "of", "for", "with", "in", "on", "to", "by", "but", "same", "style", "的", "和", "与", "款"}
_jieba_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:
        jieba.initialize()
    return jieba


def _fold(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lexical tokens of mixed Chinese/English text."""
    if not text:
        return []
    lowered = text.lower()
    tokens = [_fold(w) for w in _WORD.findall(lowered) if w not in _STOP]
    for run in _HAN.findall(text):
        tokens.extend(t for t in _jieba().lcut_for_search(run) if t.strip() and t not in _STOP)
    return tokens


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
        en_tokens = [_fold(w) for w in _WORD.findall(en.lower())]
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
