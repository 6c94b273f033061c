"""Compositional claim rules: a claim is a trigger word plus what surrounds it in the same clause.

Single words miss what regulators fine ("对失眠有改善效果" has no forbidden word) and flag what they do
not ("请勿用于治疗" is a negation). Here every rule is data (`data/claims_zh.yaml`, `claims_en.yaml`):

- a trigger lexicon, found with one Aho–Corasick pass over the (already normalised) text;
- clause-local conditions: partner lexicons (`with`), a one-character verb prefix (`prefix`: 抗癌, 防病毒),
  a regex over the clause (`pattern`: numbers, time spans), negation cues just before the trigger,
  qualifiers in the sentence (辅助, 效果因人而异, 以说明书为准) that soften or clear the claim;
- per-industry severity (`by_category`, `categories`), and product facts (registrations, approved
  functions, OTC status) that allow a claim or say which fact is missing.

Text-level duties (a required statement, a prescription drug, a missing approval number, a tobacco ad)
are `handler` rules. The engine calls `scan_claims` on the normalised text and merges the hits with its
literal-term hits; overlapping hits are resolved there.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

import ahocorasick
import yaml

try:  # Rust automaton: ~20x faster than pyahocorasick on CJK lexicons with hundreds of first characters
    import ahocorasick_rs
except ImportError:  # pragma: no cover - optional speed-up; pyahocorasick gives the same matches
    ahocorasick_rs = None

from shopmind.compliance import context as ctxmod
from shopmind.compliance.hits import Hit
from shopmind.compliance.lexicon import fold
from shopmind.errors import BackendUnavailable, BadInput

CATEGORIES = frozenset({
    "absolute_term", "authority_endorsement", "medical_claim", "guarantee_or_efficacy",
    "false_urgency_or_price", "superstition", "comparative_disparagement", "other",
})
SEVERITIES = ("violation", "borderline", "skip")
_NEGATIVE_VALUES = frozenset({"", "无", "没有", "否", "none", "no", "false", "0", "n/a", "na", "null", "未取得",
                              "未注册", "暂无", "-"})
_NEGATION_WINDOW = 6
_CLAUSE_REACH = 200  # characters a clause may extend either side of a hit
_HITS_PER_RULE = 64  # findings one rule reports per text
_EVALUATION_BUDGET = 20_000  # (trigger, rule) judgements per text; ordinary copy needs a few dozen
_SENTENCE_REACH = 500
_HANDLERS = frozenset({"required_statement", "fact_equals", "fact_missing", "category_ad"})
_QUALIFIER_SCOPE = "sentence"
# Same break characters as context.clause_bounds / sentence_bounds (kept in step by a unit test).
_CLAUSE_BREAK = re.compile(r"[，,。！？!?；;\n：:、…]|\.(?=\s|$)")
_SENTENCE_BREAK = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
# A claim's own scope: a clause, but the enumeration comma 、 joins list items (降血压、降血糖 / 对糖尿病、高血压
# 有效) instead of ending the claim.
_CLAIM_BREAK = re.compile(r"[，,。！？!?；;\n：:…]|\.(?=\s|$)")


@dataclass(frozen=True)
class FactCheck:
    """How product facts change a rule: which keys allow the claim, and what to say when they are missing."""

    keys: tuple[str, ...]  # any of these keys (zh or en, case-insensitive) with a positive value
    match: str = "any"  # any: the key alone allows; term: the value must mention the claim's canonical term
    value_keys: tuple[str, ...] = ()  # extra keys whose values are searched when match == term
    missing_zh: str = ""
    missing_en: str = ""
    missing_severity: str = "violation"  # facts given, but this one absent or not covering the claim
    no_facts_severity: str | None = None  # no facts at all; None: the rule's own severity


@dataclass(frozen=True)
class ClaimRule:
    """One compositional rule (see the module docstring and the YAML header for the fields)."""

    id: str
    category: str
    severity: str
    legal_basis: str
    source: str
    why_zh: str
    why_en: str
    triggers: tuple[str, ...]  # lexicon names whose terms anchor the rule
    with_: tuple[str, ...] = ()  # each of these lexicons must have a term in scope
    prefix: tuple[str, ...] = ()  # alternative to with_: the trigger directly follows one of these strings
    pattern: re.Pattern | None = None  # must match in scope; the span is then the match
    scope: str = "clause"
    exceptions: tuple[str, ...] = ()
    negation: bool = True
    qualifiers: tuple[str, ...] = ()  # lexicon names; a hit in the sentence applies `qualified`
    qualified: str = "skip"
    qualifier_scope: str = "sentence"  # sentence | text (an advisory statement anywhere in the copy)
    unless_within: tuple[str, ...] = ()  # lexicons whose longer term around the trigger takes precedence
    categories: frozenset[str | None] | None = None  # None: every category
    by_category: Mapping[str, str] = field(default_factory=dict)
    facts: FactCheck | None = None
    handler: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    replacement: str | None = None


@dataclass
class ClaimSet:
    """Compiled rules of one language: lexicons, their canonical terms, and one automaton over the triggers."""

    language: str
    rules: list[ClaimRule]
    automaton: Any  # _Matcher over the trigger terms
    negations: tuple[str, ...]
    immediate_negations: frozenset[str]  # one-character cues that negate only the word right after them
    negation_window: int  # characters before a word searched for negation cues (wider for English words)
    canonical: dict[str, str]  # folded term -> canonical name (for fact matching), defaults to the term
    synonyms: dict[str, tuple[str, ...]]  # folded canonical name -> all its folded terms
    by_trigger: dict[str, list[ClaimRule]]
    handlers: list[ClaimRule]
    indexed: frozenset[str]  # lexicons in the automaton (triggers); the rest are searched lazily in scope
    patterns: dict[str, re.Pattern]  # every lexicon as one alternation, longest term first


@dataclass(frozen=True)
class _Occ:
    start: int
    end: int
    term: str
    lexicons: frozenset[str]


class _Text:
    """One text with clause/sentence bounds found by local searches around each hit, with the semantics of
    context.clause_bounds / sentence_bounds. A clause reaches at most _CLAUSE_REACH characters and a
    sentence _SENTENCE_REACH characters either side of the hit, so copy without punctuation (or an attack
    made of one endless clause) stays linear: each hit looks at a bounded window."""

    def __init__(self, text: str):
        self.text = text
        self.folded = fold(text)

    def _raw(self, pattern: re.Pattern, start: int, end: int, reach: int) -> tuple[int, int]:
        text = self.text
        w0 = max(0, start - reach)
        last = None
        for last in pattern.finditer(text, w0, start):
            pass
        left = last.end() if last is not None else w0
        m = pattern.search(text, end, min(len(text), end + reach))
        if m is None:
            right = min(len(text), end + reach)
        else:
            right = m.end() if m.group(0) in "。！？!?." else m.start()
        return left, right

    def clause(self, start: int, end: int) -> tuple[int, int]:
        left, right = self._raw(_CLAUSE_BREAK, start, end, _CLAUSE_REACH)
        while left < start and self.text[left] == " ":
            left += 1
        if right > left and self.text[right - 1] in "。！？!?.":
            right -= 1
        return left, right

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        return self._raw(_SENTENCE_BREAK, start, end, _SENTENCE_REACH)

    def scope(self, kind: str, start: int, end: int) -> tuple[int, int]:
        """Where a rule's partners may be: the sentence, or the clause with enumerations joined."""
        if kind == "sentence":
            return self.sentence(start, end)
        left, right = self._raw(_CLAIM_BREAK, start, end, _CLAUSE_REACH)
        if right > left and self.text[right - 1] in "。！？!?.":
            right -= 1
        return left, right


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _parse_facts(raw: Mapping[str, Any] | None) -> FactCheck | None:
    if not raw:
        return None
    return FactCheck(keys=tuple(k.lower() for k in _tuple(raw.get("keys"))), match=raw.get("match", "any"),
                     value_keys=tuple(k.lower() for k in _tuple(raw.get("value_keys"))),
                     missing_zh=raw.get("missing_zh", ""), missing_en=raw.get("missing_en", ""),
                     missing_severity=raw.get("missing_severity", "violation"),
                     no_facts_severity=raw.get("no_facts_severity"))


