"""Word tokens of mixed Chinese/English product text, shared by lexical search and title taggers.

Chinese is segmented with jieba (search mode, so 连衣裙 also yields 衣裙); English is lower-cased
word tokens with a light plural fold. It lives below `understand` and `search` so both can use it.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
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


def fold(word: str) -> str:
    """Light English plural fold: dresses -> dress, accessories -> accessory."""
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
    tokens = [fold(w) for w in WORD.findall(lowered) if w not in _STOP]
    for run in _HAN.findall(text):
        tokens.extend(t for t in _jieba().lcut_for_search(run) if t.strip() and t not in _STOP)
    return tokens
