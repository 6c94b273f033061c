"""Evaluations of the live studio: optimiser vs brute force, and script build time."""

from __future__ import annotations

import random
import statistics
import time
from decimal import Decimal

from shopmind.domain import Product
from shopmind.live.optimizer import best_price
from shopmind.live.promotions import DirectDiscount, Gift, PromotionSet, StackingRules, StoreCoupon, TieredReduction
from shopmind.live.reference import brute_force_total, random_case
from shopmind.live.script import build_script


def optimiser_agreement(cases: int = 2000, seed: int = 0, max_promos: int = 7) -> dict:
    """Agreement rate and per-case speed of `best_price` against the brute force on random cases."""
    rng = random.Random(seed)
    agree, t_opt, t_bf, mismatches = 0, 0.0, 0.0, []
    for i in range(cases):
        items, promos = random_case(rng, max_promos=max_promos)
        t0 = time.perf_counter()
        fast = best_price(items, promos).final_total
        t1 = time.perf_counter()
        slow = brute_force_total(items, promos)
        t2 = time.perf_counter()
        t_opt += t1 - t0
        t_bf += t2 - t1
        if fast == slow:
            agree += 1
        elif len(mismatches) < 5:
            mismatches.append({"case": i, "optimiser": str(fast), "brute_force": str(slow)})
    return {
        "dataset": f"random baskets and promotions (shopmind.live.reference.random_case, seed={seed})",
        "cases": cases,
        "max_promotions": max_promos,
        "agreement": agree / cases if cases else 0.0,
        "optimiser_ms_per_case": round(1000 * t_opt / max(cases, 1), 4),
        "brute_force_ms_per_case": round(1000 * t_bf / max(cases, 1), 4),
        "mismatches": mismatches,
    }


def demo_promotions() -> PromotionSet:
    """A typical session's promotions (used by the benchmark)."""
    return PromotionSet(
        promotions=[
            TieredReduction(id="platform", tiers=[(Decimal(300), Decimal(40)), (Decimal(500), Decimal(80))]),
            StoreCoupon(id="c20", threshold=Decimal(199), amount=Decimal(20)),
            StoreCoupon(id="c10pct", percent_off=Decimal(10), cap=Decimal(30), exclusive=True),
            DirectDiscount(id="live85", rate=Decimal("0.85"), per_order_limit=2, stock=200),
            Gift(id="bag", threshold=Decimal(299), gift_zh="收纳袋", gift_en="a storage bag", gift_ja="収納袋"),
        ],
        rules=StackingRules(max_store_coupons=1),
    )


def script_timing(products: list[Product], languages: list[str], duration_min: float = 60, repeats: int = 3,
                  rates: dict | None = None) -> dict:
    """Median wall time to build one session's script (compliance screening included when installed)."""
    times, script = [], None
    for r in range(repeats):
        t0 = time.perf_counter()
        script = build_script(products, demo_promotions(), audience="office", host_persona="小林", languages=languages,
                              duration_min=duration_min, variants=3, seed=r, rates=rates)
        times.append(time.perf_counter() - t0)
    lines = sum(len(s.lines) for s in script.sections)
    return {
        "products": len(products),
        "languages": languages,
        "duration_min": duration_min,
        "repeats": repeats,
        "build_ms_median": round(1000 * statistics.median(times), 1),
        "lines": lines,
        "price_lines_verified": sum(bool(l.price_verified) for s in script.sections for l in s.lines),
        "spoken_s": {lg: script.spoken_seconds(lg) for lg in languages},
        "compliance": script.compliance,
        "warnings": len(script.warnings),
    }