def _parse_rule(entry: Mapping[str, Any], lexicons: Mapping[str, Any]) -> ClaimRule:
    required = ("id", "category", "legal_basis", "source", "why_zh", "why_en")
    missing = [k for k in required if not entry.get(k)]
    if missing:
        raise BackendUnavailable(f"claim rule {entry.get('id', '?')} lacks {missing}")
    if entry["category"] not in CATEGORIES:
        raise BackendUnavailable(f"claim rule {entry['id']}: unknown finding category {entry['category']!r}")
    triggers = _tuple(entry.get("trigger"))
    if not triggers and not entry.get("handler"):
        raise BackendUnavailable(f"claim rule {entry['id']} has neither trigger nor handler")
    for name in triggers + _tuple(entry.get("with")) + _tuple(entry.get("qualifiers")) + _tuple(entry.get("unless_within")):
        if name not in lexicons:
            raise BackendUnavailable(f"claim rule {entry['id']} names unknown lexicon {name!r}")
    severities = [entry.get("severity", "violation"), entry.get("qualified", "skip"),
                  *(entry.get("by_category") or {}).values()]
    if any(s not in SEVERITIES for s in severities):
        raise BackendUnavailable(f"claim rule {entry['id']}: severity must be one of {SEVERITIES}")
    if entry.get("handler") and entry["handler"] not in _HANDLERS:
        raise BackendUnavailable(f"claim rule {entry['id']}: unknown handler {entry['handler']!r}")
    cats = entry.get("categories")
    return ClaimRule(
        id=entry["id"], category=entry["category"], severity=entry.get("severity", "violation"),
        legal_basis=entry["legal_basis"], source=entry["source"], why_zh=entry["why_zh"], why_en=entry["why_en"],
        triggers=triggers, with_=_tuple(entry.get("with")), prefix=_tuple(entry.get("prefix")),
        pattern=re.compile(entry["pattern"], re.IGNORECASE) if entry.get("pattern") else None,
        scope=entry.get("scope", "clause"), exceptions=_tuple(entry.get("exceptions")),
        negation=bool(entry.get("negation", True)), qualifiers=_tuple(entry.get("qualifiers")),
        qualified=entry.get("qualified", "skip"), qualifier_scope=entry.get("qualifier_scope", "sentence"),
        unless_within=_tuple(entry.get("unless_within")),
        categories=None if cats is None else frozenset(None if c in (None, "none") else c for c in cats),
        by_category=dict(entry.get("by_category") or {}), facts=_parse_facts(entry.get("facts")),
        handler=entry.get("handler"), params=dict(entry.get("params") or {}), replacement=entry.get("replacement"),
    )


