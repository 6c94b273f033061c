"""The coupon-stacking optimiser: the cheapest legal combination of promotions for a basket.

Prices are computed, never generated. Work happens in integer cents; because each coupon's and
each platform 满减's saving depends only on the post-discount subtotal of its scope (see
`promotions`), the savings are additive and the search is exact without enumerating every
subset: the best plan is the best of (a) one exclusive coupon alone, (b) the top-k non-exclusive
coupons without platform 满减, (c) the top-k platform-compatible coupons plus the best platform 满减.
`shopmind.live.reference` checks this against a brute force over all subsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, Field

from shopmind.errors import BadInput
from shopmind.live.promotions import (
    PLATFORM_KINDS,
    BasketItem,
    DirectDiscount,
    EveryReduction,
    Gift,
    PromotionSet,
    StoreCoupon,
    TieredReduction,
    parse_promotions,
)


class Step(BaseModel):
    """One line of the breakdown: what was applied, how much it saved, said in zh and en."""

    kind: str
    promo_id: str | None = None
    amount: Decimal  # negative for savings, positive for the totals
    zh: str
    en: str


class ItemPrice(BaseModel):
    """A basket line after promotions: its share of every saving, allocated to the cent."""

    product_id: str
    qty: int
    unit_price: Decimal
    line_original: Decimal
    line_after_discount: Decimal
    line_final: Decimal
    unit_final: Decimal = Field(..., description="line_final / qty, rounded half-up to the cent")


class PriceQuote(BaseModel):
    """The final 到手价 with the steps that reach it; every number is exact to the cent."""

    currency: str = "CNY"
    original_total: Decimal
    discounted_total: Decimal
    final_total: Decimal
    savings: Decimal
    applied: list[str] = Field(default_factory=list, description="ids of coupons and 满减 used")
    steps: list[Step] = Field(default_factory=list)
    items: list[ItemPrice] = Field(default_factory=list)
    gifts: list[Gift] = Field(default_factory=list)
    plans_considered: int = 0

    def breakdown(self, lang: str = "zh") -> str:
        """The human-readable breakdown, one step per line."""
        return "\n".join(getattr(s, "zh" if lang == "zh" else "en") for s in self.steps)


# -- money helpers ---------------------------------------------------------------------------------
def _cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def _yuan(cents: int) -> str:
    return f"¥{_money(cents)}"


def _num(d: Decimal) -> str:
    """A threshold/amount without trailing zeros (300, 12.5)."""
    return format(d.normalize(), "f")


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` cents over `weights` proportionally, largest remainder first, summing exactly."""
    wsum = sum(weights)
    if total == 0 or wsum <= 0:
        return [0] * len(weights)
    shares = [total * w // wsum for w in weights]
    rema = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % wsum), i))
    for i in rema[: total - sum(shares)]:
        shares[i] += 1
    return shares


# -- pricing steps ---------------------------------------------------------------------------------
def discounted_lines(items: Sequence[BasketItem], discounts: Sequence[DirectDiscount]) -> tuple[list[int], dict[str, int]]:
    """Post-discount line amounts (cents) and the cents each discount saved.

    Each unit gets the deepest discount that covers it while that discount's allowance
    (min of per-order limit and stock) lasts; allowances are consumed in basket order.
    """
    left = {d.id: min(x for x in (d.per_order_limit, d.stock, 10**9) if x is not None) for d in discounts}
    saved = {d.id: 0 for d in discounts}
    lines = []
    for it in items:
        unit = _cents(it.unit_price)
        qty = it.qty
        line = 0
        for d in sorted((d for d in discounts if d.covers(it.product_id)), key=lambda d: (d.rate, d.id)):
            n = min(qty, left[d.id])
            if n <= 0:
                continue
            price = int((Decimal(unit) * d.rate).to_integral_value(rounding=ROUND_HALF_UP))
            line += n * price
            saved[d.id] += n * (unit - price)
            left[d.id] -= n
            qty -= n
        lines.append(line + qty * unit)
    return lines, saved


def scope_total(promo: Any, items: Sequence[BasketItem], lines: Sequence[int]) -> int:
    return sum(line for it, line in zip(items, lines) if promo.covers(it.product_id))


def coupon_saving(c: StoreCoupon, eligible: int) -> int:
    """Cents a coupon saves on an eligible post-discount subtotal (0 when its threshold is not met)."""
    if eligible <= 0 or eligible < _cents(c.threshold):
        return 0
    if c.amount is not None:
        return min(_cents(c.amount), eligible)
    off = int((Decimal(eligible) * c.percent_off / 100).to_integral_value(rounding=ROUND_HALF_UP))
    if c.cap is not None:
        off = min(off, _cents(c.cap))
    return min(off, eligible)


