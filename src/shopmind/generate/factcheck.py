"""Fact check: generated copy may not contradict or invent colour, material, size, price or numbers.

Small models write fluent copy and invent details ("纯棉" for a polyester shirt, "仅需99元").
Every colour/material/size/price the copy states must be backed by the facts; numbers that appear
nowhere in the facts are flagged as unverified. Findings use `category="fact_contradiction"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from shopmind.domain import Finding
from shopmind.generate.facts import ProductFacts

_LEXICON = Path(__file__).parent / "data" / "fact_lexicon.yaml"
_CLAUSE_END = "，。；！？,.;!?\n"
_NUMBER = re.compile(r"(?<![A-Za-z0-9.])\d+(?:\.\d+)?(?![\d])")
_PRICE = re.compile(
    r"(?:[¥￥$]|RMB|CNY|USD)\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:元|块钱|块|rmb|yuan|dollars?|usd|€|euros?)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Lexicon:
    colour_terms: dict[str, frozenset[str]]  # term -> families
    material_terms: dict[str, frozenset[str]]
    fact_only: dict[str, frozenset[str]]
    generic_colours: tuple[str, ...]
    sizes_zh: tuple[str, ...]
    sizes_en: tuple[str, ...]
    styling_zh: tuple[str, ...]
    styling_en: tuple[str, ...]
    family_en: dict[str, str]  # family -> its English name (glosses for prompts in other languages)


def _index(entries: list[dict], out: dict[str, set[str]], fact_only: dict[str, set[str]]) -> None:
    for e in entries:
        for term in list(e.get("zh", [])) + list(e.get("en", [])):
            out.setdefault(str(term).lower(), set()).add(e["family"])
        for term in e.get("fact_only", []):
            fact_only.setdefault(str(term).lower(), set()).add(e["family"])


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    data = yaml.safe_load(_LEXICON.read_text(encoding="utf-8"))
    colours: dict[str, set[str]] = {}
    materials: dict[str, set[str]] = {}
    fact_only: dict[str, set[str]] = {}
    _index(data["colours"], colours, fact_only)
    _index(data["materials"], materials, fact_only)
    freeze = lambda d: {k: frozenset(v) for k, v in d.items()}  # noqa: E731
    family_en = {e["family"]: e["en"][0] for e in data["colours"] + data["materials"] if e.get("en")}
    return Lexicon(freeze(colours), freeze(materials), freeze(fact_only),
                   tuple(data["generic_colour_values"]["values"]), tuple(data["sizes"]["zh"]),
                   tuple(data["sizes"]["en"]), tuple(data["styling_cues"]["zh"]), tuple(data["styling_cues"]["en"]),
                   family_en)


def english_gloss(value: str) -> str:
    """English names of the colours/materials in a fact value ("牛仔布" → "denim"), "" when none.

    Small models translate 牛仔 as "cowboy"; the gloss in the prompt keeps translations grounded."""
    lex = lexicon()
    families = _families([value], lex.colour_terms, {}) | _families([value], lex.material_terms, lex.fact_only)
    return ", ".join(sorted(lex.family_en[f] for f in families if f in lex.family_en))


def _is_ascii(term: str) -> bool:
    return term.isascii()


def _find(text: str, term: str, case_sensitive: bool = False) -> list[tuple[int, int]]:
    """Occurrences of `term`; ASCII terms only as whole words (so "red" does not match "reduce")."""
    hay = text if case_sensitive else text.lower()
    needle = term if case_sensitive else term.lower()
    if _is_ascii(needle):
        pattern = re.compile(r"(?<![A-Za-z0-9])" + re.escape(needle) + r"(?![A-Za-z0-9])")
        return [(m.start(), m.end()) for m in pattern.finditer(hay)]
    out, start = [], hay.find(needle)
    while start != -1:
        out.append((start, start + len(needle)))
        start = hay.find(needle, start + 1)
    return out


def _mentions(text: str, terms: dict[str, frozenset[str]]) -> list[tuple[int, int, frozenset[str]]]:
    """Maximal mention spans with the union of families of the terms inside each (粉红色 → red|pink)."""
    hits = sorted((s, e, fam) for term, fam in terms.items() for s, e in _find(text, term))
    merged: list[list] = []
    for s, e, fam in hits:
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2] = merged[-1][2] | fam
        else:
            merged.append([s, e, fam])
    return [(s, e, fam) for s, e, fam in merged]


def _families(texts: list[str], terms: dict[str, frozenset[str]], extra: dict[str, frozenset[str]]) -> set[str]:
    found: set[str] = set()
    for t in texts:
        low = t.lower()
        for term, fam in list(terms.items()) + list(extra.items()):
            if _find(low, term):
                found |= fam
    return found


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause (between punctuation marks) holding text[start:end], end including its delimiter."""
    left = max((text.rfind(ch, 0, start) for ch in _CLAUSE_END), default=-1) + 1
    rights = [i for i in (text.find(ch, end) for ch in _CLAUSE_END) if i != -1]
    right = min(rights) + 1 if rights else len(text)
    return left, right


