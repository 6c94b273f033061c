"""Chat messages from the Jinja2 templates in `templates/` (prompts are data, reviewed like copy).

Untrusted text stays data: product fields, merchant selling points, brand voice and persona are
rendered only inside the fenced block of the *user* message (never the system message), each value
flattened to one line with the fence markers and control characters removed (`as_data`), and the
system message says that block is data, not instructions.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from shopmind.domain import Finding
from shopmind.errors import BadInput
from shopmind.generate.factcheck import english_gloss
from shopmind.generate.facts import ProductFacts
from shopmind.generate.languages import language_names
from shopmind.generate.schemas import EXTRA_TEMPLATES, SCHEMAS

_TEMPLATES = Path(__file__).parent / "templates"


# Sequences that could close or fake a fence, a role turn or a code block.
_FENCE = re.compile(r"<{2,}|>{2,}|`{3,}|<\|[^|]*\|>|\[/?INST\]", re.IGNORECASE)
MAX_DATA_CHARS = 2000


def as_data(value: object) -> str:
    """One line of quoted data: control/format characters and line breaks become spaces, fence-like
    sequences (<<< >>> ``` <|im_start|> [INST]) are removed, and very long values are cut."""
    text = "" if value is None else str(value)
    text = "".join(" " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} else ch for ch in text)
    prev = None
    while prev != text:
        prev, text = text, _FENCE.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_DATA_CHARS]


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # StrictUndefined: a typo in a template fails loudly in tests instead of writing "" into a prompt.
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(_TEMPLATES)), jinja2.DictLoader(EXTRA_TEMPLATES)])
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=False)
    env.filters["data"] = as_data
    return env


def _common(facts: ProductFacts, language: str, brand_voice: str | None) -> dict[str, Any]:
    en, zh = language_names(language)
    return {"facts": facts, "language_en": en, "language_zh": zh, "brand_voice": brand_voice, "persona": None,
            "gloss": english_gloss if language != "zh" else (lambda _: "")}


def build_messages(content_type: str, facts: ProductFacts, *, language: str = "zh", persona: str | None = None,
                   brand_voice: str | None = None, length: int | None = None) -> list[dict[str, str]]:
    """System + user messages asking for `content_type` as JSON (`length`: target characters, description)."""
    if content_type not in SCHEMAS:
        raise BadInput(f"unknown content type {content_type!r}; use one of {', '.join(SCHEMAS)}")
    ctx = _common(facts, language, brand_voice) | {"persona": persona, "length": int(length) if length else None}
    env = environment()
    return [
        {"role": "system", "content": env.get_template("system.j2").render(**ctx).strip()},
        {"role": "user", "content": env.get_template(f"{content_type}.j2").render(**ctx).strip()},
    ]


COMPACT_TYPES = ("description",)


def compact_facts_line(facts: ProductFacts, brand_voice: str | None = None) -> str:
    """The facts as one `key：v1、v2；key：v` line, every value flattened by `as_data`."""
    parts = [f"商品：{as_data(facts.title)}"] if facts.title else []
    parts += [f"{as_data(k)}：{'、'.join(as_data(v) for v in vs)}" for k, vs in facts.grouped().items()]
    if facts.price is not None:
        parts.append(f"价格：{facts.price:g} 元")
    parts += [f"卖点：{as_data(p)}" for p in facts.selling_points]
    if brand_voice:
        parts.append(f"品牌语气：{as_data(brand_voice)}")
    return "；".join(p for p in parts if p)


def compact_messages(content_type: str, facts: ProductFacts, *, language: str = "zh",
                     brand_voice: str | None = None, length: int | None = None) -> list[dict[str, str]]:
    """The short prompt brand-voice adapters are trained and served with (tune `prompt_style:
    compact`, ~60-100 tokens instead of ~360): the adapter learned the style from examples, so it
    needs only the fenced facts and one instruction line. `length` (characters) asks for about
    that long a text; adapters trained with `length_hint` learned to follow it."""
    if content_type not in COMPACT_TYPES:
        raise BadInput(f"the compact prompt style covers {', '.join(COMPACT_TYPES)}, not {content_type!r}")
    ctx = _common(facts, language, brand_voice) | {"facts_line": compact_facts_line(facts, brand_voice),
                                                   "length": int(length) if length else None}
    env = environment()
    return [
        {"role": "system", "content": env.get_template("voice_system.j2").render(**ctx).strip()},
        {"role": "user", "content": env.get_template(f"voice_{content_type}.j2").render(**ctx).strip()},
    ]


def rewrite_messages(content_type: str, facts: ProductFacts, current: dict[str, Any], problems: list[Finding], *,
                     language: str = "zh", brand_voice: str | None = None) -> list[dict[str, str]]:
    """Messages asking the LLM to fix exactly the listed findings and keep the rest."""
    ctx = _common(facts, language, brand_voice) | {
        "current_json": json.dumps(current, ensure_ascii=False), "problems": problems}
    env = environment()
    return [
        {"role": "system", "content": env.get_template("system.j2").render(**ctx).strip()},
        {"role": "user", "content": env.get_template("rewrite.j2").render(**ctx).strip()},
    ]
