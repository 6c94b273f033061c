"""The one gate every published string passes: compliance + fact/image consistency, then rewrite or refuse.

Why one gate: posters, videos, live scripts, TTS and `write` each used to call the checker their own
way (or not at all), so a headline typed on the command line rendered unchecked. `guard()` is the
single decision: it checks the text with the 广告法 engine *and* against the product's facts (a
colour the facts or the photo contradict is not "clean"), and in rewrite mode returns a text that is
publishable, or says plainly that nothing is (`passed=False`, `text=""`).

Rewrites never add a claim. Fact contradictions are fixed first (the colour word cut, an invented
price's clause dropped). The engine's rule rewrite is accepted only when every word it adds is a
neutral connector (很, 十分, "very" …) or already in the original or the product facts; otherwise the
violating span is cut (a claim — disease, efficacy, endorsement — loses its clause), and of two
claim-free fixes the one keeping more of the merchant's words wins. A violation that still survives
loses its clause.

Defence in depth against evasion spellings: besides the engine's own view, the text is also checked
in a "shadow" form (NFKC width folding, zero-width characters and spaces inside CJK words removed,
第1 → 第一, common traditional characters simplified) whose characters map back to the original, so
a finding in the shadow removes the right original span.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from shopmind.domain import Finding
from shopmind.errors import BadInput, ShopmindError

Mode = Literal["rewrite", "refuse"]
Verdict = Literal["violation", "contradiction", "borderline", "clean", "unchecked"]
MAX_PASSES = 4

# Words a rewrite may add without adding a claim (intensifiers, articles, particles).
_NEUTRAL_ZH = set("很十分非常较的之一款")
_NEUTRAL_EN = {"a", "an", "the", "very", "really", "quite", "and", "is", "are", "of"}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z]+|\d+(?:\.\d+)?")
_CLAUSE_END = "，。；！？,.;!?\n"
# Traditional → simplified for the characters ad-law terms are made of (the engine's own normaliser
# converts everything with OpenCC; this small table keeps the shadow view independent of it).
_T2S = str.maketrans("國級頂極網價無雙獨絕對質優專醫療藥銷實領導權萬錢臺裡線驗證癒減體濕壓腸胃瘡癬",
                     "国级顶极网价无双独绝对质优专医疗药销实领导权万钱台里线验证愈减体湿压肠胃疮癣")
# Chinese punctuation stays as written: folding it changes nothing a regulator reads, and leaving it
# keeps the shadow identical to the text (one engine pass, not two) for ordinary Chinese copy.
_KEEP_PUNCT = set("，。：；！？（）、“”‘’《》【】…—")
_DIGIT_ZH = str.maketrans("0123456789", "〇一二三四五六七八九")


class GuardResult(BaseModel):
    """What may be published (`text`), whether it may (`passed`) and why.

    `verdict`, `findings` and `fact_findings` describe the text as given; `remaining` lists what is
    left (borderline at most) in the published `text`. `candidate` keeps the last attempt when nothing
    publishable was left, for a human to review; it is never to be published.
    """

    text: str
    original: str
    passed: bool
    verdict: Verdict
    language: str | None = None
    findings: list[Finding] = Field(default_factory=list)
    fact_findings: list[Finding] = Field(default_factory=list)
    remaining: list[Finding] = Field(default_factory=list)
    rewritten: bool = False
    refused: bool = False
    candidate: str | None = None
    notes: list[str] = Field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings + self.fact_findings if f.severity == "violation"]


# -- facts ------------------------------------------------------------------------------------------
def _product_facts(product: Any, facts: Any) -> Any:
    """A ProductFacts from what the caller has: ProductFacts, a Product, a dict of attributes, or None."""
    from shopmind.generate.facts import ProductFacts  # lazy: generate imports compliance

    if facts is not None and not isinstance(facts, (ProductFacts, dict)):
        raise BadInput("facts must be ProductFacts or a dict of attributes")
    if isinstance(facts, ProductFacts):
        return facts
    pairs: list[tuple[str, str]] = []
    title = price = category = description = None
    if product is not None:
        pairs += [(str(k), str(v)) for k, v in (product.attributes or {}).items() if str(v).strip()]
        title, price, category = product.title, product.price, product.category
        description = (product.description or None) and product.description[:600]
    if isinstance(facts, dict):
        pairs += [(str(k), str(v)) for k, v in facts.items() if v is not None and str(v).strip()]
    if product is None and not pairs:
        return None
    return ProductFacts(source="catalog" if product is not None else "attributes",
                        product_id=getattr(product, "id", None), title=title, price=price, category=category,
                        attributes=pairs, description=description)


def image_findings(text: str, facts: Any) -> list[Finding]:
    """Colour claims the product photo contradicts, judged against the image tags alone.

    The catalog row may agree with the copy (both say 红色) while the photo is blue: checking against
    the image colours only catches that."""
    if facts is None or not getattr(facts, "colours", None):
        return []
    from shopmind.generate.factcheck import check_facts

    image_only = facts.model_copy(update={"attributes": [], "title": "", "description": None, "selling_points": [],
                                          "price": None, "ocr_text": None})
    return [f.model_copy(update={"rule_id": "image.colour", "category": "image_text_mismatch"})
            for f in check_facts(text, image_only)
            if f.rule_id == "fact.colour"]


def fact_findings(text: str, facts: Any) -> list[Finding]:
    """Fact findings (attributes, price, numbers) plus image-colour contradictions, one per span."""
    if facts is None or not text.strip():
        return []
    from shopmind.generate.factcheck import check_facts

    out = check_facts(text, facts)
    seen = {(f.start, f.end) for f in out if f.severity == "violation"}
    out += [f for f in image_findings(text, facts) if (f.start, f.end) not in seen]
    return sorted(out, key=lambda f: f.start)


def combine_verdict(compliance_verdict: str, facts: list[Finding]) -> Verdict:
    """One verdict over compliance and consistency: a fact/image contradiction is never `clean`."""
    if compliance_verdict == "violation":
        return "violation"
    if any(f.severity == "violation" for f in facts):
        return "contradiction"
    if compliance_verdict == "unchecked":
        return "unchecked"
    if compliance_verdict == "borderline" or facts:
        return "borderline"
    return "clean"


# -- the engine, with the shadow view ---------------------------------------------------------------
@lru_cache(maxsize=1)
def _check_params() -> frozenset[str]:
    from shopmind import compliance

    return frozenset(inspect.signature(compliance.check).parameters)


@lru_cache(maxsize=256)
def known_category(category: str | None) -> str | None:
    """The category when the engine knows it; an unknown catalog category falls back to general rules."""
    if not category:
        return None
    from shopmind import compliance

    try:
        compliance.check("ok", category=category)
        return category
    except ShopmindError:
        return None


def _kwargs(category: str | None, price_context: Any, reg_facts: dict | None, language: str | None) -> dict:
    params = _check_params()
    kw: dict[str, Any] = {"category": category, "price_context": price_context}
    if reg_facts and "facts" in params:
        kw["facts"] = reg_facts
    if language and "language" in params:
        kw["language"] = language
    return kw


def _shadow(text: str) -> tuple[str, list[int]]:
    """The text as a regulator reads it, and for each of its characters the original index."""
    chars: list[str] = []
    index: list[int] = []
    n = len(text)
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":  # zero-width space/joiner, BOM, bidi marks
            continue
        if ch.isspace():
            prev = chars[-1] if chars else ""
            j = i + 1
            while j < n and (text[j].isspace() or unicodedata.category(text[j]) == "Cf"):
                j += 1
            nxt = text[j] if j < n else ""
            if _CJK.match(prev or " ") and _CJK.match(nxt or " "):
                continue  # 全 网 第 一 → 全网第一
        folded = ch if ch in _KEEP_PUNCT else unicodedata.normalize("NFKC", ch)
        for c in folded.translate(_T2S):
            chars.append(c)
            index.append(i)
    out = "".join(chars)
    # 第1 → 第一 (one character for one, so the index map still holds); TOP 1 / No1 → 第一名
    out = re.sub(r"(?<=第)\d", lambda m: m.group(0).translate(_DIGIT_ZH), out)
    return _sub_mapped(out, index, _NUMBER_ONE, "第一名")


_NUMBER_ONE = re.compile(r"(?i)(?<![a-z])(?:no|top)\s*[.#\-]?\s*1(?![\d.])")


def _sub_mapped(text: str, index: list[int], pattern: re.Pattern, repl: str) -> tuple[str, list[int]]:
    """`pattern.sub(repl, text)` that keeps each output character's original index."""
    out, idx, pos = [], [], 0
    for m in pattern.finditer(text):
        out.append(text[pos:m.start()])
        idx += index[pos:m.start()]
        if m.group(0) == repl:
            out.append(repl)
            idx += index[m.start():m.end()]
        else:
            out.append(repl)
            idx += [index[m.start()]] * (len(repl) - 1) + [index[m.end() - 1]]
        pos = m.end()
    out.append(text[pos:])
    idx += index[pos:]
    return "".join(out), idx


