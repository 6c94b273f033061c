"""The checker: one automaton pass per language, then context rules decide each hit's fate.

Pipeline per text: detect language → Aho-Corasick hits → per-hit context (exceptions, clause cues,
product category, price facts, 最 segmentation) → drop hits nested in longer ones → Findings.
"""

from __future__ import annotations

import time

from shopmind.compliance import context as ctxmod
from shopmind.compliance import prices
from shopmind.compliance.categories import normalise_category
from shopmind.compliance.hits import Hit
from shopmind.compliance.lexicon import Rule, RuleSet, fold, load_ruleset
from shopmind.compliance.models import ComplianceReport, PriceContext
from shopmind.domain import Finding
from shopmind.errors import BadInput

MAX_CHARS = 100_000
_REASON_ZH = {
    "never_charged": "（价格记录中从未以该价格成交）",
    "above_reference_window": "（高于促销前七日内最低成交价）",
    "promotion_over": "（促销已结束）",
    "deadline_later_than_claimed": "（实际促销截止时间晚于所称时限）",
}
_REASON_EN = {
    "never_charged": " (never charged at that price in the history)",
    "above_reference_window": " (above the lowest price in the 7 days before the promotion)",
    "promotion_over": " (the promotion has already ended)",
    "deadline_later_than_claimed": " (the real promotion ends later than claimed)",
}


def _validate(text: object) -> str:
    if not isinstance(text, str):
        raise BadInput("text must be a string", detail={"type": type(text).__name__})
    if not text.strip():
        raise BadInput("text is empty")
    if len(text) > MAX_CHARS:
        raise BadInput(f"text too long ({len(text)} chars, max {MAX_CHARS})")
    return text


def _rulesets(language: str) -> list[RuleSet]:
    if language == "mixed":
        return [load_ruleset("zh"), load_ruleset("en")]
    return [load_ruleset(language)]


def _judge_rule(rule: Rule, text: str, folded: str, start: int, end: int, category: str | None,
                price_context: PriceContext | None) -> Hit | None:
    """Apply one rule's context logic to a hit; None means the hit is not a finding here."""
    if rule.language == "en" and not ctxmod.ascii_word_boundary(folded, start, end):
        return None
    if rule.exceptions and ctxmod.in_exception(text, start, end, rule.exceptions, folded):
        return None
    c_left, c_right = ctxmod.clause_bounds(text, start, end)
    before, clause = folded[c_left:start], folded[c_left:c_right]
    if any(fold(p) in before for p in rule.skip_before) or any(fold(p) in clause for p in rule.skip_context):
        return None
    severity, why_zh, why_en = rule.severity, rule.why_zh, rule.why_en
    if severity == "violation" and any(fold(p) in clause for p in rule.borderline_context):
        severity = "borderline"
    if category is not None and category in rule.by_category:
        severity = rule.by_category[category]
        if severity == "skip":
            return None
    if rule.handler in {"original_price", "urgency"}:
        term = folded[start:end]
        if rule.handler == "original_price":
            verdict = prices.judge_original_price(prices.parse_claimed_price(text, end), price_context)
        else:
            verdict = prices.judge_urgency(term, rule.today_terms, price_context)
        if verdict is None:
            return None
        severity, reason = verdict
        if reason in {"unverified", "no_number"}:
            why_zh, why_en = rule.unverified_why_zh or why_zh, rule.unverified_why_en or why_en
        else:
            why_zh, why_en = why_zh + _REASON_ZH.get(reason, ""), why_en + _REASON_EN.get(reason, "")
    replacement = rule.rewrites.get(folded[start:end], rule.rewrite)
    return Hit(start, end, rule.id, rule.category, severity, rule.legal_basis, why_zh, why_en, replacement,
               (c_left, c_right))


def _judge_superlative(rs: RuleSet, text: str, start: int) -> Hit | None:
    cfg = rs.superlative
    assert cfg is not None
    severity, s, e = ctxmod.classify_superlative(text, start, cfg)
    if severity is None:
        return None
    why_zh, why_en = (cfg.why_zh, cfg.why_en) if severity == "violation" else (cfg.borderline_why_zh, cfg.borderline_why_en)
    return Hit(s, e, cfg.id, cfg.category, severity, cfg.legal_basis, why_zh, why_en, cfg.rewrite + text[s + 1:e],
               ctxmod.clause_bounds(text, s, e))


_RANK = {"violation": 0, "borderline": 1}


