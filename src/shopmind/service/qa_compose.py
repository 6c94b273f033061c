"""Deterministic answers composed from retrieved facts, refusals, and the grounding check that
an LLM's phrasing must pass (every number, colour, material and brand it names must be in
the facts it cites).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shopmind.service.qa_facts import Fact
from shopmind.service.qa_lexicon import Lexicon, load_lexicon
from shopmind.service.qa_retrieve import Retrieval

_NUM = re.compile(r"\d+(?:\.\d+)?")
_REFUSAL_CUES = ("没有关于", "无法确定", "不知道", "无法回答", "no information", "don't know", "do not know",
                 "can't say", "cannot say", "not sure", "not mentioned", "没有提到", "未提及")


def _show(value: str, lang: str, lex: Lexicon, value_zh: str | None = None) -> str:
    """zh answers name a value in Chinese with the catalog's own word in brackets."""
    if lang != "zh":
        return value
    zh = value_zh or lex.zh(value)
    return f"{zh}（{value}）" if zh and zh != value else value


def _colours_text(colours: Iterable[str], lang: str, lex: Lexicon) -> str:
    sep = "、" if lang == "zh" else ", "
    return sep.join(_show(c, lang, lex) for c in colours)


def _variant_part(fact: Fact, own: str | None, lang: str, lex: Lexicon) -> str:
    others: list[str] = list(fact.extra.get("colours") or [])
    sizes: list[str] = list(fact.extra.get("sizes") or [])
    all_colours = ([own] if own else []) + [c for c in others if not own or c.lower() != own.lower()]
    if lang == "zh":
        text = f"目录中这款共有{len(all_colours)}种颜色：{_colours_text(all_colours, lang, lex)}"
        if own:
            text += f"（本款为{_show(own, lang, lex)}）"
        if sizes:
            text += f"，尺码有{'、'.join(sizes)}"
        return text
    text = f"the catalog lists this style in {len(all_colours)} colour(s): {_colours_text(all_colours, lang, lex)}"
    if own:
        text += f" (this one is {own})"
    if sizes:
        text += f"; sizes: {', '.join(sizes)}"
    return text


def _range_part(fact: Fact, own: str | None, lang: str, lex: Lexicon) -> str:
    colours = fact.extra.get("colours") or []
    n = fact.extra.get("n_products", len(colours))
    lead = ""
    if lang == "zh":
        if own:
            lead = f"目录中没有找到这款的其他颜色版本，本款为{_show(own, lang, lex)}；"
        return lead + f"同品牌同品类的另外{n}件商品有这些颜色：{_colours_text(colours, lang, lex)}"
    if own:
        lead = f"the catalog has no other colour version of this exact style (this one is {own}); "
    return lead + f"{n} other products of the same brand and type come in {_colours_text(colours, lang, lex)}"


