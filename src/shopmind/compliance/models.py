"""Typed inputs and outputs of the compliance engine (they cross the CLI/API boundary)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from shopmind.domain import Finding


class PricePoint(BaseModel):
    """One observed selling price on a day (what buyers were actually charged)."""

    date: date
    price: float = Field(ge=0)


class PriceContext(BaseModel):
    """Facts needed to judge price and urgency claims; without them such claims stay borderline."""

    history: list[PricePoint] = Field(default_factory=list)
    promo_start: date | None = None
    promo_end: datetime | None = None
    now: datetime | None = None  # default: the current time


class ComplianceReport(BaseModel):
    """Findings for one text plus the overall verdict.

    `unchecked` means part of the text is in a language with no rules (e.g. ru, it): we never call text
    we did not read `clean`. A violation elsewhere in the text still makes the verdict `violation`."""

    text: str
    language: str = Field(description="zh, en, ja, ko, fr, de, es, mixed, or the code of an unchecked language")
    languages: list[str] = Field(default_factory=list, description="Languages of the text's sentences, most text first.")
    unchecked_languages: list[str] = Field(default_factory=list, description="Languages present but without rules.")
    category: str | None = None
    verdict: Literal["violation", "borderline", "clean", "unchecked"]
    findings: list[Finding] = Field(default_factory=list)
    took_ms: float = 0.0

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "violation"]


class RewriteResult(BaseModel):
    """A rewritten text, what was fixed, and the report of re-checking the result."""

    original: str
    text: str
    fixed: list[Finding] = Field(default_factory=list)
    remaining: list[Finding] = Field(default_factory=list)
    passes: int = 0