def _map_back(f: Finding, index: list[int], original: str) -> Finding:
    start = index[f.start] if f.start < len(index) else len(original)
    end = index[f.end - 1] + 1 if 0 < f.end <= len(index) else len(original)
    return f.model_copy(update={"span": original[start:end], "start": start, "end": end})


def _scan(text: str, category: str | None, price_context: Any, reg_facts: dict | None,
          language: str | None) -> tuple[str, str | None, list[Finding]]:
    """(verdict, language, findings) from the engine over the text and its shadow view."""
    from shopmind import compliance

    report = compliance.check(text, **_kwargs(category, price_context, reg_facts, language))
    findings = list(report.findings)
    verdict = report.verdict
    shadow, index = _shadow(text)
    if shadow != text and shadow.strip():
        extra = compliance.check(shadow, **_kwargs(category, price_context, reg_facts, language))
        taken = [(f.start, f.end) for f in findings]
        for f in extra.findings:
            g = _map_back(f, index, text)
            if not any(s < g.end and g.start < e for s, e in taken):
                findings.append(g.model_copy(update={"rule_id": (g.rule_id or "") + "+normalised"}))
                taken.append((g.start, g.end))
        if any(f.severity == "violation" for f in findings):
            verdict = "violation"
        elif findings and verdict == "clean":
            verdict = "borderline"
    return verdict, getattr(report, "language", None), sorted(findings, key=lambda f: f.start)


