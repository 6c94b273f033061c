"""Output schemas per content type (what the LLM must return as JSON) and the write request/result.

Validators accept the near-misses small models produce (a bare string for a one-field schema, a
newline-separated string for a list) so that one formatting slip does not cost a retry.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from shopmind.domain import Finding

ContentType = Literal["title", "selling_points", "description", "ad_copy", "seo_keywords", "product_page"]
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.、)）])\s*")


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [line for line in (_BULLET.sub("", x).strip() for x in re.split(r"[\n；;]", value)) if line]
    return value


def _clean_list(items: list[Any]) -> list[str]:
    out = []
    for item in items:
        text = (item if isinstance(item, str) else str(item)).strip()
        text = _BULLET.sub("", text).strip()
        if text and text not in out:
            out.append(text)
    return out


class _Content(BaseModel):
    """Base: a lone value or a dict keyed by a synonym maps onto the single main field."""

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, data: Any) -> Any:
        fields = list(cls.model_fields)
        if not isinstance(data, dict):
            return {fields[0]: data}
        if len(fields) == 1 and fields[0] not in data and len(data) == 1:
            return {fields[0]: next(iter(data.values()))}
        return data


class TitleContent(_Content):
    title: str = Field(..., min_length=2, max_length=120)

    @field_validator("title", mode="before")
    @classmethod
    def _strip(cls, v: Any) -> Any:
        return v.strip().strip("《》\"'") if isinstance(v, str) else v


class SellingPointsContent(_Content):
    points: list[str] = Field(..., min_length=1, max_length=8)

    @field_validator("points", mode="before")
    @classmethod
    def _points(cls, v: Any) -> Any:
        v = _as_list(v)
        return _clean_list(v) if isinstance(v, list) else v


class DescriptionContent(_Content):
    description: str = Field(..., min_length=10, max_length=2000)


class AdCopyContent(_Content):
    headline: str = Field(..., min_length=2, max_length=120)
    body: str = Field(..., min_length=5, max_length=1000)


class SeoKeywordsContent(_Content):
    keywords: list[str] = Field(..., min_length=3, max_length=20)

    @field_validator("keywords", mode="before")
    @classmethod
    def _keywords(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = re.split(r"[,，、;；\n]", v)
        return _clean_list(v) if isinstance(v, list) else v


class ProductPageContent(_Content):
    title: str = Field(..., min_length=2, max_length=200)
    bullets: list[str] = Field(..., min_length=1, max_length=8)
    description: str = Field(..., min_length=10, max_length=3000)

    @field_validator("bullets", mode="before")
    @classmethod
    def _bullets(cls, v: Any) -> Any:
        v = _as_list(v)
        return _clean_list(v) if isinstance(v, list) else v


SCHEMAS: dict[str, type[_Content]] = {
    "title": TitleContent,
    "selling_points": SellingPointsContent,
    "description": DescriptionContent,
    "ad_copy": AdCopyContent,
    "seo_keywords": SeoKeywordsContent,
    "product_page": ProductPageContent,
}
MAX_TOKENS: dict[str, int] = {"title": 64, "selling_points": 220, "description": 256, "ad_copy": 220,
                              "seo_keywords": 128, "product_page": 480}
# Prompt templates of content types registered at run time (the built-in ones are files in templates/).
EXTRA_TEMPLATES: dict[str, str] = {}
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def register_content_type(name: str, schema: type[BaseModel], *, max_tokens: int, template: str) -> None:
    """Declare a content type in one call: its output schema, its token budget and its prompt template
    (Jinja2; `{% include "_facts.j2" %}` gives the fenced product facts). Checked here, at
    registration, so a bad plug-in fails at start rather than on its first request.

    The schema's string fields are what the guard checks and rewrites, like the built-in types'."""
    import jinja2

    from shopmind.errors import InvalidExtension

    if not _TYPE_NAME.match(name or ""):
        raise InvalidExtension(f"content type name {name!r}: use 2-40 lowercase letters, digits or _")
    if name in SCHEMAS:
        raise InvalidExtension(f"content type {name!r} is already registered")
    if not (isinstance(schema, type) and issubclass(schema, BaseModel) and schema.model_fields):
        raise InvalidExtension(f"content type {name!r}: schema must be a pydantic model with at least one field")
    if not 8 <= int(max_tokens) <= 4096:
        raise InvalidExtension(f"content type {name!r}: max_tokens must be between 8 and 4096")
    try:
        jinja2.Environment().parse(template)
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidExtension(f"content type {name!r}: template does not parse: {exc}") from None
    SCHEMAS[name] = schema
    MAX_TOKENS[name] = int(max_tokens)
    EXTRA_TEMPLATES[f"{name}.j2"] = template


def check_content_type(value: str) -> str:
    """A registered content type name (BadInput-style ValueError otherwise)."""
    if value not in SCHEMAS:
        raise ValueError(f"unknown content type {value!r}; use one of {', '.join(SCHEMAS)}")
    return value


def text_fields(content: BaseModel) -> list[tuple[str, str]]:
    """(path, text) for every string the reader sees: "title", "points.0", … (checks run per field)."""
    out: list[tuple[str, str]] = []
    for name, value in content.model_dump().items():
        if isinstance(value, str):
            out.append((name, value))
        elif isinstance(value, list):
            out += [(f"{name}.{i}", v) for i, v in enumerate(value) if isinstance(v, str)]
    return out


def replace_fields(content: BaseModel, texts: dict[str, str]) -> dict[str, Any]:
    """The content's data with the given paths replaced; list items replaced by "" are dropped."""
    data = content.model_dump()
    for path, text in texts.items():
        name, _, idx = path.partition(".")
        if idx:
            data[name][int(idx)] = text
        else:
            data[name] = text
    for name, value in data.items():
        if isinstance(value, list):
            data[name] = [v for v in value if not isinstance(v, str) or v.strip()]
    return data


