"""Publishable copy for posters and videos: a headline and selling points a merchant could print.

Why not the description: catalog descriptions are care labels and headings ("Wash Care", "Use mild
detergent", "Composition"), not selling copy. The copy comes from `write` (grounded in the facts,
checked, in the chosen language: a title and selling points); when no LLM is available it falls back to a deterministic
template from the product's own facts (title + key attributes, values in Chinese through the live
glossary). Whatever the source — generated, template or a merchant's override — every string passes
`compliance.guard` before it may be rendered.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from shopmind.compliance.guard import GuardResult, guard
from shopmind.domain import Finding, Product
from shopmind.errors import BadInput, ShopmindError

CopySource = Literal["write", "template"]
CopyMode = Literal["auto", "write", "template"]
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Columns that are identifiers or media, never features to read out.
_SKIP_KEYS = {"title", "title_en", "image", "image_url", "url", "sku", "id", "barcode", "ean", "description"}
_EMPTY = {"", "na", "n/a", "none", "null", "-", "unknown"}
# Which attributes make the best points, in order (lower-cased keys); the rest follow in catalog order.
_PRIORITY = ("material", "fabric", "材质", "面料", "articletype", "article_type", "品类", "basecolour", "colour", "color",
             "颜色", "usage", "season", "fit", "pattern", "gender", "subcategory")
_LABELS_EXTRA = {"mastercategory": {"zh": "大类", "en": "category"}, "subcategory": {"zh": "类目", "en": "category"}}


class MediaCopy(BaseModel):
    """The strings a poster or video may show, where they came from and what the guard found."""

    headline: str
    points: list[str] = Field(default_factory=list)
    language: str
    source: CopySource
    overridden: bool = False
    findings: list[Finding] = Field(default_factory=list)  # compliance + fact findings on the input strings
    rewritten: bool = False
    refused: bool = False
    notes: list[str] = Field(default_factory=list)


def copy_language(product: Product, language: str | None = None) -> str:
    if language:
        if language not in ("zh", "en"):
            raise BadInput(f"media copy language must be zh or en, got {language!r}")
        return language
    return "zh" if _CJK.search(product.title or "") else "en"


@lru_cache(maxsize=1)
def _labels() -> dict[str, dict[str, str]]:
    path = Path(__file__).resolve().parents[1] / "live" / "data" / "script_templates.yaml"
    return {**yaml.safe_load(path.read_text(encoding="utf-8"))["field_labels"], **_LABELS_EXTRA}


def _value(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return None if text.lower() in _EMPTY or len(text) > 40 else text


def template_copy(product: Product, language: str, max_points: int = 3) -> tuple[str, list[str]]:
    """Deterministic grounded copy: the title, then `label：value` points from the attributes."""
    from shopmind.live.glossary import to_zh

    attrs = {k: v for k, v in product.attributes.items()}
    headline = product.title.strip()
    if language == "en" and _CJK.search(headline) and _value(attrs.get("title_en")):
        headline = str(attrs["title_en"]).strip()
    keys = [k for k in attrs if k.lower() not in _SKIP_KEYS and not k.lower().endswith(("_en", "_id", "_url"))]
    keys.sort(key=lambda k: _PRIORITY.index(k.lower().replace(" ", "")) if k.lower().replace(" ", "") in _PRIORITY
              else len(_PRIORITY))
    points: list[str] = []
    for key in keys:
        value = _value(attrs[key])
        if value is None:
            continue
        label = _labels().get(key.lower().replace(" ", "")) or {}
        if language == "zh":
            said = to_zh(value)
            name = label.get("zh") or (key if _CJK.search(key) else None)
            point = f"{name}：{said}" if name else said
        else:
            if _CJK.search(value):
                continue  # a Chinese value on an English poster would be untranslated
            name = label.get("en") or key
            point = f"{name[:1].upper()}{name[1:]}: {value}"
        if value in headline and language == "en":
            continue  # already said by the headline
        if point not in points:
            points.append(point)
        if len(points) >= max_points:
            break
    return headline, points


def neutral_headline(product: Product, language: str) -> str:
    """A plain headline from the facts when the title itself cannot be published: the product type."""
    from shopmind.live.glossary import to_zh

    lowered = {k.lower().replace(" ", ""): v for k, v in product.attributes.items()}
    for key in ("类型", "品类", "articletype", "article_type", "subcategory", "type"):
        value = _value(lowered.get(key))
        if value:
            return to_zh(value) if language == "zh" else value
    if product.category and _value(product.category):
        return to_zh(product.category) if language == "zh" else product.category
    return "商品" if language == "zh" else "Product"


def _written(product: Product, language: str, llm: Any, store: Any) -> tuple[str, list[str]]:
    """Title and selling points from `write` (two short requests, one rewrite round each: a poster
    needs neither a description nor long polishing); raises ShopmindError when it cannot deliver."""
    from shopmind.generate import WriteRequest, write

    def request(content_type: str) -> WriteRequest:
        if store is not None:
            return WriteRequest(content_type=content_type, product_id=product.id, language=language, max_rounds=1)
        pairs = [f"{k}#{v}" for k, v in product.attributes.items() if _value(v) and "#" not in str(v) and "*" not in str(v)]
        return WriteRequest(content_type=content_type, attributes="*".join([f"商品#{product.title}"] + pairs),
                            language=language, price=product.price, category=product.category, max_rounds=1)

    title = write(request("title"), llm, store=store)
    points = write(request("selling_points"), llm, store=store)
    if not (title.passed and points.passed):
        raise BadInput("generated copy did not pass the checks")
    return title.content["title"], list(points.content.get("points", []))


def _guarded(text: str, product: Product, mode: str, out: MediaCopy) -> GuardResult:
    g = guard(text, product=product, mode=mode)  # type: ignore[arg-type]
    out.findings += g.findings + g.fact_findings
    out.rewritten |= g.rewritten
    out.refused |= g.refused
    out.notes += g.notes
    return g


def publishable_copy(product: Product, *, language: str | None = None, headline: str | None = None,
                     points: list[str] | None = None, copy: CopyMode = "auto", mode: str = "rewrite",
                     llm: Any = None, store: Any = None, max_points: int = 3) -> MediaCopy:
    """Headline and points for a poster/video, every string guarded (see module doc).

    `copy`: "write" needs the LLM, "template" never calls it, "auto" tries `write` and falls back.
    `headline`/`points` override the generated strings and are guarded the same way. In refuse mode
    a violating string makes the result `refused` (callers exit 2 and print the findings)."""
    if copy not in ("auto", "write", "template"):
        raise BadInput(f"copy must be auto, write or template, got {copy!r}")
    lang = copy_language(product, language)
    t_head, t_points = template_copy(product, lang, max_points)
    source: CopySource = "template"
    notes: list[str] = []
    g_head, g_points = t_head, t_points
    need_generated = headline is None or points is None
    if copy != "template" and need_generated:
        try:
            if llm is None:
                from shopmind.config import get_settings
                from shopmind.models.llm import get_llm

                llm = get_llm(get_settings())
            g_head, g_points = _written(product, lang, llm, store)
            source = "write"
        except ShopmindError as exc:
            if copy == "write":
                raise
            notes.append(f"LLM copy unavailable ({exc.message}); grounded template used")
    out = MediaCopy(headline="", language=lang, source=source, overridden=headline is not None or points is not None,
                    notes=notes)
    head_g = _guarded(headline if headline is not None else g_head, product, mode, out)
    head = head_g.text
    if not head.strip() and not out.refused:  # everything in the headline violated: the guarded title instead
        head = _guarded(t_head, product, mode, out).text if t_head != (headline or g_head) else ""
        head = head or _guarded(neutral_headline(product, lang), product, mode, out).text
        out.notes.append("headline emptied by the guard; a guarded headline from the product facts is used")
    raw_points = points if points is not None else g_points
    kept = []
    for p in raw_points:
        if p and p.strip():
            text = _guarded(p.strip(), product, mode, out).text
            if text and text not in kept:
                kept.append(text)
    if not head.strip() and not out.refused:
        raise BadInput("no publishable headline: the product title itself does not pass the guard",
                       detail={"findings": [f.model_dump(mode="json") for f in out.findings]})
    out.headline, out.points = head, kept[:max(1, len(raw_points))] if points is not None else kept[:max_points]
    return out
