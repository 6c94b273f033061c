"""Compliance routes: check ad copy and rewrite it compliantly."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shopmind import ops
from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.compliance import ComplianceReport, PriceContext, RewriteResult

router = APIRouter(prefix="/compliance", tags=["compliance"], responses=ERROR_RESPONSES)


class CheckRequest(BaseModel):
    text: str = Field(..., description="Ad copy (zh, en; best-effort ja/ko/fr/de/es; other languages come back `unchecked`).")
    category: str | None = Field(None, description="Product category (food, cosmetics, apparel, health_products, education, real_estate, finance, …).")
    price_context: PriceContext | None = Field(None, description="Price history and promotion window, if known.")
    facts: dict[str, str | int | float | bool | None] | None = Field(
        None, description="Product facts (attribute → value), e.g. registration numbers and approved functions.")


class RewriteRequest(CheckRequest):
    include_borderline: bool = Field(False, description="Also rewrite borderline findings.")


@router.post("/check", response_model=ComplianceReport)
def check_route(req: CheckRequest, sm: Shopmind = Depends(get_shopmind)) -> ComplianceReport:
    """Findings with exact spans, legal basis, why (zh/en) and a suggested rewrite."""
    return ops.check(sm, req.text, category=req.category, price_context=req.price_context, facts=req.facts)


@router.post("/rewrite", response_model=RewriteResult)
def rewrite_route(req: RewriteRequest, sm: Shopmind = Depends(get_shopmind)) -> RewriteResult:
    """The text with violating spans replaced or dropped, re-checked clean."""
    return ops.rewrite(sm, req.text, category=req.category, price_context=req.price_context,
                       include_borderline=req.include_borderline, facts=req.facts)
