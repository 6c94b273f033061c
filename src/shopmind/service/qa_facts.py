"""Turns one product into a list of citable facts: catalog fields, attributes, description
sentences, understanding-layer tags (colours, labels, OCR) and catalog variants.

Every answer is built from these facts only, so each carries where it came from (`source`)
and a bilingual `text` used both for e5 retrieval and for checking LLM output.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel

from shopmind.catalog.store import CatalogStore
from shopmind.domain import Product, ProductTags
from shopmind.service.qa_lexicon import Lexicon, load_lexicon
from shopmind.service.qa_variants import VariantRef, colour_of, find_variants

_NA = {"", "na", "n/a", "none", "null", "-", "nan", "{}", "[]"}
MIN_TAG_SHARE = 0.15  # image colours below this share of the foreground are noise
MIN_LABEL_SCORE = 0.5  # zero-shot labels below this are guesses, not facts
MAX_CHUNK = 280
MAX_LIST = 12


class Fact(BaseModel):
    """One citable statement about the product."""

    id: str
    field: str
    value: str
    value_zh: str | None = None
    source: str  # e.g. "attribute:Fabric", "catalog:price", "description", "tags:colours", "catalog:variants"
    text: str  # bilingual passage (label + value) for retrieval and grounding checks
    extra: dict = {}

    @property
    def from_tags(self) -> bool:
        return self.source.startswith("tags") or self.source == "ocr"


def _is_blank(value: object) -> bool:
    return value is None or str(value).strip().lower() in _NA


def _flatten(key: str, value: object) -> list[tuple[str, str]]:
    """Attribute values that are JSON objects (nested exports) become one pair per sub-key."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for sub_key, sub_value in value.items():
            out.extend(_flatten(str(sub_key), sub_value))
        return out
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return [(key, str(value).strip())]


def split_description(text: str) -> list[str]:
    """Paragraphs (lines joined with '; '), long ones cut at sentence ends, each ≤ MAX_CHUNK chars."""
    chunks: list[str] = []
    for para in re.split(r"\n\s*\n", text or ""):
        lines = [ln.strip() for ln in para.splitlines() if ln.strip()]
        if not lines:
            continue
        joined = "; ".join(lines)
        pieces = re.split(r"(?<=[.!?。！？])\s*", joined) if len(joined) > MAX_CHUNK else [joined]
        buf = ""
        for piece in pieces:
            if buf and len(buf) + len(piece) + 1 > MAX_CHUNK:
                chunks.append(buf)
                buf = ""
            buf = f"{buf} {piece}".strip()
        if buf:
            chunks.append(buf[: MAX_CHUNK * 2])
    return [c for c in chunks if len(c) >= 12]


class _Builder:
    def __init__(self, lex: Lexicon) -> None:
        self.lex = lex
        self.facts: list[Fact] = []

    def add(self, field: str, value: str, source: str, *, value_zh: str | None = None, extra: dict | None = None) -> None:
        value = value.strip()
        if _is_blank(value):
            return
        zh = value_zh if value_zh is not None else self.lex.zh(value)
        text = f"{self.lex.label(field, 'en')} {self.lex.label(field, 'zh')}: {value}" + (f" {zh}" if zh else "")
        self.facts.append(Fact(id=f"F{len(self.facts) + 1}", field=field, value=value, value_zh=zh, source=source,
                               text=text, extra=extra or {}))


def _currency(product: Product, lex: Lexicon) -> str:
    for key, value in product.attributes.items():
        if lex.field_for_key(key) == "currency" and not _is_blank(value):
            return str(value).strip()
    return ""


def _fmt_price(value: float | str, currency: str) -> str:
    try:
        number = f"{float(value):g}"
    except (TypeError, ValueError):
        number = str(value)
    return f"{number} {currency}".strip()


def _colour_list(refs: list[VariantRef]) -> list[str]:
    seen: list[str] = []
    for ref in refs:
        if ref.colour and ref.colour not in seen:
            seen.append(ref.colour)
    return seen


def build_facts(store: CatalogStore, product: Product, tags: ProductTags | None = None,
                lex: Lexicon | None = None, *, with_variants: bool = True) -> list[Fact]:
    """All facts about `product`, in a stable order (ids F1, F2 … are per answer)."""
    lex = lex or load_lexicon()
    b = _Builder(lex)
    currency = _currency(product, lex)
    b.add("title", product.title, "catalog:title")
    if product.price is not None:
        b.add("price", _fmt_price(product.price, currency), "catalog:price")
    if product.category:
        b.add("category", product.category, "catalog:category")
    for key, raw in product.attributes.items():
        for sub_key, value in _flatten(key, raw):
            field = lex.field_for_key(sub_key)
            if field == "currency" or _is_blank(value):
                continue
            if field == "description":
                for chunk in split_description(value):
                    b.add("description", chunk, f"attribute:{sub_key}")
                continue
            if field in {"price", "sale_price"}:
                value = _fmt_price(value, currency)
            if len(value) > MAX_CHUNK:
                for chunk in split_description(value):
                    b.add(field, chunk, f"attribute:{sub_key}")
                continue
            b.add(field, value, f"attribute:{sub_key}")
    for chunk in split_description(product.description):
        b.add("description", chunk, "catalog:description")
    if tags is not None:
        for colour in tags.colours:
            if colour.share >= MIN_TAG_SHARE:
                b.add("image_colour", colour.name_en, "tags:colours", value_zh=colour.name_zh,
                      extra={"share": round(colour.share, 3)})
        for label_field, labels in tags.labels.items():
            if labels and labels[0].score >= MIN_LABEL_SCORE:
                top = labels[0]
                b.add(lex.field_for_key(label_field), top.label, f"tags:labels:{label_field}", value_zh=top.label_zh,
                      extra={"score": round(top.score, 3)})
        if tags.ocr_text and tags.ocr_text.strip():
            b.add("ocr", tags.ocr_text.strip()[:MAX_CHUNK], "ocr")
    if with_variants:
        same_style, same_line = find_variants(store, product)
        own = colour_of(product, lex)
        if same_style:
            refs = same_style[:MAX_LIST]
            colours = [c for c in _colour_list(refs) if not own or c.lower() != own.lower()]
            sizes = sorted({r.size for r in refs if r.size})
            value = "; ".join(f"{r.colour or '?'}{' ' + r.size if r.size else ''} (id {r.id})" for r in refs)
            zh = "；".join(f"{lex.zh(r.colour) or r.colour or '?'}（id {r.id}）" for r in refs if r.colour)
            b.add("variants", value, "catalog:variants", value_zh=zh or None,
                  extra={"ids": [r.id for r in refs], "colours": colours, "sizes": sizes, "own_colour": own})
        if same_line:
            colours = [c for c in _colour_list(same_line) if not own or c.lower() != own.lower()][:MAX_LIST]
            if colours:
                zh = "、".join(lex.zh(c) or c for c in colours)
                b.add("brand_range", f"{len(same_line)} products: " + ", ".join(colours), "catalog:brand_range",
                      value_zh=f"{len(same_line)}件商品：{zh}",
                      extra={"n_products": len(same_line), "colours": colours, "own_colour": own})
    return b.facts
