"""The checker: normalise, tell the language of each sentence, then run the passes and map offsets back.

Pipeline per text: normalise (width, traditional, zero-width, spacing, numerals; see normalise.py) →
language per sentence (language.py) → one Aho-Corasick pass per rule set, each hit kept only in sentences
of a language that rule set covers → per-hit context (exceptions, clause cues, product category, price
facts, 最 segmentation) → compositional claims pass (claims.py, when present) → learned clause classifier
(classifier.py, when present and available) on clauses no rule decided → drop overlaps → offsets mapped
back to the original text. A sentence in a language without rules makes the verdict `unchecked`, never
`clean`.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import ModuleType
from typing import Any

from shopmind.compliance import context as ctxmod
from shopmind.compliance import judge
from shopmind.compliance import language as langmod
from shopmind.compliance import prices
from shopmind.compliance.categories import normalise_category
from shopmind.compliance.hits import Hit
from shopmind.compliance.lexicon import LANGUAGES, WORD_BOUNDARY_LANGUAGES, Rule, RuleSet, fold, load_ruleset
from shopmind.compliance.models import ComplianceReport, PriceContext
from shopmind.compliance.normalise import Normalised, normalise
from shopmind.domain import Finding
from shopmind.errors import BadInput

MAX_CHARS = 100_000
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
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


# Which sentence languages each rule set covers: the zh and en sets both read zh and en sentences (brand
# English inside Chinese copy, and NO1/TOP1 anywhere); the best-effort sets read only their own language.
_COVERS: dict[str, frozenset[str]] = {
    "zh": frozenset({"zh", "en"}), "en": frozenset({"zh", "en"}),
    **{lang: frozenset({lang}) for lang in LANGUAGES if lang not in {"zh", "en"}},
}


def _covers(set_lang: str, langs: set[str]) -> frozenset[str]:
    """Sentence languages one rule set reads in this text. The zh and en sets also read sentences in
    languages without rules (αβγ NO.1, a Russian line with 全网第一): what they find there is real, and
    the verdict stays `unchecked` when they find nothing."""
    base = _COVERS[set_lang]
    if set_lang in {"zh", "en"}:
        return base | frozenset(lang for lang in langs if lang not in langmod.CHECKED)
    return base


def _validate_facts(facts: object) -> dict[str, str] | None:
    """Product facts (attribute name → value) as plain strings; anything else is a BadInput."""
    if facts is None:
        return None
    if not isinstance(facts, Mapping):
        raise BadInput("facts must be a mapping of attribute name to value",
                       detail={"type": type(facts).__name__})
    return {str(k): "" if v is None else str(v) for k, v in facts.items()}


def _judge_rule(rule: Rule, text: str, folded: str, start: int, end: int, category: str | None,
                price_context: PriceContext | None) -> Hit | None:
    """Apply one rule's context logic to a hit; None means the hit is not a finding here."""
    if rule.severity == "clean":
        return None  # a known non-claim: its clause is decided (see _rule_pass), nothing to report
    if rule.language in WORD_BOUNDARY_LANGUAGES and not ctxmod.ascii_word_boundary(folded, start, end):
        return None
    if rule.exceptions and ctxmod.in_exception(text, start, end, rule.exceptions, folded):
        return None
    c_left, c_right = ctxmod.clause_bounds(text, start, end)
    before, clause = folded[c_left:start], folded[c_left:c_right]
    if any(p in before for p in rule.skip_before) or any(p in clause for p in rule.skip_context):
        return None
    severity, why_zh, why_en = rule.severity, rule.why_zh, rule.why_en
    if severity == "violation" and any(p in clause for p in rule.borderline_context):
        severity = "borderline"
    if severity == "violation" and rule.borderline_sentence_context:
        s_left, s_right = ctxmod.sentence_bounds(text, start, end)
        if any(p in folded[s_left:s_right] for p in rule.borderline_sentence_context):
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
    starts: list[int] = []  # kept hits never overlap, so sorted starts (and their ends) answer overlap by bisect
    ends: list[int] = []
    for h in order:
        i = bisect_left(starts, h.end)
        if i > 0 and ends[i - 1] > h.start:
            continue
        pos = bisect_left(starts, h.start)
        starts.insert(pos, h.start)
        ends.insert(pos, h.end)
        kept.append(h)
    # One claim per clause: a borderline hit beside a violation of the same kind (绝对是首选) is that claim.
    claims = {(k.category, k.clause) for k in kept if k.severity == "violation"}
    kept = [h for h in kept if h.severity == "violation" or (h.category, h.clause) not in claims]
    return sorted(kept, key=lambda h: h.start)


