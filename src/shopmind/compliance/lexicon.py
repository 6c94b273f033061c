"""Rule data: load the YAML rule files and compile every term into one Aho-Corasick automaton per language.

One automaton pass over a text finds every candidate term at once, so the cost grows with the text, not
with the number of rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

import ahocorasick
import yaml

from shopmind.compliance.normalise import normalise_term
from shopmind.domain import check_rule_labels
from shopmind.errors import BackendUnavailable

LANGUAGES = ("zh", "en", "ja", "ko", "fr", "de", "es")
WORD_BOUNDARY_LANGUAGES = frozenset({"en", "fr", "de", "es"})

_ASCII_UPPER_RUN = re.compile(r"[A-Z]+")


def fold(text: str) -> str:
    """Lower-case ASCII only, so character offsets stay identical to the input (str.lower can change length).

    Long non-ASCII text goes through a regex over the upper-case runs: str.translate looks up every
    character in Python, which cost more than the whole automaton pass on Chinese copy."""
    if text.isascii():
        return text.lower()
    if _ASCII_UPPER_RUN.search(text) is None:
        return text
    return _ASCII_UPPER_RUN.sub(lambda m: m.group(0).lower(), text)


@dataclass(frozen=True)
class Rule:
    """One lexicon entry: terms plus the context that turns a hit into a finding (or not)."""

    id: str
    category: str
    severity: str
    legal_basis: str
    source: str
    terms: tuple[str, ...]
    why_zh: str
    why_en: str
    rewrite: str | None
    language: str
    exceptions: tuple[str, ...] = ()
    skip_before: tuple[str, ...] = ()
    skip_context: tuple[str, ...] = ()
    borderline_context: tuple[str, ...] = ()
    borderline_sentence_context: tuple[str, ...] = ()  # literal-truth cues anywhere in the sentence (每件染色不同)
    by_category: dict[str, str] = field(default_factory=dict)
    rewrites: dict[str, str] = field(default_factory=dict)  # per-term wording, folded term -> replacement
    handler: str | None = None
    today_terms: tuple[str, ...] = ()
    unverified_why_zh: str = ""
    unverified_why_en: str = ""


@dataclass(frozen=True)
class SuperlativeConfig:
    """Word lists for the segmentation-aware 最 rule (see context.classify_superlative)."""

    id: str
    category: str
    legal_basis: str
    source: str
    why_zh: str
    why_en: str
    borderline_why_zh: str
    borderline_why_en: str
    rewrite: str
    not_a_claim: tuple[str, ...]
    degree_compounds: tuple[str, ...]
    descriptive_adjectives: tuple[str, ...]
    within_product_after: tuple[str, ...]
    effect_verbs_before: tuple[str, ...]
    copula_compounds: tuple[str, ...] = ()  # 最为/最是: degree words, unless they rank a product noun
    ranking_nouns: tuple[str, ...] = ()  # 单品, 选择 …: "最为实穿的单品" ranks the product among goods


@dataclass
class RuleSet:
    """All rules of one language and the automaton over their terms (values: (term, [rule ids]))."""

    language: str
    rules: dict[str, Rule]
    automaton: Any
    superlative: SuperlativeConfig | None = None

    def iter_hits(self, text: str, folded: bool = False) -> Iterator[tuple[int, int, str, list[str]]]:
        """Yield (start, end, term, rule ids) for every term occurrence, overlapping ones included
        (`folded=True`: the caller already folded the text)."""
        for end_idx, (term, rule_ids) in self.automaton.iter(text if folded else fold(text)):
            start = end_idx - len(term) + 1
            yield start, end_idx + 1, term, rule_ids


SUPERLATIVE_TERM = "最"


def _tuple(entry: dict, key: str) -> tuple[str, ...]:
    """A list field in the canonical, folded form texts are matched in (see normalise.py)."""
    return tuple(fold(normalise_term(str(x))) for x in (entry.get(key) or ()))


def _parse_rule(entry: dict, language: str) -> Rule:
    required = ("id", "category", "severity", "legal_basis", "terms", "why_zh", "why_en")
    missing = [k for k in required if k not in entry]
    if missing:
        raise BackendUnavailable(f"rule {entry.get('id', '?')} lacks {missing}")
    check_rule_labels(entry["category"], entry["severity"], where=f"rule {entry['id']}")  # fail at load, not per text
    return Rule(
        id=entry["id"], category=entry["category"], severity=entry["severity"], legal_basis=entry["legal_basis"],
        source=entry.get("source", ""), terms=_tuple(entry, "terms"), why_zh=entry["why_zh"], why_en=entry["why_en"],
        rewrite=entry.get("rewrite"), language=language, exceptions=_tuple(entry, "exceptions"),
        skip_before=_tuple(entry, "skip_before"), skip_context=_tuple(entry, "skip_context"),
        borderline_context=_tuple(entry, "borderline_context"),
        borderline_sentence_context=_tuple(entry, "borderline_sentence_context"), by_category=dict(entry.get("by_category") or {}),
        rewrites={fold(normalise_term(str(k))): str(v) for k, v in (entry.get("rewrites") or {}).items()},
        handler=entry.get("handler"), today_terms=_tuple(entry, "today_terms"),
        unverified_why_zh=entry.get("unverified_why_zh", ""), unverified_why_en=entry.get("unverified_why_en", ""),
    )


def _parse_superlative(entry: dict) -> SuperlativeConfig:
    check_rule_labels(entry["category"], where=f"superlative rule {entry.get('id', '?')}")
    return SuperlativeConfig(
        id=entry["id"], category=entry["category"], legal_basis=entry["legal_basis"], source=entry.get("source", ""),
        why_zh=entry["why_zh"], why_en=entry["why_en"], borderline_why_zh=entry["borderline_why_zh"],
        borderline_why_en=entry["borderline_why_en"], rewrite=entry.get("rewrite", "很"),
        not_a_claim=_tuple(entry, "not_a_claim"), degree_compounds=_tuple(entry, "degree_compounds"),
        descriptive_adjectives=_tuple(entry, "descriptive_adjectives"),
        within_product_after=_tuple(entry, "within_product_after"),
        effect_verbs_before=_tuple(entry, "effect_verbs_before"),
        copula_compounds=_tuple(entry, "copula_compounds"), ranking_nouns=_tuple(entry, "ranking_nouns"),
    )


def build_ruleset(data: dict) -> RuleSet:
    """Compile parsed YAML into a RuleSet (public so tests can build small rule sets).

    Terms are normalised like the texts (NO.1 and ＮＯ．１ both become NO1), so one entry covers its variants."""
    language = data.get("language", "zh")
    rules = {r.id: r for r in (_parse_rule(e, language) for e in data.get("rules") or [])}
    automaton = ahocorasick.Automaton()
    index: dict[str, list[str]] = {}
    for rule in rules.values():
        for term in rule.terms:
            index.setdefault(fold(term), []).append(rule.id)
    superlative = _parse_superlative(data["superlative"]) if data.get("superlative") else None
    if superlative:
        index.setdefault(SUPERLATIVE_TERM, []).append(superlative.id)
    for term, ids in index.items():
        automaton.add_word(term, (term, sorted(set(ids))))
    automaton.make_automaton()
    return RuleSet(language=language, rules=rules, automaton=automaton, superlative=superlative)


@lru_cache(maxsize=8)
def load_ruleset(language: str) -> RuleSet:
    """The packaged rule set for one of LANGUAGES (compiled once per process)."""
    if language not in LANGUAGES:
        raise KeyError(language)
    name = f"rules_{language}.yaml"
    try:
        raw = resources.files("shopmind.compliance").joinpath("data", name).read_text(encoding="utf-8")
    except OSError as exc:  # pragma: no cover - packaging error
        raise BackendUnavailable(f"compliance rules {name} missing: {exc}") from exc
    return build_ruleset(yaml.safe_load(raw))
