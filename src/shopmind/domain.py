"""Vocabulary shared by every layer: pydantic models that cross module and process boundaries.

This module imports nothing from shopmind, so any layer may import it.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field


class Product(BaseModel):
    """One catalog item as imported: core fields plus free attribute columns."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    description: str = ""
    price: float | None = None
    category: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    image_path: str | None = None  # path inside SHOPMIND_HOME's image store, once ingested
    image_sha256: str | None = None

    def field(self, name: str) -> str | float | None:
        """Value of a core field or attribute by name (used by filters and taggers)."""
        if name in {"id", "title", "description", "price", "category"}:
            return getattr(self, name)
        return self.attributes.get(name)


class ScoredLabel(BaseModel):
    """A zero-shot or fitted tag with its score (probability-like, 0..1)."""

    label: str
    label_zh: str | None = None
    score: float


class NamedColour(BaseModel):
    """A dominant colour with its share of the foreground pixels."""

    name_en: str
    name_zh: str
    rgb: tuple[int, int, int]
    share: float


class ProductTags(BaseModel):
    """What the understanding layer knows about a product's image."""

    product_id: str
    colours: list[NamedColour] = Field(default_factory=list)
    labels: dict[str, list[ScoredLabel]] = Field(default_factory=dict)  # field -> ranked labels
    imagenet: list[ScoredLabel] = Field(default_factory=list)
    ocr_text: str | None = None  # None = OCR not run yet; "" = ran, found nothing
    source: str = "zero-shot"  # "zero-shot" or "fitted"


class ItemError(BaseModel):
    """A bad row or image, reported without stopping the batch."""

    item: str
    stage: str
    reason: str


class IngestReport(BaseModel):
    """Summary of one ingestion run."""

    source: str
    rows_seen: int = 0
    ingested: int = 0
    skipped_existing: int = 0
    failed: int = 0
    errors: list[ItemError] = Field(default_factory=list)
    errors_file: str | None = None
    seconds: float = 0.0
    encoding: str | None = Field(None, description="Detected text encoding of the catalog file, e.g. 'gb18030'.")
    mapping: dict[str, str] = Field(default_factory=dict, description="Product field -> record path used to fill it.")


class Filter(BaseModel):
    """A metadata filter: `field op value` with op in = != < <= > >=."""

    field: str
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: str | float


class SearchHit(BaseModel):
    """One ranked result and why it matched."""

    id: str
    score: float
    title: str = ""
    why: str = ""
    signals: dict[str, Any] = Field(default_factory=dict)  # per-retriever rank/score
    product: Product | None = None


class SearchResult(BaseModel):
    """Ranked hits plus how the query was run."""

    query: str | None = None
    hits: list[SearchHit]
    took_ms: float = 0.0
    backend: str = ""


Severity = Literal["violation", "borderline"]
FindingCategory = Literal[
    "absolute_term",
    "authority_endorsement",
    "medical_claim",
    "guarantee_or_efficacy",
    "false_urgency_or_price",
    "superstition",
    "comparative_disparagement",
    "fact_contradiction",
    "image_text_mismatch",
    "other",
]
FINDING_CATEGORIES: tuple[str, ...] = get_args(FindingCategory)
SEVERITIES: tuple[str, ...] = get_args(Severity)
# A lexicon rule may also say "clean" (a known-harmless term that shields its span) or "skip" (not judged).
RULE_SEVERITIES: tuple[str, ...] = (*SEVERITIES, "clean", "skip")


def check_rule_labels(category: Any, severity: Any = None, *, where: str = "rule") -> None:
    """Fail at load time when a rule (YAML lexicon entry, plug-in) names a category or severity that
    `Finding` cannot carry: otherwise the first text it matches would fail validation as a 500."""
    from shopmind.errors import InvalidExtension

    if category not in FINDING_CATEGORIES:
        raise InvalidExtension(f"{where}: unknown finding category {category!r}; known: {', '.join(FINDING_CATEGORIES)}",
                               detail={"category": category, "known": list(FINDING_CATEGORIES)})
    if severity is not None and severity not in RULE_SEVERITIES:
        raise InvalidExtension(f"{where}: unknown severity {severity!r}; known: {', '.join(RULE_SEVERITIES)}",
                               detail={"severity": severity, "known": list(RULE_SEVERITIES)})


class Finding(BaseModel):
    """One compliance or fact-check problem in a text, with the exact span."""

    span: str
    start: int
    end: int
    category: FindingCategory
    severity: Severity
    rule_id: str = ""
    legal_basis: str = ""
    why_zh: str = ""
    why_en: str = ""
    sentence: str = ""
    rewrite: str | None = None