@dataclass
class Analysis:
    """Everything one scan learns: hits in ORIGINAL offsets, and which languages were (not) checked."""

    hits: list[Hit]
    language: str
    languages: list[str] = field(default_factory=list)
    unchecked_languages: list[str] = field(default_factory=list)


@lru_cache(maxsize=4)
def _optional_pass(name: str) -> ModuleType | None:
    """A sibling pass module (claims, classifier) if it is installed; a broken module still raises."""
    full = f"shopmind.compliance.{name}"
    if importlib.util.find_spec(full) is None:
        return None
    return importlib.import_module(full)


class _SentenceIndex:
    """Which language each normalised offset belongs to (bisect over sentence starts)."""

    def __init__(self, sents: list[langmod.Sentence]) -> None:
        self.sents = sents
        self.starts = [s.start for s in sents]

    def language_at(self, pos: int) -> str:
        if len(self.sents) == 1:
            return self.sents[0].language
        return self.sents[max(bisect_right(self.starts, pos) - 1, 0)].language


def _rule_pass(norm: str, folded: str, index: _SentenceIndex, langs: set[str], cat: str | None,
               price_context: PriceContext | None, seen: list[int] | None = None) -> list[Hit]:
    """Literal-term hits judged in context; `seen` collects the start of every term occurrence, findings or
    not (最后一件, 第一眼 and a price backed by facts are decisions too, which the classifier must not undo)."""
    hits: list[Hit] = []
    for set_lang in LANGUAGES:
        covers = _covers(set_lang, langs)
        if not covers & langs:
            continue
        rs = load_ruleset(set_lang)
        for start, end, _term, rule_ids in rs.iter_hits(folded, folded=True):
            if index.language_at(start) not in covers:
                continue
            if seen is not None:
                seen.append(start)
            for rule_id in rule_ids:
                if rs.superlative is not None and rule_id == rs.superlative.id:
                    hit = _judge_superlative(rs, norm, start)
                else:
                    hit = _judge_rule(rs.rules[rule_id], norm, folded, start, end, cat, price_context)
                if hit is not None:
                    hits.append(hit)
    return hits


def _claims_pass(norm: str, index: _SentenceIndex, langs: set[str], cat: str | None,
                 facts: dict[str, str] | None) -> list[Hit]:
    """Compositional claim rules (claims.py, written as data per law article and industry), over the
    sentences each set covers like the literal rules: English claims inside Chinese copy count too."""
    claims = _optional_pass("claims")
    if claims is None:
        return []
    hits: list[Hit] = []
    for lang in ("zh", "en"):
        covers = _covers(lang, langs)
        if not covers & langs or (lang == "en" and not _LATIN_WORD.search(norm)):
            continue
        hits += [h for h in claims.scan_claims(norm, cat, facts, language=lang)
                 if index.language_at(h.start) in covers]
    return hits


def _classifier_pass(norm: str, index: _SentenceIndex, decided: list[Hit], seen: list[int]) -> list[Hit]:
    """The learned clause classifier, only on clauses no rule or claim decided (rules win where certain):
    a clause holding a finding, or a rule term the rules judged not to be a claim, is decided."""
    clf = _optional_pass("classifier")
    if clf is None or not clf.available():
        return []
    taken = [h.clause for h in decided] + [ctxmod.clause_bounds(norm, p, p + 1) for p in seen]
    out = []
    for h in clf.classify_clauses(norm, language="zh"):
        if index.language_at(h.start) != "zh":
            continue
        if any(c0 < h.end and h.start < c1 for c0, c1 in taken):
            continue
        out.append(h)
    return out


def _to_original(norm: Normalised, hit: Hit) -> Hit:
    """The hit in original offsets. A 最 rewrite (很 + the word after 最) takes that word from the original,
    so 最舒適 becomes 很舒適, not a simplified 很舒适."""
    if norm.identity_offsets and norm.text == norm.original:
        return hit
    start, end = norm.span(hit.start, hit.end)
    c0, c1 = norm.span(*hit.clause)
    replacement = hit.replacement
    if replacement and hit.rule_id.endswith("superlative_zui"):
        tail = hit.end - hit.start - 1
        replacement = replacement[:len(replacement) - tail] + norm.original[start + 1:end]
    return replace(hit, start=start, end=end, clause=(min(c0, start), max(c1, end)), replacement=replacement)