# -- rewriting without adding claims ----------------------------------------------------------------
def _tokens(text: str) -> set[str]:
    return {t.lower() for t in _TOKEN.findall(unicodedata.normalize("NFKC", text))}


def adds_claims(candidate: str, before: str, facts: Any = None) -> set[str]:
    """Words in `candidate` that are neither in `before`, nor in the facts, nor neutral connectors."""
    allowed = _tokens(before) | _NEUTRAL_ZH | _NEUTRAL_EN
    if facts is not None:
        for t in facts.texts():
            allowed |= _tokens(t)
    return _tokens(candidate) - allowed


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t\u3000]{2,}", " ", text)
    text = re.sub(r"\s+([，。；！？、,.;!?])", r"\1", text)
    text = re.sub(r"([，；、,;])\s*(?=[，。；！？、,.;!?])", "", text)
    text = re.sub(r"^[\s，。；！？、,.;!?:：的]+", "", text)
    text = re.sub(r"[\s，；、,;:：]+$", "", text)
    return text.strip()


# A claim (disease, efficacy, endorsement …) lives in its whole clause: cutting the verb would leave
# "失眠" behind. Single words (最, 第一, 顶级) are cut alone so the product name survives.
_CLAUSE_CATEGORIES = {"medical_claim", "guarantee_or_efficacy", "authority_endorsement", "superstition",
                      "comparative_disparagement"}


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    left = max((text.rfind(ch, 0, start) for ch in _CLAUSE_END + " "), default=-1) + 1
    rights = [i for i in (text.find(ch, end) for ch in _CLAUSE_END + " ") if i != -1]
    return left, (min(rights) if rights else len(text))


def remove_spans(text: str, findings: list[Finding]) -> str:
    """The text with each finding cut out (right to left, overlaps merged): a word-level finding
    loses its span, a claim its clause (up to punctuation or a space)."""
    spans = sorted({(f.start, f.end) if f.category not in _CLAUSE_CATEGORIES else _clause(text, f.start, f.end)
                    for f in findings if 0 <= f.start < f.end <= len(text)})
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    for s, e in reversed(merged):
        text = text[:s] + " " + text[e:]
    return _tidy(text)


def drop_clauses(text: str, findings: list[Finding]) -> str:
    """The text without each clause (between punctuation marks) that holds a finding."""
    cuts = set()
    for f in findings:
        if not 0 <= f.start <= f.end <= len(text):
            continue
        left = max((text.rfind(ch, 0, f.start) for ch in _CLAUSE_END), default=-1) + 1
        rights = [i for i in (text.find(ch, f.end) for ch in _CLAUSE_END) if i != -1]
        cuts.add((left, min(rights) + 1 if rights else len(text)))
    for left, right in sorted(cuts, reverse=True):
        text = text[:left] + text[right:]
    return _tidy(text)


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class _Gate:
    """One guard call's settings, so each re-check is the same check."""

    def __init__(self, category: str | None, facts: Any, reg_facts: dict | None, language: str | None,
                 price_context: Any) -> None:
        self.category, self.facts, self.reg_facts = category, facts, reg_facts
        self.language, self.price_context = language, price_context

    def judge(self, text: str) -> tuple[Verdict, str | None, list[Finding], list[Finding]]:
        if not _has_words(text):
            return "clean", None, [], []
        verdict, lang, comp = _scan(text, self.category, self.price_context, self.reg_facts, self.language)
        facts = fact_findings(text, self.facts)
        return combine_verdict(verdict, facts), lang, comp, facts

    def engine_rewrite(self, text: str) -> str:
        from shopmind import compliance

        kw = _kwargs(self.category, self.price_context, self.reg_facts, None)
        kw.pop("language", None)
        try:
            return compliance.rewrite(text, **kw).text
        except TypeError:  # an engine whose rewrite lacks a newer keyword
            return compliance.rewrite(text, category=self.category, price_context=self.price_context).text
        except (IndexError, ValueError, KeyError):
            # an engine rewrite bug must not stop publication checks: the guard cuts the spans instead
            return text