def _lexicon_terms(spec: Any) -> dict[str, str]:
    """Terms of one lexicon -> canonical name. A lexicon is a list of terms, or a mapping canonical -> synonyms."""
    out: dict[str, str] = {}
    if isinstance(spec, Mapping):
        for canon, synonyms in spec.items():
            for term in (str(canon), *_tuple(synonyms)):
                out[term] = str(canon)
    else:
        for term in _tuple(spec):
            out[term] = term
    return out


class _Matcher:
    """All (possibly overlapping) occurrences of the trigger terms in one pass.

    pyahocorasick looks a node's children up one by one, so with ~400 distinct first characters it ran at
    ~10 MB/s here; ahocorasick-rs (when installed) runs the same search at ~250 MB/s."""

    def __init__(self, terms: Mapping[str, frozenset[str]]):
        self.terms = list(terms)
        self.names = [terms[t] for t in self.terms]
        self._rs = self._py = None
        if not self.terms:
            return
        if ahocorasick_rs is not None:
            self._rs = ahocorasick_rs.AhoCorasick(self.terms, matchkind=ahocorasick_rs.MatchKind.Standard)
        else:  # pragma: no cover - exercised where ahocorasick-rs is missing
            self._py = ahocorasick.Automaton()
            for i, term in enumerate(self.terms):
                self._py.add_word(term, i)
            self._py.make_automaton()

    def __len__(self) -> int:
        return len(self.terms)

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, term index) for every occurrence, overlapping ones included, ordered by start."""
        if self._rs is not None:
            found = [(s, e, i) for i, s, e in self._rs.find_matches_as_indexes(text, overlapping=True)]
        elif self._py is not None:
            found = [(end + 1 - len(self.terms[i]), end + 1, i) for end, i in self._py.iter(text)]
        else:
            return []
        found.sort()
        return found


def build_claimset(data: Mapping[str, Any]) -> ClaimSet:
    """Compile parsed YAML into a ClaimSet (public so tests can build small rule sets)."""
    lexicons = data.get("lexicons") or {}
    rules = [_parse_rule(e, lexicons) for e in data.get("rules") or []]
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise BackendUnavailable(f"duplicate claim rule id {r.id}")
        seen.add(r.id)
    # Only trigger lexicons (and those a handler needs over the whole text) go into the automaton: partner,
    # qualifier and statement lexicons are searched inside the few clauses a trigger fires in, so common
    # one-character partners (水, 倍, 酒) cost nothing on the text at large.
    indexed = {t for r in rules for t in r.triggers} | {
        lex for r in rules if r.handler for lex in _tuple(r.params.get("when"))}
    index: dict[str, set[str]] = {}
    canonical: dict[str, str] = {}
    patterns: dict[str, re.Pattern] = {}
    for name, spec in lexicons.items():
        terms = _lexicon_terms(spec)
        for term, canon in terms.items():
            canonical.setdefault(fold(term), fold(canon))
            if name in indexed:
                index.setdefault(fold(term), set()).add(name)
        alternation = "|".join(re.escape(fold(x)) for x in sorted(terms, key=len, reverse=True))
        patterns[name] = re.compile(alternation) if alternation else re.compile(r"(?!)")
    automaton = _Matcher({term: frozenset(names) for term, names in index.items()})
    by_trigger: dict[str, list[ClaimRule]] = {}
    for r in rules:
        for t in r.triggers:
            by_trigger.setdefault(t, []).append(r)
    synonyms: dict[str, set[str]] = {}
    for term, canon in canonical.items():
        synonyms.setdefault(canon, {canon}).add(term)
    return ClaimSet(language=data.get("language", "zh"), rules=rules, automaton=automaton,
                    negations=tuple(fold(n) for n in _tuple(data.get("negations"))), canonical=canonical,
                    immediate_negations=frozenset(_tuple(data.get("immediate_negations"))),
                    negation_window=int(data.get("negation_window", _NEGATION_WINDOW)),
                    synonyms={k: tuple(sorted(v)) for k, v in synonyms.items()},
                    by_trigger=by_trigger, handlers=[r for r in rules if r.handler], indexed=frozenset(indexed),
                    patterns=patterns)


@lru_cache(maxsize=4)
def load_claimset(language: str) -> ClaimSet:
    """The packaged claim rules for `zh` or `en`, compiled once per process."""
    names = {"zh": "claims_zh.yaml", "en": "claims_en.yaml"}
    if language not in names:
        raise BadInput(f"no claim rules for language {language!r}; use zh or en")
    try:
        raw = resources.files("shopmind.compliance").joinpath("data", names[language]).read_text(encoding="utf-8")
    except OSError as exc:  # pragma: no cover - packaging error
        raise BackendUnavailable(f"claim rules {names[language]} missing: {exc}") from exc
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the rule files parse ~10x faster
    return build_claimset(yaml.load(raw, Loader=loader))  # noqa: S506 - a safe loader either way


def _norm_facts(facts: Mapping[str, Any] | None) -> dict[str, str]:
    if not facts:
        return {}
    out: dict[str, str] = {}
    for k, v in facts.items():
        if isinstance(v, (list, tuple, set)):
            v = "、".join(str(x) for x in v)
        out[str(k).strip().lower()] = "" if v is None else str(v).strip()
    return out


def _positive(value: str) -> bool:
    return value.strip().lower() not in _NEGATIVE_VALUES


def _occurrences(cs: ClaimSet, t: _Text) -> list[_Occ]:
    if not cs.indexed:
        return []
    occ = []
    m = cs.automaton
    for start, end, i in m.find(t.folded):
        if cs.language == "en" and not ctxmod.ascii_word_boundary(t.folded, start, end):
            continue
        occ.append(_Occ(start, end, m.terms[i], m.names[i]))
    return occ


def _in_exception(t: _Text, start: int, end: int, exceptions: Iterable[str]) -> bool:
    return bool(exceptions) and ctxmod.in_exception(t.text, start, end, tuple(exceptions), t.folded)


def _negated(cs: ClaimSet, t: _Text, clause_left: int, start: int) -> bool:
    window = t.folded[max(clause_left, start - cs.negation_window):start]
    if window and window[-1] in cs.immediate_negations:
        return True  # 不适合 / 没改善: a one-character negation right before the word
    return any(n in window for n in cs.negations)


class _Index:
    """Occurrences by lexicon for range look-ups: trigger lexicons from the automaton pass, the others found
    on demand inside the requested range."""

    def __init__(self, cs: ClaimSet, t: _Text, occ: list[_Occ]):
        self.cs, self.t = cs, t
        self.by_lex: dict[str, list[_Occ]] = {}
        for o in occ:
            for name in o.lexicons:
                self.by_lex.setdefault(name, []).append(o)
        self.starts = {k: [o.start for o in v] for k, v in self.by_lex.items()}
        self._cache: dict[tuple[str, int, int], list[_Occ]] = {}

    def within(self, lexicon: str, left: int, right: int) -> list[_Occ]:
        if lexicon not in self.cs.indexed:
            return self._search(lexicon, left, right)
        occ = self.by_lex.get(lexicon)
        if not occ:
            return []
        starts = self.starts[lexicon]
        i = bisect.bisect_left(starts, left)
        out = []
        while i < len(occ) and occ[i].start < right:
            if occ[i].end <= right:
                out.append(occ[i])
            i += 1
        return out

    def _search(self, lexicon: str, left: int, right: int) -> list[_Occ]:
        key = (lexicon, left, right)
        if key in self._cache:  # hits in one clause ask for the same partners
            return self._cache[key]
        out = self._cache[key] = []
        names = frozenset((lexicon,))
        for m in self.cs.patterns[lexicon].finditer(self.t.folded, left, right):
            if self.cs.language == "en" and not ctxmod.ascii_word_boundary(self.t.folded, m.start(), m.end()):
                continue
            out.append(_Occ(m.start(), m.end(), m.group(0), names))
        return out


def _fact_verdict(rule: ClaimRule, facts: dict[str, str], canon: str, synonyms: tuple[str, ...],
                  severity: str) -> tuple[str | None, str, str]:
    """(severity override or 'skip', why suffix zh, why suffix en) from the product facts for this claim."""
    fc = rule.facts
    assert fc is not None
    if not facts:
        sev = fc.no_facts_severity or severity
        return sev, f"（未提供商品事实：{fc.missing_zh}）", f" (no product facts given: {fc.missing_en})"
    present = [facts[k] for k in fc.keys if k in facts and _positive(facts[k])]
    if present:
        if fc.match == "any":
            return "skip", "", ""
        values = present + [facts[k] for k in fc.value_keys if k in facts]
        if any(term in fold(v) for v in values for term in synonyms or (canon,)):
            return "skip", "", ""
        return (fc.missing_severity, f"（商品事实中的{fc.missing_zh}未包含“{canon}”）",
                f" (the product facts' {fc.missing_en} do not cover '{canon}')")
    return fc.missing_severity, f"（缺少商品事实：{fc.missing_zh}）", f" (missing product fact: {fc.missing_en})"


def _severity_for(rule: ClaimRule, category: str | None) -> str:
    if category is not None and category in rule.by_category:
        return rule.by_category[category]
    if category is None and "none" in rule.by_category:
        return rule.by_category["none"]
    return rule.severity


def _applicable_severity(rule: ClaimRule, category: str | None) -> str | None:
    """The rule's severity for this category, or None where the rule does not apply (other category, or skip)."""
    if rule.categories is not None and category not in rule.categories:
        return None
    severity = _severity_for(rule, category)
    return None if severity == "skip" else severity