def analyse(text: str, category: str | None = None, price_context: PriceContext | None = None,
            language: str | None = None, facts: Mapping[str, Any] | None = None,
            classifier: bool = True) -> Analysis:
    """Run every pass on `text` (validated); hits come back in the original text's offsets."""
    text = _validate(text)
    cat = normalise_category(category)
    fact_map = _validate_facts(facts)
    norm = normalise(text)
    ntext = norm.text
    if not ntext.strip():
        raise BadInput("text is empty (only invisible or format characters)")
    if language is not None:
        if language == "mixed":
            sents = [langmod.Sentence(0, len(ntext), "zh")]
        elif language in LANGUAGES:
            sents = [langmod.Sentence(0, len(ntext), language)]
        else:
            raise BadInput(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    else:
        sents = langmod.sentences(ntext)
    index = _SentenceIndex(sents)
    langs = {s.language for s in sents}
    folded = fold(ntext)
    use_classifier = classifier and "zh" in langs
    seen: list[int] = []
    hits = _rule_pass(ntext, folded, index, langs, cat, price_context, seen if use_classifier else None)
    hits += _claims_pass(ntext, index, langs, cat, fact_map)
    if use_classifier:
        hits += _classifier_pass(ntext, index, hits, seen)
    kept = [_to_original(norm, h) for h in _drop_overlaps(hits)]
    if classifier:  # the optional LLM judge reviews borderline clauses; off by default (compliance_llm_judge)
        from shopmind.config import get_settings

        kept = judge.review_if_enabled(text, kept, get_settings())
    overall, seen, unchecked = langmod.summary(sents)
    embedded = langmod.embedded_scripts(ntext, sents)
    if embedded:
        seen, unchecked = seen + embedded, unchecked + embedded
        overall = "mixed" if overall != embedded[0] else overall
    return Analysis(kept, overall, seen, unchecked)


def scan(text: str, category: str | None = None, price_context: PriceContext | None = None,
         language: str | None = None, facts: Mapping[str, Any] | None = None, classifier: bool = True) -> list[Hit]:
    """All hits in `text` (validated), ordered by position, in the original text's offsets."""
    return analyse(text, category, price_context, language, facts, classifier).hits


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
    """Compile every rule set and load jieba's dictionary and the normalisation table now, so the first
    real check is fast."""
    for lang in LANGUAGES:
        load_ruleset(lang)
    normalise("國家級ＮＯ．１")
    ctxmod.superlative_span("这是最好的", 2)
    analyse("这款最好的面霜，三天见效，医生推荐。Best cream, cures acne.", "cosmetics")  # claims + classifier load


def verdict_of(findings: list[Finding], unchecked_languages: list[str]) -> str:
    """violation > unchecked (a language we have no rules for) > borderline > clean."""
    if any(f.severity == "violation" for f in findings):
        return "violation"
    if unchecked_languages:
        return "unchecked"
    return "borderline" if findings else "clean"


def check(text: str, category: str | None = None, price_context: PriceContext | dict | None = None,
          facts: Mapping[str, Any] | None = None, classifier: bool = True) -> ComplianceReport:
    """Check one ad text against the 广告法 (zh), FTC-style (en) and best-effort ja/ko/fr/de/es rules.

    `facts` are the product's attributes (e.g. {"特殊化妆品注册证": "国妆特字…", "功效": "美白"}); claim rules
    use them to tell a registered claim from an unregistered one. `classifier=False` runs the rules only."""
    t0 = time.perf_counter()
    if isinstance(price_context, dict):
        price_context = PriceContext.model_validate(price_context)
    result = analyse(text, category, price_context, facts=facts, classifier=classifier)
    findings = [to_finding(text, h) for h in result.hits]
    return ComplianceReport(text=text, language=result.language, languages=result.languages,
                            unchecked_languages=result.unchecked_languages, category=normalise_category(category),
                            verdict=verdict_of(findings, result.unchecked_languages), findings=findings,
                            took_ms=(time.perf_counter() - t0) * 1000)