def _bad(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "violation"]


def guard(text: str, *, category: str | None = None, product: Any = None, facts: Any = None,
          language: str | None = None, mode: Mode = "rewrite", price_context: Any = None) -> GuardResult:
    """Check `text` for publication; in rewrite mode fix it without adding claims, in refuse mode refuse it.

    `product` (a catalog Product) and/or `facts` (ProductFacts, or a dict of attributes/registration
    facts) make fact and image-colour contradictions count. Unknown categories use the general rules.
    """
    if mode not in ("rewrite", "refuse"):
        raise BadInput(f"guard mode must be 'rewrite' or 'refuse', got {mode!r}")
    if not isinstance(text, str):
        raise BadInput("text must be a string", detail={"type": type(text).__name__})
    pf = _product_facts(product, facts)
    if category is None and pf is not None:
        category = pf.category
    gate = _Gate(known_category(category), pf, facts if isinstance(facts, dict) else None, language, price_context)
    if not _has_words(text):
        return GuardResult(text="", original=text, passed=True, verdict="clean")
    verdict, lang, comp, fact = gate.judge(text)
    base = dict(original=text, verdict=verdict, language=lang, findings=comp, fact_findings=fact)
    if verdict in ("clean", "borderline"):
        return GuardResult(text=text, passed=True, remaining=comp + fact, **base)
    if verdict == "unchecked":
        return GuardResult(text="", passed=False, candidate=text, notes=[f"language {lang!r} is not checked"], **base)
    if mode == "refuse":
        return GuardResult(text="", passed=False, refused=True, **base)

    current, notes = text, []
    cur_comp, cur_fact, cur_verdict = comp, fact, verdict
    for _ in range(2 * MAX_PASSES):
        if not (_bad(cur_comp) or _bad(cur_fact)) or not _has_words(current):
            break
        nxt = current
        if _bad(cur_fact):
            # facts first: their fixes are exact (a price clause, a colour word), and a whole-text
            # compliance finding may be caused by the very clause the fact fix removes
            prices = [f for f in _bad(cur_fact) if f.rule_id.startswith("fact.price")]
            nxt = drop_clauses(nxt, prices) if prices else nxt
            fresh = [f for f in fact_findings(nxt, pf) if f.severity == "violation"]
            nxt = remove_spans(nxt, fresh)
        if nxt == current and _bad(cur_comp):
            candidate = gate.engine_rewrite(current)
            added = adds_claims(candidate, current, pf)
            cut = remove_spans(current, _bad(cur_comp))
            # Both are claim-free; keep whichever leaves more of the merchant's words (the engine
            # may drop a whole clause where cutting the span keeps the product name).
            if candidate != current and not added and len(candidate) >= len(cut):
                nxt = candidate
                notes.append("engine rewrite accepted")
            else:
                if added:
                    notes.append("engine rewrite would add " + "、".join(sorted(added)) + "; spans removed instead")
                else:
                    notes.append("violating spans removed")
                nxt = cut
        if nxt == current:
            break
        current = nxt
        cur_verdict, _, cur_comp, cur_fact = gate.judge(current)
    if _bad(cur_comp) or _bad(cur_fact):
        current = drop_clauses(current, _bad(cur_comp) + _bad(cur_fact))
        notes.append("clauses still violating were dropped")
        cur_verdict, _, cur_comp, cur_fact = gate.judge(current)
    ok = not (_bad(cur_comp) or _bad(cur_fact)) and cur_verdict != "unchecked"
    return GuardResult(text=current if ok else "", passed=ok, rewritten=True, remaining=cur_comp + cur_fact,
                       candidate=None if ok else current, notes=notes, **base)


def guard_many(texts: list[str], **kwargs: Any) -> list[GuardResult]:
    """`guard` over several strings with the same settings (a poster's bullets, a video's lines)."""
    return [guard(t, **kwargs) for t in texts]