def _judge(cs: ClaimSet, rule: ClaimRule, t: _Text, idx: _Index, trig: _Occ, category: str | None,
           facts: dict[str, str]) -> Hit | None:
    severity = _applicable_severity(rule, category)
    if severity is None:
        return None
    if _in_exception(t, trig.start, trig.end, rule.exceptions):
        return None
    for lex in rule.unless_within:
        if any(o.start <= trig.start and trig.end <= o.end and (o.end - o.start) > (trig.end - trig.start)
               for o in idx.within(lex, max(0, trig.end - 64), min(len(t.text), trig.start + 64))):
            return None  # 辅助降血脂 is a catalogue function, not the disease claim 降血脂
    c_left, c_right = t.clause(trig.start, trig.end)
    s_left, s_right = t.scope(rule.scope, trig.start, trig.end)
    if rule.negation and _negated(cs, t, c_left, trig.start):
        return None
    min_distinct = int(rule.params.get("min_distinct", 0) or 0)
    if min_distinct:
        terms = {o.term for lex in rule.triggers for o in idx.within(lex, s_left, s_right)}
        if len(terms) < min_distinct:
            return None
    span_start, span_end = trig.start, trig.end
    # 抗 + 癌, 不得 + 结石: the verb is written right before the trigger (longest prefix wins)
    lead = max((len(p) for p in rule.prefix if t.folded.endswith(p, 0, trig.start)), default=0)
    prefixed = lead > 0
    if prefixed:
        span_start -= lead
    elif rule.prefix and not rule.with_:
        return None
    for lex in () if prefixed else rule.with_:
        partners = [o for o in idx.within(lex, s_left, s_right) if not (o.start == trig.start and o.end == trig.end)]
        if not partners:
            return None
        nearest = min(partners, key=lambda o: abs(o.start - trig.start))
        if rule.negation and _negated(cs, t, t.clause(nearest.start, nearest.end)[0], nearest.start):
            return None
        span_start, span_end = min(span_start, nearest.start), max(span_end, nearest.end)
    why_zh, why_en = rule.why_zh, rule.why_en
    if rule.pattern is not None:
        m = rule.pattern.search(t.text, s_left, s_right)
        if m is None:
            return None
        span_start, span_end = min(span_start, m.start()), max(span_end, m.end())
        stock_key = next((k.lower() for k in rule.params.get("stock_keys") or () if facts and k.lower() in facts),
                         None)
        if stock_key is not None and m.groups():
            claimed, stock = _number(m.group(1)), _number(facts[stock_key])
            if claimed is not None and stock is not None:
                if stock <= claimed:
                    return None  # the facts back the scarcity claim
                severity = "violation"
                why_zh = f"紧俏说法与实际库存不符（声称{m.group(1)}，商品事实 {stock_key} = {facts[stock_key]}），属虚构紧俏。"
                why_en = (f"The scarcity claim contradicts the stock (claims {m.group(1)}, product fact "
                          f"{stock_key} = {facts[stock_key]}), a fabricated shortage.")
    if rule.qualifiers:
        q_left, q_right = ((0, len(t.text)) if rule.qualifier_scope == "text"
                           else t.scope(_QUALIFIER_SCOPE, trig.start, trig.end))
        if any(idx.within(q, q_left, q_right) for q in rule.qualifiers):
            if rule.qualified == "skip":
                return None
            severity = rule.qualified if _RANK[rule.qualified] > _RANK[severity] else severity
    if rule.facts is not None:
        canon = cs.canonical.get(trig.term, trig.term)
        override, add_zh, add_en = _fact_verdict(rule, facts, canon, cs.synonyms.get(canon, (canon,)), severity)
        if override == "skip":
            return None
        if override is not None:
            severity = override
        why_zh, why_en = why_zh + add_zh, why_en + add_en
    clause = t.clause(span_start, span_end) if rule.scope == "clause" else (c_left, c_right)
    return Hit(span_start, span_end, rule.id, rule.category, severity, rule.legal_basis, why_zh, why_en,
               rule.replacement, clause)