def render_text(content: BaseModel) -> str:
    """One readable string of the content (CLI output, metrics)."""
    parts = []
    for name, value in content.model_dump().items():
        if isinstance(value, list):
            parts.append("\n".join(f"- {v}" for v in value))
        else:
            parts.append(str(value))
    return "\n".join(parts)


class WriteRequest(BaseModel):
    """What to write, about which product, for whom, in which language."""

    content_type: str = Field(..., description="title, selling_points, description, ad_copy, seo_keywords, "
                                                "product_page, or a type added with register_content_type")
    product_id: str | None = None
    attributes: str | None = Field(None, description="Free attribute string, e.g. 类型#上衣*材质#牛仔布*颜色#白色")
    selling_points: list[str] = Field(default_factory=list)
    brand_voice: str | None = Field(None, max_length=500)
    persona: str | None = Field(None, max_length=200, description="Target audience for ad_copy, e.g. 年轻女性/运动爱好者")
    language: str = "zh"
    price: float | None = Field(None, ge=0)
    category: str | None = None
    max_rounds: int = Field(2, ge=0, le=5)
    seed: int | None = None
    temperature: float = Field(0.2, ge=0, le=2)
    length: int | None = Field(None, ge=10, le=2000, description="Target length of a description in characters "
                               "(about; zh counts 字). Unset: the prompt's 80-150, or a brand voice's typical length")

    @field_validator("content_type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        return check_content_type(v)

    @model_validator(mode="after")
    def _one_source(self) -> "WriteRequest":
        if bool(self.product_id) == bool(self.attributes):
            raise ValueError("give exactly one of product_id or attributes")
        if self.length is not None and self.content_type != "description":
            raise ValueError("length applies to content_type description only")
        return self


class AuditStep(BaseModel):
    """One step of the generate → check → rewrite loop, kept for review."""

    round: int
    stage: Literal["draft", "check", "rule_rewrite", "llm_rewrite", "fallback", "guard", "error"]
    content: dict[str, Any] | None = None
    findings: list[Finding] = Field(default_factory=list)
    fact_issues: list[Finding] = Field(default_factory=list)
    note: str = ""
    seconds: float = 0.0


class WriteResult(BaseModel):
    """The final content, what still needs a human's eye, and how it got there."""

    content_type: str
    language: str
    content: dict[str, Any]
    text: str
    passed: bool  # no compliance violation and no fact violation remains
    findings: list[Finding] = Field(default_factory=list)  # remaining compliance findings (borderline at most when passed)
    fact_issues: list[Finding] = Field(default_factory=list)
    draft_passed: bool = False  # the first draft, before any rewrite
    draft_compliance_violations: int = 0
    draft_fact_violations: int = 0
    rounds: int = 0
    llm: str = ""
    latency_s: float = 0.0
    completion_tokens: int = 0
    generation_s: float = 0.0
    audit: list[AuditStep] = Field(default_factory=list)
