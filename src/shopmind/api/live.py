"""Livestream studio routes: `POST /live/price` (exact 到手价), `POST /live/script` (timed script; every
line passes the 广告法 guard in the builder) and `POST /live/tts` (the host's voice; every line guarded
before it is spoken, as `shopmind live tts` does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.api.media import TTSRequest, TTSResponse, media_tts
from shopmind.app import Shopmind
from shopmind.domain import ItemError, Product
from shopmind.errors import BadInput
from shopmind.live.optimizer import PriceQuote, best_price
from shopmind.live.promotions import BasketItem, PromotionSet
from shopmind.live.script import LiveScript, build_script

router = APIRouter(prefix="/live", tags=["live"], responses=ERROR_RESPONSES)


class PriceRequest(BaseModel):
    items: list[BasketItem] = Field(..., min_length=1, max_length=200,
                                    examples=[[{"product_id": "1", "unit_price": "499.00", "qty": 1}]])
    promotions: PromotionSet = Field(default_factory=PromotionSet)


class ScriptRequest(BaseModel):
    products: list[Product] | None = Field(None, description="Products given inline …", max_length=200)
    ids: list[str] | None = Field(None, description="… or catalog product ids.", max_length=200)
    promotions: PromotionSet = Field(default_factory=PromotionSet)
    languages: list[str] = Field(default_factory=lambda: ["zh"], examples=[["zh", "en", "ja"]])
    duration_min: float = Field(60, ge=1, le=1440)
    variants: int = Field(1, ge=1, le=1000)
    audience: str = Field("general", min_length=1, max_length=100)
    host: str = Field("主播", min_length=1, max_length=100, pattern=r"\S", description="The host's name or persona (not empty).")
    seed: int = 0
    rates: dict[str, Any] | None = Field(None, examples=[{"base": "CNY", "rates": {"USD": 0.14, "JPY": 21}}])
    markdown: bool = Field(False, description="Also return the Markdown run sheet.")


class ScriptResponse(BaseModel):
    script: LiveScript
    markdown: str | None = None
    skipped: list[ItemError] = Field(default_factory=list)


@router.post("/price", response_model=PriceQuote)
def live_price(req: PriceRequest) -> PriceQuote:
    """The cheapest legal combination of promotions for a basket, with zh/en breakdown and per-item prices."""
    return best_price(req.items, req.promotions)


@router.post("/script", response_model=ScriptResponse)
def live_script(req: ScriptRequest, sm: Shopmind = Depends(get_shopmind)) -> ScriptResponse:
    """A timed, grounded, price-verified live script in the requested languages."""
    if (req.products is None) == (req.ids is None):
        raise BadInput("give exactly one of products or ids")
    tags, skipped = {}, []
    if req.ids is not None:
        from shopmind.live.inputs import products_from_store

        products, tags, skipped = products_from_store(req.ids, sm.store)
    else:
        products = req.products
    if not products:
        raise BadInput("no usable products", detail={"skipped": [e.model_dump() for e in skipped]})
    script = build_script(products, req.promotions, audience=req.audience, host_persona=req.host, languages=req.languages,
                          duration_min=req.duration_min, variants=req.variants, seed=req.seed, rates=req.rates, tags=tags)
    return ScriptResponse(script=script, markdown=script.to_markdown() if req.markdown else None, skipped=skipped)


@router.post("/tts", response_model=TTSResponse)
def live_tts(req: TTSRequest, sm: Shopmind = Depends(get_shopmind)) -> TTSResponse:
    """Speak script lines; every line passes the guard first (strict: refuse with the findings). Same as `POST /media/tts`."""
    return media_tts(req, sm)