_RANK = {"violation": 0, "borderline": 1, "skip": 2}
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def _number(raw: str) -> int | None:
    """An integer from ASCII digits or simple Chinese numerals (三, 十二, 二百五十); None when unreadable."""
    raw = raw.strip()
    if raw.isdigit():
        return int(raw)
    m = re.match(r"\d+", raw)
    if m:
        return int(m.group(0))
    total, digit = 0, None
    for ch in raw:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    total += digit or 0
    return total if raw else None


def _first_clause(t: _Text) -> tuple[int, int]:
    start = len(t.text) - len(t.text.lstrip())
    return t.clause(start, start)


def _handle(cs: ClaimSet, rule: ClaimRule, t: _Text, idx: _Index, category: str | None,
            facts: dict[str, str]) -> Hit | None:
    """Text-level duties that no single clause holds."""
    severity = _applicable_severity(rule, category)
    if severity is None:
        return None
    p = rule.params
    if rule.handler in ("fact_equals", "fact_missing") and not facts:
        return None
    why_zh, why_en = rule.why_zh, rule.why_en
    if rule.handler == "required_statement":
        # Only copy that makes the claims the statement qualifies needs it.
        claims = [o for lex in _tuple(p.get("when")) for o in idx.by_lex.get(lex, [])
                  if not _in_exception(t, o.start, o.end, rule.exceptions)]
        if not claims or idx.within(p["statement"], 0, len(t.text)):
            return None
        anchor = min(claims, key=lambda o: o.start)
        return Hit(anchor.start, anchor.end, rule.id, rule.category, severity, rule.legal_basis, why_zh, why_en,
                   rule.replacement, t.clause(anchor.start, anchor.end))
    if rule.handler == "fact_equals":
        # A fact that, when stated, forbids the ad (a prescription drug) or shows a missing approval.
        keys = [k.lower() for k in _tuple(p.get("keys"))]
        values = {fold(v) for v in _tuple(p.get("values"))}
        hit_key = next((k for k in keys if k in facts and fold(facts[k].strip()) in values), None)
        if hit_key is None:
            return None
        why_zh += f"（商品事实 {hit_key} = {facts[hit_key] or '空'}）"
        why_en += f" (product fact {hit_key} = {facts[hit_key] or 'empty'})"
    elif rule.handler == "fact_missing":
        # A fact that makes another one necessary (a device class needs a registration or filing number).
        when = [k.lower() for k in _tuple(p.get("when"))]
        keys = [k.lower() for k in _tuple(p.get("keys"))]
        given = next((k for k in when if k in facts and _positive(facts[k])), None)
        if given is None or any(k in facts and _positive(facts[k]) for k in keys):
            return None
        why_zh += f"（商品事实 {given} = {facts[given]}，缺少：{'、'.join(keys[:3])}）"
        why_en += f" (product fact {given} = {facts[given]}; missing: {', '.join(keys[:3])})"
    elif rule.handler == "category_ad":
        pass  # the category itself is the finding (tobacco advertising)
    else:  # pragma: no cover - caught by the data test
        raise BackendUnavailable(f"claim rule {rule.id}: unknown handler {rule.handler!r}")
    # The whole ad is the finding (nothing may be published: a prescription drug, a tobacco ad, no review
    # number): shown on the first clause, but its "clause" is the rest of the text, so a rewrite that drops
    # it drops everything in one step instead of eating the copy clause by clause.
    left, right = _first_clause(t)
    return Hit(left, max(right, left + 1), rule.id, rule.category, severity, rule.legal_basis, why_zh, why_en,
               rule.replacement, (left, len(t.text)))


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per rule and clause (the most severe, then the longest), ordered by position."""
    best: dict[tuple[str, tuple[int, int]], Hit] = {}
    for h in hits:
        key = (h.rule_id, h.clause)
        cur = best.get(key)
        if cur is None or (_RANK[h.severity], -(h.end - h.start)) < (_RANK[cur.severity], -(cur.end - cur.start)):
            best[key] = h
    return sorted(best.values(), key=lambda h: (h.start, h.end, h.rule_id))


def scan_claims(text: str, category: str | None, facts: Mapping[str, str] | None = None,
                language: str = "zh") -> list[Hit]:
    """Claim hits in `text` (already normalised by the engine), for a normalised product `category`.

    `facts` are product attributes (zh or en keys: 特殊化妆品注册证, functions, otc, 审查批准文号 …) that can
    allow a claim or make its finding say which fact is missing.
    """
    if not isinstance(text, str):
        raise BadInput("text must be a string", detail={"type": type(text).__name__})
    if facts is not None and not isinstance(facts, Mapping):
        raise BadInput("facts must be a mapping of attribute name to value", detail={"type": type(facts).__name__})
    cs = load_claimset(language)
    if not text.strip():
        return []
    t = _Text(text)
    idx = _Index(cs, t, _occurrences(cs, t))
    nfacts = _norm_facts(facts)
    hits: list[Hit] = []
    per_rule: dict[str, int] = {}
    budget = _EVALUATION_BUDGET
    # Triggers in text order, so a text that exhausts the budget is judged from its start.
    work = sorted(((occ, lex) for lex, occs in idx.by_lex.items() if lex in cs.by_trigger for occ in occs),
                  key=lambda x: (x[0].start, x[0].end))
    for occ, lex in work:
        for rule in cs.by_trigger[lex]:
            if per_rule.get(rule.id, 0) >= _HITS_PER_RULE:
                continue  # the claim is already reported many times over; more adds nothing
            budget -= 1
            hit = _judge(cs, rule, t, idx, occ, category, nfacts)
            if hit is not None:
                hits.append(hit)
                per_rule[rule.id] = per_rule.get(rule.id, 0) + 1
        if budget <= 0:
            break  # hostile input (tens of thousands of triggers): stop, the text is long decided
    for rule in cs.handlers:
        hit = _handle(cs, rule, t, idx, category, nfacts)
        if hit is not None:
            hits.append(hit)
    return _dedupe(hits)
