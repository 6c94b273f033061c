"""Typed promotions for a livestream: platform 满减, store coupons, 折扣, gifts, and the stacking rules.

Money is `Decimal` everywhere (YAML floats are read through `str`, so 0.1 stays 0.1). The
pricing model, shared by the optimiser and the reference brute force:

1. direct discounts (折扣/直降) apply automatically per unit: each unit gets the deepest discount
   that covers it, up to the promotion's per-order limit and remaining stock; the result is rounded
   half-up to the cent per unit;
2. store coupons and platform 满减 both read their threshold from the *post-discount* subtotal of
   the items they cover (their scope), so their amounts do not depend on each other;
3. the shopper chooses which coupons to use (at most `max_store_coupons`, an exclusive coupon alone,
   no platform 满减 with a coupon that forbids it) and at most one platform 满减;
4. the total never drops below zero.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shopmind.errors import BadInput

CENT = Decimal("0.01")
# Largest amount (price, threshold, saving) accepted: far above any real basket, and small enough
# that sums and products of it stay exact in Decimal's 28 digits (1e30 made quantize() raise).
MAX_AMOUNT = Decimal("1e12")
MAX_QTY = 1_000_000


def to_cents(value: Decimal) -> Decimal:
    """Round half-up to the cent — the rounding Chinese shop checkouts use."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class _Promo(BaseModel):
    """Fields every promotion shares: identity, scope, and the real limits that justify urgency."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name_zh: str | None = None
    name_en: str | None = None
    product_ids: list[str] | None = Field(None, description="Scope; None = the whole basket.")
    stock: int | None = Field(None, ge=0, description="Real remaining stock of this offer (enables urgency lines).")
    ends_at: datetime | None = Field(None, description="Real end time of this offer (enables urgency lines).")

    def covers(self, product_id: str) -> bool:
        return self.product_ids is None or product_id in self.product_ids


class TieredReduction(_Promo):
    """Platform 满减 with tiers, e.g. 满300减40 / 满500减80: the highest tier reached applies."""

    kind: Literal["platform_tiers"] = "platform_tiers"
    tiers: list[tuple[Decimal, Decimal]] = Field(..., min_length=1, description="(threshold, amount) pairs")

    @field_validator("tiers", mode="before")
    @classmethod
    def _parse_tiers(cls, v: Any) -> Any:
        if isinstance(v, str):  # "满300减40,满500减80"
            pairs = re.findall(r"满\s*(\d+(?:\.\d+)?)\s*减\s*(\d+(?:\.\d+)?)", v)
            if not pairs:
                raise ValueError(f"cannot read tiers from {v!r}; write 满300减40,满500减80")
            return [(Decimal(a), Decimal(b)) for a, b in pairs]
        return v

    @field_validator("tiers")
    @classmethod
    def _check_tiers(cls, v: list[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal]]:
        for threshold, amount in v:
            if threshold < 0 or amount <= 0:
                raise ValueError("tier thresholds must be >= 0 and amounts > 0")
            if threshold > MAX_AMOUNT or amount > MAX_AMOUNT:
                raise ValueError(f"tier thresholds and amounts must be at most {MAX_AMOUNT}")
        return sorted(v)


class EveryReduction(_Promo):
    """Platform 每满X减Y, repeating, optionally capped (上不封顶 when cap is None)."""

    kind: Literal["platform_every"] = "platform_every"
    every: Decimal = Field(..., gt=0, le=MAX_AMOUNT)
    amount: Decimal = Field(..., gt=0, le=MAX_AMOUNT)
    cap: Decimal | None = Field(None, gt=0, le=MAX_AMOUNT)


class StoreCoupon(_Promo):
    """A store coupon: either `amount` off above `threshold`, or `percent_off` (capped) above it."""

    kind: Literal["coupon"] = "coupon"
    threshold: Decimal = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    amount: Decimal | None = Field(None, gt=0, le=MAX_AMOUNT)
    percent_off: Decimal | None = Field(None, gt=0, lt=100)
    cap: Decimal | None = Field(None, gt=0, le=MAX_AMOUNT, description="Largest saving of a percent coupon.")
    exclusive: bool = Field(False, description="Must be used alone: no other coupon, no platform 满减.")
    stacks_with_platform: bool = True

    @model_validator(mode="after")
    def _one_form(self) -> "StoreCoupon":
        if (self.amount is None) == (self.percent_off is None):
            raise ValueError(f"coupon {self.id}: give exactly one of amount or percent_off")
        return self


class DirectDiscount(_Promo):
    """折扣 on the unit price (rate 0.85 = 8.5折), limited per order and by stock."""

    kind: Literal["discount"] = "discount"
    rate: Decimal = Field(..., gt=0, lt=1)
    per_order_limit: int | None = Field(None, ge=1, description="Discounted units per order (限购).")

    @field_validator("rate", mode="before")
    @classmethod
    def _parse_zhe(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().endswith("折"):  # "8.5折" -> 0.85, "7折" -> 0.7
            return Decimal(v.strip()[:-1]) / 10
        return v


class Gift(_Promo):
    """A gift with purchase above a post-discount threshold; it changes no price."""

    kind: Literal["gift"] = "gift"
    threshold: Decimal = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    gift_zh: str
    gift_en: str
    gift_ja: str | None = None


Promotion = Annotated[
    Union[TieredReduction, EveryReduction, StoreCoupon, DirectDiscount, Gift], Field(discriminator="kind")
]
PLATFORM_KINDS = ("platform_tiers", "platform_every")


class StackingRules(BaseModel):
    """Which kinds stack with which (a coupon's own `exclusive`/`stacks_with_platform` add to these)."""

    model_config = ConfigDict(extra="forbid")

    max_store_coupons: int = Field(1, ge=0)
    coupon_with_platform: bool = True


class PromotionSet(BaseModel):
    """All promotions of one session plus the stacking rules."""

    model_config = ConfigDict(extra="forbid")

    promotions: list[Promotion] = Field(default_factory=list)
    rules: StackingRules = Field(default_factory=StackingRules)

    @model_validator(mode="after")
    def _unique_ids(self) -> "PromotionSet":
        ids = [p.id for p in self.promotions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"promotion ids must be unique, repeated: {dupes}")
        return self

    def of_kind(self, *kinds: str) -> list[Any]:
        return [p for p in self.promotions if p.kind in kinds]


class BasketItem(BaseModel):
    """One line of a basket: a product at its list price, times a quantity."""

    model_config = ConfigDict(extra="forbid")

    product_id: str
    unit_price: Decimal = Field(..., ge=0, le=MAX_AMOUNT)
    qty: int = Field(1, ge=1, le=MAX_QTY)
    title: str = ""

    @field_validator("unit_price")
    @classmethod
    def _cents(cls, v: Decimal) -> Decimal:
        if v != to_cents(v):
            raise ValueError(f"unit price {v} has more than 2 decimals")
        return v


def parse_promotions(data: PromotionSet | dict | Sequence | None) -> PromotionSet:
    """Accept a PromotionSet, a `{promotions, rules}` mapping or a bare list; raise BadInput when wrong."""
    if data is None:
        return PromotionSet()
    if isinstance(data, PromotionSet):
        return data
    if isinstance(data, (list, tuple)):
        data = {"promotions": list(data)}
    try:
        return PromotionSet.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"invalid promotions: {exc.errors(include_url=False)[0]['msg']}",
                       detail={"errors": exc.errors(include_url=False, include_context=False)}) from None


def load_promotions(path: Path) -> PromotionSet:
    """Read promotions from a YAML or JSON file (JSON is YAML)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read promotions file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"promotions file {path} is not valid YAML/JSON: {exc}") from None
    return parse_promotions(raw)