def _drop_overlaps(hits: list[Hit]) -> list[Hit]:
    """Overlapping hits are one claim seen twice (全网第一 ⊃ 第一, "the best" ∩ "best in the world"):
    keep the most severe, then the longest."""
    order = sorted(hits, key=lambda h: (_RANK.get(h.severity, 2), -(h.end - h.start), h.start))
    kept: list[Hit] = []
    for h in order:
        if any(k.start < h.end and h.start < k.end for k in kept):
            continue
        kept.append(h)
    # One claim per clause: a borderline hit beside a violation of the same kind (绝对是首选) is that claim.
    kept = [h for h in kept if h.severity == "violation" or not any(
        k.severity == "violation" and k.category == h.category and k.clause == h.clause for k in kept)]
    return sorted(kept, key=lambda h: h.start)


def scan(text: str, category: str | None = None, price_context: PriceContext | None = None,
         language: str | None = None) -> list[Hit]:
    """All hits in `text` (validated), ordered by position."""
    text = _validate(text)
    cat = normalise_category(category)
    lang = language or ctxmod.detect_language(text)
    folded = fold(text)
    hits: list[Hit] = []
    for rs in _rulesets(lang):
        for start, end, _term, rule_ids in rs.iter_hits(text):
            for rule_id in rule_ids:
                if rs.superlative is not None and rule_id == rs.superlative.id:
                    hit = _judge_superlative(rs, text, start)
                else:
                    hit = _judge_rule(rs.rules[rule_id], text, folded, start, end, cat, price_context)
                if hit is not None:
                    hits.append(hit)
    return _drop_overlaps(hits)


def fix_region(text: str, hit: Hit) -> tuple[int, int, str]:
    """(left, right, new text) of the edit that fixes one hit: its span replaced, or its clause dropped
    when the rule has no rewrite; when the clause was the whole sentence, the sentence goes too."""
    if hit.replacement is not None:
        return hit.start, hit.end, hit.replacement
    left, right = hit.clause
    s_left, s_right = ctxmod.sentence_bounds(text, hit.start, hit.end)
    if not any(ch.isalnum() for ch in text[s_left:left] + text[right:s_right]):
        while s_left < len(text) and text[s_left] == " ":
            s_left += 1
        while s_right < len(text) and text[s_right] == " ":
            s_right += 1
        return s_left, s_right, ""
    if right < len(text) and text[right] in "，,；;、：:":
        right += 1
        while right < len(text) and text[right] == " ":
            right += 1
    elif left > 0 and text[left - 1] in "，,；;、：:":
        left -= 1
    return left, right, ""


def apply_fix(text: str, hit: Hit) -> str:
    """Text with one hit fixed (see fix_region)."""
    left, right, new = fix_region(text, hit)
    return text[:left] + new + text[right:]


def to_finding(text: str, hit: Hit) -> Finding:
    """Freeze a hit into the shared Finding model, with the sentence and its suggested rewrite."""
    s_left, s_right = ctxmod.sentence_bounds(text, hit.start, hit.end)
    sentence = text[s_left:s_right]
    lead = len(sentence) - len(sentence.lstrip())
    s_left, sentence = s_left + lead, sentence.lstrip()
    local = Hit(**{**hit.__dict__, "start": hit.start - s_left, "end": hit.end - s_left,
                   "clause": (hit.clause[0] - s_left, hit.clause[1] - s_left)})
    return Finding(span=text[hit.start:hit.end], start=hit.start, end=hit.end, category=hit.category,
                   severity=hit.severity, rule_id=hit.rule_id, legal_basis=hit.legal_basis, why_zh=hit.why_zh,
                   why_en=hit.why_en, sentence=sentence, rewrite=apply_fix(sentence, local).strip())


def warm_up() -> None:
    """Compile both rule sets and load jieba's dictionary now, so the first real check is fast."""
    load_ruleset("zh"), load_ruleset("en")
    ctxmod.superlative_span("这是最好的", 2)


def check(text: str, category: str | None = None, price_context: PriceContext | dict | None = None) -> ComplianceReport:
    """Check one ad text against the 广告法 (zh) or FTC-style (en) rules; see ComplianceReport."""
    t0 = time.perf_counter()
    if isinstance(price_context, dict):
        price_context = PriceContext.model_validate(price_context)
    hits = scan(text, category, price_context)
    findings = [to_finding(text, h) for h in hits]
    verdict = ("violation" if any(f.severity == "violation" for f in findings)
               else "borderline" if findings else "clean")
    return ComplianceReport(text=text, language=ctxmod.detect_language(text), category=normalise_category(category),
                            verdict=verdict, findings=findings, took_ms=(time.perf_counter() - t0) * 1000)
