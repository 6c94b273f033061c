"""Grounded writing: generate → compliance + fact check → rule rewrite → LLM rewrite → re-check.

The LLM drafts from the facts; the compliance engine and the fact checker judge every text field;
rule rewrites fix what rules can fix, the LLM rewrites the rest with the findings as its
instructions, for up to `max_rounds` rounds. Whatever still violates is removed clause by clause,
so the returned copy never carries a violation. Last, every field passes `compliance.guard` — the
same gate posters, videos and live scripts use — so nothing the model wrote (or was talked into
writing by an injected instruction) is published unchecked. Every step lands in the audit trail.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from shopmind import compliance
from shopmind.compliance.guard import guard
from shopmind.domain import Finding
from shopmind.errors import BadInput, ShopmindError
from shopmind.generate import factcheck
from shopmind.generate.facts import ProductFacts, from_attributes, from_product
from shopmind.generate.jsonfix import generate_structured
from shopmind.generate.languages import normalise_language
from shopmind.generate.prompts import COMPACT_TYPES, build_messages, compact_messages, rewrite_messages
from shopmind.generate.schemas import (MAX_TOKENS, SCHEMAS, AuditStep, WriteRequest, WriteResult, render_text,
                                       replace_fields, text_fields)

TokenSink = Callable[[str], None]
# "about N characters": a draft may not stop before this share of N (where the backend can enforce it)
MIN_SHARE_OF_LENGTH = 0.8


def build_facts(req: WriteRequest, store: Any = None) -> ProductFacts:
    if req.product_id:
        facts = from_product(req.product_id, store=store, selling_points=req.selling_points, category=req.category)
        if req.price is not None:
            facts = facts.model_copy(update={"price": req.price})
        return facts
    return from_attributes(req.attributes or "", selling_points=req.selling_points, price=req.price,
                           category=req.category)


def compliance_category(category: str | None) -> str | None:
    """The category when the compliance engine knows it; unknown catalog categories fall back to general rules."""
    if not category:
        return None
    try:
        compliance.check("ok", category=category)
        return category
    except BadInput:
        return None


class _Checker:
    """Runs both checks over every text field of a content object."""

    def __init__(self, facts: ProductFacts, category: str | None) -> None:
        self.facts = facts
        self.category = category

    def check(self, content: BaseModel) -> tuple[dict[str, list[Finding]], dict[str, list[Finding]]]:
        comp: dict[str, list[Finding]] = {}
        fact: dict[str, list[Finding]] = {}
        for path, text in text_fields(content):
            if text.strip():
                comp[path] = compliance.check(text, category=self.category).findings
                fact[path] = factcheck.check_facts(text, self.facts)
        return comp, fact


def _flat(by_path: dict[str, list[Finding]], severity: str | None = None) -> list[Finding]:
    return [f for fs in by_path.values() for f in fs if severity is None or f.severity == severity]


def _violations(comp: dict, fact: dict) -> int:
    return len(_flat(comp, "violation")) + len(_flat(fact, "violation"))


class Writer:
    """One request's loop; keeps the audit trail and the LLM's usage counters."""

    def __init__(self, req: WriteRequest, llm: Any, facts: ProductFacts) -> None:
        self.req = req
        self.llm = llm
        self.facts = facts
        self.language = normalise_language(req.language)
        self.schema = SCHEMAS[req.content_type]
        self.checker = _Checker(facts, compliance_category(facts.category))
        self.audit: list[AuditStep] = []
        self.tokens = 0
        self.gen_s = 0.0
        self.seed = req.seed if req.seed is not None else 0

    def _opts(self) -> dict[str, Any]:
        return {"max_tokens": MAX_TOKENS[self.req.content_type], "temperature": self.req.temperature,
                "seed": self.seed, "json_mode": True}

    def draft_min_chars(self, style: str) -> int | None:
        """The floor a draft of about N characters may not stop short of (MIN_SHARE_OF_LENGTH × N),
        for a voice trained with length hints (it has a `voice_length`) on a backend that can enforce
        one; N is the request's `length` or the voice's typical length. Only there: such a voice
        learned copy of that length, while an untuned model held past the point where it wants to
        stop was measured to loop (test_llm_local), so for it `length` only goes into the prompt."""
        voice_length = getattr(self.llm, "voice_length", None)
        if style != "compact" or not voice_length or not getattr(self.llm, "supports_min_chars", False):
            return None
        length = self.req.length or voice_length
        return max(1, int(MIN_SHARE_OF_LENGTH * length))

    def _account(self) -> None:
        usage = getattr(self.llm, "last_usage", None) or {}
        self.tokens += int(usage.get("completion_tokens") or 0)
        self.gen_s += float(usage.get("seconds") or 0.0)

    def _complete(self, messages: list[dict[str, str]], **extra: Any) -> str:
        text = self.llm.complete(messages, **(self._opts() | extra))
        self._account()
        return text

    def _streamer(self, sink: TokenSink, **extra: Any) -> Callable[[list[dict[str, str]]], str]:
        def run(messages: list[dict[str, str]]) -> str:
            pieces = []
            for piece in self.llm.stream(messages, **(self._opts() | extra)):
                pieces.append(piece)
                sink(piece)
            self._account()
            return "".join(pieces)
        return run

    def _step(self, rnd: int, stage: str, content: BaseModel | None, t0: float, comp: dict | None = None,
              fact: dict | None = None, note: str = "") -> None:
        self.audit.append(AuditStep(round=rnd, stage=stage, content=content.model_dump() if content else None,
                                    findings=_flat(comp or {}), fact_issues=_flat(fact or {}), note=note,
                                    seconds=round(time.perf_counter() - t0, 4)))

    def draft(self, sink: TokenSink | None) -> BaseModel:
        t0 = time.perf_counter()
        messages, style = self.draft_messages()
        floor = self.draft_min_chars(style)
        extra = {"min_chars": floor} if floor else {}
        complete = self._streamer(sink, **extra) if sink else functools.partial(self._complete, **extra)
        content, raws = generate_structured(complete, messages, self.schema, retries=1)
        self._step(0, "draft", content, t0, note=f"{len(raws)} LLM call(s), {style} prompt")
        return content

    def draft_messages(self) -> tuple[list[dict[str, str]], str]:
        """The draft prompt and its style. A brand-voice adapter trained on the compact prompt
        (its LLM says `prompt_style = "compact"`) is served that same prompt, where it covers the
        request (Chinese, a compact content type, no persona); everything else gets the full prompt."""
        if (getattr(self.llm, "prompt_style", None) == "compact" and self.req.content_type in COMPACT_TYPES
                and self.language == "zh" and not self.req.persona):
            # a voice trained with length hints is asked for its own typical length unless the request says
            length = self.req.length or getattr(self.llm, "voice_length", None)
            return compact_messages(self.req.content_type, self.facts, language=self.language,
                                    brand_voice=self.req.brand_voice, length=length), "compact"
        return build_messages(self.req.content_type, self.facts, language=self.language, persona=self.req.persona,
                              brand_voice=self.req.brand_voice, length=self.req.length), "full"

    def rule_rewrite(self, content: BaseModel, comp: dict[str, list[Finding]]) -> BaseModel:
        """Compliance rule rewrites on the fields that have violations."""
        texts = dict(text_fields(content))
        fixed = {}
        for path, fs in comp.items():
            if any(f.severity == "violation" for f in fs):
                try:
                    fixed[path] = compliance.rewrite(texts[path], category=self.checker.category).text
                except (IndexError, ValueError, KeyError):  # an engine rewrite bug: the guard still cuts the claim
                    continue
        return self._rebuild(content, fixed)

    def _rebuild(self, content: BaseModel, texts: dict[str, str]) -> BaseModel:
        data = replace_fields(content, texts)
        try:
            return self.schema.model_validate(data)
        except ValidationError:
            # A field emptied by a fix: fall back to a factual phrase so the schema still holds.
            fallback = self.facts.title or "、".join(v for _, v in self.facts.attributes[:4]) or "商品"
            for name, value in data.items():
                if isinstance(value, str) and len(value.strip()) < 10:
                    data[name] = (value.strip() + " " + fallback).strip()
                elif isinstance(value, list) and not value:
                    data[name] = [fallback]
            return self.schema.model_validate(data)

    def llm_rewrite(self, content: BaseModel, problems: list[Finding]) -> BaseModel:
        messages = rewrite_messages(self.req.content_type, self.facts, content.model_dump(), problems,
                                    language=self.language, brand_voice=self.req.brand_voice)
        new, _ = generate_structured(self._complete, messages, self.schema, retries=1)
        return new

    def fallback(self, content: BaseModel, comp: dict, fact: dict) -> BaseModel:
        """Deterministic last resort: rule rewrite, then drop each clause that still violates."""
        content = self.rule_rewrite(content, comp)
        comp, fact = self.checker.check(content)
        texts = dict(text_fields(content))
        dropped = {}
        for path, text in texts.items():
            bad = [f for f in comp.get(path, []) + fact.get(path, []) if f.severity == "violation"]
            if bad:
                dropped[path] = factcheck.drop_clauses(text, bad)
        return self._rebuild(content, dropped)

    def publish(self, content: BaseModel) -> tuple[BaseModel, bool, list[str]]:
        """Every field through the guard (rewrite mode); a field the guard empties is rebuilt from facts
        and guarded again. Returns the content, whether every field passed, and notes."""
        notes: list[str] = []
        ok = True
        for attempt in range(2):
            texts = dict(text_fields(content))
            results = {path: guard(text, category=self.checker.category, facts=self.facts, language=self.language)
                       for path, text in texts.items() if text.strip()}
            ok = all(g.passed for g in results.values())
            changed = {path: g.text for path, g in results.items() if g.text != texts[path]}
            notes += [f"{path}: {'; '.join(g.notes) or g.verdict}" for path, g in results.items() if g.text != texts[path]]
            if not changed:
                break
            content = self._rebuild(content, changed)
        else:  # still changing after the rebuild: only what the guard passed unchanged may ship
            texts = dict(text_fields(content))
            ok = ok and all(guard(t, category=self.checker.category, facts=self.facts, language=self.language).text == t
                            for t in texts.values() if t.strip())
        return content, ok, notes


def write(req: WriteRequest, llm: Any = None, *, store: Any = None, on_token: TokenSink | None = None) -> WriteResult:
    """Grounded, checked copy for one request (see module doc). `on_token` streams the first draft."""
    t_start = time.perf_counter()
    if llm is None:
        from shopmind.config import get_settings
        from shopmind.models.llm import get_llm

        llm = get_llm(get_settings())
    facts = build_facts(req, store)
    w = Writer(req, llm, facts)
    content = w.draft(on_token)
    t0 = time.perf_counter()
    comp, fact = w.checker.check(content)
    w._step(0, "check", content, t0, comp, fact)
    draft_passed = _violations(comp, fact) == 0
    draft_fact_violations = len(_flat(fact, "violation"))
    draft_compliance_violations = len(_flat(comp, "violation"))
    rounds = 0
    while _violations(comp, fact) or _flat(fact, "borderline"):
        if _flat(comp, "violation"):
            t0 = time.perf_counter()
            content = w.rule_rewrite(content, comp)
            comp, fact = w.checker.check(content)
            w._step(rounds, "rule_rewrite", content, t0, comp, fact)
            if not (_violations(comp, fact) or _flat(fact, "borderline")):
                break
        if rounds >= req.max_rounds:
            break
        rounds += 1
        t0 = time.perf_counter()
        problems = _flat(comp, "violation") + _flat(fact)
        try:
            content = w.llm_rewrite(content, problems)
        except ShopmindError as exc:
            w._step(rounds, "error", content, t0, note=f"LLM rewrite failed: {exc.message}")
            break
        comp, fact = w.checker.check(content)
        w._step(rounds, "llm_rewrite", content, t0, comp, fact, note=f"{len(problems)} problem(s) given as instructions")
    if _violations(comp, fact):
        t0 = time.perf_counter()
        content = w.fallback(content, comp, fact)
        comp, fact = w.checker.check(content)
        w._step(rounds, "fallback", content, t0, comp, fact, note="rule rewrite + dropped violating clauses")
    t0 = time.perf_counter()
    content, guard_ok, notes = w.publish(content)
    comp, fact = w.checker.check(content)
    w._step(rounds, "guard", content, t0, comp, fact, note="; ".join(notes) or "every field passed unchanged")
    return WriteResult(
        content_type=req.content_type, language=w.language, content=content.model_dump(), text=render_text(content),
        passed=guard_ok and _violations(comp, fact) == 0, findings=_flat(comp), fact_issues=_flat(fact),
        draft_passed=draft_passed, draft_fact_violations=draft_fact_violations,
        draft_compliance_violations=draft_compliance_violations, rounds=rounds,
        llm=getattr(llm, "name", type(llm).__name__), latency_s=round(time.perf_counter() - t_start, 4),
        completion_tokens=w.tokens, generation_s=round(w.gen_s, 4), audit=w.audit,
    )


def dumps(result: WriteResult) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
