"""An independent brute force for the pricing model, and a generator of random cases.

It shares no arithmetic with `optimizer`: it walks every unit one by one in `Decimal` yuan, tries
*every* subset of coupons and platform 满减, checks each subset against the stacking rules written
out literally, and keeps the cheapest total. Tests and `scripts/bench_live.py` compare it with
`best_price` on random promotions and baskets.
"""

from __future__ import annotations

import itertools
import random
from decimal import ROUND_HALF_UP, Decimal

from shopmind.live.promotions import (
    BasketItem,
    DirectDiscount,
    EveryReduction,
    Gift,
    PromotionSet,
    StackingRules,
    StoreCoupon,
    TieredReduction,
)

_C = Decimal("0.01")


def _unit_prices(items: list[BasketItem], promos: PromotionSet) -> list[tuple[str, Decimal]]:
    """(product_id, price) for every unit, walking units in basket order."""
    discounts = [p for p in promos.promotions if isinstance(p, DirectDiscount)]
    remaining = {}
    for d in discounts:
        limits = [x for x in (d.per_order_limit, d.stock) if x is not None]
        remaining[d.id] = min(limits) if limits else None
    units = []
    for it in items:
        for _ in range(it.qty):
            best = None
            for d in discounts:
                if (d.product_ids is None or it.product_id in d.product_ids) and remaining[d.id] != 0:
                    if best is None or d.rate < best.rate or (d.rate == best.rate and d.id < best.id):
                        best = d
            price = it.unit_price
            if best is not None:
                price = (it.unit_price * best.rate).quantize(_C, rounding=ROUND_HALF_UP)
                if remaining[best.id] is not None:
                    remaining[best.id] -= 1
            units.append((it.product_id, price))
    return units


def _eligible(promo, units: list[tuple[str, Decimal]]) -> Decimal:
    return sum((p for pid, p in units if promo.product_ids is None or pid in promo.product_ids), Decimal(0))


def _saving(promo, base: Decimal) -> Decimal | None:
    """What one promotion takes off, or None when it cannot be used at all."""
    if base <= 0:
        return None
    if isinstance(promo, StoreCoupon):
        if base < promo.threshold:
            return None
        if promo.amount is not None:
            off = promo.amount
        else:
            off = (base * promo.percent_off / 100).quantize(_C, rounding=ROUND_HALF_UP)
            if promo.cap is not None and off > promo.cap:
                off = promo.cap
    elif isinstance(promo, TieredReduction):
        reached = [a for t, a in promo.tiers if base >= t]
        if not reached:
            return None
        off = max(reached)
    elif isinstance(promo, EveryReduction):
        off, left = Decimal(0), base
        while left >= promo.every:
            left -= promo.every
            off += promo.amount
        if promo.cap is not None and off > promo.cap:
            off = promo.cap
        if off == 0:
            return None
    else:
        return None
    return min(off, base)


def _legal(chosen: list, rules: StackingRules) -> bool:
    coupons = [p for p in chosen if isinstance(p, StoreCoupon)]
    platform = [p for p in chosen if not isinstance(p, StoreCoupon)]
    if len(platform) > 1 or len(coupons) > rules.max_store_coupons:
        return False
    if any(c.exclusive for c in coupons) and len(chosen) > 1:
        return False
    if coupons and platform:
        if not rules.coupon_with_platform or not all(c.stacks_with_platform for c in coupons):
            return False
    return True


def brute_force_total(items: list[BasketItem], promos: PromotionSet) -> Decimal:
    """The cheapest legal total, by trying every subset of coupons and platform 满减."""
    units = _unit_prices(items, promos)
    subtotal = sum((p for _, p in units), Decimal(0))
    choosable = [p for p in promos.promotions if isinstance(p, (StoreCoupon, TieredReduction, EveryReduction))]
    best = subtotal
    for mask in itertools.product((False, True), repeat=len(choosable)):
        chosen = [p for p, on in zip(choosable, mask) if on]
        if not _legal(chosen, promos.rules):
            continue
        offs = [_saving(p, _eligible(p, units)) for p in chosen]
        if any(o is None for o in offs):
            continue
        best = min(best, max(Decimal(0), subtotal - sum(offs, Decimal(0))))
    return best.quantize(_C)


def random_case(rng: random.Random, max_items: int = 4, max_promos: int = 7) -> tuple[list[BasketItem], PromotionSet]:
    """A random basket and promotion set covering every kind, scope, limit and stacking rule."""
    n = rng.randint(1, max_items)
    ids = [f"p{i}" for i in range(n)]
    items = [BasketItem(product_id=pid, unit_price=Decimal(rng.randint(1, 60000)) / 100 if rng.random() < 0.5
                        else Decimal(rng.choice([9, 19, 29.9, 49, 59, 99, 129, 199, 299, 399])).quantize(_C),
                        qty=rng.randint(1, 4)) for pid in ids]

    def scope():
        return None if rng.random() < 0.6 else rng.sample(ids, rng.randint(1, n))

    def money(lo: int, hi: int) -> Decimal:
        return Decimal(rng.randint(lo, hi)) if rng.random() < 0.8 else Decimal(rng.randint(lo * 100, hi * 100)) / 100

    promos = []
    for k in range(rng.randint(0, max_promos)):
        kind = rng.choice(["tiers", "every", "coupon", "coupon", "percent", "discount", "gift"])
        pid = f"{kind}{k}"
        if kind == "tiers":
            promos.append(TieredReduction(id=pid, product_ids=scope(), tiers=[(money(0, 800), money(1, 120)) for _ in range(rng.randint(1, 3))]))
        elif kind == "every":
            promos.append(EveryReduction(id=pid, product_ids=scope(), every=money(50, 400), amount=money(5, 60),
                                         cap=money(20, 200) if rng.random() < 0.5 else None))
        elif kind == "coupon":
            promos.append(StoreCoupon(id=pid, product_ids=scope(), threshold=money(0, 600), amount=money(1, 100),
                                      exclusive=rng.random() < 0.2, stacks_with_platform=rng.random() < 0.8))
        elif kind == "percent":
            promos.append(StoreCoupon(id=pid, product_ids=scope(), threshold=money(0, 400), percent_off=Decimal(rng.randint(1, 50)),
                                      cap=money(5, 100) if rng.random() < 0.6 else None,
                                      exclusive=rng.random() < 0.2, stacks_with_platform=rng.random() < 0.8))
        elif kind == "discount":
            promos.append(DirectDiscount(id=pid, product_ids=scope(), rate=Decimal(rng.randint(50, 99)) / 100,
                                         per_order_limit=rng.choice([None, 1, 2, 3]), stock=rng.choice([None, None, 0, 1, 5])))
        else:
            promos.append(Gift(id=pid, product_ids=scope(), threshold=money(0, 500), gift_zh="赠品", gift_en="a gift"))
    rules = StackingRules(max_store_coupons=rng.choice([0, 1, 1, 2, 3]), coupon_with_platform=rng.random() < 0.8)
    return items, PromotionSet(promotions=promos, rules=rules)