def platform_saving(p: TieredReduction | EveryReduction, eligible: int) -> int:
    """Cents a platform 满减 saves: the highest tier reached, or every-X-off-Y up to its cap."""
    if eligible <= 0:
        return 0
    if isinstance(p, TieredReduction):
        off = 0
        for threshold, amount in p.tiers:
            if eligible >= _cents(threshold):
                off = max(off, _cents(amount))
        return min(off, eligible)
    off = (eligible // _cents(p.every)) * _cents(p.amount)
    if p.cap is not None:
        off = min(off, _cents(p.cap))
    return min(off, eligible)


def _describe(p: Any) -> tuple[str, str]:
    """Short zh/en names of a promotion for the breakdown."""
    if p.name_zh and p.name_en:
        return p.name_zh, p.name_en
    if isinstance(p, TieredReduction):
        zh = "/".join(f"满{_num(t)}减{_num(a)}" for t, a in p.tiers)
        en = "/".join(f"{_num(a)} off {_num(t)}" for t, a in p.tiers)
        return f"平台满减（{zh}）", f"platform deal ({en})"
    if isinstance(p, EveryReduction):
        cap_zh = f"，最多减{_num(p.cap)}" if p.cap else ""
        cap_en = f", up to {_num(p.cap)}" if p.cap else ""
        return f"平台每满{_num(p.every)}减{_num(p.amount)}{cap_zh}", f"platform {_num(p.amount)} off every {_num(p.every)}{cap_en}"
    if isinstance(p, StoreCoupon):
        cond_zh = f"满{_num(p.threshold)}" if p.threshold > 0 else "无门槛"
        cond_en = f"over {_num(p.threshold)}" if p.threshold > 0 else "no minimum"
        if p.amount is not None:
            return f"店铺券（{cond_zh}减{_num(p.amount)}）", f"store coupon ({_num(p.amount)} off, {cond_en})"
        cap_zh = f"，最多减{_num(p.cap)}" if p.cap else ""
        cap_en = f", up to {_num(p.cap)}" if p.cap else ""
        zhe = _num((100 - p.percent_off) / 10)
        return f"店铺券（{cond_zh}{zhe}折{cap_zh}）", f"store coupon ({_num(p.percent_off)}% off, {cond_en}{cap_en})"
    if isinstance(p, DirectDiscount):
        return f"直播间折扣（{_num(p.rate * 10)}折）", f"live discount ({_num((1 - p.rate) * 100)}% off)"
    return p.id, p.id


# -- the search ------------------------------------------------------------------------------------
def _best_plan(coupons: list[tuple[StoreCoupon, int]], platforms: list[tuple[Any, int]], promos: PromotionSet) -> tuple[list[tuple[Any, int]], int]:
    """Exact best plan over legal combinations (see module docstring); returns (chosen, plans_seen)."""
    k = promos.rules.max_store_coupons
    usable = sorted(((c, s) for c, s in coupons if s > 0), key=lambda cs: (-cs[1], cs[0].id))
    ranked_platforms = sorted(((p, s) for p, s in platforms if s > 0), key=lambda ps: (-ps[1], ps[0].id))
    best_platform = ranked_platforms[0] if ranked_platforms else None
    candidates: list[list[tuple[Any, int]]] = [[]]
    if best_platform:
        candidates.append([best_platform])
    if k >= 1:
        candidates.extend([cs] for cs in usable if cs[0].exclusive)
    shared = [cs for cs in usable if not cs[0].exclusive]
    if k >= 1 and shared:
        candidates.append(shared[:k])
        if best_platform and promos.rules.coupon_with_platform:
            compatible = [cs for cs in shared if cs[0].stacks_with_platform][:k]
            if compatible:
                candidates.append(compatible + [best_platform])
    # Largest saving wins; on ties, fewer promotions (simpler for the shopper).
    chosen = max(candidates, key=lambda plan: (sum(s for _, s in plan), -len(plan)))
    return chosen, len(candidates)


def _as_items(items: Iterable[BasketItem | dict | tuple]) -> list[BasketItem]:
    out = []
    for raw in items:
        if isinstance(raw, BasketItem):
            out.append(raw)
        elif isinstance(raw, dict):
            out.append(BasketItem.model_validate(raw))
        elif isinstance(raw, (tuple, list)) and len(raw) in (2, 3):
            pid, price, *qty = raw
            out.append(BasketItem(product_id=str(pid), unit_price=Decimal(str(price)), qty=qty[0] if qty else 1))
        else:
            raise BadInput(f"basket item must be BasketItem, dict or (id, price[, qty]); got {raw!r}")
    if not out:
        raise BadInput("the basket is empty")
    ids = [it.product_id for it in out]
    if len(set(ids)) != len(ids):
        raise BadInput("each product may appear once in a basket; add quantities instead")
    return out


def best_price(items: Iterable[BasketItem | dict | tuple], promotions: PromotionSet | dict | list | None) -> PriceQuote:
    """The cheapest legal 到手价 for one item or a basket, with zh/en breakdown and per-item allocation."""
    try:
        basket = _as_items(items)
    except ValueError as exc:  # pydantic validation of a dict item
        raise BadInput(f"invalid basket item: {exc}") from None
    promos = parse_promotions(promotions)
    discounts = promos.of_kind("discount")
    lines, disc_saved = discounted_lines(basket, discounts)
    original = sum(_cents(it.unit_price) * it.qty for it in basket)
    after_discount = sum(lines)

    coupons = [(c, coupon_saving(c, scope_total(c, basket, lines))) for c in promos.of_kind("coupon")]
    platforms = [(p, platform_saving(p, scope_total(p, basket, lines))) for p in promos.of_kind(*PLATFORM_KINDS)]
    chosen, seen = _best_plan(coupons, platforms, promos)
    chosen.sort(key=lambda ps: (ps[0].kind in PLATFORM_KINDS, ps[0].id))  # coupons first, then 满减
    final = max(0, after_discount - sum(s for _, s in chosen))

    steps = [Step(kind="original", amount=_money(original), zh=f"标价合计 {_yuan(original)}", en=f"Shop price {_yuan(original)}")]
    for d in discounts:
        if disc_saved[d.id] > 0:
            zh, en = _describe(d)
            steps.append(Step(kind="discount", promo_id=d.id, amount=-_money(disc_saved[d.id]),
                              zh=f"{zh}：-{_yuan(disc_saved[d.id])}", en=f"{en}: -{_yuan(disc_saved[d.id])}"))
    for p, s in chosen:
        zh, en = _describe(p)
        steps.append(Step(kind=p.kind, promo_id=p.id, amount=-_money(s), zh=f"{zh}：-{_yuan(s)}", en=f"{en}: -{_yuan(s)}"))
    steps.append(Step(kind="final", amount=_money(final), zh=f"到手价 {_yuan(final)}", en=f"Final price {_yuan(final)}"))

    gifts = [g for g in promos.of_kind("gift") if g.stock != 0 and after_discount > 0
             and scope_total(g, basket, lines) >= _cents(g.threshold) and scope_total(g, basket, lines) > 0]
    for g in gifts:
        steps.append(Step(kind="gift", promo_id=g.id, amount=Decimal(0), zh=f"赠品：{g.gift_zh}", en=f"Gift: {g.gift_en}"))

    finals = _allocate_items(basket, lines, chosen, final)
    item_prices = [
        ItemPrice(product_id=it.product_id, qty=it.qty, unit_price=it.unit_price,
                  line_original=_money(_cents(it.unit_price) * it.qty), line_after_discount=_money(line),
                  line_final=_money(f), unit_final=(_money(f) / it.qty).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        for it, line, f in zip(basket, lines, finals)
    ]
    return PriceQuote(original_total=_money(original), discounted_total=_money(after_discount), final_total=_money(final),
                      savings=_money(original - final), applied=[p.id for p, _ in chosen], steps=steps,
                      items=item_prices, gifts=gifts, plans_considered=seen)


def _allocate_items(basket: list[BasketItem], lines: list[int], chosen: list[tuple[Any, int]], final: int) -> list[int]:
    """Each saving split over the items it covers; overlaps that would go negative are re-spread."""
    finals = list(lines)
    for promo, saving in chosen:
        idx = [i for i, it in enumerate(basket) if promo.covers(it.product_id)]
        for i, share in zip(idx, allocate(saving, [lines[i] for i in idx])):
            finals[i] -= share
    deficit = -sum(f for f in finals if f < 0)
    finals = [max(f, 0) for f in finals]
    if deficit:
        for i, share in enumerate(allocate(min(deficit, sum(finals)), finals)):
            finals[i] -= share
    assert sum(finals) == final, "allocation must add up to the final total"
    return finals
