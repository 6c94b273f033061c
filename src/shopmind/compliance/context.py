"""Context around a term hit: clause bounds, literal exceptions, language, and the 最-superlative judgement.

The 最 rule needs word boundaries: jieba tells 最近/最后 (single words, facts) from 最 + adjective, and the
clause around it tells a ranking claim (是…最美的单品) from a within-product one (最大的亮点在于…).
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from functools import lru_cache

from shopmind.compliance.lexicon import SuperlativeConfig

_CLAUSE_BREAK = re.compile(r"[，,。！？!?；;\n：:、…]|\.(?=\s|$)")
_SENTENCE_BREAK = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def detect_language(text: str) -> str:
    """`zh`, `en` or `mixed` by script counts; Chinese copy with a few brand words stays `zh`."""
    cjk = len(_CJK.findall(text))
    latin_words = len(re.findall(r"[A-Za-z]{2,}", text))
    if cjk == 0:
        return "en"
    if latin_words >= 4 and latin_words * 2 >= cjk:
        return "mixed"
    return "zh"


_WINDOW = 256
_LONG = 4096


@lru_cache(maxsize=8)
def _breaks(text: str, pattern: re.Pattern) -> tuple[list[int], list[int]]:
    """Start and end offsets of every break in a long text, found once per text and pattern."""
    found = [(m.start(), m.end()) for m in pattern.finditer(text)]
    return [a for a, _ in found], [b for _, b in found]


def _bounds(text: str, start: int, end: int, pattern: re.Pattern) -> tuple[int, int]:
    """Break-delimited bounds around [start, end). Short texts search around the hit; long ones bisect a
    per-text list of breaks on both sides (searching from the hit to the next break, or from the text's
    start to the hit, for every hit made long break-less texts quadratic)."""
    if len(text) > _LONG:
        starts, ends = _breaks(text, pattern)
        j = bisect_left(starts, end)
        right = len(text)
        if j < len(starts):
            right = ends[j] if text[starts[j]:ends[j]] in "。！？!?." else starts[j]
        i = bisect_right(ends, start) - 1
        return (ends[i] if i >= 0 else 0), right
    m = pattern.search(text, end)
    right = m.start() if m else len(text)
    if m and m.group(0) in "。！？!?.":
        right = m.end()  # keep the sentence's own final mark
    left = -1
    lo = max(0, start - _WINDOW)
    for m in pattern.finditer(text, lo, start):
        left = m.end()
    if left < 0:
        left = 0
        if lo > 0:
            for m in pattern.finditer(text, 0, start):
                left = m.end()
    return left, right


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start/end of the comma-level clause holding [start, end)."""
    left, right = _bounds(text, start, end, _CLAUSE_BREAK)
    while left < start and text[left] == " ":
        left += 1
    if right > left and text[right - 1] in "。！？!?.":
        right -= 1
    return left, right


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start/end of the full sentence holding [start, end), end mark included."""
    return _bounds(text, start, end, _SENTENCE_BREAK)


@lru_cache(maxsize=65536)
def _exception_windows(term: str, exceptions: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """(offset of `term` inside the phrase, folded phrase) for every place the term occurs in an exception
    phrase: computed once per term and rule, not once per hit."""
    out = []
    for phrase in exceptions:
        phrase_f = phrase.lower() if phrase.isascii() else phrase
        offset = phrase_f.find(term)
        while offset != -1:
            out.append((offset, phrase_f))
            offset = phrase_f.find(term, offset + 1)
    return tuple(out)


def in_exception(text: str, start: int, end: int, exceptions: tuple[str, ...], folded: str | None = None) -> bool:
    """True when the hit at [start, end) lies inside one of the literal exception phrases."""
    hay = folded if folded is not None else text
    for offset, phrase_f in _exception_windows(hay[start:end], exceptions):
        left = start - offset
        if left >= 0 and hay.startswith(phrase_f, left):
            return True
    return False


def ascii_word_boundary(text: str, start: int, end: int) -> bool:
    """For English terms: the hit must not sit inside a longer word (cure vs. secure)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    first, last = text[start], text[end - 1]
    ok_left = not (first.isalnum() and before.isalnum())
    ok_right = not (last.isalnum() and after.isalnum())
    return ok_left and ok_right


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=4096)
def _tokens(clause: str) -> tuple[tuple[str, int], ...]:
    out, pos = [], 0
    for tok in _jieba().cut(clause, HMM=True):
        out.append((tok, pos))
        pos += len(tok)
    return tuple(out)


def superlative_span(clause: str, offset: int) -> tuple[int, int, str]:
    """Span (relative to clause) of 最 plus the word it modifies, and that word, via jieba tokens."""
    toks = _tokens(clause)
    for i, (tok, pos) in enumerate(toks):
        if pos <= offset < pos + len(tok):
            if tok == "最" or pos != offset:
                if i + 1 < len(toks) and tok == "最":
                    nxt, npos = toks[i + 1]
                    return offset, npos + len(nxt), nxt
                return offset, offset + 1, ""
            return pos, pos + len(tok), tok[1:]
    return offset, offset + 1, ""


def _ranks_product(rest: str, nouns: tuple[str, ...]) -> bool:
    """True when the words after 最为/最是 are a short adjective + 的 + a noun naming goods (单品, 选择)."""
    de = rest.find("的")
    if de < 1 or de > 6:
        return False
    tail = rest[de + 1:]
    return any(tail.startswith(n) or tail[2:].startswith(n) or tail[:6].endswith(n) for n in nouns)


def classify_superlative(text: str, start: int, cfg: SuperlativeConfig) -> tuple[str | None, int, int]:
    """Judge one 最 at `start`: (severity or None when not a claim, span start, span end) in text offsets."""
    if in_exception(text, start, start + 1, cfg.not_a_claim):
        return None, start, start + 1
    c_left, c_right = clause_bounds(text, start, start + 1)
    clause = text[c_left:c_right]
    rel = start - c_left
    s_rel, e_rel, word = superlative_span(clause, rel)
    span_start, span_end = c_left + s_rel, c_left + e_rel
    if not word.strip():
        return None, span_start, span_end
    before, after = clause[:rel], clause[rel + 1:]
    copula = next((c for c in cfg.copula_compounds if clause.startswith(c, rel)), "")
    # The adjective after 最 (or after 最为/最是): descriptive ones (最简单, 最为基础) do not rank.
    adjective = after[len(copula) - 1:] if copula else word
    if any(adjective.startswith(a) for a in cfg.descriptive_adjectives):
        return "borderline", span_start, span_end
    if any(m in after for m in cfg.within_product_after):
        return "borderline", span_start, span_end
    if any(v in before for v in cfg.effect_verbs_before):
        return "borderline", span_start, span_end
    if copula and _ranks_product(after[len(copula) - 1:], cfg.ranking_nouns):
        return "violation", span_start, span_end  # 最为实穿的单品: a category-level ranking
    if in_exception(text, start, start + 1, cfg.degree_compounds):
        return "borderline", span_start, span_end
    return "violation", span_start, span_end