def compose(retrieval: Retrieval, lang: str, lex: Lexicon | None = None) -> str:
    """One answer sentence per cited field, in the question's language, from the facts only."""
    lex = lex or load_lexicon()
    if not retrieval.answerable:
        return refusal(retrieval, lang, lex)
    facts = [s.fact for s in retrieval.facts]
    fields = {f.field for f in facts}
    own_fact = next((f for f in facts if f.field == "colour"), None) or next((f for f in facts if f.field == "image_colour"), None)
    own = own_fact.value if own_fact else None
    variants_asked = "variants" in retrieval.intents
    parts: list[str] = []
    grouped: dict[str, list[Fact]] = {}
    for fact in facts:
        grouped.setdefault(fact.field, []).append(fact)
    for field_name, group in grouped.items():
        if field_name == "variants":
            parts.append(_variant_part(group[0], own, lang, lex))
            continue
        if field_name == "brand_range":
            if "variants" not in fields:
                parts.append(_range_part(group[0], own, lang, lex))
            continue
        if variants_asked and field_name in {"colour", "image_colour"} and ({"variants", "brand_range"} & fields):
            continue  # the variant sentence already names this product's colour
        if field_name == "description" or (field_name not in lex.fields and len(group[0].value) > 60):
            for fact in group:
                quote = fact.value if len(fact.value) <= 200 else fact.value[:197] + "…"
                parts.append(f"商品描述写道：“{quote}”" if lang == "zh" else f'the description says: "{quote}"')
            continue
        label = lex.label(field_name, lang)
        if field_name == "image_colour":
            label = "图片中识别到的颜色" if lang == "zh" else "the colours seen in the photo"
        values = ("、" if lang == "zh" else ", ").join(dict.fromkeys(_show(f.value, lang, lex, f.value_zh) for f in group))
        if variants_asked and field_name == "colour" and not ({"variants", "brand_range"} & fields):
            parts.append(f"目录中没有找到这款的其他颜色版本，本款{label}为{values}" if lang == "zh"
                         else f"the catalog has no other colour version of this item; its {label} is {values}")
            continue
        parts.append(f"{label}为{values}" if lang == "zh" else f"the {label} is {values}")
    if lang == "zh":
        return "根据商品资料，" + "；".join(parts) + "。"
    body = "; ".join(parts)
    return "According to the product record, " + body + ("" if body.endswith(".") else ".")


def refusal(retrieval: Retrieval, lang: str, lex: Lexicon | None = None) -> str:
    """Say plainly that the product's facts do not answer the question."""
    lex = lex or load_lexicon()
    topics = [lex.label(f, lang) for f in retrieval.missing_fields[:2]]
    if lang == "zh":
        topic = "、".join(topics) if topics else "这个问题"
        return f"抱歉，这款商品的资料中没有关于{topic}的信息，我无法确定，建议联系客服确认。"
    topic = " or ".join(topics) if topics else "this question"
    return f"Sorry, this product's record has no information about {topic}, so I can't say. Please check with our support team."


def _vocab_mentions(text: str, vocab_en: Iterable[str], lex: Lexicon) -> set[str]:
    """Catalog value words (colours, materials, brands) named in `text`, as lower-case en keys."""
    low = text.lower()
    found: set[str] = set()
    for word in vocab_en:
        if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", low):
            found.add(word)
        zh = lex.zh(word)
        if zh and len(zh) >= 1 and zh in text:
            found.add(word)
    # a longer match ("navy blue") explains its parts ("blue")
    return {w for w in found if not any(w != o and w in o for o in found)}


def checked_vocab(lex: Lexicon, brands: Iterable[str] = ()) -> list[str]:
    """Words whose presence in an answer is a factual claim we can verify."""
    words = [v for v, kind in lex.value_kind.items() if kind in {"colour", "material"}]
    words.extend(b.lower() for b in brands if b)
    return sorted(set(words), key=len, reverse=True)


def grounding_problems(answer: str, cited: list[Fact], question: str, lex: Lexicon | None = None,
                       brands: Iterable[str] = ()) -> list[str]:
    """Claims in `answer` that neither the cited facts nor the question contain (empty = grounded)."""
    lex = lex or load_lexicon()
    support = " ".join([question] + [f"{f.value} {f.value_zh or ''}" for f in cited])
    support_low = support.lower()
    problems: list[str] = []
    allowed_numbers = set(_NUM.findall(support))
    for number in _NUM.findall(answer):
        if number not in allowed_numbers and not re.fullmatch(r"[1-9]", number):
            problems.append(f"number {number} is not in the cited facts")
    vocab = checked_vocab(lex, brands)
    supported = _vocab_mentions(support, vocab, lex)
    for word in sorted(_vocab_mentions(answer, vocab, lex)):
        if word in supported or word in support_low:
            continue
        zh = lex.zh(word)
        if zh and zh in support:
            continue
        problems.append(f"'{word}' is not in the cited facts")
    return problems


def looks_like_refusal(text: str) -> bool:
    low = text.lower()
    return any(cue in low for cue in _REFUSAL_CUES)