def _styling(text: str, start: int, lex: Lexicon) -> bool:
    """True when the mention sits after a styling cue in its clause (搭配白色T恤 names another item)."""
    left, _ = clause_bounds(text, start, start)
    before = text[left:start]
    low = before.lower()
    return any(cue in before for cue in lex.styling_zh) or any(cue in low for cue in lex.styling_en)


def _finding(text: str, start: int, end: int, severity: str, rule: str, why_zh: str, why_en: str) -> Finding:
    left, right = clause_bounds(text, start, end)
    return Finding(span=text[start:end], start=start, end=end, category="fact_contradiction", severity=severity,
                   rule_id=rule, legal_basis="《广告法》第八条、第二十八条（商品性能、材质、价格等须真实准确）",
                   why_zh=why_zh, why_en=why_en, sentence=text[left:right].strip(), rewrite=None)


def _numbers_in(texts: list[str]) -> set[float]:
    return {float(m.group()) for t in texts for m in _NUMBER.finditer(t)}


def check_facts(text: str, facts: ProductFacts) -> list[Finding]:
    """Every unsupported colour/material/size/price claim (violation) and unknown number (borderline)."""
    if not text:
        return []
    lex = lexicon()
    fact_texts = facts.texts()
    out: list[Finding] = []
    covered: list[tuple[int, int]] = []

    fact_colours = _families(fact_texts, lex.colour_terms, {})
    generic = any(g.lower() in t.lower() for t in fact_texts for g in lex.generic_colours)
    for s, e, fam in _mentions(text, lex.colour_terms):
        covered.append((s, e))
        if fam & fact_colours or _styling(text, s, lex):
            continue
        if generic and not fact_colours:
            out.append(_finding(text, s, e, "borderline", "fact.colour.unverified",
                                f"事实只写了笼统颜色，未写明“{text[s:e]}”", f"facts name no specific colour such as '{text[s:e]}'"))
        else:
            known = "、".join(sorted(fact_colours)) or "无"
            out.append(_finding(text, s, e, "violation", "fact.colour",
                                f"颜色“{text[s:e]}”与商品事实不符（事实颜色：{known}）",
                                f"colour '{text[s:e]}' is not in the product facts (known: {', '.join(sorted(fact_colours)) or 'none'})"))

    fact_materials = _families(fact_texts, lex.material_terms, lex.fact_only)
    for s, e, fam in _mentions(text, lex.material_terms):
        covered.append((s, e))
        if fam & fact_materials or _styling(text, s, lex):
            continue
        out.append(_finding(text, s, e, "violation", "fact.material",
                            f"材质“{text[s:e]}”在商品事实中没有依据", f"material '{text[s:e]}' is not backed by the product facts"))

    fact_sizes = {sz for t in fact_texts for sz in lex.sizes_en if _find(t, sz, case_sensitive=True)}
    fact_sizes |= {sz for t in fact_texts for sz in lex.sizes_zh if sz in t}
    for sz in lex.sizes_en + lex.sizes_zh:
        for s, e in _find(text, sz, case_sensitive=True):
            if text[e:e + 1] in {"型", "形"}:  # S型曲线 is a silhouette, not a size
                continue
            covered.append((s, e))
            if sz not in fact_sizes:
                out.append(_finding(text, s, e, "violation", "fact.size",
                                    f"尺码“{sz}”在商品事实中没有依据", f"size '{sz}' is not in the product facts"))

    for m in _PRICE.finditer(text):
        value = float(m.group(1) or m.group(2))
        covered.append((m.start(), m.end()))
        if facts.price is None:
            out.append(_finding(text, m.start(), m.end(), "violation", "fact.price.invented",
                                f"文案写了价格“{m.group()}”，但商品事实中没有价格",
                                f"the copy states a price '{m.group()}' but the facts carry none"))
        elif abs(value - facts.price) > 0.005:
            out.append(_finding(text, m.start(), m.end(), "violation", "fact.price",
                                f"价格“{m.group()}”与商品价格 {facts.price:g} 不符",
                                f"price '{m.group()}' contradicts the product price {facts.price:g}"))

    known_numbers = _numbers_in(fact_texts)
    for m in _NUMBER.finditer(text):
        if any(s <= m.start() < e for s, e in covered) or float(m.group()) in known_numbers:
            continue
        out.append(_finding(text, m.start(), m.end(), "borderline", "fact.number",
                            f"数字“{m.group()}”在商品事实中找不到，需核实", f"number '{m.group()}' is not in the product facts"))
    return sorted(out, key=lambda f: f.start)


def drop_clauses(text: str, findings: list[Finding]) -> str:
    """Remove each clause holding a finding (the deterministic last resort when rewriting fails)."""
    cuts = sorted({clause_bounds(text, f.start, f.end) for f in findings if 0 <= f.start <= f.end <= len(text)},
                  reverse=True)
    out = text
    for left, right in cuts:
        out = out[:left] + out[right:]
    out = re.sub(r"^[，,；;、\s]+", "", out).strip()
    if out and out[-1] in "，,；;、":
        out = out[:-1] + "。"
    return out
